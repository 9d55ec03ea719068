/**
 * Receipts logged as received (RECEIPTS_LOG=all, issue 20): what the receipts topic keeps of a
 * deliver_sm gives that deliver_sm back, and the receipt processor answers a receipt only once its
 * log record is acknowledged as well as its event.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import pino from 'pino';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { requestKey } from '../../src/pipeline/correlation-index.js';
import { deliverSmOf, loggedReceiptOf, type LoggedReceipt } from '../../src/pipeline/receipt-log.js';
import { ReceiptProcessor, type ReceiptSink } from '../../src/pipeline/receipt-processor.js';
import { DELIVER_SM_RESP_TEMPORARY, type DeliverSm } from '../../src/smpp/protocol/types.js';
import { deliverSm, receiptDeliverSm } from '../helpers/deliver-sm.js';
import { requestRecord, tempIndex } from '../helpers/temp-store.js';

const bytes = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b));

test('a logged receipt gives back the deliver_sm it was made from, byte for byte (property)', () => {
  fc.assert(
    fc.property(
      fc.record({
        sessionId: fc.string(),
        sequenceNumber: fc.nat(),
        serviceType: fc.string({ maxLength: 6 }),
        sourceAddr: fc.string({ maxLength: 21 }),
        sourceAddrTon: fc.nat(6),
        sourceAddrNpi: fc.nat(18),
        destinationAddr: fc.string({ maxLength: 21 }),
        destAddrTon: fc.nat(6),
        destAddrNpi: fc.nat(18),
        esmClass: fc.nat(255),
        dataCoding: fc.nat(255),
        shortMessage: bytes,
        receivedAt: fc.nat(),
      }),
      fc.option(fc.string({ maxLength: 65 }), { nil: undefined }),
      fc.option(fc.nat(8), { nil: undefined }),
      fc.option(bytes, { nil: undefined }),
      fc.option(bytes, { nil: undefined }),
      fc.string({ minLength: 1, maxLength: 20 }),
      (base, receiptedMessageId, messageState, networkErrorCode, messagePayload, route) => {
        const d: DeliverSm = { ...base };
        if (receiptedMessageId !== undefined) d.receiptedMessageId = receiptedMessageId;
        if (messageState !== undefined) d.messageState = messageState;
        if (networkErrorCode !== undefined) d.networkErrorCode = networkErrorCode;
        if (messagePayload !== undefined) d.messagePayload = messagePayload;
        // Through JSON, as the topic holds it.
        const logged = JSON.parse(JSON.stringify(loggedReceiptOf(d, route))) as LoggedReceipt;
        assert.equal(logged.route, route);
        assert.deepEqual(deliverSmOf(logged), d);
      },
    ),
  );
});

interface Harness {
  processor: ReceiptProcessor;
  logged: Array<{ correlationId: string; receipt: LoggedReceipt }>;
  events: SmsDeliveryEvent[];
  deadLettered: number;
}

function harness(log: (correlationId: string, receipt: LoggedReceipt) => Promise<void>, ackWaitMs = 5_000): Harness {
  const index = tempIndex(() => 2000);
  index.apply(requestKey('req-1'), requestRecord('req-1', ['m1'], { receiptDeadline: 10_000_000 }));
  index.apply(requestKey('req-2'), requestRecord('req-2', ['backup:m2'], { route: 'backup', receiptDeadline: 10_000_000 }));
  const h: Harness = { processor: undefined as unknown as ReceiptProcessor, logged: [], events: [], deadLettered: 0 };
  const sink: ReceiptSink = {
    publish: async (events) => void h.events.push(...events),
    deadLetterReceipt: async () => void h.deadLettered++,
    publishInbound: async () => undefined,
    logReceipt: async (correlationId, receipt) => {
      h.logged.push({ correlationId, receipt });
      await log(correlationId, receipt);
    },
  };
  h.processor = new ReceiptProcessor({ index, sink, ackWaitMs, matchWaitMs: 0, now: () => 2000, logger: pino({ level: 'silent' }) });
  return h;
}

test('every parsed receipt is logged under its correlation id, re-sends too; unparseable receipts and MO messages are not', async () => {
  const h = harness(async () => undefined);
  assert.equal(await h.processor.handle(receiptDeliverSm('m1')), 0);
  assert.equal(await h.processor.handle(receiptDeliverSm('m1')), 0, 'a re-send');
  assert.equal(await h.processor.handlerFor('backup')(receiptDeliverSm('m2')), 0);
  assert.equal(await h.processor.handle(receiptDeliverSm('nobody-sent-this')), 0);
  assert.equal(await h.processor.handle(deliverSm({ esmClass: 0x04, shortMessage: Buffer.from('not a receipt') })), 0);
  assert.equal(await h.processor.handle(deliverSm({ shortMessage: Buffer.from('hello') })), 0);
  assert.deepEqual(
    h.logged.map((l) => [l.correlationId, l.receipt.route]),
    [
      ['m1', 'default'],
      ['m1', 'default'],
      ['backup:m2', 'backup'],
      ['nobody-sent-this', 'default'],
    ],
  );
  assert.equal(h.deadLettered, 1, 'the unparseable one went to the DLQ');
  assert.deepEqual(
    h.events.filter((e) => e.source === 'RECEIPT').map((e) => e.id),
    ['req-1', 'req-2', 'unknown:nobody-sent-this'],
    'each correlated as without the log, the re-send once',
  );
});

test('a receipt is answered only once its log record is acknowledged; a failed log write answers 0x64', async () => {
  let ack!: () => void;
  const h = harness(() => new Promise<void>((resolve) => (ack = resolve)));
  let answered: number | undefined;
  const answer = h.processor.handle(receiptDeliverSm('m1')).then((s) => (answered = s));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(h.events.length > 0, true, 'the event is published meanwhile');
  assert.equal(answered, undefined, 'not answered while the log record waits');
  ack();
  assert.equal(await answer, 0);

  const failing = harness(async () => {
    throw new Error('receipts topic not writable');
  });
  assert.equal(await failing.processor.handle(receiptDeliverSm('m1')), DELIVER_SM_RESP_TEMPORARY);

  const stuck = harness(() => new Promise<void>(() => undefined), 100);
  assert.equal(await stuck.processor.handle(receiptDeliverSm('m1')), DELIVER_SM_RESP_TEMPORARY, 'past RECEIPT_ACK_WAIT_MS');
});
