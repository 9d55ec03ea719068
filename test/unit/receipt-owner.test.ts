/**
 * Partitioned ownership of receipts (issue 20, step 7b), the parts without Kafka: which receipts a
 * replica forwards, how their owner correlates them (waiting for a message id it has not read yet,
 * and calling a receipt unknown only once it has caught up), where a gained partition resumes, and
 * the owner's progress as the correlation index keeps it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import pino from 'pino';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { forwardedReceiptOf, resumePoint, withinTopic } from '../../src/kafka/receipt-owner.js';
import { CORRELATED_HERE } from '../../src/kafka/sinks.js';
import { messageEntryOf, messageKey, progressKey, requestKey } from '../../src/pipeline/correlation-index.js';
import { loggedReceiptOf, type LoggedReceipt } from '../../src/pipeline/receipt-log.js';
import { ReceiptProcessor, UnreadableReceiptError, type ReceiptSink } from '../../src/pipeline/receipt-processor.js';
import { DELIVER_SM_RESP_TEMPORARY } from '../../src/smpp/protocol/types.js';
import { deliverSm, receiptDeliverSm } from '../helpers/deliver-sm.js';
import { requestRecord, tempIndex } from '../helpers/temp-store.js';

const NOW = 2000;

function owner(opts: {
  handlesHere: (id: string) => boolean;
  /** The home partitions this replica owns (default: all). */
  homes?: number[];
  forward?: (id: string, r: LoggedReceipt) => Promise<void>;
  /** The events' publish (default: kept in `events`). */
  publish?: ReceiptSink['publish'];
  matchWaitMs?: number;
  /** What the local path's catch-up of a partition answers (default: caught up). */
  caughtUp?: boolean | ((partition: number) => boolean);
}) {
  const index = tempIndex(() => NOW);
  index.apply(requestKey('req-1'), requestRecord('req-1', ['m1'], { receiptDeadline: 10_000_000 }));
  // A multipart request at home partition 2.
  index.apply(requestKey('req-2'), requestRecord('req-2', ['m2a', 'm2b'], { receiptDeadline: 10_000_000, home: 2 }));
  const events: SmsDeliveryEvent[] = [];
  const forwarded: Array<{ id: string; receipt: LoggedReceipt; partition: number | undefined }> = [];
  const sink: ReceiptSink = {
    publish: opts.publish ?? (async (es) => void events.push(...es)),
    deadLetterReceipt: async () => undefined,
    publishInbound: null,
    forwardReceipt: async (id, receipt, partition) => {
      forwarded.push({ id, receipt, partition });
      await opts.forward?.(id, receipt);
    },
  };
  const processor = new ReceiptProcessor({
    index,
    sink,
    ackWaitMs: 1000,
    matchWaitMs: opts.matchWaitMs ?? 0,
    now: () => NOW,
    logger: pino({ level: 'silent' }),
    ownership: {
      handlesMessage: opts.handlesHere,
      homeOf: (request) => ({ partition: request.home ?? 0, here: !opts.homes || opts.homes.includes(request.home ?? 0) }),
      messagePartition: () => 0,
      caughtUp: async (partition) => (typeof opts.caughtUp === 'function' ? opts.caughtUp(partition) : (opts.caughtUp ?? true)),
    },
  });
  return { index, processor, events, forwarded };
}

test('a receipt whose correlation id this replica does not own is forwarded, not correlated; one it owns is correlated here', async () => {
  const o = owner({ handlesHere: (id) => id === 'mine' });
  assert.equal(await o.processor.handle(receiptDeliverSm('m1')), 0);
  assert.deepEqual(
    o.forwarded.map((f) => [f.id, f.receipt.route]),
    [['m1', 'default']],
  );
  assert.equal(o.events.length, 0, 'no event where it was received');
  const mine = owner({ handlesHere: () => true });
  assert.equal(await mine.processor.handle(receiptDeliverSm('m1')), 0);
  assert.equal(mine.forwarded.length, 0);
  assert.deepEqual(
    mine.events.map((e) => [e.source, e.id]),
    [
      ['RECEIPT', 'req-1'],
      ['SUMMARY', 'req-1'],
    ],
  );
});

test('a multipart request’s receipt goes on to the owner of its home, which correlates it: one replica sees every segment final', async () => {
  const elsewhere = owner({ handlesHere: () => true, homes: [0, 1] });
  assert.equal(await elsewhere.processor.handle(receiptDeliverSm('m2a')), 0);
  assert.deepEqual(
    elsewhere.forwarded.map((f) => [f.id, f.partition]),
    [['m2a', 2]],
    'to its home partition',
  );
  assert.equal(elsewhere.events.length, 0);
  const home = owner({ handlesHere: () => false, homes: [2] });
  await home.processor.forwarded(loggedReceiptOf(receiptDeliverSm('m2a'), 'default'), 0, async () => true);
  await home.processor.forwarded(loggedReceiptOf(receiptDeliverSm('m2b'), 'default'), 0, async () => true);
  assert.equal(home.forwarded.length, 0);
  assert.deepEqual(
    home.events.map((e) => [e.source, e.id]),
    [
      ['RECEIPT', 'req-2'],
      ['RECEIPT', 'req-2'],
      ['SUMMARY', 'req-2'],
    ],
  );
  // A one-segment request's receipt stays with the owner of its message id.
  const single = owner({ handlesHere: () => true, homes: [] });
  await single.processor.handle(receiptDeliverSm('m1'));
  assert.equal(single.forwarded.length, 0);
});

test('a forward is answered once appended; a re-send while it waits joins it; a failed append answers 0x64', async () => {
  let append!: () => void;
  const o = owner({ handlesHere: () => false, forward: () => new Promise<void>((resolve) => (append = resolve)) });
  const first = o.processor.handle(receiptDeliverSm('m1'));
  const again = o.processor.handle(receiptDeliverSm('m1'));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(o.forwarded.length, 1, 'the re-send joined the first append');
  append();
  assert.deepEqual(await Promise.all([first, again]), [0, 0]);
  // Two receipts of one id whose state is in a TLV (the text the same): two appends.
  const tlv = owner({ handlesHere: () => false, forward: () => new Promise<void>((resolve) => setTimeout(resolve, 20)) });
  const tlvReceipt = (state: number) => deliverSm({ esmClass: 0x04, receiptedMessageId: 'm1', messageState: state });
  assert.deepEqual(await Promise.all([tlv.processor.handle(tlvReceipt(1)), tlv.processor.handle(tlvReceipt(2))]), [0, 0]);
  assert.equal(tlv.forwarded.length, 2, 'ENROUTE and DELIVERED both forwarded');
  const failing = owner({
    handlesHere: () => false,
    forward: async () => {
      throw new Error('receipts topic not writable');
    },
  });
  assert.equal(await failing.processor.handle(receiptDeliverSm('m1')), DELIVER_SM_RESP_TEMPORARY);
});

test('the owner correlates a forwarded receipt as if received on its own bind, the same eventIds as a local one', async () => {
  const local = owner({ handlesHere: () => true });
  await local.processor.handle(receiptDeliverSm('m1'));
  const o = owner({ handlesHere: () => true });
  const receipt = JSON.parse(JSON.stringify(loggedReceiptOf(receiptDeliverSm('m1'), 'default'))) as LoggedReceipt;
  await o.processor.forwarded(receipt, 0, async () => true);
  assert.deepEqual(
    o.events.map((e) => e.eventId),
    local.events.map((e) => e.eventId),
  );
});

test('a forwarded receipt read before its message id waits for it until RECEIPT_MATCH_WAIT_MS after it was received, without asking for a catch-up', async () => {
  const o = owner({ handlesHere: () => true, matchWaitMs: 2000 });
  const early = { ...loggedReceiptOf(receiptDeliverSm('m8'), 'default'), receivedAt: NOW };
  let caughtUp = 0;
  const done = o.processor.forwarded(early, 0, async () => {
    caughtUp++;
    return true;
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(o.events.length, 0, 'waiting');
  o.index.apply(requestKey('req-8'), requestRecord('req-8', ['m8'], { receiptDeadline: 10_000_000 }));
  await done;
  assert.equal(caughtUp, 0);
  assert.deepEqual(
    o.events.map((e) => e.id),
    ['req-8', 'req-8'],
  );
});

test('the wait never exceeds RECEIPT_MATCH_WAIT_MS, whatever the receiving replica’s clock says', async () => {
  const o = owner({ handlesHere: () => true, matchWaitMs: 100 });
  // Received "an hour from now" by a replica whose clock is ahead.
  const skewed = { ...loggedReceiptOf(receiptDeliverSm('m7'), 'default'), receivedAt: NOW + 3_600_000 };
  const started = Date.now();
  let writtenBefore = 0;
  await o.processor.forwarded(skewed, 0, async (t) => {
    writtenBefore = t;
    return true;
  });
  assert.ok(Date.now() - started < 1000, `waited ${Date.now() - started} ms`);
  assert.equal(writtenBefore, NOW + 100, 'the catch-up covers what was written up to the end of the wait');
  assert.equal(o.events.at(-1)?.id, 'unknown:m7');
});

test('a forwarded receipt whose correlation partition could not be caught up is tried again, not published as unknown', async () => {
  const o = owner({ handlesHere: () => true });
  await assert.rejects(o.processor.forwarded(loggedReceiptOf(receiptDeliverSm('late'), 'default'), 0, async () => false));
  assert.equal(o.events.length, 0);
});

test('a forwarded receipt read before its message id: unknown only after the owner caught up, and then only if still missing', async () => {
  const o = owner({ handlesHere: () => true, matchWaitMs: 0 });
  const early = { ...loggedReceiptOf(receiptDeliverSm('m9'), 'default'), receivedAt: NOW };
  let caughtUp = 0;
  // The message id arrives while the owner catches up (its m: entry was further down the partition).
  const done = o.processor.forwarded(early, 0, async () => {
    caughtUp++;
    o.index.apply(requestKey('req-9'), requestRecord('req-9', ['m9'], { receiptDeadline: 10_000_000 }));
    return true;
  });
  await done;
  assert.equal(caughtUp, 1);
  assert.deepEqual(
    o.events.map((e) => e.id),
    ['req-9', 'req-9'],
    'correlated (RECEIPT and SUMMARY), not unknown',
  );
  const nobody = { ...loggedReceiptOf(receiptDeliverSm('m404'), 'default'), receivedAt: NOW };
  await o.processor.forwarded(nobody, 0, async () => true);
  assert.equal(o.events.at(-1)?.id, 'unknown:m404', 'still missing once caught up: unknown');
});

test('a failed publish of a forwarded receipt rejects, so its batch is read again', async () => {
  const { processor } = owner({
    handlesHere: () => true,
    publish: async () => {
      throw new Error('delivery topic not writable');
    },
  });
  await assert.rejects(processor.forwarded(loggedReceiptOf(receiptDeliverSm('m1'), 'default'), 0, async () => true));
});

test('records of the receipts topic: marked ones are skipped, malformed ones named, forwarded ones read back', () => {
  const value = Buffer.from(JSON.stringify(loggedReceiptOf(receiptDeliverSm('m1'), 'backup')));
  assert.deepEqual(forwardedReceiptOf({ value, headers: { ...CORRELATED_HERE } }), { skip: 'correlated-here' });
  assert.deepEqual(forwardedReceiptOf({ value: Buffer.from('{"v":2}'), headers: {} }), { skip: 'unreadable' });
  assert.deepEqual(forwardedReceiptOf({ value: Buffer.from('not json'), headers: {} }), { skip: 'unreadable' });
  assert.deepEqual(forwardedReceiptOf({ value: null, headers: {} }), { skip: 'unreadable' });
  const read = forwardedReceiptOf({ value, headers: {} });
  assert.ok('receipt' in read);
  assert.equal(read.receipt.route, 'backup');
});

test('a gained partition resumes from the furthest of its checkpoint and the last owner’s progress, inside the topic', () => {
  assert.equal(resumePoint(undefined, undefined), null, 'neither known: by time');
  assert.equal(resumePoint('40', undefined), 40n);
  assert.equal(resumePoint(undefined, '7'), 7n);
  assert.equal(resumePoint('40', '9000000000000000000'), 9000000000000000000n, 'compared as integers, not text');
  assert.equal(resumePoint('100', '99'), 100n);
  assert.equal(withinTopic(5n, 10n, 50n), 10n, 'below the first offset (retention): from the first');
  assert.equal(withinTopic(30n, 10n, 50n), 30n);
  assert.equal(withinTopic(50n, 10n, 50n), 50n, 'at the end: nothing to read yet');
  assert.equal(withinTopic(51n, 10n, 50n), null, 'past the end (a recreated topic): not this topic’s');
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 1n << 40n }), fc.bigInt({ min: 0n, max: 1n << 40n }), fc.bigInt({ min: 0n, max: 1n << 40n }), (at, a, b) => {
      const [low, high] = a < b ? [a, b] : [b, a];
      const got = withinTopic(at, low, high);
      if (got === null) assert.ok(at > high);
      else assert.ok(got >= low && got <= high && (got === at || at < low));
    }),
  );
});

test('the index keeps the furthest progress read for a receipts partition, per topic, whatever the order', () => {
  const index = tempIndex(() => NOW);
  index.apply(progressKey(3), { v: 1, topic: 'sms.receipts', offset: '120' });
  index.apply(progressKey(3), { v: 1, topic: 'sms.receipts', offset: '80' });
  index.apply(progressKey(3), { v: 1, topic: 'other.receipts', offset: '5' });
  index.apply(progressKey(3), null);
  assert.equal(index.receiptProgress('sms.receipts', 3), '120');
  assert.equal(index.receiptProgress('other.receipts', 3), '5');
  assert.equal(index.receiptProgress('sms.receipts', 4), undefined);
  assert.equal(index.checkpoints('sms.receipts').size, 0, 'not taken for the store’s own checkpoint of the topic');
});

test('a multipart receipt whose m: entry is known but whose snapshot is not: passed on to its home, or — home here — handled once the home is caught up', async () => {
  const entry = messageEntryOf(requestRecord('req-3', ['m3a', 'm3b'], { receiptDeadline: 10_000_000, home: 5 }), 1, 1);
  // Owner of the id's partition, not of the home: passed on, without waiting for a snapshot it will never hold.
  const away = owner({ handlesHere: () => true, homes: [0, 1], matchWaitMs: 5000 });
  away.index.apply(messageKey('m3a'), entry);
  const started = Date.now();
  await away.processor.forwarded({ ...loggedReceiptOf(receiptDeliverSm('m3a'), 'default'), receivedAt: NOW }, 1, async () => true);
  assert.ok(Date.now() - started < 5000, 'no match wait for an id that is known');
  assert.deepEqual(
    away.forwarded.map((f) => [f.id, f.partition]),
    [['m3a', 5]],
  );
  assert.equal(away.events.length, 0);
  // Owner of the home: the snapshot is late; the catch-up asked is of the home's partition.
  const home = owner({ handlesHere: () => true, homes: [5], matchWaitMs: 0 });
  home.index.apply(messageKey('m3a'), entry);
  const asked: number[] = [];
  await home.processor.forwarded(loggedReceiptOf(receiptDeliverSm('m3a'), 'default'), 1, async (_t, partition) => {
    asked.push(partition);
    home.index.apply(requestKey('req-3'), requestRecord('req-3', ['m3a', 'm3b'], { receiptDeadline: 10_000_000, home: 5 }));
    return true;
  });
  assert.deepEqual(asked, [5]);
  assert.deepEqual(
    home.events.map((e) => [e.source, e.id]),
    [['RECEIPT', 'req-3']],
    'correlated, not unknown',
  );
});

test('a receipt read from its home’s partition is handled there even while the assignment says otherwise (no hop back to the same partition)', async () => {
  const o = owner({ handlesHere: () => true, homes: [] });
  await o.processor.forwarded(loggedReceiptOf(receiptDeliverSm('m2a'), 'default'), 2, async () => true);
  assert.equal(o.forwarded.length, 0);
  assert.deepEqual(
    o.events.map((e) => e.id),
    ['req-2'],
  );
});

test('a record of the receipts topic that is not a whole deliver_sm is unreadable: skipped, never retried', async () => {
  const whole = loggedReceiptOf(receiptDeliverSm('m1'), 'default');
  const bad = { ...whole, networkErrorCode: 5 };
  assert.deepEqual(forwardedReceiptOf({ value: Buffer.from(JSON.stringify(bad)), headers: {} }), { skip: 'unreadable' });
  const { sessionId: _gone, ...noSession } = whole;
  assert.deepEqual(forwardedReceiptOf({ value: Buffer.from(JSON.stringify(noSession)), headers: {} }), { skip: 'unreadable' });
  assert.ok('receipt' in forwardedReceiptOf({ value: Buffer.from(JSON.stringify(whole)), headers: {} }));
  const o = owner({ handlesHere: () => true });
  await assert.rejects(
    o.processor.forwarded(bad as unknown as LoggedReceipt, 0, async () => true),
    UnreadableReceiptError,
  );
});

test('a receipt received here and still unmatched is unknown only once its partition is caught up here; not held or not caught up, it is answered 0x64', async () => {
  const notHeld = owner({ handlesHere: () => true, caughtUp: false });
  assert.equal(await notHeld.processor.handle(receiptDeliverSm('m-nobody')), DELIVER_SM_RESP_TEMPORARY);
  assert.equal(notHeld.events.length, 0, 'no unknown: published from a partition not read here');
  const held = owner({ handlesHere: () => true, caughtUp: true });
  assert.equal(await held.processor.handle(receiptDeliverSm('m-nobody')), 0);
  assert.deepEqual(
    held.events.map((e) => e.id),
    ['unknown:m-nobody'],
  );
});

test('a receipt received here for a multipart segment whose snapshot is not here yet waits for the catch-up of the request’s home too, not only of its own partition', async () => {
  const asked: number[] = [];
  const o = owner({
    handlesHere: () => true,
    caughtUp: (partition) => {
      asked.push(partition);
      return partition !== 2; // the home, 2, is still being restored
    },
  });
  o.index.apply(messageKey('mx'), messageEntryOf(requestRecord('req-x', ['mx', 'my'], { receiptDeadline: 10_000_000, home: 2 }), 1));
  assert.equal(await o.processor.handle(receiptDeliverSm('mx')), DELIVER_SM_RESP_TEMPORARY);
  assert.deepEqual(asked, [0, 2], 'its own partition, then the home');
  assert.equal(o.events.length, 0, 'not published as unknown: while its home is not read up to date');
});
