/**
 * The demo's closing table: plain text, aligned, readable in a terminal and in a CI log alike.
 */
import { percentile, type DeliveryTracker } from './tracker.js';

export interface SimulatorCounts {
  submitsReceived: number;
  acceptedSubmits: number;
  rejectedSubmits: number;
  throttled: number;
  receiptsSent: number;
}

export interface SummaryInput {
  tracker: DeliveryTracker;
  poisonSent: number;
  dlqByCode: ReadonlyMap<string, number>;
  /** The SMSC simulator's counters (with routes: both SMSCs' together). */
  simulator: SimulatorCounts;
  elapsedMs: number;
  /** The load generator's pace (requests/s); 0 = one burst. */
  rate: number;
  /** The routes scenario's part (`--routes`). */
  routes?: RoutesSection;
}

/** One route's traffic, split at the moments its credit ran out and came back. */
export interface RouteTraffic {
  name: string;
  /** Segments the SMSC accepted before the credit ran out / while it was out / after it came back (by `submittedAt`). */
  segmentsBefore: number;
  segmentsDuring: number;
  segmentsAfter: number;
  requests: number;
  smsc: SimulatorCounts;
}

export interface RoutesSection {
  /** In the routes file's order: the primary first. */
  routes: RouteTraffic[];
  /** Seconds after the first produce. */
  creditOutAtS: number | null;
  creditBackAtS: number | null;
  /** Credit ran out → first submit on the fallback; credit came back → first submit on the primary again. */
  failoverMs: number | null;
  failbackMs: number | null;
  /** Bulk requests not yet submitted when the urgent burst was produced. */
  bulkWaitingAtUrgent: number;
}

const W = 30;

function row(label: string, value: string | number, note = ''): string {
  return `  ${label.padEnd(W)}${String(value).padStart(8)}${note ? `   ${note}` : ''}`;
}

function byCount(map: ReadonlyMap<string, number>): [string, number][] {
  return [...map.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

export function renderSummary(s: SummaryInput): string {
  const t = s.tracker;
  const status = (k: Parameters<typeof t.summaryByStatus.get>[0]) => t.summaryByStatus.get(k) ?? 0;
  const spanMs = t.lastSummaryAt > t.firstProducedAt ? t.lastSummaryAt - t.firstProducedAt : 0;
  const perSec = (n: number) => (spanMs > 0 ? ((n * 1000) / spanMs).toFixed(1) : '-');
  const dlqTotal = [...s.dlqByCode.values()].reduce((a, b) => a + b, 0);
  const failed = status('UNDELIVERED') + status('EXPIRED') + status('UNKNOWN');
  const urgent = t.countLane('urgent');
  const lines = [
    '',
    '═══════════════════════ sms-connector demo: summary ═══════════════════════',
    row('sent (requests)', t.total, s.poisonSent > 0 ? `+ ${s.poisonSent} poison records` : urgent > 0 ? `${t.total - urgent} bulk + ${urgent} urgent` : ''),
    row('submitted (requests)', t.submittedRequests.size, `${t.submits} segments accepted by the SMSC${s.routes ? 's' : ''}`),
    row('delivered', status('DELIVERED')),
    row('submitted, no report asked', status('SUBMITTED')),
    row('failed', failed, 'by category:'),
    ...byCount(t.failedByCategory).map(([c, n]) => row(`    ${c}`, n)),
    row('rejected', status('REJECTED'), 'by category:'),
    ...byCount(t.rejectedByCategory).map(([c, n]) => row(`    ${c}`, n)),
    ...(s.poisonSent > 0 || dlqTotal > 0
      ? [
          row(
            'DLQ',
            dlqTotal,
            byCount(s.dlqByCode)
              .map(([c, n]) => `${c} ${n}`)
              .join(', '),
          ),
        ]
      : []),
    row('missing (no SUMMARY)', t.total - t.finished),
    row('unexpected outcome', t.mismatches.length),
    row(
      'throughput (requests/s)',
      perSec(t.finished),
      `${t.finished} in ${(spanMs / 1000).toFixed(1)} s, first produce → last summary; ${perSec(t.submits)} submits/s`,
    ),
    ...(urgent > 0 ? laneLatencyRows(t, s.routes?.bulkWaitingAtUrgent) : latencyRows(t, s.rate)),
    ...(s.routes ? routeRows(s.routes, t.resentSegments) : []),
    row('receipts', t.receipts, `duplicates dropped ${t.duplicates}`),
    row(
      s.routes ? 'SMSCs: submit_sm' : 'simulator: submit_sm',
      s.simulator.submitsReceived,
      `accepted ${s.simulator.acceptedSubmits}, refused ${s.simulator.rejectedSubmits}, throttled 0x58 ${s.simulator.throttled}, receipts sent ${s.simulator.receiptsSent}`,
    ),
    row('wall time (s)', (s.elapsedMs / 1000).toFixed(1)),
    '═══════════════════════════════════════════════════════════════════════════',
  ];
  return lines.join('\n');
}

function latencyRows(t: DeliveryTracker, rate: number): string[] {
  const all = [...t.submitLatenciesMsByLane.values()].flat();
  return [
    row(
      'submit latency p50 (ms)',
      percentile(all, 50) ?? '-',
      `request Kafka timestamp → SUBMITTED submittedAt${rate > 0 ? ` (load paced at ${rate}/s)` : ' (one burst: includes time queued behind the SMSC rate limit)'}`,
    ),
    row('submit latency p99 (ms)', percentile(all, 99) ?? '-', `${all.length} samples`),
  ];
}

/** The urgent lane's wait beside the bulk lane's: what the lane is for (docs/design.md §5.6). */
function laneLatencyRows(t: DeliveryTracker, bulkWaiting: number | undefined): string[] {
  const urgent = t.submitLatenciesMsByLane.get('urgent') ?? [];
  const bulk = t.submitLatenciesMsByLane.get('bulk') ?? [];
  const behind = bulkWaiting === undefined ? '' : `; produced while ${bulkWaiting} bulk requests waited`;
  return [
    row('urgent lane p50 (ms)', percentile(urgent, 50) ?? '-', `produce → SUBMITTED, ${urgent.length} segments${behind}`),
    row('urgent lane p99 (ms)', percentile(urgent, 99) ?? '-'),
    row('urgent lane max (ms)', percentile(urgent, 100) ?? '-'),
    row('bulk lane p50 (ms)', percentile(bulk, 50) ?? '-', 'produce → SUBMITTED: the backlog queues behind the SMSCs’ rate'),
    row('bulk lane p99 (ms)', percentile(bulk, 99) ?? '-', `${bulk.length} segments`),
  ];
}

function routeRows(r: RoutesSection, resentSegments: number): string[] {
  const at = (s: number | null) => (s === null ? 'never' : `at ${s.toFixed(1)} s`);
  const fallback = r.routes[1]?.name ?? '-';
  const primary = r.routes[0]?.name ?? '-';
  return [
    row('segments accepted per route', '', 'before the credit ran out / while out / after it returned'),
    ...r.routes.map((route) =>
      row(
        `    ${route.name}`,
        route.segmentsBefore + route.segmentsDuring + route.segmentsAfter,
        `${route.segmentsBefore} / ${route.segmentsDuring} / ${route.segmentsAfter}; ${route.requests} requests; ` +
          `its SMSC accepted ${route.smsc.acceptedSubmits}, refused ${route.smsc.rejectedSubmits}`,
      ),
    ),
    row('failover (ms)', r.failoverMs ?? '-', `${primary}'s credit ran out ${at(r.creditOutAtS)} → first submit on ${fallback}`),
    row('failback (ms)', r.failbackMs ?? '-', `credit back ${at(r.creditBackAtS)} → first submit on ${primary} again`),
    row('sent twice (segments)', resentSegments, 'a multipart message cut by the failover is sent again whole (docs/design.md §5.7)'),
  ];
}
