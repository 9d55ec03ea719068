/**
 * The demo's closing table: plain text, aligned, readable in a terminal and in a CI log alike.
 */
import { percentile, type DeliveryTracker } from './tracker.js';

export interface SummaryInput {
  tracker: DeliveryTracker;
  poisonSent: number;
  dlqByCode: ReadonlyMap<string, number>;
  simulator: { submitsReceived: number; acceptedSubmits: number; rejectedSubmits: number; throttled: number; receiptsSent: number };
  elapsedMs: number;
  /** The load generator's pace (requests/s); 0 = one burst. */
  rate: number;
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
  const p50 = percentile(t.submitLatenciesMs, 50);
  const p99 = percentile(t.submitLatenciesMs, 99);
  const dlqTotal = [...s.dlqByCode.values()].reduce((a, b) => a + b, 0);
  const failed = status('UNDELIVERED') + status('EXPIRED') + status('UNKNOWN');
  const lines = [
    '',
    '═══════════════════════ sms-connector demo: summary ═══════════════════════',
    row('sent (requests)', t.total, `+ ${s.poisonSent} poison records`),
    row('submitted (requests)', t.submittedRequests.size, `${t.submits} segments accepted by the SMSC`),
    row('delivered', status('DELIVERED')),
    row('submitted, no report asked', status('SUBMITTED')),
    row('failed', failed, 'by category:'),
    ...byCount(t.failedByCategory).map(([c, n]) => row(`    ${c}`, n)),
    row('rejected', status('REJECTED'), 'by category:'),
    ...byCount(t.rejectedByCategory).map(([c, n]) => row(`    ${c}`, n)),
    row(
      'DLQ',
      dlqTotal,
      byCount(s.dlqByCode)
        .map(([c, n]) => `${c} ${n}`)
        .join(', '),
    ),
    row('missing (no SUMMARY)', t.total - t.finished),
    row('unexpected outcome', t.mismatches.length),
    row(
      'throughput (requests/s)',
      perSec(t.finished),
      `${t.finished} in ${(spanMs / 1000).toFixed(1)} s, first produce → last summary; ${perSec(t.submits)} submits/s`,
    ),
    row(
      'submit latency p50 (ms)',
      p50 ?? '-',
      `request Kafka timestamp → SUBMITTED submittedAt${s.rate > 0 ? ` (load paced at ${s.rate}/s)` : ' (one burst: includes time queued behind the SMSC rate limit)'}`,
    ),
    row('submit latency p99 (ms)', p99 ?? '-', `${t.submitLatenciesMs.length} samples`),
    row('receipts', t.receipts, `duplicates dropped ${t.duplicates}`),
    row(
      'simulator: submit_sm',
      s.simulator.submitsReceived,
      `accepted ${s.simulator.acceptedSubmits}, refused ${s.simulator.rejectedSubmits}, throttled 0x58 ${s.simulator.throttled}, receipts sent ${s.simulator.receiptsSent}`,
    ),
    row('wall time (s)', (s.elapsedMs / 1000).toFixed(1)),
    '═══════════════════════════════════════════════════════════════════════════',
  ];
  return lines.join('\n');
}
