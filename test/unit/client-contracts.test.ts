/**
 * Invariant: the types the client exports (`SmsOutbound`, `SmsDeliveryEvent`, `OutboundRequest`)
 * say exactly what the .avsc files in schemas/ say — same field names, a field optional in
 * `OutboundRequest` exactly when the schema gives it a default, and the client's defaults equal the
 * schema's (a minimal request encoded by avsc, which fills schema defaults, decodes to `toSmsOutbound`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { toSmsOutbound, type OutboundRequest, type SmsDeliveryEvent, type SmsOutbound } from '../../src/client/index.js';

interface AvroField {
  name: string;
  default?: unknown;
}
const schema = (file: string): { fields: AvroField[] } => JSON.parse(readFileSync(new URL(`../../schemas/${file}`, import.meta.url), 'utf8'));
const avroType = (file: string) => avro.Type.forSchema(schema(file) as avro.Schema);
const names = (fields: AvroField[]) => new Set(fields.map((f) => f.name));

// Compile-time: the required keys of OutboundRequest are exactly these four (a mismatch fails tsc).
type RequiredKeys<T> = { [K in keyof T]-?: Partial<Pick<T, K>> extends Pick<T, K> ? never : K }[keyof T];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const REQUIRED = ['id', 'from', 'to', 'text'] as const;
const requiredMatches: Same<RequiredKeys<OutboundRequest>, (typeof REQUIRED)[number]> = true;
const keysMatch: Same<keyof OutboundRequest, keyof SmsOutbound> = true;

const fullOutbound: SmsOutbound = {
  id: 'order-42',
  from: 'ACME',
  to: '+393471234567',
  text: 'Ciao € 😀',
  encoding: 'UCS2',
  requestDeliveryReport: false,
  scheduleAt: 1_800_000_000_000,
  validUntil: 1_800_000_600_000,
  metadata: { tenant: 't1', trace: 'abc' },
};

const fullDelivery: SmsDeliveryEvent = {
  eventId: 'e1',
  id: 'order-42',
  source: 'RECEIPT',
  status: 'UNDELIVERED',
  segment: 2,
  segments: 2,
  messageId: 'AGILE-1',
  errorCode: 201,
  errorCodeRaw: '201',
  errorCategory: 'HLR ERROR',
  errorDescription: 'Absent subscriber',
  retryable: true,
  attempts: 3,
  from: 'ACME',
  to: '393471234567',
  submittedAt: 1_700_000_000_000,
  doneAt: 1_700_000_001_000,
  eventAt: 1_700_000_002_000,
  metadata: { tenant: 't1' },
  route: 'agile',
};

const minimalDelivery: SmsDeliveryEvent = {
  ...fullDelivery,
  source: 'CONNECTOR',
  status: 'REJECTED',
  segment: 0,
  segments: 0,
  messageId: null,
  errorCode: null,
  errorCodeRaw: null,
  errorCategory: null,
  errorDescription: null,
  retryable: false,
  attempts: 0,
  submittedAt: null,
  doneAt: null,
  eventAt: null,
  metadata: {},
  route: null,
};

test('the exported types have exactly the schema fields, and the required request fields are the ones without a default', () => {
  assert.ok(requiredMatches && keysMatch);
  const outbound = schema('sms-outbound.avsc').fields;
  assert.deepEqual(names(outbound), new Set(Object.keys(fullOutbound)));
  assert.deepEqual(new Set(outbound.filter((f) => !('default' in f)).map((f) => f.name)), new Set(REQUIRED));
  assert.deepEqual(names(schema('sms-delivery.avsc').fields), new Set(Object.keys(fullDelivery)));
});

test('fully populated and minimal typed values round-trip through the Avro types unchanged', () => {
  const outbound = avroType('sms-outbound.avsc');
  const delivery = avroType('sms-delivery.avsc');
  for (const [type, value] of [
    [outbound, fullOutbound],
    [outbound, toSmsOutbound({ id: 'r', from: 'ACME', to: '393471234567', text: 'hi' })],
    [delivery, fullDelivery],
    [delivery, minimalDelivery],
  ] as const) {
    const paths: string[] = [];
    assert.ok(type.isValid(value, { errorHook: (p) => paths.push(p.join('.')) }), `invalid at ${paths.join(', ')}`);
    assert.deepEqual({ ...type.fromBuffer(type.toBuffer(value)) }, value);
  }
});

test("a minimal request takes the schema's own defaults", () => {
  const minimal: OutboundRequest = { id: 'r', from: 'ACME', to: '393471234567', text: 'hi' };
  const outbound = avroType('sms-outbound.avsc');
  // avsc writes a missing field's schema default: decoding shows what the schema fills in.
  const bySchema = { ...outbound.fromBuffer(outbound.toBuffer(minimal)) };
  assert.deepEqual(bySchema, toSmsOutbound(minimal));
});
