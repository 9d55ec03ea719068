/**
 * The SUMMARY nobody published: a two-segment request whose segments turned final on replicas A
 * and B, both of which stopped before either read the other's final. Each wrote only its own
 * final; a replica that later reads both from the correlation topic finds the request complete
 * and no `s:` marker, and publishes the summary once the marker's grace has passed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { finalKey, requestKey, summaryKey, type CorrelationValue } from '../../src/pipeline/correlation-index.js';
import type { CorrelationWrite } from '../../src/pipeline/outbound-processor.js';
import { OverdueSweeper } from '../../src/pipeline/overdue-sweeper.js';
import { ReceiptProcessor } from '../../src/pipeline/receipt-processor.js';
import { receiptDeliverSm as receipt } from '../helpers/deliver-sm.js';
import { requestRecord, tempIndex } from '../helpers/temp-store.js';

const GRACE = 30_000;
const silent = pino({ level: 'silent' });

/** One connector replica's pure core, with what it published and wrote to the correlation topic. */
class Replica {
  now = 2000;
  readonly index = tempIndex(() => this.now);
  readonly events: SmsDeliveryEvent[] = [];
  readonly writes: CorrelationWrite[] = [];
  private readonly sink = {
    publish: async (events: SmsDeliveryEvent[], correlation: CorrelationWrite[] = []) => {
      this.events.push(...events);
      this.writes.push(...correlation);
    },
    deadLetterReceipt: async () => undefined,
    publishInbound: null,
  };
  readonly receipts = new ReceiptProcessor({ index: this.index, sink: this.sink, ackWaitMs: 1000, matchWaitMs: 0, now: () => this.now, logger: silent });
  readonly sweeper = new OverdueSweeper({
    index: this.index,
    sink: this.sink,
    graceMs: 1000,
    summaryGraceMs: GRACE,
    intervalMs: 1000,
    keepCompletedMs: 600_000,
    now: () => this.now,
    logger: silent,
  });

  /** Reads entries another replica wrote, as the correlation tail does. */
  read(writes: readonly CorrelationWrite[]): void {
    for (const w of writes) {
      this.index.apply(w.key, w.value as CorrelationValue);
      this.receipts.onRemoteEntry(w.key);
    }
  }

  summaries(): SmsDeliveryEvent[] {
    return this.events.filter((e) => e.source === 'SUMMARY');
  }
}

const settle = () => new Promise((r) => setImmediate(r));

/** A and B each handle one segment's final and stop before reading the other's. */
async function finalsOnTwoReplicasThatStopped(): Promise<{ a: Replica; b: Replica; snapshot: CorrelationWrite }> {
  const snapshot = { key: requestKey('req-1'), value: requestRecord('req-1', ['m1', 'm2'], { receiptDeadline: 100_000_000 }) };
  const a = new Replica();
  const b = new Replica();
  a.read([snapshot]);
  b.read([snapshot]);
  assert.equal(await a.receipts.handle(receipt('m1')), 0);
  assert.equal(await b.receipts.handle(receipt('m2', 'UNDELIV')), 0);
  assert.equal(a.summaries().length + b.summaries().length, 0, 'neither saw the other segment final');
  return { a, b, snapshot };
}

test('summary marker: a request left complete without one is summarised after the grace, once', async () => {
  const { a, b, snapshot } = await finalsOnTwoReplicasThatStopped();
  const c = new Replica();
  c.read([snapshot, ...a.writes, ...b.writes]);
  await settle();
  await c.index.written(); // the sweep reads committed ranges: a busy machine may not have committed yet
  assert.equal(c.summaries().length, 0, 'C handled no final itself: it waits for the marker first');
  c.now += GRACE - 1;
  await c.sweeper.sweepOnce();
  assert.equal(c.summaries().length, 0, 'within the grace');
  c.now += 2;
  await c.sweeper.sweepOnce();
  const [summary, ...more] = c.summaries();
  assert.equal(more.length, 0);
  assert.equal(summary!.id, 'req-1');
  assert.equal(summary!.status, 'UNDELIVERED', 'outcomes of both segments: one delivered, one not');
  assert.match(summary!.errorDescription ?? '', /1 of 2 segments delivered/);
  assert.deepEqual(
    c.writes.map((w) => w.key),
    [summaryKey('req-1')],
    'the marker goes out with it',
  );
  c.now += GRACE * 2;
  await c.sweeper.sweepOnce();
  assert.equal(c.summaries().length, 1, 'not repeated');

  // A replica that reads C's marker in time does not publish it as well.
  const d = new Replica();
  d.read([snapshot, ...a.writes, ...b.writes, ...c.writes]);
  await d.index.written();
  d.now += GRACE * 2;
  await d.sweeper.sweepOnce();
  assert.equal(d.summaries().length, 0);
});

test('summary marker: the replica that publishes a multipart summary writes it; nobody publishes again', async () => {
  const snapshot = { key: requestKey('req-1'), value: requestRecord('req-1', ['m1', 'm2'], { receiptDeadline: 100_000_000 }) };
  const a = new Replica();
  const b = new Replica();
  a.read([snapshot]);
  b.read([snapshot]);
  await a.receipts.handle(receipt('m1'));
  await b.receipts.handle(receipt('m2'));
  a.read(b.writes); // A sees B's final through the tail and publishes the summary
  await settle();
  assert.deepEqual(
    a.summaries().map((e) => e.status),
    ['DELIVERED'],
  );
  assert.ok(
    a.writes.some((w) => w.key === summaryKey('req-1')),
    'A wrote the marker',
  );

  const c = new Replica();
  c.read([snapshot, ...a.writes, ...b.writes]);
  c.now += GRACE * 2;
  a.now += GRACE * 2;
  await c.sweeper.sweepOnce();
  await a.sweeper.sweepOnce();
  assert.equal(c.summaries().length, 0);
  assert.equal(a.summaries().length, 1);
});

test('summary marker: one replica with every final publishes the summary and its marker with the last receipt', async () => {
  const a = new Replica();
  a.read([{ key: requestKey('req-1'), value: requestRecord('req-1', ['m1', 'm2'], { receiptDeadline: 100_000_000 }) }]);
  await a.receipts.handle(receipt('m1'));
  await a.receipts.handle(receipt('m2'));
  assert.equal(a.summaries().length, 1);
  assert.deepEqual(
    a.writes.map((w) => w.key),
    [finalKey('m1'), finalKey('m2'), summaryKey('req-1')],
  );
  a.now += GRACE * 2;
  await a.sweeper.sweepOnce();
  assert.equal(a.summaries().length, 1);
});

test('summary marker: one-segment requests need none; finals written before markers existed are not watched', async () => {
  const a = new Replica();
  a.read([{ key: requestKey('one'), value: requestRecord('one', ['m9'], { receiptDeadline: 100_000_000 }) }]);
  await a.receipts.handle(receipt('m9'));
  assert.deepEqual(
    a.writes.map((w) => w.key),
    [finalKey('m9')],
    'summary and final travel together',
  );

  const c = new Replica();
  c.read([
    { key: requestKey('old'), value: requestRecord('old', ['m1', 'm2'], { receiptDeadline: 100_000_000 }) },
    // as written by an earlier version: no `at`, and its summary (if any) left no marker
    { key: finalKey('m1'), value: { v: 1, status: 'DELIVERED', errorCategory: null } },
    { key: finalKey('m2'), value: { v: 1, status: 'DELIVERED', errorCategory: null } },
  ]);
  c.now += GRACE * 2;
  await c.sweeper.sweepOnce();
  assert.equal(c.summaries().length, 0, 'an upgrade does not re-emit old summaries');
});
