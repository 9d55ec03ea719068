/** What every scenario gets from main.ts: the stack, the shared backlog, options, the report. */
import { writeRoutesFile } from '../helpers/routes-file.js';
import type { AvroCodec } from '../../src/kafka/codec.js';
import type { BenchTopics, StackRef } from './common.js';
import type { Report } from './report.js';

export interface BenchContext {
  stack: StackRef;
  quick: boolean;
  /** Records in the shared pre-produced backlog (end-to-end, naive, bare Kafka, scale-out). */
  n: number;
  /** The shared backlog topic (12 partitions, Avro SmsOutbound, keys customer-0..999). */
  backlogTopic: string;
  /** The backlog, Avro-encoded (record i at index i). */
  encoded: Buffer[];
  runTag: string;
  codec: AvroCodec;
  report: Report;
  /** Folder for journals, profiles and Kannel's files. */
  workDir: string;
  cpuProf: boolean;
  /** --latency-rate: the latency run's offered msg/s when given (else 50 % of this run's end-to-end). */
  latencyRate: number | null;
  kafkaPid: number;
  /** Node flags of every connector the bench starts: CONNECTOR_NODE_FLAGS, then `--node-flags`. */
  connectorFlags: string[];
  /** `--connector-env`: variables set on every connector the bench starts, over the bench's own (experiments, A/B of a setting). */
  connectorEnv: Record<string, string>;
}

/**
 * The node flags the connector ships with (package.json `start`, the Dockerfile's CMD; an ops-files
 * unit test keeps them equal), so the bench measures the connector as it runs.
 */
export const CONNECTOR_NODE_FLAGS = ['--max-semi-space-size=64'];

/** Environment of one connector instance against the bench stack and a simulator port. */
export function connectorEnv(
  ctx: BenchContext,
  topics: BenchTopics,
  group: string,
  smppPort: number,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...kafkaSideEnv(ctx, topics, group),
    SMPP_HOST: '127.0.0.1',
    SMPP_PORT: String(smppPort),
    SMPP_TLS: 'false',
    SMPP_SYSTEM_ID: 'test',
    SMPP_PASSWORD: 'secret',
    SMPP_SESSIONS: 'trx:4',
    SMPP_BIND_HANDOVER_MS: '200',
    ...extra,
  };
}

/**
 * Environment of one connector whose routes come from a routes file (issue 21): the same as
 * connectorEnv but without the SMPP_* variables, which the connector would not read beside
 * ROUTES_FILE (it warns about each one set).
 */
export function routedConnectorEnv(
  ctx: BenchContext,
  topics: BenchTopics,
  group: string,
  routesFile: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { ...kafkaSideEnv(ctx, topics, group), ROUTES_FILE: routesFile, ...extra };
}

/** A route of a bench routes file: an account on a simulator on 127.0.0.1, plain TCP. */
export interface BenchRoute {
  name: string;
  port: number;
  systemId: string;
  password: string;
  /** SMPP_SESSIONS of the route (the bench's connectorEnv uses trx:4). */
  sessions: string;
  rateLimit: number;
}

/**
 * Writes a routes file (JSON, which the YAML parser reads) with `routes` in order of preference and,
 * when given, a default rule that splits the first choice by `split` weights. Every route gets the
 * bind handover connectorEnv sets for the one-route connector, so the two start alike.
 */
export function benchRoutesFile(file: string, routes: BenchRoute[], split?: Record<string, number>): string {
  return writeRoutesFile(file, {
    routes: routes.map((r) => ({ ...r, bindHandoverMs: 200 })),
    ...(split ? { rules: [{ name: 'default', routes: routes.map((r) => r.name), split }] } : {}),
  });
}

/** What every connector of the bench shares whatever its routes: the stack, its topics and group, quiet logs. */
function kafkaSideEnv(ctx: BenchContext, topics: BenchTopics, group: string): Record<string, string> {
  return {
    KAFKA_BROKERS: ctx.stack.kafkaBrokers,
    KAFKA_GROUP_ID: group,
    KAFKA_CLIENT_ID: group,
    SCHEMA_REGISTRY_URL: ctx.stack.registryUrl,
    TOPIC_OUTBOUND: topics.outbound,
    TOPIC_DELIVERY: topics.delivery,
    TOPIC_DLQ: topics.dlq,
    TOPIC_CORRELATION: topics.correlation,
    TOPIC_CORRELATION_LIVE: topics.correlationLive,
    // Written only with RECEIPTS_LOG=all (--connector-env); named after the run's topics so a run starts empty.
    TOPIC_RECEIPTS: `${topics.correlation}.receipts`,
    TOPIC_PARTITIONS: '12',
    HTTP_PORT: '0',
    LOG_LEVEL: 'error',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
    ...ctx.connectorEnv,
  };
}

/** Environment of the naive loop (c) against the bench stack: 4 trx binds × window 10, like the connector. */
export function naiveEnv(ctx: BenchContext, topics: { outbound: string; delivery: string }, group: string, smppPort: number): Record<string, string> {
  return {
    BROKERS: ctx.stack.kafkaBrokers,
    REGISTRY_URL: ctx.stack.registryUrl,
    TOPIC_OUTBOUND: topics.outbound,
    TOPIC_DELIVERY: topics.delivery,
    GROUP: group,
    SMPP_PORT: String(smppPort),
    SESSIONS: '4',
    WINDOW: '10',
  };
}
