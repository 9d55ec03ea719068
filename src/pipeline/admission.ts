/**
 * Per-session admission: at most `limit` submits handed to one session at a time (its window plus
 * a small queue). Why: a submit queued inside a session cannot be taken back, so an unbounded
 * queue there would keep sending records after a rebalance or shutdown aborted them. Waiting
 * here instead is abortable.
 */
export class Admission {
  private readonly counts = new Map<string, number>();
  /**
   * Waiters per session in arrival order. A Set, not an array: a backlog can park thousands of
   * records here, and an abort (rebalance, shutdown) removes every one of them — indexOf + splice
   * per waiter made that quadratic.
   */
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly limit: number) {}

  async acquire(sessionId: string, signal: AbortSignal): Promise<() => void> {
    while ((this.counts.get(sessionId) ?? 0) >= this.limit) {
      signal.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const list = this.waiters.get(sessionId) ?? new Set<() => void>();
        this.waiters.set(sessionId, list);
        const wake = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          list.delete(wake);
          reject(signal.reason);
        };
        list.add(wake);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    this.counts.set(sessionId, (this.counts.get(sessionId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.counts.set(sessionId, (this.counts.get(sessionId) ?? 1) - 1);
      const list = this.waiters.get(sessionId);
      const next = list?.values().next().value;
      if (next) {
        list!.delete(next);
        next();
      }
    };
  }

  outstanding(sessionId: string): number {
    return this.counts.get(sessionId) ?? 0;
  }
}
