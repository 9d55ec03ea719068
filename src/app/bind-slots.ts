/**
 * Sessions follow the group's bind slots. Fewer slots: close the surplus at once. More slots:
 * wait SMPP_BIND_HANDOVER_MS first, so the replica that gave them up has closed its binds —
 * the account never sees more than SMPP_ACCOUNT_MAX_BINDS.
 */
import type { Config } from '../config.js';
import type { Logger } from '../obs/logger.js';
import { sleep } from '../pipeline/sleep.js';
import type { Parts } from './parts.js';
import type { RouteParts } from './routes.js';

/** The group may not be Stable yet right after the join: ask again this often… */
const SLOTS_POLL_MS = 250;
/** …and, once standing by (below), this often until the group answers or moves on. */
const SLOTS_POLL_SLOW_MS = 2000;
/** The least time slots may be unreadable before the replica stands by (below). */
const STANDBY_FLOOR_MS = 1500;

export async function applyBindSlots(p: Parts, memberId: string, config: Readonly<Config>, logger: Logger): Promise<void> {
  // Rebalances can follow each other quickly: only the newest assignment may change the pools,
  // or a delayed grow from an older one could land after a newer shrink.
  const generation = ++p.assignmentGeneration;
  const stale = () => p.stopping || generation !== p.assignmentGeneration;
  // Slots it cannot read may have gone to another replica, which binds them SMPP_BIND_HANDOVER_MS
  // after reading its own: keeping its binds longer could take the account past its cap, and
  // giving up would keep them until the next rebalance — so within half that time it stands by
  // (no binds, no urgent lane) and keeps asking. Not sooner than STANDBY_FLOOR_MS: right after a
  // join the group is often not Stable for a moment, and standing by then closed every bind for
  // nothing (with the tests' 200 ms handover, at every join).
  const standByAfterMs = Math.max(STANDBY_FLOOR_MS, Math.min(...p.routes.map((r) => r.config.bindHandoverMs)) / 2);
  const started = Date.now();
  let standingBy = false;
  let slots: Record<string, number[]> | null = null;
  while (slots === null && !stale()) {
    try {
      const own = await p.consumer.ownAssignment(memberId, config.routes[0]!.name);
      slots = own.routeSlots;
      p.onGroupTerms?.(own.terms);
    } catch (err) {
      logger.debug({ err: (err as Error).message }, 'bind slots not settled yet');
      if (!standingBy && Date.now() - started >= standByAfterMs) {
        standingBy = true;
        logger.warn({ err: (err as Error).message }, 'bind slots unknown: standing by (no binds) until the group tells them');
        await Promise.all(p.routes.map((route) => resizeRoute(p, route, 0, stale, logger)));
        if (!stale()) await p.urgent?.follow(false);
      }
      await sleep(standingBy ? SLOTS_POLL_SLOW_MS : SLOTS_POLL_MS);
    }
  }
  if (slots === null || stale()) return;
  const given = slots;
  // Each route's pool on its own: shrinks at once, grows after that route's handover wait.
  await Promise.all(p.routes.map((route) => resizeRoute(p, route, given[route.name]?.length ?? 0, stale, logger)));
  if (stale()) return;
  // the urgent lane reads only where there are sessions to send on (urgent-lane.ts)
  await p.urgent?.follow(p.routes.some((r) => r.bindSlots > 0));
}

async function resizeRoute(p: Parts, route: RouteParts, wanted: number, stale: () => boolean, logger: Logger): Promise<void> {
  if (wanted > route.bindSlots) await sleep(route.config.bindHandoverMs);
  if (stale()) return;
  logger.info({ route: route.name, bindSlots: wanted, previous: route.bindSlots }, wanted === 0 ? 'no bind slots: hot standby' : 'bind slots assigned');
  if (wanted > 0 && route.bindSlots === 0) route.readySince = Date.now(); // the sessions get their time to bind
  route.bindSlots = wanted;
  p.metrics.bindSlots.set({ route: route.name }, wanted);
  await route.pool.setBindSlots(wanted);
}
