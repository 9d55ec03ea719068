/**
 * Contiguous offset tracking for one partition.
 *
 * Invariant: the offset we commit never passes a record whose events are not yet acked by
 * Kafka. Records finish out of order (different keys, retries, multi-segment messages), so the
 * commit point is "the lowest offset still unfinished" — everything below it is done (or was
 * never handed to us: gaps from compaction or transaction markers are fine to skip). When
 * nothing is pending, it is the highest finished offset + 1.
 *
 * kafkajs gives offsets as decimal strings (int64); they are handled as bigint, never Number.
 */

export type Offset = string | bigint;

function toBig(offset: Offset): bigint {
  if (typeof offset === 'bigint') return offset;
  if (!/^[0-9]+$/.test(offset)) throw new RangeError(`offset '${offset}' is not a non-negative integer`);
  return BigInt(offset);
}

export class PartitionOffsets {
  /** Tracked offsets in the order taken (ascending); entries before `head` are finished. */
  private queue: bigint[] = [];
  private head = 0;
  /** Finished offsets not yet at the head of the queue. */
  private readonly finishedAhead = new Set<bigint>();
  private highestTracked: bigint | null = null;
  /** Next offset to commit once nothing is pending: highest contiguous finished + 1. */
  private doneUpTo: bigint | null = null;
  private committedUpTo: bigint | null = null;

  /**
   * A record was taken. Offsets must arrive ascending, as Kafka delivers a partition;
   * anything else means a seek/re-delivery the caller must handle with a fresh tracker.
   */
  track(offset: Offset): void {
    const o = toBig(offset);
    if (this.highestTracked !== null && o <= this.highestTracked) {
      throw new RangeError(`offset ${o} tracked after ${this.highestTracked}: offsets must ascend`);
    }
    this.highestTracked = o;
    this.queue.push(o);
  }

  /** All events of the record are acked. Out-of-order finishes are expected. */
  finish(offset: Offset): void {
    const o = toBig(offset);
    if (!this.isPending(o)) throw new RangeError(`offset ${o} finished but not pending`);
    this.finishedAhead.add(o);
    this.advance();
  }

  /**
   * Next offset to commit (Kafka's "next record to read") as a string, or null when it would
   * not move past what was last marked committed. Does not change state: call
   * {@link markCommitted} once Kafka confirms the commit.
   */
  committable(): string | null {
    const candidate = this.head < this.queue.length ? this.queue[this.head] : this.doneUpTo;
    if (candidate === undefined || candidate === null) return null;
    if (this.committedUpTo !== null && candidate <= this.committedUpTo) return null;
    return candidate.toString();
  }

  /** Kafka confirmed a commit of `offset`; committable() returns only offsets beyond it. */
  markCommitted(offset: Offset): void {
    const o = toBig(offset);
    if (this.committedUpTo === null || o > this.committedUpTo) this.committedUpTo = o;
  }

  /** Records taken from the commit point on: the unfinished ones and those finished after the first of them. */
  takenPastCommit(): number {
    return this.queue.length - this.head;
  }

  /** Records taken and not finished. */
  pendingCount(): number {
    return this.queue.length - this.head - this.finishedAhead.size;
  }

  private isPending(o: bigint): boolean {
    if (this.finishedAhead.has(o)) return false;
    // The queue is ascending: binary search the unfinished part.
    let lo = this.head;
    let hi = this.queue.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.queue[mid] as bigint;
      if (v === o) return true;
      if (v < o) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  /** Pops finished offsets off the head so the head is always the lowest unfinished one. */
  private advance(): void {
    while (this.head < this.queue.length) {
      const o = this.queue[this.head] as bigint;
      if (!this.finishedAhead.delete(o)) break;
      this.doneUpTo = o + 1n;
      this.head++;
    }
    // Drop the consumed prefix now and then, so memory follows the pending window, not history.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
