/**
 * The fault-suite oracle (docs/reliability.md §8): a load generator that stamps every
 * record with a run id and a per-key sequence number, and the verdict computed from what the SMSC
 * accepted (simulator `acceptedSubmits()`), what `sms.delivery` says and what the DLQ holds:
 *
 *   missing       = sent − (accepted ∪ rejected ∪ expired ∪ dlq)
 *   duplicates    = segment contents accepted more than once
 *   unexplained   = duplicates not straddling a fault, plus any fault's excess over the in-flight bound
 *   orderViolations = per key, a record whose FIRST acceptance came after a later-sequenced record's
 *   missingEvents = requests with no terminal event per segment (or request-level REJECTED/EXPIRED)
 *
 * Every verdict also carries `sent`, so a test can assert a minimum volume and never pass vacuously.
 */
import type { SmsDeliveryEvent, SmsOutbound } from '../../src/contracts.js';
import type { AcceptedSubmit } from '../../src/simulator/simulator.js';
import { planned } from './oracle.js';
import { outbound } from './pipeline.js';

export interface LoadRecord {
  key: string;
  seq: number;
  value: SmsOutbound;
}

export interface LoadOptions {
  /** Distinct keys (records are spread round-robin). */
  keys: number;
  /** Every n-th record is a 2-segment GSM text (0 = never). */
  multipartEvery?: number;
  /** Base of the destination numbers (7 digits appended). */
  destinationBase?: number;
  overrides?: (i: number) => Partial<SmsOutbound>;
}

/** A load generator with per-key sequence numbers; call `next(n)` for the next batch. */
export class LoadGenerator {
  private readonly seqByKey = new Map<string, number>();
  private count = 0;

  constructor(
    readonly runId: string,
    private readonly opts: LoadOptions,
  ) {}

  next(n: number): LoadRecord[] {
    const out: LoadRecord[] = [];
    for (let j = 0; j < n; j++) {
      const i = this.count++;
      const key = `${this.runId}-k${i % this.opts.keys}`;
      const seq = (this.seqByKey.get(key) ?? 0) + 1;
      this.seqByKey.set(key, seq);
      const id = `${this.runId}-${i}`;
      const multipart = this.opts.multipartEvery ? i % this.opts.multipartEvery === 0 : false;
      const text = multipart ? `${id} ` + 'two segments of text, '.repeat(9) : `fault run ${id}`;
      const to = `+39347${String((this.opts.destinationBase ?? 1_000_000) + i).slice(-7)}`;
      out.push({
        key,
        seq,
        value: outbound(id, { to, text, metadata: { run: this.runId, key, seq: String(seq) }, ...(this.opts.overrides?.(i) ?? {}) }),
      });
    }
    return out;
  }
}

export interface Verdict {
  sent: number;
  segments: number;
  accepted: number;
  rejected: number;
  expired: number;
  dlq: number;
  missing: number;
  missingIds: string[];
  duplicates: number;
  unexplained: number;
  orderViolations: number;
  /** A few violations: the key, the sequence numbers in the order accepted, and both acceptances. */
  orderSamples: Array<{ key: string; seqs: [number, number]; accepted: [AcceptedSubmit, AcceptedSubmit] }>;
  missingEvents: number;
  missingEventIds: string[];
  /** A few unexplained duplicates: acceptance times and connections, for the report. */
  unexplainedSamples: Array<{ digest: string; at: number[]; conns: number[] }>;
}

export interface VerdictInput {
  records: readonly LoadRecord[];
  /** In the order the SMSC accepted them (one simulator's list is; several: `acceptanceTimeline`). */
  accepted: readonly AcceptedSubmit[];
  events: readonly SmsDeliveryEvent[];
  /** Request ids found in the DLQ (decodable ids are rare there: usually keys → ids by the test). */
  dlqIds?: ReadonlySet<string>;
  /** Times (ms) of faults that can leave submits ambiguous (kills, resets…). */
  faultTimes?: readonly number[];
  /** Ambiguous submits one fault may leave (sessions × window, + uncommitted finished records). */
  inFlightBound?: number;
  maxSegments?: number;
}

/**
 * Several simulators' acceptances as one timeline, the verdict's `accepted` (it reads per-key order
 * from the position): by `order`, not by `at` — a key's record accepted on one route and its next
 * record on another can share a millisecond.
 */
export function oneTimeline(...lists: ReadonlyArray<readonly AcceptedSubmit[]>): AcceptedSubmit[] {
  return lists.flat().sort((a, b) => a.order - b.order);
}

/** Computes the verdict; pure over its inputs. */
export function verdict(input: VerdictInput): Verdict {
  const { records, accepted, events } = input;
  const dlqIds = input.dlqIds ?? new Set<string>();
  const firstAt = new Map<string, number>(); // digest → index of first acceptance
  const times = new Map<string, number[]>(); // digest → acceptance times
  const conns = new Map<string, number[]>();
  accepted.forEach((a, i) => {
    if (!firstAt.has(a.digest)) firstAt.set(a.digest, i);
    const list = times.get(a.digest) ?? [];
    list.push(a.at);
    times.set(a.digest, list);
    conns.set(a.digest, [...(conns.get(a.digest) ?? []), a.conn]);
  });
  const rejectedIds = new Set<string>();
  const expiredIds = new Set<string>();
  const terminalSegments = new Map<string, Set<number>>();
  for (const e of events) {
    if (e.source === 'SUMMARY' || e.source === 'RECEIPT') continue;
    if (e.status === 'REJECTED') rejectedIds.add(e.id);
    if (e.status === 'EXPIRED') expiredIds.add(e.id);
    if (e.status === 'SUBMITTED' || e.status === 'REJECTED' || e.status === 'EXPIRED') {
      const set = terminalSegments.get(e.id) ?? new Set<number>();
      set.add(e.segment);
      terminalSegments.set(e.id, set);
    }
  }
  let segments = 0;
  let acceptedCount = 0;
  const missingIds: string[] = [];
  const missingEventIds: string[] = [];
  const keyOf = new Map<string, { key: string; seq: number }>();
  for (const r of records) {
    const plan = planned(r.value, input.maxSegments ?? 10);
    const id = r.value.id;
    const explained = rejectedIds.has(id) || expiredIds.has(id) || dlqIds.has(id);
    if (plan) {
      segments += plan.digests.length;
      keyOf.set(plan.digests[0]!, { key: r.key, seq: r.seq });
      const allAccepted = plan.digests.every((d) => firstAt.has(d));
      if (allAccepted) acceptedCount += 1;
      if (!allAccepted && !explained) missingIds.push(id);
      const terms = terminalSegments.get(id);
      const requestLevel = terms?.has(0) ?? false;
      const perSegment = plan.digests.every((_, s) => terms?.has(s + 1));
      if (!requestLevel && !perSegment && !dlqIds.has(id)) missingEventIds.push(id);
    } else if (!explained) {
      missingIds.push(id);
      missingEventIds.push(id);
    }
  }
  // duplicates, and whether a fault lies between the first and a later acceptance
  const faults = [...(input.faultTimes ?? [])].sort((a, b) => a - b);
  const perFault = new Map<number, number>();
  let duplicates = 0;
  let unexplained = 0;
  const unexplainedSamples: Verdict['unexplainedSamples'] = [];
  for (const [digest, list] of times) {
    for (let i = 1; i < list.length; i++) {
      duplicates += 1;
      const fault = faults.find((f) => f >= list[0]! - 50 && f <= list[i]!);
      if (fault === undefined) {
        unexplained += 1;
        if (unexplainedSamples.length < 5) unexplainedSamples.push({ digest, at: list, conns: conns.get(digest) ?? [] });
      } else perFault.set(fault, (perFault.get(fault) ?? 0) + 1);
    }
  }
  const bound = input.inFlightBound ?? 0;
  for (const [f, n] of perFault) {
    if (n > bound && unexplainedSamples.length < 5) unexplainedSamples.push({ digest: `fault@${f}: ${n} > ${bound}`, at: [], conns: [] });
    unexplained += Math.max(0, n - bound);
  }
  // per-key order at the SMSC: first acceptances of first segments must follow the sequence
  const last = new Map<string, { seq: number; index: number }>();
  let orderViolations = 0;
  const orderSamples: Verdict['orderSamples'] = [];
  const firstSegments = [...firstAt.entries()].sort((a, b) => a[1] - b[1]);
  for (const [digest, index] of firstSegments) {
    const ks = keyOf.get(digest);
    if (!ks) continue;
    const prev = last.get(ks.key);
    if (prev && ks.seq < prev.seq) {
      orderViolations += 1;
      if (orderSamples.length < 5) orderSamples.push({ key: ks.key, seqs: [prev.seq, ks.seq], accepted: [accepted[prev.index]!, accepted[index]!] });
    } else last.set(ks.key, { seq: ks.seq, index });
  }
  return {
    sent: records.length,
    segments,
    accepted: acceptedCount,
    rejected: records.filter((r) => rejectedIds.has(r.value.id)).length,
    expired: records.filter((r) => expiredIds.has(r.value.id)).length,
    dlq: records.filter((r) => dlqIds.has(r.value.id)).length,
    missing: missingIds.length,
    missingIds: missingIds.slice(0, 10),
    duplicates,
    unexplained,
    orderViolations,
    orderSamples,
    missingEvents: missingEventIds.length,
    missingEventIds: missingEventIds.slice(0, 10),
    unexplainedSamples,
  };
}

/** The one summary line every fault test prints (the note's table is built from these). */
export function report(name: string, numbers: Record<string, unknown>): void {
  const { missingIds, missingEventIds, unexplainedSamples, orderSamples, ...rest } = numbers as Record<string, unknown> & {
    missingIds?: string[];
    missingEventIds?: string[];
    unexplainedSamples?: unknown[];
    orderSamples?: unknown[];
  };
  const extra = {
    ...((missingIds?.length ?? 0) > 0 ? { missingIds } : {}),
    ...((missingEventIds?.length ?? 0) > 0 ? { missingEventIds } : {}),
    ...((unexplainedSamples?.length ?? 0) > 0 ? { unexplainedSamples } : {}),
    ...((orderSamples?.length ?? 0) > 0 ? { orderSamples } : {}),
  };
  console.log(`${name} result ${JSON.stringify({ ...rest, ...extra })}`);
}
