// Invariant (issue 17): a mobile-originated deliver_sm whose text travels in message_payload
// (sm_length 0, up to 64 KB — the session now reads PDUs that long) is published whole, not as
// an empty message; a short_message, when present, still wins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { SmsInbound } from '../../src/contracts.js';
import { ReceiptProcessor } from '../../src/pipeline/receipt-processor.js';
import type { DeliverSm } from '../../src/smpp/protocol/types.js';
import { deliverSm } from '../helpers/deliver-sm.js';
import { tempIndex } from '../helpers/temp-store.js';

function mo(shortMessage: Buffer, messagePayload?: Buffer): DeliverSm {
  return deliverSm({ shortMessage, ...(messagePayload ? { messagePayload } : {}) });
}

function processorPublishingTo(published: SmsInbound[]): ReceiptProcessor {
  return new ReceiptProcessor({
    index: tempIndex(),
    sink: { publish: async () => undefined, deadLetterReceipt: async () => undefined, publishInbound: async (m) => void published.push(m) },
    ackWaitMs: 1000,
    matchWaitMs: 0,
    now: () => 2000,
    logger: pino({ level: 'silent' }),
  });
}

test('MO text in a 60,000-octet message_payload (sm_length 0) is published whole', async () => {
  const published: SmsInbound[] = [];
  const processor = processorPublishingTo(published);
  const text = 'Hello from a long MO. '.repeat(2728).slice(0, 60_000);
  assert.equal(await processor.handle(mo(Buffer.alloc(0), Buffer.from(text, 'latin1'))), 0);
  assert.equal(published.length, 1);
  assert.equal(published[0]!.text, text);
  assert.equal(published[0]!.textRaw.length, 60_000);
});

test('a short_message present wins over message_payload; two MOs differing only in their payload get different event ids', async () => {
  const published: SmsInbound[] = [];
  const processor = processorPublishingTo(published);
  await processor.handle(mo(Buffer.from('short'), Buffer.from('payload')));
  await processor.handle(mo(Buffer.alloc(0), Buffer.from('payload one')));
  await processor.handle(mo(Buffer.alloc(0), Buffer.from('payload two')));
  assert.deepEqual(
    published.map((m) => m.text),
    ['short', 'payload one', 'payload two'],
  );
  assert.notEqual(published[1]!.eventId, published[2]!.eventId);
});
