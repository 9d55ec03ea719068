/**
 * Reconnect delays. PURE apart from the injectable random source.
 *
 * Exponential backoff with "equal jitter": attempt n waits a random time in [d/2, d] where
 * d = min(max, min × 2^n). The jitter keeps N sessions (and N replicas) that lost the SMSC
 * at the same moment from reconnecting in lock-step; the lower half-bound keeps a flapping
 * link from reconnecting in a tight loop.
 */

/** Options of {@link Backoff}. */
export interface BackoffOptions {
  /** First delay's upper bound in ms (default 500). */
  minMs?: number;
  /** Cap of the delay in ms (default 30000). */
  maxMs?: number;
  /** Random source in [0, 1) (default Math.random); tests inject a fixed one. */
  random?: () => number;
}

export class Backoff {
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.minMs = Math.max(1, options.minMs ?? 500);
    this.maxMs = Math.max(this.minMs, options.maxMs ?? 30_000);
    this.random = options.random ?? Math.random;
  }

  /** Delay before the next attempt; each call counts one failed attempt. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
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

/** A long delay with ±20 % jitter, for configuration errors (credentials, too many binds). */
export function jitteredLongDelay(baseMs: number, random: () => number = Math.random): number {
  return Math.round(baseMs * (0.8 + 0.4 * random()));
}
