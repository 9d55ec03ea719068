/**
 * Bench role (b): the Kafka ceiling — kafkajs consumes Avro sms.outbound, decodes each record
 * with confluent-schema-registry, encodes one SmsDeliveryEvent per record and produces the batch.
 * No SMPP. env: BROKERS, REGISTRY_URL, TOPIC_OUTBOUND, TOPIC_DELIVERY, GROUP.
 * Requests: stats → { consumed, produced, firstBatchAt, lastAckAt (epoch ms), cpuMs (this process's
 * utime+stime from its first batch to its last ack) }.
 */
import { readFileSync } from 'node:fs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { kafkaClient, serveRole } from '../common.js';

const env = process.env as Record<string, string>;
const registry = new SchemaRegistry({ host: env['REGISTRY_URL']! });
const counters = { consumed: 0, produced: 0, firstBatchAt: 0, lastAckAt: 0, cpuMs: 0 };
let cpuAtFirstBatch: NodeJS.CpuUsage | null = null;

try {
  const schema = readFileSync(new URL('../../../schemas/sms-delivery.avsc', import.meta.url), 'utf8');
  const { id: deliveryId } = await registry.register({ type: SchemaType.AVRO, schema }, { subject: `${env['TOPIC_DELIVERY']}-value` });
  // Schema in the cache before the first batch: otherwise every record of the first fetch (most of
  // the backlog) asks the registry for it at once, and that stampede is what would be timed.
  await registry.getSchema(await registry.getLatestSchemaId(`${env['TOPIC_OUTBOUND']}-value`));
  const kafka = kafkaClient({ kafkaBrokers: env['BROKERS']!, registryUrl: env['REGISTRY_URL']! }, 'bare-kafka');
  const producer = kafka.producer();
  await producer.connect();
  const consumer = kafka.consumer({ groupId: env['GROUP']! });
  await consumer.connect();
  await consumer.subscribe({ topic: env['TOPIC_OUTBOUND']!, fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: 12,
    eachBatch: async ({ batch }) => {
      if (!cpuAtFirstBatch) {
        cpuAtFirstBatch = process.cpuUsage();
        counters.firstBatchAt = Date.now();
      }
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
      counters.lastAckAt = Date.now();
      const cpu = process.cpuUsage(cpuAtFirstBatch);
      counters.cpuMs = (cpu.user + cpu.system) / 1000;
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
