/**
 * Per-session admission: at most `limit` submits handed to one session at a time (its window plus
 * a small queue). Why: a submit queued inside a session cannot be taken back, so an unbounded
 * queue there would keep sending records after a rebalance or shutdown aborted them. Waiting
 * here instead is abortable.
 */
import { OldestFirst } from './oldest-first.js';

interface Waiter {
  readonly sessionId: string;
  readonly signal: AbortSignal;
  readonly admit: () => void;
  readonly reject: (reason: unknown) => void;
}

/** One session's parked waiters in arrival order, and a cursor to their oldest (see oldest-first.ts). */
interface WaiterQueue {
  readonly parked: Set<Waiter>;
  readonly oldest: OldestFirst<Waiter>;
}

function newQueue(): WaiterQueue {
  const parked = new Set<Waiter>();
  return { parked, oldest: new OldestFirst(() => parked.values()) };
}

export class Admission {
  private readonly counts = new Map<string, number>();
  /**
   * Waiters per session in arrival order. A Set, not an array: a backlog can park thousands of
   * records here, and an abort (rebalance, shutdown) removes every one of them — indexOf + splice
   * per waiter made that quadratic.
   */
  private readonly waiters = new Map<string, WaiterQueue>();
  /**
   * Waiters by the signal that can abort them, with one abort listener per signal: a batch's
   * records share its signal, and an EventTarget listener added and removed per waiting record was
   * ~2 % of the connector's CPU under a backlog.
   */
  private readonly bySignal = new WeakMap<AbortSignal, Set<Waiter>>();

  constructor(private readonly limit: number) {}

  /**
   * Takes a slot: at once when the session has room (undefined — the hot path: no promise, no
   * release closure per submit), else a promise that resolves once the slot is taken. Every slot
   * taken is given back with exactly one `leave`.
   */
  enter(sessionId: string, signal: AbortSignal): Promise<void> | undefined {
    const count = this.counts.get(sessionId) ?? 0;
    if (count < this.limit) {
      this.counts.set(sessionId, count + 1);
      return undefined;
    }
    return this.enterWhenRoom(sessionId, signal);
  }

  leave(sessionId: string): void {
    this.counts.set(sessionId, (this.counts.get(sessionId) ?? 1) - 1);
    this.admitNext(sessionId);
  }

  private async enterWhenRoom(sessionId: string, signal: AbortSignal): Promise<void> {
    while ((this.counts.get(sessionId) ?? 0) >= this.limit) {
      signal.throwIfAborted();
      await this.park(sessionId, signal);
    }
    this.counts.set(sessionId, (this.counts.get(sessionId) ?? 0) + 1);
  }

  outstanding(sessionId: string): number {
    return this.counts.get(sessionId) ?? 0;
  }

  private park(sessionId: string, signal: AbortSignal): Promise<void> {
    return new Promise<void>((admit, reject) => {
      const waiter: Waiter = { sessionId, signal, admit, reject };
      let queue = this.waiters.get(sessionId);
      if (!queue) this.waiters.set(sessionId, (queue = newQueue()));
      queue.parked.add(waiter);
      let parked = this.bySignal.get(signal);
      if (!parked) {
        this.bySignal.set(signal, (parked = new Set()));
        signal.addEventListener('abort', () => this.abortAll(signal), { once: true });
      }
      parked.add(waiter);
    });
  }

  private admitNext(sessionId: string): void {
    const queue = this.waiters.get(sessionId);
    const next = queue?.oldest.next();
    if (!next) return;
    queue!.parked.delete(next);
    this.bySignal.get(next.signal)?.delete(next);
    next.admit();
  }

  private abortAll(signal: AbortSignal): void {
    const parked = this.bySignal.get(signal);
    this.bySignal.delete(signal);
    for (const waiter of parked ?? []) {
      this.waiters.get(waiter.sessionId)?.parked.delete(waiter);
      waiter.reject(signal.reason);
    }
  }
}
