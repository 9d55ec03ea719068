/**
 * Receipts that never come: a request whose receipt deadline (validUntil, else submit +
 * RECEIPT_WAIT_MS) plus a grace period has passed without every segment reporting a final state
 * gets a SUMMARY `UNKNOWN`, and its missing segments are recorded as final (UNKNOWN) in the
 * correlation topic so the summary is not repeated — and a late receipt still publishes its own
 * RECEIPT event. With several replicas each may emit the summary once; it carries the same
 * eventId, so consumers keep one.
 */
import type { Logger } from '../obs/logger.js';
import { finalKey, type CorrelationIndex, type FinalRecord } from './correlation-index.js';
import * as ev from './events.js';
import type { CorrelationWrite, EventSink } from './outbound-processor.js';

export interface OverdueSweeperDeps {
  index: CorrelationIndex;
  sink: Pick<EventSink, 'publish'>;
  graceMs: number;
  intervalMs: number;
  /** Completed requests stay in the index this long (late duplicate receipts still correlate). */
  keepCompletedMs: number;
  now: () => number;
  logger: Logger;
}

export class OverdueSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(private readonly deps: OverdueSweeperDeps) {}

  start(): void {
    this.timer = setInterval(() => {
      this.deps.index.pruneCompleted(this.deps.now() - this.deps.keepCompletedMs);
      this.running ??= this.sweepOnce().finally(() => (this.running = null));
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => 0);
  }

  /** Emits the UNKNOWN summaries that are due; returns how many. */
  async sweepOnce(): Promise<number> {
    const now = this.deps.now();
    const due = [...this.deps.index.overdue(now - this.deps.graceMs)];
    for (const req of due) {
      const unknown: FinalRecord = { v: 1, status: 'UNKNOWN', errorCategory: null };
      const writes: CorrelationWrite[] = req.messageIds
        .filter((m): m is string => m !== null && this.deps.index.final(m) === undefined)
        .map((m) => ({ key: finalKey(m), value: unknown }));
      const delivered = req.messageIds.filter((m) => m && this.deps.index.final(m)?.status === 'DELIVERED').length;
      const facts = { id: req.id, from: req.from, to: req.to, segments: req.segments, metadata: req.metadata };
      const summary = ev.summary(facts, [], req.attempts, now, {
        status: 'UNKNOWN',
        description: `no final receipt by ${new Date(req.receiptDeadline).toISOString()} for ${writes.length} of ${req.segments} segments (${delivered} delivered)`,
      });
      for (const w of writes) this.deps.index.apply(w.key, w.value as FinalRecord);
      await this.deps.sink.publish([summary], writes);
    }
    if (due.length > 0) this.deps.logger.info({ requests: due.length }, 'receipts overdue: UNKNOWN summaries published');
    return due.length;
  }
}
