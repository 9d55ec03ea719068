/**
 * Folds the delivery topic into the demo's numbers: which requests reached their SUMMARY (and
 * whether it was one their kind allows), submits and receipts, failure and rejection categories,
 * submit latency (request's Kafka timestamp → SUBMITTED event's submittedAt) per lane, and which
 * route accepted each segment when.
 *
 * Delivery is at-least-once, so events are de-duplicated by `eventId` before they count.
 */
import type { DeliveryStatus, SmsDeliveryEvent } from '../contracts.js';
import type { DemoRequest, Lane } from './load.js';

export interface Mismatch {
  id: string;
  kind: string;
  got: DeliveryStatus;
  expected: readonly DeliveryStatus[];
  description: string | null;
}

export class DeliveryTracker {
  private readonly requests = new Map<string, DemoRequest>();
  private readonly producedAt = new Map<string, number>();
  private readonly seenEvents = new Set<string>();
  readonly summaries = new Map<string, SmsDeliveryEvent>();
  /** Requests with at least one segment accepted by the SMSC. */
  readonly submittedRequests = new Set<string>();
  readonly submitLatenciesMsByLane = new Map<Lane, number[]>();
  /** When each accepted segment was submitted, per route (the events' `route`), in the order read. */
  readonly submittedAtByRoute = new Map<string, number[]>();
  /** Requests with a segment accepted on each route (a request sent again whole after a failover counts on both). */
  readonly requestsByRoute = new Map<string, Set<string>>();
  /**
   * Segments accepted again under another event (another route or message id): a multipart message
   * whose route was lost after its first parts is sent again whole (docs/design.md §5.7).
   */
  resentSegments = 0;
  private readonly acceptedSegments = new Set<string>();
  readonly mismatches: Mismatch[] = [];
  readonly failedByCategory = new Map<string, number>();
  readonly rejectedByCategory = new Map<string, number>();
  readonly summaryByStatus = new Map<DeliveryStatus, number>();
  submits = 0;
  receipts = 0;
  foreignEvents = 0;
  duplicates = 0;
  firstProducedAt = Infinity;
  lastSummaryAt = 0;

  constructor(requests: readonly DemoRequest[]) {
    for (const r of requests) this.requests.set(r.value.id, r);
  }

  /** The Kafka timestamp the request was produced with. */
  produced(id: string, timestampMs: number): void {
    this.producedAt.set(id, timestampMs);
    this.firstProducedAt = Math.min(this.firstProducedAt, timestampMs);
  }

  get total(): number {
    return this.requests.size;
  }

  get finished(): number {
    return this.summaries.size;
  }

  add(e: SmsDeliveryEvent, recordTimestampMs: number): void {
    const request = this.requests.get(e.id);
    if (!request) {
      this.foreignEvents += 1;
      return;
    }
    if (this.seenEvents.has(e.eventId)) {
      this.duplicates += 1;
      return;
    }
    this.seenEvents.add(e.eventId);
    if (e.source === 'SUBMIT' && e.status === 'SUBMITTED') {
      this.submits += 1;
      this.submittedRequests.add(e.id);
      this.countSegment(e);
      const at = this.producedAt.get(e.id);
      if (at !== undefined && e.submittedAt !== null) listIn(this.submitLatenciesMsByLane, request.lane).push(e.submittedAt - at);
    } else if (e.source === 'RECEIPT') {
      this.receipts += 1;
    } else if (e.source === 'SUMMARY' && !this.summaries.has(e.id)) {
      this.summaries.set(e.id, e);
      this.lastSummaryAt = Math.max(this.lastSummaryAt, e.eventAt ?? recordTimestampMs);
      bump(this.summaryByStatus, e.status);
      const category = e.errorCategory ?? '(none)';
      if (e.status === 'UNDELIVERED' || e.status === 'EXPIRED' || e.status === 'UNKNOWN') bump(this.failedByCategory, category);
      if (e.status === 'REJECTED') bump(this.rejectedByCategory, category);
      if (!request.expected.includes(e.status)) {
        this.mismatches.push({ id: e.id, kind: request.kind, got: e.status, expected: request.expected, description: e.errorDescription });
      }
    }
  }

  /** Requests without a SUMMARY yet. */
  missing(): DemoRequest[] {
    return [...this.requests.values()].filter((r) => !this.summaries.has(r.value.id));
  }

  /** Requests of a lane. */
  countLane(lane: Lane): number {
    return [...this.requests.values()].filter((r) => r.lane === lane).length;
  }

  /** Segments accepted on a route, optionally only those submitted in [fromMs, toMs). */
  segmentsOn(route: string, fromMs = -Infinity, toMs = Infinity): number {
    const times = this.submittedAtByRoute.get(route) ?? [];
    // all of them (the progress line, four times a second): no pass over the list
    if (fromMs === -Infinity && toMs === Infinity) return times.length;
    return times.filter((at) => at >= fromMs && at < toMs).length;
  }

  /** The first submit on a route at or after `fromMs`; null when there was none. */
  firstSubmitOn(route: string, fromMs: number): number | null {
    let first: number | null = null;
    for (const at of this.submittedAtByRoute.get(route) ?? []) if (at >= fromMs && (first === null || at < first)) first = at;
    return first;
  }

  private countSegment(e: SmsDeliveryEvent): void {
    const segment = `${e.id}/${e.segment}`;
    if (this.acceptedSegments.has(segment)) this.resentSegments += 1;
    this.acceptedSegments.add(segment);
    if (e.route === null || e.submittedAt === null) return;
    listIn(this.submittedAtByRoute, e.route).push(e.submittedAt);
    (this.requestsByRoute.get(e.route) ?? this.requestsByRoute.set(e.route, new Set()).get(e.route)!).add(e.id);
  }
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function listIn<K, V>(map: Map<K, V[]>, key: K): V[] {
  return map.get(key) ?? map.set(key, []).get(key)!;
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples; null when there are none. */
export function percentile(samples: readonly number[], p: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}
