// Invariant (issue 20, partitioned ownership): a correlation partition restored fresh is read from
// its own watermark — the higher of its holder's `w:<k>` and any replica's shared `h:` — so a
// partition whose holder promoted further re-reads less, and none re-reads less than its own
// watermark vouches for.
//
// The topics are written by hand (records with chosen timestamps, live states and watermarks as
// the promoter writes them); a tail of the test's own, on an empty store, restores them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Partitioners, type Kafka } from 'kafkajs';
import { CorrelationTail } from '../../src/kafka/correlation-tail.js';
import { requestKey } from '../../src/pipeline/correlation-index.js';
import { partitionWatermarkKey, type Watermark } from '../../src/pipeline/correlation-promoter.js';
import { kafkaFor, testLogger } from '../helpers/pipeline.js';
import { createTopics, testStack, uniqueTopics } from '../helpers/stack.js';
import { requestRecord, tempIndex } from '../helpers/temp-store.js';

const MINUTE = 60_000;
const FAR = 10 ** 13;

interface Written {
  key: string;
  value: unknown;
  partition: number;
  timestamp?: number;
}

async function write(kafka: Kafka, topic: string, records: Written[]): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: records.map((r) => ({
        key: r.key,
        value: r.value === null ? null : JSON.stringify(r.value),
        partition: r.partition,
        ...(r.timestamp === undefined ? {} : { timestamp: String(r.timestamp) }),
      })),
    });
  } finally {
    await producer.disconnect();
  }
}

async function endOffsets(kafka: Kafka, topic: string): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition).map((o) => o.high);
  } finally {
    await admin.disconnect();
  }
}

/** A tail on a fresh store, holding `held` from its start; `stop` stops it and its admin. */
async function freshTail(kafka: Kafka, topics: { correlation: string; correlationLive: string }, held: number[] | 'all') {
  const index = tempIndex();
  const admin = kafka.admin();
  await admin.connect();
  const tail = new CorrelationTail(
    kafka,
    admin,
    index,
    { topic: topics.correlation, liveTopic: topics.correlationLive, groupPrefix: `test-${randomUUID()}` },
    testLogger,
  );
  void tail.hold(held);
  const stop = async () => {
    await tail.stop();
    await admin.disconnect();
  };
  return { index, tail, stop };
}

test('each partition restored fresh is read from its own watermark: w:<k> where it is above the shared h:, h: where there is no w:<k>', async () => {
  const stack = await testStack();
  const topics = uniqueTopics('restore-watermarks');
  await createTopics(stack.kafkaBrokers, [topics.correlation, topics.correlationLive], 3);
  const kafka = kafkaFor(stack);
  // Six snapshots per partition, one a minute, an hour ago.
  const base = Date.now() - 60 * MINUTE;
  const idOf = (p: number, i: number) => `req-${p}-${i}`;
  const snapshots: Written[] = [];
  for (const p of [0, 1, 2])
    for (let i = 0; i < 6; i++) {
      const id = idOf(p, i);
      snapshots.push({
        key: requestKey(id),
        value: requestRecord(id, [`${id}.1`, `${id}.2`], { receiptDeadline: FAR, home: p }),
        partition: p,
        timestamp: base + i * MINUTE,
      });
    }
  await write(kafka, topics.correlation, snapshots);
  const ends = await endOffsets(kafka, topics.correlation);
  assert.deepEqual(ends, ['6', '6', '6'], 'six records in each partition, none written twice');
  const mark = (watermark: number): Watermark => ({ v: 1, watermark });
  await write(kafka, topics.correlationLive, [
    { key: partitionWatermarkKey(0), value: mark(base + 1.5 * MINUTE), partition: 0 }, // early: records 2–5 of partition 0
    { key: partitionWatermarkKey(1), value: mark(base + 4 * MINUTE), partition: 1 }, // an older w:1, overwritten below
    { key: partitionWatermarkKey(1), value: mark(base + 4.5 * MINUTE), partition: 1 }, // later: record 5 of partition 1
    { key: 'h:old-replica', value: mark(base + 0.5 * MINUTE), partition: 2 }, // below both; partition 2's only one: records 1–5
  ]);

  const { index, tail, stop } = await freshTail(kafka, topics, 'all');
  try {
    await tail.start();
    assert.ok(await tail.waitCaughtUp(30_000), 'caught up');
    assert.deepEqual(
      [0, 1, 2].map((p) => tail.gainedFrom.get(p)),
      ['live-state', 'live-state', 'live-state'],
    );
    const firstRead = [0, 1, 2].map((p) => [0, 1, 2, 3, 4, 5].find((i) => index.request(idOf(p, i)) !== undefined));
    assert.deepEqual(firstRead, [2, 5, 1], 'the first record re-read in each partition: at its own watermark');
    for (const [p, from] of [
      [0, 2],
      [1, 5],
      [2, 1],
    ] as const)
      for (let i = from; i < 6; i++) assert.ok(index.request(idOf(p, i)), `${idOf(p, i)}: above its partition's watermark, re-read`);
    assert.equal(tail.appliedEntries, 4 + 1 + 5, 'nothing below a watermark was applied');
  } finally {
    await stop();
  }
});
