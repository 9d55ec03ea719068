/**
 * Records the consumer has taken from fetched batches and not finished with the SMSC yet, across
 * all partitions, and a wait for that number to fall to a mark. PURE: no timers, no I/O.
 *
 * Why: kafkajs fetches the next round only when every batch handler of the current one has
 * returned. A handler that waited for its last record left the sessions with nothing queued for
 * the length of a fetch at every round (a 50–100 ms dip every ~13 s of a backlog, issue 19). The
 * consumer lets a handler return once all its records are taken and few enough are unfinished
 * (`whenAtMost`), so the next round is fetched while the last records of this one are still sent.
 * The mark bounds what is read ahead: one round plus the mark.
 */
interface Waiter {
  readonly atMost: number;
  readonly wake: () => void;
}

export class UnfinishedRecords {
  private count = 0;
  private waiters: Waiter[] = [];

  get size(): number {
    return this.count;
  }

  /** One more record taken. */
  add(): void {
    this.count += 1;
  }

  /** A record finished (or was given up): wakes every wait whose mark is reached. */
  done(): void {
    if (this.count === 0) throw new RangeError('UnfinishedRecords.done() without a record');
    this.count -= 1;
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    const due: Waiter[] = [];
    for (const w of this.waiters) (w.atMost >= this.count ? due : still).push(w);
    this.waiters = still;
    for (const w of due) w.wake();
  }

  /**
   * Resolves once at most `atMost` records are unfinished (at once if so already). `cancel` drops
   * the wait without resolving it: a handler whose batch finished first stops waiting.
   */
  whenAtMost(atMost: number): { reached: Promise<void>; cancel: () => void } {
    if (this.count <= atMost) return { reached: Promise.resolve(), cancel: () => undefined };
    let waiter: Waiter | undefined;
    const reached = new Promise<void>((wake) => {
      waiter = { atMost, wake };
      this.waiters.push(waiter);
    });
    return {
      reached,
      cancel: () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
      },
    };
  }
}
