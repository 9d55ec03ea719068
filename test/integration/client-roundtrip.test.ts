/**
 * The client (`kafka-smpp-connector/client`) against real Kafka, the real registry and the
 * connector: what `SmsProducer` sends is what the connector reads, a request it refuses never
 * reaches the topic, and the delivery reader decodes what the connector publishes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  deliveryEvents,
  loadClientConfig,
  readDeliveryEvents,
  RequestRejectedError,
  SmsProducer,
  toSmsOutbound,
  type DeliveryRecord,
  type SmsClientConfig,
  type SmsDeliveryEvent,
} from '../../src/client/index.js';
import { AvroCodec } from '../../src/kafka/codec.js';
import { kafkaFor, readTopic, startPipeline } from '../helpers/pipeline.js';
import { createTopics, testStack, uniqueTopics, type StackInfo, type TestTopics } from '../helpers/stack.js';

function clientConfig(stack: StackInfo, topics: TestTopics): SmsClientConfig {
  return loadClientConfig({
    KAFKA_BROKERS: stack.kafkaBrokers,
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    TOPIC_OUTBOUND: topics.outbound,
    TOPIC_DELIVERY: topics.delivery,
    TOPIC_DLQ: topics.dlq,
  });
}

async function scratch(name: string): Promise<{ stack: StackInfo; topics: TestTopics; codec: AvroCodec; config: SmsClientConfig }> {
  const stack = await testStack();
  const topics = uniqueTopics(name);
  await createTopics(stack.kafkaBrokers, [topics.outbound, topics.delivery, topics.dlq], 2);
  const codec = new AvroCodec({ url: stack.registryUrl, auth: null }, { outbound: topics.outbound, delivery: topics.delivery, inbound: null });
  await codec.registerContracts();
  return { stack, topics, codec, config: clientConfig(stack, topics) };
}

async function recordsIn(stack: StackInfo, topic: string): Promise<number> {
  const admin = kafkaFor(stack).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

test('SmsProducer: requests read back as the connector decodes them, keyed by destination; a batch with a request the connector would reject sends nothing', async () => {
  const { stack, topics, codec, config } = await scratch('client-produce');
  const producer = await SmsProducer.connect(config);
  try {
    const minimal = { id: 'c-1', from: 'ACME', to: '+393471234567', text: 'Ciao € 😀' };
    const full = {
      id: 'c-2',
      from: '+393479999999',
      to: '393470000001',
      text: 'x',
      encoding: 'GSM7' as const,
      requestDeliveryReport: false,
      validUntil: Date.now() + 3_600_000,
      metadata: { tenant: 't1' },
    };
    const one = await producer.send(minimal);
    assert.deepEqual([one.key, one.segments], ['+393471234567', 1]);
    await producer.sendMany([{ value: full, key: 'k-2' }]);

    const refused = await producer
      .sendMany([{ value: { ...minimal, id: 'c-3' } }, { value: { ...minimal, id: 'c-4', to: '12' } }])
      .catch((err: unknown) => err);
    assert.ok(refused instanceof RequestRejectedError);
    assert.deepEqual(
      refused.rejections.map((r) => [r.id, r.status, r.category, r.field]),
      [['c-4', 'REJECTED', 'VALIDATION', 'to']],
    );

    const read = await readTopic(
      stack,
      topics.outbound,
      (v) => codec.decodeOutbound(v),
      (rs) => rs.length >= 2,
      30_000,
    );
    const byId = new Map(read.map((r) => [r.value.id, r]));
    assert.deepEqual(byId.get('c-1')?.value, toSmsOutbound(minimal));
    assert.equal(byId.get('c-1')?.key, '+393471234567');
    assert.deepEqual(byId.get('c-2')?.value, toSmsOutbound(full));
    assert.equal(byId.get('c-2')?.key, 'k-2');
    assert.equal(await recordsIn(stack, topics.outbound), 2, 'the refused batch wrote nothing (c-3 neither)');
  } finally {
    await producer.close();
  }
});

test('delivery reader: decodes every event in order, reports an undecodable record and keeps reading; the iterator stops when the loop leaves', async () => {
  const { stack, topics, codec, config } = await scratch('client-delivery');
  const event = (n: number): SmsDeliveryEvent => ({
    eventId: `e-${n}`,
    id: 'd-1',
    source: 'SUBMIT',
    status: 'SUBMITTED',
    segment: n,
    segments: 3,
    messageId: `m-${n}`,
    errorCode: null,
    errorCodeRaw: null,
    errorCategory: null,
    errorDescription: null,
    retryable: false,
    attempts: 1,
    from: 'ACME',
    to: '393471234567',
    submittedAt: 1_700_000_000_000,
    doneAt: null,
    eventAt: 1_700_000_000_000 + n,
    metadata: { n: String(n) },
    route: 'default',
  });
  const sent = [1, 2, 3].map(event);
  const producer = kafkaFor(stack).producer();
  await producer.connect();
  await producer.send({
    topic: topics.delivery,
    acks: -1,
    messages: [
      { key: 'd-1', value: codec.encodeDelivery(sent[0]!) },
      { key: 'd-1', value: Buffer.from('not avro') },
      ...sent.slice(1).map((e) => ({ key: 'd-1', value: codec.encodeDelivery(e) })),
    ],
  });
  await producer.disconnect();

  const seen: DeliveryRecord[] = [];
  const undecodable: string[] = [];
  const result = await readDeliveryEvents(
    config,
    { fromBeginning: true, stopAtEnd: true, onUndecodable: (r, err) => void undecodable.push(`${r.offset}:${(err as { code?: string }).code}`) },
    (r) => void seen.push(r),
  );
  assert.deepEqual(result, { events: 3, reason: 'end' });
  assert.deepEqual(
    seen.map((r) => ({ ...r.event })),
    sent,
  );
  assert.deepEqual(undecodable, ['1:BAD_MAGIC_BYTE']);

  const iterated: string[] = [];
  for await (const { event: e } of deliveryEvents(config, { fromBeginning: true })) {
    iterated.push(e.eventId);
    if (iterated.length === 2) break;
  }
  assert.deepEqual(iterated, ['e-1', 'e-2']);
});

test('client → connector → client: a sent request ends DELIVERED; one sent unchecked is REJECTED with the words the client predicted', async () => {
  const fx = await startPipeline('client-e2e');
  const config = clientConfig(fx.stack, fx.topics);
  const producer = await SmsProducer.connect(config);
  try {
    const bad = { id: 'e2e-bad', from: 'ACME', to: '+39 347 CALLME', text: 'x' };
    const verdict = producer.check(bad);
    assert.ok(!verdict.ok);
    await producer.send({ id: 'e2e-ok', from: 'ACME', to: '+393471234567', text: 'through the client' });
    await producer.send(bad, { validate: false });

    const summaries = new Map<string, SmsDeliveryEvent>();
    const deadline = AbortSignal.timeout(90_000);
    for await (const { event } of deliveryEvents(config, { fromBeginning: true, signal: deadline })) {
      if (event.source === 'SUMMARY') summaries.set(event.id, event);
      if (summaries.size === 2) break;
    }
    assert.equal(summaries.get('e2e-ok')?.status, 'DELIVERED');
    const rejected = summaries.get('e2e-bad');
    assert.deepEqual(
      [rejected?.status, rejected?.errorCategory, rejected?.errorDescription],
      [verdict.rejection.status, verdict.rejection.category, verdict.rejection.description],
    );
  } finally {
    await producer.close();
    await fx.stop();
  }
});
