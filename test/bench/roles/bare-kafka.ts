/**
 * Bench role (b): the Kafka ceiling — kafkajs consumes Avro sms.outbound, decodes each record
 * with confluent-schema-registry, encodes one SmsDeliveryEvent per record and produces the batch.
 * No SMPP. env: BROKERS, REGISTRY_URL, TOPIC_OUTBOUND, TOPIC_DELIVERY, GROUP.
 * Requests: stats → { produced }.
 */
import { readFileSync } from 'node:fs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { kafkaClient, serveRole } from '../common.js';

const env = process.env as Record<string, string>;
const registry = new SchemaRegistry({ host: env['REGISTRY_URL']! });
const counters = { consumed: 0, produced: 0 };

try {
  const schema = readFileSync(new URL('../../../schemas/sms-delivery.avsc', import.meta.url), 'utf8');
  const { id: deliveryId } = await registry.register({ type: SchemaType.AVRO, schema }, { subject: `${env['TOPIC_DELIVERY']}-value` });
  const kafka = kafkaClient({ kafkaBrokers: env['BROKERS']!, registryUrl: env['REGISTRY_URL']! }, 'bare-kafka');
  const producer = kafka.producer();
  await producer.connect();
  const consumer = kafka.consumer({ groupId: env['GROUP']! });
  await consumer.connect();
  await consumer.subscribe({ topic: env['TOPIC_OUTBOUND']!, fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: 12,
    eachBatch: async ({ batch }) => {
      const messages = await Promise.all(
        batch.messages.map(async (m) => {
          const req = (await registry.decode(m.value!)) as Record<string, unknown>;
          counters.consumed++;
          const id = String(req['id']);
          const value = await registry.encode(deliveryId, {
            eventId: `${id}:SUBMITTED`,
            id,
            source: 'SUBMIT',
            status: 'SUBMITTED',
            segment: 1,
            segments: 1,
            messageId: `M${counters.consumed}`,
            errorCode: null,
            errorCodeRaw: null,
            errorCategory: null,
            errorDescription: null,
            retryable: false,
            attempts: 1,
            from: String(req['from']),
            to: String(req['to']),
            submittedAt: Date.now(),
            doneAt: null,
            eventAt: Date.now(),
            metadata: req['metadata'] as Record<string, string>,
          });
          return { key: id, value };
        }),
      );
      await producer.send({ topic: env['TOPIC_DELIVERY']!, messages });
      counters.produced += messages.length;
    },
  });
  serveRole({ stats: () => ({ ...counters }) }, async () => {
    await consumer.disconnect();
    await producer.disconnect();
  });
  process.send?.({ type: 'ready' });
} catch (err) {
  process.send?.({ type: 'failed', error: (err as Error).message });
  process.exit(1);
}
