/**
 * Submit window of one session: a FIFO of submits waiting for a slot, and the requests that are
 * on the wire (unanswered), keyed by sequence number, each with its own response timer.
 *
 * node-smpp has no window (its send() buffers without limit, defect 4) and no request timeout
 * (defect 3); this structure provides both. No I/O and no `smpp` import: the session decides
 * what "send" means, the window only keeps the bookkeeping honest — every entry is settled
 * exactly once (response, timeout, or connection loss), and settling clears its timer.
 */
import type { SubmitParams, SubmitResult } from '../protocol/types.js';

export interface WaitingSubmit {
  params: SubmitParams;
  enqueuedAt: number;
  resolve: (result: SubmitResult) => void;
}

export interface InFlightSubmit {
  sequenceNumber: number;
  sentAt: number;
  /** Its number at the pacer (SubmitPacer.take), to tell the pacer when it was answered. */
  paced: number;
  resolve: (result: SubmitResult) => void;
  timer: NodeJS.Timeout | undefined;
}

export class SubmitWindow {
  private readonly waiting: WaitingSubmit[] = [];
  private readonly inFlight = new Map<number, InFlightSubmit>();
  private drainWaiters: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`window must be an integer ≥ 1, got ${size}`);
  }

  /** Queues a submit; the promise settles when the session settles the entry. */
  enqueue(params: SubmitParams, now: number): Promise<SubmitResult> {
    return new Promise<SubmitResult>((resolve) => {
      this.waiting.push({ params, enqueuedAt: now, resolve });
    });
  }

  hasRoom(): boolean {
    return this.inFlight.size < this.size;
  }

  /** Next waiting submit in FIFO order (per-key order depends on it). */
  shift(): WaitingSubmit | undefined {
    return this.waiting.shift();
  }

  /** Registers a request that was written to the socket. */
  add(entry: InFlightSubmit): void {
    this.inFlight.set(entry.sequenceNumber, entry);
  }

  /** The in-flight entry of `sequenceNumber`, left in place (undefined if already settled). */
  inFlightEntry(sequenceNumber: number): InFlightSubmit | undefined {
    return this.inFlight.get(sequenceNumber);
  }

  /** Removes an in-flight entry (clearing its timer); undefined if already settled. */
  settle(sequenceNumber: number): InFlightSubmit | undefined {
    const entry = this.inFlight.get(sequenceNumber);
    if (!entry) return undefined;
    this.inFlight.delete(sequenceNumber);
    if (entry.timer) clearTimeout(entry.timer);
    if (this.inFlight.size === 0) this.notifyDrained();
    return entry;
  }

  /** Settles and returns every in-flight entry (connection lost or closing). */
  takeAllInFlight(): InFlightSubmit[] {
    const entries = [...this.inFlight.values()];
    for (const entry of entries) this.settle(entry.sequenceNumber);
    return entries;
  }

  /** Removes and returns every waiting submit. */
  takeAllWaiting(): WaitingSubmit[] {
    return this.waiting.splice(0, this.waiting.length);
  }

  inFlightCount(): number {
    return this.inFlight.size;
  }

  queuedCount(): number {
    return this.waiting.length;
  }

  /** Resolves when nothing is in flight, or after timeoutMs (returns whether it drained). */
  whenDrained(timeoutMs: number): Promise<boolean> {
    if (this.inFlight.size === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.drainWaiters.push(done);
    });
  }

  private notifyDrained(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
