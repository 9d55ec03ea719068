/**
 * What the producer and the delivery reader open: a kafkajs client built like the connector's
 * (`kafka/client.ts`: same retries, TLS and compression codecs) and the Avro codec on the same
 * registry and subjects as the connector.
 */
import type { Kafka } from 'kafkajs';
import { pino, type Logger } from 'pino';
import type { ClientConfig } from '../config.js';
import { connectAdmin, createKafka, topicExists } from '../kafka/client.js';
import { AvroCodec } from '../kafka/codec.js';

/** Kafka, the schema registry and the topic names; `loadClientConfig(process.env)` reads them from the environment. */
export type SmsClientConfig = Readonly<ClientConfig>;

export interface Connection {
  kafka: Kafka;
  codec: AvroCodec;
}

/**
 * `register` registers the connector's schemas under the topics' subjects (needed to encode;
 * idempotent: they are the schemas the connector registers). Decoding needs no registration.
 * kafkajs logs to `logger`; without one it is silent (its errors also reach the caller as thrown errors).
 */
export async function openConnection(config: SmsClientConfig, opts: { register: boolean; logger?: Logger | undefined }): Promise<Connection> {
  const kafka = createKafka(config.kafka, opts.logger ?? pino({ level: 'silent' }));
  const codec = new AvroCodec(config.registry, { outbound: config.topics.outbound, delivery: config.topics.delivery, inbound: null });
  if (opts.register) await codec.registerContracts();
  return { kafka, codec };
}

/** A topic the caller needs does not exist; `variable` names the setting that chose it. */
export class TopicMissingError extends Error {
  readonly code = 'TOPIC_MISSING';
  /** The connector creates its topics at its first start; retrying before that finds the same. */
  readonly retriable = false;

  constructor(
    readonly topic: string,
    readonly variable: string,
  ) {
    super(`topic ${topic} does not exist (${variable}); start the connector once (it creates its topics) or create it`);
    this.name = 'TopicMissingError';
  }
}

/**
 * Fails in one line naming the topic and its setting, instead of after kafkajs' retries: a refused
 * login (`KafkaLoginRefusedError`, naming KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD), a topic this
 * principal may not DESCRIBE (`TopicNotAuthorizedError`), a missing topic (`TopicMissingError`).
 */
export async function requireTopic(kafka: Kafka, topic: string, variable: string): Promise<void> {
  const admin = kafka.admin();
  await connectAdmin(admin);
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(topic) && !(await topicExists(admin, topic, variable))) throw new TopicMissingError(topic, variable);
  } finally {
    await admin.disconnect();
  }
}
