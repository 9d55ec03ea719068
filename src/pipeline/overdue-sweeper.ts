/**
 * Receipts that never come: a request whose receipt deadline (validUntil, else submit +
 * RECEIPT_WAIT_MS) plus a grace period has passed without every segment reporting a final state
 * gets a SUMMARY `UNKNOWN`, and its missing segments are recorded as final (UNKNOWN) in the
 * correlation topic so the summary is not repeated — and a late receipt still publishes its own
 * RECEIPT event. With several replicas each may emit the summary once; it carries the same
 * eventId, so consumers keep one.
 *
 * The same sweep emits the SUMMARY of a multipart request that is complete but has gone without
 * its `s:` marker for `summaryGraceMs`: its segments turned final on two replicas that both stopped
 * before either saw the other's final (the one that sees both emits it, normally within a second).
 */
import type { Logger } from '../obs/logger.js';
import type { SmsDeliveryEvent } from '../contracts.js';
import { finalKey, toHome, type CorrelationIndex, type CorrelationValue, type FinalRecord, type RequestRecord } from './correlation-index.js';
import * as ev from './events.js';
import type { CorrelationWrite, EventSink } from './outbound-processor.js';
import { factsOf, summaryMarker } from './summary.js';

export interface OverdueSweeperDeps {
  index: CorrelationIndex;
  sink: Pick<EventSink, 'publish'>;
  graceMs: number;
  /** How long a complete multipart request may go without its summary marker (normally < 1 s). */
  summaryGraceMs: number;
  intervalMs: number;
  /** Completed requests stay in the index this long (late duplicate receipts still correlate). */
  keepCompletedMs: number;
  now: () => number;
  logger: Logger;
}

/**
 * Completed requests leave the index every second, not once per sweep: pruning costs only what it
 * drops (oldest first), and pruning in bulk every 30 s made the index — most of the live heap —
 * saw-tooth by half a keep time of traffic.
 */
const PRUNE_INTERVAL_MS = 1000;

export class OverdueSweeper {
  private timer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(private readonly deps: OverdueSweeperDeps) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.sweepOnce().finally(() => (this.running = null));
    }, this.deps.intervalMs);
    this.timer.unref();
    this.pruneTimer = setInterval(() => this.deps.index.pruneCompleted(this.deps.now() - this.deps.keepCompletedMs), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.timer = null;
    this.pruneTimer = null;
    await this.running?.catch(() => 0);
  }

  /** Emits the UNKNOWN summaries that are due; returns how many. */
  async sweepOnce(): Promise<number> {
    const now = this.deps.now();
    let count = 0;
    for (const slice of this.deps.index.overdueSlices(now - this.deps.graceMs)) {
      // one slice's summaries in flight together: the publisher batches them into few requests
      await Promise.all(slice.map((req) => this.summariseOverdue(req, now)));
      count += slice.length;
      await new Promise((resolve) => setImmediate(resolve)); // let submits and receipts through
    }
    if (count > 0) this.deps.logger.info({ requests: count }, 'receipts overdue: UNKNOWN summaries published');
    return count + (await this.summariseUnmarked(now));
  }

  /** Summaries nobody published (see the header); returns how many. */
  private async summariseUnmarked(now: number): Promise<number> {
    const due = this.deps.index.summaryDue(now - this.deps.summaryGraceMs);
    if (due.length === 0) return 0;
    await Promise.all(
      due.map(({ request, outcomes }) => this.publishThenApply([ev.summary(factsOf(request), outcomes, request.attempts, now)], summaryMarker(request))),
    );
    this.deps.logger.warn({ requests: due.length }, 'multipart summaries nobody had published: published now');
    return due.length;
  }

  private summariseOverdue(listed: RequestRecord, now: number): Promise<void> {
    // Between slices a receipt may have completed it, or the index dropped it: read it again.
    const req = this.deps.index.current(listed);
    if (!req || this.deps.index.outcomes(req) !== null) return Promise.resolve();
    const unknown: FinalRecord = { v: 1, status: 'UNKNOWN', errorCategory: null, at: now };
    const writes: CorrelationWrite[] = req.messageIds
      .filter((m): m is string => m !== null && this.deps.index.final(m) === undefined)
      .map((m) => ({ key: finalKey(m), value: unknown, ...toHome(req) }));
    const delivered = req.messageIds.filter((m) => m && this.deps.index.final(m)?.status === 'DELIVERED').length;
    const summary = ev.summary(factsOf(req), [], req.attempts, now, {
      status: 'UNKNOWN',
      description: `no final receipt by ${new Date(req.receiptDeadline).toISOString()} for ${writes.length} of ${req.segments} segments (${delivered} delivered)`,
    });
    return this.publishThenApply([summary], [...writes, ...summaryMarker(req)]);
  }

  /**
   * The sweeper's entries reach the store only once published: the store survives a restart, and
   * an UNKNOWN final or a marker kept there without its summary on the topic would make the next
   * sweep think the summary went out. (Until then the request stays due; sweeps do not overlap.)
   */
  private async publishThenApply(events: SmsDeliveryEvent[], writes: CorrelationWrite[]): Promise<void> {
    await this.deps.sink.publish(events, writes);
    for (const w of writes) this.deps.index.apply(w.key, w.value as CorrelationValue);
  }
}
