/**
 * Wiring and lifecycle — the one place that knows Kafka, SMPP and the pipeline together.
 *
 * Start, one named step each: logs/metrics/health → Kafka and topics → schemas → producer →
 * correlation index → sessions → consumer. Stop (stop.ts) runs in reverse. What each part is built
 * with comes from the pure mappers in options.ts.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '../config.js';
import { ConfigError, redactedConfig, securityWarnings } from '../config.js';
import { createBindSlotAssigner, RECEIPTS_CAP } from '../kafka/assigner.js';
import { BrokerProbe } from '../kafka/broker-probe.js';
import { connectAdmin, createKafka, ensureTopics, MissingTopicError, partitionCount } from '../kafka/client.js';
import { partitionForKey } from '../kafka/partitioner.js';
import { AvroCodec } from '../kafka/codec.js';
import { CorrelationBundler } from '../kafka/correlation-bundle.js';
import { CorrelationTail } from '../kafka/correlation-tail.js';
import { OutboundConsumer } from '../kafka/outbound-consumer.js';
import { ReceiptOwner } from '../kafka/receipt-owner.js';
import { Publisher } from '../kafka/publisher.js';
import { KafkaSinks, liveStateSink } from '../kafka/sinks.js';
import { startHttpServer, type ReadinessReport } from '../obs/http.js';
import type { Logger } from '../obs/logger.js';
import { createMetrics, type Metrics } from '../obs/metrics.js';
import type { Lane } from '../pipeline/admission.js';
import { CORRELATION_STORE_FORMAT, CorrelationIndex, type CorrelationIndexOptions } from '../pipeline/correlation-index.js';
import {
  CorrelationPromoter,
  maxPromotionLagMs,
  promotionAgeMs,
  quietWindowMs,
  TOMBSTONE_LATENCY_WARN_MS,
  tombstoneLatencyMs,
} from '../pipeline/correlation-promoter.js';
import { OutboundProcessor } from '../pipeline/outbound-processor.js';
import { OverdueSweeper } from '../pipeline/overdue-sweeper.js';
import { ReceiptProcessor } from '../pipeline/receipt-processor.js';
import { sleep } from '../pipeline/sleep.js';
import { canReceive } from '../smpp/session/bind.js';
import { openCorrelationStore, type LmdbCorrelationStore } from '../store/lmdb-store.js';
import { backoffDelayMs, SPREAD_JITTER, type BackoffPolicy } from '../util/backoff.js';
import { applyBindSlots } from './bind-slots.js';
import { CorrelationShare } from './correlation-share.js';
import { LegacyRequests } from './legacy-requests.js';
import * as inst from './instrument.js';
import { bindSlotRequestFrom, consumerSettingsFrom, publisherSettingsFrom, receiptsTopicUsed, sweeperTimingFrom, topicsToEnsure } from './options.js';
import { readinessOf, type Parts } from './parts.js';
import { stopParts } from './stop.js';
import { buildRoutes, routeDirectory } from './routes.js';
import { UrgentLane } from './urgent-lane.js';

/** How often the promoter writes what waits long for receipts to the live-state topic. */
const PROMOTION_INTERVAL_MS = 1000;
/** How long start-up waits for the correlation index to catch up with its topic. */
const CORRELATION_CATCH_UP_MS = 60_000;
/**
 * Partitioned ownership: how long a replica keeps the entries of a partition it no longer holds.
 * A rolling restart gives a partition back to its restarted owner (sticky assignment) within
 * minutes; the replicas that held it meanwhile then keep their copy this long, warm for the next.
 */
const KEEP_RELEASED_MS = 15 * 60_000;
/** Schema registration: 60 attempts, 250 ms doubling to 5 s (about 4.5 minutes of a registry outage). */
const REGISTER_ATTEMPTS = 60;
const REGISTER_RETRY: BackoffPolicy = { initialMs: 250, maxMs: 5000, jitter: SPREAD_JITTER };

export interface RunningApp {
  metrics: Metrics;
  httpPort: number;
  readiness(): ReadinessReport;
  stop(): Promise<void>;
}

/** What the process around the app decides. */
export interface AppHooks {
  /**
   * The app cannot go on safely and must be restarted: the correlation store failed to commit a
   * write (it writes nothing more, and is wiped and read again at the next start). The CLI stops
   * gracefully and exits 1; without the hook the replica only reports not ready.
   */
  onFatal?(reason: string): void;
}

export async function startApp(config: Readonly<Config>, logger: Logger, hooks: AppHooks = {}): Promise<RunningApp> {
  logStartup(config, logger);
  const metrics = createMetrics({ onCollectError: (err) => logger.warn({ err }, 'metrics collector failed') });
  inst.initMetricLabels(metrics);
  const parts: Partial<Parts> = { metrics };
  const readiness = () => readinessOf(parts);
  parts.http = await startHttpServer({ port: config.httpPort, readiness, registry: metrics.registry, logger });
  try {
    await startParts(config, logger, parts as Parts, hooks);
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

/** The effective config, and one warn line per weakened or risky setting. */
function logStartup(config: Readonly<Config>, logger: Logger): void {
  logger.info({ config: redactedConfig(config) }, 'starting sms-connector');
  // Allowed, but never silent: one line per weakened setting, at warn so it survives LOG_LEVEL=warn.
  for (const warning of securityWarnings(config)) logger.warn({ security: 'weakened' }, `INSECURE: ${warning}`);
  if (config.ignoredVariables?.length) {
    logger.warn(
      { ignored: config.ignoredVariables },
      `ROUTES_FILE is set: ${config.ignoredVariables.join(', ')} ${config.ignoredVariables.length === 1 ? 'is' : 'are'} not read (the routes file's fields stand for them)`,
    );
  }
  for (const route of config.routes) {
    if (route.sessions.some((s) => canReceive(s.mode))) continue;
    // The provider sends receipts only to receiver binds (rx/trx) of the account.
    logger.warn(
      { route: route.name, sessions: route.sessions },
      'SMPP_SESSIONS has no rx or trx bind: this replica receives no delivery receipts; unless another replica of the group binds a receiver, requests that ask for a report end UNKNOWN after RECEIPT_WAIT_MS + RECEIPT_GRACE_MS',
    );
  }
}

/** The start steps in order; each fills in its parts, so a failure stops exactly what was started. */
async function startParts(given: Readonly<Config>, logger: Logger, p: Parts, hooks: AppHooks): Promise<void> {
  await connectKafka(given, logger, p);
  const codec = await registerSchemas(given, logger, p);
  // Unique per process: marks this process's own correlation bundles, which its tail skips.
  const origin = randomUUID();
  const correlationPartitions = await partitionCount(p.admin, given.topics.correlation);
  const config = await resolveOwnership(given, logger, p, correlationPartitions);
  if (config.correlationOwnership === 'replicated' && config.receiptsLog === 'all') await warnReceiptsPartitions(config, logger, p, correlationPartitions);
  const sinks = await startProducer(config, logger, p, codec, origin, correlationPartitions);
  warnTombstoneLatency(config, logger);
  const legacy = config.correlationOwnership === 'partitioned' ? new LegacyRequests(logger) : null;
  p.legacy = legacy;
  const index = new CorrelationIndex(openStore(config, logger, p, hooks), Date.now, {
    promotedAfterMs: promotionAgeMs(config.correlationRestoreWindowMs),
    ...(legacy ? { onRepublishedFinal: republishFinal(sinks, logger), onLegacyWaiting: legacy.note } : {}),
  });
  // The tail applies other replicas' entries from its start; the receipt processor is built after it.
  const receiptsRef: { processor?: ReceiptProcessor } = {};
  createTail(config, logger, p, index, origin, (key) => receiptsRef.processor?.onRemoteEntry(key));
  // With partitioned ownership a replica holds its share of the correlation state: the partitions
  // of its bulk assignment and its urgent homes. It handles the receipts whose message id's
  // partition is one of its bulk partitions, and forwards the others to their owner — once the
  // group's leader says every member reads forwarded receipts (GroupTerms).
  const share = config.correlationOwnership === 'partitioned' ? correlationShare(config, logger, p, index, correlationPartitions) : null;
  p.share = share;
  p.onGroupTerms = (terms) => share?.onTerms(terms.forwardReceipts);
  const receipts = new ReceiptProcessor({
    index,
    sink: sinks,
    ackWaitMs: config.receiptAckWaitMs,
    matchWaitMs: config.receiptMatchWaitMs,
    now: Date.now,
    logger,
    observer: inst.receiptObserver(p.metrics),
    ...(share ? { ownership: share.ownership() } : {}),
  });
  receiptsRef.processor = receipts;
  await loadCorrelation(config, logger, p, index, share);
  legacy?.reportStart();
  if (share) await startReceiptOwner(config, logger, p, index, sinks, receipts);
  startSessions(config, logger, p, index, sinks, receipts);
  await startConsumer(config, logger, p, codec, sinks, index, correlationPartitions, share, (partitions) => {
    share?.onBulkAssignment(partitions);
    void p.receiptOwner?.follow(partitions);
  });
}

/** A final written again after its subject's republished `m:` entry (correlation-index.ts `onRepublishedFinal`); a failed write is only logged: rare, and the restore it guards against rarer. */
function republishFinal(sinks: KafkaSinks, logger: Logger): NonNullable<CorrelationIndexOptions['onRepublishedFinal']> {
  return (write) => {
    sinks.publish([], [write]).catch((err: unknown) => logger.warn({ err, key: write.key }, 'final not written again after its republished entry'));
  };
}

/**
 * Partitioned ownership: what this replica holds of the correlation state. At start, the bulk
 * partitions it was given last (its store followed them: a restart resumes from their checkpoints);
 * each assignment after that moves it.
 */
function correlationShare(config: Readonly<Config>, logger: Logger, p: Parts, index: CorrelationIndex, partitions: number): CorrelationShare {
  const share = new CorrelationShare(p.tail, {
    partitions,
    partitionOfKey: (key) => partitionForKey(key, partitions),
    catchUpMs: CORRELATION_CATCH_UP_MS,
    logger,
  });
  index.setScope(share.scope());
  void share.holdAtStart(index.lastAssignment(config.topics.outbound));
  return share;
}

/** Kafka client and admin; the topics exist (created when allowed); the broker probe runs. */
async function connectKafka(config: Readonly<Config>, logger: Logger, p: Parts): Promise<void> {
  p.kafka = createKafka(config.kafka, logger);
  p.admin = p.kafka.admin();
  // The first login of the process: refused, it is the credentials (a ConfigError, exit 2), not an
  // outage — the publisher's wait for a refused login (Publisher.connect) is for ACLs and rotations.
  await connectAdmin(p.admin);
  // The receipts topic is ensured once the ownership is settled (resolveOwnership): its partitions pair with the correlation topic's.
  const plans = topicsToEnsure(config).filter((t) => t.name !== config.topics.receipts);
  const { created } = await ensureTopics(p.admin, plans, config.topics.autoCreate);
  if (created.length > 0) logger.info({ created }, 'created missing topics');
  p.probe = new BrokerProbe(p.admin, config.topics.outbound);
  p.probe.start();
}

/** The Avro codec, with the connector's schemas registered (retried while the registry is down or refuses). */
async function registerSchemas(config: Readonly<Config>, logger: Logger, p: Parts): Promise<AvroCodec> {
  const codec = new AvroCodec(config.registry, config.topics, { maxRecordBytes: config.outboundMaxRecordBytes, subjectStrict: config.registry.subjectStrict });
  for (let attempt = 1; ; attempt++) {
    try {
      await codec.registerContracts();
      return codec;
    } catch (err) {
      if (p.stopping || attempt >= REGISTER_ATTEMPTS) throw err;
      // A refusal (404 from a wrong URL path, 401/403, an incompatible schema) is retried too — an
      // ingress or auth proxy mid-rollout answers the same — but said at error level with its code,
      // so a wrong SCHEMA_REGISTRY_URL shows in the first line rather than after 60 attempts.
      const refused = (err as { retriable?: unknown }).retriable === false;
      if (refused)
        logger.error({ err: (err as Error).message, code: (err as { code?: unknown }).code, attempt }, 'schema registry refused the registration; retrying');
      else logger.warn({ err: (err as Error).message, attempt }, 'schema registration failed (registry down or URL wrong); retrying');
      await sleep(backoffDelayMs(REGISTER_RETRY, attempt - 1));
    }
  }
}

/** The producer (correlation records bundled per partition) and the event sinks on top of it. */
async function startProducer(
  config: Readonly<Config>,
  logger: Logger,
  p: Parts,
  codec: AvroCodec,
  origin: string,
  correlationPartitions: number,
): Promise<KafkaSinks> {
  const bundler = new CorrelationBundler({ partitions: correlationPartitions, origin });
  p.publisher = new Publisher(p.kafka, { ...publisherSettingsFrom(config), bundle: { topic: config.topics.correlation, bundler } });
  await p.publisher.connect();
  const topics = {
    ...config.topics,
    receiptsLog: config.receiptsLog === 'all' ? config.topics.receipts : null,
    receiptsForward: config.correlationOwnership === 'partitioned' ? config.topics.receipts : null,
  };
  return new KafkaSinks(p.publisher, codec, topics, inst.sinkObserver(p.metrics, logger), config.kafka.maxRecordBytes);
}

/**
 * A restore window too close to twice CORRELATION_KEEP_DONE_MS is allowed but makes most requests
 * (at or under 0, every one) leave a tombstone in the live-state topic when forgotten: a record per
 * request, which a replica on an empty store reads for the topic's delete.retention.ms.
 */
function warnTombstoneLatency(config: Readonly<Config>, logger: Logger): void {
  const windowMs = config.correlationRestoreWindowMs;
  const keepDoneMs = config.correlationKeepDoneMs;
  const latencyMs = tombstoneLatencyMs(windowMs, keepDoneMs);
  if (latencyMs >= TOMBSTONE_LATENCY_WARN_MS) return;
  const quietMs = quietWindowMs(keepDoneMs);
  logger.warn(
    { windowMs, keepDoneMs, latencyMs, quietWindowMs: quietMs },
    `CORRELATION_RESTORE_WINDOW_MS: every request whose receipts take over ${Math.max(0, latencyMs)} ms leaves a tombstone in the live-state topic when it is forgotten, which a replica on an empty store reads; a window of ${quietMs} ms or more leaves one only after a minute`,
  );
}

/**
 * A receipt is logged in the partition its message id hashes to, which is its `m:` entry's only
 * while both topics have as many partitions (topics created beforehand, or one grown since).
 */
async function warnReceiptsPartitions(config: Readonly<Config>, logger: Logger, p: Parts, correlationPartitions: number): Promise<void> {
  const receiptsPartitions = await partitionCount(p.admin, config.topics.receipts).catch((err: unknown) => {
    logger.warn({ err, topic: config.topics.receipts }, 'TOPIC_RECEIPTS partition count unreadable; not compared with the correlation topic');
    return correlationPartitions;
  });
  if (receiptsPartitions === correlationPartitions) return;
  logger.warn(
    { receipts: config.topics.receipts, receiptsPartitions, correlation: config.topics.correlation, correlationPartitions },
    'TOPIC_RECEIPTS and TOPIC_CORRELATION have different partition counts: a logged receipt is not in the partition of its correlation entry',
  );
}

/**
 * Partitioned ownership pairs bulk partition k with correlation and receipts partition k: the
 * replica given bulk k handles the receipts whose message id hashes to k. Other counts would send
 * receipts to a replica that does not hold their entries. The receipts topic, when missing, is
 * created with the correlation topic's count (whatever TOPIC_PARTITIONS says now). Set
 * explicitly, topics that cannot pair stop the start; left to its default, the replica runs
 * replicated and says why (an upgrade on topics created with other counts keeps working).
 */
async function resolveOwnership(config: Readonly<Config>, logger: Logger, p: Parts, correlationPartitions: number): Promise<Readonly<Config>> {
  const { outbound, receipts, correlation } = config.topics;
  if (!receiptsTopicUsed(config)) return config;
  const why = await (async (): Promise<string | null> => {
    const outboundPartitions = await partitionCount(p.admin, outbound);
    if (config.correlationOwnership === 'partitioned' && outboundPartitions !== correlationPartitions)
      return `TOPIC_OUTBOUND (${outbound}) has ${outboundPartitions} partitions and TOPIC_CORRELATION (${correlation}) ${correlationPartitions}`;
    const plan = topicsToEnsure(config, correlationPartitions).find((t) => t.name === receipts)!;
    try {
      const { created } = await ensureTopics(p.admin, [plan], config.topics.autoCreate);
      if (created.length > 0) logger.info({ created }, 'created missing topics');
    } catch (err) {
      if (config.correlationOwnership !== 'partitioned' || config.correlationOwnershipSet || !(err instanceof MissingTopicError)) throw err;
      return `TOPIC_RECEIPTS (${receipts}) does not exist and TOPIC_AUTO_CREATE=false`;
    }
    const receiptsPartitions = await partitionCount(p.admin, receipts);
    if (config.correlationOwnership === 'partitioned' && receiptsPartitions !== correlationPartitions)
      return `TOPIC_RECEIPTS (${receipts}) has ${receiptsPartitions} partitions and TOPIC_CORRELATION (${correlation}) ${correlationPartitions}`;
    return null;
  })();
  if (why === null) return config;
  if (config.correlationOwnershipSet)
    throw new ConfigError(
      'CORRELATION_OWNERSHIP',
      `CORRELATION_OWNERSHIP=partitioned needs TOPIC_OUTBOUND, TOPIC_CORRELATION and TOPIC_RECEIPTS with as many partitions each: ${why}. Growing a topic in use moves its keys (pending requests would not find their entries): set CORRELATION_OWNERSHIP=replicated, or, when only TOPIC_RECEIPTS differs, recreate it with the correlation topic's count`,
    );
  logger.warn(
    { why },
    `CORRELATION_OWNERSHIP unset: running replicated (every replica holds the whole correlation state), since partitioned ownership needs TOPIC_OUTBOUND, TOPIC_CORRELATION and TOPIC_RECEIPTS with as many partitions each — ${why}. Set CORRELATION_OWNERSHIP=replicated to keep this and silence the warning`,
  );
  return { ...config, correlationOwnership: 'replicated' };
}

/** Partitioned ownership: reads the receipts other replicas forward to this one (the partitions the bulk consumer gives it). */
async function startReceiptOwner(
  config: Readonly<Config>,
  logger: Logger,
  p: Parts,
  index: CorrelationIndex,
  sinks: KafkaSinks,
  receipts: ReceiptProcessor,
): Promise<void> {
  const tail = p.tail;
  p.receiptOwner = new ReceiptOwner(
    {
      kafka: p.kafka,
      admin: p.admin,
      index,
      handle: (receipt, partition, caughtUp) => receipts.forwarded(receipt, partition, caughtUp),
      caughtUp: (partition) => tail.waitCaughtUp(CORRELATION_CATCH_UP_MS, [partition]),
      writeProgress: (writes) => sinks.publish([], writes),
      logger,
      observer: { handled: () => p.metrics.forwardedReceiptsHandled.inc() },
    },
    // Progress older than the restore window is not read by a fresh restore: look back that far.
    { topic: config.topics.receipts, groupPrefix: config.kafka.groupId, lookbackMs: config.correlationRestoreWindowMs },
  );
  await p.receiptOwner.start();
}

/** The correlation index's store on disk (CORRELATION_STORE_DIR), or in a temporary directory. */
function openStore(config: Readonly<Config>, logger: Logger, p: Parts, hooks: AppHooks): LmdbCorrelationStore {
  if (config.correlationIndexMax !== undefined) logger.warn('CORRELATION_INDEX_MAX is ignored: the correlation index lives on disk (CORRELATION_STORE_DIR)');
  const onWriteError = (err: Error) => {
    logger.fatal(
      { err, dir: p.store.dir },
      'correlation store write failed: it writes nothing more and is read again from the topic at the next start; stopping',
    );
    hooks.onFatal?.('correlation store write failed');
  };
  try {
    p.store = openCorrelationStore({ dir: config.correlationStoreDir, format: CORRELATION_STORE_FORMAT, onWriteError });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      'CORRELATION_STORE_DIR',
      `CORRELATION_STORE_DIR: cannot open the correlation store in ${config.correlationStoreDir ?? 'a temporary directory'}: ${code ? `${code}, ` : ''}${(err as Error).message}`,
    );
  }
  if (p.store.wiped !== undefined) logger.warn({ dir: p.store.dir, why: p.store.wiped }, 'correlation store wiped; the topic is read again from its beginning');
  if (!config.correlationStoreDir)
    logger.info(
      { dir: p.store.dir },
      'CORRELATION_STORE_DIR unset: correlation store in a temporary directory, so every start reads the whole correlation topic',
    );
  return p.store;
}

/**
 * The correlation tail, not started: what it holds is set before its start (partitioned
 * ownership). A released partition's entries stay KEEP_RELEASED_MS, so a rolling restart that
 * gives it back resumes it from its checkpoint.
 */
function createTail(config: Readonly<Config>, logger: Logger, p: Parts, index: CorrelationIndex, origin: string, onRemoteEntry: (key: string) => void): void {
  p.tail = new CorrelationTail(
    p.kafka,
    p.admin,
    index,
    {
      topic: config.topics.correlation,
      liveTopic: config.topics.correlationLive,
      groupPrefix: config.kafka.groupId,
      ownOrigin: origin,
      onRemoteEntry,
      ...(config.correlationOwnership === 'partitioned' ? { keepReleasedMs: KEEP_RELEASED_MS, ownWritesYet: () => p.publisher.correlationWritten } : {}),
    },
    logger,
  );
}

/** The correlation index, read from its topic up to now; other replicas' entries keep arriving after. */
async function loadCorrelation(config: Readonly<Config>, logger: Logger, p: Parts, index: CorrelationIndex, share: CorrelationShare | null): Promise<void> {
  const started = performance.now();
  await p.tail.start();
  await p.tail.waitCaughtUp(CORRELATION_CATCH_UP_MS);
  const seconds = (performance.now() - started) / 1000;
  p.metrics.correlationCatchUpEntries.set(p.tail.appliedEntries);
  p.metrics.correlationCatchUpSeconds.set(seconds);
  logger.info(
    { from: p.tail.restoredFrom, liveRecords: p.tail.liveRecords, entries: p.tail.appliedEntries, seconds: Number(seconds.toFixed(2)), requests: index.size },
    'correlation index caught up',
  );
  const tail = p.tail;
  p.promoter = new CorrelationPromoter({
    index,
    sink: liveStateSink(p.publisher, config.topics.correlationLive),
    windowMs: config.correlationRestoreWindowMs,
    // Stable across restarts (a StatefulSet pod's host name by default): one watermark key per replica, not one per start.
    instanceId: instanceOf(config),
    appliedThrough: () => tail.appliedThrough(),
    // Partitioned: each replica vouches only for the partitions it holds and has caught up on (`w:<k>`).
    // The same partitions its promotion acts for (the index's scope).
    ...(share ? { watermarkPartitions: () => share.actingPartitions() } : {}),
    maxLagMs: maxPromotionLagMs(config.correlationRestoreWindowMs, config.correlationKeepDoneMs),
    intervalMs: PROMOTION_INTERVAL_MS,
    now: Date.now,
    logger,
  });
  p.promoter.start();
  p.metrics.onCollect(inst.collectCorrelation(p.metrics, p.promoter, tail));
}

/** Each route's session pool (no binds until the assigner gives slots), account gate and receipts; the sweeper. */
function startSessions(config: Readonly<Config>, logger: Logger, p: Parts, index: CorrelationIndex, sinks: KafkaSinks, receipts: ReceiptProcessor): void {
  p.routes = buildRoutes(config, logger);
  p.assignmentGeneration = 0;
  for (const route of p.routes) route.pool.onDeliverSm(receipts.handlerFor(route.name));
  p.sweeper = new OverdueSweeper({ index, sink: sinks, ...sweeperTimingFrom(config), now: Date.now, logger });
  p.sweeper.start();
  for (const route of p.routes) route.pool.start();
  p.metrics.onCollect(inst.collectRoutes(p.metrics, p.routes, index));
}

/**
 * The outbound processor behind the group consumer; joining the group hands out the bind slots.
 * With TOPIC_OUTBOUND_URGENT, a second processor and consumer for the urgent lane, sharing the
 * sessions through one admission that serves urgent records first (design.md §5.6).
 */
async function startConsumer(
  config: Readonly<Config>,
  logger: Logger,
  p: Parts,
  codec: AvroCodec,
  sinks: KafkaSinks,
  index: CorrelationIndex,
  correlationPartitions: number,
  share: CorrelationShare | null,
  onDuties: (partitions: number[]) => void,
): Promise<void> {
  const processorFor = (lane: Lane) =>
    new OutboundProcessor({
      decoder: codec,
      sink: sinks,
      index,
      routing: { directory: routeDirectory(p.routes, lane, config, p.metrics), rules: config.routingRules },
      maxSegments: config.sms.maxSegments,
      bounds: config.requestBounds,
      receiptWaitMs: config.receiptWaitMs,
      // A request's home: its record's partition (issue 20; the urgent topic may have more partitions).
      homeOf: (record) => record.partition % correlationPartitions,
      // A segment's `m:` entry: where a record keyed by its correlation id goes (a receipt routed by that id finds it there).
      messagePartitionOf: (correlationId) => partitionForKey(correlationId, correlationPartitions),
      now: Date.now,
      logger,
      observer: inst.processorObserver(p.metrics),
    });
  // What this replica tells the group leader at each join: its bind slot request, and what it owns
  // now and its store followed last, so the leader leaves partitions where they are (assigner.ts).
  const topic = config.topics.outbound;
  let owned: number[] = [];
  const standing = () => ({
    ...bindSlotRequestFrom(config),
    instance: instanceOf(config),
    ...(config.correlationOwnership === 'partitioned' ? { caps: [RECEIPTS_CAP] } : {}),
    owned: { [topic]: owned },
    warm: { [topic]: index.lastAssignment(topic) },
  });
  if (config.topics.outboundUrgent !== null) {
    const urgentProcessor = processorFor('urgent');
    const urgentLogger = logger.child({ lane: 'urgent' });
    p.urgent = new UrgentLane(
      () =>
        new OutboundConsumer({
          kafka: p.kafka,
          ...consumerSettingsFrom(config, 'urgent'),
          handler: urgentProcessor,
          logger: urgentLogger,
          observer: inst.consumerObserver(p.metrics, 'urgent'),
          beforeFirstBatch: () => (share ? share.caughtUp('urgent') : p.tail.waitCaughtUp()),
          ...(share ? { onAssignment: (_memberId: string, partitions: number[]) => share.onUrgentAssignment(partitions) } : {}),
        }),
      urgentLogger,
      share ? () => share.onUrgentAssignment([]) : undefined,
    );
  }
  p.consumer = new OutboundConsumer({
    kafka: p.kafka,
    ...consumerSettingsFrom(config),
    assigners: [createBindSlotAssigner(standing)],
    handler: processorFor('bulk'),
    logger,
    observer: inst.consumerObserver(p.metrics, 'bulk'),
    beforeFirstBatch: () => (share ? share.caughtUp('bulk') : p.tail.waitCaughtUp()),
    onAssignment: (memberId, partitions) => {
      owned = partitions;
      onDuties(partitions);
      index.rememberAssignment(topic, partitions);
      void applyBindSlots(p, memberId, config, logger);
    },
  });
  await p.consumer.start();
}

/** CONNECTOR_INSTANCE_ID, or the host name (a StatefulSet pod keeps its own across restarts). */
function instanceOf(config: Readonly<Config>): string {
  return config.instanceId ?? hostname();
}
