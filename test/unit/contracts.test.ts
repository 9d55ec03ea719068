import { test } from 'node:test';
import assert from 'node:assert/strict';
import avro from 'avsc';
import {
  DELIVERY_STATUSES,
  EVENT_SOURCES,
  SMS_DELIVERY_FIELDS,
  SMS_ENCODINGS,
  SMS_INBOUND_FIELDS,
  SMS_OUTBOUND_FIELDS,
  type SmsDeliveryEvent,
  type SmsInbound,
  type SmsOutbound,
} from '../../src/contracts.js';
import { readSchema } from '../../src/kafka/codec.js';

interface AvroField {
  name: string;
  type: unknown;
  default?: unknown;
}
const fields = (contract: 'outbound' | 'delivery' | 'inbound'): AvroField[] => JSON.parse(readSchema(contract)).fields;
const enumSymbols = (f: AvroField | undefined): string[] => (f?.type as { symbols: string[] }).symbols;

test('the TypeScript field lists match the .avsc files field by field, in order', () => {
  assert.deepEqual(
    fields('outbound').map((f) => f.name),
    [...SMS_OUTBOUND_FIELDS],
  );
  assert.deepEqual(
    fields('delivery').map((f) => f.name),
    [...SMS_DELIVERY_FIELDS],
  );
  assert.deepEqual(
    fields('inbound').map((f) => f.name),
    [...SMS_INBOUND_FIELDS],
  );
});

test('enum symbols in TypeScript equal the schema symbols, and every enum has a default', () => {
  const out = fields('outbound');
  const del = fields('delivery');
  assert.deepEqual(enumSymbols(out.find((f) => f.name === 'encoding')), [...SMS_ENCODINGS]);
  assert.deepEqual(enumSymbols(del.find((f) => f.name === 'source')), [...EVENT_SOURCES]);
  assert.deepEqual(enumSymbols(del.find((f) => f.name === 'status')), [...DELIVERY_STATUSES]);
  for (const f of [...out, ...del]) {
    const t = f.type as { type?: string; default?: string };
    if (t.type === 'enum') assert.ok(t.default, `enum ${f.name} has a default symbol`);
  }
});

test('a fully populated TypeScript value of each contract is valid Avro and round-trips', () => {
  const outbound: SmsOutbound = {
    id: 'r1',
    from: 'ACME',
    to: '+393471234567',
    text: 'Ciao €',
    encoding: 'AUTO',
    requestDeliveryReport: true,
    scheduleAt: null,
    validUntil: 1_800_000_000_000,
    metadata: { tenant: 't1' },
  };
  const delivery: SmsDeliveryEvent = {
    eventId: 'e1',
    id: 'r1',
    source: 'RECEIPT',
    status: 'UNDELIVERED',
    segment: 1,
    segments: 2,
    messageId: 'AGILE-1A2B3C4D-1A2B3C-1A2B3C-1A2B3C',
    errorCode: 201,
    errorCodeRaw: '201',
    errorCategory: 'HLR ERROR',
    errorDescription: 'Absent subscriber',
    retryable: false,
    attempts: 1,
    from: 'ACME',
    to: '393471234567',
    submittedAt: 1_700_000_000_000,
    doneAt: 1_700_000_001_000,
    eventAt: 1_700_000_002_000,
    metadata: {},
    route: 'default',
  };
  const inbound: SmsInbound = {
    eventId: 'i1',
    from: '393471234567',
    to: '4412345',
    text: 'hi',
    textRaw: Buffer.from('hi'),
    dataCoding: 0,
    esmClass: 0,
    receivedAt: 1_700_000_000_000,
    sessionId: 'trx-1',
  };
  for (const [contract, value] of [
    ['outbound', outbound],
    ['delivery', delivery],
    ['inbound', inbound],
  ] as const) {
    const type = avro.Type.forSchema(JSON.parse(readSchema(contract)));
    const errors: string[] = [];
    assert.ok(type.isValid(value, { errorHook: (p) => errors.push(p.join('.')) }), `${contract}: ${errors}`);
    assert.deepEqual({ ...type.fromBuffer(type.toBuffer(value)) }, value);
  }
});

test('sms.outbound schema evolution: a v0 writer without optional fields reads with defaults (BACKWARD)', () => {
  const reader = avro.Type.forSchema(JSON.parse(readSchema('outbound')));
  const writer = avro.Type.forSchema({
    type: 'record',
    name: 'SmsOutbound',
    namespace: 'com.smsconnector',
    fields: ['id', 'from', 'to', 'text'].map((name) => ({ name, type: 'string' })),
  });
  const buf = writer.toBuffer({ id: 'a', from: 'b', to: 'c', text: 'd' });
  const v = reader.fromBuffer(buf, reader.createResolver(writer));
  assert.equal(v.encoding, 'AUTO');
  assert.equal(v.requestDeliveryReport, true);
  assert.equal(v.scheduleAt, null);
  assert.deepEqual(v.metadata, {});
});
