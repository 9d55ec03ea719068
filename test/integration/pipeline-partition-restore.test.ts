// Invariant (issue 20, step 6b): a correlation tail told to hold some partitions fetches and applies
// those only; a partition gained later is brought up to date (restored fresh from the live-state
// topic, or resumed from its checkpoint) while the others keep flowing, and its entries become
// readable; a released partition gets no more batches; a crash restart of the tail's kafkajs
// consumer (a new ConsumerGroup, without the old one's pauses) keeps the partitions not held paused.
//
// A connector on 4-partition topics writes the correlation and live-state topics (receipts held, so
// every request stays waiting: each is one segment, and lives on as its `m:` entry, in the partition
// its message id hashes to, murmur2(id) mod 4); a tail of the test's own, on its own store, reads them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { registerCompressionCodecs } from '../../src/kafka/compression.js';
import { CorrelationTail } from '../../src/kafka/correlation-tail.js';
import { partitionForKey } from '../../src/kafka/partitioner.js';
import { collectDelivery, outbound, produce, startPipeline, testLogger, waitUntil } from '../helpers/pipeline.js';
import { tempIndex } from '../helpers/temp-store.js';

const PARTITIONS = 4;
/** Request id → the SMSC message id of its one segment, whose partition holds the request's `m:` entry. */
const messageIdOf = new Map<string, string>();
const partitionOf = (id: string): number => partitionForKey(messageIdOf.get(id)!, PARTITIONS);

test('a tail holding 1 of 4 partitions reads that one only; gains a partition fresh and from its checkpoint, releases one, and keeps its pauses across a consumer crash', async (t) => {
  // A short restore window: requests are promoted to the live-state topic 6 s after they were
  // written, and the watermark (9 s back) passes them soon after.
  const env = { TOPIC_PARTITIONS: String(PARTITIONS), CORRELATION_RESTORE_WINDOW_MS: '12000', CORRELATION_KEEP_DONE_MS: '2000' };
  const fx = await startPipeline('partition-restore', { behaviour: { holdReceipts: true }, env });
  const delivery = await collectDelivery(fx);
  registerCompressionCodecs();
  // Few, short retries: a batch that fails twice crashes the consumer and kafkajs restarts it at once.
  const kafka = new Kafka({
    clientId: `test-${randomUUID()}`,
    brokers: fx.stack.kafkaBrokers.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 300 },
  });
  const admin = kafka.admin();
  await admin.connect();
  const index = tempIndex();
  let crashArmed = false;
  let restoringJ: number | null = null;
  let batchesOfKWhileJRestored = 0;
  const tail = new CorrelationTail(
    kafka,
    admin,
    index,
    {
      topic: fx.topics.correlation,
      liveTopic: fx.topics.correlationLive,
      groupPrefix: `test-${randomUUID()}`,
      onBatch: (partition) => {
        if (restoringJ !== null && partition !== restoringJ && tail.partitionState(restoringJ) === 'restoring') batchesOfKWhileJRestored++;
        if (crashArmed) throw new Error('test: this batch fails until kafkajs restarts the consumer');
      },
    },
    testLogger,
  );
  let wave = 0;
  const ids: string[][] = [];
  const submitted = new Set<string>();
  const sendWave = async (count: number): Promise<string[]> => {
    const n = wave++;
    const batch = Array.from({ length: count }, (_, i) => ({ key: `w${n}-${i}`, value: outbound(`wave${n}-${i}`) }));
    ids[n] = batch.map((r) => r.value.id);
    await produce(fx.stack, fx.topics.outbound, fx.codec, batch);
    return ids[n];
  };
  const waitSubmitted = async (wanted: string[]) => {
    await waitUntil(
      () => {
        for (const r of delivery.records) {
          if (r.value.status !== 'SUBMITTED') continue;
          submitted.add(r.value.id);
          messageIdOf.set(r.value.id, r.value.messageId!);
        }
        return wanted.every((id) => submitted.has(id));
      },
      60_000,
      'every request submitted',
    );
  };
  /** Which of `wanted` the tail's index holds, by the partition of their `m:` entry. */
  const held = (wanted: string[]) => {
    const by = new Map<number, { known: number; of: number }>();
    for (const id of wanted) {
      const p = partitionOf(id);
      const e = by.get(p) ?? { known: 0, of: 0 };
      e.of++;
      if (index.segmentOf(messageIdOf.get(id)!)?.request.id === id) e.known++;
      by.set(p, e);
    }
    return by;
  };
  const assertHolds = (wanted: string[], partitions: number[], label: string) => {
    for (const [p, { known, of }] of held(wanted)) {
      assert.equal(known, partitions.includes(p) ? of : 0, `${label}: partition ${p} holds ${known} of its ${of} requests`);
    }
  };

  try {
    const first = await sendWave(200);
    await waitSubmitted(first);
    // Every partition got entries: otherwise the test below would prove little.
    assert.equal(new Set(first.map(partitionOf)).size, PARTITIONS);
    await new Promise((r) => setTimeout(r, 12_000)); // promoted, and the watermark past them

    // Hold 1 of 4 from the start: an empty store, restored from the live-state topic for it only.
    const k = partitionOf(first[0]!);
    const j = (k + 1) % PARTITIONS;
    void tail.hold([k]);
    await tail.start();
    assert.ok(await tail.waitCaughtUp(30_000, [k]), 'partition k caught up');
    assert.equal(tail.gainedFrom.get(k), 'live-state');
    assert.ok(tail.liveRecords > 0, 'the live-state topic was read');
    assert.equal(tail.partitionState(k), 'ready');
    assertHolds(first, [k], 'held from the start');
    assert.deepEqual(
      tail.pausedPartitions(),
      [0, 1, 2, 3].filter((p) => p !== k),
    );
    // The tail counts only the batches it applies, which are always of held partitions; kafkajs
    // leaves paused partitions out of its fetches and drops their batches itself, so one that
    // reached eachBatch (ignored there) is what a missing pause looks like.
    assert.equal(tail.ignoredBatches, 0, 'no batch of a partition not held was even fetched');
    t.diagnostic(`k=${k}: ${tail.batches.get(k) ?? 0} batches, ${tail.liveRecords} live-state records, ${tail.appliedEntries} entries applied`);

    // Gain j while requests keep coming: j restored fresh (no checkpoint: the live state, then j
    // from the watermark), k read meanwhile.
    restoringJ = j;
    let flowing = true;
    const second: string[] = [];
    const flow = (async () => {
      while (flowing) {
        second.push(...(await sendWave(20)));
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    await tail.hold([k, j]);
    flowing = false;
    await flow;
    await waitSubmitted(second);
    assert.ok(await tail.waitCaughtUp(30_000, [k, j]), 'k and j caught up');
    assert.equal(tail.gainedFrom.get(j), 'live-state');
    assert.equal(tail.partitionState(j), 'ready');
    assertHolds(first, [k, j], 'after gaining j: the first wave');
    assertHolds(second, [k, j], 'after gaining j: the second wave');
    assert.equal(tail.ignoredBatches, 0, 'nothing of the partitions not held was fetched');
    t.diagnostic(`batches of k while j was restored: ${batchesOfKWhileJRestored}`);
    // Not asserted: whether a batch of k lands while j restores depends on how long the restore
    // takes against the flow's pace — a CI rehearsal and a run here saw 0 (a quick restore); the
    // helper's runs 3–9. What k does meanwhile is covered by its requests being all held above.
    restoringJ = null;

    // Release j: its batches stop; what it held stays in the store.
    await tail.hold([k]);
    assert.equal(tail.partitionState(j), 'released');
    const third = await sendWave(60);
    await waitSubmitted(third);
    assert.ok(await tail.waitCaughtUp(30_000, [k]), 'k caught up');
    assert.equal(await tail.waitCaughtUp(1_000, [j]), false, 'a released partition is not waited for');
    assertHolds(third, [k], 'j released');
    assertHolds(first, [k, j], 'j released: its entries stay in the store');
    assert.equal(tail.ignoredBatches, 0, 'nothing of j fetched after its release');

    // Gain j again: its checkpoint is valid, so it reads only what came since.
    await tail.hold([k, j]);
    assert.ok(await tail.waitCaughtUp(30_000, [k, j]), 'k and j caught up again');
    assert.equal(tail.gainedFrom.get(j), 'checkpoints');
    assertHolds(third, [k, j], 'j gained from its checkpoint');

    // A crash of the tail's consumer: kafkajs retries the failing batch once, then restarts the
    // consumer with a new ConsumerGroup, which knows nothing of our pauses until its join.
    const ignoredBefore = tail.ignoredBatches;
    crashArmed = true;
    const fourth = await sendWave(20);
    await waitUntil(() => tail.consumerCrashes > 0, 30_000, 'the tail consumer crashed');
    crashArmed = false;
    await waitSubmitted(fourth);
    const fifth = await sendWave(40);
    await waitSubmitted(fifth);
    assert.ok(await tail.waitCaughtUp(30_000, [k, j]), 'k and j caught up after the restart');
    assertHolds(fourth, [k, j], 'after the crash restart: the failed batches applied');
    assertHolds(fifth, [k, j], 'after the crash restart');
    assert.deepEqual(
      tail.pausedPartitions(),
      [0, 1, 2, 3].filter((p) => p !== k && p !== j),
      'the new ConsumerGroup has the pauses',
    );
    assert.equal(tail.ignoredBatches, ignoredBefore, 'nothing of the partitions not held was fetched after the restart');
    t.diagnostic(`crashes ${tail.consumerCrashes}; batches ${JSON.stringify(Object.fromEntries(tail.batches))}; ignored ${tail.ignoredBatches}`);
  } finally {
    await tail.stop();
    await admin.disconnect();
    await delivery.stop();
    await fx.stop();
  }
});
