/**
 * Reads one topic outside any real consumer group — for the delivery reader (`tail`, the demo) and `redrive`.
 *
 * kafkajs has no group-less (assign) consumer, so each read joins a throwaway group of its own that
 * never commits and is deleted afterwards: reading never moves anyone's offsets.
 *
 * "Up to the current end" is a snapshot: the high watermarks taken when the read starts. Records
 * appended later (e.g. redriven records that fail again and return to the DLQ) are not read, so a
 * read that stops at the end always stops.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';

export interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** The record's Kafka timestamp (epoch ms). */
  timestamp: number;
}

export interface ReadOptions {
  kafka: Kafka;
  topic: string;
  /** Start at the earliest offset; otherwise only records written after the read joined. */
  fromBeginning: boolean;
  /** Stop once every partition reached the end it had when the read started. */
  stopAtEnd?: boolean;
  /** Stop when aborted (Ctrl-C, a test's deadline). */
  signal?: AbortSignal;
  /** Prefix of the throwaway group's id, so an operator can tell who is reading. */
  groupPrefix?: string;
  /** Return `'stop'` to end the read after this record. */
  onRecord(record: RawRecord): Promise<void | 'stop'> | void | 'stop';
}

export interface ReadResult {
  records: number;
  reason: 'end' | 'stopped' | 'aborted';
}

export async function readTopic(opts: ReadOptions): Promise<ReadResult> {
  const groupId = `${opts.groupPrefix ?? 'sms-connector-cli'}.${randomUUID()}`;
  const ends = opts.stopAtEnd ? await endOffsets(opts.kafka, opts.topic) : null;
  let records = 0;
  let finish!: (reason: ReadResult['reason']) => void;
  const finished = new Promise<ReadResult['reason']>((resolve) => (finish = resolve));
  if (ends && [...ends.values()].every((e) => e.next >= e.high)) finish('end');
  if (opts.signal?.aborted) finish('aborted');
  const onAbort = () => finish('aborted');
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const consumer = opts.kafka.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
  let done = false;
  void finished.then(() => (done = true));
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: opts.topic, fromBeginning: opts.fromBeginning });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        if (done) return;
        const end = ends?.get(partition);
        if (end && BigInt(message.offset) >= end.high) return; // written after the snapshot
        records += 1;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) {
          if (v !== undefined) headers[k] = Array.isArray(v) ? v.map(String).join(',') : v.toString();
        }
        const verdict = await opts.onRecord({
          topic,
          partition,
          offset: message.offset,
          key: message.key,
          value: message.value,
          headers,
          timestamp: Number(message.timestamp),
        });
        if (verdict === 'stop') finish('stopped');
        if (end) {
          end.next = BigInt(message.offset) + 1n;
          if ([...ends!.values()].every((e) => e.next >= e.high)) finish('end');
        }
      },
    });
    return { records, reason: await finished };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => undefined);
    await deleteGroup(opts.kafka, groupId);
  }
}

/** Per partition: the high watermark now, and the next offset to read (the low watermark at first). */
async function endOffsets(kafka: Kafka, topic: string): Promise<Map<number, { next: bigint; high: bigint }>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((p) => [p.partition, { next: BigInt(p.low), high: BigInt(p.high) }]));
  } finally {
    await admin.disconnect();
  }
}

/** Best effort: an empty group without offsets expires by itself anyway. */
async function deleteGroup(kafka: Kafka, groupId: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups([groupId]);
  } catch {
    /* the broker removes it when it expires */
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
