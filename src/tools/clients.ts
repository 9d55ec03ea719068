/**
 * What every client tool opens: a kafkajs client (through `kafka/client.ts`, so retries and logging
 * match the connector's) and the Avro codec on the same registry and subjects as the connector.
 */
import type { Kafka } from 'kafkajs';
import type { ClientConfig } from '../config.js';
import { createKafka } from '../kafka/client.js';
import { AvroCodec } from '../kafka/codec.js';
import { createLogger, type Logger } from '../obs/logger.js';

export interface ToolClients {
  kafka: Kafka;
  codec: AvroCodec;
  logger: Logger;
}

/**
 * Opens the clients; `register` registers our schemas under the topics' subjects (needed to encode;
 * idempotent — the same schemas the connector registers). Decoding needs no registration.
 */
export async function openClients(config: Readonly<ClientConfig>, opts: { register: boolean; logger?: Logger }): Promise<ToolClients> {
  // Tools print their own lines on stdout; only kafkajs' errors reach stderr, as JSON (its warnings
  // are noise here, e.g. the idempotent producer's note on bounded retries).
  const logger = opts.logger ?? createLogger('error', process.stderr);
  const kafka = createKafka(config.kafka, logger);
  const codec = new AvroCodec(config.registry, { outbound: config.topics.outbound, delivery: config.topics.delivery, inbound: null });
  if (opts.register) await codec.registerContracts();
  return { kafka, codec, logger };
}

/** A missing topic fails in one line naming it and its variable, instead of after kafkajs' retries. */
export async function requireTopic(kafka: Kafka, topic: string, variable: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) {
      throw new Error(`topic ${topic} does not exist (${variable}); start the connector once (it creates its topics) or create it`);
    }
  } finally {
    await admin.disconnect();
  }
}
