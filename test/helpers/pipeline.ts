/**
 * Helpers for pipeline tests: a simulator + an in-process connector on the shared test stack,
 * each test with its own topics and group; Avro producing and reading through the real registry.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { startApp, type RunningApp } from '../../src/app/start.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { SmsDeliveryEvent, SmsOutbound } from '../../src/contracts.js';
import { AvroCodec } from '../../src/kafka/codec.js';
import { registerCompressionCodecs } from '../../src/kafka/compression.js';
import { unpackCorrelation } from '../../src/kafka/correlation-bundle.js';
import type { Behaviour } from '../../src/simulator/behaviour.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/simulator.js';
import { testStack, uniqueGroupId, uniqueTopics, type StackInfo, type TestTopics } from './stack.js';

export const testLogger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

/** Environment for a fast test connector: short timeouts and backoffs, plain TCP to the simulator. */
export function testEnv(stack: StackInfo, topics: TestTopics, smppPort: number, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: stack.kafkaBrokers,
    KAFKA_GROUP_ID: uniqueGroupId(topics.outbound),
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    KAFKA_HEARTBEAT_INTERVAL_MS: '500',
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    TOPIC_OUTBOUND: topics.outbound,
    TOPIC_DELIVERY: topics.delivery,
    TOPIC_DLQ: topics.dlq,
    TOPIC_CORRELATION: topics.correlation,
    TOPIC_CORRELATION_LIVE: topics.correlationLive,
    TOPIC_RECEIPTS: topics.receipts,
    TOPIC_PARTITIONS: '3',
    SMPP_HOST: '127.0.0.1',
    SMPP_PORT: String(smppPort),
    SMPP_TLS: 'false',
    SMPP_SYSTEM_ID: 'test',
    SMPP_PASSWORD: 'secret',
    SMPP_SESSIONS: 'trx:2',
    SMPP_RESPONSE_TIMEOUT_MS: '2000',
    SMPP_RECONNECT_MIN_MS: '50',
    SMPP_RECONNECT_MAX_MS: '500',
    SMPP_BIND_ERROR_BACKOFF_MS: '500',
    SMPP_BIND_HANDOVER_MS: '200',
    ACCOUNT_PROBE_INTERVAL_MS: '300',
    RECEIPT_ACK_WAIT_MS: '3000',
    SHUTDOWN_DRAIN_MS: '5000',
    HTTP_PORT: '0',
    LOG_LEVEL: 'silent',
    ...overrides,
    ...suiteEnv(),
  };
}

/**
 * KSC_CONNECTOR_ENV="KEY=VALUE,…": set on every connector a test starts, over the test's own
 * settings — to run a whole suite in another mode (e.g. CORRELATION_OWNERSHIP=partitioned).
 */
function suiteEnv(): Record<string, string> {
  const spec = process.env['KSC_CONNECTOR_ENV'];
  if (!spec) return {};
  return Object.fromEntries(
    spec.split(',').map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`KSC_CONNECTOR_ENV: "${pair}" is not KEY=VALUE`);
      return [pair.slice(0, at).trim(), pair.slice(at + 1)];
    }),
  );
}

export interface PipelineFixture {
  stack: StackInfo;
  topics: TestTopics;
  sim: Simulator;
  env: Record<string, string>;
  config: Readonly<Config>;
  app: RunningApp;
  codec: AvroCodec;
  stop(): Promise<void>;
}

export async function startPipeline(
  name: string,
  opts: {
    behaviour?: Partial<Behaviour>;
    env?: Record<string, string>;
    simulator?: Omit<SimulatorOptions, 'behaviour' | 'plainPort'>;
    /** Topics created before the connector starts, with these configs (e.g. a small max.message.bytes). */
    precreate?: Partial<Record<keyof TestTopics, Array<{ name: string; value: string }>>>;
    /** Another broker than the shared stack's (e.g. one with SASL and ACLs; its kafkaSasl is used by the test's clients). */
    stack?: StackInfo;
    /** Topic names chosen (and perhaps created and granted) before the start; default uniqueTopics(name). */
    topics?: TestTopics;
  } = {},
): Promise<PipelineFixture> {
  const stack = opts.stack ?? (await testStack());
  const topics = opts.topics ?? uniqueTopics(name);
  if (opts.precreate) {
    const admin = kafkaFor(stack).admin();
    await admin.connect();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: Object.entries(opts.precreate).map(([which, configEntries]) => ({ topic: topics[which as keyof TestTopics], numPartitions: 3, configEntries })),
      });
    } finally {
      await admin.disconnect();
    }
  }
  const sim = await startSimulator({ ...opts.simulator, plainPort: 0, behaviour: { receiptDelayMs: 10, ...opts.behaviour } });
  const env = testEnv(stack, topics, sim.plainPort!, opts.env);
  const config = loadConfig(env);
  const app = await startApp(config, testLogger);
  const codec = new AvroCodec(config.registry, config.topics);
  await codec.registerContracts();
  return {
    stack,
    topics,
    sim,
    env,
    config,
    app,
    codec,
    async stop() {
      await app.stop();
      await sim.close();
    },
  };
}

/** A plain test client that reads and writes every codec, like the connector (KAFKA_COMPRESSION); with the stack's SASL credentials if it has any. */
export function kafkaFor(stack: StackInfo): Kafka {
  registerCompressionCodecs();
  return new Kafka({
    clientId: `test-${randomUUID()}`,
    brokers: stack.kafkaBrokers.split(','),
    logLevel: logLevel.NOTHING,
    ...(stack.kafkaSasl ? { sasl: stack.kafkaSasl } : {}),
  });
}

export { outbound } from './outbound.js';

export async function produce(
  stack: StackInfo,
  topic: string,
  codec: AvroCodec,
  records: Array<{ key: string | null; value: SmsOutbound | Buffer | null }>,
): Promise<void> {
  const producer = kafkaFor(stack).producer();
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 500) {
      const chunk = records.slice(i, i + 500);
      const messages = await Promise.all(
        chunk.map(async (r) => ({
          key: r.key,
          value: r.value === null || Buffer.isBuffer(r.value) ? r.value : codec.encodeOutbound(r.value),
        })),
      );
      await producer.send({ topic, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface ReadRecord<T> {
  key: string | null;
  value: T;
  headers: Record<string, string>;
  partition: number;
  offset: string;
}

/** Reads a topic from the beginning until `done(records)` or the deadline; decodes with `decode`. */
export async function readTopic<T>(
  stack: StackInfo,
  topic: string,
  decode: (v: Buffer | null) => Promise<T>,
  done: (records: ReadRecord<T>[]) => boolean,
  timeoutMs: number,
): Promise<ReadRecord<T>[]> {
  const consumer = kafkaFor(stack).consumer({ groupId: `reader-${randomUUID()}`, maxWaitTimeInMs: 200 });
  const out: ReadRecord<T>[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let finished: () => void;
  const finishedP = new Promise<void>((r) => (finished = r));
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      out.push({ key: message.key?.toString() ?? null, value: await decode(message.value), headers, partition, offset: message.offset });
      if (done(out)) finished();
    },
  });
  const timer = setTimeout(() => finished(), timeoutMs);
  if (done(out)) finished!();
  await finishedP;
  clearTimeout(timer);
  await consumer.disconnect();
  return out;
}

/**
 * The SMSC message ids recorded in the correlation topic (its `r:` snapshots), read to its end: what
 * a restarted connector's replay check can know (the crash oracle, oracle.ts crashDuplicates).
 */
export async function recordedMessageIds(stack: StackInfo, topic: string): Promise<Set<string>> {
  const admin = kafkaFor(stack).admin();
  await admin.connect();
  const ends = new Map<number, bigint>();
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high));
  } finally {
    await admin.disconnect();
  }
  const next = new Map<number, bigint>();
  const reached = (): boolean => [...ends].every(([p, end]) => (next.get(p) ?? 0n) >= end);
  const records = await readTopic(
    stack,
    topic,
    async (v) => v,
    (rs) => {
      const last = rs.at(-1);
      if (last) next.set(last.partition, BigInt(last.offset) + 1n);
      return reached();
    },
    30000,
  );
  assert.ok(reached(), `correlation topic read to its end (${records.length} records)`);
  const ids = new Set<string>();
  for (const r of records) {
    for (const [key, value] of unpackCorrelation(r.key ?? '', r.value)) {
      if (!key.startsWith('r:') || !value) continue;
      for (const m of (value as { messageIds: Array<string | null> }).messageIds) if (m) ids.add(m);
    }
  }
  return ids;
}

export async function readDelivery(fx: PipelineFixture, done: (events: SmsDeliveryEvent[]) => boolean, timeoutMs = 60000): Promise<SmsDeliveryEvent[]> {
  const records = await readTopic(
    fx.stack,
    fx.topics.delivery,
    async (v) => (await fx.codec.decodeRaw(v)) as unknown as SmsDeliveryEvent,
    (rs) => done(rs.map((r) => r.value)),
    timeoutMs,
  );
  return records.map((r) => r.value);
}

/** Committed offsets of the connector's group, summed over partitions, and the topic's end. */
export async function committedVsEnd(fx: PipelineFixture): Promise<{ committed: number; end: number }> {
  const admin = kafkaFor(fx.stack).admin();
  await admin.connect();
  try {
    const [group] = await admin.fetchOffsets({ groupId: fx.config.kafka.groupId, topics: [fx.topics.outbound] });
    const ends = await admin.fetchTopicOffsets(fx.topics.outbound);
    const committed = (group?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    return { committed, end: ends.reduce((n, p) => n + Number(p.high), 0) };
  } finally {
    await admin.disconnect();
  }
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, label: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
}

/** One more in-process connector on the fixture's topics, group and simulator (a replica). */
export async function startReplica(fx: PipelineFixture, overrides: Record<string, string> = {}): Promise<RunningApp> {
  return startApp(loadConfig({ ...fx.env, ...overrides }), testLogger);
}

/** The DLQ topic read from the beginning (raw values, Kafka Connect headers). */
export async function readDlq(
  fx: PipelineFixture,
  done: (records: ReadRecord<Buffer | null>[]) => boolean,
  timeoutMs = 60000,
): Promise<ReadRecord<Buffer | null>[]> {
  return readTopic(fx.stack, fx.topics.dlq, async (v) => v, done, timeoutMs);
}

export interface TopicCollector<T> {
  readonly records: ReadRecord<T>[];
  stop(): Promise<void>;
}

/**
 * Reads a topic from the beginning into `records`, continuously, until stop(): for tests that
 * wait on growing output (poll `records` with waitUntil) instead of re-reading per check.
 */
export async function collectTopic<T>(stack: StackInfo, topic: string, decode: (v: Buffer | null) => Promise<T>): Promise<TopicCollector<T>> {
  const consumer = kafkaFor(stack).consumer({ groupId: `collector-${randomUUID()}`, maxWaitTimeInMs: 200 });
  const records: ReadRecord<T>[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      records.push({ key: message.key?.toString() ?? null, value: await decode(message.value), headers, partition, offset: message.offset });
    },
  });
  return { records, stop: () => consumer.disconnect() };
}

/** collectTopic on the delivery topic, decoded as events. */
export async function collectDelivery(fx: Pick<PipelineFixture, 'stack' | 'topics' | 'codec'>): Promise<TopicCollector<SmsDeliveryEvent>> {
  return collectTopic(fx.stack, fx.topics.delivery, async (v) => (await fx.codec.decodeRaw(v)) as unknown as SmsDeliveryEvent);
}
