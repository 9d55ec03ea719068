/**
 * The kafkajs client and topic set-up. Only `src/kafka/*` imports kafkajs.
 */
import { Kafka, logLevel as KafkaLogLevel, type Admin, type ITopicConfig, type KafkaConfig, type SASLOptions } from 'kafkajs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { ISocketFactory } from 'kafkajs';
import type { Logger } from 'pino';
import { isTopicAuthorizationFailure, loginRefusedError, TopicNotAuthorizedError } from './access-errors.js';
import { registerCompressionCodecs } from './compression.js';
import { fixEncoderBuffers, fixRequestQueueTimer } from './kafkajs-fixes.js';
import type { TlsFiles } from '../config-posture.js';
import { backoffDelayMs, SPREAD_JITTER, type BackoffPolicy } from '../util/backoff.js';

export interface KafkaClientConfig {
  brokers: string[];
  clientId: string;
  ssl: boolean;
  sasl: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string } | null;
  /** PEM text of KAFKA_SSL_CA_FILE / _CERT_FILE / _KEY_FILE (a private CA, mutual TLS); default none. */
  pem?: TlsFiles;
  /** How many times a failed connection or request is retried (default 10, ≈ 30 s: outlasts a broker restart). */
  retries?: number;
}

/** kafkajs' `ssl`: `true` (Node's public CAs) or the TLS options carrying our CA and client certificate. */
export function sslOption(config: KafkaClientConfig): KafkaConfig['ssl'] {
  const { ca, cert, key } = config.pem ?? { ca: null, cert: null, key: null };
  if (!config.ssl || (ca === null && cert === null)) return config.ssl;
  return { ...(ca !== null ? { ca } : {}), ...(cert !== null && key !== null ? { cert, key } : {}) };
}

/** Routes kafkajs' own log lines into pino at the same level, so one log stream tells the story. */
function kafkaLogCreator(logger: Logger) {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }: { level: KafkaLogLevel; log: { message: string; [k: string]: unknown } }) => {
      const { message, timestamp: _t, logger: _l, ...extra } = log;
      if (level === KafkaLogLevel.ERROR) child.error(extra, message);
      else if (level === KafkaLogLevel.WARN) child.warn(extra, message);
      else if (level === KafkaLogLevel.INFO) child.debug(extra, message);
      else child.trace(extra, message);
    };
}

/**
 * kafkajs' default socket factory without Nagle's algorithm: a small request (heartbeat, offset
 * commit) written while an earlier one is unacknowledged would otherwise wait for the broker's
 * delayed ACK (~40 ms on Linux). Same keep-alive as the default.
 */
const noDelaySocketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? tls.connect({ host, port, ...(!net.isIP(host) ? { servername: host } : {}), ...(typeof ssl === 'object' ? ssl : {}) }, onConnect)
    : net.connect({ host, port }, onConnect);
  socket.setKeepAlive(true, 60_000);
  socket.setNoDelay(true);
  return socket;
};

/** Every kafkajs client of the process is built here, so this is where the codecs and the kafkajs fixes are installed. */
export function createKafka(config: KafkaClientConfig, logger: Logger): Kafka {
  registerCompressionCodecs();
  if (!fixRequestQueueTimer()) logger.warn('kafkajs request queue not found where 2.2.4 has it: its 1 ms idle timer stays');
  if (!fixEncoderBuffers()) logger.warn('kafkajs encoder not as 2.2.4 has it: its buffers stay zero-filled, one ArrayBuffer each');
  return new Kafka(kafkaConfigFrom(config, logger));
}

/**
 * The kafkajs client options. The SASL options are a copy: kafkajs 2.2.4 stores the mechanism's
 * authentication provider on the object it was given (`sasl.authenticationProvider`,
 * broker/saslAuthenticator), and the config's is frozen — every SASL login failed with "Cannot add
 * property authenticationProvider, object is not extensible" before a byte reached the broker
 * (found by test/integration/kafka-authorization.test.ts, the first test against a SASL broker).
 */
export function kafkaConfigFrom(config: KafkaClientConfig, logger: Logger): KafkaConfig {
  const kafkaConfig: KafkaConfig = {
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: sslOption(config),
    socketFactory: noDelaySocketFactory,
    logLevel: KafkaLogLevel.INFO,
    logCreator: kafkaLogCreator(logger),
    // Reconnects must outlast a broker restart (fault F4): keep retrying with a short ceiling so
    // progress resumes within seconds of the broker coming back.
    retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: config.retries ?? 10 },
    connectionTimeout: 5000,
    requestTimeout: 30000,
  };
  if (config.sasl) kafkaConfig.sasl = { ...config.sasl } as SASLOptions;
  return kafkaConfig;
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
export async function ensureTopics(admin: Admin, plans: TopicPlan[], autoCreate: boolean, deadlineMs = 30000): Promise<{ created: string[] }> {
  // Right after a topic is created a busy broker can answer metadata requests with "This server
  // does not host this topic-partition" (seen once in the suite: start-up died on it).
  return retryUntil(Date.now() + deadlineMs, () => ensureTopicsOnce(admin, plans, autoCreate), isTransientMetadataError, 250);
}

/**
 * Runs `attempt` until it resolves; an error that `retriable` accepts is retried after a pause that
 * starts at `pauseMs` and doubles to 4 × `pauseMs` (±20 %, so replicas starting together spread out)
 * until `deadline` (epoch ms) would pass, then thrown — as is any other error at once.
 */
export async function retryUntil<T>(deadline: number, attempt: () => Promise<T>, retriable: (err: unknown) => boolean, pauseMs = 200): Promise<T> {
  const policy: BackoffPolicy = { initialMs: pauseMs, maxMs: 4 * pauseMs, jitter: SPREAD_JITTER };
  for (let failures = 0; ; failures++) {
    try {
      return await attempt();
    } catch (err) {
      const waitMs = backoffDelayMs(policy, failures);
      if (!retriable(err) || Date.now() + waitMs > deadline) throw err;
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}

/** Partition → end offset, for the partitions that hold records (an empty or wholly expired one has nothing to read). */
export function nonEmptyEnds(offsets: { partition: number; high: string; low: string }[]): Map<number, bigint> {
  return new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
}

/** How many partitions `topic` has (the correlation bundles are packed per partition). */
export async function partitionCount(admin: Admin, topic: string, deadlineMs = 30000): Promise<number> {
  const { topics } = await retryUntil(Date.now() + deadlineMs, () => admin.fetchTopicMetadata({ topics: [topic] }), isTransientMetadataError, 250);
  const count = topics.find((t) => t.name === topic)?.partitions.length ?? 0;
  if (count < 1) throw new Error(`topic ${topic} has no partitions in the broker's metadata`);
  return count;
}

const TRANSIENT_METADATA_ERRORS = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION', 'NOT_CONTROLLER']);

function isTransientMetadataError(err: unknown): boolean {
  const e = err as { type?: string; cause?: { type?: string } } | null;
  return TRANSIENT_METADATA_ERRORS.has(e?.type ?? '') || TRANSIENT_METADATA_ERRORS.has(e?.cause?.type ?? '');
}

/**
 * `admin.connect()`; a refused SASL login becomes `KafkaLoginRefusedError`, one line naming
 * KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD (a ConfigError), instead of kafkajs' error and its stack.
 */
export async function connectAdmin(admin: Admin): Promise<void> {
  try {
    await admin.connect();
  } catch (err) {
    throw loginRefusedError(err) ?? err;
  }
}

/**
 * Whether a topic that `listTopics` did not list is really missing (asked only then: a missing
 * topic's answer is an error line in kafkajs' log). `listTopics` leaves out what this
 * principal may not DESCRIBE; asked by name, the broker answers UNKNOWN_TOPIC_OR_PARTITION for a
 * missing topic and TOPIC_AUTHORIZATION_FAILED (thrown as `TopicNotAuthorizedError`) for one it
 * will not show. The admin's metadata request never creates a topic (kafkajs sends
 * allowAutoTopicCreation=false for the admin). True when it exists after all (created meanwhile).
 */
export async function topicExists(admin: Admin, topic: string, variable?: string): Promise<boolean> {
  try {
    await admin.fetchTopicMetadata({ topics: [topic] });
    return true;
  } catch (err) {
    if (isTopicAuthorizationFailure(err)) throw new TopicNotAuthorizedError(topic, variable);
    if ((err as { type?: unknown }).type === 'UNKNOWN_TOPIC_OR_PARTITION') return false;
    throw err;
  }
}

async function ensureTopicsOnce(admin: Admin, plans: TopicPlan[], autoCreate: boolean): Promise<{ created: string[] }> {
  const existing = new Set(await admin.listTopics());
  const missing = plans.filter((p) => !existing.has(p.name));
  if (missing.length === 0) return { created: [] };
  if (!autoCreate) {
    // Not listed may be not authorized: asked by name, the broker says which (TopicNotAuthorizedError).
    for (const plan of missing) if (!(await topicExists(admin, plan.name))) throw new MissingTopicError(plan.name);
    return { created: [] };
  }
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((p) => ({
        topic: p.name,
        numPartitions: p.partitions,
        ...(p.configEntries ? { configEntries: p.configEntries } : {}),
      })),
    });
  } catch (err) {
    // Replicas starting together race to create the same topics: "already exists" is success.
    const now = new Set(await admin.listTopics());
    const absent = missing.filter((p) => !now.has(p.name));
    // Still not listed: a topic this principal may not DESCRIBE is named as such (TopicNotAuthorizedError).
    for (const plan of absent) await topicExists(admin, plan.name);
    if (absent.length > 0) throw err;
  }
  await waitForLeaders(
    admin,
    plans.map((p) => p.name),
  );
  return { created: missing.map((p) => p.name) };
}

/**
 * A topic created a moment ago can still answer "This server does not host this topic-partition"
 * to metadata requests (seen on a busy single-node KRaft broker, even after createTopics with
 * waitForLeaders). Subscribing then fails, so start-up waits until every partition has a leader.
 */
async function waitForLeaders(admin: Admin, topics: string[], timeoutMs = 30000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics });
      if (meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      if (Date.now() > until) throw err;
    }
    if (Date.now() > until) throw new Error(`topics ${topics.join(', ')} have no leader after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export class MissingTopicError extends Error {
  constructor(readonly topic: string) {
    super(`topic ${topic} does not exist and TOPIC_AUTO_CREATE=false: create it or set TOPIC_AUTO_CREATE=true`);
    this.name = 'MissingTopicError';
  }
}
