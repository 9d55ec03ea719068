/**
 * Sessions follow the group's bind slots. Fewer slots: close the surplus at once. More slots:
 * wait SMPP_BIND_HANDOVER_MS first, so the replica that gave them up has closed its binds —
 * the account never sees more than SMPP_ACCOUNT_MAX_BINDS.
 */
import type { Config } from '../config.js';
import type { Logger } from '../obs/logger.js';
import { sleep } from '../pipeline/sleep.js';
import type { Parts } from './parts.js';

/** The group may not be Stable yet right after the join: ask again this often, this many times. */
const SLOTS_POLL_MS = 250;
const SLOTS_POLL_ATTEMPTS = 20;

export async function applyBindSlots(p: Parts, memberId: string, config: Readonly<Config>, logger: Logger): Promise<void> {
  // Rebalances can follow each other quickly: only the newest assignment may change the pool,
  // or a delayed grow from an older one could land after a newer shrink.
  const generation = ++p.assignmentGeneration;
  const stale = () => p.stopping || generation !== p.assignmentGeneration;
  let slots: number[] | null = null;
  for (let attempt = 0; attempt < SLOTS_POLL_ATTEMPTS && !stale(); attempt++) {
    try {
      slots = await p.consumer.ownBindSlots(memberId);
      break;
    } catch (err) {
      logger.debug({ err: (err as Error).message }, 'bind slots not settled yet');
      await sleep(SLOTS_POLL_MS);
    }
  }
  if (slots === null || stale()) return;
  const wanted = slots.length;
  if (wanted > p.bindSlots) await sleep(config.smpp.bindHandoverMs);
  if (stale()) return;
  logger.info({ bindSlots: slots, previous: p.bindSlots }, wanted === 0 ? 'no bind slots: hot standby' : 'bind slots assigned');
  p.bindSlots = wanted;
  p.metrics.bindSlots.set(wanted);
  await p.pool.setBindSlots(wanted);
  // the urgent lane reads only where there are sessions to send on (urgent-lane.ts)
  if (!stale()) await p.urgent?.follow(wanted > 0);
}
