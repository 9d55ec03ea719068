/**
 * How many records of the intake are being worked on at once (decoded, planned, waiting for a
 * session slot, on the wire), across all partitions. PURE: no timers, no I/O.
 *
 * Why a bound: a fetch round of a backlog is thousands of records. Started all at once, each was
 * decoded and planned in one burst that held the event loop for ~0.1 s (0.6 s on a cold start)
 * while no session could send — a dip in the submit rate at every round (issue 19), and thousands
 * of decoded records parked in memory. With a bound a few times what the sessions can hold, the
 * work is spread over the round and the sessions always have the next record ready.
 *
 * Waiters are served in **record order** (the sequence in which the consumer took the records),
 * not in the order they asked: a record that waited for the previous record of its key asks late,
 * and served last it would wait behind the whole round each time — a key with much of the traffic
 * would crawl. Record order lets it go next, as it would have without the bound.
 */

interface Waiter {
  readonly seq: number;
  readonly signal: AbortSignal;
  readonly admit: () => void;
  readonly reject: (reason: unknown) => void;
}

export class IntakeSlots {
  private taken = 0;
  /** Ascending by `seq`. Records mostly ask in order, so the insert is usually an append. */
  private readonly waiters: Waiter[] = [];
  /** One abort listener per signal (a batch's records share one), as in admission.ts. */
  private readonly bySignal = new WeakMap<AbortSignal, Set<Waiter>>();

  constructor(readonly limit: number) {
    if (!(Number.isInteger(limit) && limit > 0)) throw new RangeError(`intake limit must be a positive integer, got ${limit}`);
  }

  /**
   * Takes a slot for the record taken `seq`-th: at once when one is free and nobody earlier waits
   * (undefined), else a promise that resolves once it is taken or rejects when `signal` aborts.
   * Every slot taken is given back with exactly one `release`.
   */
  acquire(seq: number, signal: AbortSignal): Promise<void> | undefined {
    signal.throwIfAborted();
    if (this.taken < this.limit && this.waiters.length === 0) {
      this.taken += 1;
      return undefined;
    }
    return new Promise<void>((admit, reject) => this.park({ seq, signal, admit, reject }));
  }

  release(): void {
    this.taken -= 1;
    this.admitWaiting();
  }

  /** Slots in use and records waiting for one (tests read them). */
  get inUse(): number {
    return this.taken;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  private park(waiter: Waiter): void {
    this.waiters.splice(this.insertionIndex(waiter.seq), 0, waiter);
    let parked = this.bySignal.get(waiter.signal);
    if (!parked) {
      this.bySignal.set(waiter.signal, (parked = new Set()));
      waiter.signal.addEventListener('abort', () => this.abortAll(waiter.signal), { once: true });
    }
    parked.add(waiter);
    this.admitWaiting();
  }

  /** First index whose seq is greater than `seq` (binary search from the end's side). */
  private insertionIndex(seq: number): number {
    const last = this.waiters[this.waiters.length - 1];
    if (last === undefined || last.seq <= seq) return this.waiters.length;
    let lo = 0;
    let hi = this.waiters.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.waiters[mid] as Waiter).seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private admitWaiting(): void {
    while (this.taken < this.limit && this.waiters.length > 0) {
      const next = this.waiters.shift() as Waiter;
      this.bySignal.get(next.signal)?.delete(next);
      this.taken += 1;
      next.admit();
    }
  }

  private abortAll(signal: AbortSignal): void {
    const parked = this.bySignal.get(signal);
    this.bySignal.delete(signal);
    if (!parked || parked.size === 0) return;
    // One pass, keeping the others in order: a splice per aborted waiter was quadratic, and a
    // rebalance aborts a whole round's worth of them (admission.ts learnt the same).
    let kept = 0;
    for (const waiter of this.waiters) if (!parked.has(waiter)) this.waiters[kept++] = waiter;
    this.waiters.length = kept;
    for (const waiter of parked) waiter.reject(signal.reason);
  }
}
