/**
 * The local real-services stack answers like the real thing:
 *  - Kafka 4.x via kafkajs 2.2.4: create topic (waitForLeaders), produce (idempotent, acks=all),
 *    consume in a group, commit offsets, read them back;
 *  - Apicurio's Confluent-compatible API via @kafkajs/confluent-schema-registry 3.9.0: register with
 *    explicit BACKWARD, reject an incompatible change, encode/decode, getLatestSchemaId, fetch by id;
 *  - the registry keeps schemas across its own restart (on a private registry, so the shared stack
 *    that other test files use is never disturbed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import kafkajs from 'kafkajs';
import srPkg from '@kafkajs/confluent-schema-registry';
import { createTopics, privateStackDir, testStack, uniqueGroupId, uniqueSubject, uniqueTopics } from '../helpers/stack.js';
import { freePorts, startRegistry, stackDown, stackStatus, stopRegistry } from '../../tools/dev-stack/stack.js';

const { Kafka, logLevel } = kafkajs;
const { SchemaRegistry, SchemaType, COMPATIBILITY } = srPkg;

const schemaV1 = {
  type: 'record',
  name: 'StackProbe',
  namespace: 'ksc.test',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'int' },
  ],
};

test('kafka: create, produce, consume in a group, commit offsets', { timeout: 90_000 }, async () => {
  const { kafkaBrokers } = await testStack();
  const topics = uniqueTopics('stack-kafka');
  await createTopics(kafkaBrokers, [topics.outbound], 3);

  const kafka = new Kafka({ clientId: 'stack-test', brokers: [kafkaBrokers], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const groupId = uniqueGroupId('stack-kafka');
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000 });
  const admin = kafka.admin();
  await Promise.all([producer.connect(), consumer.connect(), admin.connect()]);
  try {
    const count = 20;
    await producer.send({
      topic: topics.outbound,
      acks: -1,
      messages: Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    });

    await consumer.subscribe({ topics: [topics.outbound], fromBeginning: true });
    const seen = new Set<string>();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${seen.size}/${count} messages consumed`)), 60_000);
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ topic, partition, message }) => {
            seen.add(message.value?.toString() ?? '');
            await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
            if (seen.size === count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    assert.equal(seen.size, count);

    await consumer.stop();
    const offsets = await admin.fetchOffsets({ groupId, topics: [topics.outbound] });
    const committed = offsets[0]!.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
    assert.equal(committed, count, 'committed offsets add up to the messages produced');
  } finally {
    await Promise.allSettled([producer.disconnect(), consumer.disconnect()]);
    await admin.deleteTopics({ topics: [topics.outbound] }).catch(() => undefined);
    await admin.disconnect();
  }
});

test('registry: ccompat register (BACKWARD), encode/decode, latest id, get by id', { timeout: 60_000 }, async () => {
  const { registryUrl } = await testStack();
  const registry = new SchemaRegistry({ host: registryUrl });
  const subject = uniqueSubject('stack-registry');

  const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schemaV1) }, { subject, compatibility: COMPATIBILITY.BACKWARD });
  assert.ok(Number.isInteger(id) && id > 0);

  const cfg = await fetch(`${registryUrl}/config/${encodeURIComponent(subject)}`);
  assert.equal(cfg.status, 200);
  assert.equal(((await cfg.json()) as { compatibilityLevel: string }).compatibilityLevel, 'BACKWARD');

  // a backward-compatible change (new field with a default) is accepted ...
  const v2 = { ...schemaV1, fields: [...schemaV1.fields, { name: 'note', type: ['null', 'string'], default: null }] };
  const { id: id2 } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject, compatibility: COMPATIBILITY.BACKWARD });
  assert.notEqual(id2, id);
  assert.equal(await registry.getLatestSchemaId(subject), id2);

  // ... an incompatible one (new field without default) is refused by the registry
  const bad = { ...schemaV1, fields: [...schemaV1.fields, { name: 'required', type: 'int' }] };
  await assert.rejects(registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(bad) }, { subject, compatibility: COMPATIBILITY.BACKWARD }));

  const payload = { id: 'abc', n: 42 };
  const wire = await registry.encode(id, payload);
  assert.equal(wire[0], 0, 'Confluent framing: magic byte 0');
  assert.equal(wire.readUInt32BE(1), id, 'Confluent framing: 4-byte schema id');

  // a fresh client (empty cache) resolves the id through GET /schemas/ids/{id}
  const fresh = new SchemaRegistry({ host: registryUrl });
  const decoded = (await fresh.decode(wire)) as { id: string; n: number };
  assert.deepEqual({ id: decoded.id, n: decoded.n }, payload);

  const byId = await fetch(`${registryUrl}/schemas/ids/${id}`);
  assert.equal(byId.status, 200);
  const body = (await byId.json()) as { schema: string };
  assert.equal((JSON.parse(body.schema) as { name: string }).name, 'StackProbe');
});

test('registry keeps schemas across its own restart (file-backed storage)', { timeout: 120_000 }, async () => {
  // a private registry-only stack: restarting the shared registry would disturb parallel test files
  const dir = privateStackDir('registry-restart');
  const [kafkaPort, controllerPort, registryPort, registryManagementPort] = (await freePorts(4)) as [number, number, number, number];
  const opts = { dir, kafkaPort, controllerPort, registryPort, registryManagementPort };
  try {
    const info = await startRegistry(opts);
    const registry = new SchemaRegistry({ host: info.registryUrl });
    const subject = uniqueSubject('stack-restart');
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schemaV1) }, { subject, compatibility: COMPATIBILITY.BACKWARD });

    await stopRegistry(opts);
    assert.equal((await stackStatus(opts)).registry, 'down');
    const again = await startRegistry(opts);
    assert.notEqual(again.registryPid, info.registryPid, 'a new registry process');
    assert.equal(again.registryUrl, info.registryUrl, 'same port after restart');

    const fresh = new SchemaRegistry({ host: again.registryUrl });
    assert.equal(await fresh.getLatestSchemaId(subject), id);
    const schema = await fresh.getSchema(id);
    assert.equal((schema as { name?: string }).name, 'ksc.test.StackProbe');
    const cfg = await fetch(`${again.registryUrl}/config/${encodeURIComponent(subject)}`);
    assert.equal(((await cfg.json()) as { compatibilityLevel: string }).compatibilityLevel, 'BACKWARD');
  } finally {
    await stackDown({ dir });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
