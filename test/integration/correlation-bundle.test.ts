/**
 * Correlation bundles on a real broker: an entry lands in the partition a plain record with its key
 * lands in (kafkajs' partitioner, as before bundles), so a request's snapshots stay in one partition
 * in order — and an upgrade mixing old single-entry records with bundles keeps that order too.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { partitionCount } from '../../src/kafka/client.js';
import { CorrelationBundler, unpackCorrelation } from '../../src/kafka/correlation-bundle.js';
import { Publisher } from '../../src/kafka/publisher.js';
import { createTopics, testStack, uniqueGroupId, uniqueTopics } from '../helpers/stack.js';

const { Kafka, logLevel } = kafkajs;

test('bundled entries land in the partition the broker gives a plain record with the same key', async () => {
  const stack = await testStack();
  const topic = uniqueTopics('bundle-partitions').correlation;
  await createTopics(stack.kafkaBrokers, [topic], 6);
  const kafka = new Kafka({ clientId: 'ksc-test-bundle', brokers: stack.kafkaBrokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const keys = Array.from({ length: 40 }, (_, i) => (i % 2 ? `f:AGILE-${i}` : `r:req-${i}`));
  const bundler = new CorrelationBundler({ partitions: await partitionCount(admin, topic), origin: 'it' });
  const publisher = new Publisher(kafka, { lingerMs: 5, bundle: { topic, bundler } });
  const plain = kafka.producer();
  const consumer = kafka.consumer({ groupId: uniqueGroupId('bundle-partitions') });
  try {
    await publisher.connect();
    await plain.connect();
    // plain keyed records, placed by kafkajs' default partitioner as before bundles
    await plain.send({ topic, messages: keys.map((key) => ({ key, value: '{"plain":true}' })) });
    await publisher.publish(keys.map((key) => ({ topic, key, value: '{"v":1}' })));

    const plainAt = new Map<string, number>();
    const bundledAt = new Map<string, number>();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${plainAt.size} plain / ${bundledAt.size} bundled of ${keys.length}`)), 30_000);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const key = message.key!.toString();
          if (key.startsWith('b:')) for (const [entryKey] of unpackCorrelation(key, message.value)) bundledAt.set(entryKey, partition);
          else plainAt.set(key, partition);
          if (plainAt.size === keys.length && bundledAt.size === keys.length) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    for (const key of keys) assert.equal(bundledAt.get(key), plainAt.get(key), `partition of ${key}`);
    assert.ok(new Set(plainAt.values()).size > 1, 'the keys spread over several partitions');
  } finally {
    await consumer.disconnect();
    await plain.disconnect();
    await publisher.close();
    await admin.disconnect();
  }
});

test('an entry or a record that names its partition lands there, whatever its key hashes to', async () => {
  const stack = await testStack();
  const topics = uniqueTopics('bundle-named');
  await createTopics(stack.kafkaBrokers, [topics.correlation, topics.delivery], 6);
  const kafka = new Kafka({ clientId: 'ksc-test-bundle-named', brokers: stack.kafkaBrokers.split(','), logLevel: logLevel.NOTHING });
  const bundler = new CorrelationBundler({ partitions: 6, origin: 'it' });
  const publisher = new Publisher(kafka, { lingerMs: 5, bundle: { topic: topics.correlation, bundler } });
  const consumer = kafka.consumer({ groupId: uniqueGroupId('bundle-named') });
  // Each key named to the partition after the one it hashes to, so a hashed placement cannot pass.
  const named = Array.from({ length: 24 }, (_, i) => `r:req-${i}`).map((key) => ({ key, partition: (bundler.partitionFor(key) + 1) % 6 }));
  try {
    await publisher.connect();
    await publisher.publish([
      ...named.map(({ key, partition }) => ({ topic: topics.correlation, key, value: '{"v":1}', partition })),
      ...named.map(({ key, partition }) => ({ topic: topics.delivery, key, value: Buffer.from('event'), partition })),
    ]);
    const at = new Map<string, number>();
    await consumer.connect();
    await consumer.subscribe({ topics: [topics.correlation, topics.delivery], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${at.size} of ${named.length * 2}`)), 30_000);
      void consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          const key = message.key!.toString();
          if (key.startsWith('b:')) for (const [entryKey] of unpackCorrelation(key, message.value)) at.set(`${topic}/${entryKey}`, partition);
          else at.set(`${topic}/${key}`, partition);
          if (at.size === named.length * 2) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    for (const { key, partition } of named) {
      assert.equal(at.get(`${topics.correlation}/${key}`), partition, `bundled entry ${key}`);
      assert.equal(at.get(`${topics.delivery}/${key}`), partition, `record ${key}`);
    }
  } finally {
    await consumer.disconnect();
    await publisher.close();
  }
});
