/**
 * The receipts forwarded to this replica (issue 20, step 7b; docs/plans/issue-20-correlation-state.md
 * §2.6.2). With partitioned ownership a receipt is handled by the replica whose bulk partitions
 * include its message id's partition q; a replica that receives one it does not own appends it to
 * the receipts topic, keyed by its correlation id, so in partition q. This reads, of that topic,
 * the partitions the bulk consumer gave this replica (`follow`), and hands each unmarked record to
 * the receipt processor as if it had arrived on its own bind. Records marked as correlated where
 * they were received (RECEIPTS_LOG=all) are skipped.
 *
 * Like the correlation tail, a consumer in a group of its own (one member, every partition, never
 * committing), the partitions it does not follow paused; pauses and seeks are applied again at
 * every GROUP_JOIN (kafkajs rebuilds its ConsumerGroup when it restarts a crashed consumer).
 *
 * **Each record on its own.** A receipt may wait for its message id (read before its `m:` entry)
 * up to RECEIPT_MATCH_WAIT_MS. kafkajs hands out the next fetch only once every batch of the last
 * one returned, so a batch that waited would hold every partition, and past the session timeout
 * get the member evicted. So a batch only starts its records and returns; each record is retried
 * until its events are acked (or the partition is released), and the partition's progress is the
 * lowest offset not handled yet (PartitionOffsets, as the outbound consumer commits). Past
 * MAX_UNHANDLED records in flight in one partition a batch waits, heartbeating.
 *
 * **Where a partition resumes** (`resumePoint`): the furthest of this store's checkpoint and the
 * progress its last owner wrote (`o:<q>` in correlation partition q, read by the tail), brought
 * inside the topic's offsets. Records between that point and where the last owner really was are
 * handled again and publish the same eventIds. Without either, from the records of the last
 * `lookbackMs`: an owner writes its progress within a second of a change, and again every
 * `lookbackMs / 4` while it holds the partition, so a store restored from the live-state topic
 * (which reads the correlation topic from about half the restore window back) finds one.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { progressKey, type CorrelationIndex, type ReceiptProgress } from '../pipeline/correlation-index.js';
import type { CorrelationWrite } from '../pipeline/outbound-processor.js';
import type { LoggedReceipt } from '../pipeline/receipt-log.js';
import { UnreadableReceiptError } from '../pipeline/receipt-processor.js';
import { sleep } from '../pipeline/sleep.js';
import { retryUntil } from './client.js';
import { PartitionOffsets } from './offsets.js';
import { CORRELATED_HERE } from './sinks.js';

/** How often at most an owner writes its progress through a partition that moved. */
const PROGRESS_INTERVAL_MS = 1000;
/** How long a gain tries to read the topic's offsets. */
const OFFSETS_WAIT_MS = 30_000;
/** Records of one partition started and not handled yet, past which its next batch waits. */
const MAX_UNHANDLED = 2000;
/** Between two tries of a record whose events could not be written. */
const RETRY_MS = 1000;
const [CORRELATED_HEADER, CORRELATED_VALUE] = Object.entries(CORRELATED_HERE)[0]!;

export interface ReceiptOwnerDeps {
  kafka: Kafka;
  admin: Admin;
  index: Pick<CorrelationIndex, 'checkpoint' | 'checkpoints' | 'receiptProgress' | 'written'>;
  /**
   * Handles one forwarded receipt read from `partition`; rejects when it could not be (its events
   * not written, a correlation partition not caught up): it is tried again — unless the rejection
   * is an UnreadableReceiptError (skipped).
   */
  handle: (receipt: LoggedReceipt, partition: number, caughtUp: (writtenBefore: number, partition: number) => Promise<boolean>) => Promise<void>;
  /** Resolves true once the correlation tail has applied everything written to `partition` before now. */
  caughtUp: (partition: number) => Promise<boolean>;
  /** Writes progress records to the correlation topic (bundled, acked). */
  writeProgress: (writes: CorrelationWrite[]) => Promise<void>;
  logger: Logger;
  observer?: { handled?(): void; unreadable?(): void };
}

export interface ReceiptOwnerOptions {
  topic: string;
  groupPrefix: string;
  /** Where a partition with neither checkpoint nor progress resumes: the records of this long ago. */
  lookbackMs: number;
}

/**
 * Where a gained partition resumes: the furthest of the store's checkpoint and the last owner's
 * progress; null when neither is known (then by time).
 */
export function resumePoint(checkpoint: string | undefined, progress: string | undefined): bigint | null {
  const known = [checkpoint, progress].filter((o): o is string => o !== undefined).map((o) => BigInt(o));
  if (known.length === 0) return null;
  return known.reduce((a, b) => (b > a ? b : a));
}

/**
 * A resume point checked against the topic: below its first offset (retention removed the rest),
 * its first offset; past its end (the topic was recreated), null: the point is not of this topic.
 */
export function withinTopic(at: bigint, low: bigint, high: bigint): bigint | null {
  if (at > high) return null;
  return at < low ? low : at;
}

/** A record of the receipts topic: the receipt to handle, or why it is not one. */
export function forwardedReceiptOf(m: Pick<KafkaMessage, 'value' | 'headers'>): { receipt: LoggedReceipt } | { skip: 'correlated-here' | 'unreadable' } {
  if (m.headers?.[CORRELATED_HEADER]?.toString() === CORRELATED_VALUE) return { skip: 'correlated-here' };
  if (!m.value) return { skip: 'unreadable' };
  try {
    const v = JSON.parse(m.value.toString('utf8')) as unknown;
    return isLoggedReceipt(v) ? { receipt: v } : { skip: 'unreadable' };
  } catch {
    return { skip: 'unreadable' };
  }
}

/** Field by field: a record that passed a looser check but fails later would be retried for ever. */
function isLoggedReceipt(v: unknown): v is LoggedReceipt {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  const strings = ['route', 'sessionId', 'serviceType', 'sourceAddr', 'destinationAddr', 'shortMessage'];
  const numbers = ['sequenceNumber', 'sourceAddrTon', 'sourceAddrNpi', 'destAddrTon', 'destAddrNpi', 'esmClass', 'dataCoding', 'receivedAt'];
  const optionalStrings = ['receiptedMessageId', 'networkErrorCode', 'messagePayload'];
  return (
    r['v'] === 1 &&
    strings.every((k) => typeof r[k] === 'string') &&
    numbers.every((k) => typeof r[k] === 'number' && Number.isFinite(r[k])) &&
    optionalStrings.every((k) => r[k] === undefined || typeof r[k] === 'string') &&
    (r['messageState'] === undefined || (typeof r['messageState'] === 'number' && Number.isInteger(r['messageState'])))
  );
}

/** One followed partition: where it is fetched from, and what of it is handled. */
interface Followed {
  /** The next offset to start (a refetched record below it is running or done); unset until its start point is known. */
  next?: bigint;
  /** Records started since the start point; its committable offset is the partition's progress. */
  offsets: PartitionOffsets;
  /** Progress last written as `o:`, and when. */
  written?: bigint;
  writtenAt: number;
  /** Records running now (their handling stops retrying once the partition is released). */
  running: Set<Promise<void>>;
}

/** A gain overtaken by a later `follow` that no longer wants its partitions. */
class Superseded extends Error {
  override readonly name = 'Superseded';
}

export class ReceiptOwner {
  private readonly consumer: Consumer;
  private readonly followed = new Map<number, Followed>();
  private chain: Promise<void> = Promise.resolve();
  /** The partitions of the latest `follow` call (those queued included). */
  private wanted = new Set<number>();
  private progressTimer: NodeJS.Timeout | null = null;
  private running = false;
  /** Set when stop begins: a batch waiting for room returns, so the consumer can disconnect. */
  private stopping = false;
  /** Per partition, the catch-up asked last and when: receipts waiting for the same writes share it. */
  private readonly catchUps = new Map<number, { asked: number; done: Promise<boolean> }>();

  constructor(
    private readonly deps: ReceiptOwnerDeps,
    private readonly options: ReceiptOwnerOptions,
  ) {
    this.consumer = deps.kafka.consumer({
      groupId: `${options.groupPrefix}.receipt-owner.${randomUUID()}`,
      // As the correlation tail: one member, so a short session lets a restarted consumer rejoin at once.
      sessionTimeout: 10000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: 200,
      allowAutoTopicCreation: false,
    });
  }

  /** The partitions followed now with their start point known, in order. */
  reading(): number[] {
    return [...this.followed]
      .filter(([, f]) => f.next !== undefined)
      .map(([p]) => p)
      .sort((a, b) => a - b);
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topic, fromBeginning: true });
    this.running = true;
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => this.applyPositions(this.reading()));
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      this.deps.logger.warn({ err: payload.error.message, restart: payload.restart }, 'receipt owner consumer crashed');
    });
    await this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async (payload) => this.startBatch(payload.batch.partition, payload.batch.messages, () => payload.heartbeat()),
    });
    this.applyPositions(this.reading());
    this.progressTimer = setInterval(() => void this.writeProgress(), PROGRESS_INTERVAL_MS);
    this.progressTimer.unref();
    // Followed before the start: their start points are found now.
    const waiting = [...this.followed].filter(([, f]) => f.next === undefined).map(([p]) => p);
    if (waiting.length > 0) await this.follow([...this.followed.keys()]);
  }

  /**
   * Follows these partitions from now on (the bulk consumer's assignment): gained ones from their
   * resume point, released ones paused after their progress is written. Calls run in order.
   */
  follow(partitions: Iterable<number>): Promise<void> {
    const next = new Set(partitions);
    this.wanted = next;
    const run = this.chain.then(() => this.applyFollow(next));
    this.chain = run.catch((err: unknown) => this.deps.logger.error({ err }, 'receipt owner could not follow its partitions'));
    return run;
  }

  private async applyFollow(next: Set<number>): Promise<void> {
    const released = [...this.followed.keys()].filter((p) => !next.has(p));
    // Gained, or followed before the start and still without a start point.
    const gained = [...next].filter((p) => this.followed.get(p)?.next === undefined);
    if (released.length > 0) await this.release(released);
    for (const p of gained) if (!this.followed.has(p)) this.followed.set(p, { offsets: new PartitionOffsets(), writtenAt: 0, running: new Set() });
    if (gained.length === 0 || !this.running) return;
    let starts: Map<number, bigint>;
    try {
      starts = await this.startPoints(gained);
    } catch (err) {
      if (err instanceof Superseded) return; // the follow queued behind this one decides
      // Followed but not read: tried again, or the replicas forwarding to these partitions wait on a reader that never comes.
      this.deps.logger.warn({ err, partitions: gained }, 'receipt owner could not find where to resume; trying again');
      setTimeout(() => void this.follow([...this.followed.keys()]), RETRY_MS).unref();
      return;
    }
    for (const [p, offset] of starts) {
      const f = this.followed.get(p);
      if (f) f.next = offset;
    }
    this.applyPositions([...starts.keys()]);
    this.deps.logger.info(
      { topic: this.options.topic, gained: Object.fromEntries([...starts].map(([p, o]) => [p, o.toString()])), released },
      'receipt owner follows its partitions',
    );
  }

  /** Stops reading `partitions`; what of them is handled is written as progress for the next owner. */
  private async release(partitions: number[]): Promise<void> {
    const gone = partitions.map((p) => [p, this.followed.get(p)!] as const);
    for (const [p] of gone) this.followed.delete(p);
    this.applyPositions();
    this.deps.logger.debug({ released: gone.map(([p, f]) => [p, f.offsets.committable(), f.running.size]) }, 'receipt owner releases');
    // A clean handover: the next owner resumes where this one stopped, not up to a second earlier.
    await this.writeProgress(gone);
  }

  /**
   * Each gained partition's start: its resume point inside the topic, or by time. Read once the
   * tail has applied the correlation partition up to now, so a progress written by the last owner
   * just before it let go is known.
   */
  private async startPoints(gained: number[]): Promise<Map<number, bigint>> {
    const { topic, lookbackMs } = this.options;
    // Until it has: a progress not read yet would make this owner handle again what the last one
    // did — past CORRELATION_KEEP_DONE_MS, as unknown: receipts under new eventIds.
    while (this.running && !(await Promise.all(gained.map((p) => this.deps.caughtUp(p)))).every(Boolean)) {
      // Lost again meanwhile (a second rebalance): the tail no longer holds it, and never will for this follow.
      if (gained.some((p) => !this.wanted.has(p))) throw new Superseded();
      this.deps.logger.warn({ partitions: gained }, 'receipt owner waits for the correlation tail before resuming');
      await sleep(RETRY_MS);
    }
    const offsets = await retryUntil(
      Date.now() + OFFSETS_WAIT_MS,
      () => this.deps.admin.fetchTopicOffsets(topic),
      () => this.running,
    ).catch(() => null);
    const bounds = new Map(offsets?.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
    const checkpoints = this.deps.index.checkpoints(topic);
    const starts = new Map<number, bigint>();
    const byTime: number[] = [];
    for (const p of gained) {
      const at = resumePoint(checkpoints.get(p), this.deps.index.receiptProgress(topic, p));
      const b = bounds.get(p);
      const inside = at === null || !b ? at : withinTopic(at, b.low, b.high);
      if (at !== null && inside === null)
        this.deps.logger.warn(
          { topic, partition: p, resumeAt: at.toString(), end: b?.high.toString() },
          'receipt progress past the end of the topic (recreated?); reading it by time',
        );
      if (inside === null) byTime.push(p);
      else starts.set(p, inside);
    }
    if (byTime.length === 0) return starts;
    const found = await retryUntil(
      Date.now() + OFFSETS_WAIT_MS,
      () => this.deps.admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - lookbackMs),
      () => this.running,
    ).catch(() => null);
    const at = new Map(found?.map((o) => [o.partition, BigInt(o.offset)]));
    // Unreadable: from the beginning (records handled before publish the same eventIds again).
    for (const p of byTime) starts.set(p, at.get(p) ?? bounds.get(p)?.low ?? 0n);
    return starts;
  }

  /** Starts the batch's records and returns; waits only while too many of its partition are unhandled. */
  private async startBatch(partition: number, messages: KafkaMessage[], heartbeat: () => Promise<void>): Promise<void> {
    const f = this.followed.get(partition);
    // Not followed (paused while its fetch was in flight), or its start point not known yet.
    if (f?.next === undefined) return;
    for (const m of messages) {
      const offset = BigInt(m.offset);
      if (offset < f.next) continue; // a refetch after a rejoin: started already
      f.next = offset + 1n;
      f.offsets.track(offset);
      const found = forwardedReceiptOf(m);
      if ('skip' in found) {
        if (found.skip === 'unreadable') this.skipUnreadable({ partition, offset: m.offset });
        this.handled(partition, f, offset);
        continue;
      }
      const run: Promise<void> = this.handleUntilDone(partition, f, found.receipt).then((done) => {
        f.running.delete(run);
        this.deps.logger.debug({ partition, offset: m.offset, key: m.key?.toString(), done }, 'forwarded receipt ended');
        if (done) this.handled(partition, f, offset);
      });
      f.running.add(run);
    }
    while (f.running.size > MAX_UNHANDLED && this.followed.get(partition) === f && !this.stopping) {
      await Promise.race([...f.running, sleep(1000)]);
      await heartbeat();
    }
  }

  /** True once handled; false when the partition was released or the owner stopped first (the next owner handles it). */
  private async handleUntilDone(partition: number, f: Followed, receipt: LoggedReceipt): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      if (this.followed.get(partition) !== f || !this.running) return false;
      try {
        await this.deps.handle(receipt, partition, (writtenBefore, of) => this.caughtUpSince(of, writtenBefore));
        this.deps.observer?.handled?.();
        return true;
      } catch (err) {
        if (err instanceof UnreadableReceiptError) {
          this.skipUnreadable({ partition, err: err.message });
          return true;
        }
        if (attempt === 1 || attempt % 30 === 0) this.deps.logger.warn({ err, partition, attempt }, 'forwarded receipt not handled; trying again');
        await sleep(RETRY_MS);
      }
    }
  }

  /** A record that is no receipt this version reads: counted and named, then passed over like a handled one. */
  private skipUnreadable(where: { partition: number; offset?: string; err?: string }): void {
    this.deps.observer?.unreadable?.();
    this.deps.logger.warn({ topic: this.options.topic, ...where }, 'skipping an unreadable record of the receipts topic');
  }

  /** A catch-up asked at or after `writtenBefore` covers those writes: receipts read together share one. */
  private caughtUpSince(partition: number, writtenBefore: number): Promise<boolean> {
    const last = this.catchUps.get(partition);
    if (last && last.asked >= writtenBefore) return last.done;
    const asked = Date.now();
    const done = this.deps.caughtUp(partition);
    this.catchUps.set(partition, { asked, done });
    void done.finally(() => {
      if (this.catchUps.get(partition)?.done === done) this.catchUps.delete(partition);
    });
    return done;
  }

  private handled(partition: number, f: Followed, offset: bigint): void {
    f.offsets.finish(offset);
    const progress = f.offsets.committable();
    if (progress !== null && this.followed.get(partition) === f) this.deps.index.checkpoint(this.options.topic, partition, progress);
  }

  /**
   * Writes `o:<q>` for followed partitions whose progress moved, and again for every one every
   * `lookbackMs / 4` (so a restore that reads the correlation topic from half the window back
   * finds one); for `only`, whatever it is now.
   */
  private async writeProgress(only?: ReadonlyArray<readonly [number, Followed]>): Promise<void> {
    const now = Date.now();
    const refreshMs = this.options.lookbackMs / 4;
    const writes: CorrelationWrite[] = [];
    const written: Array<[Followed, bigint]> = [];
    for (const [p, f] of only ?? this.followed) {
      const at = f.offsets.committable();
      if (at === null) continue;
      const offset = BigInt(at);
      if (!only && offset === f.written && now - f.writtenAt < refreshMs) continue;
      const value: ReceiptProgress = { v: 1, topic: this.options.topic, offset: at };
      writes.push({ key: progressKey(p), value, partition: p });
      written.push([f, offset]);
    }
    if (writes.length === 0) return;
    try {
      await this.deps.writeProgress(writes);
      // Only once acked: a failed write is tried again at the next tick, not after the refresh time.
      for (const [f, offset] of written) {
        f.written = offset;
        f.writtenAt = now;
      }
    } catch (err) {
      this.deps.logger.warn({ err }, 'receipt owner progress not written; tried again');
    }
  }

  /**
   * Pauses what is not being read and resumes the rest; seeks `seek` to where it resumes. Nothing
   * before run() or between a crash and its restart: the next join applies it.
   */
  private applyPositions(seek: number[] = []): void {
    if (!this.running) return;
    const topic = this.options.topic;
    try {
      this.consumer.pause([{ topic }]);
      const go = this.reading();
      if (go.length === 0) return;
      this.consumer.resume([{ topic, partitions: go }]);
      for (const p of seek) {
        const next = this.followed.get(p)?.next;
        if (next !== undefined) this.consumer.seek({ topic, partition: p, offset: next.toString() });
      }
    } catch (err) {
      this.deps.logger.debug({ err: (err as Error).message }, 'receipt owner pauses not applied now; the next group join applies them');
    }
  }

  /**
   * Before the bulk consumer leaves the group (stop.ts): records running get `drainMs` to finish,
   * then the progress of every partition is written, so its next owner resumes there.
   */
  async stop(drainMs = 5000): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    await this.consumer.disconnect(); // no new batches
    const running = [...this.followed.values()].flatMap((f) => [...f.running]);
    await Promise.race([Promise.all(running), sleep(drainMs)]);
    this.running = false; // records still waiting stop retrying: the next owner handles them
    if (this.progressTimer) clearInterval(this.progressTimer);
    await this.chain;
    await this.writeProgress([...this.followed]);
    await this.deps.index.written();
  }
}
