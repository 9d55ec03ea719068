/**
 * Partitioned ownership (CORRELATION_OWNERSHIP=partitioned, issue 20): the correlation partitions
 * this replica holds — its share of the state — and what follows from them for receipts and duties.
 *
 * It holds (H) the partitions of its bulk assignment (D: it handles their receipts, and their
 * requests have their homes there) and the homes of its urgent partitions (u mod Pc: its urgent
 * requests are written there). Every other replica's receipts reach it through the receipts topic
 * and never need the rest. While a member of the group cannot read forwarded receipts (the leader's
 * terms say so: another version, or replicated), every receipt is handled where it arrives, so
 * every replica holds every partition again. Until the first terms are read (a second after the
 * first join), it holds D and its urgent homes: a receipt of another partition is then answered
 * "try later" (it does not find its request and its partition is not held), never `unknown:`.
 */
import type { ReceiptOwnership } from '../pipeline/receipt-processor.js';
import { requestKey, type PartitionScope } from '../pipeline/correlation-index.js';
import type { PartitionState } from '../kafka/tail-partitions.js';
import type { Logger } from '../obs/logger.js';

/** What the share needs of the correlation tail. */
export interface ShareTail {
  hold(partitions: Iterable<number> | 'all'): Promise<void>;
  holdsPartition(partition: number): boolean;
  heldPartitions(): number[];
  partitionState(partition: number): PartitionState;
  waitCaughtUp(timeoutMs: number, partitions?: Iterable<number>): Promise<boolean>;
}

export interface ShareOptions {
  /** The partition count of the correlation topic (equal to the outbound and receipts topics'). */
  partitions: number;
  /** The partition a key hashes to (murmur2, as the producer places records). */
  partitionOfKey: (key: string) => number;
  /** How long a consumer's first batch waits for its homes to be read up to date. */
  catchUpMs: number;
  logger: Logger;
}

export class CorrelationShare {
  private readonly duties = new Set<number>();
  private urgentHomes = new Set<number>();
  /** Whether every member reads forwarded receipts; undefined until the leader's first terms are read. */
  private forwarding: boolean | undefined;
  /** The latest hold: a consumer's first batch waits for it before it waits for the catch-up. */
  private holding: Promise<void> = Promise.resolve();
  /** Per partition: the catch-up under way, and the one that starts after it (`sharedCatchUp`). */
  private readonly catchUps = new Map<number, Promise<boolean>>();
  private readonly nextCatchUps = new Map<number, Promise<boolean>>();

  constructor(
    private readonly tail: ShareTail,
    private readonly options: ShareOptions,
  ) {}

  /** The bulk consumer's partitions after a rebalance: this replica's duties. */
  onBulkAssignment(partitions: readonly number[]): void {
    this.duties.clear();
    for (const p of partitions) this.duties.add(p);
    void this.rehold();
  }

  /** The urgent consumer's partitions after a rebalance of its group: their homes are held too. */
  onUrgentAssignment(partitions: readonly number[]): void {
    this.urgentHomes = new Set(partitions.map((u) => u % this.options.partitions));
    void this.rehold();
  }

  /** The leader's terms, read after each rebalance. */
  onTerms(forwardReceipts: boolean): void {
    if (forwardReceipts === this.forwarding) return;
    this.forwarding = forwardReceipts;
    this.options.logger.info(
      { forwardReceipts },
      forwardReceipts
        ? 'every member reads forwarded receipts: receipts owned by another replica are forwarded to it'
        : 'a member of the group does not read forwarded receipts (another version, or replicated): every receipt is handled where it arrives, and every partition is held',
    );
    void this.rehold();
  }

  /** Whether receipts owned by another replica are forwarded to it (else handled where they arrive). */
  get forwards(): boolean {
    return this.forwarding === true;
  }

  /** The partitions to hold now. */
  private held(): ReadonlySet<number> | 'all' {
    if (this.forwarding === false) return 'all';
    return new Set([...this.duties, ...this.urgentHomes]);
  }

  /** Holds what the share says before anything else starts (the tail's start gains it). */
  holdAtStart(partitions: readonly number[]): Promise<void> {
    for (const p of partitions) this.duties.add(p);
    return this.rehold();
  }

  /**
   * Before a consumer's first batch of an assignment: its homes read up to date, so a record
   * another replica submitted before a crash or a rebalance is recognised (replay dedupe).
   */
  async caughtUp(lane: 'bulk' | 'urgent'): Promise<boolean> {
    await this.holding;
    return this.tail.waitCaughtUp(this.options.catchUpMs, lane === 'bulk' ? this.duties : this.urgentHomes);
  }

  /** Which receipts this replica handles, and the homes of multipart requests. */
  ownership(): ReceiptOwnership {
    const { partitionOfKey } = this.options;
    return {
      // Its own, once read up to date: until then its owner's receipts-topic reader (this replica)
      // handles it after the catch-up, so the SMSC is answered at once.
      handlesMessage: (correlationId) => !this.forwards || this.acts(partitionOfKey(correlationId)),
      homeOf: (request) => {
        // A request written before homes: its entries where its snapshot's key hashes. A home of
        // its own still restoring: its receipts go to its receipts partition too (this replica
        // reads them there after the catch-up), so the SMSC is answered at once.
        const partition = request.home ?? partitionOfKey(requestKey(request.id));
        return { partition, here: !this.forwards || this.acts(partition) };
      },
      messagePartition: partitionOfKey,
      caughtUp: (partition) => this.sharedCatchUp(partition),
    };
  }

  /** What the correlation index keeps and acts for. */
  scope(): PartitionScope {
    // The share first: the tail follows it a hold later (a restore or a drop may run before).
    return {
      holds: (partition) => this.inShare(partition) && this.tail.holdsPartition(partition),
      actsFor: (partition) => this.actsFor(partition),
      partitionOfKey: this.options.partitionOfKey,
    };
  }

  /**
   * The partitions of its own share — its bulk partitions and urgent homes, what its consumers wait
   * for — not read up to date yet (restoring after a gain, or waiting to be gained): readiness
   * reports them, so a rolling restart waits for a replica's restore. Not the rest of what it holds
   * while every partition is held (a member that does not read forwarded receipts joined): every
   * replica would be not ready at once; a receipt of such a partition meanwhile is answered "try
   * later". Nor a partition the correlation topic does not have (the outbound topic grown since the
   * start): it never will be, and the tail says so.
   */
  notReady(): number[] {
    const own = new Set([...this.duties, ...this.urgentHomes]);
    return [...own].filter((p) => p < this.options.partitions && this.tail.partitionState(p) !== 'ready').sort((a, b) => a - b);
  }

  /** The held partitions the index acts for now: what a promotion pass vouches for with `w:<k>`. */
  actingPartitions(): number[] {
    return this.tail.heldPartitions().filter((p) => this.actsFor(p));
  }

  private actsFor(partition: number): boolean {
    return this.inShare(partition) && this.tail.partitionState(partition) === 'ready';
  }

  private inShare(partition: number): boolean {
    return this.forwarding === false || this.duties.has(partition) || this.urgentHomes.has(partition);
  }

  private acts(partition: number): boolean {
    return this.duties.has(partition) && this.tail.partitionState(partition) === 'ready';
  }

  /**
   * Catch-ups shared by the local receipts that ask meanwhile: receipts nobody matches (another
   * system on the account, re-sends past KEEP_DONE) would otherwise each cost a ListOffsets call.
   * A receipt never joins a catch-up already under way — its end offsets may predate the entry
   * the receipt waits for — but the next one, which starts when that one ends: at most one runs
   * and one waits per partition.
   */
  private sharedCatchUp(partition: number): Promise<boolean> {
    const waiting = this.nextCatchUps.get(partition);
    if (waiting) return waiting;
    const running = this.catchUps.get(partition) ?? Promise.resolve(true);
    const next = running
      .catch(() => false)
      .then(() => {
        this.nextCatchUps.delete(partition);
        const run = this.tail.waitCaughtUp(this.options.catchUpMs, [partition]).finally(() => {
          if (this.catchUps.get(partition) === run) this.catchUps.delete(partition);
        });
        this.catchUps.set(partition, run);
        return run;
      });
    this.nextCatchUps.set(partition, next);
    return next;
  }

  private rehold(): Promise<void> {
    const held = this.held();
    this.holding = this.tail.hold(held).catch((err: unknown) => this.options.logger.warn({ err }, 'correlation tail hold failed'));
    return this.holding;
  }
}
