/**
 * Connects the pipeline's observer hooks and the session pool's counters to the Prometheus
 * metrics. The only place that knows both the metric names and the components.
 */
import { POISON_CODES } from '../kafka/errors.js';
import type { Logger } from '../obs/logger.js';
import type { Metrics } from '../obs/metrics.js';
import type { Lane } from '../pipeline/admission.js';
import type { CorrelationIndex } from '../pipeline/correlation-index.js';
import type { CorrelationPromoter } from '../pipeline/correlation-promoter.js';
import type { ProcessorObserver } from '../pipeline/outbound-processor.js';
import type { ReceiptObserver } from '../pipeline/receipt-processor.js';
import type { SubmitLoopObserver } from '../pipeline/submit-loop.js';
import type { SessionCounters } from '../smpp/protocol/types.js';
import type { ConsumerObserver } from '../kafka/outbound-consumer.js';
import type { SinkObserver } from '../kafka/sinks.js';
import type { CorrelationTail } from '../kafka/correlation-tail.js';
import type { RouteParts } from './routes.js';

export function processorObserver(m: Metrics): ProcessorObserver {
  return {
    poison: (code) => m.recordsPoison.inc({ reason: code }),
    decoded: () => m.recordsDecoded.inc(),
    validationRejected: (field) => m.validationRejected.inc({ field }),
    expired: () => m.expired.inc(),
  };
}

export function submitObserver(m: Metrics, route: string): SubmitLoopObserver {
  // hit once per segment: one label object, not one built per submit
  const accepted = { route, outcome: 'accepted', category: 'NONE' };
  return {
    onResult(result, status) {
      if (result.kind === 'response') m.submitDuration.observe(result.roundTripMs / 1000);
      if (!status) m.submits.inc(accepted);
      else if (status.ambiguous) m.submits.inc({ route, outcome: 'ambiguous', category: status.category });
      else if (!status.retryable) m.submits.inc({ route, outcome: 'rejected', category: status.category });
    },
    onRetry: (status) => m.submits.inc({ route, outcome: 'retried', category: status.category }),
  };
}

export function receiptObserver(m: Metrics): ReceiptObserver {
  return {
    receipt(event, correlated) {
      m.receipts.inc({ status: event.status, category: event.errorCategory ?? 'NONE' });
      m.correlationLookups.inc({ result: correlated });
    },
    finalLatency: (status, seconds) => m.submitToFinalReceipt.observe({ status }, seconds),
    inbound: () => m.inboundMessages.inc(),
  };
}

export function sinkObserver(m: Metrics, logger?: Logger): SinkObserver {
  return {
    published: (e) => m.eventsPublished.inc({ source: e.source, status: e.status }),
    deadLettered: (reason) => m.dlqRecords.inc({ reason }),
    receiptLogged: () => m.receiptsLogged.inc(),
    receiptForwarded: () => m.receiptsForwarded.inc(),
    refused(reason, topic, bytes, outcome) {
      m.publishRefused.inc({ reason, outcome });
      logger?.[outcome === 'dropped' ? 'error' : 'warn']({ reason, topic, bytes, outcome }, 'Kafka refused a record for good; the rest flow on');
    },
  };
}

export function consumerObserver(m: Metrics, lane: Lane): ConsumerObserver {
  const reported = new Set<number>();
  return {
    consumed: (topic, count) => m.recordsConsumed.inc({ topic }, count),
    lag(partition, lag) {
      reported.add(partition);
      m.consumerLag.set({ lane, partition: String(partition) }, lag);
    },
    // a partition moved to another replica (or the lane's consumer left: urgent-lane.ts) would
    // otherwise show its last lag here for ever, and the sum over replicas would count it twice
    holds(partitions) {
      for (const partition of reported) {
        if (partitions.includes(partition)) continue;
        m.consumerLag.remove({ lane, partition: String(partition) });
        reported.delete(partition);
      }
    },
    stalled: () => m.consumerStalls.inc(),
    restarting: () => m.consumerRestarts.inc(),
  };
}

/** Session gauges of every route at scrape time, and counter deltas since the last scrape. */
export function collectRoutes(m: Metrics, routes: readonly RouteParts[], index: CorrelationIndex): () => void {
  const seen = new Map<string, SessionCounters>();
  return () => {
    m.sessionsBound.reset();
    m.accountPaused.reset();
    for (const route of routes) collectRoute(m, route, seen);
    m.correlationIndexEntries.set(index.size);
  };
}

/** One route: its sessions (ids are unique across routes, pool.ts idPrefix), bound sessions by mode, its account, its circuit. */
function collectRoute(m: Metrics, route: RouteParts, seen: Map<string, SessionCounters>): void {
  const bound: Record<string, number> = { tx: 0, rx: 0, trx: 0 };
  for (const s of route.pool.sessions()) {
    const stats = s.stats();
    const before = seen.get(s.id);
    seen.set(s.id, stats);
    m.pacingRatePerSecond.set({ session: s.id }, s.currentRate());
    m.windowInFlight.set({ session: s.id }, stats.inFlight);
    if (s.state === 'bound') bound[s.mode] = (bound[s.mode] ?? 0) + 1;
    m.throttled.inc({ session: s.id }, stats.throttled - (before?.throttled ?? 0));
    m.binds.inc({ route: route.name, result: 'ok' }, stats.binds - (before?.binds ?? 0));
    m.binds.inc({ route: route.name, result: 'failed' }, stats.bindFailures - (before?.bindFailures ?? 0));
    for (const [reason, n] of Object.entries(stats.reconnectsByReason)) {
      m.reconnects.inc({ route: route.name, reason }, n - (before?.reconnectsByReason[reason] ?? 0));
    }
  }
  for (const [mode, n] of Object.entries(bound)) m.sessionsBound.set({ route: route.name, mode }, n);
  const state = route.gate.current;
  m.accountPaused.set({ route: route.name, reason: state.open ? 'none' : state.reason }, state.open ? 0 : 1);
  if (route.circuit) m.routeCircuitOpen.set({ route: route.name }, route.circuit.allowsTraffic() ? 0 : 1);
}

/** The live-state promotion's writes and the correlation tail's lag, read at each scrape. */
export function collectCorrelation(m: Metrics, promoter: CorrelationPromoter, tail: CorrelationTail): () => void {
  const before = { state: 0, tombstone: 0 };
  return () => {
    m.correlationLiveWrites.inc({ kind: 'state' }, promoter.promoted - before.state);
    m.correlationLiveWrites.inc({ kind: 'tombstone' }, promoter.tombstones - before.tombstone);
    before.state = promoter.promoted;
    before.tombstone = promoter.tombstones;
    const through = tail.appliedThrough();
    if (through > 0) m.correlationTailLagSeconds.set(Math.max(0, Date.now() - through) / 1000);
  };
}

/**
 * Counters with labels appear only after their first increment; alerts on `rate()` and dashboards
 * read better when the known label values exist at zero from the start.
 */
export function initMetricLabels(m: Metrics): void {
  for (const reason of [...POISON_CODES, 'UNPARSEABLE_RECEIPT']) m.dlqRecords.inc({ reason }, 0);
  for (const reason of POISON_CODES) m.recordsPoison.inc({ reason }, 0);
  for (const field of ['id', 'from', 'to', 'text', 'metadata', 'encoding', 'validUntil']) m.validationRejected.inc({ field }, 0);
  for (const result of ['hit', 'late_hit', 'miss']) m.correlationLookups.inc({ result }, 0);
  for (const kind of ['state', 'tombstone']) m.correlationLiveWrites.inc({ kind }, 0);
  m.accountPaused.set({ reason: 'none' }, 0);
}
