/**
 * The test oracle of the pipeline acceptance tests (docs/reliability.md §8): what a
 * request *should* put on the wire, computed with the connector's own pure planner, and what the
 * SMSC side and `sms.delivery` say actually happened.
 */
import type { SmsDeliveryEvent, SmsOutbound } from '../../src/contracts.js';
import { referenceFor } from '../../src/pipeline/outbound-processor.js';
import { submitDigest, type AcceptedSubmit } from '../../src/simulator/simulator.js';
import { planMessage } from '../../src/sms/plan.js';

export interface PlannedRequest {
  id: string;
  /** Digest of each segment as the simulator will see it (destination + short_message). */
  digests: string[];
}

/** The segments the connector will submit for `request`, or null when it must be REJECTED/VALIDATION. */
export function planned(request: SmsOutbound, maxSegments = 10): PlannedRequest | null {
  const result = planMessage(request, { maxSegments, referenceNumber: referenceFor(request.id), now: Date.now() });
  if (!result.ok) return null;
  const destination = result.plan.destination.addr;
  return { id: request.id, digests: result.plan.segments.map((s) => submitDigest(destination, s.shortMessage)) };
}

/** Accepted submits per digest (how many times the SMSC accepted each segment's content). */
export function acceptedByDigest(accepted: readonly AcceptedSubmit[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const a of accepted) counts.set(a.digest, (counts.get(a.digest) ?? 0) + 1);
  return counts;
}

/** Events grouped by request id. */
export function byRequest(events: readonly SmsDeliveryEvent[]): Map<string, SmsDeliveryEvent[]> {
  const map = new Map<string, SmsDeliveryEvent[]>();
  for (const e of events) {
    let list = map.get(e.id);
    if (!list) map.set(e.id, (list = []));
    list.push(e);
  }
  return map;
}

/** A request has its terminal facts: a SUMMARY (every request in these tests ends with one). */
export function summarised(events: readonly SmsDeliveryEvent[], ids: Iterable<string>): { done: number; missing: string[] } {
  const withSummary = new Set(events.filter((e) => e.source === 'SUMMARY').map((e) => e.id));
  const missing: string[] = [];
  let done = 0;
  for (const id of ids) {
    if (withSummary.has(id)) done += 1;
    else missing.push(id);
  }
  return { done, missing };
}

/** Distinct events (consumers dedupe on eventId; a replay re-emits the same id). */
export function distinct(events: readonly SmsDeliveryEvent[]): SmsDeliveryEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => (seen.has(e.eventId) ? false : (seen.add(e.eventId), true)));
}
