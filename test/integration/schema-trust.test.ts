// Invariant: against the real registry, a record's schema id is trusted only when it names an Avro
// schema that resolves against SmsOutbound (and, with SCHEMA_SUBJECT_STRICT, is registered under the
// topic's own subject); anything else — JSON, Protobuf, a zero-byte-array bomb, an unrelated subject,
// an oversized value — goes to the DLQ with its named reason while good records flow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { AvroCodec, readSchema, valueSubject } from '../../src/kafka/codec.js';
import { PoisonRecordError, RegistryUnavailableError } from '../../src/kafka/errors.js';
import { outbound, produce, readDelivery, readDlq, startPipeline } from '../helpers/pipeline.js';
import { RegistryProxy, type RegistryFault } from '../helpers/registry-proxy.js';
import { testStack, uniqueTopics } from '../helpers/stack.js';

const CONTENT_TYPE = { 'content-type': 'application/vnd.schemaregistry.v1+json' };

/** Registers `schema` under `subject` with the registry's REST API; returns its id. */
async function register(registryUrl: string, subject: string, schema: string, schemaType?: 'JSON' | 'PROTOBUF'): Promise<number> {
  const res = await fetch(`${registryUrl}/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST',
    headers: CONTENT_TYPE,
    body: JSON.stringify({ schema, ...(schemaType ? { schemaType } : {}) }),
    signal: AbortSignal.timeout(10000),
  });
  const body = (await res.json()) as { id?: number; message?: string };
  assert.ok(res.ok && typeof body.id === 'number', `registering ${subject}: HTTP ${res.status} ${body.message ?? ''}`);
  return body.id;
}

/** SmsOutbound plus an optional field (unique per run, so the registry gives it its own id). */
function evolvedOutbound(tag: string): string {
  const schema = JSON.parse(readSchema('outbound')) as { fields: unknown[] };
  schema.fields.push({ name: 'origin', type: ['null', 'string'], default: null, doc: `test ${tag}` });
  return JSON.stringify(schema);
}

function withId(id: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  return Buffer.concat([header, body]);
}

const poisonCode = (code: string) => (err: unknown) => err instanceof PoisonRecordError && err.code === code;

interface ForeignIds {
  json: number;
  protobuf: number;
  unrelated: number;
  bomb: number;
  evolved: number;
}

async function registerForeignSchemas(registryUrl: string, outboundTopic: string): Promise<ForeignIds> {
  const tag = randomUUID().slice(0, 8);
  return {
    // a pattern that backtracks for ever in a regex engine: never compiled, since never parsed
    json: await register(
      registryUrl,
      `trust-${tag}-json-value`,
      JSON.stringify({ type: 'object', description: tag, properties: { to: { type: 'string', pattern: '^(a+)+$' } } }),
      'JSON',
    ),
    protobuf: await register(
      registryUrl,
      `trust-${tag}-proto-value`,
      `syntax = "proto3";\nmessage Sms${tag.replace(/-/g, '')} { string to = 1; }\n`,
      'PROTOBUF',
    ),
    unrelated: await register(registryUrl, `trust-${tag}-other-value`, evolvedOutbound(`other ${tag}`)),
    bomb: await register(
      registryUrl,
      `trust-${tag}-bomb-value`,
      JSON.stringify({ type: 'array', items: { type: 'record', name: `Z${tag.replace(/-/g, '')}`, fields: [{ name: 'n', type: 'null' }] } }),
    ),
    evolved: await register(registryUrl, valueSubject(outboundTopic), evolvedOutbound(`own ${tag}`)),
  };
}

test('schema trust (codec, real registry): foreign types, bombs, unrelated subjects (strict or not), oversized values', { timeout: 60_000 }, async () => {
  const { registryUrl } = await testStack();
  const topics = uniqueTopics('trust-codec');
  const contract = { outbound: topics.outbound, delivery: topics.delivery, inbound: null };
  const lenient = new AvroCodec({ url: registryUrl, auth: null }, contract, { maxRecordBytes: 2048 });
  const strict = new AvroCodec({ url: registryUrl, auth: null }, contract, { subjectStrict: true });
  await lenient.registerContracts();
  await strict.registerContracts();
  const ids = await registerForeignSchemas(registryUrl, topics.outbound);
  const good = lenient.encodeOutbound(outbound('trust-1'));
  const body = good.subarray(5);
  // The evolved writer's body: ours plus the union index 0 (null) of `origin`.
  const evolvedBody = Buffer.concat([body, Buffer.from([0])]);

  for (const codec of [lenient, strict]) {
    await assert.rejects(codec.decodeOutbound(withId(ids.json, body)), poisonCode('FOREIGN_SCHEMA_TYPE'), 'JSON schema id');
    await assert.rejects(codec.decodeOutbound(withId(ids.protobuf, body)), poisonCode('FOREIGN_SCHEMA_TYPE'), 'Protobuf schema id');
    // our own subject: the evolved version decodes through the resolver, in both modes
    assert.equal((await codec.decodeOutbound(withId(ids.evolved, evolvedBody))).id, 'trust-1');
    assert.equal(codec.decodeOutboundKnown(withId(ids.evolved, evolvedBody))?.id, 'trust-1', 'accepted ids take the synchronous path');
  }
  // An array of zero-byte records: refused on the schema, so the 5-byte body (millions of items) is never decoded.
  const t0 = performance.now();
  await assert.rejects(lenient.decodeOutbound(withId(ids.bomb, Buffer.from([0xfe, 0xff, 0xff, 0x07, 0]))), poisonCode('UNBOUNDED_SCHEMA'));
  assert.ok(performance.now() - t0 < 5000, 'refused without decoding');
  await assert.rejects(strict.decodeOutbound(withId(ids.bomb, Buffer.from([0xfe, 0xff, 0xff, 0x07, 0]))), poisonCode('FOREIGN_SUBJECT'));

  // An id of an unrelated subject: accepted when it resolves, refused by the strict switch.
  assert.equal((await lenient.decodeOutbound(withId(ids.unrelated, evolvedBody))).id, 'trust-1');
  await assert.rejects(strict.decodeOutbound(withId(ids.unrelated, evolvedBody)), (err: unknown) => {
    assert.ok(poisonCode('FOREIGN_SUBJECT')(err), String(err));
    assert.match((err as Error).message, /trust-.*-other-value.*not .*sms-outbound-value/);
    return true;
  });
  assert.equal(strict.decodeOutboundKnown(withId(ids.unrelated, evolvedBody)), undefined, 'a refused id never takes the synchronous path');

  // Over the size limit: refused before the header is even read.
  const big = lenient.encodeOutbound(outbound('trust-big', { text: 'x'.repeat(3000) }));
  await assert.rejects(lenient.decodeOutbound(big), poisonCode('RECORD_TOO_LARGE'));
  assert.equal(lenient.decodeOutboundKnown(big), undefined);
  assert.equal((await strict.decodeOutbound(big)).id, 'trust-big', 'under the default limit (256 KiB) it decodes');
});

test(
  'schema trust (pipeline, SCHEMA_SUBJECT_STRICT=true): each foreign record → one DLQ record with its reason; good records delivered',
  { timeout: 60_000 },
  async () => {
    const fx = await startPipeline('trust-pipe', { env: { SCHEMA_SUBJECT_STRICT: 'true', OUTBOUND_MAX_RECORD_BYTES: '4096' } });
    try {
      const ids = await registerForeignSchemas(fx.stack.registryUrl, fx.topics.outbound);
      const body = fx.codec.encodeOutbound(outbound('trust-body')).subarray(5);
      const bad: Array<[string, Buffer]> = [
        ['FOREIGN_SCHEMA_TYPE', withId(ids.json, body)],
        ['FOREIGN_SCHEMA_TYPE', withId(ids.protobuf, body)],
        ['FOREIGN_SUBJECT', withId(ids.unrelated, Buffer.concat([body, Buffer.from([0])]))],
        // strict: another subject's Avro schema is refused before it is parsed, the bomb included
        ['FOREIGN_SUBJECT', withId(ids.bomb, Buffer.from([0xfe, 0xff, 0xff, 0x07, 0]))],
        ['RECORD_TOO_LARGE', fx.codec.encodeOutbound(outbound('trust-big', { text: 'x'.repeat(5000) }))],
      ];
      const goodIds = Array.from({ length: 10 }, (_, i) => `trust-good-${i}`);
      const records: Array<{ key: string | null; value: Buffer | ReturnType<typeof outbound> }> = [];
      goodIds.forEach((id, i) => {
        records.push({ key: `k${i % 3}`, value: outbound(id) });
        const b = bad[i];
        if (b) records.push({ key: `bad-${i}`, value: b[1] });
      });
      // the evolved version under our own subject is a good record too
      records.push({
        key: 'k0',
        value: withId(ids.evolved, Buffer.concat([fx.codec.encodeOutbound(outbound('trust-evolved')).subarray(5), Buffer.from([0])])),
      });
      await produce(fx.stack, fx.topics.outbound, fx.codec, records);

      const expectDelivered = [...goodIds, 'trust-evolved'];
      const events = await readDelivery(fx, (es) => expectDelivered.every((id) => es.some((e) => e.id === id && e.source === 'SUMMARY')), 40000);
      const dlq = await readDlq(fx, (rs) => rs.length >= bad.length, 20000);
      const reasons = dlq.map((r) => `${r.key}:${r.headers['__connect.errors.exception.class.name']}`).sort();
      assert.deepEqual(reasons, bad.map(([code], i) => `bad-${i}:${code}`).sort(), 'one DLQ record per foreign record, with its reason');
      for (const id of expectDelivered)
        assert.ok(
          events.some((e) => e.id === id && e.source === 'SUMMARY'),
          `${id} delivered`,
        );
    } finally {
      await fx.stop();
    }
  },
);

test('registry calls have a deadline and garbage answers are outages: registration and lookups through a misbehaving proxy', { timeout: 60_000 }, async () => {
  const { registryUrl } = await testStack();
  const proxy = await RegistryProxy.start(registryUrl);
  try {
    const topics = uniqueTopics('trust-proxy');
    const contract = { outbound: topics.outbound, delivery: topics.delivery, inbound: null };
    // Registration through the library: a silent registry fails it within a few deadlines, not never.
    proxy.mode = 'silent';
    const silent = new AvroCodec({ url: proxy.url, auth: null, timeoutMs: 500 }, contract);
    const t0 = Date.now();
    await assert.rejects(silent.registerContracts(), RegistryUnavailableError);
    const registrationMs = Date.now() - t0;
    assert.ok(registrationMs < 4 * 500 + 1500, `registration gave up after ${registrationMs} ms`);

    proxy.mode = 'pass';
    const codec = new AvroCodec({ url: proxy.url, auth: null, timeoutMs: 500 }, contract);
    await codec.registerContracts();
    const ids = await registerForeignSchemas(registryUrl, topics.outbound);
    const record = withId(ids.evolved, Buffer.concat([codec.encodeOutbound(outbound('trust-proxy')).subarray(5), Buffer.from([0])]));
    for (const fault of ['silent', 'slow', 'error-500', 'not-a-schema', 'not-found', 'html'] satisfies RegistryFault[]) {
      proxy.mode = fault;
      proxy.slowMs = 1500;
      const t1 = Date.now();
      await assert.rejects(codec.decodeOutbound(record), RegistryUnavailableError, fault);
      assert.ok(Date.now() - t1 < 3000, `${fault}: gave up after ${Date.now() - t1} ms`);
      // an id the registry really lacks is still only an outage while it does not serve ours either
      if (fault === 'not-found') await assert.rejects(codec.decodeOutbound(withId(0x7ffffff0, Buffer.from([0]))), RegistryUnavailableError);
    }
    proxy.mode = 'pass';
    assert.equal((await codec.decodeOutbound(record)).id, 'trust-proxy', 'sane again: the same record decodes');
    await assert.rejects(codec.decodeOutbound(withId(0x7ffffff0, Buffer.from([0]))), poisonCode('UNKNOWN_SCHEMA_ID'));
    // Connection refused (the proxy gone): an outage; the id already judged still decodes without it.
    await proxy.close();
    await assert.rejects(codec.decodeOutbound(withId(0x7ffffff1, Buffer.from([0]))), RegistryUnavailableError);
    assert.equal((await codec.decodeOutbound(record)).id, 'trust-proxy', 'a known id needs no registry');
  } finally {
    await proxy.close().catch(() => undefined);
  }
});
