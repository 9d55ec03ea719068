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

/**
 * The duplicates of one crash, each with its cause (docs/reliability.md §3). An acceptance is the
 * crashed process's when `crashed(a)`; `recorded` holds the SMSC message ids the correlation topic
 * has (every `r:` snapshot's segments) — what the restarted connector's replay check can know.
 *
 *   unrecorded   the crashed process's acceptance had no correlation record in Kafka (on the wire
 *                at the kill, or answered but not yet published): sent again after the restart, the
 *                allowed class. At most one per unrecorded acceptance, so ≤ `unrecordedAtKill`.
 *   missed       sent again after the restart although the crashed process's acceptance of the
 *                segment was recorded: the replay check should have skipped it — a bug.
 *   sameProcess  accepted twice by one process (a retry of a submit whose answer was lost): no
 *                crash explains it.
 */
export interface CrashDuplicates {
  unrecorded: number;
  missed: number;
  sameProcess: number;
  /** The crashed process's acceptances of `digests` with no correlation record in Kafka. */
  unrecordedAtKill: number;
  /** A few duplicates that are not `unrecorded`, for the report. */
  samples: Array<{
    digest: string;
    cause: 'missed' | 'sameProcess';
    acceptances: Array<{ at: number; conn: number; messageId: string; crashed: boolean; recorded: boolean }>;
  }>;
}

export function crashDuplicates(
  accepted: readonly AcceptedSubmit[],
  digests: Iterable<string>,
  crashed: (a: AcceptedSubmit) => boolean,
  recorded: ReadonlySet<string>,
): CrashDuplicates {
  const wanted = new Set(digests);
  const byDigest = new Map<string, AcceptedSubmit[]>();
  for (const a of accepted) {
    if (!wanted.has(a.digest)) continue;
    let list = byDigest.get(a.digest);
    if (!list) byDigest.set(a.digest, (list = []));
    list.push(a);
  }
  const out: CrashDuplicates = { unrecorded: 0, missed: 0, sameProcess: 0, unrecordedAtKill: 0, samples: [] };
  for (const [digest, list] of byDigest) {
    const before = list.filter(crashed);
    const after = list.length - before.length;
    out.unrecordedAtKill += before.filter((a) => !recorded.has(a.messageId)).length;
    if (list.length < 2) continue;
    // before.length + after - 1 duplicates. The replay knew the segment when an acceptance before
    // the kill was recorded: then every acceptance after it is a miss. Otherwise one acceptance
    // after the kill is the allowed resend; any more, on either side, is a process's own resend.
    const known = before.some((a) => recorded.has(a.messageId));
    const missed = known ? after : 0;
    const unrecorded = !known && before.length > 0 && after > 0 ? 1 : 0;
    const sameProcess = before.length + after - 1 - missed - unrecorded;
    out.missed += missed;
    out.unrecorded += unrecorded;
    out.sameProcess += sameProcess;
    if ((missed > 0 || sameProcess > 0) && out.samples.length < 5) {
      out.samples.push({
        digest,
        cause: missed > 0 ? 'missed' : 'sameProcess',
        acceptances: list.map((a) => ({ at: a.at, conn: a.conn, messageId: a.messageId, crashed: crashed(a), recorded: recorded.has(a.messageId) })),
      });
    }
  }
  return out;
}
