/**
 * Homes (issue 20): every correlation entry of a request — its snapshot, its finals, its summary
 * marker, the sweeper's UNKNOWN finals — names the request's home partition, so one correlation
 * partition holds all of it; a request written before homes names none (its keys hash, as before).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { AccountGate } from '../../src/pipeline/account-gate.js';
import { finalKey, hasFacts, messageEntryOf, messageKey, requestKey, summaryKey, toHome, type RequestRecord } from '../../src/pipeline/correlation-index.js';
import { OutboundProcessor, type CorrelationWrite, type InboundRecord } from '../../src/pipeline/outbound-processor.js';
import { OverdueSweeper } from '../../src/pipeline/overdue-sweeper.js';
import { ReceiptProcessor } from '../../src/pipeline/receipt-processor.js';
import type { RouteHandle } from '../../src/pipeline/routed-submit.js';
import { summaryMarker } from '../../src/pipeline/summary.js';
import { receiptDeliverSm as receipt } from '../helpers/deliver-sm.js';
import { outbound } from '../helpers/outbound.js';
import { requestRecord, tempIndex } from '../helpers/temp-store.js';

const silent = pino({ level: 'silent' });

/** What a receipt for each segment writes to the correlation topic, for a request with these fields. */
async function receiptWrites(overrides: Partial<RequestRecord>): Promise<CorrelationWrite[]> {
  const index = tempIndex(() => 2000);
  const writes: CorrelationWrite[] = [];
  const processor = new ReceiptProcessor({
    index,
    sink: { publish: async (_events, correlation = []) => void writes.push(...correlation), deadLetterReceipt: async () => undefined, publishInbound: null },
    ackWaitMs: 1000,
    matchWaitMs: 0,
    now: () => 2000,
    logger: silent,
  });
  index.apply(requestKey('req-1'), requestRecord('req-1', ['m1', 'm2'], { receiptDeadline: 10_000_000, ...overrides }));
  assert.equal(await processor.handle(receipt('m1')), 0);
  assert.equal(await processor.handle(receipt('m2')), 0);
  return writes;
}

test('a receipt writes its final, and the completing one the summary marker, to the request’s home', async () => {
  const writes = await receiptWrites({ home: 5 });
  assert.deepEqual(
    writes.map((w) => [w.key, w.partition]),
    [
      [finalKey('m1'), 5],
      [finalKey('m2'), 5],
      [summaryKey('req-1'), 5],
    ],
  );
});

test('a request written before homes: its entries name no partition (they go where their keys hash)', async () => {
  const writes = await receiptWrites({});
  assert.deepEqual(
    writes.map((w) => [w.key, w.partition]),
    [
      [finalKey('m1'), undefined],
      [finalKey('m2'), undefined],
      [summaryKey('req-1'), undefined],
    ],
  );
  assert.deepEqual(toHome(requestRecord('x', ['m'])), {});
  assert.deepEqual(summaryMarker(requestRecord('x', ['m1', 'm2'], { home: 0 })), [{ key: summaryKey('x'), value: { v: 1 }, partition: 0 }]);
});

test('the sweeper’s UNKNOWN finals and marker go to the request’s home', async () => {
  const index = tempIndex();
  index.apply(requestKey('r1'), requestRecord('r1', ['m1', 'm2', 'm3'], { receiptDeadline: 1000, home: 2 }));
  index.apply(finalKey('m1'), { v: 1, status: 'DELIVERED', errorCategory: null });
  await index.written();
  const writes: CorrelationWrite[] = [];
  const sweeper = new OverdueSweeper({
    index,
    sink: { publish: async (_events, correlation = []) => void writes.push(...correlation) },
    graceMs: 1000,
    summaryGraceMs: 30_000,
    intervalMs: 1000,
    keepCompletedMs: 60000,
    now: () => 2500,
    logger: silent,
  });
  assert.equal(await sweeper.sweepOnce(), 1);
  assert.deepEqual(
    writes.map((w) => [w.key, w.partition]),
    [
      [finalKey('m2'), 2],
      [finalKey('m3'), 2],
      [summaryKey('r1'), 2],
    ],
  );
});

test('an m: entry carries what a receipt needs of its request: its facts, segment, route and home', () => {
  const rec = requestRecord('r1', ['m1', 'm2'], { route: 'backup', home: 3, attempts: 2, metadata: { campaign: 'x' } });
  assert.deepEqual(messageEntryOf(rec, 2), {
    v: 1,
    requestId: 'r1',
    segment: 2,
    segments: 2,
    from: rec.from,
    to: rec.to,
    metadata: { campaign: 'x' },
    attempts: 2,
    submittedAt: rec.submittedAt,
    receipts: true,
    receiptDeadline: rec.receiptDeadline,
    route: 'backup',
    home: 3,
  });
  assert.equal('home' in messageEntryOf(requestRecord('r0', ['m']), 1), false, 'a request written before homes names none');
});

test('index: a multipart request’s m: entry read before its snapshot maps nothing alone, and leaves at the prune after its deadline — with its final — unless a snapshot maps its id', async () => {
  let now = 0;
  const index = tempIndex(() => now);
  const early = requestRecord('r-early', ['m-early', 'm-early-2']);
  index.apply(messageKey('m-early'), messageEntryOf(early, 1));
  const lost = requestRecord('r-lost', ['m-lost', 'm-lost-2']);
  index.apply(messageKey('m-lost'), messageEntryOf(lost, 1));
  index.apply(finalKey('m-lost'), { v: 1, status: 'DELIVERED', errorCategory: null });
  // Its request came, but had sent the segment again under another id first.
  const moved = requestRecord('r-moved', ['m-new', 'm-moved-2']);
  index.apply(requestKey('r-moved'), moved);
  index.apply(messageKey('m-old'), messageEntryOf({ ...moved, messageIds: ['m-old', 'm-moved-2'] }, 1));
  assert.equal(index.segmentOf('m-early'), undefined, 'no request to correlate with yet');
  index.apply(requestKey('r-early'), early);
  assert.equal(index.segmentOf('m-early')?.request.id, 'r-early');
  // Read again after its snapshot (a replay republishes it): changes nothing.
  index.apply(messageKey('m-early'), messageEntryOf(early, 1));
  await index.written();
  const sizeBefore = index.size;
  // Before the deadline (10,000) an entry stays: with partitioned ownership it is how its
  // partition's owner finds the home of a request whose snapshot it never holds.
  now = 10_000;
  index.pruneCompleted(5_000);
  await index.written();
  assert.equal(index.size, sizeBefore, 'nothing left before the deadline');
  assert.equal(index.pendingRequestOf('m-lost')?.id, 'r-lost', 'the entry still names its request');
  now = 20_000;
  index.pruneCompleted(15_000);
  await index.written();
  assert.equal(index.segmentOf('m-early')?.request.id, 'r-early', 'its request came: it stays');
  assert.equal(index.final('m-lost'), undefined, 'the lone final went with it');
  assert.equal(index.size, sizeBefore - 2, 'm-lost and m-old left');
  index.apply(requestKey('r-lost'), lost);
  index.apply(requestKey('r-lost'), null);
  assert.equal(index.segmentOf('m-lost'), undefined);
});

test('index: a one-segment request lives on as its m: entry — it correlates, completes and leaves by it; its snapshot leaves KEEP_DONE after it was written', async () => {
  let now = 1_000;
  const index = tempIndex(() => now);
  const rec = requestRecord('one', ['m1'], { receiptDeadline: 500_000, home: 2 });
  index.apply(messageKey('m1'), messageEntryOf(rec, 1, 7), 1_000);
  index.apply(requestKey('one'), rec, 1_000);
  await index.written();
  now = 20_000;
  assert.equal(index.pruneCompleted(10_000), 0, 'no request forgotten yet');
  await index.written();
  assert.equal(index.request('one'), undefined, 'the snapshot served replay dedupe only');
  const ref = index.segmentOf('m1');
  assert.equal(ref?.request.id, 'one', 'the receipt still correlates, by the m: entry');
  assert.equal(ref?.request.home, 7, 'its finals go where the entry lives');
  assert.deepEqual(index.current(rec)?.messageIds, ['m1']);
  assert.deepEqual(
    [...index.overdueSlices(600_000)].flat().map((r) => r.id),
    ['one'],
    'due for its UNKNOWN by the entry',
  );
  assert.deepEqual(index.applyFinalOf(ref, { v: 1, status: 'DELIVERED', errorCategory: null, at: 21_000 }, 21_000), [
    { v: 1, status: 'DELIVERED', errorCategory: null, at: 21_000 },
  ]);
  await index.written();
  assert.deepEqual([...index.overdueSlices(600_000)].flat(), [], 'complete: not due');
  now = 40_000;
  assert.equal(index.pruneCompleted(30_000), 1);
  await index.written();
  assert.equal(index.segmentOf('m1'), undefined, 'left KEEP_DONE after its final');
  assert.equal(index.size, 0);
});

test('index: an m: tombstone drops the subject of a segment sent again under another id, even one read after its snapshot', async () => {
  const index = tempIndex();
  const first = requestRecord('moved', ['A:x'], { route: 'A', messageEntries: true });
  const again = requestRecord('moved', ['B:y'], { route: 'B', messageEntries: true });
  // A lagging partition: the new id's entries first, then the old id's entry and its tombstone.
  index.apply(messageKey('B:y'), messageEntryOf(again, 1));
  index.apply(requestKey('moved'), again);
  index.apply(messageKey('A:x'), messageEntryOf(first, 1));
  assert.equal(index.segmentOf('A:x')?.request.id, 'moved', 'the old entry alone is a subject');
  index.apply(messageKey('A:x'), null);
  await index.written();
  assert.equal(index.segmentOf('A:x'), undefined);
  assert.deepEqual(
    [...index.overdueSlices(10 ** 12)].flat().map((r) => r.messageIds[0]),
    ['B:y'],
    'only the new id waits for a receipt',
  );
});

test('index: a receipt waiting for its message id is answered by the m: entry of a one-segment request', async () => {
  const index = tempIndex();
  const waiting = index.waitForMessageId('m9', 5_000);
  setTimeout(() => index.apply(messageKey('m9'), messageEntryOf(requestRecord('r9', ['m9']), 1)), 20);
  assert.equal((await waiting)?.request.id, 'r9');
});

test('a replayed record republishes its snapshot, the m: entry of each known segment, and that segment’s final to the m: partition — so a reader of the republished m: alone does not wait again', async () => {
  const index = tempIndex();
  const submitted = requestRecord('replayed', ['m1'], { from: 'ACME', to: '393471234567', messageEntries: true, home: 4, route: 'default' });
  index.apply(messageKey('m1'), messageEntryOf(submitted, 1, 9));
  index.apply(requestKey('replayed'), submitted);
  index.apply(finalKey('m1'), { v: 1, status: 'DELIVERED', errorCategory: null, at: 1500 });
  const writes: CorrelationWrite[] = [];
  const request = outbound('replayed', { text: 'hello' });
  const processor = new OutboundProcessor({
    decoder: { decodeOutbound: async () => request, decodeOutboundKnown: () => request },
    sink: { publish: async (_events, correlation = []) => void writes.push(...correlation), deadLetter: async () => assert.fail('no DLQ') },
    index,
    routing: {
      directory: { knows: () => true, route: () => assert.fail('a known segment is not sent again') },
      rules: [{ name: 'default', routes: ['default'] }],
    },
    maxSegments: 10,
    receiptWaitMs: 1000,
    homeOf: () => 4,
    messagePartitionOf: () => 9,
    now: () => 2000,
    logger: silent,
  });
  const record: InboundRecord = { topic: 'sms.outbound', partition: 4, offset: '7', key: null, value: Buffer.alloc(0), timestamp: '0' };
  await (
    await processor.process(record, new AbortController().signal)
  ).acked;
  assert.deepEqual(
    writes.map((w) => [w.key, w.partition]),
    [
      [requestKey('replayed'), 4],
      [messageKey('m1'), 9],
      [finalKey('m1'), 9],
    ],
  );
});

test('a replay whose snapshot reached the topic but whose m: entry never did (a crash between the two) keeps the subject here: its own republished copy is skipped when read back', async () => {
  const index = tempIndex();
  const submitted = requestRecord('half', ['m7'], { from: 'ACME', to: '393471234567', messageEntries: true, home: 4, route: 'default' });
  index.apply(requestKey('half'), submitted);
  assert.equal(index.segmentOf('m7'), undefined, 'only the snapshot arrived: no subject yet');
  const request = outbound('half', { text: 'hello' });
  const processor = new OutboundProcessor({
    decoder: { decodeOutbound: async () => request, decodeOutboundKnown: () => request },
    sink: { publish: async () => undefined, deadLetter: async () => assert.fail('no DLQ') },
    index,
    routing: {
      directory: { knows: () => true, route: () => assert.fail('a known segment is not sent again') },
      rules: [{ name: 'default', routes: ['default'] }],
    },
    maxSegments: 10,
    receiptWaitMs: 1000,
    homeOf: () => 4,
    messagePartitionOf: () => 9,
    now: () => 2000,
    logger: silent,
  });
  const record: InboundRecord = { topic: 'sms.outbound', partition: 4, offset: '8', key: null, value: Buffer.alloc(0), timestamp: '0' };
  await (
    await processor.process(record, new AbortController().signal)
  ).acked;
  assert.equal(index.segmentOf('m7')?.request.id, 'half', 'its receipt finds the request');
});

test('a one-segment snapshot is stored without its facts, and a replay that finds it republishes the r: and m: records the submit wrote, facts and all', async () => {
  const index = tempIndex(() => 2000);
  const request = outbound('slim', { text: 'hello', metadata: { campaign: 'c1', tenant: 't1' } });
  const gate = new AccountGate(60_000);
  let sent = 0;
  const route: RouteHandle = {
    name: 'default',
    timeFormat: 'smpp34',
    healthy: () => true,
    wantsProbe: () => false,
    probeChosen: () => false,
    submit: {
      port: {
        submit: async () => {
          sent++;
          return { kind: 'response', command: 'submit_sm_resp', commandStatus: 0, messageId: 'SMSC-1', roundTripMs: 1, sessionId: 'default/trx-1' };
        },
      },
      gate,
      retryMaxAgeMs: 60_000,
      now: () => 2000,
    },
  };
  const writes: CorrelationWrite[] = [];
  const processor = new OutboundProcessor({
    decoder: { decodeOutbound: async () => request, decodeOutboundKnown: () => request },
    sink: { publish: async (_events, correlation = []) => void writes.push(...correlation), deadLetter: async () => assert.fail('no DLQ') },
    index,
    routing: { directory: { knows: () => true, route: () => route }, rules: [{ name: 'default', routes: ['default'] }] },
    maxSegments: 10,
    receiptWaitMs: 1000,
    homeOf: () => 4,
    messagePartitionOf: () => 9,
    now: () => 2000,
    logger: silent,
  });
  const record: InboundRecord = { topic: 'sms.outbound', partition: 4, offset: '7', key: null, value: Buffer.alloc(0), timestamp: '0' };
  const run = async (): Promise<CorrelationWrite[]> => {
    writes.length = 0;
    await (
      await processor.process(record, new AbortController().signal)
    ).acked;
    return writes.filter((w) => !w.key.startsWith('f:')).map((w) => ({ ...w }));
  };
  const submitted = await run();
  assert.equal(sent, 1);
  const stored = index.request('slim');
  assert.ok(stored && !hasFacts(stored), 'the store keeps the snapshot without from/to/metadata');
  const replayed = await run();
  gate.close();
  assert.equal(sent, 1, 'the replay found the snapshot: nothing sent again');
  assert.deepEqual(replayed, submitted);
  // The same records, field for field and in the same order: older replicas read facts from r:.
  assert.equal(JSON.stringify(replayed.map((w) => w.value)), JSON.stringify(submitted.map((w) => w.value)));
  const snapshot = submitted.find((w) => w.key === requestKey('slim'))!.value as RequestRecord;
  assert.deepEqual([snapshot.from, snapshot.to, snapshot.metadata], ['ACME', '393471234567', { campaign: 'c1', tenant: 't1' }]);
});

test('index: an accepted segment’s own subject over a final left by an earlier use of its id (an SMSC reusing ids) is settled at its deadline and leaves by the prune', async () => {
  let now = 1_000;
  const index = tempIndex(() => now);
  index.apply(finalKey('m1'), { v: 1, status: 'DELIVERED', errorCategory: null, at: 900 }, 900);
  const rec = requestRecord('again', ['m1'], { receiptDeadline: 5_000, messageEntries: true });
  index.applyNewSubject('m1', messageEntryOf(rec, 1, 3));
  index.applyOwnSnapshot(rec);
  await index.written();
  assert.equal(index.segmentOf('m1')?.request.id, 'again');
  now = 6_000;
  assert.deepEqual([...index.overdueSlices(6_000)].flat(), [], 'its final is in: not due');
  await index.written();
  now = 20_000;
  index.pruneCompleted(10_000);
  await index.written();
  assert.equal(index.segmentOf('m1'), undefined, 'settled at its deadline, pruned KEEP_DONE after');
  assert.equal(index.size, 0);
});

test('index: what the sweep and the promoter read of a one-segment request always has its facts — never the snapshot kept without them', async () => {
  let now = 1_000;
  const index = tempIndex(() => now);
  // Accepted with no message id first (listed for promotion by its snapshot), then sent again and
  // accepted as m1: its snapshot is now kept without its facts, its subject has them.
  const first = requestRecord('r', [null], { receiptDeadline: 900_000, messageEntries: true, metadata: { k: 'v' } });
  index.apply(requestKey('r'), first, 1_000);
  const again = requestRecord('r', ['m1'], { receiptDeadline: 900_000, messageEntries: true, metadata: { k: 'v' } });
  index.applyNewSubject('m1', messageEntryOf(again, 1, 3));
  index.applyOwnSnapshot(again);
  await index.written();
  assert.equal(hasFacts(index.request('r')!), false, 'the stored snapshot has no facts');
  now = 500_000;
  const states = [...index.promotable(400_000)].flat();
  assert.equal(states.length, 1, 'promoted once, by its subject');
  assert.deepEqual([states[0]!.request.from, states[0]!.request.to, states[0]!.request.metadata], ['ACME', '393471234567', { k: 'v' }]);
  // The subject dropped between the sweep's listing and its re-read (an m: tombstone): nothing to
  // summarise — not the snapshot without its facts.
  const listed = index.current(again)!;
  assert.equal(listed.to, '393471234567');
  index.apply(messageKey('m1'), null);
  assert.equal(index.current(listed), undefined);
});
