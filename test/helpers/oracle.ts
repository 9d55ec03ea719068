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

/**
 * What a request left without its summary did see (a fault test's failure starts from it): its own
 * events, and events under another request id for its segments' message ids — a receipt published
 * uncorrelated (`unknown:…`) is how a lost correlation shows.
 */
export function traceUnsummarised(
  events: readonly SmsDeliveryEvent[],
  ids: Iterable<string>,
  limit = 5,
): Array<{ id: string; events: string[]; elsewhere: string[] }> {
  const show = (e: SmsDeliveryEvent): string => `${e.source}/${e.status}/${e.segment}/${e.messageId}`;
  return summarised(events, ids)
    .missing.slice(0, limit)
    .map((id) => {
      const own = events.filter((e) => e.id === id);
      const messageIds = new Set(own.map((e) => e.messageId).filter((m) => m));
      const elsewhere = events.filter((e) => e.id !== id && messageIds.has(e.messageId));
      return { id, events: own.map(show), elsewhere: elsewhere.map((e) => `${e.id}: ${show(e)}`) };
    });
}

/** Distinct events (consumers dedupe on eventId; a replay re-emits the same id). */
export function distinct(events: readonly SmsDeliveryEvent[]): SmsDeliveryEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => (seen.has(e.eventId) ? false : (seen.add(e.eventId), true)));
}

/**
 * The duplicates of one crash or of several, each with its cause (docs/reliability.md §3). Which
 * connector process accepted a submit is `crashed(a)`: for one kill, true when it was the crashed
 * process's; for several, the process's number in start order — 0 died at the first kill, 1 at the
 * second, …, `kills` is the one still running (`processes(kills, processOf)`). `recorded` holds the
 * SMSC message ids the correlation topic has (every `r:` snapshot's segments) — what each restarted
 * connector's replay check can know.
 *
 *   unrecorded   a crashed process's acceptance had no correlation record in Kafka (on the wire at
 *                its kill, or answered but not yet published): sent again by a later process, the
 *                allowed class. At most one per unrecorded acceptance, so ≤ `unrecordedAtKill`;
 *                counted against the kill of the process whose acceptance was not recorded.
 *   missed       sent again by a later process although an earlier process's acceptance of the
 *                segment was recorded: the replay check should have skipped it — a bug.
 *   sameProcess  accepted twice by one process (a retry of a submit whose answer was lost): no
 *                crash explains it.
 */
export interface CrashDuplicates {
  unrecorded: number;
  missed: number;
  sameProcess: number;
  /** The crashed processes' acceptances of `digests` with no correlation record in Kafka. */
  unrecordedAtKill: number;
  /** Per kill, in order: `unrecorded` and `unrecordedAtKill` of the process that died at it. */
  kills: Array<{ unrecorded: number; unrecordedAtKill: number }>;
  /** A few duplicates that are not `unrecorded`, for the report. */
  samples: Array<{
    digest: string;
    cause: 'missed' | 'sameProcess';
    acceptances: Array<{ at: number; conn: number; messageId: string; process: number; crashed: boolean; recorded: boolean }>;
  }>;
}

/** Several kills: `processOf(a)` numbers the process that accepted `a` (0 … `kills`, in start order). */
export interface Processes {
  kills: number;
  processOf: (a: AcceptedSubmit) => number;
}

export function processes(kills: number, processOf: (a: AcceptedSubmit) => number): Processes {
  return { kills, processOf };
}

/**
 * The process of each acceptance when connections are numbered in start order (the simulator's
 * `conn`): `lastConnAtKill[k]` is the highest connection of the process that died at kill k, read
 * after it exited and before the next one started (a dead connection's buffered acceptance is
 * still its process's).
 */
export function processesByConnection(lastConnAtKill: readonly number[]): Processes {
  return processes(lastConnAtKill.length, (a) => {
    const k = lastConnAtKill.findIndex((last) => a.conn <= last);
    return k < 0 ? lastConnAtKill.length : k;
  });
}

export function crashDuplicates(
  accepted: readonly AcceptedSubmit[],
  digests: Iterable<string>,
  crashed: ((a: AcceptedSubmit) => boolean) | Processes,
  recorded: ReadonlySet<string>,
): CrashDuplicates {
  const { kills, processOf } = typeof crashed === 'function' ? processes(1, (a) => (crashed(a) ? 0 : 1)) : crashed;
  const wanted = new Set(digests);
  const byDigest = new Map<string, Array<{ a: AcceptedSubmit; p: number }>>();
  for (const a of accepted) {
    if (!wanted.has(a.digest)) continue;
    let list = byDigest.get(a.digest);
    if (!list) byDigest.set(a.digest, (list = []));
    list.push({ a, p: processOf(a) });
  }
  const perKill = Array.from({ length: kills }, () => ({ unrecorded: 0, unrecordedAtKill: 0 }));
  const out: CrashDuplicates = { unrecorded: 0, missed: 0, sameProcess: 0, unrecordedAtKill: 0, kills: perKill, samples: [] };
  for (const [digest, unsorted] of byDigest) {
    // by process, then in the order accepted
    const list = [...unsorted].sort((x, y) => x.p - y.p || x.a.order - y.a.order);
    for (const { a, p } of list) {
      if (p < kills && !recorded.has(a.messageId)) {
        perKill[p]!.unrecordedAtKill += 1;
        out.unrecordedAtKill += 1;
      }
    }
    // Every acceptance after the first is a duplicate. A later process knew the segment when an
    // earlier process's acceptance of it was recorded: then it is a miss. Otherwise a process's
    // first acceptance is the allowed resend of the last earlier acceptance (unrecorded, by a
    // process that died); any further acceptance within one process is its own resend.
    let missed = 0;
    let sameProcess = 0;
    for (let i = 1; i < list.length; i++) {
      const { p } = list[i]!;
      const earlier = list.slice(0, i).filter((x) => x.p < p);
      if (earlier.some((x) => recorded.has(x.a.messageId))) missed += 1;
      else if (list[i - 1]!.p === p) sameProcess += 1;
      else {
        out.unrecorded += 1;
        perKill[list[i - 1]!.p]!.unrecorded += 1;
      }
    }
    out.missed += missed;
    out.sameProcess += sameProcess;
    if ((missed > 0 || sameProcess > 0) && out.samples.length < 5) {
      out.samples.push({
        digest,
        cause: missed > 0 ? 'missed' : 'sameProcess',
        acceptances: list.map(({ a, p }) => ({
          at: a.at,
          conn: a.conn,
          messageId: a.messageId,
          process: p,
          crashed: p < kills,
          recorded: recorded.has(a.messageId),
        })),
      });
    }
  }
  return out;
}
