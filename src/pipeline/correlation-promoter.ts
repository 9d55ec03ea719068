/**
 * Writes the long-lived part of the correlation index to the compacted live-state topic, so that a
 * replica on an empty store restores what is still waiting for receipts without reading the whole
 * correlation topic (a week of completed requests).
 *
 * Every pass, a request that is still incomplete and was changed before the cut (now − half the
 * restore window) gets its whole state written under `q:<requestId>`; a promoted request that is
 * forgotten (completed + CORRELATION_KEEP_DONE_MS, or never completable) gets a tombstone. Then
 * the pass writes its watermark `h:<instance>`: every change written before it is in the
 * live-state topic. A restore reads that topic, then the correlation topic from the highest
 * watermark on. Most requests complete within seconds and are pruned long before the cut: they
 * never cost a live-state record.
 *
 * Every replica promotes what its own index holds (the index is the same on all of them): the
 * records are idempotent, and no replica has to be elected. A replica whose tail lags behind the
 * correlation topic by more than `maxLagMs` skips its passes: it could otherwise write a state
 * older than what another replica wrote after it, or miss the completion of a request whose
 * tombstone the others have written already.
 *
 * In partitioned ownership (`watermarkPartitions` given) a replica holds only some correlation
 * partitions, so its watermark vouches for those only: it writes `w:<k>` for each partition k it
 * held, caught up, for the whole pass, and no `h:` (which a restore takes for every partition).
 */
import type { Logger } from '../obs/logger.js';
import type { CorrelationIndex, LiveRequestState } from './correlation-index.js';

export const LIVE_REQUEST_PREFIX = 'q:';
/** A replica's watermark, valid for every correlation partition (it holds them all). */
export const WATERMARK_PREFIX = 'h:';
/** The watermark of one correlation partition, written by whoever holds it. */
export const PARTITION_WATERMARK_PREFIX = 'w:';
export const liveRequestKey = (requestId: string): string => `${LIVE_REQUEST_PREFIX}${requestId}`;
export const partitionWatermarkKey = (partition: number): string => `${PARTITION_WATERMARK_PREFIX}${partition}`;

export interface Watermark {
  v: 1;
  /**
   * Every change written to the correlation topic (`h:`), or to its partition k (`w:<k>`), before
   * this time (ms) is in the live-state topic.
   */
  watermark: number;
}

export interface LiveStateWrite {
  key: string;
  /** null: a tombstone. */
  value: LiveRequestState | Watermark | null;
}

/** The live-state topic, as the promoter sees it: resolves once the records are acknowledged. */
export interface LiveStateSink {
  write(records: LiveStateWrite[]): Promise<void>;
}

export interface PromoterDeps {
  index: CorrelationIndex;
  sink: LiveStateSink;
  /** CORRELATION_RESTORE_WINDOW_MS */
  windowMs: number;
  /** Names this replica's watermark (a stable name: one key per host, not one per start). */
  instanceId: string;
  /** The time up to which the tail has applied every partition of the correlation topic. */
  appliedThrough: () => number;
  /**
   * Partitioned ownership: the correlation partitions this replica holds and has caught up on now.
   * Given, a pass writes `w:<k>` for those held from its start to its end, and no `h:`. Unset (every
   * replica holds every partition): `h:<instanceId>`.
   */
  watermarkPartitions?: () => number[];
  /** Passes are skipped while the tail lags more than this (`maxPromotionLagMs`). */
  maxLagMs: number;
  intervalMs: number;
  now: () => number;
  logger: Logger;
}

export interface PassResult {
  promoted: number;
  tombstones: number;
  /**
   * The watermark written, or null when the pass was skipped (tail lagging), a write failed, or (in
   * partitioned ownership) no partition was held throughout.
   */
  watermark: number | null;
}

/** Margin between the promotion cut and the watermark: clocks of the replicas that wrote the records may differ. */
const CLOCK_MARGIN_MS = 60_000;

/**
 * How far the tail may lag for promotion to be exact: a quarter of the window, and less than what
 * the window leaves after CORRELATION_KEEP_DONE_MS (a completion read late is pruned, and its
 * tombstone written, that much later).
 */
export function maxPromotionLagMs(windowMs: number, keepDoneMs: number): number {
  return Math.max(0, Math.min(windowMs / 4, windowMs / 2 - keepDoneMs));
}

/**
 * How long after its submit a request may have been promoted by some replica's pass: half the
 * window (the cut) less the clock margin. Forgotten later than that, it gets a tombstone even where
 * this replica never promoted it (correlation-index.ts `promotedAfterMs`).
 */
export function promotionAgeMs(windowMs: number): number {
  return windowMs / 2 - Math.min(CLOCK_MARGIN_MS, windowMs / 4);
}

/**
 * How long a request's receipts may take before its forgetting leaves a tombstone in the
 * live-state topic, whether or not its state was ever promoted: it is forgotten
 * CORRELATION_KEEP_DONE_MS after its last receipt, and one forgotten `promotionAgeMs` or more after
 * its submit gets one. At 0 or below every request leaves one: the topic then holds a record per
 * request for its `delete.retention.ms`, and a replica on an empty store reads them all.
 */
export function tombstoneLatencyMs(windowMs: number, keepDoneMs: number): number {
  return promotionAgeMs(windowMs) - keepDoneMs;
}

/** Under this, start-up warns that receipts slower than `tombstoneLatencyMs` (most, or all) leave tombstones. */
export const TOMBSTONE_LATENCY_WARN_MS = 10_000;

/** The smallest window whose `tombstoneLatencyMs` is a minute (and so over the warning). */
export const quietWindowMs = (keepDoneMs: number): number => 2 * keepDoneMs + 4 * CLOCK_MARGIN_MS;

/** How long stop waits for a pass whose writes hang (Kafka down): the states stay listed for the next start. */
const STOP_WAIT_MS = 2_000;

/** The cut and the watermark of a pass at `now`; pure, for the tests. */
export function promotionTimes(now: number, windowMs: number): { cut: number; watermark: number } {
  const cut = now - windowMs / 2;
  return { cut, watermark: cut - Math.min(CLOCK_MARGIN_MS, windowMs / 4) };
}

export class CorrelationPromoter {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PassResult> | null = null;
  private lagging = false;
  private stopped = false;
  promoted = 0;
  tombstones = 0;

  constructor(private readonly deps: PromoterDeps) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.passOnce()
        .catch((err: unknown) => {
          this.deps.logger.warn({ err: (err as Error).message }, 'live-state write failed; retried at the next pass');
          return { promoted: 0, tombstones: 0, watermark: null };
        })
        .finally(() => (this.running = null));
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.stopped = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** One pass: promotions, tombstones, then the watermark. Rejects when a write fails (retried next pass). */
  async passOnce(): Promise<PassResult> {
    const { index, sink, windowMs } = this.deps;
    const now = this.deps.now();
    if (!this.tailCurrent(now)) return { promoted: 0, tombstones: 0, watermark: null };
    const { cut, watermark } = promotionTimes(now, windowMs);
    const heldAtStart = this.deps.watermarkPartitions?.();
    let promoted = 0;
    for (const slice of index.promotable(cut)) {
      if (slice.length > 0) {
        try {
          await sink.write(slice.map((state) => ({ key: liveRequestKey(state.request.id), value: state })));
        } catch (err) {
          index.promotionFailed(slice);
          throw err;
        }
        // After a stop the store is closing: the states stay listed, and are written again at the next start.
        if (this.stopped) return { promoted, tombstones: 0, watermark: null };
        index.promotionWritten(slice);
        promoted += slice.length;
      }
      await new Promise((resolve) => setImmediate(resolve)); // let submits and receipts through
    }
    const retired = index.retired();
    if (retired.length > 0) {
      await sink.write(retired.map((id) => ({ key: liveRequestKey(id), value: null })));
      if (this.stopped) return { promoted, tombstones: 0, watermark: null };
      for (const id of retired) index.retiredWritten(id);
    }
    const marks = this.watermarkWrites(watermark, heldAtStart);
    if (marks.length > 0) await sink.write(marks);
    this.promoted += promoted;
    this.tombstones += retired.length;
    return { promoted, tombstones: retired.length, watermark: marks.length > 0 ? watermark : null };
  }

  /**
   * The watermark records a pass ends with: `h:<instance>`, or in partitioned ownership `w:<k>` for
   * each partition held and caught up both when the pass began (so the index had its changes before
   * the cut when the pass listed what to promote) and now (a partition released meanwhile may have
   * a new holder already, whose watermark is the one to trust).
   */
  private watermarkWrites(watermark: number, heldAtStart: number[] | undefined): LiveStateWrite[] {
    const value: Watermark = { v: 1, watermark };
    if (heldAtStart === undefined) return [{ key: `${WATERMARK_PREFIX}${this.deps.instanceId}`, value }];
    const heldNow = new Set(this.deps.watermarkPartitions?.() ?? []);
    return heldAtStart.filter((k) => heldNow.has(k)).map((k) => ({ key: partitionWatermarkKey(k), value }));
  }

  /** Whether the tail has applied the correlation topic recently enough for this replica to promote. */
  private tailCurrent(now: number): boolean {
    const lagMs = now - this.deps.appliedThrough();
    const lagging = lagMs > this.deps.maxLagMs;
    if (lagging !== this.lagging) {
      if (lagging) this.deps.logger.warn({ lagMs }, 'correlation tail lags: live-state promotion paused until it catches up');
      else this.deps.logger.info('correlation tail current again: live-state promotion resumed');
      this.lagging = lagging;
    }
    return !lagging;
  }
}
