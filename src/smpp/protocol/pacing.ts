/**
 * Per-session submit_sm pacing. PURE: no timers, no I/O — every method takes `now` (ms).
 *
 * Invariant: in ANY window of 1000 ms (half-open, (t − 1000, t]) at most `limit` submit_sm are taken,
 * where limit = floor((1 − margin) × rate). A strict provider (Agile: 100/s per connection,
 * 0x58 beyond) counts this way; a token bucket with a full burst allowance does not (after a
 * stall it lets `capacity` go at once and then keeps refilling — up to 2× in one window).
 *
 * Implementation: a log of the most recent send times (a sliding-window log). A send at `t` is
 * allowed when the limit-th most recent send is at least 1000 ms before `t` — a send exactly 1000 ms
 * after another falls in the next window, as the provider ("100 messages per second per
 * connection") and the simulator count. Missed capacity is never "caught up": a stall only makes
 * the log older, it never adds credit.
 *
 * Times may be fractional (the session paces on a monotonic sub-millisecond clock): each send's
 * lateness is lost for good in a full window, so rounding every target up to a whole millisecond,
 * and asking for one more millisecond on top, cost ~0.2 % of the rate (issue 19).
 *
 * When the SMSC counted: it counts arrivals, and a send that reaches it late (its process or the
 * network stalled) is counted late — bunched with later ones, it filled the SMSC's window one
 * second later while ours was within its limit (a 25 ms stall of the simulator on a loaded box:
 * 101 in its window, 0x58; issue 19). The answer tells when the SMSC had the submit at the latest:
 * `answered` moves a logged send to its answer time less the session's quickest recent round trip
 * (what the return alone can take), never earlier than it was sent. After a stall that is when the
 * SMSC took it; with TCP's in-order delivery, pacing the (limit)-th send after it at that time +
 * 1000 ms keeps the SMSC's own window within the limit too. Delays up to half of what the margin
 * is worth in time (2 sends of 100/s: 20 ms, so 10 ms) are left to the margin: otherwise the
 * jitter of every answer — mostly our own event loop reading it late — would be lost from the rate
 * (measured: 97.2 % instead of 97.5 %), and the other half stays for what no answer shows.
 *
 * Smoothing: in addition, consecutive sends are at least `smoothing × 1000 / limit` ms apart
 * (default 0.8 → at most 1.25× the average rate inside any sub-second slice), so the first
 * second after a stall is spread out instead of one burst of `limit` PDUs at the same instant,
 * and steady traffic has no half-second bursts a sub-second-bucket SMSC might punish.
 *
 * Throttle feedback: `slowDown(now)` (on 0x58) sets the effective limit just below what was sent
 * in the last second (or multiplies it by `slowDownFactor`, default ½, when nothing was sent),
 * at most once per `slowDownHoldMs`; after `recoverQuietMs` without another
 * slow-down the limit grows back by `recoverStepPerSecond × cap` per second, never above the cap.
 */

/** Options of {@link SubmitPacer}. */
export interface PacingOptions {
  /** Provider limit, submit_sm per second per session (Agile: 100). */
  rate: number;
  /** Safety margin kept below the rate, 0 ≤ margin < 1 (default 0.02 → 98/s for 100/s). */
  margin?: number;
  /** Minimum gap between sends as a fraction of the average gap 1000/limit (default 0.8; 0 = none). */
  smoothing?: number;
  /** Multiplier applied on slowDown (default 0.5). */
  slowDownFactor?: number;
  /** Further slowDown calls within this period are ignored — one 0x58 burst halves once (default 1000). */
  slowDownHoldMs?: number;
  /** Quiet period after the last slowDown before recovery starts (default 2000). */
  recoverQuietMs?: number;
  /** Recovery per second as a fraction of the cap (default 0.1 → +10 %/s). */
  recoverStepPerSecond?: number;
  /** Floor of the effective limit (default 1). */
  minLimit?: number;
}

const WINDOW_MS = 1000;
/**
 * Added to the window's edge so that `(t + 1000) − t` stays ≥ 1000 in floating point for any clock
 * value this process sees (a double's step is ~1e-8 ms at 1e8 ms of uptime).
 */
const EDGE_MS = 1e-6;
/** After a 0x58, pace at this share of what was sent in the last second. */
const OBSERVED_SHARE = 0.95;

/**
 * The quickest recent round trip creeps up by this much per answer, so that a round trip that grew
 * for good (another network path) is followed within ~100 answers per millisecond.
 */
const RTT_FLOOR_CREEP_MS = 0.01;

/** floor((1 − margin) × rate), at least 1. Exported for tests and metrics. */
export function pacingLimit(rate: number, margin: number): number {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`pacing rate must be > 0, got ${rate}`);
  if (!(margin >= 0 && margin < 1)) throw new RangeError(`pacing margin must be in [0, 1), got ${margin}`);
  return Math.max(1, Math.floor((1 - margin) * rate + 1e-9));
}

export class SubmitPacer {
  /** The configured cap: floor((1 − margin) × rate). */
  readonly cap: number;
  private readonly smoothing: number;
  private readonly slowDownFactor: number;
  private readonly slowDownHoldMs: number;
  private readonly recoverQuietMs: number;
  private readonly recoverStepPerSecond: number;
  private readonly minLimit: number;
  /**
   * When the SMSC counted each of the last `cap` sends, oldest send first: its send time, moved
   * later by `answered` (the limit never exceeds the cap, so `cap` entries cover one window).
   */
  private readonly log: number[] = [];
  /** Sends so far: a send's number minus (sends − log length) is its index in the log. */
  private sends = 0;
  private lastSentAt: number | undefined;
  /** The quickest recent round trip (ms), see RTT_FLOOR_CREEP_MS. */
  private rttFloor = Number.POSITIVE_INFINITY;
  /** Delay at the SMSC left to the margin (see the header): half the margin, in ms. */
  private readonly absorbMs: number;
  private reducedLimit: number | undefined;
  private reducedAt = Number.NEGATIVE_INFINITY;
  private slowDowns = 0;

  constructor(options: PacingOptions) {
    this.cap = pacingLimit(options.rate, options.margin ?? 0.02);
    this.absorbMs = (((options.rate - this.cap) / options.rate) * WINDOW_MS) / 2;
    this.smoothing = clamp(options.smoothing ?? 0.8, 0, 1);
    this.slowDownFactor = clamp(options.slowDownFactor ?? 0.5, 0.05, 1);
    this.slowDownHoldMs = Math.max(0, options.slowDownHoldMs ?? 1000);
    this.recoverQuietMs = Math.max(0, options.recoverQuietMs ?? 2000);
    this.recoverStepPerSecond = clamp(options.recoverStepPerSecond ?? 0.1, 0, 1);
    this.minLimit = clamp(Math.floor(options.minLimit ?? 1), 1, this.cap);
  }

  /** Effective limit (submit_sm per any 1000 ms window) at `now`. */
  currentLimit(now: number): number {
    if (this.reducedLimit === undefined) return this.cap;
    const recoveringMs = now - this.reducedAt - this.recoverQuietMs;
    if (recoveringMs <= 0) return this.reducedLimit;
    const grown = this.reducedLimit + (recoveringMs / 1000) * this.recoverStepPerSecond * this.cap;
    return Math.min(this.cap, Math.floor(grown + 1e-9));
  }

  /** Alias of {@link currentLimit} in messages per second, for metrics. */
  currentRate(now: number): number {
    return this.currentLimit(now);
  }

  /** Earliest time ≥ now at which one more submit_sm may go on the wire. */
  nextSendAt(now: number): number {
    const limit = this.currentLimit(now);
    let at = now;
    const last = this.lastSentAt;
    const gap = (this.smoothing * WINDOW_MS) / limit;
    // A gap under 1 ms would round up to one send per millisecond (per timer tick), capping a
    // session at ~1,000/s whatever the limit; at such rates only the window bounds the pace.
    if (last !== undefined && gap >= 1) {
      at = Math.max(at, last + gap);
    }
    if (this.log.length >= limit) {
      // The limit-th most recent send must fall outside the window (at − 1000, at].
      const oldestCounted = this.log[this.log.length - limit] as number;
      at = Math.max(at, oldestCounted + WINDOW_MS + EDGE_MS);
    }
    // Not rounded: a caller on an integer clock compares `at <= now` and waits for a whole
    // millisecond anyway, so it never sends early; a caller on a fractional clock loses nothing.
    return at;
  }

  /** True when a send at `now` respects the limit. */
  canSend(now: number): boolean {
    return this.nextSendAt(now) <= now;
  }

  /**
   * Records one submit_sm (every segment counts) sent at `now` and returns its number, for
   * `answered`. The caller must have waited for nextSendAt(now) ≤ now; take() does not refuse,
   * so the log always reflects the wire.
   */
  take(now: number): number {
    this.log.push(now);
    if (this.log.length > this.cap) this.log.shift();
    this.lastSentAt = now;
    this.sends += 1;
    return this.sends - 1;
  }

  /** A new connection (perhaps to another SMSC host): its round trips are learnt afresh. */
  newLink(): void {
    this.rttFloor = Number.POSITIVE_INFINITY;
  }

  /** Send number `send` (from `take`), sent at `sentAt`, was answered at `now`: see the header. */
  answered(send: number, sentAt: number, now: number): void {
    const roundTrip = now - sentAt;
    if (!(roundTrip >= 0)) return;
    this.rttFloor = Math.min(roundTrip, this.rttFloor + RTT_FLOOR_CREEP_MS);
    const index = send - (this.sends - this.log.length);
    if (index < 0 || index >= this.log.length) return;
    const countedBy = now - this.rttFloor - this.absorbMs;
    if (countedBy > (this.log[index] as number)) this.log[index] = countedBy;
  }

  /** Reaction to 0x58 (throughput exceeded). Returns true if the limit was lowered. */
  slowDown(now: number): boolean {
    if (now - this.reducedAt < this.slowDownHoldMs) return false;
    const current = this.currentLimit(now);
    // What we sent in the last second is what the SMSC just refused to exceed: pace a little
    // below that. At our own full pace (a strict SMSC counting arrivals, which jitter can bunch)
    // that is a ~5 % step, not a halving; against an SMSC far slower than us it drops straight
    // to the SMSC's rate. With no recent sends there is nothing to go by: halve.
    const observed = this.sentSince(now - WINDOW_MS);
    const target = observed > 0 ? Math.min(current - 1, Math.floor(observed * OBSERVED_SHARE)) : Math.floor(current * this.slowDownFactor);
    this.reducedLimit = Math.max(this.minLimit, target);
    this.reducedAt = now;
    this.slowDowns += 1;
    return true;
  }

  /** Sends logged after `since` (the log holds at most `cap` entries: enough for one window). */
  private sentSince(since: number): number {
    let n = 0;
    for (let i = this.log.length - 1; i >= 0 && (this.log[i] as number) > since; i -= 1) n += 1;
    return n;
  }

  /** Number of effective slow-downs so far (for metrics). */
  slowDownCount(): number {
    return this.slowDowns;
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
