/**
 * Invariant: the client refuses a request exactly when the connector would, and says it in the
 * connector's words — for every bad request below, the client's rejection has the status, category
 * and description of the first event the real `OutboundProcessor` publishes for it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { checkRequest, RequestRejectedError, toSmsOutbound, type OutboundRequest } from '../../src/client/index.js';
import type { SmsDeliveryEvent, SmsOutbound } from '../../src/contracts.js';
import { OutboundProcessor, type EventSink, type InboundRecord } from '../../src/pipeline/outbound-processor.js';
import { DEFAULT_REQUEST_BOUNDS } from '../../src/pipeline/request-bounds.js';
import { tempIndex } from '../helpers/temp-store.js';

const NOW = 1_700_000_000_000;
const valid: OutboundRequest = { id: 'r-1', from: 'ACME', to: '+39 347 1234567', text: 'Hello' };

/** The first event the connector publishes for `req` (its REJECTED or EXPIRED event). */
async function connectorVerdict(req: SmsOutbound, maxSegments: number): Promise<SmsDeliveryEvent> {
  const published: SmsDeliveryEvent[] = [];
  const sink: EventSink = { publish: async (events) => void published.push(...events), deadLetter: async () => assert.fail('no DLQ') };
  const processor = new OutboundProcessor({
    decoder: { decodeOutbound: async () => req, decodeOutboundKnown: () => req },
    sink,
    index: tempIndex(),
    routing: {
      directory: { knows: () => true, route: () => assert.fail('a rejected request never reaches the SMSC') },
      rules: [{ name: 'default', routes: ['default'] }],
    },
    maxSegments,
    bounds: DEFAULT_REQUEST_BOUNDS,
    receiptWaitMs: 1000,
    now: () => NOW,
    logger: pino({ level: 'silent' }),
  });
  const record: InboundRecord = { topic: 'sms.outbound', partition: 0, offset: '1', key: null, value: Buffer.alloc(0), timestamp: '0' };
  await (
    await processor.process(record, new AbortController().signal)
  ).acked;
  return published[0]!;
}

const rejected: { name: string; req: Partial<OutboundRequest>; field: string; problem: string | null; maxSegments?: number }[] = [
  { name: 'empty sender', req: { from: ' ' }, field: 'from', problem: 'SENDER' },
  { name: 'alphanumeric sender over 11', req: { from: 'ACME-SHOP-ITALIA' }, field: 'from', problem: 'SENDER' },
  { name: 'sender with a GSM escape character', req: { from: 'AC{ME}' }, field: 'from', problem: 'SENDER' },
  { name: 'numeric sender over 16', req: { from: '+12345678901234567' }, field: 'from', problem: 'SENDER' },
  { name: 'destination with letters', req: { to: '+39 347 CALLME' }, field: 'to', problem: 'DESTINATION' },
  { name: 'destination too short', req: { to: '12345' }, field: 'to', problem: 'DESTINATION' },
  { name: 'empty text', req: { text: '' }, field: 'text', problem: 'MESSAGE' },
  { name: 'text over the segment limit', req: { text: 'a'.repeat(154 * 3) }, field: 'text', problem: 'MESSAGE', maxSegments: 3 },
  { name: 'GSM7 forced on an emoji', req: { text: 'hi 😀', encoding: 'GSM7' }, field: 'encoding', problem: 'ENCODING' },
  { name: 'validUntil before scheduleAt', req: { scheduleAt: NOW + 60_000, validUntil: NOW + 30_000 }, field: 'validUntil', problem: 'VALIDITY' },
  { name: 'id over its bound', req: { id: 'x'.repeat(300) }, field: 'id', problem: null },
  {
    name: 'metadata over its bound',
    req: { metadata: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) },
    field: 'metadata',
    problem: null,
  },
  { name: 'validUntil already passed', req: { validUntil: NOW - 1 }, field: 'validUntil', problem: null },
];

for (const c of rejected) {
  test(`rejected like the connector rejects it: ${c.name}`, async () => {
    const maxSegments = c.maxSegments ?? 10;
    const verdict = checkRequest({ ...valid, ...c.req }, { now: NOW, maxSegments });
    assert.equal(verdict.ok, false);
    if (verdict.ok) return;
    const event = await connectorVerdict(toSmsOutbound({ ...valid, ...c.req }), maxSegments);
    assert.deepEqual(
      { status: verdict.rejection.status, category: verdict.rejection.category, description: verdict.rejection.description },
      { status: event.status, category: event.errorCategory, description: event.errorDescription },
    );
    assert.equal(verdict.rejection.field, c.field);
    assert.equal(verdict.rejection.problem, c.problem);
  });
}

test('a valid request passes with its encoding and segment count; defaults are the schema defaults', () => {
  const ok = checkRequest(valid, { now: NOW });
  assert.ok(ok.ok);
  assert.deepEqual([ok.encoding, ok.segments], ['GSM7', 1]);
  assert.deepEqual(ok.request, { ...valid, encoding: 'AUTO', requestDeliveryReport: true, scheduleAt: null, validUntil: null, metadata: {} });
  const long = checkRequest({ ...valid, text: 'è'.repeat(161) }, { now: NOW });
  assert.ok(long.ok && long.segments === 2);
  const unicode = checkRequest({ ...valid, text: 'ciao 😀' }, { now: NOW });
  assert.ok(unicode.ok && unicode.encoding === 'UCS2');
});

test('a rejection never repeats a phone number, and the error lists every rejected request', () => {
  const bad = checkRequest({ ...valid, to: '+39 347 123456789012345' }, { now: NOW });
  assert.ok(!bad.ok);
  assert.doesNotMatch(bad.rejection.description, /347/);
  const a = checkRequest({ ...valid, id: 'a', text: '' }, { now: NOW });
  const b = checkRequest({ ...valid, id: 'b', from: '' }, { now: NOW });
  assert.ok(!a.ok && !b.ok);
  const err = new RequestRejectedError([a.rejection, b.rejection]);
  assert.equal(err.code, 'REQUEST_REJECTED');
  assert.equal(err.retriable, false);
  assert.match(err.message, /^request a would be REJECTED \(VALIDATION\): text: text is empty \(and 1 more request\(s\) rejected\)$/);
});
