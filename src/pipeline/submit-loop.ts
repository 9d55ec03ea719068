/**
 * Submits one segment until the SMSC gives a final answer, following the status table.
 *
 * Retry rules (all from `smpp/protocol/status.ts`, never from error text):
 *  - permanent → REJECTED; `maxAttempts` reached → REJECTED (retryable=true);
 *  - retry / slow-down / rebind → wait the row's delay (growing), submit again;
 *  - pause-account (0x103, credentials) → close the account gate and wait at it; these waits never
 *    count toward RETRY_MAX_AGE_MS, so an account outage never turns the backlog into rejections;
 *  - no answer (ambiguous) → retry like a transient error: the SMSC *may* have accepted it, and a
 *    possible duplicate is the price of never losing a message (docs/reliability.md §3);
 *  - validUntil passing at any point → EXPIRED, never sent after it.
 */
import { SUBMIT_TIMEOUT, submitStatus, type SubmitStatus } from '../smpp/protocol/status.js';
import type { SubmitParams, SubmitResult } from '../smpp/protocol/types.js';
import type { AccountGate } from './account-gate.js';
import { sleep } from './sleep.js';
import { backoffDelayMs, SPREAD_JITTER } from '../util/backoff.js';

/**
 * The session a concatenated message's earlier segments went to (set by the port when a segment
 * goes on the wire): its later segments go there too while that session is ready — the recipient's
 * phone joins segments that the SMSC received on one connection (docs/reliability.md §9, F15).
 */
export interface SessionAffinity {
  sessionId?: string;
}

/** Picks a bound session for the key and submits (waiting while no session is bound). */
export interface SubmitPort {
  /**
   * `stillAllowed` is asked once the submit has its turn (after any wait for room): false → the
   * result is `not-sent` / `account-paused` and nothing goes on the wire.
   */
  submit(key: string, params: SubmitParams, signal: AbortSignal, stillAllowed?: () => boolean, affinity?: SessionAffinity): Promise<SubmitResult>;
}

export type SegmentOutcome =
  | { kind: 'accepted'; messageId: string | null; attempts: number; submittedAt: number }
  | { kind: 'rejected'; status: SubmitStatus; attempts: number; note?: string }
  | { kind: 'expired'; attempts: number }
  /** `leaveRoute` said so between two attempts: nothing of this segment is on the wire (routed-submit.ts). */
  | { kind: 'left-route'; attempts: number };

export interface SubmitLoopObserver {
  onResult?(result: SubmitResult, status: SubmitStatus | null): void;
  onRetry?(status: SubmitStatus): void;
}

export interface SubmitLoopOptions {
  port: SubmitPort;
  gate: AccountGate;
  retryMaxAgeMs: number;
  now: () => number;
  observer?: SubmitLoopObserver;
  /** Pause between not-sent retries (no bound session yet, session closing). */
  notSentDelayMs?: number;
  /**
   * Asked before every attempt (and while waiting for the account or a session): true → the
   * segment gives up this route for another one (failover, routed-submit.ts). Never asked with a
   * submit on the wire.
   */
  leaveRoute?: () => boolean;
  /**
   * This segment's first attempt is its route's probe (routed-submit.ts): `gate`, the gate's due
   * probe that routing claimed (account-gate.ts `claimProbe`) — its first pass is the probe, at
   * once, and whatever ends the segment before the probe's answer hands it back; `trial`, its
   * circuit's trial. Either way the segment does not leave the route before that attempt's answer.
   */
  probe?: 'gate' | 'trial';
}

/**
 * 0x62 ("expiry time must be after current time") for a validUntil this close to our clock is the
 * SMSC's clock running ahead of ours (or the validity's tenths rounded down): the message expired
 * in transit and is reported EXPIRED, not REJECTED as a bad request.
 */
export const EXPIRY_CLOCK_SKEW_MS = 60_000;

/**
 * A segment that may fail over (routed-submit.ts), waiting at a paused gate or for its next retry,
 * asks this often whether to leave its route.
 */
const LEAVE_RECHECK_MS = 250;

class GateRecheck extends Error {}

/**
 * The account gate: at once when open; else the wait, cut every LEAVE_RECHECK_MS when the segment may
 * leave its route — parked at the gate it would learn of a healthy route only at its probe turn
 * (one waiter per ACCOUNT_PROBE_INTERVAL_MS), so a backlog parked there would drain at that pace.
 */
async function passGate(opts: SubmitLoopOptions, signal: AbortSignal): Promise<boolean> {
  if (!opts.leaveRoute) {
    const passing = opts.gate.pass(signal);
    return passing === false ? false : passing;
  }
  const recheck = new AbortController();
  const timer = setTimeout(() => recheck.abort(new GateRecheck()), LEAVE_RECHECK_MS);
  try {
    const passing = opts.gate.pass(AbortSignal.any([signal, recheck.signal]));
    return passing === false ? false : await passing;
  } finally {
    clearTimeout(timer);
  }
}

/** A probe that told nothing about the account: the gate schedules the next. Returns the probe's new state (closed). */
function handBack(gate: AccountGate, probeOpen: boolean): false {
  if (probeOpen) gate.probeInconclusive();
  return false;
}

/**
 * The wait before a retry, cut short when the segment may leave its route and should: a segment
 * waiting out 0x08's 3 s on a route whose circuit just opened would hold its key — and the fetch
 * round its record came in — for nothing (the next attempt goes elsewhere anyway).
 */
async function retryWait(opts: SubmitLoopOptions, delayMs: number, signal: AbortSignal): Promise<void> {
  if (!opts.leaveRoute) return sleep(delayMs, signal);
  for (let left = delayMs; left > 0 && !opts.leaveRoute(); left -= LEAVE_RECHECK_MS) {
    await sleep(Math.min(left, LEAVE_RECHECK_MS), signal);
  }
}

export async function submitSegment(
  opts: SubmitLoopOptions,
  key: string,
  params: SubmitParams,
  validUntil: number | null,
  signal: AbortSignal,
  priorAttempts = 0,
  affinity?: SessionAffinity,
): Promise<SegmentOutcome> {
  let attempts = priorAttempts;
  let retries = 0;
  let retryingSince: number | null = null;
  let last: SubmitStatus | null = null;
  let probeClaimed = opts.probe === 'gate';
  // a probe or trial stays on its route until its attempt is answered
  let staying = opts.probe !== undefined;
  // A probe claimed or let through whose answer did not settle the account (aborted, expired,
  // left, refused for a reason of its own) is handed back, or the account would never be probed again.
  let probeOpen = probeClaimed;
  try {
    for (;;) {
      signal.throwIfAborted();
      const now = opts.now();
      if (validUntil !== null && now >= validUntil) return { kind: 'expired', attempts };
      if (retryingSince !== null && last && now - retryingSince > opts.retryMaxAgeMs) {
        return { kind: 'rejected', status: last, attempts, note: `gave up after ${attempts} attempts` };
      }
      if (!staying && opts.leaveRoute?.()) return { kind: 'left-route', attempts };
      let isProbe: boolean;
      if (probeClaimed) {
        probeClaimed = false;
        isProbe = !opts.gate.current.open; // opened meanwhile: an ordinary submit
        probeOpen = isProbe;
      } else {
        try {
          isProbe = await passGate(opts, signal);
        } catch (err) {
          // a routed segment's wait at a paused gate ends now and then, to ask leaveRoute again
          if (err instanceof GateRecheck) continue;
          throw err;
        }
        probeOpen = isProbe;
      }
      // The account may pause while this submit waits for room in its session: then it goes back
      // to the gate instead of reaching the SMSC just to be refused again (only probes may go).
      // A routed segment whose route stopped taking traffic meanwhile (a circuit opened) leaves it
      // the same way, back at the top of the loop, instead of going on the wire there.
      const result = await opts.port.submit(key, params, signal, () => isProbe || (opts.gate.current.open && (staying || !opts.leaveRoute?.())), affinity);
      staying = false;
      if (result.kind === 'not-sent' && result.reason === 'account-paused') {
        probeOpen = handBack(opts.gate, probeOpen);
        continue;
      }
      if (result.kind === 'not-sent') {
        probeOpen = handBack(opts.gate, probeOpen);
        await sleep(opts.notSentDelayMs ?? 100, signal);
        continue;
      }
      attempts++;
      if (result.kind === 'response' && result.command === 'submit_sm_resp' && result.commandStatus === 0) {
        opts.observer?.onResult?.(result, null);
        probeOpen = false;
        opts.gate.succeeded();
        return { kind: 'accepted', messageId: result.messageId ?? null, attempts, submittedAt: opts.now() };
      }
      // A generic_nack with status 0 is still a refusal: call it a protocol error.
      const code = result.kind === 'response' ? result.commandStatus || 0xfe : -1;
      const status = result.kind === 'ambiguous' ? SUBMIT_TIMEOUT : submitStatus(code);
      opts.observer?.onResult?.(result, status);
      last = status;
      if (status.category === 'VALIDITY' && validUntil !== null && validUntil - opts.now() <= EXPIRY_CLOCK_SKEW_MS) {
        return { kind: 'expired', attempts }; // the SMSC's clock saw it pass first: the message expired, the request was fine
      }
      if (status.action === 'permanent') return { kind: 'rejected', status, attempts };
      if (status.action === 'pause-account') {
        opts.gate.pause(`${status.hex} ${status.description}`, isProbe);
        probeOpen = false;
        retryingSince = null; // an account outage is not this message's fault
        attempts--; // and not an attempt of this message either
        continue;
      }
      probeOpen = handBack(opts.gate, probeOpen);
      if (status.maxAttempts !== undefined && attempts >= status.maxAttempts) {
        return { kind: 'rejected', status, attempts, note: `${attempts} attempts` };
      }
      retryingSince ??= now;
      retries++;
      opts.observer?.onRetry?.(status);
      // at least 50 ms: a status whose table entry says 0 must not retry in a tight loop
      const policy = { initialMs: Math.max(50, status.retryDelayMs ?? 1000), maxMs: 60_000, jitter: SPREAD_JITTER };
      await retryWait(opts, backoffDelayMs(policy, retries - 1), signal);
    }
  } finally {
    if (probeOpen) opts.gate.probeInconclusive();
  }
}
