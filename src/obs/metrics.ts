/**
 * The connector's Prometheus metrics, on one registry of its own (not prom-client's global one, so
 * tests and several instances in one process never collide).
 *
 * Conventions (docs/design.md §9): every metric of ours starts with `sms_connector_`; process and
 * Node metrics (`collectDefaultMetrics`, event-loop lag included) keep their standard names; base
 * units (`_seconds`, plain counts), counters end in `_total`.
 *
 * Labels are closed, small sets: topic, partition, session id, bind mode, outcome, status, error
 * category, reason, field name. NEVER put a phone number, request id, message id or free text in a
 * label — each distinct value is a new time series kept in memory by us and by Prometheus, and
 * labels end up in dashboards and alerts that do not get the masking our logs get.
 *
 * Gauges that mirror live objects (window in flight, lag, index size…) are filled at scrape time by
 * functions registered with `onCollect`; they run once per scrape, before any gauge is read.
 */
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
  type LabelValues,
} from 'prom-client';

export const METRIC_PREFIX = 'sms_connector_';

/** A scrape-time collector: sets gauges from live objects. May be async; a throw keeps the old values. */
export type MetricsCollector = () => void | Promise<void>;

export interface Metrics {
  registry: Registry;
  /** Registers a scrape-time collector; returns a function that removes it. */
  onCollect(fn: MetricsCollector): () => void;

  /** Records fetched from Kafka, per topic — the intake rate. */
  recordsConsumed: Counter<'topic'>;
  /** Records decoded into a valid `SmsOutbound` (intake minus poison). */
  recordsDecoded: Counter<string>;
  /** Records that can never be decoded (reason = poison code, e.g. `BAD_MAGIC_BYTE`); each goes to the DLQ. */
  recordsPoison: Counter<'reason'>;
  /** Records written to the DLQ, by reason (poison codes and unparseable receipts) — alert on any rise. */
  dlqRecords: Counter<'reason'>;
  /**
   * Records Kafka refused for good (reason = error type, e.g. MESSAGE_TOO_LARGE, or RECORD_OVER_BUDGET
   * for one over KAFKA_MAX_RECORD_BYTES), by what was written instead (dead-lettered | value-omitted | dropped).
   */
  publishRefused: Counter<'reason' | 'outcome'>;

  /** submit_sm outcomes: accepted | rejected | retried | ambiguous (timeout), by error category. */
  submits: Counter<'route' | 'outcome' | 'category'>;
  /** submit_sm → submit_sm_resp round trip, seconds: the SMSC's responsiveness, and the window's pace. */
  submitDuration: Histogram<string>;
  /** Accepted submit → final receipt, seconds, by final status: how long the network takes to deliver. */
  submitToFinalReceipt: Histogram<'status'>;

  /** Delivery receipts received, by status and error category. */
  receipts: Counter<'status' | 'category'>;
  /** Receipt → request correlation: hit | miss | late_hit (found after a wait/replay). Misses become `unknown:` events. */
  correlationLookups: Counter<'result'>;
  /** Entries in the correlation store (on disk; grows with receipts outstanding): request snapshots and message ids — two per one-segment request until CORRELATION_KEEP_DONE_MS after its submit, then one. */
  correlationIndexEntries: Gauge<string>;
  /** The start-up catch-up of the correlation topic: entries read, and how long it took (from the store's checkpoints, or the whole topic). */
  correlationCatchUpEntries: Gauge<string>;
  correlationCatchUpSeconds: Gauge<string>;
  /** Records written to the live-state topic: `state` (a waiting request promoted), `tombstone` (a promoted one forgotten). */
  correlationLiveWrites: Counter<'kind'>;
  /** How far the correlation tail is behind its topic; promotion pauses past min(W/4, W/2 − keep time). */
  correlationTailLagSeconds: Gauge<string>;

  /** 0x58 throttling answers per session — the provider says we are too fast. */
  throttled: Counter<'session'>;
  /** Current submit pace per session (submit_sm per second) after slow-downs. */
  pacingRatePerSecond: Gauge<'session'>;
  /** Unanswered submit_sm per session (≤ SMPP_WINDOW). */
  windowInFlight: Gauge<'session'>;
  /** Sessions currently bound, by mode (tx | rx | trx). */
  sessionsBound: Gauge<'route' | 'mode'>;
  /** Bind attempts by result (ok, or the failure category: credentials, bind_limit, timeout…). */
  binds: Counter<'route' | 'result'>;
  /** Session reconnects by reason (socket closed, enquire_link timeout, unbind by SMSC…). */
  reconnects: Counter<'route' | 'reason'>;
  /** Bind slots this replica holds from the group assigner (0 = hot standby). */
  bindSlots: Gauge<'route'>;

  /** 1 while intake is paused for the account (reason: credit, credentials, no_session…), else 0. */
  accountPaused: Gauge<'route' | 'reason'>;
  /** 1 while a route's circuit is open or half-open (SMSC-side failures in a row: routing skips it), else 0. */
  routeCircuitOpen: Gauge<'route'>;
  /** Consumer lag per partition, in messages (high watermark − committed offset). */
  consumerLag: Gauge<'lane' | 'partition'>;
  /** Delivery events published to Kafka, by source (SUBMIT, RECEIPT…) and status. */
  eventsPublished: Counter<'source' | 'status'>;
  /** Mobile-originated messages received (always answered; published when TOPIC_INBOUND is set). */
  inboundMessages: Counter<string>;
  /** Receipts written as received to TOPIC_RECEIPTS (RECEIPTS_LOG=all): every deliver_sm receipt, re-sends included. */
  receiptsLogged: Counter<string>;
  /** Receipts received here whose message id another replica owns, appended to TOPIC_RECEIPTS for it (CORRELATION_OWNERSHIP=partitioned). */
  receiptsForwarded: Counter<string>;
  /** Receipts other replicas forwarded, read from TOPIC_RECEIPTS and handled here (their events acked). */
  forwardedReceiptsHandled: Counter<string>;
  /** Requests rejected by validation, by the field at fault (to, from, text…). */
  validationRejected: Counter<'field'>;
  /** Requests never sent because `validUntil` had passed (EXPIRED from CONNECTOR). */
  expired: Counter<string>;
  /** 1 when /readyz says ready, else 0. */
  ready: Gauge<string>;
  /** Times the consumer stopped making progress and was restarted by the watchdog. */
  consumerStalls: Counter<string>;
  /** Times the consumer crashed and a restart was scheduled (with exponential backoff). */
  consumerRestarts: Counter<string>;
}

/** Submit round trips: 1 ms … 30 s (the response timeout is 10 s by default). */
const SUBMIT_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Submit → final receipt: 1 s … 2 days (RECEIPT_WAIT_MS default). */
const FINAL_RECEIPT_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 43200, 86400, 172800];

export function createMetrics(options: { onCollectError?: (err: unknown) => void } = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });

  const collectors = new Set<MetricsCollector>();
  let pending: Promise<void> | null = null;
  // prom-client starts every metric's collect() in the same tick; sharing one promise runs the
  // collectors once per scrape and lets every gauge wait for them before it reports.
  function collectOnce(): Promise<void> {
    pending ??= (async () => {
      // All started in this tick, none awaited before the next: a counter that a collector
      // increments is read in this same tick, so a collector that waited behind another's await
      // would show its increments one scrape late.
      const running: Promise<unknown>[] = [];
      for (const fn of collectors) {
        try {
          const result = fn();
          if (result) running.push(Promise.resolve(result).catch((err: unknown) => options.onCollectError?.(err)));
        } catch (err) {
          options.onCollectError?.(err);
        }
      }
      await Promise.all(running);
    })().finally(() => {
      pending = null;
    });
    return pending;
  }

  const name = (suffix: string) => `${METRIC_PREFIX}${suffix}`;
  const counter = <T extends string>(c: CounterConfiguration<T>) =>
    tallied(c.labelNames ?? [], (collect) => new Counter<T>({ ...c, name: name(c.name), registers: [registry], collect }));
  const gauge = <T extends string>(c: GaugeConfiguration<T>) => new Gauge<T>({ ...c, name: name(c.name), registers: [registry], collect: () => collectOnce() });
  const histogram = <T extends string>(c: HistogramConfiguration<T>) => new Histogram<T>({ ...c, name: name(c.name), registers: [registry] });

  return {
    registry,
    onCollect(fn) {
      collectors.add(fn);
      return () => {
        collectors.delete(fn);
      };
    },
    recordsConsumed: counter({ name: 'records_consumed_total', help: 'Records fetched from Kafka', labelNames: ['topic'] }),
    recordsDecoded: counter({ name: 'records_decoded_total', help: 'Records decoded into a valid SmsOutbound' }),
    recordsPoison: counter({ name: 'records_poison_total', help: 'Records that can never be decoded, by poison code', labelNames: ['reason'] }),
    dlqRecords: counter({ name: 'dlq_records_total', help: 'Records written to the dead-letter topic, by reason', labelNames: ['reason'] }),
    publishRefused: counter({
      name: 'publish_refused_total',
      help: 'Records Kafka refused for good, by error type and what was written instead',
      labelNames: ['reason', 'outcome'],
    }),
    submits: counter({
      name: 'submits_total',
      help: 'submit_sm outcomes (accepted, rejected, retried, ambiguous) by route and error category',
      labelNames: ['route', 'outcome', 'category'],
    }),
    submitDuration: histogram({ name: 'submit_duration_seconds', help: 'submit_sm to submit_sm_resp round trip', buckets: SUBMIT_DURATION_BUCKETS }),
    submitToFinalReceipt: histogram({
      name: 'submit_to_final_receipt_seconds',
      help: 'Accepted submit to final delivery receipt, by final status',
      labelNames: ['status'],
      buckets: FINAL_RECEIPT_BUCKETS,
    }),
    receipts: counter({ name: 'receipts_total', help: 'Delivery receipts received, by status and error category', labelNames: ['status', 'category'] }),
    correlationLookups: counter({
      name: 'correlation_lookups_total',
      help: 'Receipt to request correlation lookups (hit, miss, late_hit)',
      labelNames: ['result'],
    }),
    correlationIndexEntries: gauge({ name: 'correlation_index_entries', help: 'Entries in the correlation store: request snapshots and message ids' }),
    correlationCatchUpEntries: gauge({
      name: 'correlation_catch_up_entries',
      help: 'Correlation entries read at start-up before the replica went on (from the store checkpoints)',
    }),
    correlationCatchUpSeconds: gauge({ name: 'correlation_catch_up_seconds', help: 'Seconds the start-up catch-up of the correlation topic took' }),
    correlationLiveWrites: counter({
      name: 'correlation_live_writes_total',
      help: 'Records written to the live-state topic: state (a request still waiting, promoted), tombstone (a promoted one forgotten)',
      labelNames: ['kind'],
    }),
    correlationTailLagSeconds: gauge({
      name: 'correlation_tail_lag_seconds',
      help: 'How far the correlation tail is behind its topic (the age of the newest end offsets it has reached)',
    }),
    throttled: counter({ name: 'throttled_total', help: 'Throttling (0x58) answers from the SMSC, per session', labelNames: ['session'] }),
    pacingRatePerSecond: gauge({ name: 'pacing_rate_per_second', help: 'Current submit pace per session, submit_sm per second', labelNames: ['session'] }),
    windowInFlight: gauge({ name: 'window_in_flight', help: 'Unanswered submit_sm per session', labelNames: ['session'] }),
    sessionsBound: gauge({ name: 'sessions_bound', help: 'SMPP sessions currently bound, by route and mode', labelNames: ['route', 'mode'] }),
    binds: counter({ name: 'binds_total', help: 'Bind attempts, by route and result', labelNames: ['route', 'result'] }),
    reconnects: counter({ name: 'reconnects_total', help: 'SMPP session reconnects, by route and reason', labelNames: ['route', 'reason'] }),
    bindSlots: gauge({
      name: 'bind_slots',
      help: 'Bind slots this replica holds from the consumer-group assigner, per route (0 = hot standby)',
      labelNames: ['route'],
    }),
    accountPaused: gauge({
      name: 'account_paused',
      help: "1 while a route's account is paused (its intake stopped or failed over), by route and reason",
      labelNames: ['route', 'reason'],
    }),
    routeCircuitOpen: gauge({
      name: 'route_circuit_open',
      help: "1 while a route's circuit is open (a run of system errors or timeouts: its traffic fails over) or half-open (one request tries it), by route",
      labelNames: ['route'],
    }),
    consumerLag: gauge({ name: 'consumer_lag', help: 'Consumer lag per lane (bulk, urgent) and partition, in messages', labelNames: ['lane', 'partition'] }),
    eventsPublished: counter({ name: 'events_published_total', help: 'Delivery events published, by source and status', labelNames: ['source', 'status'] }),
    inboundMessages: counter({ name: 'inbound_messages_total', help: 'Mobile-originated messages received' }),
    receiptsLogged: counter({ name: 'receipts_logged_total', help: 'Receipts written as received to the receipts topic (RECEIPTS_LOG=all)' }),
    receiptsForwarded: counter({
      name: 'receipts_forwarded_total',
      help: 'Receipts received here and forwarded through the receipts topic to the replica owning their message id (CORRELATION_OWNERSHIP=partitioned)',
    }),
    forwardedReceiptsHandled: counter({ name: 'forwarded_receipts_handled_total', help: 'Receipts forwarded by other replicas, handled here' }),
    validationRejected: counter({ name: 'validation_rejected_total', help: 'Requests rejected by validation, by field', labelNames: ['field'] }),
    expired: counter({ name: 'expired_total', help: 'Requests never sent because validUntil had passed' }),
    ready: gauge({ name: 'ready', help: '1 when the connector is ready (see /readyz), else 0' }),
    consumerStalls: counter({ name: 'consumer_stalls_total', help: 'Times the Kafka consumer stalled and was restarted' }),
    consumerRestarts: counter({ name: 'consumer_restarts_total', help: 'Times the Kafka consumer crashed and was restarted after a backoff' }),
  };
}

/** One label combination of a tallied counter: its labels (a copy) and what it gained since the last read. */
interface Tally<T extends string> {
  labels: LabelValues<T>;
  n: number;
}

/**
 * A counter whose increments are summed in plain maps (one level per label, keyed by the label's
 * value) and handed to prom-client when the counter is read — a scrape, or `get()`: both run
 * `collect` first, so a reader never misses an increment. prom-client's own `inc()` validates the
 * label names and builds a hash string from the label object on every call; at about eight
 * increments per message that was 2.7 % of the connector's CPU in the end-to-end profile. The first
 * increment of a label combination still goes through prom-client (with 0), so a wrong label name
 * throws at its call site as before, and the series exists from then on.
 */
function tallied<T extends string>(labelNames: readonly T[], create: (collect: () => void) => Counter<T>): Counter<T> {
  const root = new Map<unknown, unknown>();
  const tallies: Tally<T>[] = [];
  const flush = (): void => {
    for (const t of tallies) {
      if (t.n === 0) continue;
      const n = t.n;
      t.n = 0;
      promInc(t.labels, n);
    }
  };
  const counter = create(flush);
  const promInc = counter.inc.bind(counter) as (labels: LabelValues<T>, value: number) => void;
  const tallyOf = (labels: LabelValues<T>): Tally<T> => {
    let level = root;
    for (let i = 0; i < labelNames.length - 1; i++) {
      const value = labels[labelNames[i]!];
      let next = level.get(value) as Map<unknown, unknown> | undefined;
      if (!next) level.set(value, (next = new Map()));
      level = next;
    }
    const last = labelNames.length === 0 ? undefined : labels[labelNames[labelNames.length - 1]!];
    let tally = level.get(last) as Tally<T> | undefined;
    if (!tally) {
      promInc(labels, 0); // validates the names, creates the series at 0
      tally = { labels: { ...labels }, n: 0 };
      level.set(last, tally);
      tallies.push(tally);
    }
    return tally;
  };
  const noLabels = {} as LabelValues<T>;
  counter.inc = ((a?: LabelValues<T> | number, b?: number): void => {
    const labels = typeof a === 'object' ? a : noLabels;
    const value = typeof a === 'number' ? a : (b ?? 1);
    // Negative, infinite or NaN: straight to prom-client, which treats it as it always did (throws
    // for the first two).
    if (!(value >= 0 && value < Infinity)) return promInc(labels, value);
    tallyOf(labels).n += value;
  }) as Counter<T>['inc'];
  const promReset = counter.reset.bind(counter);
  counter.reset = () => {
    for (const t of tallies) t.n = 0;
    promReset();
  };
  return counter;
}
