/**
 * Delivers receipts like the provider: to ANY bound RX/TRX connection of the account,
 * round-robin (not necessarily the connection that submitted), and re-sends until a
 * deliver_sm_resp with status 0 arrives — after a non-zero status (e.g. 0x64 temporary), a
 * missing answer or no receiver at all, it retries after `receiptRetryMs`.
 */
import type { Behaviour } from './behaviour.js';
import { receiptDeliverSmFields, type ReceiptFacts } from './receipts.js';
import type { SmscConnection } from './smsc-connection.js';

export interface ReceiptCounters {
  receiptsSent: number;
  receiptsAcked: number;
  receiptsRefused: number;
  receiptsUnanswered: number;
}

export class ReceiptDispatcher {
  readonly counters: ReceiptCounters = { receiptsSent: 0, receiptsAcked: 0, receiptsRefused: 0, receiptsUnanswered: 0 };
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly roundRobin = new Map<string, number>();
  private pendingCount = 0;
  private stopped = false;

  constructor(
    private readonly receivers: (systemId: string) => SmscConnection[],
    private readonly behaviour: () => Behaviour,
  ) {}

  /** Receipts accepted for delivery and not yet acknowledged with status 0. */
  pending(): number {
    return this.pendingCount;
  }

  schedule(systemId: string, facts: ReceiptFacts, delayMs: number): void {
    if (this.stopped) return;
    this.pendingCount += 1;
    this.later(delayMs, () => this.attempt(systemId, facts));
  }

  /**
   * Sends a receipt now, with the same round-robin and re-sends as a scheduled one; `acked` runs
   * once a receiver answered status 0 (a release of held receipts paces itself on it). Returns
   * false, and sends nothing, once stopped.
   */
  sendNow(systemId: string, facts: ReceiptFacts, acked: () => void): boolean {
    if (this.stopped) return false;
    this.pendingCount += 1;
    this.attempt(systemId, facts, acked);
    return true;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private attempt(systemId: string, facts: ReceiptFacts, acked?: () => void): void {
    if (this.stopped) return;
    const candidates = this.receivers(systemId);
    const retryMs = this.behaviour().receiptRetryMs;
    if (candidates.length === 0) {
      this.later(retryMs, () => this.attempt(systemId, facts, acked));
      return;
    }
    const index = (this.roundRobin.get(systemId) ?? 0) % candidates.length;
    this.roundRobin.set(systemId, index + 1);
    const target = candidates[index] as SmscConnection;
    this.counters.receiptsSent += 1;
    const doneAt = Math.max(facts.doneAt, facts.submittedAt);
    target.sendDeliverSm(receiptDeliverSmFields({ ...facts, doneAt }, 0), this.behaviour().receiptResponseTimeoutMs, (status) => {
      if (status === 0) {
        this.counters.receiptsAcked += 1;
        this.pendingCount -= 1;
        acked?.();
        return;
      }
      if (status === undefined) this.counters.receiptsUnanswered += 1;
      else this.counters.receiptsRefused += 1;
      this.later(retryMs, () => this.attempt(systemId, facts, acked));
    });
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      try {
        fn();
      } catch {
        // A receipt attempt must never crash the simulator; it is retried by the next schedule.
      }
    }, ms);
    this.timers.add(timer);
  }
}
