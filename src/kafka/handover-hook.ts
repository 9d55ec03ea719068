/**
 * A "before this member gives up its partitions" hook for kafkajs 2.2.4, which has no
 * partitions-revoked callback. The outbound consumer lets a batch handler return while the batch's
 * last records are still with the SMSC (the next round is fetched meanwhile, issue 19); what then
 * keeps another member from taking those partitions while they are still being sent is this hook:
 * kafkajs awaits it before it sends JoinGroup (`ConsumerGroup.joinAndSync`: a rebalance, an
 * unknown member id, stale metadata) and before LeaveGroup (`ConsumerGroup.leave`: a stop, a crash)
 * — exactly where a still-running handler used to hold them. While the hook waits, the member
 * keeps heartbeating (kafkajs does not inside joinAndSync), so a long drain does not also expire
 * its session; the consumer bounds the wait below the rebalance timeout.
 *
 * A hook belongs to one kafkajs ConsumerGroup instance: it is registered by group and member id at
 * the join (GROUP_JOIN is emitted inside joinAndSync, so the wrapper finds it right after), then
 * kept on the instance — so it still runs when kafkajs has reset the member id (an expelled
 * member: its partitions are gone, but what is not on the wire yet must not go out).
 *
 * The patch wraps kafkajs' own methods; everything else is kafkajs' code.
 */
import { createRequire } from 'node:module';

type Hook = () => Promise<void>;

interface ConsumerGroupInternals {
  groupId: string;
  memberId: string | null;
  joinAndSync: (this: ConsumerGroupInternals, ...args: unknown[]) => Promise<unknown>;
  leave: (this: ConsumerGroupInternals, ...args: unknown[]) => Promise<unknown>;
  heartbeat: (this: ConsumerGroupInternals, options: { interval: number }) => Promise<unknown>;
  [HOOK]?: Hook;
}

const PATCHED = Symbol.for('sms-connector.handover-hook');
const HOOK = Symbol.for('sms-connector.handover-hook.hook');
const registered = new Map<string, Hook>();
const HEARTBEAT_EVERY_MS = 1000;

const hookKey = (groupId: string, memberId: string): string => `${groupId}\u0000${memberId}`;

/** Runs the instance's hook, heartbeating meanwhile; the hook never stops the join or the leave. */
async function runHook(group: ConsumerGroupInternals): Promise<void> {
  const hook = group[HOOK];
  if (!hook) return;
  const ticker = setInterval(() => void group.heartbeat({ interval: HEARTBEAT_EVERY_MS }).catch(() => undefined), HEARTBEAT_EVERY_MS);
  try {
    await hook();
  } catch {
    // a member that does not rejoin is expelled, which loses more than a drain cut short
  } finally {
    clearInterval(ticker);
  }
}

/** Installs the patch once per process (idempotent); false when kafkajs' ConsumerGroup is not where 2.2.4 has it. */
export function installHandoverHook(): boolean {
  const require = createRequire(import.meta.url);
  let ConsumerGroup: { prototype: ConsumerGroupInternals & { [PATCHED]?: true } };
  try {
    ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as typeof ConsumerGroup;
  } catch {
    return false;
  }
  const proto = ConsumerGroup.prototype;
  if (proto[PATCHED]) return true;
  if (typeof proto.joinAndSync !== 'function' || typeof proto.leave !== 'function' || typeof proto.heartbeat !== 'function') return false;
  const join = proto.joinAndSync;
  const leave = proto.leave;
  proto.joinAndSync = async function (this: ConsumerGroupInternals, ...args: unknown[]): Promise<unknown> {
    await runHook(this);
    const joined = await join.apply(this, args);
    const hook = this.memberId === null ? undefined : registered.get(hookKey(this.groupId, this.memberId));
    if (hook) this[HOOK] = hook;
    return joined;
  };
  proto.leave = async function (this: ConsumerGroupInternals, ...args: unknown[]): Promise<unknown> {
    await runHook(this);
    return leave.apply(this, args);
  };
  proto[PATCHED] = true;
  return true;
}

/**
 * Runs `hook` before the member `memberId` of `groupId` (as of its join) joins again or leaves;
 * register it while handling GROUP_JOIN. Returns its removal from the registry (the instance keeps
 * the hook it took, so a crash's leave still drains).
 */
export function onHandover(groupId: string, memberId: string, hook: Hook): () => void {
  const key = hookKey(groupId, memberId);
  registered.set(key, hook);
  return () => {
    if (registered.get(key) === hook) registered.delete(key);
  };
}
