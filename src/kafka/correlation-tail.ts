/**
 * Tails the whole `sms.correlation` topic into the CorrelationIndex, on every replica, so a receipt
 * arriving anywhere finds its request, and a replayed record finds what was already submitted.
 *
 * The index's store keeps, per partition, the offset up to which it holds the topic (written with
 * each batch's entries, committed in order after them). A start on a store that has them seeks
 * there and reads only what was written since. An empty store (a new disk, a temporary directory)
 * is restored from the live-state topic first, then reads the topic from the watermark found
 * there (live-state-restore.ts); without a watermark, from the beginning.
 *
 * kafkajs has no manual partition assignment, so the tail is a consumer in a group of its own
 * (unique per process, never committing: where it resumes is the store's business).
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { CorrelationIndex } from '../pipeline/correlation-index.js';
import { nonEmptyEnds, retryUntil } from './client.js';
import { ORIGIN_HEADER, unpackCorrelation } from './correlation-bundle.js';
import { restoreLiveState } from './live-state-restore.js';

/** How long start-up tries to read the topic's offsets to check the store's checkpoints against. */
const CHECKPOINT_CHECK_MS = 30_000;
/** How often the tail takes the topic's end offsets to know how far behind it is (`appliedThrough`). */
const LAG_PROBE_MS = 5_000;

export interface CorrelationTailOptions {
  topic: string;
  /** The compacted live-state topic an empty store is restored from; unset: an empty store reads the topic whole. */
  liveTopic?: string;
  groupPrefix: string;
  /** Bundles this process wrote itself were applied locally already: skip their parsing. */
  ownOrigin?: string;
  /** Called after another process's entry (`r:` request snapshot, `f:` final receipt) was applied. */
  onRemoteEntry?: (key: string) => void;
}

/** How the start found the store. */
export type RestoreKind = 'checkpoints' | 'live-state' | 'beginning';

export class CorrelationTail {
  private readonly consumer: Consumer;
  private readonly topic: string;
  private readonly ownOrigin: string;
  private readonly positions = new Map<number, bigint>();
  /** End offsets taken every LAG_PROBE_MS, oldest first, until the tail has reached them. */
  private readonly lagProbes: Array<{ at: number; ends: Map<number, bigint> }> = [];
  private lagTimer: NodeJS.Timeout | null = null;
  /** When the newest end offsets the tail has reached were taken (0: never yet). */
  private reachedAt = 0;
  private readonly waiters = new Set<() => void>();
  private running = false;
  /** Entries applied since start (own ones skipped): what a start-up catch-up cost. */
  appliedEntries = 0;
  restoredFrom: RestoreKind = 'beginning';
  /** Records read from the live-state topic at start. */
  liveRecords = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly index: CorrelationIndex,
    private readonly options: CorrelationTailOptions,
    private readonly logger: Logger,
  ) {
    this.topic = options.topic;
    this.ownOrigin = options.ownOrigin ?? '';
    this.consumer = kafka.consumer({
      groupId: `${options.groupPrefix}.correlation-tail.${randomUUID()}`,
      // Short, because this group has one member and never needs patience: after a broker restart
      // the tail's consumer restarts with a new member id, and its JoinGroup waits until the
      // stale member's session expires; every assigned partition of the outbound consumer waits
      // on this catch-up (fault F4: 30 s with 30000).
      sessionTimeout: 10000,
      heartbeatInterval: 1000,
      // No minBytes (fewer fetches) here: another replica's finals should arrive at once — a
      // multipart request whose segments turned final on two replicas gets its SUMMARY from the
      // one that sees the other's final. Tried (64 KiB or 100 ms): fault F2, rolling restarts of
      // two replicas, then ended once with one SUMMARY missing.
      maxWaitTimeInMs: 200,
      allowAutoTopicCreation: false,
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    this.running = true;
    if (this.index.checkpoints(this.topic).size > 0) await this.resumeFromCheckpoints();
    else if (this.options.liveTopic) await this.restoreFromLiveState(this.options.liveTopic);
    await this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => {
        // Below what the store holds already: a fetch that beat the start-up seek, or a refetch
        // from the beginning after the group rejoined (kafkajs forgets uncommitted positions on
        // every rejoin). Applied again, an old snapshot would bring back a request pruned since.
        const from = this.positions.get(batch.partition) ?? 0n;
        for (const m of batch.messages) {
          if (BigInt(m.offset) < from) continue;
          const key = m.key?.toString('utf8');
          if (!key) continue;
          if (this.ownOrigin && m.headers?.[ORIGIN_HEADER]?.toString() === this.ownOrigin) continue;
          const at = Number(m.timestamp);
          try {
            for (const [entryKey, value] of unpackCorrelation(key, m.value)) {
              this.index.apply(entryKey, value as Parameters<CorrelationIndex['apply']>[1], at);
              this.appliedEntries++;
              if (value) this.options.onRemoteEntry?.(entryKey);
            }
          } catch (err) {
            this.logger.warn({ err, partition: batch.partition, offset: m.offset }, 'skipping unreadable correlation record');
          }
        }
        const last = batch.messages.at(-1);
        const next = last ? BigInt(last.offset) + 1n : 0n;
        if (next <= (this.positions.get(batch.partition) ?? 0n)) return;
        this.positions.set(batch.partition, next);
        for (const wake of this.waiters) wake();
        this.settleLagProbes();
        // After the batch's entries: the store commits in order, so the checkpoint never runs
        // ahead of what it holds. Awaited: a tail that outruns the disk would queue writes in heap.
        this.index.checkpoint(this.topic, batch.partition, next.toString());
        await this.index.written();
      },
    });
    this.seekToPositions();
    // A rejoin (a broker restart, a session timeout) would refetch every partition from its
    // beginning: seek them back to where the store is.
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => this.seekToPositions());
    this.startLagProbes();
  }

  /**
   * A time up to which every record of the topic is applied: when the newest end offsets the tail
   * has reached were taken (within LAG_PROBE_MS of now while it keeps up). 0 until it first caught up.
   */
  appliedThrough(): number {
    return this.reachedAt;
  }

  private startLagProbes(): void {
    this.lagTimer = setInterval(() => {
      const at = Date.now();
      void this.admin
        .fetchTopicOffsets(this.topic)
        .then((offsets) => {
          this.lagProbes.push({ at, ends: nonEmptyEnds(offsets) });
          this.settleLagProbes();
        })
        .catch(() => undefined); // the next probe tries again; meanwhile the lag grows
    }, LAG_PROBE_MS);
    this.lagTimer.unref();
  }

  private settleLagProbes(): void {
    while (this.lagProbes.length > 0 && [...this.lagProbes[0]!.ends].every(([p, end]) => (this.positions.get(p) ?? 0n) >= end)) {
      this.reachedAt = Math.max(this.reachedAt, this.lagProbes.shift()!.at);
    }
    // A tail far behind would pile probes up: the oldest unreached one is what counts.
    if (this.lagProbes.length > 100) this.lagProbes.splice(1, this.lagProbes.length - 100);
  }

  /**
   * An empty store: the live-state topic's requests, then this topic from the watermark found
   * there (every change written before it is in the live-state topic). The offsets for that time
   * become the positions the tail starts from.
   */
  private async restoreFromLiveState(liveTopic: string): Promise<void> {
    const restored = await restoreLiveState(this.kafka, this.admin, liveTopic, this.index, this.options.groupPrefix, this.logger);
    this.liveRecords = restored.records;
    if (restored.watermark === null) return;
    const watermark = restored.watermark;
    const offsets = await retryUntil(
      Date.now() + CHECKPOINT_CHECK_MS,
      () => this.admin.fetchTopicOffsetsByTimestamp(this.topic, watermark),
      () => this.running,
    ).catch(() => null);
    if (!offsets) {
      this.logger.warn({ topic: this.topic }, 'correlation topic offsets by time unavailable; reading it from the beginning');
      return;
    }
    for (const { partition, offset } of offsets) {
      this.positions.set(partition, BigInt(offset));
      // Now, not at the partition's next record: one that gets none would have no checkpoint, and
      // the next start on this store would read it from its beginning.
      this.index.checkpoint(this.topic, partition, offset);
    }
    await this.index.written();
    this.restoredFrom = 'live-state';
    this.logger.info(
      {
        topic: this.topic,
        liveRecords: restored.records,
        from: new Date(watermark).toISOString(),
        offsets: Object.fromEntries([...this.positions].map(([p, o]) => [p, o.toString()])),
      },
      'correlation store restored from the live-state topic; reading the correlation topic from its watermark',
    );
  }

  private seekToPositions(): void {
    if (!this.running) return;
    for (const [partition, offset] of this.positions) this.consumer.seek({ topic: this.topic, partition, offset: offset.toString() });
  }

  /**
   * The store's checkpoints that still match the topic: one past its end means the topic was
   * recreated, one before its start that retention removed records the store never saw. Those
   * partitions are read from the beginning.
   */
  private async resumeFromCheckpoints(): Promise<void> {
    const checkpoints = this.index.checkpoints(this.topic);
    if (checkpoints.size === 0) return;
    const offsets = await this.endOffsets(Date.now() + CHECKPOINT_CHECK_MS);
    if (!offsets) {
      this.logger.warn({ topic: this.topic }, 'correlation topic offsets unavailable; reading it from the beginning');
      return;
    }
    const dropped: number[] = [];
    for (const { partition, low, high } of offsets) {
      const at = checkpoints.get(partition);
      if (at === undefined) continue;
      if (BigInt(at) > BigInt(high) || BigInt(at) < BigInt(low)) {
        this.index.dropCheckpoint(this.topic, partition);
        dropped.push(partition);
        continue;
      }
      this.positions.set(partition, BigInt(at));
    }
    this.restoredFrom = 'checkpoints';
    const resumed = Object.fromEntries([...this.positions].map(([p, o]) => [p, o.toString()]));
    this.logger.info({ topic: this.topic, resumed, fromBeginning: dropped }, 'correlation tail resumes from the store checkpoints');
  }

  /**
   * Resolves once everything written to the topic before this call has been applied (or after
   * `timeoutMs`, returning false). Called before a newly assigned partition is processed, so a
   * record another replica submitted just before a crash is recognised and not sent again.
   */
  async waitCaughtUp(timeoutMs = 30000): Promise<boolean> {
    // after stop: asking the admin would open a new connection that nothing closes
    if (!this.running) return false;
    const deadline = Date.now() + timeoutMs;
    const asked = Date.now();
    const offsets = await this.endOffsets(deadline);
    if (!offsets) {
      this.logger.warn({ topic: this.topic }, 'correlation topic offsets unavailable; continuing without the catch-up');
      return false;
    }
    const targets = nonEmptyEnds(offsets);
    const reached = () => [...targets].every(([partition, high]) => (this.positions.get(partition) ?? 0n) >= high);
    const done = () => {
      if (!reached()) return false;
      this.reachedAt = Math.max(this.reachedAt, asked);
      return true;
    };
    if (done()) return true;
    return new Promise((resolve) => {
      const check = () => {
        if (!done()) return;
        finish(true);
      };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (!ok) this.logger.warn({ topic: this.topic }, 'correlation tail did not catch up in time; continuing');
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), Math.max(0, deadline - Date.now()));
      this.waiters.add(check);
    });
  }

  /**
   * End offsets, retried until `deadline`: right after the topic was created kafkajs' admin can
   * throw from fetchTopicOffsets ("Cannot destructure property 'partitions' of 'high.pop(...)'")
   * while its metadata lacks the topic — seen in the bench; thrown out of eachBatch it crashed
   * the consumer group member. null when it never worked.
   */
  private endOffsets(deadline: number): Promise<{ partition: number; high: string; low: string }[] | null> {
    const retriable = (err: unknown): boolean => {
      this.logger.debug({ err: (err as Error).message }, 'correlation topic offsets not available yet; retrying');
      return this.running;
    };
    return retryUntil(deadline, () => this.admin.fetchTopicOffsets(this.topic), retriable).catch(() => null);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.lagTimer) clearInterval(this.lagTimer);
    await this.consumer.disconnect();
  }
}
