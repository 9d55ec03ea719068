/**
 * Requests written by a version before `m:` entries (store format 3, 2026-12-03), read while their
 * receipts are still awaited, under partitioned ownership. Their receipts are routed by message id
 * to partitions that hold nothing of them, so they may not correlate (an `unknown:` event, then an
 * UNKNOWN summary at the deadline). The index notes each snapshot as it reads it
 * (`onLegacyWaiting`); the operator is told once the start-up catch-up is done, and again a minute
 * after a later read (a partition gained at a rebalance) finds more: the README's upgrade rule,
 * with the latest deadline read. Reads are counted, not requests — a snapshot read again counts
 * again, and a final read after its snapshot is not taken back — so the figure is an upper bound
 * and the date a safe one. What the store already holds is not looked at: a replica switched from
 * `replicated` on its own store, having read them then, says nothing.
 */
import type { Logger } from '../obs/logger.js';

/** After the start-up report, how long more reads are gathered before they are told. */
const LATER_REPORT_MS = 60_000;

export class LegacyRequests {
  private read = 0;
  private told = 0;
  private stopped = false;
  private lastDeadline = 0;
  private started = false;
  private later: NodeJS.Timeout | undefined;

  constructor(private readonly logger: Logger) {}

  /** `onLegacyWaiting` of the correlation index. */
  readonly note = (receiptDeadline: number): void => {
    this.read++;
    this.lastDeadline = Math.max(this.lastDeadline, receiptDeadline);
    if (!this.started || this.later || this.stopped) return;
    this.later = setTimeout(() => {
      this.later = undefined;
      this.report();
    }, LATER_REPORT_MS);
    this.later.unref();
  };

  /** Once the start-up catch-up is done: what it read; later reads are told a minute after they begin. */
  reportStart(): void {
    this.started = true;
    this.report();
  }

  /** At the connector's stop: a report gathering later reads is dropped. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.later);
    this.later = undefined;
  }

  private report(): void {
    if (this.read === this.told) return;
    const snapshots = this.read - this.told;
    this.told = this.read;
    const until = new Date(this.lastDeadline).toISOString();
    this.logger.warn(
      { snapshots, waitingUntil: until },
      `requests written by a version before m: entries (store format 3) still wait for receipts: with CORRELATION_OWNERSHIP=partitioned their receipts may not correlate (unknown:, then UNKNOWN at their deadline). Set CORRELATION_OWNERSHIP=replicated until ${until} (README "Upgrading onto partitioned ownership")`,
    );
  }
}
