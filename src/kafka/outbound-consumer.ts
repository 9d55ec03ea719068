/**
 * The `sms.outbound` consumer group, on kafkajs.
 *
 * Each batch is processed from eachBatch, records in parallel but one key at a time. The batch
 * handler returns once every record of the batch is taken and few records (all partitions) are
 * still unfinished — so kafkajs fetches the next round while the last records of this one are
 * still with the SMSC, and the sessions never wait for a fetch (issue 19, design.md §5.3). What
 * keeps another member from taking the partitions while those records are still being sent is the
 * handover hook (handover-hook.ts): kafkajs awaits our drain before it sends JoinGroup or
 * LeaveGroup. Without that hook (kafkajs not where 2.2.4 has it) the handler waits for every
 * record, as it used to. kafkajs re-fetches from the last *resolved* offset, and its resolveOffset
 * overwrites (not contiguous), so commits come from our own contiguous tracker per partition
 * (PartitionOffsets, which spans the batches a partition has in progress), never auto-commit.
 *
 * Nor does the handler wait for Kafka to acknowledge the records' events (a produce round trip on
 * every record's latency): the acks are awaited in the background, per partition in order, and
 * the offsets committed then (AckSettler); the handover hook waits for those commits too.
 *
 * Records in progress are bounded across partitions (IntakeSlots; the rest of a round waits in
 * fetch order) and a batch's records are taken in slices: a backlog's round started all at once
 * held the loop long enough for every session to pause at every round (issue 19, design.md §5.3).
 *
 * Heartbeats continue during long batches (retries, an account pause) from a ticker, which is
 * one way a pending rebalance is noticed (kafkajs' own heartbeat between fetches is the other):
 * the heartbeat fails with REBALANCE_IN_PROGRESS, and every record not yet on the wire is aborted
 * (uncommitted: the next owner re-reads it, and the correlation index stops it re-sending segments
 * we submitted); submits on the wire finish and their events are published and committed before
 * the partitions are given away.
 */
import { setMaxListeners } from 'node:events';
import type { Consumer, EachBatchPayload, Kafka, PartitionAssigner } from 'kafkajs';
import type { Logger } from 'pino';
import { IntakeSlots } from '../pipeline/intake-slots.js';
import type { InboundRecord } from '../pipeline/outbound-processor.js';
import { UnfinishedRecords } from '../pipeline/unfinished-records.js';
import { backoffDelayMs, SPREAD_JITTER } from '../util/backoff.js';
import { AckSettler } from './ack-settler.js';
import { fetchOwnAssignment, type GroupTerms } from './assigner.js';
import { PartitionOffsets } from './offsets.js';
import { installHandoverHook, onHandover } from './handover-hook.js';

export interface RecordHandler {
  /** Resolves when the record is done with the SMSC; `acked` when Kafka acknowledged its events. */
  process(record: InboundRecord, signal: AbortSignal): Promise<{ acked: Promise<void> }>;
}

export interface ConsumerObserver {
  consumed?(topic: string, count: number): void;
  lag?(partition: number, lag: number): void;
  /** The partitions this member now holds ([] once it left the group): lag of the others is no longer its to report. */
  holds?(partitions: readonly number[]): void;
  stalled?(): void;
  /** The consumer crashed and a restart was scheduled after `delayMs` (see `scheduleRestart`). */
  restarting?(delayMs: number): void;
}

export interface OutboundConsumerOptions {
  kafka: Kafka;
  topic: string;
  groupId: string;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Batches processed at once (one per partition). */
  partitionsConcurrency: number;
  /** How long a rebalance or shutdown waits for in-flight records before aborting them. */
  drainMs: number;
  assigners?: PartitionAssigner[];
  handler: RecordHandler;
  logger: Logger;
  observer?: ConsumerObserver;
  /** A partition's offset commits this far apart at least (see AckSettler). */
  commitIntervalMs?: number;
  /** Runs once per assignment, before its first batch (correlation catch-up). */
  beforeFirstBatch?: () => Promise<unknown>;
  onAssignment?: (memberId: string, partitions: number[]) => void;
  /** No fetch for this long while idle → restart the consumer (kafkajs can stall silently). */
  watchdogMs?: number;
  /**
   * Wait before the first batch of a newly assigned partition, so the previous owner's last
   * correlation records (produced while kafkajs was already rejoining) are in the topic before
   * the catch-up reads it. Default 250 ms: several producer lingers and round trips.
   */
  handoverGraceMs?: number;
  /**
   * Records being worked on at once, all partitions (pipeline/intake-slots.ts; app/options.ts
   * derives it from the sessions); the others of a fetch round wait their turn in record order.
   */
  maxRecordsInProgress: number;
  /**
   * Records answered by the SMSC whose events Kafka has not acknowledged yet, at most (all
   * partitions). Past it new records wait: when the delivery topic cannot be written (fault F7)
   * intake stops here instead of piling events up in memory. Default 2,000.
   */
  maxUnackedRecords?: number;
  /** Fetch `minBytes` / `maxWaitTimeInMs` (KAFKA_FETCH_MIN_BYTES / KAFKA_FETCH_MAX_WAIT_MS); default 1 / 500. */
  fetchMinBytes?: number;
  fetchMaxWaitMs?: number;
  /**
   * Crash restarts back off exponentially with ±20 % jitter: the first waits about this long,
   * each next one twice as long, up to `restartMaxMs`. Default 500 ms.
   */
  restartMinMs?: number;
  /** Cap of the crash-restart delay. Default 30,000 ms. */
  restartMaxMs?: number;
}

/**
 * Records of a batch taken per event-loop turn. Taking one (its offset tracked, its key chained,
 * its task created) costs ~5–10 µs; a round of four 1,500-record batches taken in one go held the
 * loop ~50 ms at every round of a backlog, while the sessions waited for their next send.
 */
const START_SLICE = 128;

/**
 * Records of a partition taken past its commit point, at most, before handlers stop returning
 * early. The point stays at the oldest unfinished record, and a crash or rebalance re-reads
 * everything after it; ~50 s of the provider's full rate (4 × 100/s) keeps what is re-read well
 * inside CORRELATION_KEEP_DONE_MS (10 min by default), the time completed requests are remembered
 * so that a re-read one is not sent again.
 */
const MAX_TAKEN_PAST_COMMIT = 20_000;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A consumer that ran this long without crashing starts its restart backoff from the beginning. */
const RESTART_STABLE_MS = 60_000;

class AbortedByDrain extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'AbortedByDrain';
  }
}

export class OutboundConsumer {
  private consumer: Consumer;
  private readonly active = new Set<AbortController>();
  /** The current assignment's preparation (see `prepare`); null until a join, or after it failed. */
  private preparing: Promise<void> | null = null;
  private readonly settler: AckSettler;
  private readonly intake: IntakeSlots;
  private readonly unfinished = new UnfinishedRecords();
  /** Handlers return before their last record only where the handover hook holds rebalances back. */
  private readonly releaseEarly = installHandoverHook();
  /** Per partition: the records taken and their commit point, across the batches in progress. */
  private readonly offsets = new Map<number, PartitionOffsets>();
  /** Per partition and key: the newest record's task (per-key order spans batches). */
  private readonly keyTails = new Map<number, Map<string, Promise<boolean>>>();
  private removeHandoverHook: () => void = () => undefined;
  /** A record failed after its batch was released: nothing more is taken until the consumer restarts. */
  private restartPending = false;
  /** Records taken from fetched batches so far: their turn order for an intake slot. */
  private recordsTaken = 0;
  private draining: { until: number; timer: NodeJS.Timeout } | null = null;
  private stopping = false;
  private joined = false;
  private lastFetchAt = Date.now();
  private watchdog: NodeJS.Timeout | null = null;
  /** Crash restarts in a row (reset after RESTART_STABLE_MS without a crash), the pending one's timer. */
  private crashes = { count: 0, lastAt: 0, timer: null as NodeJS.Timeout | null };

  constructor(private readonly opts: OutboundConsumerOptions) {
    this.settler = new AckSettler(opts.maxUnackedRecords ?? 2000, opts.commitIntervalMs ?? 0);
    this.intake = new IntakeSlots(opts.maxRecordsInProgress);
    this.consumer = this.create();
    if (!this.releaseEarly) opts.logger.warn('kafkajs ConsumerGroup not found where 2.2.4 has it: each fetch round waits for its last record');
  }

  get isJoined(): boolean {
    return this.joined && !this.stopping;
  }

  private create(): Consumer {
    const c = this.opts.kafka.consumer({
      groupId: this.opts.groupId,
      sessionTimeout: this.opts.sessionTimeoutMs,
      heartbeatInterval: this.opts.heartbeatIntervalMs,
      rebalanceTimeout: Math.max(this.opts.sessionTimeoutMs, this.opts.drainMs + 10000),
      maxBytesPerPartition: 256 * 1024,
      // One fetch at most 1 MiB (kafkajs' default is 10; a partition's share stays 256 KiB, and a
      // larger first record is still returned): with compressed batches capped at 255 × their size
      // (compression.ts), a fetch expands to at most ~255 MiB, whatever its batches hold.
      maxBytes: 1024 * 1024,
      minBytes: this.opts.fetchMinBytes ?? 1,
      maxWaitTimeInMs: this.opts.fetchMaxWaitMs ?? 500,
      allowAutoTopicCreation: false,
      // kafkajs would restart a "retriable" crash itself, at once and on its own schedule; every
      // crash is restarted by scheduleRestart instead, with one backoff for all causes.
      retry: { retries: 5, restartOnFailure: async () => false },
      ...(this.opts.assigners ? { partitionAssigners: this.opts.assigners } : {}),
    });
    c.on(c.events.GROUP_JOIN, (e) => {
      this.joined = true;
      const partitions = e.payload.memberAssignment[this.opts.topic] ?? [];
      this.settler.assigned(partitions);
      // kafkajs reads every partition from its committed offset again: fresh trackers
      this.offsets.clear();
      this.removeHandoverHook();
      this.removeHandoverHook = onHandover(this.opts.groupId, e.payload.memberId, () => this.drainBeforeHandover());
      this.opts.observer?.holds?.(partitions);
      this.preparing = null;
      // a failure is thrown again to the first batch; a member on its way out prepares nothing
      if (!this.stopping) void this.prepare().catch(() => undefined);
      this.opts.logger.info({ memberId: e.payload.memberId, partitions, leader: e.payload.isLeader }, 'joined consumer group');
      this.opts.onAssignment?.(e.payload.memberId, partitions);
    });
    c.on(c.events.REBALANCING, () => {
      this.opts.logger.info('consumer group rebalancing');
    });
    c.on(c.events.FETCH_START, () => {
      this.lastFetchAt = Date.now();
    });
    c.on(c.events.CRASH, (e) => {
      this.joined = false;
      this.removeHandoverHook();
      this.settler.unassigned();
      this.opts.observer?.holds?.([]);
      this.opts.logger.error({ err: e.payload.error }, 'consumer crashed');
      if (!this.stopping && c === this.consumer) this.scheduleRestart(`crash: ${e.payload.error.message}`);
    });
    c.on(c.events.STOP, () => {
      this.joined = false;
      this.removeHandoverHook();
      this.settler.unassigned();
      this.opts.observer?.holds?.([]);
    });
    return c;
  }

  async start(): Promise<void> {
    await this.connectAndRun();
    this.startWatchdog();
  }

  private async connectAndRun(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.opts.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConcurrency,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  private startWatchdog(): void {
    const limit = this.opts.watchdogMs ?? Math.max(60000, 3 * this.opts.sessionTimeoutMs);
    this.watchdog = setInterval(
      () => {
        if (this.stopping || this.active.size > 0 || this.settler.busy || this.crashes.timer) {
          this.lastFetchAt = Date.now();
          return;
        }
        if (Date.now() - this.lastFetchAt > limit) {
          this.opts.observer?.stalled?.();
          void this.restart(`no fetch for ${limit} ms`);
        }
      },
      Math.min(5000, limit),
    );
    this.watchdog.unref();
  }

  /**
   * A crash restarts the consumer after a backoff. Without it a batch that fails every time (a
   * codec kafkajs lacks, issue 17) made each replica leave and rejoin the group in a tight loop —
   * thousands of rebalances a minute, every member of the group disturbed, nothing consumed.
   */
  private scheduleRestart(reason: string): void {
    if (this.crashes.timer) return;
    const now = Date.now();
    if (now - this.crashes.lastAt > RESTART_STABLE_MS) this.crashes.count = 0;
    this.crashes.count += 1;
    this.crashes.lastAt = now;
    const policy = { initialMs: Math.max(50, this.opts.restartMinMs ?? 500), maxMs: this.opts.restartMaxMs ?? 30_000, jitter: SPREAD_JITTER };
    const delayMs = backoffDelayMs(policy, this.crashes.count - 1);
    this.opts.observer?.restarting?.(delayMs);
    this.opts.logger.warn({ reason, attempt: this.crashes.count, delayMs }, 'consumer restart scheduled');
    this.crashes.timer = setTimeout(() => {
      this.crashes.timer = null;
      if (!this.stopping) void this.restart(reason);
    }, delayMs);
  }

  private async restart(reason: string): Promise<void> {
    this.opts.logger.warn({ reason }, 'restarting the consumer');
    this.lastFetchAt = Date.now();
    // Records released by their handlers may still be with the SMSC: answered and committed
    // before this member leaves, as at a rebalance (the old consumer's leave runs the hook too).
    await this.drainFor(reason, this.opts.drainMs + 15000);
    this.restartPending = false;
    try {
      await this.consumer.disconnect();
    } catch (err) {
      this.opts.logger.warn({ err }, 'consumer disconnect failed during restart');
    }
    if (this.stopping) return;
    this.consumer = this.create();
    try {
      await this.connectAndRun();
    } catch (err) {
      this.opts.logger.error({ err }, 'consumer restart failed');
      if (!this.stopping) this.scheduleRestart(`restart failed: ${(err as Error).message}`);
    }
  }

  /** Stop taking new records, let in-flight ones finish for up to `drainMs`, then abort them. */
  private startDrain(reason: string): void {
    if (this.draining) return;
    this.opts.logger.info({ reason, inFlightBatches: this.active.size, drainMs: this.opts.drainMs }, 'draining in-flight records');
    // Records not yet on the wire stop now (waiting for their key, a window slot, a retry, the
    // account gate): they stay uncommitted and the next owner sends them — nothing is sent twice.
    // Submits already on the wire finish (answer or response timeout) and publish their events.
    for (const c of this.active) c.abort(new AbortedByDrain(reason));
    this.settler.hurry();
    const timer = setTimeout(() => {
      if (this.active.size > 0) this.opts.logger.warn({ reason, inFlightBatches: this.active.size }, 'drain deadline passed with records in flight');
    }, this.opts.drainMs);
    this.draining = { until: Date.now() + this.opts.drainMs, timer };
  }

  private endDrain(): void {
    if (!this.draining || this.active.size > 0) return;
    clearTimeout(this.draining.timer);
    this.draining = null;
    if (!this.stopping) this.settler.calm();
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (this.restartPending) {
      // kafkajs fetches the batch again at once: no hot loop until the restart
      await new Promise((r) => setTimeout(r, 100));
      return;
    }
    if (this.stopping || this.draining) return;
    const partition = batch.partition;
    const controller = new AbortController();
    // Every record of the batch waits abortably (room for unacked, admission, gate, backoff) on
    // this one signal: that is up to three listeners per record by design, not a leak.
    setMaxListeners(3 * batch.messages.length + 10, controller.signal);
    this.active.add(controller);
    const tracker = this.offsetsOf(partition);
    // The ticker (heartbeats) starts BEFORE the correlation catch-up: after a broker restart the
    // catch-up can wait longer than a session timeout (the tail rejoining its own group), and
    // without heartbeats the coordinator dropped this member, costing a second rebalance and
    // ~30 s (fault F4).
    const ticker = this.startTicker(payload, tracker);
    const finish = async (): Promise<void> => {
      clearInterval(ticker.timer);
      await ticker.idle();
      this.active.delete(controller);
    };
    let outcome: BatchOutcome;
    try {
      outcome = await this.runBatch(payload, tracker, controller.signal);
    } catch (err) {
      await finish();
      this.endDrain();
      throw err;
    }
    if (outcome.kind === 'skipped') {
      // a rebalance or stop began during the catch-up: nothing ran, nothing to commit or resolve
      await finish();
      this.endDrain();
      return;
    }
    // Past the batch, always: every record is taken, and a record left undone (aborted by a drain,
    // or failed) is re-read from the committed offset after the rejoin, restart or stop that
    // follows every drain — the partition's tracker spans batches and takes offsets only
    // ascending, so no re-read within one generation.
    payload.resolveOffset(batch.lastOffset());
    this.opts.observer?.lag?.(partition, Number(batch.offsetLag()));
    if (outcome.kind === 'released') {
      // Its last records finish in the background; the handover hook waits for them before the
      // partitions can move.
      this.settler.settle(
        partition,
        outcome.done.then((r) => r.acked),
        () => this.commit(payload, tracker, true),
      );
      void outcome.done.then(async (r) => {
        await finish();
        this.restartIfFailed(partition, r, controller.signal);
        this.endDrain();
      });
      return;
    }
    await finish();
    const released = outcome.released;
    this.restartIfFailed(partition, released, controller.signal);
    if (!this.stopping && !this.draining) {
      this.settler.settle(partition, released.acked, () => this.commit(payload, tracker, true));
    } else {
      // earlier batches of the partition first: a commit must never pass their unacked records
      await this.settler.settled(partition);
      await this.commit(payload, tracker);
    }
    this.endDrain();
  }

  /**
   * Takes the batch's records, then either waits for them all (a drain under way, or too many
   * records unfinished) or releases the handler early (`released`: see the header).
   */
  private async runBatch(payload: EachBatchPayload, tracker: PartitionOffsets, signal: AbortSignal): Promise<BatchOutcome> {
    await this.prepare();
    if (this.stopping || this.draining) return { kind: 'skipped' };
    this.opts.observer?.consumed?.(payload.batch.topic, payload.batch.messages.length);
    const { done } = await this.takeRecords(payload, tracker, signal);
    if (await this.mayReleaseBefore(done, tracker)) return { kind: 'released', done };
    const released = await done;
    // A record stuck in an earlier, released batch (its route down, long retries) while the rest
    // of the partition flowed: wait for it, as every round used to, before taking more.
    if (tracker.takenPastCommit() > MAX_TAKEN_PAST_COMMIT) await this.settler.settled(payload.batch.partition);
    // A rebalance or stop already under way: keep the partition until the events are acked
    // and the offsets committed, as before the background settling existed.
    if (this.stopping || this.draining) await released.acked;
    return { kind: 'done', released };
  }

  /** True once few enough records are unfinished, before `done` — unless a drain began or the commit point lags far behind. */
  private async mayReleaseBefore(done: Promise<Released>, tracker: PartitionOffsets): Promise<boolean> {
    if (!this.releaseEarly || tracker.takenPastCommit() > MAX_TAKEN_PAST_COMMIT) return false;
    const mark = this.unfinished.whenAtMost(this.opts.maxRecordsInProgress);
    const first = await Promise.race([done.then(() => 'done' as const), mark.reached.then(() => 'mark' as const)]);
    mark.cancel();
    return first === 'mark' && !this.stopping && !this.draining;
  }

  /**
   * A record failed (not aborted): kafkajs already fetches past it, and later records of its key
   * must not overtake it. Nothing more is taken (`restartPending`), in-flight work drains, and the
   * consumer restarts (with backoff) from the committed offset, which the tracker keeps below the
   * failed record — the correlation index keeps what was submitted from being sent again.
   */
  private restartIfFailed(partition: number, released: Released, signal: AbortSignal): void {
    const offset = released.firstUnreleased;
    if (offset === null || signal.aborted || this.restartPending) return;
    this.restartPending = true;
    const reason = `a record of partition ${partition} failed at offset ${offset}`;
    this.opts.logger.error({ partition, offset: offset.toString() }, 'record failed: the partition is re-read after a consumer restart');
    this.startDrain(reason);
    this.scheduleRestart(reason);
  }

  private offsetsOf(partition: number): PartitionOffsets {
    let tracker = this.offsets.get(partition);
    if (!tracker) this.offsets.set(partition, (tracker = new PartitionOffsets()));
    return tracker;
  }

  private tailsOf(partition: number): Map<string, Promise<boolean>> {
    let tails = this.keyTails.get(partition);
    if (!tails) this.keyTails.set(partition, (tails = new Map<string, Promise<boolean>>()));
    return tails;
  }

  /**
   * Before the first batch of an assignment: our own earlier batches of its partitions settled
   * (a kept partition), the handover grace (the previous owner's last events, see the header),
   * then the correlation catch-up. Started at the join, not at each partition's first batch:
   * there, under load, the catch-up chased the correlation records this process had just written
   * and a fresh connector held its first records ~1 s (bench latency scenario, 2026-11-26); an
   * idle member is now ready before its first record arrives.
   */
  private prepare(): Promise<void> {
    if (this.preparing) return this.preparing;
    const partitions = this.settler.ownedPartitions();
    const preparing = (async () => {
      await Promise.all(partitions.map((p) => this.settler.settled(p)));
      await new Promise((r) => setTimeout(r, this.opts.handoverGraceMs ?? 250));
      if (!this.stopping) await this.opts.beforeFirstBatch?.();
    })();
    this.preparing = preparing;
    // a failed preparation is tried again by the next batch
    preparing.catch(() => {
      if (this.preparing === preparing) this.preparing = null;
    });
    return preparing;
  }

  /**
   * Takes every record of the batch (128 per loop turn) and resolves once all are taken, with the
   * promise of their end: done with the SMSC, failed or aborted.
   */
  private async takeRecords(payload: EachBatchPayload, tracker: PartitionOffsets, signal: AbortSignal): Promise<{ done: Promise<Released> }> {
    const { batch } = payload;
    const tails = this.tailsOf(batch.partition);
    const tasks: Promise<boolean>[] = [];
    const acks: Promise<void>[] = [];
    let firstUnreleased: bigint | null = null;
    const unreleased = (offset: string): false => {
      const o = BigInt(offset);
      if (firstUnreleased === null || o < firstUnreleased) firstUnreleased = o;
      return false;
    };
    const skipBelow = this.settler.skipBelow(batch.partition);
    let sinceYield = 0;
    for (const m of batch.messages) {
      if (++sinceYield > START_SLICE) {
        sinceYield = 0;
        await yieldToLoop();
      }
      // A record not started stays unreleased: a kept partition re-reads it.
      if (this.stopping || this.draining || signal.aborted) {
        unreleased(m.offset);
        break;
      }
      // Re-fetched after a rebalance that left us the partition: acked here, commit still pending.
      if (skipBelow !== undefined && BigInt(m.offset) < skipBelow) continue;
      tracker.track(m.offset);
      const record: InboundRecord = {
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        key: m.key,
        value: m.value,
        timestamp: m.timestamp,
        headers: plainHeaders(m.headers),
      };
      // Per-key order: a record starts only after the previous record of its key — in this
      // batch or an earlier one still in progress — was answered by the SMSC (its events are
      // queued in order behind the earlier ones).
      const key = m.key ? m.key.toString('latin1') : null;
      const previous = key === null ? undefined : tails.get(key);
      const seq = this.recordsTaken++;
      this.unfinished.add();
      const task = (async () => {
        if (previous && !(await previous)) return unreleased(m.offset);
        if (this.draining && signal.aborted) return unreleased(m.offset);
        try {
          await this.intake.acquire(seq, signal);
          try {
            await this.settler.roomForUnacked(signal);
            const { acked } = await this.opts.handler.process(record, signal);
            acks.push(
              this.settler.track(acked).then(
                () => tracker.finish(m.offset),
                (err: unknown) =>
                  this.opts.logger.warn({ err, partition: batch.partition, offset: m.offset }, 'events not acknowledged; the record stays uncommitted'),
              ),
            );
            return true;
          } finally {
            this.intake.release();
          }
        } catch (err) {
          if (!signal.aborted) this.opts.logger.error({ err, partition: batch.partition, offset: m.offset }, 'record failed; the partition will be re-read');
          return unreleased(m.offset);
        }
      })();
      void task.then(() => {
        this.unfinished.done();
        if (key !== null && tails.get(key) === task) tails.delete(key);
      });
      if (key !== null) tails.set(key, task);
      tasks.push(task);
    }
    const done = Promise.all(tasks).then(() => ({ acked: Promise.all(acks).then(() => undefined), firstUnreleased }));
    return { done };
  }

  private startTicker(payload: EachBatchPayload, tracker: PartitionOffsets) {
    let busy: Promise<void> = Promise.resolve();
    const tick = async () => {
      try {
        await payload.heartbeat();
      } catch (err) {
        const type = (err as { type?: string }).type;
        if (type === 'REBALANCE_IN_PROGRESS' || type === 'ILLEGAL_GENERATION' || type === 'UNKNOWN_MEMBER_ID') {
          this.startDrain('rebalance');
        }
      }
      await this.commit(payload, tracker);
    };
    // One tick at a time, and none queued behind a slow one: while the broker is down a tick
    // hangs in kafkajs' retries, and queued ticks would fire as a burst of stale heartbeats and
    // commits once it is back (seen in fault F4: ~140 failed OffsetCommits within a second).
    let running = false;
    const timer = setInterval(
      () => {
        if (running) return;
        running = true;
        busy = tick().finally(() => {
          running = false;
        });
      },
      Math.min(1000, this.opts.heartbeatIntervalMs),
    );
    return { timer, idle: () => busy };
  }

  /**
   * Commits up to the lowest unfinished record of this batch (contiguous), if it moved — unless
   * earlier batches of the partition are still settling in the background (`inOrder`: called by
   * that settling chain itself, after them).
   */
  private async commit(payload: EachBatchPayload, tracker: PartitionOffsets, inOrder = false): Promise<void> {
    const offset = tracker.committable();
    if (offset === null) return;
    const partition = payload.batch.partition;
    if (!inOrder && this.settler.hasPending(partition)) return;
    if (tracker.pendingCount() === 0) this.settler.noteDone(partition, BigInt(offset));
    try {
      await payload.commitOffsetsIfNecessary({
        topics: [{ topic: payload.batch.topic, partitions: [{ partition: payload.batch.partition, offset }] }],
      });
      tracker.markCommitted(offset);
    } catch (err) {
      // During a rebalance the commit can be refused; the records stay uncommitted and are
      // re-read by the next owner, which the correlation index keeps from re-sending.
      this.opts.logger.warn({ err: (err as Error).message, partition: payload.batch.partition, offset }, 'offset commit failed');
    }
  }

  /** This member's bind slots per route and the group's terms in the current generation (see assigner.ts for why describeGroup). */
  ownAssignment(memberId: string, firstRoute: string): Promise<{ routeSlots: Record<string, number[]>; terms: GroupTerms }> {
    return fetchOwnAssignment(this.consumer, memberId, firstRoute);
  }

  /** Graceful stop: no new records, drain in-flight (bounded), commit, leave the group. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.crashes.timer) clearTimeout(this.crashes.timer);
    this.startDrain('shutdown');
    await this.quiet(this.opts.drainMs + 15000);
    await this.consumer.disconnect();
    if (this.draining) clearTimeout(this.draining.timer);
  }

  /**
   * The handover hook: before this member joins again or leaves, what it still works on is
   * answered, acked and committed (or aborted before the wire), as a running batch handler used to
   * ensure. Bounded below the rebalance timeout (drainMs + 10 s, see `create`): a member that has
   * not sent JoinGroup by then is dropped from the group anyway.
   */
  private drainBeforeHandover(): Promise<void> {
    return this.drainFor('handover', this.opts.drainMs + 5000);
  }

  /** Drains what is in progress or settling (at most `maxMs`), then ends the drain. */
  private async drainFor(reason: string, maxMs: number): Promise<void> {
    if (this.active.size > 0 || this.settler.busy) {
      this.startDrain(reason);
      await this.quiet(maxMs);
    }
    this.endDrain();
  }

  /** Waits until no batch is in progress and nothing settles, at most `maxMs`. */
  private async quiet(maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    while ((this.active.size > 0 || this.settler.busy) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
}

/** How a batch handler ends: nothing ran, every record is done, or released with records still running. */
type BatchOutcome = { kind: 'skipped' } | { kind: 'done'; released: Released } | { kind: 'released'; done: Promise<Released> };

interface Released {
  /** Every started record's events acked (failures are logged; their offsets stay unfinished). */
  acked: Promise<void>;
  /** Lowest offset that failed or was aborted before the SMSC step: re-read from there. */
  firstUnreleased: bigint | null;
}

/** kafkajs headers may be arrays or undefined; the DLQ copy wants one value per name. */
function plainHeaders(headers: import('kafkajs').IHeaders | undefined): Record<string, Buffer | string> {
  const out: Record<string, Buffer | string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first;
  }
  return out;
}
