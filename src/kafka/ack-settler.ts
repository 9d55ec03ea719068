/**
 * Background settling for the outbound consumer: a batch whose records were answered by the SMSC
 * is handed here with the promise of its events' Kafka acks; this waits for them and commits —
 * per partition in batch order, so commits never go backwards and never pass an unacked event —
 * and bounds how many records may wait for acks at once.
 *
 * Also remembers, per partition still assigned, below which offset everything was acked here, so
 * that records kafkajs re-fetches after a rebalance that left us the partition are not processed
 * twice. No kafkajs import: the consumer passes in the commit to run.
 */

export class AckSettler {
  /** Partitions assigned to this member in the current generation. */
  private owned = new Set<number>();
  /** Per partition: the newest batch's settling (each waits for the one before it). */
  private readonly chains = new Map<number, Promise<void>>();
  private readonly settling = new Set<Promise<void>>();
  /** Offsets below which a kept partition's records were acked here (commit maybe pending). */
  private readonly doneBefore = new Map<number, bigint>();
  private unacked = 0;
  private waiters: (() => void)[] = [];

  constructor(
    /** Records whose events are not acked yet, at most (see OutboundConsumerOptions). */
    private readonly maxUnacked: number,
  ) {}

  /** A new assignment (GROUP_JOIN): what was lost is forgotten. */
  assigned(partitions: readonly number[]): void {
    this.owned = new Set(partitions);
    for (const p of [...this.doneBefore.keys()]) if (!this.owned.has(p)) this.doneBefore.delete(p);
  }

  /** The member left the group (crash, stop): nothing is ours to commit any more. */
  unassigned(): void {
    this.owned = new Set();
  }

  isOwned(partition: number): boolean {
    return this.owned.has(partition);
  }

  /** Some batch is still settling (waits or commits in the background). */
  get busy(): boolean {
    return this.settling.size > 0;
  }

  /** Earlier batches of this partition are still settling: a commit now could pass their records. */
  hasPending(partition: number): boolean {
    return this.chains.has(partition);
  }

  /** Resolves once every batch of the partition handed over so far has settled. */
  async settled(partition: number): Promise<void> {
    while (this.chains.has(partition)) await this.chains.get(partition);
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
    const previous = this.chains.get(partition) ?? Promise.resolve();
    const chain: Promise<void> = previous
      .then(() => acked)
      .then(async () => {
        if (this.owned.has(partition)) await commit();
      });
    this.chains.set(partition, chain);
    this.settling.add(chain);
    void chain.finally(() => {
      this.settling.delete(chain);
      if (this.chains.get(partition) === chain) this.chains.delete(partition);
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
