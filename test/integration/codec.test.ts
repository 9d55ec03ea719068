/**
 * The codec's own Avro path (types resolved at registration, no registry call per record) writes
 * exactly the bytes the registry library writes, reads them back, and still sends an unknown
 * schema id to the registry (and to the DLQ when the registry does not know it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import srPkg from '@kafkajs/confluent-schema-registry';
import { AvroCodec, AvroEncodeError } from '../../src/kafka/codec.js';
import { PoisonRecordError } from '../../src/kafka/errors.js';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { testStack, uniqueTopics } from '../helpers/stack.js';
import { outbound } from '../helpers/pipeline.js';

const { SchemaRegistry } = srPkg;

/** Decoded records are instances of each Avro type's own class: compare their fields. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

function deliveryEvent(i: number): SmsDeliveryEvent {
  return {
    eventId: `ev-${i}`,
    id: `req-${i}`,
    source: 'RECEIPT',
    status: i % 2 ? 'DELIVERED' : 'UNDELIVERED',
    segment: 1,
    segments: 1,
    messageId: `AGILE-${i}`,
    errorCode: i % 2 ? null : 1,
    errorCodeRaw: i % 2 ? null : '001',
    errorCategory: i % 2 ? null : 'ROUTING ERROR',
    errorDescription: i % 2 ? null : 'Absent subscriber — ünïcödé',
    retryable: false,
    attempts: 1,
    from: 'Sender',
    to: '+393401234567',
    submittedAt: 1_764_000_000_000 + i,
    doneAt: null,
    eventAt: 1_764_000_000_500 + i,
    metadata: { tenant: `t${i}`, trace: 'x'.repeat(i) },
    route: i % 2 === 0 ? null : 'default',
  };
}

test("codec: our bytes equal the registry library's; both decode; a bad value names its field", { timeout: 60_000 }, async () => {
  const { registryUrl } = await testStack();
  const topics = uniqueTopics('codec');
  const codec = new AvroCodec({ url: registryUrl, auth: null }, { outbound: topics.outbound, delivery: topics.delivery, inbound: null });
  await codec.registerContracts();
  const library = new SchemaRegistry({ host: registryUrl });

  for (let i = 0; i < 20; i++) {
    const event = deliveryEvent(i);
    const ours = codec.encodeDelivery(event);
    assert.deepEqual(ours, await library.encode(codec.schemaId('delivery'), event));
    assert.deepEqual(plain(await codec.decodeRaw(ours)), plain(await library.decode(ours)));
    assert.deepEqual(plain(await codec.decodeRaw(ours)), plain(event));
    const request = outbound(`req-${i}`, { text: `hello ${'€'.repeat(i)}` });
    const encoded = codec.encodeOutbound(request);
    assert.deepEqual(encoded, await library.encode(codec.schemaId('outbound'), request));
    assert.equal((await codec.decodeOutbound(encoded)).text, request.text);
    // The synchronous path (schema known once a record of it was decoded) gives the same value.
    assert.deepEqual(codec.decodeOutboundKnown(encoded), await codec.decodeOutbound(encoded));
  }
  // It declines — never throws — whatever the async path must classify: a schema id not seen yet,
  // a wrong magic byte, a body that does not decode, a null value.
  const outboundBytes = codec.encodeOutbound(outbound('req-sync'));
  const unseenId = Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0xf1]), outboundBytes.subarray(5)]);
  assert.equal(codec.decodeOutboundKnown(unseenId), undefined);
  assert.equal(codec.decodeOutboundKnown(Buffer.concat([Buffer.from([1]), outboundBytes.subarray(1)])), undefined);
  assert.equal(codec.decodeOutboundKnown(outboundBytes.subarray(0, 8)), undefined);
  assert.equal(codec.decodeOutboundKnown(null), undefined);
  // Larger than the encoder's first scratch buffer: it grows, and the bytes are still the library's.
  const big = { ...deliveryEvent(7), metadata: { blob: 'x'.repeat(40_000), more: 'é'.repeat(9_000) } };
  assert.deepEqual(codec.encodeDelivery(big), await library.encode(codec.schemaId('delivery'), big));
  assert.deepEqual(codec.encodeDelivery(deliveryEvent(8)), await library.encode(codec.schemaId('delivery'), deliveryEvent(8)));
  assert.throws(
    () => codec.encodeDelivery({ ...deliveryEvent(1), attempts: 'one' as unknown as number }),
    (err: unknown) => err instanceof AvroEncodeError && err.paths.includes('attempts'),
  );

  // An id nobody registered: not in our cache, the registry says 404 → poison, not a crash.
  const unknownId = Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]), codec.encodeDelivery(deliveryEvent(3)).subarray(5)]);
  await assert.rejects(codec.decodeRaw(unknownId), (err: unknown) => err instanceof PoisonRecordError && err.code === 'UNKNOWN_SCHEMA_ID');
});

test('codec: a registry URL without the Confluent-compatible path fails registration with the fix in its message', { timeout: 60_000 }, async () => {
  const { registryUrl } = await testStack();
  const base = registryUrl.replace(/\/apis\/ccompat\/v7\/?$/, '');
  assert.notEqual(base, registryUrl, `the test stack's URL ends in /apis/ccompat/v7: ${registryUrl}`);
  const topics = uniqueTopics('codec-url');
  const codec = new AvroCodec({ url: base, auth: null }, { outbound: topics.outbound, delivery: topics.delivery, inbound: null });
  await assert.rejects(codec.registerContracts(), (err: Error) => {
    assert.match(err.message, /answered 404 to registering subject .*SCHEMA_REGISTRY_URL .*\/apis\/ccompat\/v7/);
    assert.doesNotMatch(err.message, /object Object/);
    return true;
  });
});
