/**
 * Restores an empty correlation store from the compacted live-state topic (correlation-promoter.ts):
 * the requests still waiting for receipts after half the restore window, and the tombstones of
 * those since forgotten. Read once, at start; the correlation topic is then read from the highest
 * watermark on (correlation-tail.ts).
 *
 * Two kinds of watermark: `h:<instance>`, written by a replica holding every correlation partition
 * (it vouches for all of them), and `w:<k>`, written by the holder of partition k in partitioned
 * ownership (it vouches for k only). Both are lower bounds, so partition k is read from the higher
 * of its own and the shared one (`RestoredWatermarks.watermarkOf`).
 *
 * Two sets of end offsets: watermarks count only below the first, states are read up to the
 * second, taken once the first is reached. A replica writes its watermark only after Kafka
 * acknowledged the states before it, so every state a counted watermark vouches for was in the
 * topic before the first set was taken — even one in a partition whose end was taken just before
 * it landed — and so is below the second. (A `w:<k>` lands where its key hashes, not in live-state
 * partition k, so the rule is needed for it too.)
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { CorrelationIndex, LiveRequestState } from '../pipeline/correlation-index.js';
import { LIVE_REQUEST_PREFIX, PARTITION_WATERMARK_PREFIX, WATERMARK_PREFIX, type Watermark } from '../pipeline/correlation-promoter.js';
import { nonEmptyEnds, retryUntil } from './client.js';

export interface LiveRestore {
  /** Live-state records read (states, tombstones, watermarks). */
  records: number;
  /**
   * The watermarks read: before `watermarkOf(k)`, correlation partition k is complete in the store.
   * None when the restore did not complete (some states may be missing: read the topic whole).
   */
  watermarks: RestoredWatermarks;
}

/** The watermarks a restore read: the highest shared one (`h:`) and the highest per partition (`w:<k>`). */
export class RestoredWatermarks {
  private shared: number | null = null;
  private readonly byPartition = new Map<number, number>();

  /** Notes a watermark record by its key; other keys, and values that are not a time, are ignored. */
  note(key: string, mark: number): void {
    if (!Number.isFinite(mark)) return;
    if (key.startsWith(WATERMARK_PREFIX)) this.shared = Math.max(this.shared ?? mark, mark);
    else if (key.startsWith(PARTITION_WATERMARK_PREFIX)) {
      const named = key.slice(PARTITION_WATERMARK_PREFIX.length);
      if (!/^\d{1,9}$/.test(named)) return;
      const partition = Number(named);
      this.byPartition.set(partition, Math.max(this.byPartition.get(partition) ?? mark, mark));
    }
  }

  /** The time before which correlation partition `partition` is complete in the store: the higher of its own and the shared one; null: neither was read. */
  watermarkOf(partition: number): number | null {
    const own = this.byPartition.get(partition);
    if (own === undefined) return this.shared;
    return this.shared === null ? own : Math.max(own, this.shared);
  }

  /** Some watermark read (the shared one first), for a question any time answers; null: none. */
  anyWatermark(): number | null {
    return this.shared ?? this.byPartition.values().next().value ?? null;
  }
}

const isWatermarkKey = (key: string): boolean => key.startsWith(WATERMARK_PREFIX) || key.startsWith(PARTITION_WATERMARK_PREFIX);

/** How long start-up tries to read the live-state topic's offsets before it reads the correlation topic whole instead. */
const OFFSETS_WAIT_MS = 30_000;
/**
 * When nothing arrives for this long before the ends are reached (a group join that never
 * completes, a broker that stops answering), the restore gives up on the window: without a
 * watermark the correlation topic is read whole, which is slow but complete. (The last record of
 * a partition is never compacted away: it sits in the active segment.)
 */
const IDLE_GIVE_UP_MS = 60_000;

type Ends = Map<number, bigint>;

/** What a restore of some partitions only takes (correlation-tail.ts `hold`). */
export interface LiveRestoreScope {
  /**
   * Restores one request's state or tombstone, in the order read. Unset: `index.restoreLive`, for
   * every request. The live-state topic is not laid out by correlation partition yet (the plan's
   * step 6a), so a restore of some partitions still reads all of it and restores what of each
   * request lives there (correlation-tail.ts).
   */
  restore?: (requestId: string, state: LiveRequestState | null) => void;
  /** Aborted: the restore ends at once, incomplete (the tail stopped). */
  signal?: AbortSignal;
}

export async function restoreLiveState(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  index: CorrelationIndex,
  groupPrefix: string,
  logger: Logger,
  scope: LiveRestoreScope = {},
): Promise<LiveRestore> {
  const { signal } = scope;
  const restore = scope.restore ?? ((id: string, state: LiveRequestState | null) => index.restoreLive(id, state));
  const none = (records: number): LiveRestore => ({ records, watermarks: new RestoredWatermarks() });
  if (signal?.aborted) return none(0);
  const first = await endsOf(admin, topic);
  if (!first) {
    logger.warn({ topic }, 'live-state topic offsets unavailable; reading the correlation topic from its beginning');
    return none(0);
  }
  if (first.size === 0) return none(0);

  let records = 0;
  const watermarks = new RestoredWatermarks();
  const positions = new Map<number, bigint>();
  const apply = (partition: number, offset: bigint, key: string, value: Buffer | null): void => {
    if (key.startsWith(LIVE_REQUEST_PREFIX)) {
      const id = key.slice(LIVE_REQUEST_PREFIX.length);
      const state = value === null ? null : (JSON.parse(value.toString('utf8')) as LiveRequestState);
      restore(id, state);
    } else if (isWatermarkKey(key) && value !== null && offset < (first.get(partition) ?? 0n)) {
      watermarks.note(key, (JSON.parse(value.toString('utf8')) as Watermark).watermark);
    }
  };
  const reached = (ends: Ends): boolean => [...ends].every(([p, end]) => (positions.get(p) ?? 0n) >= end);

  const consumer = kafka.consumer({
    groupId: `${groupPrefix}.correlation-live-restore.${randomUUID()}`,
    sessionTimeout: 10000,
    heartbeatInterval: 1000,
    maxWaitTimeInMs: 200,
    allowAutoTopicCreation: false,
  });
  let target: Ends = first;
  let settle = (_complete: boolean): void => {};
  const done = new Promise<boolean>((resolve) => (settle = resolve));
  let idle: NodeJS.Timeout | undefined;
  const resetIdle = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      logger.warn(
        { topic, unread: [...target].filter(([p, end]) => (positions.get(p) ?? 0n) < end).map(([p]) => p) },
        'live-state topic not read to its end in time; reading the correlation topic whole',
      );
      settle(false);
    }, IDLE_GIVE_UP_MS);
  };
  let second = false;
  const onAbort = (): void => settle(false);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    resetIdle();
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (signal?.aborted) return;
        resetIdle();
        for (const m of batch.messages) {
          records++;
          try {
            apply(batch.partition, BigInt(m.offset), m.key?.toString('utf8') ?? '', m.value);
          } catch (err) {
            logger.warn({ err, partition: batch.partition, offset: m.offset }, 'skipping unreadable live-state record');
          }
        }
        positions.set(batch.partition, BigInt(batch.lastOffset()) + 1n);
        await index.written(); // a restore that outruns the disk would queue its writes in heap
        if (!reached(target)) return;
        if (second) return settle(true);
        second = true;
        const next = await endsOf(admin, topic);
        if (!next) return settle(false);
        target = next;
        if (reached(target)) settle(true);
      },
    });
    const complete = await done;
    // Some states may be missing: no part of the correlation topic may be skipped.
    return complete ? { records, watermarks } : none(records);
  } finally {
    clearTimeout(idle);
    signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect();
  }
}

/** End offsets of the partitions that hold records; null when they cannot be had. */
async function endsOf(admin: Admin, topic: string): Promise<Ends | null> {
  const offsets = await retryUntil(
    Date.now() + OFFSETS_WAIT_MS,
    () => admin.fetchTopicOffsets(topic),
    () => true,
  ).catch(() => null);
  return offsets && nonEmptyEnds(offsets);
}
