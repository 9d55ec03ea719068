/**
 * In-memory index of the `sms.correlation` topic — pure, fed record by record.
 *
 * Two kinds of record live in the (compacted) topic:
 *  - `r:<requestId>` — what was submitted for a request: its facts and the SMSC message id of each
 *    segment accepted so far. Used to correlate receipts (message id → request) and to skip
 *    segments that are already submitted when a record is replayed after a crash.
 *  - `f:<messageId>` — the final receipt state of one segment, so whichever replica sees the last
 *    receipt of a request can emit its summary.
 *  - `s:<requestId>` — a multipart request's SUMMARY was published. When its segments turned final
 *    on different replicas and both stopped before either saw the other's final, nobody emitted
 *    the summary; a request complete for a while without this marker is summarised by whichever
 *    replica notices (see `summaryDue`).
 * Each replica tails the whole topic, so a receipt arriving on any replica finds its request.
 *
 * Memory is bounded by `maxRequests`: the oldest requests are evicted first (Map insertion order).
 * An evicted request's late receipt is published as `unknown:<messageId>`, which is counted.
 */
import type { DeliveryStatus } from '../contracts.js';
import { OldestFirst } from './oldest-first.js';

export interface RequestRecord {
  v: 1;
  id: string;
  from: string;
  to: string;
  metadata: Record<string, string>;
  segments: number;
  /** SMSC message id per segment (index = segment - 1); null until accepted. */
  messageIds: (string | null)[];
  attempts: number;
  submittedAt: number;
  /** Whether receipts are expected at all (registered_delivery). */
  receipts: boolean;
  /** When to stop waiting for receipts (validUntil or submit + RECEIPT_WAIT_MS). */
  receiptDeadline: number;
}

export interface FinalRecord {
  v: 1;
  status: DeliveryStatus;
  errorCategory: string | null;
  /**
   * When the segment turned final (ms). Finals written before the summary marker existed lack it:
   * their requests are never watched for a missing marker, so an upgrade does not re-emit the
   * summaries of every multipart request still in the topic.
   */
  at?: number;
}

export interface SummaryMarker {
  v: 1;
}

export interface SegmentRef {
  request: RequestRecord;
  segment: number;
}

const REQUEST_PREFIX = 'r:';
const FINAL_PREFIX = 'f:';
const SUMMARY_PREFIX = 's:';
export const requestKey = (id: string): string => `${REQUEST_PREFIX}${id}`;
export const finalKey = (messageId: string): string => `${FINAL_PREFIX}${messageId}`;
export const summaryKey = (requestId: string): string => `${SUMMARY_PREFIX}${requestId}`;
export const SUMMARY_MARKER: SummaryMarker = { v: 1 };

export type CorrelationValue = RequestRecord | FinalRecord | SummaryMarker;

export class CorrelationIndex {
  private readonly requests = new Map<string, RequestRecord>();
  private readonly byMessageId = new Map<string, string>();
  private readonly finals = new Map<string, FinalRecord>();
  /**
   * Receipts waiting for their message id, keyed by that id: a request snapshot wakes only the
   * waiters of the ids it maps. (One shared list woke every waiter on every record read — with a
   * backlog of receipts for unknown ids, each correlation record cost a pass over all of them.)
   */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Multipart requests whose `s:` marker was read (or written here). */
  private readonly summarised = new Set<string>();
  /** Multipart requests complete without a marker yet → when this replica saw them complete. */
  private readonly unsummarised = new Map<string, number>();
  private readonly oldestRequest = new OldestFirst(() => this.requests.keys());
  private readonly oldestSummarised = new OldestFirst(() => this.summarised.values());
  /**
   * Requests whose every segment is final (or that expect no receipt), oldest first, from
   * `completedHead` on. A head index, not shift(): on an array this long (keep time × rate,
   * 10^5–10^6 entries, in V8's large-object space) every shift() moves the whole array — pruning
   * 50k entries from 200k blocked the event loop for 8.8 s (measured), long enough to drop the
   * consumer out of its group.
   */
  private completed: Array<{ id: string; at: number }> = [];
  private completedHead = 0;
  evictions = 0;
  pruned = 0;

  constructor(
    private readonly maxRequests = 1_000_000,
    private readonly clock: () => number = Date.now,
  ) {}

  get size(): number {
    return this.requests.size;
  }

  /** Applies one correlation-topic record; `value === null` is a tombstone. */
  apply(key: string, value: CorrelationValue | null): void {
    if (key.startsWith(REQUEST_PREFIX)) this.applyRequest(key.slice(REQUEST_PREFIX.length), value as RequestRecord | null);
    else if (key.startsWith(FINAL_PREFIX)) this.applyFinal(key.slice(FINAL_PREFIX.length), value as FinalRecord | null);
    else if (key.startsWith(SUMMARY_PREFIX)) this.applySummaryMarker(key.slice(SUMMARY_PREFIX.length), value !== null);
  }

  /** The request an entry is about: an `r:` snapshot's own, or the one an `f:` final's message id maps to. */
  requestOfEntry(key: string): RequestRecord | undefined {
    if (key.startsWith(REQUEST_PREFIX)) return this.requests.get(key.slice(REQUEST_PREFIX.length));
    if (key.startsWith(FINAL_PREFIX)) return this.segmentOf(key.slice(FINAL_PREFIX.length))?.request;
    return undefined;
  }

  private applyRequest(id: string, rec: RequestRecord | null): void {
    const old = this.requests.get(id);
    if (old) {
      this.requests.delete(id); // re-insert: most recently written stays longest
      for (const m of old.messageIds) if (m) this.byMessageId.delete(m);
    }
    if (!rec) return;
    this.requests.set(id, rec);
    for (const m of rec.messageIds) if (m) this.byMessageId.set(m, id);
    for (const m of rec.messageIds) if (m) this.wake(m);
    // Complete already when applied: no receipt expected, or its finals arrived first (another
    // replica's `f:` records can be read before this snapshot).
    if (this.isComplete(rec)) this.onComplete(rec);
    while (this.requests.size > this.maxRequests) this.evictOldest();
  }

  private applyFinal(messageId: string, rec: FinalRecord | null): void {
    if (!rec) {
      this.finals.delete(messageId);
      return;
    }
    this.finals.set(messageId, rec);
    const request = this.segmentOf(messageId)?.request;
    if (request && this.outcomes(request) !== null) this.onComplete(request);
  }

  private onComplete(rec: RequestRecord): void {
    const now = this.clock();
    this.completed.push({ id: rec.id, at: now });
    if (rec.segments > 1 && rec.receipts && !this.summarised.has(rec.id) && !this.unsummarised.has(rec.id) && this.finalsAllStamped(rec)) {
      this.unsummarised.set(rec.id, now);
    }
  }

  private finalsAllStamped(rec: RequestRecord): boolean {
    return rec.messageIds.every((m) => m !== null && this.finals.get(m)?.at !== undefined);
  }

  private applySummaryMarker(requestId: string, present: boolean): void {
    if (!present) return; // a tombstone: the request is being forgotten anyway
    this.unsummarised.delete(requestId);
    this.summarised.add(requestId);
    // A marker can be read before its request (other partition), so it is kept for unknown ids
    // too; bounded like the requests, oldest first, for markers whose request never comes.
    if (this.summarised.size > this.maxRequests) this.summarised.delete(this.oldestSummarised.next()!);
  }

  /**
   * Multipart requests complete since before `before` whose summary nobody has marked as
   * published: their segments turned final on replicas that stopped before either saw the
   * other's final. Oldest first.
   */
  summaryDue(before: number): Array<{ request: RequestRecord; outcomes: FinalRecord[] }> {
    const due: Array<{ request: RequestRecord; outcomes: FinalRecord[] }> = [];
    for (const [id, since] of this.unsummarised) {
      if (since >= before) break; // insertion order = completion order
      const request = this.requests.get(id);
      const outcomes = request ? this.outcomes(request) : null;
      if (request && outcomes) due.push({ request, outcomes });
      else this.unsummarised.delete(id);
    }
    return due;
  }

  /**
   * Forgets requests that completed before `before`: their receipts are all in, and their records
   * were committed long ago, so neither a receipt nor a replay needs them. Keeps memory flat
   * under steady traffic instead of growing to `maxRequests`. Returns how many were dropped.
   */
  pruneCompleted(before: number): number {
    let dropped = 0;
    while (this.completedHead < this.completed.length && this.completed[this.completedHead]!.at < before) {
      const { id } = this.completed[this.completedHead++]!;
      const rec = this.requests.get(id);
      if (!rec || !this.isComplete(rec)) continue;
      this.forget(id, rec);
      dropped++;
    }
    // Drop the consumed prefix once it is most of the array: amortised O(1) per entry.
    if (this.completedHead > 1024 && this.completedHead * 2 > this.completed.length) {
      this.completed = this.completed.slice(this.completedHead);
      this.completedHead = 0;
    }
    this.pruned += dropped;
    return dropped;
  }

  private evictOldest(): void {
    // Not requests.entries().next(): at the cap that walked every hole the evictions and prunes
    // had left at the front, once per new request (see oldest-first.ts).
    const id = this.oldestRequest.next()!;
    this.forget(id, this.requests.get(id)!);
    this.evictions++;
  }

  /** Drops a request with its message ids and final records. */
  private forget(id: string, rec: RequestRecord): void {
    this.requests.delete(id);
    this.summarised.delete(id);
    this.unsummarised.delete(id);
    for (const m of rec.messageIds) {
      if (!m) continue;
      this.byMessageId.delete(m);
      this.finals.delete(m);
    }
  }

  /** Every segment submitted, and final too when receipts were requested. */
  private isComplete(rec: RequestRecord): boolean {
    return rec.receipts ? this.outcomes(rec) !== null : !rec.messageIds.includes(null);
  }

  request(id: string): RequestRecord | undefined {
    return this.requests.get(id);
  }

  segmentOf(messageId: string): SegmentRef | undefined {
    const id = this.byMessageId.get(messageId);
    const request = id === undefined ? undefined : this.requests.get(id);
    if (!request) return undefined;
    return { request, segment: request.messageIds.indexOf(messageId) + 1 };
  }

  final(messageId: string): FinalRecord | undefined {
    return this.finals.get(messageId);
  }

  /** Final outcome of every segment, or null while any segment is not final yet. */
  outcomes(request: RequestRecord): FinalRecord[] | null {
    const out: FinalRecord[] = [];
    for (const m of request.messageIds) {
      const f = m ? this.finals.get(m) : undefined;
      if (!f) return null;
      out.push(f);
    }
    return out;
  }

  /**
   * Resolves when `messageId` is known or `timeoutMs` passed: covers a receipt that overtakes its
   * own submit_sm_resp (or another replica's correlation record still on its way).
   */
  waitForMessageId(messageId: string, timeoutMs: number): Promise<SegmentRef | undefined> {
    const now = this.segmentOf(messageId);
    if (now || timeoutMs <= 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      let waiting = this.waiters.get(messageId);
      if (!waiting) this.waiters.set(messageId, (waiting = new Set()));
      const forId = waiting;
      const check = (): void => {
        const ref = this.segmentOf(messageId);
        if (ref) done(ref);
      };
      const done = (ref: SegmentRef | undefined): void => {
        clearTimeout(timer);
        forId.delete(check);
        if (forId.size === 0 && this.waiters.get(messageId) === forId) this.waiters.delete(messageId);
        resolve(ref);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      forId.add(check);
    });
  }

  /** Receipts currently waiting for a message id to appear (a gauge; tests read it). */
  get waitingReceipts(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  private wake(messageId: string): void {
    const waiting = this.waiters.get(messageId);
    if (!waiting) return;
    // A copy: each check removes itself from the set as it resolves.
    for (const check of [...waiting]) check();
  }

  /**
   * Requests whose receipts are overdue and not all final — for UNKNOWN summaries — in slices of
   * `sliceSize` visited entries, so a caller can yield to the event loop between slices: one pass
   * over a million entries took 40–60 ms (measured), a stall for every submit and receipt.
   */
  *overdueSlices(now: number, sliceSize = 20_000): Generator<RequestRecord[]> {
    let due: RequestRecord[] = [];
    let visited = 0;
    for (const rec of this.requests.values()) {
      // A request with an unsent segment got its summary when it was rejected; skip it.
      if (rec.receipts && rec.receiptDeadline < now && !rec.messageIds.includes(null) && this.outcomes(rec) === null) due.push(rec);
      if (++visited % sliceSize === 0) {
        yield due;
        due = [];
      }
    }
    yield due;
  }
}
