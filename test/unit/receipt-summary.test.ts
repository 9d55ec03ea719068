/**
 * The SUMMARY of a multipart request whose segments turned final on two replicas: the replica that
 * handled one final and then sees the request complete through the correlation tail emits it —
 * whichever order the other replica's `f:` final and its `r:` snapshot arrive in (they travel in
 * different partitions of the correlation topic).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { CorrelationIndex, finalKey, requestKey, type FinalRecord } from '../../src/pipeline/correlation-index.js';
import { ReceiptProcessor, type ReceiptSink } from '../../src/pipeline/receipt-processor.js';
import { receiptDeliverSm as receipt } from '../helpers/deliver-sm.js';
import { requestRecord, tempIndex } from '../helpers/temp-store.js';

const DELIVERED: FinalRecord = { v: 1, status: 'DELIVERED', errorCategory: null };

/** Replica A: it submitted segment 1 (m1); segment 2 (m2) was re-sent by replica B after a rebalance. */
async function replicaAWithOwnFinal(): Promise<{ index: CorrelationIndex; processor: ReceiptProcessor; events: SmsDeliveryEvent[] }> {
  const index = tempIndex(() => 2000);
  const events: SmsDeliveryEvent[] = [];
  const sink: ReceiptSink = {
    publish: async (batch) => void events.push(...batch),
    deadLetterReceipt: async () => undefined,
    publishInbound: null,
  };
  const processor = new ReceiptProcessor({ index, sink, ackWaitMs: 1000, matchWaitMs: 0, now: () => 2000, logger: pino({ level: 'silent' }) });
  index.apply(requestKey('req-1'), requestRecord('req-1', ['m1', null], { receiptDeadline: 10_000_000 }));
  assert.equal(await processor.handle(receipt('m1')), 0);
  assert.deepEqual(
    events.map((e) => `${e.source} ${e.status}`),
    ['RECEIPT DELIVERED'],
    'no summary yet: segment 2 is not final',
  );
  return { index, processor, events };
}

const summaries = (events: SmsDeliveryEvent[]) => events.filter((e) => e.source === 'SUMMARY');
const settle = () => new Promise((r) => setImmediate(r));

test("summary: B's final read before B's snapshot that maps it → the snapshot completes the request, one SUMMARY", async () => {
  const { index, processor, events } = await replicaAWithOwnFinal();
  index.apply(finalKey('m2'), DELIVERED);
  processor.onRemoteEntry(finalKey('m2'));
  await settle();
  assert.equal(summaries(events).length, 0, 'm2 is not mapped to the request yet');
  index.apply(requestKey('req-1'), requestRecord('req-1', ['m1', 'm2'], { receiptDeadline: 10_000_000 }));
  processor.onRemoteEntry(requestKey('req-1'));
  await settle();
  assert.deepEqual(
    summaries(events).map((e) => e.status),
    ['DELIVERED'],
  );
  processor.onRemoteEntry(requestKey('req-1')); // a later copy of the snapshot: no second summary
  await settle();
  assert.equal(summaries(events).length, 1);
});

test("summary: B's snapshot read before B's final → the final completes the request, one SUMMARY", async () => {
  const { index, processor, events } = await replicaAWithOwnFinal();
  index.apply(requestKey('req-1'), requestRecord('req-1', ['m1', 'm2'], { receiptDeadline: 10_000_000 }));
  processor.onRemoteEntry(requestKey('req-1'));
  await settle();
  assert.equal(summaries(events).length, 0, 'm2 is not final yet');
  index.apply(finalKey('m2'), DELIVERED);
  processor.onRemoteEntry(finalKey('m2'));
  await settle();
  assert.deepEqual(
    summaries(events).map((e) => e.status),
    ['DELIVERED'],
  );
});

test('summary: a replica that handled no final of the request leaves the summary to the one that did', async () => {
  const index = tempIndex(() => 2000);
  const events: SmsDeliveryEvent[] = [];
  const processor = new ReceiptProcessor({
    index,
    sink: { publish: async (batch) => void events.push(...batch), deadLetterReceipt: async () => undefined, publishInbound: null },
    ackWaitMs: 1000,
    matchWaitMs: 0,
    now: () => 2000,
    logger: pino({ level: 'silent' }),
  });
  index.apply(requestKey('req-1'), requestRecord('req-1', ['m1', 'm2'], { receiptDeadline: 10_000_000 }));
  index.apply(finalKey('m1'), DELIVERED);
  index.apply(finalKey('m2'), DELIVERED);
  processor.onRemoteEntry(finalKey('m2'));
  processor.onRemoteEntry(requestKey('req-1'));
  await settle();
  assert.equal(events.length, 0);
});
