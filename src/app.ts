/**
 * Wiring and lifecycle — the one place that knows Kafka, SMPP and the pipeline together.
 *
 * Start: config → logs/metrics/health → topics → registry → producer → correlation index →
 *        sessions → consumer.
 * Stop (reverse): stop intake → drain in-flight → publish → commit → unbind → disconnect.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Admin, Kafka } from 'kafkajs';
import type { Config } from './config.js';
import { redactedConfig, securityWarnings } from './config.js';
import { createBindSlotAssigner } from './kafka/assigner.js';
import { createKafka, ensureTopics, partitionCount } from './kafka/client.js';
import { COMPRESSION_TYPES } from './kafka/compression.js';
import { BrokerProbe } from './kafka/broker-probe.js';
import { AvroCodec } from './kafka/codec.js';
import { CorrelationBundler } from './kafka/correlation-bundle.js';
import { CorrelationTail } from './kafka/correlation-tail.js';
import { OutboundConsumer } from './kafka/outbound-consumer.js';
import { Publisher } from './kafka/publisher.js';
import { KafkaSinks } from './kafka/sinks.js';
import { startHttpServer, type HttpServerHandle, type ReadinessReport } from './obs/http.js';
import type { Logger } from './obs/logger.js';
import { createMetrics, type Metrics } from './obs/metrics.js';
import { AccountGate } from './pipeline/account-gate.js';
import { Admission } from './pipeline/admission.js';
import { CorrelationIndex } from './pipeline/correlation-index.js';
import { OutboundProcessor } from './pipeline/outbound-processor.js';
import { OverdueSweeper } from './pipeline/overdue-sweeper.js';
import { ReceiptProcessor } from './pipeline/receipt-processor.js';
import { sleep } from './pipeline/sleep.js';
import { SmppPool } from './smpp/pool.js';
import { formatSessionSpec } from './smpp/pool-spec.js';
import * as inst from './app/instrument.js';
import { poolSubmitPort } from './app/submit-port.js';

/**
 * How long a complete multipart request may go without its `s:` marker before this replica
 * publishes the summary itself (overdue-sweeper.ts). Normally the marker follows the last final
 * within a second; 30 s leaves room for a slow tail without keeping requests longer.
 */
const SUMMARY_MARKER_GRACE_MS = 30_000;

export interface RunningApp {
  metrics: Metrics;
  httpPort: number;
  readiness(): ReadinessReport;
  stop(): Promise<void>;
}

export async function startApp(config: Readonly<Config>, logger: Logger): Promise<RunningApp> {
  logger.info({ config: redactedConfig(config) }, 'starting sms-connector');
  // Allowed, but never silent: one line per weakened setting, at warn so it survives LOG_LEVEL=warn.
  for (const warning of securityWarnings(config)) logger.warn({ security: 'weakened' }, `INSECURE: ${warning}`);
  if (!config.smpp.sessions.some((s) => s.mode !== 'tx')) {
    // The provider sends receipts only to receiver binds (rx/trx) of the account.
    logger.warn(
      { sessions: config.smpp.sessions },
      'SMPP_SESSIONS has no rx or trx bind: this replica receives no delivery receipts; unless another replica of the group binds a receiver, requests that ask for a report end UNKNOWN after RECEIPT_WAIT_MS + RECEIPT_GRACE_MS',
    );
  }
  const metrics = createMetrics({ onCollectError: (err) => logger.warn({ err }, 'metrics collector failed') });
  inst.initMetricLabels(metrics);
  const parts: Partial<Parts> = { metrics };
  const readiness = () => readinessOf(parts);
  parts.http = await startHttpServer({ port: config.httpPort, readiness, registry: metrics.registry, logger });
  try {
    await startParts(config, logger, parts as Parts);
  } catch (err) {
    await stopParts(parts, logger, config);
    throw err;
  }
  metrics.onCollect(() => {
    metrics.ready.set(readiness().ready ? 1 : 0);
  });
  logger.info({ httpPort: parts.http.port }, 'sms-connector started');
  return {
    metrics,
    httpPort: parts.http.port,
    readiness,
    stop: () => stopParts(parts, logger, config),
  };
}

interface Parts {
  metrics: Metrics;
  http: HttpServerHandle;
  kafka: Kafka;
  admin: Admin;
  probe: BrokerProbe;
  publisher: Publisher;
  tail: CorrelationTail;
  pool: SmppPool;
  gate: AccountGate;
  consumer: OutboundConsumer;
  sweeper: OverdueSweeper;
  bindSlots: number;
  assignmentGeneration: number;
  stopping: boolean;
}

async function startParts(config: Readonly<Config>, logger: Logger, p: Parts): Promise<void> {
  const { topics } = config;
  p.kafka = createKafka(config.kafka, logger);
  p.admin = p.kafka.admin();
  await p.admin.connect();
  const { created } = await ensureTopics(
    p.admin,
    [
      { name: topics.outbound, partitions: topics.partitions },
      { name: topics.delivery, partitions: topics.partitions },
      // A DLQ copy is cut to KAFKA_MAX_RECORD_BYTES (sinks.ts): the topic must take a batch of that size.
      { name: topics.dlq, partitions: topics.partitions, configEntries: [{ name: 'max.message.bytes', value: String(config.kafka.maxRecordBytes + 1024) }] },
      {
        name: topics.correlation,
        partitions: topics.partitions,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact,delete' },
          { name: 'retention.ms', value: String(config.correlationRetentionMs) },
        ],
      },
      ...(topics.inbound ? [{ name: topics.inbound, partitions: topics.partitions }] : []),
    ],
    topics.autoCreate,
  );
  if (created.length > 0) logger.info({ created }, 'created missing topics');
  p.probe = new BrokerProbe(p.admin, topics.outbound);
  p.probe.start();

  const codec = new AvroCodec(config.registry, topics, { maxRecordBytes: config.outboundMaxRecordBytes, subjectStrict: config.registry.subjectStrict });
  await registerWithRetry(codec, logger, () => p.stopping);

  const instanceId = randomUUID();
  const bundler = new CorrelationBundler({
    partitions: await partitionCount(p.admin, topics.correlation),
    origin: instanceId,
  });
  p.publisher = new Publisher(p.kafka, {
    lingerMs: config.kafka.producerLingerMs,
    compression: COMPRESSION_TYPES[config.kafka.compression],
    maxRecordBytes: config.kafka.maxRecordBytes,
    bundle: { topic: topics.correlation, bundler },
  });
  await p.publisher.connect();
  const sinks = new KafkaSinks(p.publisher, codec, topics, inst.sinkObserver(p.metrics, logger), config.kafka.maxRecordBytes);

  const index = new CorrelationIndex(config.correlationIndexMax);
  let receiptsRef: ReceiptProcessor | null = null;
  p.tail = new CorrelationTail(p.kafka, p.admin, topics.correlation, index, config.kafka.groupId, logger, instanceId, (key) =>
    receiptsRef?.onRemoteEntry(key),
  );
  await p.tail.start();
  await p.tail.waitCaughtUp(60000);
  logger.info({ requests: index.size }, 'correlation index loaded');

  const sessionCount = config.smpp.sessions.reduce((n, s) => n + s.count, 0);
  p.pool = new SmppPool({
    spec: config.smpp.sessions,
    maxBinds: config.smpp.accountMaxBinds,
    bindSlots: 0, // opened once the group assigner hands this replica its slots
    drainMs: Math.min(config.shutdownDrainMs, 5000),
    session: {
      host: config.smpp.host,
      port: config.smpp.port,
      tls: config.smpp.tls,
      ...(config.smpp.tlsCaFile ? { ca: readFileSync(config.smpp.tlsCaFile) } : {}),
      tlsServername: config.smpp.tlsServername,
      tlsRejectUnauthorized: config.smpp.tlsRejectUnauthorized,
      systemId: config.smpp.systemId,
      password: config.smpp.password,
      window: config.smpp.window,
      rateLimit: config.smpp.rateLimit,
      rateMargin: config.smpp.rateMargin,
      enquireLinkMs: config.smpp.enquireLinkMs,
      responseTimeoutMs: config.smpp.responseTimeoutMs,
      connectTimeoutMs: config.smpp.connectTimeoutMs,
      bindTimeoutMs: config.smpp.bindTimeoutMs,
      reconnectMinMs: config.smpp.reconnectMinMs,
      reconnectMaxMs: config.smpp.reconnectMaxMs,
      credentialBackoffMs: config.smpp.bindErrorBackoffMs,
      logger,
    },
  });
  p.bindSlots = 0;
  p.assignmentGeneration = 0;
  p.gate = new AccountGate(config.accountProbeIntervalMs);
  p.gate.onChange((state) => {
    if (state.open) logger.info('account gate open: intake resumed');
    else logger.error({ reason: state.reason }, 'account paused: intake stopped, records kept, probing');
  });
  const receipts = new ReceiptProcessor({
    index,
    sink: sinks,
    ackWaitMs: config.receiptAckWaitMs,
    matchWaitMs: config.receiptMatchWaitMs,
    now: Date.now,
    logger,
    observer: inst.receiptObserver(p.metrics),
  });
  receiptsRef = receipts;
  p.pool.onDeliverSm(receipts.handle);
  p.sweeper = new OverdueSweeper({
    index,
    sink: sinks,
    graceMs: config.receiptGraceMs,
    // below the keep time, or the request would be pruned before it is due
    summaryGraceMs: Math.min(SUMMARY_MARKER_GRACE_MS, Math.floor(config.correlationKeepDoneMs / 2)),
    keepCompletedMs: config.correlationKeepDoneMs,
    intervalMs: Math.min(60000, Math.max(1000, Math.floor(Math.min(config.receiptGraceMs, config.correlationKeepDoneMs) / 2))),
    now: Date.now,
    logger,
  });
  p.sweeper.start();
  p.pool.start();
  p.metrics.onCollect(inst.collectPool(p.metrics, p.pool, index, p.gate));

  const processor = new OutboundProcessor({
    decoder: codec,
    sink: sinks,
    index,
    submit: {
      port: poolSubmitPort(p.pool, new Admission(config.smpp.window * 2)),
      gate: p.gate,
      retryMaxAgeMs: config.retryMaxAgeMs,
      now: Date.now,
      observer: inst.submitObserver(p.metrics),
    },
    maxSegments: config.sms.maxSegments,
    bounds: config.requestBounds,
    receiptWaitMs: config.receiptWaitMs,
    now: Date.now,
    logger,
    observer: inst.processorObserver(p.metrics),
  });

  p.consumer = new OutboundConsumer({
    kafka: p.kafka,
    topic: topics.outbound,
    groupId: config.kafka.groupId,
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    heartbeatIntervalMs: config.kafka.heartbeatIntervalMs,
    commitIntervalMs: config.kafka.commitIntervalMs,
    fetchMinBytes: config.kafka.fetchMinBytes,
    fetchMaxWaitMs: config.kafka.fetchMaxWaitMs,
    partitionsConcurrency: Math.min(topics.partitions, 32),
    drainMs: config.shutdownDrainMs,
    assigners: [
      createBindSlotAssigner({
        requestedBinds: sessionCount,
        sessions: formatSessionSpec(config.smpp.sessions),
        cap: config.smpp.accountMaxBinds,
      }),
    ],
    handler: processor,
    logger,
    observer: inst.consumerObserver(p.metrics),
    beforeFirstBatch: () => p.tail.waitCaughtUp(),
    onAssignment: (memberId) => void applyBindSlots(p, memberId, config, logger),
  });
  await p.consumer.start();
}

/**
 * Sessions follow the group's bind slots. Fewer slots: close the surplus at once. More slots:
 * wait SMPP_BIND_HANDOVER_MS first, so the replica that gave them up has closed its binds —
 * the account never sees more than SMPP_ACCOUNT_MAX_BINDS.
 */
async function applyBindSlots(p: Parts, memberId: string, config: Readonly<Config>, logger: Logger): Promise<void> {
  // Rebalances can follow each other quickly: only the newest assignment may change the pool,
  // or a delayed grow from an older one could land after a newer shrink.
  const generation = ++p.assignmentGeneration;
  const stale = () => p.stopping || generation !== p.assignmentGeneration;
  let slots: number[] | null = null;
  for (let attempt = 0; attempt < 20 && !stale(); attempt++) {
    try {
      slots = await p.consumer.ownBindSlots(memberId);
      break;
    } catch (err) {
      logger.debug({ err: (err as Error).message }, 'bind slots not settled yet');
      await sleep(250);
    }
  }
  if (slots === null || stale()) return;
  const wanted = slots.length;
  if (wanted > p.bindSlots) await sleep(config.smpp.bindHandoverMs);
  if (stale()) return;
  logger.info({ bindSlots: slots, previous: p.bindSlots }, wanted === 0 ? 'no bind slots: hot standby' : 'bind slots assigned');
  p.bindSlots = wanted;
  p.metrics.bindSlots.set(wanted);
  await p.pool.setBindSlots(wanted);
}

async function registerWithRetry(codec: AvroCodec, logger: Logger, stopping: () => boolean): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await codec.registerContracts();
      return;
    } catch (err) {
      if (stopping() || attempt >= 60) throw err;
      logger.warn({ err: (err as Error).message, attempt }, 'schema registration failed (registry down or URL wrong); retrying');
      await sleep(Math.min(5000, 250 * attempt));
    }
  }
}

function readinessOf(p: Partial<Parts>): ReadinessReport {
  const checks: Record<string, boolean | string> = {
    kafka: p.probe ? (p.probe.reachable() ? true : 'broker unreachable') : false,
    consumer: p.consumer?.isJoined ?? false,
    producer: p.publisher ? (p.publisher.problem() ?? true) : false,
    smpp: p.pool ? (p.pool.readyForSubmit() > 0 ? true : p.bindSlots === 0 ? 'standby: no bind slots' : 'no bound session') : false,
    account: p.gate ? (p.gate.current.open ? true : `paused: ${p.gate.current.reason}`) : false,
  };
  // A hot standby (no slots) is ready: it is healthy and waiting for a rebalance.
  const ready = checks.kafka === true && checks.consumer === true && checks.producer === true && (checks.smpp === true || p.bindSlots === 0);
  return { ready, checks };
}

async function stopParts(p: Partial<Parts>, logger: Logger, config: Readonly<Config>): Promise<void> {
  if (p.stopping) return;
  p.stopping = true;
  logger.info({ drainMs: config.shutdownDrainMs }, 'stopping: intake off, draining');
  const step = async (name: string, fn: (() => Promise<unknown>) | undefined) => {
    if (!fn) return;
    try {
      await fn();
    } catch (err) {
      logger.warn({ err, step: name }, 'shutdown step failed');
    }
  };
  await step('consumer', p.consumer && (() => p.consumer!.stop()));
  await step('sessions', p.pool && (() => p.pool!.close()));
  await step('overdue sweeper', p.sweeper && (() => p.sweeper!.stop()));
  await step('correlation tail', p.tail && (() => p.tail!.stop()));
  await step('producer', p.publisher && (() => p.publisher!.close()));
  p.probe?.stop();
  await step('admin', p.admin && (() => p.admin!.disconnect()));
  p.gate?.close();
  await step('http', p.http && (() => p.http!.close()));
  logger.info('stopped');
}
