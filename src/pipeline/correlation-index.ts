/**
 * The index of the `sms.correlation` topic, kept in a store (src/store: LMDB on disk) and fed
 * record by record. Pure: the store is a port.
 *
 * Three kinds of entry live in the topic:
 *  - `r:<requestId>` — what was submitted for a request: its facts and the SMSC message id of each
 *    segment accepted so far. Used to correlate receipts (message id → request) and to skip
 *    segments that are already submitted when a record is replayed after a crash.
 *  - `f:<messageId>` — the final receipt state of one segment, so whichever replica sees the last
 *    receipt of a request can emit its summary.
 *  - `s:<requestId>` — a multipart request's SUMMARY was published. When its segments turned final
 *    on different replicas and both stopped before either saw the other's final, nobody emitted
 *    the summary; a request complete for a while without this marker is summarised by whichever
 *    replica notices (see `summaryDue`).
 *  - `m:<messageId>` — one accepted segment, with what a receipt for it needs of its request, in
 *    the partition its message id hashes to: a receipt, which knows nothing but that id, can be
 *    routed to the one partition that correlates it (issue 20's partitioned ownership).
 *
 * A one-segment request lives on as its message (its *subject*): receipts, the UNKNOWN at its
 * deadline, promotion and the prune all go by its `m:` entry, and its `r:` snapshot serves only
 * replay dedupe — it leaves `CORRELATION_KEEP_DONE_MS` after it was written, as a request without
 * receipts always did. A multipart request lives on as its `r:` snapshot, whose message ids map to
 * it. (A snapshot written before `m:` entries existed stands for its one-segment subject.)
 * Each replica tails the whole topic, so a receipt arriving on any replica finds its request.
 *
 * The heap holds none of it: a request pending a receipt for two days costs disk, not memory, so
 * any number of them correlate for the whole receipt wait. What the store holds is bounded by
 * time instead: a request is forgotten `CORRELATION_KEEP_DONE_MS` after it completed, and every
 * request completes — by its receipts, or by the UNKNOWN summary the sweeper writes at its
 * deadline. The tail records, per partition, the offset up to which the store holds the topic
 * (`checkpoint`), so a restart on the same store reads only what was written since.
 *
 * A replica on an empty disk must not read a week of history to find the few requests still
 * waiting for receipts. So a request still incomplete `CORRELATION_RESTORE_WINDOW_MS / 2` after it
 * was written — and again after each later change — is *promoted*: its whole state is written
 * under its own key to the compacted live-state topic (correlation-promoter.ts), and a tombstone
 * follows when it is forgotten. An empty store restores that topic, then reads the correlation
 * topic only from the last window (correlation-tail.ts). The `chg` timeline lists what waits for
 * promotion, `promoted` what was written there, `retired` what needs its tombstone.
 */
import type { DeliveryStatus } from '../contracts.js';
import type { CorrelationStore, StoreEntry, StoreKey, StoreTable } from './correlation-store-port.js';

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
  /**
   * The route its segments went through (all of them: a message never changes route once a
   * segment is accepted). Absent in records written before routes existed: `default`. Its
   * `messageIds` are correlation ids (route-ids.ts): two providers' message ids may collide.
   */
  route?: string;
  /**
   * The correlation partition its entries (`r:`, `f:`, `s:`) are written to: its outbound record's
   * partition, so the replica that re-reads that partition after a crash or a rebalance finds them
   * in one correlation partition (issue 20's partitioned ownership). Absent in records written
   * before homes: their entries stay where their keys hash to (`toHome`).
   */
  home?: number;
  /**
   * Its accepted segments each have their `m:` entry, which carries a one-segment request's life:
   * the snapshot does not stand for it. Absent in records written before `m:` entries: a
   * one-segment request's subject is then derived from its snapshot.
   */
  messageEntries?: true;
}

/** A correlation write's named partition, or nothing (its key's hash) when there is none. */
export function inPartition(partition: number | undefined): { partition?: number } {
  return partition === undefined ? {} : { partition };
}

/** Where a request's entries go: `{ partition: home }`, or nothing (its key's hash) for a request written before homes. */
export function toHome(rec: RequestRecord): { partition?: number } {
  return inPartition(rec.home);
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

/**
 * An `m:<messageId>` entry: one accepted segment, and what a receipt for it needs of its request —
 * the request's facts as its snapshot has them (`home`: where a multipart segment's final must also go).
 */
export interface MessageEntry extends Pick<
  RequestRecord,
  'v' | 'segments' | 'from' | 'to' | 'metadata' | 'attempts' | 'submittedAt' | 'receipts' | 'receiptDeadline' | 'route' | 'home'
> {
  requestId: string;
  segment: number;
  /** The correlation partition the entry lives in (its id's hash): where its final goes. Unknown when derived from a snapshot. */
  partition?: number;
}

/** The `m:` entry of segment `segment` (1-based) of a snapshot. */
export function messageEntryOf(rec: RequestRecord, segment: number, partition?: number): MessageEntry {
  const entry: MessageEntry = {
    v: 1,
    requestId: rec.id,
    segment,
    segments: rec.segments,
    from: rec.from,
    to: rec.to,
    metadata: rec.metadata,
    attempts: rec.attempts,
    submittedAt: rec.submittedAt,
    receipts: rec.receipts,
    receiptDeadline: rec.receiptDeadline,
  };
  if (rec.route !== undefined) entry.route = rec.route;
  if (rec.home !== undefined) entry.home = rec.home;
  if (partition !== undefined) entry.partition = partition;
  return entry;
}

/** The one-segment request a subject stands for, as the receipt path and the sweeper read requests. */
function requestOfSubject(entry: MessageEntry, messageId: string): RequestRecord {
  const rec: RequestRecord = {
    v: 1,
    id: entry.requestId,
    from: entry.from,
    to: entry.to,
    metadata: entry.metadata,
    segments: 1,
    messageIds: [messageId],
    attempts: entry.attempts,
    submittedAt: entry.submittedAt,
    receipts: entry.receipts,
    receiptDeadline: entry.receiptDeadline,
  };
  if (entry.route !== undefined) rec.route = entry.route;
  const home = subjectHome(entry);
  if (home !== undefined) rec.home = home;
  return rec;
}

/** Where a subject's finals go: where its entry lives, so the partition that correlates its receipts holds them. */
function subjectHome(entry: MessageEntry): number | undefined {
  return entry.partition ?? entry.home;
}

/**
 * What the store keeps of a one-segment snapshot whose `m:` entry carries the request's life: the
 * snapshot then serves replay dedupe only, and a replay has the facts (`from`, `to`, `metadata`)
 * of the record it decodes again. Kept without them, it costs its put, its read at the prune and
 * its pages less (issue 20 plan §2.6.5: the step-5 CPU gate). The topic's `r:` record keeps them:
 * replicas of older versions read a request's facts from it.
 */
export type DedupeSnapshot = Omit<RequestRecord, 'from' | 'to' | 'metadata'>;
/** A snapshot as the store holds it: whole, or (a one-segment request with its subject) for dedupe. */
export type StoredSnapshot = RequestRecord | DedupeSnapshot;

/** Whether a stored snapshot has the request's facts (a multipart request's, or one written before `m:` entries). */
export const hasFacts = (stored: StoredSnapshot): stored is RequestRecord => 'to' in stored;

/** The snapshot without its facts, as the store keeps a one-segment request's that has its subject. */
function dedupeSnapshotOf(rec: RequestRecord): DedupeSnapshot {
  const kept: DedupeSnapshot = {
    v: 1,
    id: rec.id,
    segments: rec.segments,
    messageIds: rec.messageIds,
    attempts: rec.attempts,
    submittedAt: rec.submittedAt,
    receipts: rec.receipts,
    receiptDeadline: rec.receiptDeadline,
  };
  if (rec.home !== undefined) kept.home = rec.home;
  if (rec.messageEntries) kept.messageEntries = rec.messageEntries;
  if (rec.route !== undefined) kept.route = rec.route;
  return kept;
}

/**
 * A stored snapshot whole again: its own facts when it kept them, else `facts` — the replayed
 * record's, decoded again, which are the ones it was first written with. Fields in the order the
 * outbound processor first wrote them (`route` is set at the first accept), so a republished
 * `r:` record reads as the first one did.
 */
export function snapshotWithFacts(stored: StoredSnapshot, facts: Pick<RequestRecord, 'from' | 'to' | 'metadata'>): RequestRecord {
  if (hasFacts(stored)) return stored;
  const rec: RequestRecord = {
    v: 1,
    id: stored.id,
    from: facts.from,
    to: facts.to,
    metadata: facts.metadata,
    segments: stored.segments,
    messageIds: stored.messageIds,
    attempts: stored.attempts,
    submittedAt: stored.submittedAt,
    receipts: stored.receipts,
    receiptDeadline: stored.receiptDeadline,
  };
  if (stored.home !== undefined) rec.home = stored.home;
  if (stored.messageEntries) rec.messageEntries = stored.messageEntries;
  if (stored.route !== undefined) rec.route = stored.route;
  return rec;
}

export interface SegmentRef {
  request: RequestRecord;
  segment: number;
  /** The request is a subject's (one segment, read from its `m:` entry). */
  subject?: true;
}

const REQUEST_PREFIX = 'r:';
const FINAL_PREFIX = 'f:';
const SUMMARY_PREFIX = 's:';
const MESSAGE_PREFIX = 'm:';
const PROGRESS_PREFIX = 'o:';
export const requestKey = (id: string): string => `${REQUEST_PREFIX}${id}`;
export const finalKey = (messageId: string): string => `${FINAL_PREFIX}${messageId}`;
export const summaryKey = (requestId: string): string => `${SUMMARY_PREFIX}${requestId}`;
export const messageKey = (messageId: string): string => `${MESSAGE_PREFIX}${messageId}`;
export const SUMMARY_MARKER: SummaryMarker = { v: 1 };
/** The receipt owner's progress through its partition of the receipts topic (receipt-owner.ts), in the same correlation partition. */
export const progressKey = (partition: number): string => `${PROGRESS_PREFIX}${partition}`;

/** How far the owner of a receipts partition has handled it: the next offset to read. */
export interface ReceiptProgress {
  v: 1;
  topic: string;
  offset: string;
}

export type CorrelationValue = RequestRecord | FinalRecord | SummaryMarker | MessageEntry | ReceiptProgress;

/**
 * Where progress read from the topic is kept, in the checkpoints table: under a name no Kafka topic
 * can have (`:` is not allowed in one), so it never passes for the store's own checkpoint.
 */
const progressOf = (topic: string): string => `${PROGRESS_PREFIX}${topic}`;

/** A request's whole state, as the live-state topic holds it (one record per request). */
export interface LiveRequestState {
  v: 1;
  request: RequestRecord;
  /** Message id → its final, for the segments final so far. */
  finals: Record<string, FinalRecord>;
  summarised: boolean;
  /** The promotion cut: the state holds every change written before it. */
  cut: number;
}

/**
 * The store's layout: a store written with another is wiped on open and the topic read again.
 * Bump it with any change to the tables below or to the values they hold. 4: one-segment snapshots
 * kept without their facts (`DedupeSnapshot`) — this version would read a format-3 store right, but
 * a version before it, rolled back onto a store this one wrote, would republish such a snapshot
 * without its facts; the bump makes it wipe and re-read instead (as the upgrade does once here).
 */
export const CORRELATION_STORE_FORMAT = 4;

/**
 * Time-ordered work: requests complete since `at` (for the prune), requests awaiting receipts until
 * `deadline`, `f:`/`s:`/`m:` entries applied while their request was unknown (checked at the prune), and
 * requests changed at `at` that may need promoting (`chg`); the same three for subjects, by message
 * id (`mdone`, `mdue`, `mchg`: a request id may look like anything, so they are kinds of their own).
 */
type TimelineKind = 'done' | 'due' | 'lone' | 'chg' | 'mdone' | 'mdue' | 'mchg';
type TimelineKey = [TimelineKind, number, string];
type CheckpointKey = [string, number];

/** How many entries one prune pass visits: a pass runs on the event loop, between submits and receipts. */
const PRUNE_SLICE = 5_000;
/**
 * Message ids longer than this are not mapped: a store key holds at most 1,978 bytes, and no
 * receipt could name them (a receipt's id is at most 64 characters; dlr.ts). An SMSC answering a
 * submit_sm with such an id (SMPP allows 65 octets) would otherwise stop the record after its
 * segment was accepted.
 */
const MAX_MAPPED_MESSAGE_ID = 256;
const mappable = (messageId: string | null): messageId is string => messageId !== null && messageId.length <= MAX_MAPPED_MESSAGE_ID;
/** A one-segment request's `m:` entry: what its receipts, deadline and promotion go by. */
const isSubject = (mapped: string | MessageEntry | undefined): mapped is MessageEntry => typeof mapped === 'object' && mapped.segments === 1;
/** The request a message id maps to, whichever way it was learnt. */
const requestIdOf = (mapped: string | MessageEntry): string => (typeof mapped === 'string' ? mapped : mapped.requestId);
/** Partitions are numbered below this (Kafka's own limit on a topic is far lower). */
const PARTITION_END = 2 ** 31;

/**
 * Which correlation partitions this replica keeps and acts for (issue 20, partitioned ownership:
 * its tail holds its bulk partitions and its urgent homes only). The default holds and acts for
 * every partition: replicated ownership.
 */
export interface PartitionScope {
  /** Entries of `partition` are kept here: a subject this replica submitted in another is not (its owner keeps it). */
  holds(partition: number): boolean;
  /**
   * The sweep (UNKNOWN at the deadline), the summary repair and promotion act for `partition`:
   * held, and read up to date since it was gained. Entries of a partition released a moment ago
   * (still being dropped) or still being restored wait.
   */
  actsFor(partition: number): boolean;
  /** The partition a key hashes to: where entries written before homes and message partitions live. */
  partitionOfKey(key: string): number;
}

const EVERY_PARTITION: PartitionScope = { holds: () => true, actsFor: () => true, partitionOfKey: () => 0 };

export interface CorrelationIndexOptions {
  /**
   * An entry forgotten this long (or longer) after its request was submitted may have had its
   * state promoted by another replica (this partition's owner before a rebalance): it gets a
   * tombstone in the live-state topic even though this store never promoted it. (A change to it
   * needs nothing more: a store holds a partition's requests either restored from the live-state
   * topic, promoted, or read with their changes from the topic, listed.) Half the restore window less the clock margin
   * (`promotionAgeMs` in correlation-promoter.ts); unset: never (only what this store promoted).
   */
  promotedAfterMs?: number;
  /**
   * Partitioned ownership: a subject's `m:` entry read again after its final (a replay on the
   * replica holding the request's home republishes it, and that replica, not holding the
   * subject's partition, cannot republish the final with it). Given the final's record, to write
   * it again after the entry: a restore reading that entry alone would make the request wait again
   * and summarise it UNKNOWN. Called only where this replica acts for the partition.
   */
  onRepublishedFinal?: (write: { key: string; value: FinalRecord; partition: number }) => void;
  /**
   * Partitioned ownership: a request written by a version before `m:` entries (no
   * `messageEntries`), read from a topic while its receipts are still awaited, with its deadline.
   * Its receipts are routed by message id to partitions that hold nothing of it, so they may not
   * correlate (README "Upgrading onto partitioned ownership"): the caller warns.
   */
  onLegacyWaiting?: (receiptDeadline: number) => void;
}

/** How many entries a partition drop visits before it lets the event loop run. */
const DROP_SLICE = 2_000;

export class CorrelationIndex {
  /** Request id → its snapshot; a one-segment request's with its subject kept without its facts (`DedupeSnapshot`). */
  private readonly requests: StoreTable<string, StoredSnapshot>;
  /**
   * Message id → a one-segment request's subject (its `m:` entry); for a multipart request, its id
   * as its snapshot maps it, or its `m:` entry when that was read before the snapshot.
   */
  private readonly messages: StoreTable<string, string | MessageEntry>;
  private readonly finals: StoreTable<string, FinalRecord>;
  /** Multipart requests whose `s:` marker was read (or written here). */
  private readonly summarised: StoreTable<string, 1>;
  /** Multipart requests complete without a marker yet → when this replica saw them complete. */
  private readonly unsummarised: StoreTable<string, number>;
  private readonly timeline: StoreTable<TimelineKey, 1>;
  /** [topic, partition] → the next offset to read: everything before it is in the store. */
  private readonly checkpointTable: StoreTable<CheckpointKey, string>;
  /** Requests whose state is in the live-state topic → the promotion cut it reflects every change before. */
  private readonly promotedTable: StoreTable<string, number>;
  /** Promoted requests forgotten here, whose tombstone is not written yet → when. */
  private readonly retiredTable: StoreTable<string, number>;
  /** Outbound topic → the partitions this replica owned last (its store followed them: announced as warm at the next join). */
  private readonly assignmentTable: StoreTable<string, number[]>;
  /** Promoted subjects: request id → message id, so that the request's tombstone finds its subject at a restore. */
  private readonly promotedSubjects: StoreTable<string, string>;
  /**
   * Requests whose promotion is on its way to Kafka → the `chg` entry that listed them. A change
   * applied meanwhile asks for another promotion (the state on its way may lack it); the entry is
   * removed and the request marked promoted only once Kafka acknowledged the state, so a crash
   * before that lists it again.
   */
  private readonly inFlight = new Map<string, TimelineKey>();
  /**
   * Receipts waiting for their message id, keyed by that id: a request snapshot wakes only the
   * waiters of the ids it maps. (One shared list woke every waiter on every record read — with a
   * backlog of receipts for unknown ids, each correlation record cost a pass over all of them.)
   */
  private readonly waiters = new Map<string, Set<() => void>>();
  pruned = 0;

  private scope: PartitionScope = EVERY_PARTITION;

  constructor(
    private readonly store: CorrelationStore,
    private readonly clock: () => number = Date.now,
    private readonly options: CorrelationIndexOptions = {},
  ) {
    this.requests = store.table('requests');
    this.messages = store.table('messages');
    this.finals = store.table('finals');
    this.summarised = store.table('summarised');
    this.unsummarised = store.table('unsummarised');
    // Walked by ranges only, in sweeps that run every second: a key put again since the last commit can wait for it.
    this.timeline = store.table('timeline', { keysOnly: true });
    this.checkpointTable = store.table('checkpoints');
    this.promotedTable = store.table('promoted');
    this.retiredTable = store.table('retired');
    this.assignmentTable = store.table('assignment');
    this.promotedSubjects = store.table('subjects');
  }

  /** Snapshots and message entries held (committed to the store; a gauge). */
  get size(): number {
    return this.requests.count() + this.messages.count();
  }

  /** Partitioned ownership: what this replica keeps and acts for (wired once, at start). */
  setScope(scope: PartitionScope): void {
    this.scope = scope;
  }

  /**
   * Applies one correlation-topic record; `value === null` is a tombstone. `at` is when it was
   * written (the record's timestamp; now for this replica's own writes): promotion goes by it.
   */
  apply(key: string, value: CorrelationValue | null, at = this.clock()): void {
    if (key.startsWith(REQUEST_PREFIX)) this.applyRequest(key.slice(REQUEST_PREFIX.length), value as RequestRecord | null, at);
    else if (key.startsWith(FINAL_PREFIX)) this.applyFinal(key.slice(FINAL_PREFIX.length), value as FinalRecord | null, at);
    else if (key.startsWith(SUMMARY_PREFIX)) this.applySummaryMarker(key.slice(SUMMARY_PREFIX.length), value !== null);
    else if (key.startsWith(MESSAGE_PREFIX)) this.applyMessage(key.slice(MESSAGE_PREFIX.length), value as MessageEntry | null);
    else if (key.startsWith(PROGRESS_PREFIX)) this.applyProgress(Number(key.slice(PROGRESS_PREFIX.length)), value as ReceiptProgress | null);
  }

  /**
   * One of this process's own entries read back from the topic (after a partition gain dropped or
   * missed what it applied when writing it): applied as any entry, except a snapshot whose
   * accepted segments the stored one has already — an older version of this process's own
   * request, which would take back a later segment and its final.
   */
  applyOwnAgain(key: string, value: CorrelationValue | null, at: number): void {
    if (key.startsWith(REQUEST_PREFIX) && value) {
      const stored = this.requests.get(key.slice(REQUEST_PREFIX.length));
      const rec = value as RequestRecord;
      if (stored && rec.messageIds.every((m) => m === null || stored.messageIds.includes(m))) return;
    }
    this.apply(key, value, at);
  }

  /** Keeps the furthest progress read: records of two owners around a handover may arrive in either order. */
  private applyProgress(partition: number, value: ReceiptProgress | null): void {
    if (!value || !Number.isInteger(partition) || !/^\d+$/.test(value.offset)) return;
    const key: CheckpointKey = [progressOf(value.topic), partition];
    const kept = this.checkpointTable.get(key);
    if (kept === undefined || BigInt(value.offset) > BigInt(kept)) this.checkpointTable.put(key, value.offset);
  }

  /** How far the last owner of `topic`'s partition said it handled it (its `o:` entries), if any were read. */
  receiptProgress(topic: string, partition: number): string | undefined {
    return this.checkpointTable.get([progressOf(topic), partition]);
  }

  /** Records that the store holds `topic`'s partition up to `nextOffset` (exclusive), once the writes before this one are. */
  checkpoint(topic: string, partition: number, nextOffset: string): void {
    this.checkpointTable.put([topic, partition], nextOffset);
  }

  /** Partition → the offset to resume `topic` from. */
  checkpoints(topic: string): Map<number, string> {
    const found = this.checkpointTable.range({ from: [topic, 0], to: [topic, PARTITION_END], limit: PARTITION_END });
    return new Map(found.entries.map(({ key, value }) => [key[1], value]));
  }

  /** Remembers the partitions of `topic` this replica was given (the latest assignment). */
  rememberAssignment(topic: string, partitions: readonly number[]): void {
    this.assignmentTable.put(topic, [...partitions]);
  }

  /** The partitions of `topic` this replica was last given, in this run or the one before on this store. */
  lastAssignment(topic: string): number[] {
    return this.assignmentTable.get(topic) ?? [];
  }

  /** Forgets a checkpoint that no longer matches its topic (recreated, or its records expired). */
  dropCheckpoint(topic: string, partition: number): void {
    this.checkpointTable.remove([topic, partition]);
  }

  /** Resolves once everything applied so far is committed to the store. */
  written(): Promise<void> {
    return this.store.written();
  }

  /** The request an entry is about: an `r:` snapshot's own, or the one an `f:` final's message id maps to. */
  requestOfEntry(key: string): RequestRecord | undefined {
    if (key.startsWith(REQUEST_PREFIX)) return this.standingRequest(key.slice(REQUEST_PREFIX.length));
    if (key.startsWith(FINAL_PREFIX)) return this.segmentOf(key.slice(FINAL_PREFIX.length))?.request;
    return undefined;
  }

  /**
   * The snapshot of a request this replica has just sent a segment of, applied before it is
   * published (a receipt can overtake its round trip). Newer than any promoted state of the
   * request — a promotion's cut lies half the restore window before the pass that wrote it, on
   * any replica (their clocks differ by far less) — so the check against one is skipped.
   */
  applyOwnSnapshot(rec: RequestRecord): void {
    this.applyRequest(rec.id, rec, this.clock(), true, true);
  }

  /**
   * `track`: list the request for promotion (not when it comes from the live-state topic itself).
   * `own`: this replica's snapshot, written now (`applyOwnSnapshot`).
   */
  private applyRequest(id: string, rec: RequestRecord | null, at: number, track = true, own = false): void {
    // Older than the promoted state, which holds every change written before its cut: an empty
    // store re-reads the window below that cut, whose snapshots would take back segments (and
    // their finals) the state has.
    const promotedCut = own ? undefined : this.promotedTable.get(id);
    if (rec && promotedCut !== undefined && at < promotedCut) return;
    const old = this.requests.get(id);
    if (old) {
      // A segment re-sent under a new id: the old id's mapping (or subject) and final go with it.
      for (const m of old.messageIds) if (mappable(m) && !rec?.messageIds.includes(m)) this.dropMessage(m);
      this.timeline.remove(['due', old.receiptDeadline, id]);
    }
    if (!rec) {
      this.requests.remove(id);
      return;
    }
    if (!own) this.noteLegacy(rec);
    if (rec.segments === 1 && mappable(rec.messageIds[0] ?? null)) {
      this.applyOneSegment(rec, at, track);
      return;
    }
    this.requests.put(id, rec);
    for (const m of rec.messageIds) if (mappable(m) && !old?.messageIds.includes(m)) this.messages.put(m, id);
    for (const m of rec.messageIds) if (m) this.wake(m);
    // Complete already when applied: no receipt expected, or its finals arrived first (another
    // replica's `f:` records can be read before this snapshot).
    const outcomes = rec.receipts ? this.outcomes(rec) : null;
    if (rec.receipts ? outcomes !== null : !rec.messageIds.includes(null)) this.onComplete(rec, outcomes, at);
    else {
      this.timeline.put(['due', rec.receiptDeadline, id], 1);
      // A new request waits for its promotion; a known one only needs another if it was promoted
      // (the promotion of an unpromoted one writes its state as it is then, this change included).
      if (track && (!old || this.inFlight.has(id) || (own ? this.promotedTable.get(id) : promotedCut) !== undefined)) this.timeline.put(['chg', at, id], 1);
    }
  }

  /**
   * A one-segment request's snapshot, once its segment is accepted: kept for replay dedupe until
   * KEEP_DONE after it was written; its subject — its `m:` entry, which lives in the partition of
   * its message id (perhaps one this replica does not hold) — carries the rest. A snapshot written
   * before `m:` entries stands for its subject.
   */
  private applyOneSegment(rec: RequestRecord, at: number, track: boolean): void {
    this.requests.put(rec.id, rec.messageEntries ? dedupeSnapshotOf(rec) : rec);
    // Counted from the submit, not from this copy's write: a replay republishing it must not keep
    // it past its subject — a later replay would then find the snapshot without the subject and
    // republish an `m:` that makes a delivered request wait again.
    this.timeline.put(['done', Math.min(at, rec.submittedAt || at, this.clock()), rec.id], 1);
    const messageId = rec.messageIds[0]!;
    if (!rec.messageEntries && this.messages.get(messageId) === undefined) this.applyMessage(messageId, messageEntryOf(rec, 1), at, track);
  }

  /** A request from a version before `m:` entries whose receipts are still awaited (`onLegacyWaiting`). */
  private noteLegacy(rec: RequestRecord): void {
    const note = this.options.onLegacyWaiting;
    if (!note || rec.messageEntries || !rec.receipts || rec.receiptDeadline <= this.clock() || !rec.messageIds.some(mappable)) return;
    if (this.outcomes(rec) === null) note(rec.receiptDeadline);
  }

  /** A message id no snapshot maps any more: its subject (or mapping) and final go. */
  private dropMessage(messageId: string): void {
    const mapped = this.messages.get(messageId);
    if (isSubject(mapped)) {
      this.forgetSubject(messageId, mapped);
      return;
    }
    this.messages.remove(messageId);
    this.finals.remove(messageId);
  }

  private applyFinal(messageId: string, rec: FinalRecord | null, at: number): void {
    if (!mappable(messageId)) return;
    if (!rec) {
      this.finals.remove(messageId);
      return;
    }
    const ref = this.segmentOf(messageId);
    if (ref) {
      this.applyFinalOf(ref, rec, at);
      return;
    }
    this.finals.put(messageId, rec);
    // Its request not known (yet: another partition; or no longer: pruned here before another
    // replica's late final came): checked again at the prune, and dropped if still alone.
    this.timeline.put(['lone', this.clock(), finalKey(messageId)], 1);
  }

  /**
   * Records the final state of a segment whose request the caller has already looked up (a
   * receipt); returns the request's outcomes once every segment is final, else null. Spares the
   * receipt path a second lookup of the request and of its finals.
   */
  applyFinalOf(ref: SegmentRef, final: FinalRecord, at = this.clock()): FinalRecord[] | null {
    const messageId = ref.request.messageIds[ref.segment - 1]!;
    this.finals.put(messageId, final);
    if (ref.subject) {
      // Complete. A promoted subject needs no new promotion: its final stays in the correlation
      // topic's restore window until its tombstone (the argument below).
      this.timeline.put(['mdone', Math.min(at, this.clock()), messageId], 1);
      this.timeline.remove(['mdue', ref.request.receiptDeadline, messageId]);
      return [final];
    }
    const outcomes = this.outcomes(ref.request);
    if (outcomes) this.onComplete(ref.request, outcomes, at);
    // A promoted request that completes needs no new promotion: its completing final stays in the
    // correlation topic's restore window until its tombstone (CORRELATION_KEEP_DONE_MS < window / 2).
    else if (this.isPromoted(ref.request.id)) this.timeline.put(['chg', at, ref.request.id], 1);
    return outcomes;
  }

  /**
   * `outcomes`: every segment's final, when receipts were requested (null when not). `at`: when the
   * completing entry was written — the prune counts from it, not from when this replica read it,
   * so a lagging tail does not keep a promoted request (and delay its tombstone) past the window.
   */
  private onComplete(rec: RequestRecord, outcomes: FinalRecord[] | null, at: number): void {
    const now = this.clock();
    this.timeline.put(['done', Math.min(at, now), rec.id], 1);
    this.timeline.remove(['due', rec.receiptDeadline, rec.id]);
    if (
      rec.segments > 1 &&
      rec.receipts &&
      this.summarised.get(rec.id) === undefined &&
      this.unsummarised.get(rec.id) === undefined &&
      outcomes?.every((f) => f.at !== undefined)
    ) {
      this.unsummarised.put(rec.id, now);
    }
  }

  /**
   * An `m:` entry (`track`: list it for promotion; not when it comes from the live-state topic).
   * One whose id is mapped already changes nothing (read twice; or an older snapshot stood for it). A one-segment request's
   * becomes its subject: waiting for a receipt until its deadline, complete once its final is in
   * (read first: another partition) or when no receipt was asked for. A multipart request's only
   * maps the id until its snapshot does, and is dropped at the prune if none does by then. A
   * tombstone (the segment was sent again under another id) drops what the entry made.
   */
  private applyMessage(messageId: string, entry: MessageEntry | null, at = this.clock(), track = true): void {
    if (!mappable(messageId)) return;
    const mapped = this.messages.get(messageId);
    if (!entry) {
      if (typeof mapped === 'object') this.dropMessage(messageId);
      return;
    }
    if (mapped !== undefined) {
      if (isSubject(mapped) && mapped.requestId === entry.requestId) this.finalAgain(messageId, mapped);
      return;
    }
    this.putMessage(messageId, entry, at, track, entry.segments === 1 && entry.receipts && this.finals.get(messageId) !== undefined);
  }

  /** A complete subject's entry read again: its final goes after it (`onRepublishedFinal`). */
  private finalAgain(messageId: string, subject: MessageEntry): void {
    const write = this.options.onRepublishedFinal;
    if (!write) return;
    const partition = this.entryPartition(messageId, subject);
    const final = this.finals.get(messageId);
    if (final && this.scope.actsFor(partition)) write({ key: finalKey(messageId), value: final, partition });
  }

  /**
   * A replay's republished subject (one-segment `m:` entry), applied here unless its id is known:
   * the crashed process's entry may never have reached the topic (its snapshot did, in another
   * partition), and this process's own copy is skipped when read back. Kept only in a partition
   * held here; a final already here counts (`applyMessage`).
   */
  applyReplayedSubject(messageId: string, entry: MessageEntry): void {
    if (entry.segments !== 1 || !this.scope.holds(this.entryPartition(messageId, entry))) return;
    if (this.messages.get(messageId) === undefined) this.applyMessage(messageId, entry);
  }

  /**
   * The subject of a segment this replica's SMSC has just accepted, applied before its entry is
   * published (a receipt can overtake its round trip). Its id is new: no final for it can be in
   * the store — this entry reaches other replicas only through the topic, after this, and a
   * receipt here waits for it — so `finals` is not read (a final left by an earlier use of the
   * id is met by the overdue sweep: `settleSubject`).
   */
  applyNewSubject(messageId: string, entry: MessageEntry): void {
    // Its partition's owner keeps it (partitioned ownership): receipts for it go there.
    if (!this.scope.holds(this.entryPartition(messageId, entry))) return;
    // An SMSC may give an id again while the store holds its earlier use (a subject waits up to
    // its deadline): the earlier one keeps it, as when the entry is read from the topic.
    if (!mappable(messageId) || entry.segments !== 1 || this.messages.get(messageId) !== undefined) this.applyMessage(messageId, entry);
    else this.putMessage(messageId, entry, this.clock(), true, false);
  }

  /** Maps a message id to its entry and lists it where it waits; `final`: the subject's final is in already. */
  private putMessage(messageId: string, entry: MessageEntry, at: number, track: boolean, final: boolean): void {
    this.messages.put(messageId, entry);
    const now = this.clock();
    if (entry.segments !== 1) {
      // Until its request's deadline (then KEEP_DONE at the prune): with partitioned ownership
      // this entry is how the owner of its partition finds the request's home, whose snapshot
      // it never holds. Where the snapshot comes, it maps the id instead and the prune keeps that.
      this.timeline.put(['lone', Math.max(now, entry.receiptDeadline), messageKey(messageId)], 1);
    } else if (!entry.receipts || final) {
      this.timeline.put(['mdone', Math.min(at, now), messageId], 1);
    } else {
      this.timeline.put(['mdue', entry.receiptDeadline, messageId], 1);
      if (track) this.timeline.put(['mchg', at, messageId], 1);
    }
    this.wake(messageId);
  }

  /**
   * Drops a subject with its final; a promoted one is retired (its tombstone is due). `complete`:
   * its `mdue` entry went when it completed (a remove is a write even when there is nothing to remove).
   */
  private forgetSubject(messageId: string, entry: MessageEntry, complete = false): void {
    this.messages.remove(messageId);
    this.finals.remove(messageId);
    if (!complete) this.timeline.remove(['mdue', entry.receiptDeadline, messageId]);
    const id = entry.requestId;
    if (this.mayBePromoted(id, entry.submittedAt)) {
      this.promotedTable.remove(id);
      this.promotedSubjects.remove(id);
      this.retiredTable.put(id, this.clock());
    }
  }

  private applySummaryMarker(requestId: string, present: boolean): void {
    if (!present) return; // a tombstone: the request is being forgotten anyway
    this.unsummarised.remove(requestId);
    // A marker can be read before its request (other partition): kept for unknown ids too,
    // forgotten with the request, or at the prune when it is still alone.
    this.summarised.put(requestId, 1);
    if (this.requests.get(requestId) === undefined) this.timeline.put(['lone', this.clock(), summaryKey(requestId)], 1);
  }

  /**
   * Multipart requests complete since before `before` whose summary nobody has marked as
   * published: their segments turned final on replicas that stopped before either saw the
   * other's final. Few: a marker normally follows its request's completion within milliseconds.
   */
  summaryDue(before: number): Array<{ request: RequestRecord; outcomes: FinalRecord[] }> {
    const due: Array<{ request: RequestRecord; outcomes: FinalRecord[]; since: number }> = [];
    for (const { key: id, value: since } of this.unsummarised.range({ from: '', limit: PRUNE_SLICE }).entries) {
      if (since >= before) continue;
      const request = this.fullSnapshot(id);
      if (request && !this.scope.actsFor(this.requestPartition(request))) continue;
      const outcomes = request ? this.outcomes(request) : null;
      if (request && outcomes) due.push({ request, outcomes, since });
      else this.unsummarised.remove(id);
    }
    return due.sort((a, b) => a.since - b.since).map(({ request, outcomes }) => ({ request, outcomes }));
  }

  /**
   * Forgets requests that completed before `before`: their receipts are all in, and their records
   * were committed long ago, so neither a receipt nor a replay needs them. Keeps the store flat
   * under steady traffic. Visits at most `limit` completions per call (the rest on the next);
   * returns how many requests were dropped.
   */
  pruneCompleted(before: number, limit = PRUNE_SLICE): number {
    let dropped = 0;
    for (const { key } of this.timeline.range({ from: ['done', 0, ''], to: ['done', before, ''], limit }).entries) {
      this.timeline.remove(key);
      const id = key[2];
      const rec = this.requests.get(id);
      if (!rec) continue;
      // A one-segment snapshot with its segment accepted served replay dedupe only: its subject
      // lives on by its own times.
      // (Not counted: the request itself is forgotten with its subject.)
      if (rec.segments === 1 && mappable(rec.messageIds[0] ?? null)) this.requests.remove(id);
      else if (this.isComplete(rec)) {
        this.forget(id, rec);
        dropped++;
      }
    }
    for (const { key } of this.timeline.range({ from: ['mdone', 0, ''], to: ['mdone', before, ''], limit }).entries) {
      this.timeline.remove(key);
      const mapped = this.messages.get(key[2]);
      if (!isSubject(mapped) || (mapped.receipts && this.finals.get(key[2]) === undefined)) continue;
      this.forgetSubject(key[2], mapped, true);
      dropped++;
    }
    this.pruned += dropped;
    this.pruneLone(before, limit);
    return dropped;
  }

  /** Finals and markers whose request never came (or had gone): they would stay for ever. */
  private pruneLone(before: number, limit: number): void {
    for (const { key } of this.timeline.range({ from: ['lone', 0, ''], to: ['lone', before, ''], limit }).entries) {
      this.timeline.remove(key);
      const entry = key[2];
      if (entry.startsWith(FINAL_PREFIX)) {
        const messageId = entry.slice(FINAL_PREFIX.length);
        if (this.messages.get(messageId) === undefined) this.finals.remove(messageId);
      } else if (entry.startsWith(SUMMARY_PREFIX)) {
        const requestId = entry.slice(SUMMARY_PREFIX.length);
        if (this.requests.get(requestId) === undefined) this.summarised.remove(requestId);
      } else if (entry.startsWith(MESSAGE_PREFIX)) {
        // Still an entry, not the snapshot's mapping: no snapshot maps the id (none came, or one
        // that re-sent the segment under another id came first).
        const messageId = entry.slice(MESSAGE_PREFIX.length);
        const mapped = this.messages.get(messageId);
        if (typeof mapped === 'object' && !isSubject(mapped)) this.dropMessage(messageId);
      }
    }
  }

  /** The partition a request's entries live in: its home, or (written before homes) where its snapshot's key hashes. */
  private requestPartition(rec: Pick<RequestRecord, 'id' | 'home'>): number {
    return rec.home ?? this.scope.partitionOfKey(requestKey(rec.id));
  }

  /**
   * The partition an `m:` entry lives in: where it was written (its correlation id's hash); a
   * subject derived from a snapshot written before `m:` entries lives with that snapshot.
   */
  private entryPartition(messageId: string, entry: MessageEntry): number {
    if (entry.partition !== undefined) return entry.partition;
    if (entry.segments === 1) return entry.home ?? this.scope.partitionOfKey(requestKey(entry.requestId));
    return this.scope.partitionOfKey(messageId);
  }

  /**
   * Drops what this store holds of `partitions`, which another replica owns now, without writing
   * anything (no tombstone: the owner keeps these requests): snapshots with their mappings, finals
   * and markers; subjects and `m:` entries with their finals. A multipart snapshot dropped while
   * one of its segments' partitions stays leaves that segment's `m:` entry (how that partition's
   * owner finds the request's home). Visits the tables in slices, awaiting `pause` between them.
   * Timeline keys left behind find nothing and go at their next visit. Returns how many went.
   */
  async dropPartitions(partitions: readonly number[], pause: () => Promise<void>): Promise<number> {
    const gone = new Set(partitions);
    if (gone.size === 0) return 0;
    let dropped = 0;
    for (const slice of rangeSlices(this.requests, '', undefined, DROP_SLICE)) {
      for (const { key: id, value: rec } of slice) {
        if (!gone.has(this.requestPartition({ id, home: rec.home }))) continue;
        this.dropRequest(id, rec, gone);
        dropped++;
      }
      await pause();
    }
    for (const slice of rangeSlices(this.messages, '', undefined, DROP_SLICE)) {
      for (const { key: messageId, value: mapped } of slice) {
        if (typeof mapped !== 'object' || !gone.has(this.entryPartition(messageId, mapped))) continue;
        this.dropEntry(messageId, mapped);
        dropped++;
      }
      await pause();
    }
    return dropped;
  }

  /** A released snapshot: gone here, its promotion forgotten (the partition's owner writes what follows). */
  private dropRequest(id: string, rec: StoredSnapshot, gone: ReadonlySet<number>): void {
    this.requests.remove(id);
    this.promotedTable.remove(id);
    this.timeline.remove(['due', rec.receiptDeadline, id]);
    if (rec.segments > 1) {
      this.summarised.remove(id);
      this.unsummarised.remove(id);
    }
    rec.messageIds.forEach((m, i) => {
      if (!mappable(m) || this.messages.get(m) !== id) return; // a subject, or another's: its own partition decides
      this.messages.remove(m);
      this.finals.remove(m);
      const q = this.scope.partitionOfKey(m);
      if (rec.segments > 1 && hasFacts(rec) && !gone.has(q) && this.scope.holds(q))
        this.putMessage(m, messageEntryOf(rec, i + 1, q), this.clock(), false, false);
    });
  }

  /** A released subject or `m:` entry: gone here with its final, its promotion forgotten. */
  private dropEntry(messageId: string, entry: MessageEntry): void {
    this.messages.remove(messageId);
    this.finals.remove(messageId);
    if (entry.segments !== 1) return;
    this.timeline.remove(['mdue', entry.receiptDeadline, messageId]);
    this.promotedTable.remove(entry.requestId);
    this.promotedSubjects.remove(entry.requestId);
  }

  /** Drops a request with its message ids and final records. */
  private forget(id: string, rec: StoredSnapshot): void {
    this.requests.remove(id);
    if (this.mayBePromoted(id, rec.submittedAt)) {
      this.promotedTable.remove(id);
      this.retiredTable.put(id, this.clock());
    }
    // Markers exist for multipart requests only: a remove is a write, so skip the ones never made.
    if (rec.segments > 1) {
      this.summarised.remove(id);
      this.unsummarised.remove(id);
    }
    this.timeline.remove(['due', rec.receiptDeadline, id]);
    for (const m of rec.messageIds) if (mappable(m)) this.dropMessage(m);
  }

  /** Every segment submitted, and final too when receipts were requested. */
  private isComplete(rec: StoredSnapshot): boolean {
    return rec.receipts ? this.outcomes(rec) !== null : !rec.messageIds.includes(null);
  }

  /**
   * The correlation partition a request's live state belongs to, as far as this store knows: its
   * promoted subject's, else its snapshot's home; undefined when it knows neither.
   */
  liveHome(requestId: string): number | undefined {
    const subject = this.promotedSubjects.get(requestId);
    const mapped = subject === undefined ? undefined : this.messages.get(subject);
    if (isSubject(mapped)) return subjectHome(mapped);
    return this.requests.get(requestId)?.home;
  }

  /**
   * A request's snapshot (replay dedupe): a one-segment request's leaves KEEP_DONE after it was
   * written, and is kept without its facts when its subject has them (`snapshotWithFacts`).
   */
  request(id: string): StoredSnapshot | undefined {
    return this.requests.get(id);
  }

  /** A request as it stands now, as one listed earlier: a one-segment request by its subject. */
  current(listed: RequestRecord): RequestRecord | undefined {
    const messageId = listed.segments === 1 ? listed.messageIds[0] : null;
    const subject = messageId ? this.subjectRequest(messageId) : undefined;
    return subject?.id === listed.id ? subject : this.standingRequest(listed.id);
  }

  /** A snapshot that stands for its request (it has the facts); a dedupe snapshot stands for nothing: its subject does. */
  private fullSnapshot(id: string): RequestRecord | undefined {
    const stored = this.requests.get(id);
    return stored && hasFacts(stored) ? stored : undefined;
  }

  /** The request a snapshot is of: the snapshot itself, or a dedupe snapshot's subject (undefined when that is gone). */
  private standingRequest(id: string): RequestRecord | undefined {
    const stored = this.requests.get(id);
    if (!stored || hasFacts(stored)) return stored;
    const subject = this.subjectRequest(stored.messageIds[0]!);
    return subject?.id === id ? subject : undefined;
  }

  /**
   * The multipart request a message id's `m:` entry names while no snapshot in this store maps the
   * id: read before its snapshot, its snapshot in a partition this replica does not hold — or only
   * an older snapshot here, from before the segment was sent (a request replayed by another
   * replica after this one let its home go: the new snapshot went to a home this one no longer reads).
   */
  pendingRequestOf(messageId: string): Pick<RequestRecord, 'id' | 'home'> | undefined {
    const mapped = mappable(messageId) ? this.messages.get(messageId) : undefined;
    // A subject (one segment) is the request itself; a multipart entry is only a pointer to it.
    if (typeof mapped !== 'object' || mapped.segments === 1) return undefined;
    if (this.requests.get(mapped.requestId)?.messageIds.includes(messageId)) return undefined;
    return mapped.home === undefined ? { id: mapped.requestId } : { id: mapped.requestId, home: mapped.home };
  }

  segmentOf(messageId: string): SegmentRef | undefined {
    const mapped = mappable(messageId) ? this.messages.get(messageId) : undefined;
    if (isSubject(mapped)) return { request: requestOfSubject(mapped, messageId), segment: 1, subject: true };
    const request = mapped === undefined ? undefined : this.fullSnapshot(requestIdOf(mapped));
    if (!request) return undefined;
    const segment = request.messageIds.indexOf(messageId) + 1;
    // A snapshot that no longer maps the id (its mapping removed by a newer one, not yet committed)
    return segment > 0 ? { request, segment } : undefined;
  }

  final(messageId: string): FinalRecord | undefined {
    return mappable(messageId) ? this.finals.get(messageId) : undefined;
  }

  /** Final outcome of every segment, or null while any segment is not final yet. */
  outcomes(request: StoredSnapshot): FinalRecord[] | null {
    const out: FinalRecord[] = [];
    for (const m of request.messageIds) {
      const f = mappable(m) ? this.finals.get(m) : undefined;
      if (!f) return null;
      out.push(f);
    }
    return out;
  }

  /**
   * Resolves when `messageId` is known or `timeoutMs` passed: covers a receipt that overtakes its
   * own submit_sm_resp (or another replica's correlation record still on its way). `enough`, when
   * given, ends the wait early (undefined) each time the id's entries change: an `m:` entry naming
   * a request whose snapshot another replica holds is as far as this store will get.
   */
  waitForMessageId(messageId: string, timeoutMs: number, enough?: () => boolean): Promise<SegmentRef | undefined> {
    const now = this.segmentOf(messageId);
    if (now || timeoutMs <= 0 || enough?.()) return Promise.resolve(now);
    return new Promise((resolve) => {
      let waiting = this.waiters.get(messageId);
      if (!waiting) this.waiters.set(messageId, (waiting = new Set()));
      const forId = waiting;
      const check = (): void => {
        const ref = this.segmentOf(messageId);
        if (ref || enough?.()) done(ref);
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
   * Requests whose receipt deadline is before `now` and not all final — for UNKNOWN summaries —
   * in slices of `sliceSize`, so a caller can yield to the event loop between slices. Only the
   * requests not complete yet are visited, in deadline order. One that can never complete (a
   * segment never sent: it got its summary when it was rejected; or a message id too long to map)
   * is forgotten here, past its deadline, so that it does not stay in the store for ever.
   */
  *overdueSlices(now: number, sliceSize = 5_000): Generator<RequestRecord[]> {
    for (const keys of this.timelineSlices(['due', 0, ''], ['due', now, ''], sliceSize)) {
      const due: RequestRecord[] = [];
      for (const key of keys) {
        const rec = this.fullSnapshot(key[2]);
        if (!rec) this.timeline.remove(key);
        else if (!this.scope.actsFor(this.requestPartition(rec))) continue;
        // Never complete: a segment never sent, or an id too long to map (no receipt can name it).
        else if (!rec.messageIds.every(mappable)) this.forget(rec.id, rec);
        else if (rec.receipts && this.outcomes(rec) === null) due.push(rec);
      }
      yield due;
    }
    for (const keys of this.timelineSlices(['mdue', 0, ''], ['mdue', now, ''], sliceSize)) {
      const due: RequestRecord[] = [];
      for (const key of keys) {
        const mapped = this.messages.get(key[2]);
        if (!isSubject(mapped)) this.timeline.remove(key);
        else if (!this.scope.actsFor(this.entryPartition(key[2], mapped))) continue;
        else if (this.finals.get(key[2]) === undefined) due.push(requestOfSubject(mapped, key[2]));
        else this.settleSubject(key);
      }
      yield due;
    }
  }

  /**
   * A subject past its deadline whose final is in, yet still waiting: it was applied as a new id
   * (`applyNewSubject`, which does not read `finals`) over a final left by an earlier use of the
   * same id — an SMSC that reuses ids. Complete, then: it leaves by the prune like any other.
   */
  private settleSubject(key: TimelineKey): void {
    this.timeline.remove(key);
    this.timeline.put(['mdone', this.clock(), key[2]], 1);
  }

  /** The timeline keys from `from` to `to`, in slices; the next slice is read when the caller asks for it. */
  private *timelineSlices(from: TimelineKey, to: TimelineKey, sliceSize: number): Generator<TimelineKey[]> {
    for (const slice of rangeSlices(this.timeline, from, to, sliceSize)) yield slice.map((e) => e.key);
  }

  /**
   * Requests changed before `cut` that are still incomplete, with their whole state, in slices:
   * what the promoter writes to the live-state topic. Once Kafka has them, `promotionWritten`;
   * else `promotionFailed`. A request complete or gone by now needs no promotion: its `chg` entry
   * goes. A request listed twice (changed twice) is written once; its other entries stay for the
   * next pass, which writes it again only if they are still there (a change applied meanwhile).
   */
  *promotable(cut: number, sliceSize = PRUNE_SLICE): Generator<LiveRequestState[]> {
    const listed = new Set<string>();
    for (const kind of ['chg', 'mchg'] as const) {
      for (const keys of this.timelineSlices([kind, 0, ''], [kind, cut, ''], sliceSize)) {
        const states: LiveRequestState[] = [];
        for (const key of keys) {
          const request = kind === 'chg' ? this.fullSnapshot(key[2]) : this.subjectRequest(key[2]);
          if (!request || this.isComplete(request)) {
            this.timeline.remove(key);
            continue;
          }
          if (!this.scope.actsFor(this.requestPartition(request))) continue;
          if (listed.has(request.id) || this.inFlight.has(request.id)) continue;
          listed.add(request.id);
          this.inFlight.set(request.id, key);
          states.push(this.liveState(request, cut));
        }
        yield states;
      }
    }
  }

  /** The request a subject stands for; undefined when the id maps no subject. */
  private subjectRequest(messageId: string): RequestRecord | undefined {
    const mapped = this.messages.get(messageId);
    return isSubject(mapped) ? requestOfSubject(mapped, messageId) : undefined;
  }

  /** Kafka acknowledged these states: their requests are promoted, the entries that listed them done. */
  promotionWritten(states: LiveRequestState[]): void {
    for (const { request, cut } of states) {
      const key = this.inFlight.get(request.id);
      if (!key) continue;
      this.inFlight.delete(request.id);
      this.timeline.remove(key);
      // Forgotten while on its way: its tombstone is due already (`retired`).
      const still = key[0] === 'mchg' ? this.subjectRequest(key[2]) : this.requests.get(request.id);
      if (!still) continue;
      this.promotedTable.put(request.id, cut);
      if (key[0] === 'mchg') this.promotedSubjects.put(request.id, key[2]);
    }
  }

  /** The write failed: the requests are listed again at the next pass (their entries stay). */
  promotionFailed(states: LiveRequestState[]): void {
    for (const { request } of states) this.inFlight.delete(request.id);
  }

  private isPromoted(id: string): boolean {
    return this.inFlight.has(id) || this.promotedTable.get(id) !== undefined;
  }

  /**
   * Whether a request's state may be in the live-state topic: this store promoted it, or it has
   * lived long enough for a pass to have promoted it elsewhere — the partition's owner before a
   * rebalance, whose promotions this store never learnt (`promotedAfterMs`). Its tombstone is then
   * due when it is forgotten: without one, a later restore would make a delivered request wait
   * again and summarise it UNKNOWN, a second event for it.
   */
  private mayBePromoted(id: string, submittedAt: number): boolean {
    if (this.isPromoted(id)) return true;
    const after = this.options.promotedAfterMs;
    return after !== undefined && submittedAt > 0 && this.clock() - submittedAt >= after;
  }

  /** Promoted requests forgotten since: their tombstones are due in the live-state topic. */
  retired(limit = PRUNE_SLICE): string[] {
    return this.retiredTable.range({ from: '', limit }).entries.map((e) => e.key);
  }

  /** The tombstone of a retired request is written. */
  retiredWritten(id: string): void {
    this.retiredTable.remove(id);
  }

  private liveState(request: RequestRecord, cut: number): LiveRequestState {
    const finals: Record<string, FinalRecord> = {};
    for (const m of request.messageIds) {
      const f = mappable(m) ? this.finals.get(m) : undefined;
      if (f) finals[m!] = f;
    }
    return { v: 1, request, finals, summarised: this.summarised.get(request.id) !== undefined, cut };
  }

  /**
   * A fresh restore of partition q whose multipart requests live elsewhere: for each segment of
   * `state` that is still waiting (no final) and whose correlation id `partitionOf` places in a
   * partition being restored, the `m:` entry its submitter wrote to q — so q's owner learns the
   * request's home (`pendingRequestOf`) without holding its snapshot. Nothing else of the state is
   * restored (snapshot, finals and marker belong to the home). Returns the ids given an entry,
   * for `forgetMessageEntries` when a later record of the request is read.
   */
  restoreMessageEntries(requestId: string, state: LiveRequestState, partitionOf: (correlationId: string) => number | undefined): string[] {
    const { request } = state;
    if (request.segments <= 1 || request.id !== requestId) return [];
    const derived: string[] = [];
    request.messageIds.forEach((correlationId, i) => {
      if (!mappable(correlationId) || state.finals[correlationId] !== undefined) return;
      const q = partitionOf(correlationId);
      if (q === undefined) return;
      this.applyMessage(correlationId, messageEntryOf(request, i + 1, q), state.cut, false);
      derived.push(correlationId);
    });
    return derived;
  }

  /**
   * Drops the `m:` entries `restoreMessageEntries` derived for a request, as its tombstone (or a
   * newer state) read later in the same restore asks. An id mapped otherwise since (its snapshot,
   * another request's entry) is left alone.
   */
  forgetMessageEntries(requestId: string, correlationIds: readonly string[]): void {
    for (const correlationId of correlationIds) {
      const mapped = this.messages.get(correlationId);
      if (typeof mapped === 'object' && mapped.segments > 1 && mapped.requestId === requestId) this.applyMessage(correlationId, null);
    }
  }

  /**
   * Restores a request from the live-state topic into an empty store (before the correlation
   * topic's last window is read on top of it); `null` is its tombstone.
   */
  restoreLive(requestId: string, state: LiveRequestState | null): void {
    if (!state) {
      // The subject first: `forget` would drop the request's promotion, and the subject's row here with it.
      const subject = this.promotedSubjects.get(requestId);
      if (subject !== undefined) this.dropMessage(subject);
      this.promotedSubjects.remove(requestId);
      const known = this.requests.get(requestId);
      if (known) this.forget(requestId, known);
      this.retiredTable.remove(requestId); // its tombstone is there already
      return;
    }
    for (const [messageId, final] of Object.entries(state.finals)) this.finals.put(messageId, final);
    if (state.summarised) this.summarised.put(requestId, 1);
    this.promotedTable.put(requestId, state.cut);
    const { request } = state;
    const messageId = request.segments === 1 ? request.messageIds[0] : null;
    if (mappable(messageId ?? null)) {
      // Every promoted subject's request lacks `messageEntries`; a current one lives where its
      // message id hashes (its `home` is its entry's partition), and so does any whose receipts
      // find it.
      if (request.home !== this.scope.partitionOfKey(messageId!)) this.noteLegacy(request);
      // A one-segment request's state is its subject's (older versions promoted its snapshot: the same facts).
      this.promotedSubjects.put(requestId, messageId!);
      this.applyMessage(messageId!, messageEntryOf(request, 1, request.home), state.cut, false);
      return;
    }
    this.applyRequest(requestId, request, state.cut, false);
  }
}

/**
 * A table's entries from `from` to `to` (unset: its end), in slices; the next slice is read when
 * the caller asks for it, so the caller may remove what it was given and yield in between.
 */
function* rangeSlices<K extends StoreKey, V>(table: StoreTable<K, V>, from: K, to: K | undefined, sliceSize: number): Generator<StoreEntry<K, V>[]> {
  let after = false;
  for (;;) {
    const slice = table.range({ from, ...(to === undefined ? {} : { to }), limit: sliceSize, after });
    if (slice.entries.length > 0) yield slice.entries;
    // Continued from the last key visited, not the last one returned: an entry removed since
    // the last commit is visited but not returned, and must not end the walk early.
    if (!slice.more || slice.last === undefined) return;
    from = slice.last;
    after = true;
  }
}
