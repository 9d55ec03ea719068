/**
 * Homes (issue 20): every correlation entry of a request — its snapshot, its finals, its summary
 * marker, the sweeper's UNKNOWN finals — names the request's home partition, so one correlation
 * partition holds all of it; a request written before homes names none (its keys hash, as before).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { finalKey, messageEntryOf, messageKey, requestKey, summaryKey, toHome, type RequestRecord } from '../../src/pipeline/correlation-index.js';
import type { CorrelationWrite } from '../../src/pipeline/outbound-processor.js';
import { OverdueSweeper } from '../../src/pipeline/overdue-sweeper.js';
import { ReceiptProcessor } from '../../src/pipeline/receipt-processor.js';
import { summaryMarker } from '../../src/pipeline/summary.js';
import { receiptDeliverSm as receipt } from '../helpers/deliver-sm.js';
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

test('index: an m: entry read before its snapshot maps nothing alone, and leaves at the prune — with its final — when its request never comes', async () => {
  let now = 0;
  const index = tempIndex(() => now);
  const early = requestRecord('r-early', ['m-early']);
  index.apply(messageKey('m-early'), messageEntryOf(early, 1));
  index.apply(messageKey('m-lost'), messageEntryOf(requestRecord('r-lost', ['m-lost']), 1));
  index.apply(finalKey('m-lost'), { v: 1, status: 'DELIVERED', errorCategory: null });
  assert.equal(index.segmentOf('m-early'), undefined, 'no request to correlate with yet');
  index.apply(requestKey('r-early'), early);
  assert.equal(index.segmentOf('m-early')?.request.id, 'r-early');
  // Read again after its snapshot (a replay republishes it): changes nothing.
  index.apply(messageKey('m-early'), messageEntryOf(early, 1));
  await index.written();
  now = 10_000;
  index.pruneCompleted(5_000);
  await index.written();
  assert.equal(index.segmentOf('m-early')?.request.id, 'r-early', 'its request came: it stays');
  assert.equal(index.final('m-lost'), undefined, 'the lone final went with it');
  index.apply(requestKey('r-lost'), requestRecord('r-lost', ['m-lost']));
  index.apply(requestKey('r-lost'), null);
  assert.equal(index.segmentOf('m-lost'), undefined);
});

test('index: a receipt waiting for its message id is answered once the snapshot follows the m: entry', async () => {
  const index = tempIndex();
  const waiting = index.waitForMessageId('m9', 5_000);
  const rec = requestRecord('r9', ['m9']);
  index.apply(messageKey('m9'), messageEntryOf(rec, 1));
  setTimeout(() => index.apply(requestKey('r9'), rec), 20);
  assert.equal((await waiting)?.request.id, 'r9');
});
