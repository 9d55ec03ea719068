/**
 * Restores an empty correlation store from the compacted live-state topic (correlation-promoter.ts):
 * the requests still waiting for receipts after half the restore window, and the tombstones of
 * those since forgotten. Read once, at start, up to the end offsets seen when it began; the
 * correlation topic is then read from the highest watermark on (correlation-tail.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { CorrelationIndex, LiveRequestState } from '../pipeline/correlation-index.js';
import { LIVE_REQUEST_PREFIX, WATERMARK_PREFIX, type Watermark } from '../pipeline/correlation-promoter.js';
import { retryUntil } from './client.js';

export interface LiveRestore {
  /** Live-state records read (states, tombstones, watermarks). */
  records: number;
  /** The highest watermark read: the correlation topic is complete in the store before it. null: none yet (read it all). */
  watermark: number | null;
}

/** How long start-up tries to read the live-state topic's offsets before it reads the correlation topic whole instead. */
const OFFSETS_WAIT_MS = 30_000;
/**
 * A partition whose last records compaction removed (tombstones past their retention) never
 * delivers the offset just below its end: when nothing has arrived for this long, a partition
 * that delivered records is taken as read. One that delivered none by then (a slow group join,
 * or all its records removed) makes the restore give up: the correlation topic is read whole.
 */
const IDLE_END_MS = 10_000;
const IDLE_GIVE_UP_MS = 60_000;

export async function restoreLiveState(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  index: CorrelationIndex,
  groupPrefix: string,
  logger: Logger,
): Promise<LiveRestore> {
  const offsets = await retryUntil(
    Date.now() + OFFSETS_WAIT_MS,
    () => admin.fetchTopicOffsets(topic),
    () => true,
  ).catch(() => null);
  if (!offsets) {
    logger.warn({ topic }, 'live-state topic offsets unavailable; reading the correlation topic from its beginning');
    return { records: 0, watermark: null };
  }
  const ends = new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
  if (ends.size === 0) return { records: 0, watermark: null };

  let records = 0;
  let watermark: number | null = null;
  const apply = (key: string, value: Buffer | null): void => {
    if (key.startsWith(LIVE_REQUEST_PREFIX)) {
      const state = value === null ? null : (JSON.parse(value.toString('utf8')) as LiveRequestState);
      index.restoreLive(key.slice(LIVE_REQUEST_PREFIX.length), state);
    } else if (key.startsWith(WATERMARK_PREFIX) && value !== null) {
      const mark = (JSON.parse(value.toString('utf8')) as Watermark).watermark;
      if (Number.isFinite(mark)) watermark = Math.max(watermark ?? mark, mark);
    }
  };

  const consumer = kafka.consumer({
    groupId: `${groupPrefix}.correlation-live-restore.${randomUUID()}`,
    sessionTimeout: 10000,
    heartbeatInterval: 1000,
    maxWaitTimeInMs: 200,
    allowAutoTopicCreation: false,
  });
  let caughtUp = (): void => {};
  const done = new Promise<void>((resolve) => (caughtUp = resolve));
  const delivered = new Set<number>();
  let complete = true;
  let idle: NodeJS.Timeout | undefined;
  let idleSince = Date.now();
  const idleEnd = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      const silent = [...ends.keys()].filter((p) => !delivered.has(p));
      if (silent.length > 0 && Date.now() - idleSince < IDLE_GIVE_UP_MS) return idleEnd();
      complete = silent.length === 0;
      logger.warn({ topic, partitions: [...ends.keys()], silent }, 'live-state partitions delivered nothing more before their end offset');
      caughtUp();
    }, IDLE_END_MS);
  };
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        idleSince = Date.now();
        delivered.add(batch.partition);
        idleEnd();
        const end = ends.get(batch.partition);
        if (end === undefined) return;
        for (const m of batch.messages) {
          if (BigInt(m.offset) >= end) break;
          records++;
          try {
            apply(m.key?.toString('utf8') ?? '', m.value);
          } catch (err) {
            logger.warn({ err, partition: batch.partition, offset: m.offset }, 'skipping unreadable live-state record');
          }
        }
        if (BigInt(batch.lastOffset()) + 1n >= end) ends.delete(batch.partition);
        await index.written(); // a restore that outruns the disk would queue its writes in heap
        if (ends.size === 0) caughtUp();
      },
    });
    idleEnd();
    await done;
  } finally {
    clearTimeout(idle);
    await consumer.disconnect();
  }
  // Some partitions unread: their states may be missing, so no window may be skipped.
  return { records, watermark: complete ? watermark : null };
}
