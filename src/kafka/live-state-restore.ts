/**
 * Restores an empty correlation store from the compacted live-state topic (correlation-promoter.ts):
 * the requests still waiting for receipts after half the restore window, and the tombstones of
 * those since forgotten. Read once, at start; the correlation topic is then read from the highest
 * watermark on (correlation-tail.ts).
 *
 * Two sets of end offsets: watermarks count only below the first, states are read up to the
 * second, taken once the first is reached. A replica writes its watermark only after Kafka
 * acknowledged the states before it, so every state a counted watermark vouches for was in the
 * topic before the first set was taken — even one in a partition whose end was taken just before
 * it landed — and so is below the second.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { CorrelationIndex, LiveRequestState } from '../pipeline/correlation-index.js';
import { LIVE_REQUEST_PREFIX, WATERMARK_PREFIX, type Watermark } from '../pipeline/correlation-promoter.js';
import { nonEmptyEnds, retryUntil } from './client.js';

export interface LiveRestore {
  /** Live-state records read (states, tombstones, watermarks). */
  records: number;
  /** The highest watermark read: the correlation topic is complete in the store before it. null: none yet (read it all). */
  watermark: number | null;
}

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
   * The requests to restore (states and tombstones); the others are skipped. Unset: all. The
   * live-state topic is not laid out by correlation partition yet (the plan's step 6a), so a restore
   * of one partition still reads all of it and keeps the requests whose `r:` entry lives there.
   */
  keep?: (requestId: string, state: LiveRequestState | null) => boolean;
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
  const { keep, signal } = scope;
  if (signal?.aborted) return { records: 0, watermark: null };
  const first = await endsOf(admin, topic);
  if (!first) {
    logger.warn({ topic }, 'live-state topic offsets unavailable; reading the correlation topic from its beginning');
    return { records: 0, watermark: null };
  }
  if (first.size === 0) return { records: 0, watermark: null };

  let records = 0;
  let watermark: number | null = null;
  const positions = new Map<number, bigint>();
  const apply = (partition: number, offset: bigint, key: string, value: Buffer | null): void => {
    if (key.startsWith(LIVE_REQUEST_PREFIX)) {
      const id = key.slice(LIVE_REQUEST_PREFIX.length);
      const state = value === null ? null : (JSON.parse(value.toString('utf8')) as LiveRequestState);
      if (keep && !keep(id, state)) return;
      index.restoreLive(id, state);
    } else if (key.startsWith(WATERMARK_PREFIX) && value !== null && offset < (first.get(partition) ?? 0n)) {
      const mark = (JSON.parse(value.toString('utf8')) as Watermark).watermark;
      if (Number.isFinite(mark)) watermark = Math.max(watermark ?? mark, mark);
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
    return { records, watermark: complete ? watermark : null };
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
