/**
 * Retry delays — the one backoff of the code base. PURE: no timers, no I/O; the random source is
 * injectable so tests can pin the jitter.
 *
 * Every retry loop (SMPP reconnects, Kafka sends and start-up metadata calls, the consumer's crash
 * restarts, submit retries, schema registration) asks `backoffDelayMs` how long to wait: the delay
 * doubles from `initialMs` per attempt up to `maxMs`, then jitter scales it. Jitter keeps N sessions
 * or N replicas that failed at the same moment from retrying in lock-step.
 */

/** Factors the nominal delay is scaled by: the wait is drawn uniformly from [low·d, high·d]. */
export type Jitter = readonly [low: number, high: number];

/** No jitter: the nominal delay exactly (a single process retrying its own call). */
export const NO_JITTER: Jitter = [1, 1];
/** "Equal jitter", [d/2, d]: never above the cap, and the lower half-bound keeps a flapping link out of a tight loop. */
export const EQUAL_JITTER: Jitter = [0.5, 1];
/** ±20 % around the nominal delay: spreads replicas without shortening the wait much. */
export const SPREAD_JITTER: Jitter = [0.8, 1.2];

export interface BackoffPolicy {
  /** Nominal delay of the first retry (attempt 0), in ms. */
  initialMs: number;
  /** Cap of the nominal delay, in ms (jitter above 1 may exceed it). */
  maxMs: number;
  jitter: Jitter;
}

/** The wait before retry `attempt` (0-based): min(maxMs, initialMs·2^attempt), scaled by the jitter. */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  // 2^30 already passes any cap; the bound keeps the product finite for huge attempt counts.
  const doublings = Math.min(Math.max(0, Math.floor(attempt)), 30);
  const nominal = Math.min(policy.maxMs, policy.initialMs * 2 ** doublings);
  const [low, high] = policy.jitter;
  return Math.round(nominal * (low + (high - low) * random()));
}

/** A long delay with ±20 % jitter, for configuration errors (credentials, too many binds). */
export function jitteredLongDelay(baseMs: number, random: () => number = Math.random): number {
  return backoffDelayMs({ initialMs: baseMs, maxMs: baseMs, jitter: SPREAD_JITTER }, 0, random);
}

/** Options of {@link Backoff}. */
export interface BackoffOptions {
  /** First delay's upper bound in ms (default 500). */
  minMs?: number;
  /** Cap of the delay in ms (default 30000). */
  maxMs?: number;
  /** Random source in [0, 1) (default Math.random); tests inject a fixed one. */
  random?: () => number;
}

/**
 * The attempt counter of a reconnect loop (an SMPP session): equal-jitter delays that grow with
 * each failure and start over after `reset()`, once a connection proved stable.
 */
export class Backoff {
  private readonly policy: BackoffPolicy;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}) {
    const initialMs = Math.max(1, options.minMs ?? 500);
    this.policy = { initialMs, maxMs: Math.max(initialMs, options.maxMs ?? 30_000), jitter: EQUAL_JITTER };
    this.random = options.random ?? Math.random;
  }

  /** Delay before the next attempt; each call counts one failed attempt. */
  next(): number {
    const delayMs = backoffDelayMs(this.policy, this.attempt, this.random);
    this.attempt += 1;
    return delayMs;
  }

  /** Forget failures (after a connection proved stable). */
  reset(): void {
    this.attempt = 0;
  }

  /** Failed attempts since the last reset. */
  attempts(): number {
    return this.attempt;
  }
}
