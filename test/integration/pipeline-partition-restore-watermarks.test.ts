// Invariant (issue 20, partitioned ownership): a correlation partition restored fresh is read from
// the lowest of every partition's watermark — each the higher of its holder's `w:<k>` and any
// replica's shared `h:` — since its `m:` entries of multipart requests homed elsewhere reach the
// live-state topic only with their home's promotion, which only the home's watermark vouches for;
// and a partition restored alone gets, for each waiting segment of a multipart request homed
// elsewhere whose id hashes into it, the `m:` entry that names the home.
//
// The topics are written by hand (records with chosen timestamps, live states and watermarks as
// the promoter writes them); a tail of the test's own, on an empty store, restores them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Partitioners, type Kafka } from 'kafkajs';
import { CorrelationTail } from '../../src/kafka/correlation-tail.js';
import { partitionForKey } from '../../src/kafka/partitioner.js';
import { requestKey, type FinalRecord, type LiveRequestState, type RequestRecord } from '../../src/pipeline/correlation-index.js';
import { liveRequestKey, partitionWatermarkKey, type Watermark } from '../../src/pipeline/correlation-promoter.js';
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

/**
 * Idempotent: a retried send (seen once right after a broker's start) must not write a record
 * twice, which here would put the same snapshots above a watermark they are below.
 */
async function write(kafka: Kafka, topic: string, records: Written[]): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
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

test('partitions restored fresh are read from the lowest watermark of all partitions (each partition’s own the higher of its w:<k> and the shared h:), not each from its own', async () => {
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
    { key: partitionWatermarkKey(0), value: mark(base + 2.5 * MINUTE), partition: 0 }, // partition 0's: 2.5
    { key: partitionWatermarkKey(1), value: mark(base + 4 * MINUTE), partition: 1 }, // an older w:1, overwritten below
    { key: partitionWatermarkKey(1), value: mark(base + 4.5 * MINUTE), partition: 1 }, // partition 1's: 4.5
    { key: 'h:old-replica', value: mark(base + 0.5 * MINUTE), partition: 2 }, // below both w:
    { key: partitionWatermarkKey(2), value: mark(base + 1.5 * MINUTE), partition: 2 }, // partition 2's: 1.5, the lowest
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
    assert.deepEqual(firstRead, [2, 2, 2], 'the first record re-read in each partition: at the lowest watermark (1.5 min), not its own');
    for (const p of [0, 1, 2]) for (let i = 2; i < 6; i++) assert.ok(index.request(idOf(p, i)), `${idOf(p, i)}: above the lowest watermark, re-read`);
    assert.equal(tail.appliedEntries, 3 * 4, 'nothing below the lowest watermark was applied (the h: below it counts for no partition)');
  } finally {
    await stop();
  }
});

/** Correlation ids whose partition (of `count`) is `partition`, or is not when `not`. */
function idsIn(prefix: string, count: number, partition: number, n: number, not = false): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const id = `${prefix}-${i}`;
    if ((partitionForKey(id, count) === partition) !== not) out.push(id);
  }
  return out;
}

const delivered: FinalRecord = { v: 1, status: 'DELIVERED', errorCategory: null, at: 1_000 };

test('a partition restored alone gets the m: entry of each waiting segment hashing into it of a multipart request homed elsewhere, and only those', async () => {
  const PARTITIONS = 4;
  const A = 0; // the requests' home, not restored
  const B = 1; // the partition restored
  const stack = await testStack();
  const topics = uniqueTopics('restore-multipart-entries');
  await createTopics(stack.kafkaBrokers, [topics.correlation, topics.correlationLive], PARTITIONS);
  const kafka = kafkaFor(stack);
  const [inB1, inB2, inB3, inB4] = idsIn('cid-b', PARTITIONS, B, 4);
  const [elsewhere1, elsewhere2] = idsIn('cid-x', PARTITIONS, B, 2, true);
  const state = (id: string, home: number, messageIds: string[], finals: Record<string, FinalRecord> = {}): LiveRequestState => {
    const request: RequestRecord = requestRecord(id, messageIds, { receiptDeadline: FAR, home, messageEntries: true });
    return { v: 1, request, finals, summarised: false, cut: Date.now() - MINUTE };
  };
  const at = Date.now() - 10 * MINUTE;
  // B's own records lie below its watermark: what B holds here comes from the live-state topic only.
  await write(kafka, topics.correlation, [{ key: requestKey('old'), value: requestRecord('old', ['o1', 'o2'], { home: B }), partition: B, timestamp: at }]);
  await write(kafka, topics.correlationLive, [
    { key: liveRequestKey('waits'), value: state('waits', A, [inB1!, elsewhere1!]), partition: 0 },
    { key: liveRequestKey('forgotten'), value: state('forgotten', A, [inB2!, elsewhere2!]), partition: 0 },
    { key: liveRequestKey('forgotten'), value: null, partition: 0 },
    { key: liveRequestKey('final-in-b'), value: state('final-in-b', A, [inB3!, elsewhere1!], { [inB3!]: delivered }), partition: 1 },
    { key: liveRequestKey('homed-in-b'), value: state('homed-in-b', B, [inB4!, elsewhere2!]), partition: 1 },
    // Every partition's holder vouched for a minute after B's records: B is read from there.
    ...[0, 1, 2, 3].map((k) => ({ key: partitionWatermarkKey(k), value: { v: 1, watermark: at + MINUTE }, partition: k % 3 })),
  ]);

  const { index, tail, stop } = await freshTail(kafka, topics, [B]);
  try {
    await tail.start();
    assert.ok(await tail.waitCaughtUp(30_000, [B]), 'B caught up');
    assert.equal(tail.gainedFrom.get(B), 'live-state');
    assert.equal(index.request('old'), undefined, "B's records below its watermark were not re-read");
    assert.deepEqual(index.pendingRequestOf(inB1!), { id: 'waits', home: A }, 'the waiting segment in B names its request and home');
    assert.equal(index.request('waits'), undefined, 'the snapshot stays with its home');
    assert.equal(index.pendingRequestOf(elsewhere1!), undefined, 'a segment hashing elsewhere: not restored here');
    assert.equal(index.pendingRequestOf(inB2!), undefined, 'a request tombstoned later in the topic: its entry dropped');
    assert.equal(index.pendingRequestOf(inB3!), undefined, 'a segment whose final is in: no entry (its receipt is done)');
    assert.equal(index.segmentOf(inB4!)?.request.id, 'homed-in-b', 'a request homed in B: restored whole');
  } finally {
    await stop();
  }
});
