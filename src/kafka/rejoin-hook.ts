/**
 * A "before this member joins again" hook for kafkajs 2.2.4, which has no partitions-revoked
 * callback. The outbound consumer lets a batch handler return while the batch's last records are
 * still with the SMSC (the next round is fetched meanwhile, issue 19); what then holds a rebalance
 * back until those submits are answered, their events acked and their offsets committed is this
 * hook: kafkajs awaits it before it sends JoinGroup, exactly where a still-running handler used to
 * hold it. The coordinator waits for a member's JoinGroup up to the rebalance timeout, which the
 * consumer sets above its drain time.
 *
 * Every rejoin goes through `ConsumerGroup.joinAndSync` (the runner's rebalance and
 * unknown-member paths, a fetch that found stale metadata). The hook is found by group and member
 * id: a member's first join has no id yet and nothing to drain; an expelled member (its id reset
 * to null by kafkajs) has already lost its partitions, and waiting would not give them back.
 *
 * The patch wraps kafkajs' own method; everything else is kafkajs' code.
 */
import { createRequire } from 'node:module';

interface ConsumerGroupInternals {
  groupId: string;
  memberId: string | null;
  joinAndSync: (this: ConsumerGroupInternals, ...args: unknown[]) => Promise<unknown>;
}

type Hook = () => Promise<void>;

const PATCHED = Symbol.for('sms-connector.rejoin-hook');
const hooks = new Map<string, Hook>();

const hookKey = (groupId: string, memberId: string): string => `${groupId}\u0000${memberId}`;

/** Installs the patch once per process (idempotent); false when kafkajs' ConsumerGroup is not where 2.2.4 has it. */
export function installRejoinHook(): boolean {
  const require = createRequire(import.meta.url);
  let ConsumerGroup: { prototype: ConsumerGroupInternals & { [PATCHED]?: true } };
  try {
    ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as typeof ConsumerGroup;
  } catch {
    return false;
  }
  const proto = ConsumerGroup.prototype;
  if (proto[PATCHED]) return true;
  if (typeof proto.joinAndSync !== 'function') return false;
  const original = proto.joinAndSync;
  proto.joinAndSync = async function (this: ConsumerGroupInternals, ...args: unknown[]): Promise<unknown> {
    const hook = this.memberId === null ? undefined : hooks.get(hookKey(this.groupId, this.memberId));
    // The hook must never stop the join: a member that does not rejoin is expelled, which loses
    // more than a drain cut short.
    if (hook) await hook().catch(() => undefined);
    return original.apply(this, args);
  };
  proto[PATCHED] = true;
  return true;
}

/** Runs `hook` before the member `memberId` of `groupId` joins again; returns its removal. */
export function beforeRejoin(groupId: string, memberId: string, hook: Hook): () => void {
  const key = hookKey(groupId, memberId);
  hooks.set(key, hook);
  return () => {
    if (hooks.get(key) === hook) hooks.delete(key);
  };
}
