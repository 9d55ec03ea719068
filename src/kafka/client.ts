/**
 * The kafkajs client and topic set-up. Only `src/kafka/*` imports kafkajs.
 */
import { Kafka, logLevel as KafkaLogLevel, type Admin, type ITopicConfig, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';

export interface KafkaClientConfig {
  brokers: string[];
  clientId: string;
  ssl: boolean;
  sasl: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string } | null;
}

/** Routes kafkajs' own log lines into pino at the same level, so one log stream tells the story. */
function kafkaLogCreator(logger: Logger) {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }: { level: number; log: { message: string; [k: string]: unknown } }) => {
      const { message, timestamp: _t, logger: _l, ...extra } = log;
      if (level === KafkaLogLevel.ERROR) child.error(extra, message);
      else if (level === KafkaLogLevel.WARN) child.warn(extra, message);
      else if (level === KafkaLogLevel.INFO) child.debug(extra, message);
      else child.trace(extra, message);
    };
}

export function createKafka(config: KafkaClientConfig, logger: Logger): Kafka {
  const kafkaConfig: KafkaConfig = {
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: config.ssl,
    logLevel: KafkaLogLevel.INFO,
    logCreator: kafkaLogCreator(logger),
    // Reconnects must outlast a broker restart (fault F4): keep retrying with a short ceiling so
    // progress resumes within seconds of the broker coming back.
    retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 10 },
    connectionTimeout: 5000,
    requestTimeout: 30000,
  };
  if (config.sasl) kafkaConfig.sasl = config.sasl as SASLOptions;
  return new Kafka(kafkaConfig);
}

export interface TopicPlan {
  name: string;
  partitions: number;
  /** Extra topic configs, e.g. compaction for the correlation topic. */
  configEntries?: ITopicConfig['configEntries'];
}

/**
 * Creates the missing topics (TOPIC_AUTO_CREATE=true) or reports the first missing one.
 * With KRaft, subscribing to a topic that does not exist yet fails, so this runs before the consumer.
 */
export async function ensureTopics(
  admin: Admin,
  plans: TopicPlan[],
  autoCreate: boolean,
): Promise<{ created: string[] }> {
  const existing = new Set(await admin.listTopics());
  const missing = plans.filter((p) => !existing.has(p.name));
  if (missing.length === 0) return { created: [] };
  if (!autoCreate) {
    throw new MissingTopicError(missing[0]!.name);
  }
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((p) => ({
      topic: p.name,
      numPartitions: p.partitions,
      ...(p.configEntries ? { configEntries: p.configEntries } : {}),
    })),
  });
  return { created: missing.map((p) => p.name) };
}

export class MissingTopicError extends Error {
  constructor(readonly topic: string) {
    super(`topic ${topic} does not exist and TOPIC_AUTO_CREATE=false: create it or set TOPIC_AUTO_CREATE=true`);
    this.name = 'MissingTopicError';
  }
}
