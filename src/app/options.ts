/**
 * What each part of the connector is built with, read off the config. PURE: no I/O, no clients —
 * start.ts does the building; these mappers are where a config field meets the option it sets, so
 * unit tests can check the mapping without Kafka or an SMSC.
 */
import type { Config, SmppRoute } from '../config.js';
import { DEFAULT_ROUTE } from '../pipeline/route-ids.js';
import type { BindSlotRequest } from '../kafka/assigner.js';
import type { TopicPlan } from '../kafka/client.js';
import { COMPRESSION_TYPES } from '../kafka/compression.js';
import type { OutboundConsumerOptions } from '../kafka/outbound-consumer.js';
import type { PublisherOptions } from '../kafka/publisher.js';
import type { Logger } from '../obs/logger.js';
import type { Lane } from '../pipeline/admission.js';
import type { OverdueSweeperDeps } from '../pipeline/overdue-sweeper.js';
import type { PoolOptions } from '../smpp/session/pool.js';
import { formatSessionSpec, sessionTotal } from '../smpp/protocol/pool-spec.js';

type Cfg = Readonly<Config>;

/**
 * How long a complete multipart request may go without its `s:` marker before this replica
 * publishes the summary itself (overdue-sweeper.ts). Normally the marker follows the last final
 * within a second; 30 s leaves room for a slow tail without keeping requests longer.
 */
export const SUMMARY_MARKER_GRACE_MS = 30_000;
/** A removed session drains its in-flight submits this long at most, within the shutdown drain. */
const SESSION_DRAIN_MAX_MS = 5_000;
/** kafkajs runs at most this many partitions of a batch at once, whatever the partition count. */
const PARTITIONS_CONCURRENCY_MAX = 32;
/** Headroom above KAFKA_MAX_RECORD_BYTES for the batch framing around a DLQ copy. */
const DLQ_BATCH_OVERHEAD_BYTES = 1024;

/** Segments of the live-state topic roll hourly: compaction never touches the active one. */
const LIVE_SEGMENT_MS = 3_600_000;

/** The topics start-up creates when missing (TOPIC_AUTO_CREATE) or requires, with their settings. */
export function topicsToEnsure(config: Cfg, correlationPartitions = config.topics.partitions): TopicPlan[] {
  const { topics } = config;
  const partitions = topics.partitions;
  return [
    { name: topics.outbound, partitions },
    ...(topics.outboundUrgent ? [{ name: topics.outboundUrgent, partitions }] : []),
    { name: topics.delivery, partitions },
    // A DLQ copy is cut to KAFKA_MAX_RECORD_BYTES (sinks.ts): the topic must take a batch of that size.
    { name: topics.dlq, partitions, configEntries: [{ name: 'max.message.bytes', value: String(config.kafka.maxRecordBytes + DLQ_BATCH_OVERHEAD_BYTES) }] },
    {
      name: topics.correlation,
      partitions,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact,delete' },
        { name: 'retention.ms', value: String(config.correlationRetentionMs) },
      ],
    },
    {
      // One record per request still waiting after half the restore window, then its tombstone:
      // compaction keeps what a replica on an empty store restores (correlation-promoter.ts).
      name: topics.correlationLive,
      partitions,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'segment.ms', value: String(LIVE_SEGMENT_MS) },
        { name: 'min.cleanable.dirty.ratio', value: '0.1' },
      ],
    },
    ...(topics.inbound ? [{ name: topics.inbound, partitions }] : []),
    // Receipts as received (RECEIPTS_LOG=all) and receipts forwarded to their owner (partitioned
    // ownership): deleted by age. Partition k pairs with correlation partition k, so it takes that
    // topic's count when it exists already (start.ts), not TOPIC_PARTITIONS.
    ...(receiptsTopicUsed(config)
      ? [
          {
            name: topics.receipts,
            partitions: correlationPartitions,
            configEntries: [
              { name: 'cleanup.policy', value: 'delete' },
              { name: 'retention.ms', value: String(config.receiptsRetentionMs) },
            ],
          },
        ]
      : []),
  ];
}

/** Whether anything writes TOPIC_RECEIPTS: the receipts log, or receipts forwarded to the replica owning them. */
export function receiptsTopicUsed(config: Cfg): boolean {
  return config.receiptsLog === 'all' || config.correlationOwnership === 'partitioned';
}

/** The producer's settings; the correlation bundling is added by start-up (it needs the partition count). */
export function publisherSettingsFrom(config: Cfg): Omit<PublisherOptions, 'bundle'> {
  return {
    lingerMs: config.kafka.producerLingerMs,
    compression: COMPRESSION_TYPES[config.kafka.compression],
    maxRecordBytes: config.kafka.maxRecordBytes,
  };
}

/** Options shared by every SMPP session of a route; `ca` is the PEM text of its CA file, read by the caller. */
export function sessionOptionsFrom(smpp: Readonly<SmppRoute>, logger: Logger, ca?: Buffer): PoolOptions['session'] {
  return {
    host: smpp.host,
    port: smpp.port,
    tls: smpp.tls,
    ...(ca ? { ca } : {}),
    tlsServername: smpp.tlsServername,
    tlsRejectUnauthorized: smpp.tlsRejectUnauthorized,
    systemId: smpp.systemId,
    password: smpp.password,
    window: smpp.window,
    rateLimit: smpp.rateLimit,
    rateMargin: smpp.rateMargin,
    enquireLinkMs: smpp.enquireLinkMs,
    responseTimeoutMs: smpp.responseTimeoutMs,
    connectTimeoutMs: smpp.connectTimeoutMs,
    bindTimeoutMs: smpp.bindTimeoutMs,
    reconnectMinMs: smpp.reconnectMinMs,
    reconnectMaxMs: smpp.reconnectMaxMs,
    credentialBackoffMs: smpp.bindErrorBackoffMs,
    logger,
  };
}

/**
 * A route's pool starts with no binds: the group's assigner hands this replica its slots
 * (bind-slots.ts). Session ids are the route's name and the slot (`backup/trx-1`) on any route but
 * `default`, whose ids stay what they were before routes (`trx-1`): metrics and logs tell them apart.
 */
export function poolOptionsFrom(config: Cfg, route: Readonly<SmppRoute>, session: PoolOptions['session']): PoolOptions {
  return {
    spec: route.sessions,
    maxBinds: route.accountMaxBinds,
    bindSlots: 0,
    drainMs: Math.min(config.shutdownDrainMs, SESSION_DRAIN_MAX_MS),
    session,
    ...(route.name === DEFAULT_ROUTE ? {} : { idPrefix: `${route.name}/` }),
  };
}

/** What this replica tells the group's leader about the binds it wants, per route (kafka/assigner.ts). */
export function bindSlotRequestFrom(config: Cfg): BindSlotRequest {
  const requestOf = (route: Readonly<SmppRoute>) => ({
    requestedBinds: sessionTotal(route.sessions),
    sessions: formatSessionSpec(route.sessions),
    cap: route.accountMaxBinds,
  });
  // the first route at the top level too: a leader of a version before routes reads only that
  return { ...requestOf(config.routes[0]!), routes: Object.fromEntries(config.routes.map((r) => [r.name, requestOf(r)])) };
}

/** The overdue sweeper's timing: when a request is overdue, how often to look, how long to keep it. */
export function sweeperTimingFrom(config: Cfg): Pick<OverdueSweeperDeps, 'graceMs' | 'summaryGraceMs' | 'keepCompletedMs' | 'intervalMs'> {
  return {
    graceMs: config.receiptGraceMs,
    // below the keep time, or the request would be pruned before it is due
    summaryGraceMs: Math.min(SUMMARY_MARKER_GRACE_MS, Math.floor(config.correlationKeepDoneMs / 2)),
    keepCompletedMs: config.correlationKeepDoneMs,
    // half the shorter wait, within 1 s .. 60 s
    intervalMs: Math.min(60_000, Math.max(1000, Math.floor(Math.min(config.receiptGraceMs, config.correlationKeepDoneMs) / 2))),
  };
}

/**
 * The consumer group of a lane: the configured one for bulk; `<KAFKA_GROUP_ID>.urgent` for the
 * urgent lane, a group of its own because its consumer joins and leaves with this replica's bind
 * slots (a hot standby must not hold urgent partitions it cannot send) — docs/design.md §5.6.
 */
export function laneGroupId(config: Cfg, lane: Lane): string {
  return lane === 'bulk' ? config.kafka.groupId : `${config.kafka.groupId}.urgent`;
}

/** The outbound consumer's Kafka settings for a lane (the handler, observers and callbacks are wired by start-up). */
export function consumerSettingsFrom(
  config: Cfg,
  lane: Lane = 'bulk',
): Pick<
  OutboundConsumerOptions,
  | 'topic'
  | 'groupId'
  | 'sessionTimeoutMs'
  | 'heartbeatIntervalMs'
  | 'commitIntervalMs'
  | 'fetchMinBytes'
  | 'fetchMaxWaitMs'
  | 'partitionsConcurrency'
  | 'drainMs'
  | 'maxRecordsInProgress'
> {
  const topic = lane === 'bulk' ? config.topics.outbound : config.topics.outboundUrgent;
  if (topic === null) throw new Error('consumerSettingsFrom: no urgent lane configured (TOPIC_OUTBOUND_URGENT)');
  return {
    topic,
    groupId: laneGroupId(config, lane),
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    heartbeatIntervalMs: config.kafka.heartbeatIntervalMs,
    commitIntervalMs: config.kafka.commitIntervalMs,
    fetchMinBytes: config.kafka.fetchMinBytes,
    fetchMaxWaitMs: config.kafka.fetchMaxWaitMs,
    partitionsConcurrency: Math.min(config.topics.partitions, PARTITIONS_CONCURRENCY_MAX),
    drainMs: config.shutdownDrainMs,
    maxRecordsInProgress: recordsInProgressFrom(config),
  };
}

/**
 * Records the consumer works on at once (pipeline/intake-slots.ts): twice what the submitting
 * sessions can hold (admission), so that one is always ready behind every slot — at least 64.
 */
export function recordsInProgressFrom(config: Cfg): number {
  const held = config.routes.reduce((sum, route) => sum + submittingSessions(route) * admissionLimitFrom(route), 0);
  return Math.max(64, 2 * held);
}

function submittingSessions(route: Readonly<SmppRoute>): number {
  return route.sessions.filter((s) => s.mode !== 'rx').reduce((sum, s) => sum + s.count, 0);
}

/** Submits handed to one session of a route at a time (pipeline/admission.ts): its window plus as many queued. */
export function admissionLimitFrom(route: Readonly<SmppRoute>): number {
  return route.window * 2;
}
