// Invariant: a record's writer schema is judged before anything decodes with it — only Avro schemas
// that resolve against SmsOutbound and whose decoding is bounded are accepted; JSON/Protobuf schemas
// are refused without being parsed; a registry answer that is not a schema is an outage, not poison;
// and every decode under an accepted schema ends fast, as a value or as poison, whatever the bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import avsc from 'avsc';
import fc from 'fast-check';
import { readSchema } from '../../src/kafka/codec.js';
import { PoisonRecordError, RegistryUnavailableError } from '../../src/kafka/errors.js';
import { outboundFromDecoded } from '../../src/kafka/outbound-shape.js';
import { decodeUnder, judgeAny, judgeOutbound, registeredSchema, VerdictCache, type Verdict } from '../../src/kafka/schema-trust.js';

const READER = readSchema('outbound');
const readerJson = () => JSON.parse(READER) as { name: string; namespace: string; fields: Array<Record<string, unknown>> };
const avro = (schema: unknown) => ({ schemaType: 'AVRO', schema: typeof schema === 'string' ? schema : JSON.stringify(schema), references: [] });
const withFields = (extra: Array<Record<string, unknown>>, drop: string[] = []) => {
  const s = readerJson();
  s.fields = [...s.fields.filter((f) => !drop.includes(f.name as string)), ...extra];
  return s;
};
const refusalOf = (v: Verdict) => (v.accepted ? 'accepted' : v.refusal.code);
const header = (id: number) => {
  const h = Buffer.alloc(5);
  h.writeInt32BE(id, 1);
  return h;
};
/** Avro zig-zag varint of a (possibly huge) integer. */
function varint(n: bigint): Buffer {
  let z = n >= 0n ? n * 2n : -n * 2n - 1n;
  const out: number[] = [];
  do {
    let b = Number(z & 0x7fn);
    z >>= 7n;
    if (z > 0n) b |= 0x80;
    out.push(b);
  } while (z > 0n);
  return Buffer.from(out);
}

const sample = {
  id: 'r-1',
  from: 'Sender',
  to: '+393401234567',
  text: 'hello ✓',
  encoding: 'AUTO',
  requestDeliveryReport: true,
  scheduleAt: null,
  validUntil: null,
  metadata: { tenant: 't1' },
};

test('acceptance: which writer schemas are accepted and which are refused, with which code', () => {
  const cases: Array<[string, unknown, string]> = [
    ['our own schema', readerJson(), 'accepted'],
    ['evolved: a new optional field with a default', withFields([{ name: 'priority', type: ['null', 'string'], default: null }]), 'accepted'],
    ['evolved: an optional field left out (reader default applies)', withFields([], ['encoding', 'metadata']), 'accepted'],
    ['the producer’s own namespace', { ...readerJson(), namespace: 'com.acme.sms' }, 'accepted'],
    ['a required field missing', withFields([], ['to']), 'SCHEMA_MISMATCH'],
    ['a field of the wrong type', withFields([{ name: 'to', type: 'long' }], ['to']), 'SCHEMA_MISMATCH'],
    ['another record name', { ...readerJson(), name: 'Invoice' }, 'SCHEMA_MISMATCH'],
    ['not a record', 'string', 'SCHEMA_MISMATCH'],
    ['an array of null (the 5-byte bomb)', { type: 'array', items: 'null' }, 'UNBOUNDED_SCHEMA'],
    ['a writer-only field: array of null', withFields([{ name: 'junk', type: { type: 'array', items: 'null' }, default: [] }]), 'UNBOUNDED_SCHEMA'],
    [
      'a writer-only field: array of an empty record',
      withFields([{ name: 'junk', type: { type: 'array', items: { type: 'record', name: 'E', fields: [] } }, default: [] }]),
      'UNBOUNDED_SCHEMA',
    ],
    [
      'a writer-only field: array of fixed(0)',
      withFields([{ name: 'junk', type: { type: 'array', items: { type: 'fixed', name: 'Z', size: 0 } }, default: [] }]),
      'UNBOUNDED_SCHEMA',
    ],
    [
      'deep inside a map of unions: array of a record of null and fixed(0)',
      withFields([
        {
          name: 'junk',
          type: {
            type: 'map',
            values: [
              'null',
              {
                type: 'array',
                items: {
                  type: 'record',
                  name: 'N',
                  fields: [
                    { name: 'a', type: 'null' },
                    { name: 'b', type: { type: 'fixed', name: 'F0', size: 0 } },
                  ],
                },
              },
            ],
          },
          default: {},
        },
      ]),
      'UNBOUNDED_SCHEMA',
    ],
    ['a writer-only array of 1-byte unions is fine', withFields([{ name: 'ok', type: { type: 'array', items: ['null', 'string'] }, default: [] }]), 'accepted'],
    ['a writer-only map of null is fine (each key takes a byte)', withFields([{ name: 'ok', type: { type: 'map', values: 'null' }, default: {} }]), 'accepted'],
  ];
  for (const [what, schema, expected] of cases) {
    assert.equal(refusalOf(judgeOutbound(7, avro(schema), READER)), expected, what);
  }
  assert.equal(refusalOf(judgeOutbound(7, avro('{"type": "nope"}'), READER)), 'SCHEMA_MISMATCH', 'JSON that is not Avro');
  // Text that is not even JSON was garbled on the way (a registry validates what it stores): an outage, no verdict.
  assert.throws(() => judgeOutbound(7, avro('{"type": "nope"'), READER), RegistryUnavailableError, 'truncated schema text');
  assert.equal(
    refusalOf(judgeOutbound(7, { ...avro(readerJson()), references: [{ name: 'x', subject: 's', version: 1 }] }, READER)),
    'SCHEMA_MISMATCH',
    'references',
  );
});

test('JSON and Protobuf schemas are refused on their type alone: the text is never parsed', () => {
  // Neither text parses as anything: a parse attempt would throw or say SCHEMA_MISMATCH.
  for (const schemaType of ['JSON', 'PROTOBUF', 'json']) {
    const v = judgeOutbound(9, { schemaType, schema: '{"pattern": "^(a+)+$", <<not json>>', references: [] }, READER);
    assert.equal(refusalOf(v), 'FOREIGN_SCHEMA_TYPE', schemaType);
    assert.match((v as { refusal: Error }).refusal.message, /not Avro/);
    assert.equal(refusalOf(judgeAny(9, { schemaType, schema: 'syntax = "proto3"; <<', references: [] })), 'FOREIGN_SCHEMA_TYPE');
  }
});

test('a registry answer that is not a schema is an outage (RegistryUnavailableError), never poison', () => {
  for (const body of [
    undefined,
    null,
    {},
    [],
    'html',
    { schema: 5 },
    { schema: 's', schemaType: 7 },
    { error_code: 50001, message: 'x' },
    { schema: 's', references: 'x' },
  ]) {
    assert.throws(() => registeredSchema(3, body), RegistryUnavailableError, JSON.stringify(body));
  }
  assert.equal(registeredSchema(3, { schema: '"string"' }).schemaType, 'AVRO', 'Confluent leaves schemaType out for Avro');
  assert.equal(registeredSchema(3, { schema: '{}', schemaType: 'JSON', references: null }).schemaType, 'JSON');
});

test('an evolved writer decodes through the resolver: added fields dropped, missing ones defaulted', () => {
  const v2 = withFields([{ name: 'priority', type: ['null', 'string'], default: null }], ['metadata', 'encoding']);
  const bytes = Buffer.concat([header(11), avsc.Type.forSchema(v2 as avsc.Schema).toBuffer({ ...sample, priority: 'high' })]);
  const decoded = outboundFromDecoded(decodeUnder(judgeOutbound(11, avro(v2), READER), 11, bytes));
  assert.deepEqual({ ...decoded }, { ...sample, text: sample.text, metadata: {} });
  const ns = { ...readerJson(), namespace: 'com.acme.sms' };
  const fromAcme = Buffer.concat([header(12), avsc.Type.forSchema(ns as avsc.Schema).toBuffer(sample)]);
  assert.equal(outboundFromDecoded(decodeUnder(judgeOutbound(12, avro(ns), READER), 12, fromAcme)).text, sample.text);
});

test('bounded decode: a 10-byte huge block count ends at once as AVRO_DECODE poison', () => {
  const own = judgeOutbound(1, avro(readerJson()), READER);
  const longs = judgeAny(2, avro({ type: 'array', items: 'long' }));
  const huge = varint(2n ** 62n);
  const cases: Array<[Verdict, Buffer]> = [
    // metadata map: four empty strings, enum 0, boolean, two null unions, then the count
    [own, Buffer.concat([header(1), Buffer.from([0, 0, 0, 0, 0, 1, 0, 0]), huge])],
    [longs, Buffer.concat([header(2), huge])],
    [longs, Buffer.concat([header(2), varint(-(2n ** 40n)), varint(3n), Buffer.from([2, 4, 6, 0])])],
    [longs, Buffer.concat([header(2), varint(1_000_000n), Buffer.from([2, 4, 6, 0])])],
  ];
  for (const [verdict, bytes] of cases) {
    const t0 = performance.now();
    assert.throws(
      () => decodeUnder(verdict, 1, bytes),
      (e: PoisonRecordError) => e instanceof PoisonRecordError && e.code === 'AVRO_DECODE',
    );
    assert.ok(performance.now() - t0 < 50, `ended in ${performance.now() - t0} ms`);
  }
  // The 5-byte body under an array of null never gets to decoding: the schema is refused.
  assert.throws(
    () => decodeUnder(judgeAny(3, avro({ type: 'array', items: 'null' })), 3, Buffer.concat([header(3), Buffer.from([0xfe, 0xff, 0xff, 0x07, 0])])),
    (e: PoisonRecordError) => e.code === 'UNBOUNDED_SCHEMA',
  );
  // A negative-count block (count + byte size) as other encoders write it decodes when consistent.
  assert.deepEqual(decodeUnder(longs, 2, Buffer.concat([header(2), varint(-3n), varint(3n), Buffer.from([2, 4, 6, 0])])), [1, 2, 3]);
  assert.throws(() => decodeUnder(longs, 2, Buffer.concat([header(2), varint(-3n), varint(2n), Buffer.from([2, 4, 6, 0])])), /declared as 2/);
});

/** Writer schemas the property runs under: ours, an evolved one, and one with every kind of type. */
const everything = {
  type: 'record',
  name: 'All',
  fields: [
    { name: 'b', type: 'boolean' },
    { name: 'i', type: 'int' },
    { name: 'd', type: 'double' },
    { name: 'f', type: { type: 'fixed', name: 'F4', size: 4 } },
    { name: 'e', type: { type: 'enum', name: 'E3', symbols: ['A', 'B', 'C'] } },
    { name: 'arr', type: { type: 'array', items: { type: 'map', values: ['null', 'bytes', 'float'] } } },
    {
      name: 'list',
      type: [
        'null',
        {
          type: 'record',
          name: 'Node',
          fields: [
            { name: 'v', type: 'long' },
            { name: 'next', type: ['null', 'Node'] },
          ],
        },
      ],
    },
  ],
};
const UNDER: Array<[string, Verdict, avsc.Type]> = [
  ['SmsOutbound', judgeOutbound(1, avro(readerJson()), READER), avsc.Type.forSchema(readerJson() as avsc.Schema)],
  [
    'SmsOutbound v2',
    judgeOutbound(2, avro(withFields([{ name: 'tags', type: { type: 'array', items: 'string' }, default: [] }])), READER),
    avsc.Type.forSchema(withFields([{ name: 'tags', type: { type: 'array', items: 'string' }, default: [] }]) as avsc.Schema),
  ],
  ['every type', judgeAny(3, avro(everything)), avsc.Type.forSchema(everything as avsc.Schema)],
];

/** Runs `decode` and says how it ended; anything but a value or PoisonRecordError fails the property. */
function outcome(decode: () => unknown): 'value' | 'poison' {
  try {
    decode();
    return 'value';
  } catch (err) {
    if (err instanceof PoisonRecordError) return 'poison';
    throw err;
  }
}

test('property: random bodies under an accepted schema end fast, as a value or as poison', () => {
  for (const [name, verdict, type] of UNDER) {
    assert.ok(verdict.accepted, name);
    let slowest = 0;
    const seen = { value: 0, poison: 0 };
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      // a valid value with bytes overwritten by random ones, or cut short: mostly near-valid bodies
      fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 10 }), fc.nat({ max: 3 })).map(([at, bytes, mode]) => {
        const valid = type.toBuffer(type.random());
        const pos = at % (valid.length + 1);
        if (mode === 0) return valid.subarray(0, pos);
        const out = Buffer.from(valid);
        Buffer.from(bytes).copy(out, Math.min(pos, out.length));
        return mode === 1 ? out : Buffer.concat([out.subarray(0, pos), varint(2n ** BigInt(20 + (at % 40))), out.subarray(pos)]);
      }),
    );
    fc.assert(
      fc.property(body, (b) => {
        const t0 = performance.now();
        seen[outcome(() => decodeUnder(verdict, 1, Buffer.concat([header(1), b])))]++;
        slowest = Math.max(slowest, performance.now() - t0);
      }),
      { numRuns: 3000 },
    );
    // Unbounded, the inserted counts (2^20..2^59) would loop for seconds to years; a bounded walk of
    // ≤ 100 bytes takes microseconds. The margin is for a GC pause on a busy CI machine.
    assert.ok(slowest < 500, `${name}: slowest decode ${slowest.toFixed(1)} ms`);
    assert.ok(seen.poison > 0, `${name}: some bodies are poison`);
  }
});

test('property: every valid encoding is accepted by the bounded walk and decodes as avsc decodes it', () => {
  for (const [name, verdict, type] of UNDER) {
    fc.assert(
      fc.property(fc.integer(), () => {
        const value = type.random();
        const decoded = decodeUnder(verdict, 1, Buffer.concat([header(1), type.toBuffer(value)]));
        if (name === 'every type') assert.deepEqual(type.toBuffer(decoded), type.toBuffer(value));
        else assert.equal((decoded as { id: string }).id, (value as unknown as { id: string }).id);
      }),
      { numRuns: 500 },
    );
  }
});

test('the verdict cache is bounded, oldest out first', () => {
  const cache = new VerdictCache(3);
  const v = judgeAny(1, avro('string'));
  for (let id = 1; id <= 5; id++) cache.set(id, v);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((id) => cache.get(id) !== undefined),
    [false, false, true, true, true],
  );
});
