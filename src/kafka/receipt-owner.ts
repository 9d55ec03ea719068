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
 * **Where a partition resumes** (`resumePoint`): the furthest of this store's checkpoint and the
 * progress its last owner wrote (`o:<q>` in correlation partition q, at most once a second, after
 * the events of what it covers were acked). Records between that point and where the last owner
 * really was are handled again and publish the same eventIds. Without either — no owner ever
 * wrote progress this store read — from the records of the last `lookbackMs`: an owner writes
 * progress within a second of handling a record, so older unhandled ones need a partition left
 * without an owner for longer than that.
 *
 * A batch's records are handled together and the batch ends when all are: a receipt whose message
 * id is not known yet (read before its `m:` entry) holds its partition's next batch until it is,
 * or up to RECEIPT_MATCH_WAIT_MS after it was received (ReceiptProcessor.forwarded). A failed
 * publish fails the batch; kafkajs reads it again.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { progressKey, type CorrelationIndex, type ReceiptProgress } from '../pipeline/correlation-index.js';
import type { CorrelationWrite } from '../pipeline/outbound-processor.js';
import type { LoggedReceipt } from '../pipeline/receipt-log.js';
import { retryUntil } from './client.js';
import { CORRELATED_HERE } from './sinks.js';

/** How often at most an owner writes its progress through a partition. */
const PROGRESS_INTERVAL_MS = 1000;
/** How long a gain tries to read the topic's offsets by time. */
const OFFSETS_WAIT_MS = 30_000;
const [CORRELATED_HEADER, CORRELATED_VALUE] = Object.entries(CORRELATED_HERE)[0]!;

export interface ReceiptOwnerDeps {
  kafka: Kafka;
  admin: Admin;
  index: Pick<CorrelationIndex, 'checkpoint' | 'checkpoints' | 'receiptProgress' | 'written'>;
  /** Handles one forwarded receipt; rejects when its events could not be written. */
  handle: (receipt: LoggedReceipt, caughtUp: () => Promise<unknown>) => Promise<void>;
  /** Resolves once the correlation tail has applied everything written to `partition` so far. */
  caughtUp: (partition: number) => Promise<unknown>;
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

/** A record of the receipts topic: the receipt to handle, or why it is not one. */
export function forwardedReceiptOf(m: Pick<KafkaMessage, 'value' | 'headers'>): { receipt: LoggedReceipt } | { skip: 'correlated-here' | 'unreadable' } {
  if (m.headers?.[CORRELATED_HEADER]?.toString() === CORRELATED_VALUE) return { skip: 'correlated-here' };
  if (!m.value) return { skip: 'unreadable' };
  try {
    const v = JSON.parse(m.value.toString('utf8')) as Partial<LoggedReceipt> | null;
    if (v?.v !== 1 || typeof v.route !== 'string' || typeof v.shortMessage !== 'string' || typeof v.esmClass !== 'number') return { skip: 'unreadable' };
    return { receipt: v as LoggedReceipt };
  } catch {
    return { skip: 'unreadable' };
  }
}

export class ReceiptOwner {
  private readonly consumer: Consumer;
  /** The partitions followed, and for each the next offset to handle once its start point is set. */
  private readonly followed = new Set<number>();
  private readonly positions = new Map<number, bigint>();
  /** Progress not written yet, per partition. */
  private readonly unwritten = new Map<number, bigint>();
  private chain: Promise<void> = Promise.resolve();
  private progressTimer: NodeJS.Timeout | null = null;
  private running = false;

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

  /** The partitions followed now, with their start point set. */
  reading(): number[] {
    return [...this.positions.keys()].filter((p) => this.followed.has(p)).sort((a, b) => a - b);
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topic, fromBeginning: true });
    this.running = true;
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => this.applyPositions(this.reading()));
    await this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => this.handleBatch(batch.partition, batch.messages),
    });
    this.applyPositions(this.reading());
    this.progressTimer = setInterval(() => void this.flushProgress(), PROGRESS_INTERVAL_MS);
    this.progressTimer.unref();
  }

  /**
   * Follows these partitions from now on (the bulk consumer's assignment): gained ones from their
   * resume point, released ones paused after their progress is written. Calls run in order.
   */
  follow(partitions: Iterable<number>): Promise<void> {
    const next = new Set(partitions);
    const run = this.chain.then(() => this.applyFollow(next));
    this.chain = run.catch((err: unknown) => this.deps.logger.warn({ err }, 'receipt owner could not follow its partitions'));
    return run;
  }

  private async applyFollow(next: Set<number>): Promise<void> {
    const released = [...this.followed].filter((p) => !next.has(p));
    const gained = [...next].filter((p) => !this.followed.has(p));
    for (const p of released) {
      this.followed.delete(p);
      this.positions.delete(p);
    }
    for (const p of gained) this.followed.add(p);
    this.applyPositions();
    // A clean handover: the next owner resumes where this one stopped, not up to a second earlier.
    if (released.length > 0) await this.flushProgress(released);
    if (gained.length === 0 || !this.running) return;
    const starts = await this.startPoints(gained);
    for (const [p, offset] of starts) if (this.followed.has(p)) this.positions.set(p, offset);
    this.applyPositions([...starts.keys()]);
    this.deps.logger.info(
      { topic: this.options.topic, gained: Object.fromEntries([...starts].map(([p, o]) => [p, o.toString()])), released },
      'receipt owner follows its partitions',
    );
  }

  private async startPoints(gained: number[]): Promise<Map<number, bigint>> {
    const { topic, lookbackMs } = this.options;
    const checkpoints = this.deps.index.checkpoints(topic);
    const starts = new Map<number, bigint>();
    const byTime: number[] = [];
    for (const p of gained) {
      const at = resumePoint(checkpoints.get(p), this.deps.index.receiptProgress(topic, p));
      if (at === null) byTime.push(p);
      else starts.set(p, at);
    }
    if (byTime.length === 0) return starts;
    const offsets = await retryUntil(
      Date.now() + OFFSETS_WAIT_MS,
      () => this.deps.admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - lookbackMs),
      () => this.running,
    ).catch(() => null);
    const found = new Map(offsets?.map((o) => [o.partition, BigInt(o.offset)]));
    // Unreadable: from the beginning (records handled before publish the same eventIds again).
    for (const p of byTime) starts.set(p, found.get(p) ?? 0n);
    return starts;
  }

  private async handleBatch(partition: number, messages: KafkaMessage[]): Promise<void> {
    const from = this.positions.get(partition);
    // Not followed (paused while its fetch was in flight), or its start point not set yet.
    if (from === undefined || !this.followed.has(partition)) return;
    const work: Promise<void>[] = [];
    for (const m of messages) {
      if (BigInt(m.offset) < from) continue;
      const found = forwardedReceiptOf(m);
      if ('skip' in found) {
        if (found.skip === 'unreadable') {
          this.deps.observer?.unreadable?.();
          this.deps.logger.warn({ topic: this.options.topic, partition, offset: m.offset }, 'skipping an unreadable record of the receipts topic');
        }
        continue;
      }
      const { receipt } = found;
      work.push(this.deps.handle(receipt, () => this.deps.caughtUp(partition)).then(() => this.deps.observer?.handled?.()));
    }
    await Promise.all(work);
    const last = messages.at(-1);
    if (!last || this.positions.get(partition) !== from) return; // released or sought meanwhile
    const next = BigInt(last.offset) + 1n;
    this.positions.set(partition, next);
    this.deps.index.checkpoint(this.options.topic, partition, next.toString());
    this.unwritten.set(partition, next);
    await this.deps.index.written();
  }

  /** Writes `o:<q>` for the partitions that moved (all of them, or `only`). */
  private async flushProgress(only?: number[]): Promise<void> {
    const writes: CorrelationWrite[] = [];
    for (const [p, offset] of this.unwritten) {
      if (only && !only.includes(p)) continue;
      const value: ReceiptProgress = { v: 1, topic: this.options.topic, offset: offset.toString() };
      writes.push({ key: progressKey(p), value, partition: p });
      this.unwritten.delete(p);
    }
    if (writes.length === 0) return;
    await this.deps.writeProgress(writes).catch((err: unknown) => {
      this.deps.logger.warn({ err }, 'receipt owner progress not written; the next owner may handle up to a second of receipts again');
    });
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
      for (const p of seek) if (this.positions.has(p)) this.consumer.seek({ topic, partition: p, offset: this.positions.get(p)!.toString() });
    } catch (err) {
      this.deps.logger.debug({ err: (err as Error).message }, 'receipt owner pauses not applied now; the next group join applies them');
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    await this.flushProgress();
    this.running = false;
    if (this.progressTimer) clearInterval(this.progressTimer);
    await this.chain;
    await this.consumer.disconnect();
  }
}
