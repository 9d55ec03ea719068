/**
 * CorrelationTail.startOnce without a broker: a fake kafkajs `Kafka` (consumers that record their
 * calls, the live-state restore's consumer fed from a list of records) and `Admin`, and a real
 * CorrelationIndex on a temporary store. The two start-up paths the review of 5f211e4 fixed:
 * an empty store whose correlation-topic offsets cannot be read is still restored from the
 * live-state topic, and a stop during the start runs no consumer and leaks no lag probe. Then
 * partitions whose end offsets cannot be read, held at the start or gained later: not ready until
 * a retry reads them.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Admin, Kafka } from 'kafkajs';
import pino from 'pino';
import type { LiveRequestState } from '../../src/pipeline/correlation-index.js';
import { CorrelationTail } from '../../src/kafka/correlation-tail.js';
import { requestRecord, tempIndex } from '../helpers/temp-store.js';

const silent = pino({ level: 'silent' });
const TOPIC = 'sms.correlation';
const LIVE_TOPIC = 'sms.correlation.live';
/** correlation-tail.ts: how long start-up retries the topic's offsets; and how often it probes them for the lag. */
const CHECKPOINT_CHECK_MS = 30_000;
const LAG_PROBE_MS = 5_000;
/** correlation-tail.ts: how long a failed gain waits before it is tried again. */
const GAIN_RETRY_MS = 5_000;

/** kafkajs' admin right after the topic was created, while its metadata lacks the topic. */
const metadataLag = (): Error => new TypeError("Cannot destructure property 'partitions' of 'high.pop(...)' as it is undefined.");

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await turn();
  assert.ok(condition(), `timed out waiting for: ${what}`);
}

interface LiveRecord {
  offset: number;
  key: string;
  value: unknown;
}

interface EachBatch {
  eachBatch: (payload: { batch: { topic: string; partition: number; messages: unknown[]; lastOffset: () => string } }) => Promise<void>;
}

/** What the fake consumers were asked. `liveRecords`: partition 0 of the live-state topic, fed to the restore's consumer. */
function fakeKafka(options: { liveRecords?: LiveRecord[]; tailRun?: () => Promise<void> } = {}) {
  const calls = { tailRuns: 0, tailDisconnects: 0, liveConsumers: 0, liveDisconnects: 0 };
  const consumer = ({ groupId }: { groupId: string }) => {
    const live = groupId.includes('correlation-live-restore');
    if (live) calls.liveConsumers++;
    return {
      events: { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash' },
      connect: async () => undefined,
      subscribe: async () => undefined,
      on: () => () => undefined,
      pause: () => undefined,
      resume: () => undefined,
      seek: () => undefined,
      paused: () => [],
      disconnect: async () => {
        if (live) calls.liveDisconnects++;
        else calls.tailDisconnects++;
      },
      run: async (config: EachBatch) => {
        if (!live) {
          calls.tailRuns++;
          return options.tailRun?.();
        }
        const records = options.liveRecords ?? [];
        // As kafkajs: run() resolves once the member runs; the batches come after.
        setImmediate(() => {
          void config.eachBatch({
            batch: {
              topic: LIVE_TOPIC,
              partition: 0,
              messages: records.map((r) => ({
                offset: String(r.offset),
                key: Buffer.from(r.key),
                value: r.value === null ? null : Buffer.from(JSON.stringify(r.value)),
                timestamp: '0',
                headers: {},
              })),
              lastOffset: () => String(records.at(-1)?.offset ?? -1),
            },
          });
        });
      },
    };
  };
  return { kafka: { consumer } as unknown as Kafka, calls };
}

type Offsets = Array<{ partition: number; offset: string; high: string; low: string }>;

const offsetsOf = (...ends: number[]): Offsets => ends.map((end, partition) => ({ partition, offset: String(end), high: String(end), low: '0' }));

test('an empty store whose correlation-topic offsets cannot be read is restored from the live-state topic', async (t: TestContext) => {
  // The offsets of the correlation topic fail for the whole CHECKPOINT_CHECK_MS: the failing call
  // moves the (mocked) clock past it, so the first failure is the last try — no 30 s wait.
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  const watermark = Date.now() - 60_000;
  const state: LiveRequestState = { v: 1, request: requestRecord('req-1', ['m1'], { home: 1 }), finals: {}, summarised: false, cut: watermark };
  const { kafka, calls } = fakeKafka({
    liveRecords: [
      { offset: 0, key: 'h:replica-a', value: { v: 1, watermark } },
      { offset: 1, key: 'q:req-1', value: state },
    ],
  });
  const asked = { correlation: 0, live: 0, byTimestamp: [] as Array<[string, number | undefined]> };
  const admin = {
    fetchTopicOffsets: async (topic: string) => {
      if (topic === LIVE_TOPIC) {
        asked.live++;
        return offsetsOf(2);
      }
      asked.correlation++;
      t.mock.timers.tick(CHECKPOINT_CHECK_MS + 1);
      throw metadataLag();
    },
    fetchTopicOffsetsByTimestamp: async (topic: string, at?: number) => {
      asked.byTimestamp.push([topic, at]);
      return [
        { partition: 0, offset: '5' },
        { partition: 1, offset: '3' },
      ];
    },
  } as unknown as Admin;
  const index = tempIndex();
  const tail = new CorrelationTail(kafka, admin, index, { topic: TOPIC, liveTopic: LIVE_TOPIC, groupPrefix: 'test' }, silent);
  t.after(() => tail.stop());

  await tail.start();

  assert.ok(asked.correlation >= 1, 'the correlation topic’s offsets were asked for');
  assert.deepEqual(
    {
      liveOffsetsAsked: asked.live > 0,
      liveConsumers: calls.liveConsumers,
      liveDisconnects: calls.liveDisconnects,
      liveRecords: tail.liveRecords,
      restoredFrom: tail.restoredFrom,
    },
    { liveOffsetsAsked: true, liveConsumers: 1, liveDisconnects: 1, liveRecords: 2, restoredFrom: 'live-state' },
    'restored from the live-state topic (its offsets asked for, a consumer read its two records)',
  );
  assert.equal(index.segmentOf('m1')?.request.id, 'req-1', 'the waiting request was restored from its live state');
  // The correlation topic is read from the watermark: offsets by time, checkpointed at once.
  assert.deepEqual(asked.byTimestamp, [[TOPIC, watermark]]);
  assert.deepEqual(
    [...tail.gainedFrom].sort(([a], [b]) => a - b),
    [
      [0, 'live-state'],
      [1, 'live-state'],
    ],
  );
  assert.deepEqual(
    [...index.checkpoints(TOPIC)].sort(([a], [b]) => a - b),
    [
      [0, '5'],
      [1, '3'],
    ],
  );
  assert.equal(calls.tailRuns, 1);
});

/** An admin whose first offsets call for the correlation topic waits for `first`; later ones (lag probes) are counted. */
function pendingAdmin(first: Promise<Offsets> | null) {
  let calls = 0;
  const admin = {
    fetchTopicOffsets: async (topic: string) => {
      assert.equal(topic, TOPIC);
      calls++;
      if (calls === 1 && first) return first;
      return offsetsOf(4, 4);
    },
    fetchTopicOffsetsByTimestamp: async () => {
      throw new Error('not expected: no live-state topic');
    },
  } as unknown as Admin;
  return { admin, calls: () => calls };
}

test('a stop while the start awaits the correlation topic’s offsets runs no consumer and leaks no lag probe', async (t: TestContext) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const offsets = deferred<Offsets>();
  const { admin, calls: offsetCalls } = pendingAdmin(offsets.promise);
  const { kafka, calls } = fakeKafka();
  const tail = new CorrelationTail(kafka, admin, tempIndex(), { topic: TOPIC, groupPrefix: 'test' }, silent);

  const starting = tail.start();
  await until('the start asks for the offsets', () => offsetCalls() === 1);
  const stopping = tail.stop();
  offsets.resolve(offsetsOf(4, 4));
  await Promise.all([starting, stopping]);

  // Three probe periods after both settled: no probe asks for the offsets again.
  t.mock.timers.tick(3 * LAG_PROBE_MS + 1_000);
  await turn();
  assert.deepEqual(
    { runs: calls.tailRuns, offsetCalls: offsetCalls(), disconnects: calls.tailDisconnects },
    { runs: 0, offsetCalls: 1, disconnects: 1 },
    'after stop: no consumer.run(), no lag probe, the consumer disconnected',
  );
});

test('a stop while the start joins (inside consumer.run) leaks no lag probe', async (t: TestContext) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const joined = deferred<void>();
  const { admin, calls: offsetCalls } = pendingAdmin(null);
  const { kafka, calls } = fakeKafka({ tailRun: () => joined.promise });
  const tail = new CorrelationTail(kafka, admin, tempIndex(), { topic: TOPIC, groupPrefix: 'test' }, silent);

  const starting = tail.start();
  await until('the start runs the consumer', () => calls.tailRuns === 1);
  const stopping = tail.stop();
  joined.resolve();
  await Promise.all([starting, stopping]);

  assert.equal(calls.tailDisconnects, 1);
  const before = offsetCalls();
  t.mock.timers.tick(3 * LAG_PROBE_MS + 1_000);
  await turn();
  assert.equal(offsetCalls(), before, 'a lag probe asked the admin after stop');
});

test('a partition gained after the start while the topic’s end offsets cannot be read (or lack it) is not ready until a retry reads them', async (t: TestContext) => {
  // A failing call moves the (mocked) clock past CHECKPOINT_CHECK_MS: its first failure is its last try.
  t.mock.timers.enable({ apis: ['Date', 'setTimeout'], now: Date.now() });
  let answer: 'offsets' | 'failure' | 'none listed' = 'offsets';
  const admin = {
    fetchTopicOffsets: async (topic: string) => {
      assert.equal(topic, TOPIC);
      if (answer === 'offsets') return offsetsOf(0, 0, 0);
      if (answer === 'none listed') return [];
      t.mock.timers.tick(CHECKPOINT_CHECK_MS + 1);
      throw metadataLag();
    },
    fetchTopicOffsetsByTimestamp: async () => {
      throw new Error('not expected: no live-state topic');
    },
  } as unknown as Admin;
  const { kafka } = fakeKafka();
  const tail = new CorrelationTail(kafka, admin, tempIndex(), { topic: TOPIC, groupPrefix: 'test', keepReleasedMs: 60_000 }, silent);
  t.after(() => tail.stop());
  await tail.hold([0]);
  await tail.start();
  assert.equal(tail.partitionState(0), 'ready', 'an empty partition held at the start is read up to date');

  for (const [partition, unreadable] of [
    [1, 'failure'],
    [2, 'none listed'],
  ] as const) {
    answer = unreadable;
    await tail.hold(Array.from({ length: partition + 1 }, (_, p) => p));
    assert.notEqual(tail.partitionState(partition), 'ready', `its end unknown (${unreadable}), partition ${partition} is not called read up to date`);
    answer = 'offsets';
    t.mock.timers.tick(GAIN_RETRY_MS + 1);
    await until(`the retried gain reads partition ${partition} up to date`, () => tail.partitionState(partition) === 'ready');
  }
});

/** An admin whose end offsets fail (moving the mocked clock past CHECKPOINT_CHECK_MS: a first failure is a last try) until `readable`. */
function outageAdmin(t: TestContext, ends: number[]): { admin: Admin; recover: () => void } {
  let readable = false;
  const admin = {
    fetchTopicOffsets: async (topic: string) => {
      assert.equal(topic, TOPIC);
      if (readable) return offsetsOf(...ends);
      t.mock.timers.tick(CHECKPOINT_CHECK_MS + 1);
      throw metadataLag();
    },
    fetchTopicOffsetsByTimestamp: async () => {
      throw new Error('not expected: no live-state topic');
    },
  } as unknown as Admin;
  return { admin, recover: () => (readable = true) };
}

test('partitions held at the start, or later, while the topic’s end offsets cannot be read are not ready until a retry reads them', async (t: TestContext) => {
  t.mock.timers.enable({ apis: ['Date', 'setTimeout'], now: Date.now() });
  const { admin, recover } = outageAdmin(t, [0, 0]);
  const { kafka, calls } = fakeKafka();
  const tail = new CorrelationTail(kafka, admin, tempIndex(), { topic: TOPIC, groupPrefix: 'test', keepReleasedMs: 60_000 }, silent);
  t.after(() => tail.stop());
  await tail.hold([0]);
  await tail.start();
  assert.equal(calls.tailRuns, 1, 'the tail runs meanwhile');
  assert.equal(tail.restoredFrom, 'not yet');
  // The bulk assignment arriving during the same outage: the topic's partitions still unknown.
  await tail.hold([0, 1]);
  for (const p of [0, 1]) assert.notEqual(tail.partitionState(p), 'ready', `partition ${p}, its end unknown, is not called read up to date`);

  recover();
  t.mock.timers.tick(GAIN_RETRY_MS + 1);
  await until('the retried gains read both partitions up to date', () => tail.partitionState(0) === 'ready' && tail.partitionState(1) === 'ready');
  assert.equal(tail.restoredFrom, 'beginning', 'said once the deferred gain is done');
});

test('a partition held at the start that the topic turns out not to have does not hold back the others’ deferred gain', async (t: TestContext) => {
  t.mock.timers.enable({ apis: ['Date', 'setTimeout'], now: Date.now() });
  const { admin, recover } = outageAdmin(t, [0, 0]);
  const { kafka } = fakeKafka();
  const tail = new CorrelationTail(kafka, admin, tempIndex(), { topic: TOPIC, groupPrefix: 'test', keepReleasedMs: 60_000 }, silent);
  t.after(() => tail.stop());
  await tail.hold([0, 1, 5]);
  await tail.start();
  recover();
  t.mock.timers.tick(GAIN_RETRY_MS + 1);
  await until('partitions 0 and 1 read up to date', () => tail.partitionState(0) === 'ready' && tail.partitionState(1) === 'ready');
  assert.notEqual(tail.partitionState(5), 'ready');
});

test('once the deferred gain succeeds, what the store holds of partitions an earlier run followed and this one does not hold is dropped, as the start would have', async (t: TestContext) => {
  t.mock.timers.enable({ apis: ['Date', 'setTimeout'], now: Date.now() });
  const { admin, recover } = outageAdmin(t, [0, 0, 5]);
  const index = tempIndex();
  // Its message ids hash to partition 2 too: nothing of the request stays for a held partition.
  index.setScope({ holds: () => true, actsFor: () => true, partitionOfKey: () => 2 });
  // An earlier run followed partition 2: a request homed there, and its checkpoint.
  index.apply('r:earlier', requestRecord('earlier', ['m1', 'm2'], { home: 2, receiptDeadline: Date.now() + 3_600_000 }));
  index.checkpoint(TOPIC, 2, '5');
  await index.written();
  const { kafka } = fakeKafka();
  const keepReleasedMs = 60_000;
  const tail = new CorrelationTail(kafka, admin, index, { topic: TOPIC, groupPrefix: 'test', keepReleasedMs }, silent);
  t.after(() => tail.stop());
  await tail.hold([0]);
  await tail.start();
  recover();
  t.mock.timers.tick(GAIN_RETRY_MS + 1);
  await until('partition 0 read up to date', () => tail.partitionState(0) === 'ready');
  assert.ok(index.size > 0, 'kept while another replica may still be taking it over');
  t.mock.timers.tick(keepReleasedMs + 1);
  await until('partition 2’s checkpoint dropped', () => index.checkpoints(TOPIC).get(2) === undefined);
  await until('its entries dropped', () => index.request('earlier') === undefined && index.segmentOf('m1') === undefined);
  await index.written();
  assert.equal(index.size, 0);
});
