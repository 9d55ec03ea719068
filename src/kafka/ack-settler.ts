/**
 * Background settling for the outbound consumer: a batch whose records were answered by the SMSC
 * is handed here with the promise of its events' Kafka acks; this waits for them and commits —
 * per partition in batch order, so commits never go backwards and never pass an unacked event —
 * and bounds how many records may wait for acks at once.
 *
 * One OffsetCommit per partition at a time, and at most one per `commitIntervalMs`: batches
 * acked meanwhile leave it to the newest of them (its offset covers theirs: batches are acked in
 * order). With a commit per batch, a steady 2,000 msg/s arrives in batches of a few records; the
 * broker answered ~180 commits/s at 50–80 ms each, 6,300 were still queued when the load stopped,
 * and the broker serves one connection's requests in order, so fetches waited behind them (bench
 * latency scenario, 2026-11-26). A later commit costs nothing in duplicates: records re-read
 * after a crash are known to the correlation index. A drain (`hurry`) ends the interval waits,
 * and so does waiting for a partition (`settled`): whoever waits for its commits gets them now.
 *
 * Also remembers, per partition still assigned, below which offset everything was acked here, so
 * that records kafkajs re-fetches after a rebalance that left us the partition are not processed
 * twice. No kafkajs import: the consumer passes in the commit to run.
 */

export class AckSettler {
  /** Partitions assigned to this member in the current generation. */
  private owned = new Set<number>();
  /** Per partition: the newest batch's settling, acks and commit (see `settled`). */
  private readonly chains = new Map<number, Promise<void>>();
  /** Per partition: the newest batch's acks, each after the batch before it (the order of commits). */
  private readonly ackChains = new Map<number, Promise<void>>();
  /** Partitions whose commit loop runs (see `commitLoop`). */
  private readonly committing = new Set<number>();
  /** Per partition: the newest acked batch's commit not started yet, and every batch it covers. */
  private readonly due = new Map<number, { run: () => Promise<void>; waiting: Array<{ resolve: () => void; reject: (err: unknown) => void }> }>();
  private readonly settling = new Set<Promise<void>>();
  /** Offsets below which a kept partition's records were acked here (commit maybe pending). */
  private readonly doneBefore = new Map<number, bigint>();
  private unacked = 0;
  private waiters: (() => void)[] = [];
  private readonly lastCommitAt = new Map<number, number>();
  /** Per partition: wakes its commit loop waiting out the interval (one loop per partition). */
  private readonly intervalWaits = new Map<number, () => void>();
  /** Per partition: how many `settled` calls wait for it (its commits skip the interval). */
  private readonly awaited = new Map<number, number>();
  private hurried = false;

  constructor(
    /** Records whose events are not acked yet, at most (see OutboundConsumerOptions). */
    private readonly maxUnacked: number,
    /** A partition's commits this far apart at least (0: as soon as acked). */
    private readonly commitIntervalMs = 0,
  ) {}

  /** A rebalance or stop is coming: commits go as soon as acked, until `calm`. */
  hurry(): void {
    this.hurried = true;
    for (const wake of [...this.intervalWaits.values()]) wake();
  }

  /** The drain is over: commits keep their interval again. */
  calm(): void {
    this.hurried = false;
  }

  /** A new assignment (GROUP_JOIN): what was lost is forgotten. */
  assigned(partitions: readonly number[]): void {
    this.owned = new Set(partitions);
    for (const p of [...this.doneBefore.keys()]) if (!this.owned.has(p)) this.doneBefore.delete(p);
  }

  /** The member left the group (crash, stop): nothing is ours to commit any more. */
  unassigned(): void {
    this.owned = new Set();
  }

  /** The partitions of the current assignment. */
  ownedPartitions(): number[] {
    return [...this.owned];
  }

  /** Some batch is still settling (waits or commits in the background). */
  get busy(): boolean {
    return this.settling.size > 0;
  }

  /** Earlier batches of this partition are still settling: a commit now could pass their records. */
  hasPending(partition: number): boolean {
    return this.chains.has(partition);
  }

  /** Resolves once every batch of the partition handed over so far has settled (committed now, not after the interval). */
  async settled(partition: number): Promise<void> {
    this.awaited.set(partition, (this.awaited.get(partition) ?? 0) + 1);
    this.intervalWaits.get(partition)?.();
    try {
      while (this.chains.has(partition)) await this.chains.get(partition);
    } finally {
      const left = this.awaited.get(partition)! - 1;
      if (left > 0) this.awaited.set(partition, left);
      else this.awaited.delete(partition);
    }
  }

  skipBelow(partition: number): bigint | undefined {
    return this.doneBefore.get(partition);
  }

  /** Everything below `offset` of the partition is acked here. */
  noteDone(partition: number, offset: bigint): void {
    if (this.owned.has(partition) && offset > (this.doneBefore.get(partition) ?? -1n)) this.doneBefore.set(partition, offset);
  }

  /**
   * After the partition's earlier batches: wait for `acked`, then `commit` if the partition is
   * still ours (once it moved, its new owner commits; a late commit from here could rewind it).
   */
  settle(partition: number, acked: Promise<void>, commit: () => Promise<void>): void {
    const ackedInOrder = (this.ackChains.get(partition) ?? Promise.resolve()).then(() => acked);
    this.ackChains.set(partition, ackedInOrder);
    const chain = ackedInOrder.then(() => this.commitNewest(partition, commit));
    this.chains.set(partition, chain);
    this.settling.add(chain);
    void chain.finally(() => {
      this.settling.delete(chain);
      if (this.chains.get(partition) === chain) this.chains.delete(partition);
      if (this.ackChains.get(partition) === ackedInOrder) this.ackChains.delete(partition);
    });
  }

  /**
   * Resolves once this batch's offset is committed — by its own commit or by a newer batch's,
   * which covers it: a partition's commits run one after another, each the newest acked by then.
   */
  private commitNewest(partition: number, commit: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const due = this.due.get(partition);
      if (due) {
        due.run = commit;
        due.waiting.push({ resolve, reject });
      } else this.due.set(partition, { run: commit, waiting: [{ resolve, reject }] });
      if (!this.committing.has(partition)) void this.commitLoop(partition);
    });
  }

  private async commitLoop(partition: number): Promise<void> {
    this.committing.add(partition);
    try {
      while (this.due.has(partition)) {
        await this.intervalSince(partition);
        const due = this.due.get(partition)!; // the newest by now
        this.due.delete(partition);
        try {
          // once the partition moved, its new owner commits; a late commit from here could rewind it
          if (this.owned.has(partition)) {
            this.lastCommitAt.set(partition, Date.now());
            await due.run();
          }
          for (const w of due.waiting) w.resolve();
        } catch (err) {
          for (const w of due.waiting) w.reject(err);
        }
      }
    } finally {
      this.committing.delete(partition);
    }
  }

  private async intervalSince(partition: number): Promise<void> {
    if (this.hurried || this.awaited.has(partition)) return;
    const wait = (this.lastCommitAt.get(partition) ?? -Infinity) + this.commitIntervalMs - Date.now();
    if (wait <= 0) return;
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.intervalWaits.delete(partition);
        resolve();
      };
      const timer = setTimeout(wake, wait);
      this.intervalWaits.set(partition, wake);
    });
  }

  /** Waits (abortably) until fewer than `maxUnacked` records wait for their acks. */
  async roomForUnacked(signal: AbortSignal): Promise<void> {
    while (this.unacked >= this.maxUnacked) {
      if (signal.aborted) throw signal.reason;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          signal.removeEventListener('abort', wake);
          resolve();
        };
        this.waiters.push(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
  }

  /** Counts one record as waiting for `acked` until it settles either way. */
  track<T>(acked: Promise<T>): Promise<T> {
    this.unacked += 1;
    return acked.finally(() => {
      this.unacked -= 1;
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    });
  }
}
