/**
 * Submitting a segment through the routes a request may take (issue 21 §3): the first of its
 * rule's routes that can take traffic, the next one when it cannot — failover — and the first
 * again as soon as it can: failback is simply the next request's choice.
 *
 * What keeps failover from losing or doubling anything:
 *  - a submit already on the wire finishes on its route: a segment leaves its route only between
 *    attempts (submit-loop.ts `leaveRoute`), never with an answer pending;
 *  - a message never changes route once one of its segments was accepted (`affinity.route`): the
 *    recipient's phone joins the parts of one concatenated message only from one SMSC, and the
 *    message's correlation ids are that route's;
 *  - a key's messages are never in flight on two routes at once: the consumer starts a key's next
 *    record only after the previous one got its final submit result (design.md §5.3).
 * When none of the routes can take traffic, the segment waits on its first route, as a request
 * without routes waits for its account.
 */
import type { SmppTimeFormat } from '../sms/smpp-time.js';
import type { AccountGate } from './account-gate.js';
import type { RouteCircuit } from './route-circuit.js';
import { inTimeFormat } from '../sms/smpp-time.js';
import type { SubmitParams } from '../smpp/protocol/types.js';
import { submitSegment, type SegmentOutcome, type SessionAffinity, type SubmitLoopOptions } from './submit-loop.js';

/** One route as the pipeline sees it. */
export interface RouteHandle {
  /** Its account's pause has a probe due (account-gate.ts `wantsProbe`), or its open circuit a trial (route-circuit.ts). */
  wantsProbe(): boolean;
  /**
   * Routing made a segment that probe: it claims the gate's due probe (true: the segment holds it,
   * submit-loop.ts `probe: 'gate'`), or else starts its circuit's trial — no other until it answers.
   */
  probeChosen(): boolean;
  readonly name: string;
  /** Its port (sessions of this route), its account gate, its timing. */
  readonly submit: SubmitLoopOptions;
  /** How its SMSC wants the time fields written. */
  readonly timeFormat: SmppTimeFormat;
  /** Can it take traffic now: account open, circuit closed, and a bound session (or unbound only briefly). */
  healthy(): boolean;
}

/** The routes by name (app/routes.ts builds them). */
export interface RouteDirectory {
  route(name: string): RouteHandle;
  /** Whether a route of this name is configured (a replayed record may name one that no longer is). */
  knows(name: string): boolean;
}

/** Where a message's segments go once one was accepted: that route, for all of them. */
export interface RouteAffinity {
  route?: string;
}

export type RoutedOutcome =
  | (Exclude<SegmentOutcome, { kind: 'left-route' }> & { route: string })
  /**
   * The message's route (pinned: a segment of it was accepted there) stopped taking traffic while
   * another route can: the caller sends the message again, whole, on another route (its first parts
   * reached a route that can no longer deliver the rest).
   */
  | { kind: 'route-lost'; route: string; attempts: number };

/**
 * Submits one segment on the first healthy route of `routes` (or the message's route, once it has
 * one); leaves a route that stops taking traffic for the next healthy one while nothing of the
 * message is accepted yet.
 */
export async function submitRouted(
  directory: RouteDirectory,
  routes: readonly string[],
  key: string,
  params: SubmitParams,
  validUntil: number | null,
  signal: AbortSignal,
  pinned: RouteAffinity,
  session: SessionAffinity | undefined,
): Promise<RoutedOutcome> {
  let attempts = 0;
  // routes this segment failed over from: it does not go back to probe them (made on the first failover)
  let left: Set<string> | undefined;
  for (;;) {
    const choice = pinned.route !== undefined ? { route: pinned.route, probe: false } : chooseRoute(directory, routes, left);
    const handle = directory.route(choice.route);
    const fixed = pinned.route !== undefined;
    // A probe of a paused route (its gate's due probe, claimed here, or its circuit's trial) makes
    // its one attempt there at once before it may fail over: that attempt is how the route is found
    // working again (submit-loop.ts `probe`).
    const probe = choice.probe ? (handle.probeChosen() ? 'gate' : 'trial') : undefined;
    const leaveRoute = routes.length < 2 ? undefined : () => !handle.healthy() && routes.some((r) => r !== handle.name && directory.route(r).healthy());
    const outcome = await submitSegment(
      leaveRoute ? { ...handle.submit, leaveRoute, ...(probe ? { probe } : {}) } : handle.submit,
      key,
      inRouteTimeFormat(params, handle.timeFormat),
      validUntil,
      signal,
      attempts,
      session,
    );
    if (outcome.kind !== 'left-route') return { ...outcome, route: handle.name };
    if (fixed) return { kind: 'route-lost', route: handle.name, attempts: outcome.attempts };
    attempts = outcome.attempts;
    (left ??= new Set()).add(handle.name);
    // a session of the route left behind may have been noted: the next route has its own
    if (session) session.sessionId = undefined;
  }
}

/**
 * The first route that can take traffic — unless a route before it is paused, or its circuit
 * half-open, and wants a probe: then this segment is that probe (failback is learnt from it). None
 * healthy: the first of all, where the segment waits.
 */
export function chooseRoute(directory: RouteDirectory, routes: readonly string[], noProbe?: ReadonlySet<string>): { route: string; probe: boolean } {
  // One route (every connector without a routes file, per segment): nothing to choose, no health to read.
  if (routes.length === 1) return { route: routes[0]!, probe: false };
  for (const name of routes) {
    const handle = directory.route(name);
    if (handle.healthy()) return { route: name, probe: false };
    if (handle.wantsProbe() && !noProbe?.has(name)) return { route: name, probe: true };
  }
  return { route: routes[0]!, probe: false };
}

/**
 * A route's `wantsProbe` (app/routes.ts): its gate's probe is due, or — its account open — its
 * circuit's trial. A trial while the gate is paused would wait at the gate for the gate's probe
 * turn, holding its record's fetch round; the gate's own probe comes first then.
 */
export function wantsProbeOrTrial(gate: AccountGate, circuit: RouteCircuit | null | undefined): boolean {
  return gate.wantsProbe() || (gate.current.open && circuit?.wantsTrial() === true);
}

/**
 * A route's `probeChosen` (app/routes.ts): the gate's due probe, claimed for the segment (true),
 * or else the circuit's trial, started.
 */
export function claimProbeOrTrial(gate: AccountGate, circuit: RouteCircuit | null | undefined): boolean {
  if (gate.claimProbe()) return true;
  circuit?.trialStarted();
  return false;
}

function inRouteTimeFormat(params: SubmitParams, format: SmppTimeFormat): SubmitParams {
  if (format === 'smpp34' || (!params.scheduleDeliveryTime && !params.validityPeriod)) return params;
  return {
    ...params,
    scheduleDeliveryTime: inTimeFormat(params.scheduleDeliveryTime ?? '', format),
    validityPeriod: inTimeFormat(params.validityPeriod ?? '', format),
  };
}
