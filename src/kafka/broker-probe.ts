/**
 * Broker reachability for readiness (fault F4: "readiness false while the broker is down").
 *
 * Why a probe: nothing else says so in time. The consumer stays "joined" while its batch handler
 * waits on an unacked publish (it never crashes during a 30 s outage), and the producer only
 * reports an error once kafkajs' retry budget (~30 s) is spent. So: a Metadata request every
 * `intervalMs` on the admin client, and "unreachable" once the last success is `staleMs` old or
 * the last probe failed. A probe does not fail fast on a dead broker (kafkajs retries the seed
 * connection for up to ~30 s), so staleness is what turns readiness false: ≤ `staleMs` after the
 * broker's last answer (measured in F4: 8.6–9.2 s with 10 s; hence 6 s).
 */
import type { Admin } from 'kafkajs';

export class BrokerProbe {
  private lastOkAt: number;
  private lastFailed = false;
  private inFlight = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly admin: Admin,
    private readonly topic: string,
    private readonly intervalMs = 2000,
    private readonly staleMs = 6000,
    private readonly now: () => number = Date.now,
  ) {
    this.lastOkAt = now();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.probe(), this.intervalMs);
    this.timer.unref();
  }

  /** One Metadata round trip; never throws. */
  async probe(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      await this.admin.fetchTopicMetadata({ topics: [this.topic] });
      this.lastOkAt = this.now();
      this.lastFailed = false;
    } catch {
      this.lastFailed = true;
    } finally {
      this.inFlight = false;
    }
  }

  /** True when the last probe succeeded and not longer than `staleMs` ago. */
  reachable(): boolean {
    return !this.lastFailed && this.now() - this.lastOkAt <= this.staleMs;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
