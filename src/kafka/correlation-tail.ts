/**
 * Tails the `sms.correlation` topic into the CorrelationIndex, so a receipt arriving on a replica
 * finds its request, and a replayed record finds what was already submitted. Today every replica
 * holds every partition (`hold('all')`, the default).
 *
 * The index's store keeps, per partition, the offset up to which it holds the topic (written with
 * each batch's entries, committed in order after them). A start on a store that has them seeks
 * there and reads only what was written since. An empty store (a new disk, a temporary directory)
 * is restored from the live-state topic first, then reads the topic from the watermark found
 * there (live-state-restore.ts); without a watermark, from the beginning.
 *
 * **Holding some partitions** (issue 20, step 6b; docs/plans/issue-20-correlation-state.md §2.6.3).
 * `hold(H)` sets the partitions this tail keeps; the others are paused: never fetched, never
 * decoded. Each partition moves cold → restoring → ready → released (tail-partitions.ts). A gained
 * partition resumes from its checkpoint when the store has a valid one, else is restored fresh:
 * the live-state topic is read whole (it is not laid out by partition yet: step 6a) keeping the
 * requests homed in the partition and the `m:` entries there of multipart requests homed
 * elsewhere (after dropping what the store kept of it), then the partition is read from the lowest
 * watermark of all partitions (`lowestWatermark`). A released partition's data stays in the store
 * for `keepReleasedMs`, then goes with its checkpoint (a scan of the store: no partition-leading keys).
 * `appliedThrough` and `waitCaughtUp` answer per partition, so a consumer can wait for its own.
 *
 * kafkajs has no manual partition assignment, so the tail is a consumer in a group of its own
 * (unique per process, never committing: where it resumes is the store's business). Its one member
 * is assigned every partition; pauses and seeks live in kafkajs' ConsumerGroup, which is rebuilt
 * when kafkajs restarts a crashed consumer, so both are applied again at every GROUP_JOIN.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { requestKey, type CorrelationIndex, type LiveRequestState } from '../pipeline/correlation-index.js';
import { nonEmptyEnds, retryUntil } from './client.js';
import { ORIGIN_HEADER, unpackCorrelation } from './correlation-bundle.js';
import { restoreLiveState, type RestoredWatermarks } from './live-state-restore.js';
import { partitionForKey } from './partitioner.js';
import { holdChanges, holds, named, planGain, TailPartitions, type Held, type PartitionState } from './tail-partitions.js';

/** How long start-up tries to read the topic's offsets to check the store's checkpoints against. */
const CHECKPOINT_CHECK_MS = 30_000;
/** How long after a gain's restore the tail still applies this process's own bundles (they may be dropped or missing). */
const OWN_REAPPLY_MS = 10_000;
/** How long before a failed gain is tried again. */
const GAIN_RETRY_MS = 5_000;
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
  /**
   * Called with each batch the tail is about to apply (of a partition it holds), before it applies
   * it. Tests count batches per partition with it; what it throws fails the batch as if applying
   * it had failed (kafkajs retries it, then restarts the consumer).
   */
  onBatch?: (partition: number, records: number) => void;
  /**
   * How long the store keeps the entries of a partition no longer held (partitioned ownership):
   * held again within this time, it resumes from its checkpoint; then its entries and checkpoint
   * are dropped, and a later gain restores it afresh. Unset: kept.
   */
  keepReleasedMs?: number;
  /**
   * Whether this process has written any correlation entry yet. Until it has, a gained partition
   * holds none of its own bundles to apply again (`gain`): a process's first assignment reads its
   * partitions without decoding and applying its own new writes a second time.
   */
  ownWritesYet?: () => boolean;
}

/** How the start found the store (or, per partition, how a gained partition was brought up to date). */
export type RestoreKind = 'checkpoints' | 'live-state' | 'beginning';

type TopicOffsets = Array<{ partition: number; high: string; low: string }>;

export class CorrelationTail {
  private readonly consumer: Consumer;
  private readonly topic: string;
  private readonly ownOrigin: string;
  /** Per partition: the next offset to apply; records below it are in the store already. */
  private readonly positions = new Map<number, bigint>();
  private readonly parts = new TailPartitions();
  private held: Held = 'all';
  /** The topic's partitions, as its offsets listed them last. */
  private partitionIds: number[] = [];
  /** hold() and the start run one at a time, in order. */
  private holdChain: Promise<void> = Promise.resolve();
  /** End offsets taken every LAG_PROBE_MS, oldest first, until every held partition has reached them. */
  private readonly lagProbes: Array<{ at: number; ends: Map<number, bigint> }> = [];
  private lagTimer: NodeJS.Timeout | null = null;
  /** Per partition: when the newest end offsets it has reached were taken. */
  private readonly reachedAt = new Map<number, number>();
  private readonly waiters = new Set<() => void>();
  private running = false;
  private started = false;
  /** Ends a live-state restore in progress when the tail stops. */
  private readonly aborter = new AbortController();
  /** Entries applied since start (own ones skipped): what a start-up catch-up cost. */
  appliedEntries = 0;
  /** `not yet`: the held partitions' ends were unreadable at start; they are gained once a retry reads them. */
  restoredFrom: RestoreKind | 'not yet' = 'beginning';
  /** Records read from the live-state topic (at start and for every partition restored fresh since). */
  liveRecords = 0;
  /** Batches applied per partition (a partition not held has none). */
  readonly batches = new Map<number, number>();
  /** Batches fetched for a partition not fetchable when they arrived (the race around pause and run), dropped. */
  ignoredBatches = 0;
  /** How each partition was brought up to date when it was last gained. */
  readonly gainedFrom = new Map<number, RestoreKind>();
  /** Crashes of the tail's consumer (kafkajs restarts it, with a new ConsumerGroup). */
  consumerCrashes = 0;
  /** Per partition: this process's own bundles written up to this time are applied when read (`gain`). */
  private readonly ownAppliedAfter = new Map<number, number>();
  /** Released partitions whose entries go when their timer fires (`keepReleasedMs`). */
  private readonly dropTimers = new Map<number, NodeJS.Timeout>();
  /** Partitions gained after the start and not read up to date yet: since when, and the entries read for them (`reportReady`). */
  private readonly gaining = new Map<number, { since: number; entries: number }>();

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

  /**
   * Sets the partitions this tail keeps: the rest are paused. Before `start`, what the start
   * restores; after it, gained partitions are brought up to date (checkpoint or fresh restore) and
   * released ones paused. Resolves once the gained partitions are being read from their start
   * point (not caught up: `waitCaughtUp(timeout, partitions)` for that). Calls run in order.
   */
  hold(partitions: Iterable<number> | 'all'): Promise<void> {
    const next: Held = partitions === 'all' ? 'all' : new Set(partitions);
    const run = this.holdChain.then(() => this.applyHold(next));
    this.holdChain = run.catch(() => undefined);
    return run;
  }

  /** The partitions held now, among the topic's. */
  heldPartitions(): number[] {
    return this.partitionIds.filter((p) => holds(this.held, p));
  }

  holdsPartition(partition: number): boolean {
    return holds(this.held, partition);
  }

  partitionState(partition: number): PartitionState {
    return this.parts.state(partition);
  }

  /** The partitions kafkajs has paused now (none before run() or between a crash and its restart). */
  pausedPartitions(): number[] {
    return this.consumer
      .paused()
      .filter((tp) => tp.topic === this.topic)
      .flatMap((tp) => tp.partitions)
      .sort((a, b) => a - b);
  }

  async start(): Promise<void> {
    const run = this.holdChain.then(() => this.startOnce());
    this.holdChain = run.catch(() => undefined);
    return run;
  }

  private async startOnce(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    this.running = true;
    // Before run(): GROUP_JOIN is emitted inside it, before the first fetch, and its listener runs
    // synchronously there. A rejoin (a broker restart, a session timeout) would refetch every
    // partition from its beginning, and a crash restart builds a new ConsumerGroup without our
    // pauses: both are applied again at every join.
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      this.applyPauses();
      this.seekToPositions();
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      this.consumerCrashes++;
      this.logger.warn({ err: payload.error.message, restart: payload.restart }, 'correlation tail consumer crashed');
    });
    const offsets = await this.endOffsets(Date.now() + CHECKPOINT_CHECK_MS);
    const storeHadCheckpoints = this.index.checkpoints(this.topic).size > 0;
    if (!offsets && storeHadCheckpoints && this.held === 'all')
      this.logger.warn({ topic: this.topic }, 'correlation topic offsets unavailable; reading it from the beginning');
    // Only the topic's partitions, when its offsets say which they are.
    const gained = this.held === 'all' ? this.partitionIds : [...this.held].filter((p) => !offsets || this.partitionIds.includes(p));
    // Partitions held by number whose ends are unknown (the offsets unreadable for
    // CHECKPOINT_CHECK_MS: an admin outage, or kafkajs' metadata right after the topic was
    // created) are gained once a retry reads them, as a later gain is: called read up to date at
    // once, they would let this replica vouch for, and answer receipts of, state it never read.
    const deferred = !offsets && this.held !== 'all' ? gained : [];
    // Holding everything with its partitions unknown: an empty store is still restored from the
    // live-state topic, as before partitions could be held — read from its beginning instead, it
    // would miss the waiting requests whose bundles retention removed.
    if (!offsets && this.held === 'all' && !storeHadCheckpoints && this.options.liveTopic) await this.restoreFresh('all', []);
    else if (deferred.length === 0) await this.gain(gained, offsets, true);
    if (!this.running) return;
    this.dropEarlierRunsPartitions();
    this.restoredFrom = deferred.length > 0 ? 'not yet' : this.restoredKind(storeHadCheckpoints && offsets !== null);
    await this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => {
        const partition = batch.partition;
        // Paused while its fetch was in flight, or fetched before the pauses were applied at run():
        // not ours (yet). kafkajs moves its own position past it; a gain seeks it back.
        if (!this.fetchable(partition)) {
          this.ignoredBatches++;
          return;
        }
        this.options.onBatch?.(partition, batch.messages.length);
        this.batches.set(partition, (this.batches.get(partition) ?? 0) + 1);
        // Below what the store holds already: a fetch that beat the start-up seek, or a refetch
        // from the beginning after the group rejoined (kafkajs forgets uncommitted positions on
        // every rejoin). Applied again, an old snapshot would bring back a request pruned since.
        const from = this.positions.get(partition) ?? 0n;
        const ownAfter = this.ownAppliedAfter.get(partition) ?? 0;
        for (const m of batch.messages) {
          if (BigInt(m.offset) < from) continue;
          const key = m.key?.toString('utf8');
          if (!key) continue;
          // Applied here when written, unless written while the partition was being gained (`gain`).
          const own = this.ownOrigin !== '' && m.headers?.[ORIGIN_HEADER]?.toString() === this.ownOrigin;
          const at = Number(m.timestamp);
          if (own && at > ownAfter) continue;
          const gaining = this.gaining.get(partition);
          try {
            for (const [entryKey, value] of unpackCorrelation(key, m.value)) {
              const entry = value as Parameters<CorrelationIndex['apply']>[1];
              if (own) this.index.applyOwnAgain(entryKey, entry, at);
              else this.index.apply(entryKey, entry, at);
              this.appliedEntries++;
              if (gaining) gaining.entries++;
              // Its own too, when read back after a gain: the receipt path's wait for another
              // replica's final (a multipart summary) may have begun before the gain dropped it.
              if (value) this.options.onRemoteEntry?.(entryKey);
            }
          } catch (err) {
            this.logger.warn({ err, partition, offset: m.offset }, 'skipping unreadable correlation record');
          }
        }
        const last = batch.messages.at(-1);
        const next = last ? BigInt(last.offset) + 1n : 0n;
        if (next <= (this.positions.get(partition) ?? 0n)) return;
        this.positions.set(partition, next);
        if (this.parts.advanced(partition, next)) this.reportReady(partition);
        this.wake();
        this.settleLagProbes();
        // After the batch's entries: the store commits in order, so the checkpoint never runs
        // ahead of what it holds. Awaited: a tail that outruns the disk would queue writes in heap.
        this.index.checkpoint(this.topic, partition, next.toString());
        await this.index.written();
      },
    });
    // Stopped while joining: the lag probes would ask the admin after it was disconnected.
    if (!this.running) return;
    // The join inside run() applied them already; again, in case it came before our listener did.
    this.applyPauses();
    this.seekToPositions();
    this.started = true;
    this.startLagProbes();
    if (deferred.length > 0) await this.gainOrRetry(deferred, null);
  }

  private async applyHold(next: Held): Promise<void> {
    if (!this.started) {
      // Before start (or after a failed one): the start gains what is held then.
      this.held = next;
      return;
    }
    if (!this.running) return;
    const offsets = await this.endOffsets(Date.now() + CHECKPOINT_CHECK_MS);
    if (!this.running) return;
    this.warnUnknown(next === 'all' ? [] : [...next]);
    // The topic's partitions unknown (its offsets unreadable since the start): those the holds name.
    const known = this.partitionIds.length > 0 ? this.partitionIds : [...new Set([...named(this.held), ...named(next)])].sort((a, b) => a - b);
    const { gain, release } = holdChanges(this.held, next, known);
    this.held = next;
    for (const p of release) {
      this.gaining.delete(p);
      // Never gained, or its gain failed (released, waiting to be tried again): nothing to release.
      if (this.parts.state(p) === 'cold' || this.parts.state(p) === 'released') continue;
      this.parts.release(p);
      this.reachedAt.delete(p);
    }
    this.applyPauses();
    this.wake();
    if (release.length > 0) {
      this.logger.info(
        { topic: this.topic, released: release, keptMs: this.options.keepReleasedMs ?? null },
        'correlation tail released partitions; their entries stay in the store for a while',
      );
      this.scheduleDrop(release);
    }
    if (gain.length > 0) await this.gainOrRetry(gain, offsets);
  }

  /**
   * A gain that fails (the live-state read or the admin failing) is tried again, not left
   * restoring until the next rebalance: until then nothing of it is applied, the consumer's first
   * batch gives up waiting, and the promoter, seeing the tail behind, writes nothing.
   */
  private async gainOrRetry(gained: number[], offsets: TopicOffsets | null): Promise<void> {
    try {
      await this.gain(gained, offsets, false);
      this.settleDeferredStart();
    } catch (err) {
      if (!this.running) return;
      this.logger.warn({ err, topic: this.topic, partitions: gained }, 'correlation tail could not gain partitions; trying again');
      for (const p of gained) if (this.parts.state(p) === 'restoring') this.parts.release(p);
      const timer = setTimeout(() => {
        const run = this.holdChain.then(async () => {
          const retried = gained.filter((p) => holds(this.held, p) && this.parts.state(p) === 'released');
          if (retried.length === 0 || !this.running) return;
          const offsets = await this.endOffsets(Date.now() + CHECKPOINT_CHECK_MS);
          // Held by a number the topic turns out not to have (its partitions were unknown at the
          // first try): never gained, as `applyHold` does — it would fail the others' gain each time.
          if (offsets) this.warnUnknown(retried);
          const again = offsets ? retried.filter((p) => this.partitionIds.includes(p)) : retried;
          if (again.length === 0 || !this.running) return;
          await this.gainOrRetry(again, offsets);
        });
        this.holdChain = run.catch(() => undefined);
      }, GAIN_RETRY_MS);
      timer.unref();
    }
  }

  private warnUnknown(partitions: readonly number[]): void {
    // Unknown only once the topic's partitions are: until its offsets are read, any number may be one.
    const unknown = this.partitionIds.length === 0 ? [] : partitions.filter((p) => !this.partitionIds.includes(p));
    if (unknown.length > 0)
      this.logger.warn(
        { topic: this.topic, unknown, partitions: this.partitionIds.length },
        'correlation tail told to hold partitions the topic does not have',
      );
  }

  /**
   * The first gain that succeeds after a start whose end offsets were unreadable: what the start
   * would have done had it known the topic's partitions — say where the store was restored from,
   * and drop what it holds of partitions an earlier run followed and this one does not hold.
   */
  private settleDeferredStart(): void {
    if (this.restoredFrom !== 'not yet' || this.partitionIds.length === 0) return;
    this.restoredFrom = this.restoredKind([...this.gainedFrom.values()].includes('checkpoints'));
    this.dropEarlierRunsPartitions();
  }

  /**
   * How the start says the store was brought up to date, as it did before partitions could be held:
   * `fromCheckpoints`, a store whose checkpoints were checked against the topic resumed from them
   * (those dropped or missing are read from their beginning).
   */
  private restoredKind(fromCheckpoints: boolean): RestoreKind {
    return fromCheckpoints ? 'checkpoints' : [...this.gainedFrom.values()].includes('live-state') ? 'live-state' : 'beginning';
  }

  /**
   * Partitions the store followed in an earlier run and this one does not hold — released then, or
   * left half dropped by a crash (their checkpoint went first): any never held in this run, when
   * the store has anything.
   */
  private dropEarlierRunsPartitions(): void {
    if (this.index.size > 0) this.scheduleDrop(this.partitionIds.filter((p) => !holds(this.held, p) && this.parts.state(p) === 'cold'));
  }

  /**
   * Brings `gained` up to date: each resumes from its checkpoint or is read from its beginning;
   * those without a usable checkpoint are restored from the live-state topic first, all in one
   * read. Then they are sought to their start point and fetched.
   */
  private async gain(gained: number[], offsets: TopicOffsets | null, atStart: boolean): Promise<void> {
    const since = performance.now();
    for (const p of gained) {
      // At start the start-up catch-up is reported as a whole (start.ts). A gain tried again after
      // a failure counts from the first try.
      if (atStart) this.gaining.delete(p);
      else this.gaining.set(p, { since: this.gaining.get(p)?.since ?? since, entries: 0 });
      this.parts.gain(p);
      this.reachedAt.delete(p);
      this.positions.delete(p);
    }
    this.applyPauses(); // paused while their start point is found
    const checkpoints = this.index.checkpoints(this.topic);
    const byPartition = new Map(offsets?.map((o) => [o.partition, o]));
    // A gain after the start must know where each partition ends: without it the partition would
    // count as read up to date at once (a target of 0) and its receipts and replays would find
    // nothing. It fails, to be tried again (gainOrRetry). At the start an unreadable topic is one
    // just created, read from its beginning (startOnce).
    const endUnknown = atStart ? [] : gained.filter((p) => !byPartition.has(p));
    if (endUnknown.length > 0) throw new Error(`the end offsets of ${this.topic} partitions ${endUnknown.join(', ')} could not be read`);
    const targets = new Map<number, bigint>();
    const fresh: number[] = [];
    const dropped: number[] = [];
    for (const p of gained) {
      const o = byPartition.get(p);
      targets.set(p, o ? BigInt(o.high) : 0n);
      const plan = planGain({
        checkpoint: checkpoints.get(p),
        offsets: o,
        storeEmpty: checkpoints.size === 0,
        liveTopic: this.options.liveTopic !== undefined,
        atStart,
      });
      if (plan.from !== 'checkpoints' && plan.dropCheckpoint) {
        this.index.dropCheckpoint(this.topic, p);
        dropped.push(p);
      }
      this.cancelDrop(p);
      if (plan.from === 'checkpoints') this.startAt(p, plan.offset, 'checkpoints');
      else if (plan.from === 'live-state') fresh.push(p);
      else this.startAt(p, o ? BigInt(o.low) : 0n, 'beginning');
    }
    await this.dropBeforeRestore(fresh);
    if (fresh.length > 0) await this.restoreFresh(fresh, offsets ?? []);
    if (!this.running) return;
    // Partitioned ownership: this process's own bundles written until a little after now are
    // applied again when read — the drop may have removed what it applied of them, and a write
    // made just before the hold took these partitions was not applied at all (not held then).
    // Never an older snapshot over a newer one (`applyOwnAgain`). A tail holding every partition
    // for good drops nothing and skips its own bundles, as it always did.
    // Nothing written before the gain (a process's first assignment: its consumers wait for this
    // catch-up, so its writes begin once these partitions are held): its later writes are applied
    // as they are made, and a fresh restore's drop came before them.
    if (this.options.keepReleasedMs !== undefined && (this.options.ownWritesYet?.() ?? true)) {
      const ownUntil = Date.now() + OWN_REAPPLY_MS;
      for (const p of gained) this.ownAppliedAfter.set(p, ownUntil);
    }
    for (const p of gained) if (this.parts.startFetching(p, targets.get(p)!, this.positions.get(p) ?? 0n)) this.reportReady(p);
    this.applyPauses();
    this.seekToPositions(gained);
    this.wake();
    this.settleLagProbes();
    const from = (kind: RestoreKind) => gained.filter((p) => this.gainedFrom.get(p) === kind);
    this.logger.info(
      {
        topic: this.topic,
        checkpoints: Object.fromEntries(from('checkpoints').map((p) => [p, this.positions.get(p)?.toString()])),
        liveState: from('live-state'),
        fromBeginning: from('beginning'),
        droppedCheckpoints: dropped,
      },
      atStart ? 'correlation tail starts' : 'correlation tail gained partitions',
    );
  }

  /**
   * A partition gained after the start is read up to date: how it was restored, what that read and
   * how long it took — what a rebalance, or a rescheduled pod's first assignment, cost here.
   */
  private reportReady(partition: number): void {
    const gaining = this.gaining.get(partition);
    if (!gaining) return;
    this.gaining.delete(partition);
    const seconds = Number(((performance.now() - gaining.since) / 1000).toFixed(2));
    this.logger.info(
      { topic: this.topic, partition, from: this.gainedFrom.get(partition), entries: gaining.entries, seconds },
      'correlation partition read up to date',
    );
  }

  /** A released partition's entries go after `keepReleasedMs`, unless it is held again by then. */
  private scheduleDrop(partitions: readonly number[]): void {
    const keepMs = this.options.keepReleasedMs;
    if (keepMs === undefined) return;
    for (const p of partitions) {
      this.cancelDrop(p);
      const timer = setTimeout(() => {
        this.dropTimers.delete(p);
        const run = this.holdChain.then(() => this.dropNotHeld([p]));
        this.holdChain = run.catch((err: unknown) => this.logger.warn({ err, partition: p }, 'dropping a released correlation partition failed'));
      }, keepMs);
      timer.unref();
      this.dropTimers.set(p, timer);
    }
  }

  private cancelDrop(partition: number): void {
    clearTimeout(this.dropTimers.get(partition));
    this.dropTimers.delete(partition);
  }

  /**
   * Drops what the store holds of partitions not held now (another replica owns them), and their
   * checkpoints first: a crash halfway leaves entries without a checkpoint, which the next gain
   * drops before its restore (`dropBeforeRestore`).
   */
  private async dropNotHeld(partitions: readonly number[]): Promise<void> {
    const which = partitions.filter((p) => !holds(this.held, p));
    if (which.length === 0 || !this.running) return;
    for (const p of which) this.index.dropCheckpoint(this.topic, p);
    const dropped = await this.dropEntries(which);
    this.logger.info({ topic: this.topic, partitions: which, dropped }, 'correlation store dropped the entries of partitions another replica holds');
  }

  /**
   * Partitions restored from the live-state topic start from an empty share: whatever the store kept of them (held before, or by a run before this one) could
   * otherwise outlive a completion the restore does not read again and be summarised UNKNOWN.
   */
  private async dropBeforeRestore(partitions: readonly number[]): Promise<void> {
    if (partitions.length === 0 || this.index.size === 0) return;
    const dropped = await this.dropEntries(partitions);
    if (dropped > 0) this.logger.info({ topic: this.topic, partitions, dropped }, 'correlation store dropped what it kept of partitions it restores afresh');
  }

  private dropEntries(partitions: readonly number[]): Promise<number> {
    return this.index.dropPartitions(partitions, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      if (!this.running) throw new Error('correlation tail stopped');
    });
  }

  private startAt(partition: number, offset: bigint, kind: RestoreKind): void {
    this.positions.set(partition, offset);
    this.gainedFrom.set(partition, kind);
  }

  /**
   * Partitions without a usable checkpoint: the live-state topic's requests of these partitions,
   * then each partition from its watermark found there (`startFromWatermarks`).
   *
   * Until step 6a lays the live-state topic out by partition, this reads all of it and restores
   * what of each request lives in `fresh` (`freshRestorer`): the requests homed there, with their
   * finals and marker — all of them in that partition since requests have homes; a request written
   * before homes has its finals and marker where their own keys hash, and those of another
   * partition are not restored here — and the `m:` entries there of multipart requests homed
   * elsewhere.
   * `'all'` (at start, when the topic's offsets could not be read): every partition, whichever the
   * offsets by time name. What the store kept of `fresh` partitions was dropped before (`dropBeforeRestore`).
   */
  private async restoreFresh(freshOrAll: number[] | 'all', offsets: TopicOffsets): Promise<void> {
    const count = offsets.length;
    const all = freshOrAll === 'all' || count === 0 || freshOrAll.length >= count;
    const restored = await restoreLiveState(this.kafka, this.admin, this.options.liveTopic!, this.index, this.options.groupPrefix, this.logger, {
      ...(all ? {} : { restore: this.freshRestorer(new Set(freshOrAll), count) }),
      signal: this.aborter.signal,
    });
    this.liveRecords += restored.records;
    // Asked once per time: at start without offsets the time that lists the partitions is usually the one they start at.
    const asked = new Map<number, Promise<Map<number, string> | null>>();
    const offsetsAt = (at: number) => asked.get(at) ?? asked.set(at, this.offsetsAt(at)).get(at)!;
    let fresh: number[];
    if (freshOrAll !== 'all') fresh = freshOrAll;
    else {
      // The topic's partitions are unknown here: any answer by time lists them. No watermark at
      // all (or no answer): the consumer reads every partition from its beginning.
      const any = restored.watermarks.anyWatermark();
      const listed = any === null || !this.running ? null : await offsetsAt(any);
      if (any !== null && !listed) this.logger.warn({ topic: this.topic }, 'correlation topic offsets by time unavailable; reading it from the beginning');
      fresh = listed ? [...listed.keys()] : [];
    }
    const low = new Map(offsets.map((o) => [o.partition, BigInt(o.low)]));
    const from = await this.startFromWatermarks(fresh, restored.watermarks, low, offsetsAt);
    if (!this.running) return;
    this.logger.info(
      {
        topic: this.topic,
        liveRecords: restored.records,
        from: isoOrNull(from),
        offsets: Object.fromEntries(fresh.map((p) => [p, this.positions.get(p)?.toString()])),
      },
      'correlation store restored from the live-state topic; reading the partitions from the lowest watermark',
    );
  }

  /**
   * Each of `fresh` starts at the offset for the lowest watermark of the topic's partitions
   * (`lowestWatermark`; each partition's own is the higher of its `w:<k>` and the shared `h:`):
   * every change written before that time is in the live-state topic. Those start points are
   * checkpointed now: a partition that gets no record would have no checkpoint, and the next start
   * would read it from its beginning. Without a watermark, or without an answer by time: its
   * beginning (`low`). Returns the watermark used.
   */
  private async startFromWatermarks(
    fresh: number[],
    watermarks: RestoredWatermarks,
    low: ReadonlyMap<number, bigint>,
    offsetsAt: (at: number) => Promise<Map<number, string> | null>,
  ): Promise<number | null> {
    const watermark = lowestWatermark(watermarks, this.partitionIds.length > 0 ? this.partitionIds : fresh);
    const at = watermark === null || !this.running ? null : await offsetsAt(watermark);
    for (const p of fresh) {
      const offset = at?.get(p);
      if (offset === undefined) this.startAt(p, low.get(p) ?? 0n, 'beginning');
      else {
        this.startAt(p, BigInt(offset), 'live-state');
        this.index.checkpoint(this.topic, p, offset);
      }
    }
    if (watermark !== null && !at && this.running)
      this.logger.warn({ topic: this.topic, partitions: fresh }, 'correlation topic offsets by time unavailable; reading the partitions from the beginning');
    await this.index.written();
    return watermark;
  }

  /** `fetchTopicOffsetsByTimestamp`, retried while the tail runs: partition → offset, or null when it never answered. */
  private offsetsAt(at: number): Promise<Map<number, string> | null> {
    return retryUntil(
      Date.now() + CHECKPOINT_CHECK_MS,
      () => this.admin.fetchTopicOffsetsByTimestamp(this.topic, at),
      () => this.running,
    ).then(
      (found) => new Map(found.map((o) => [o.partition, o.offset])),
      () => null,
    );
  }

  /**
   * How a partial fresh restore applies each live-state record: a request homed in a fresh
   * partition whole (`restoreLive`); a multipart one homed elsewhere as the `m:` entries of its
   * waiting segments whose ids hash into a fresh partition (the owner of that partition must find
   * the home: `restoreMessageEntries`); anything else skipped. The entries derived are remembered
   * for this restore, so a later state or tombstone of their request replaces or drops them.
   */
  private freshRestorer(fresh: ReadonlySet<number>, count: number): (id: string, state: LiveRequestState | null) => void {
    const derived = new Map<string, string[]>();
    const freshPartitionOf = (correlationId: string): number | undefined => {
      const q = partitionForKey(correlationId, count);
      return fresh.has(q) ? q : undefined;
    };
    return (id, state) => {
      const earlier = derived.get(id);
      if (earlier) {
        this.index.forgetMessageEntries(id, earlier);
        derived.delete(id);
      }
      if (fresh.has(this.homeOfLive(id, state, count))) this.index.restoreLive(id, state);
      else if (state) {
        const entries = this.index.restoreMessageEntries(id, state, freshPartitionOf);
        if (entries.length > 0) derived.set(id, entries);
      }
    };
  }

  /**
   * The partition a live request's entries live in: its home (a one-segment request's state: its
   * subject's partition), or (written before homes) where its `r:` key hashes. A tombstone names
   * no home: it goes with the request or subject it removes, if this store holds it (-1: skipped,
   * nothing to remove).
   */
  private homeOfLive(id: string, state: LiveRequestState | null, count: number): number {
    if (state) return state.request.home ?? partitionForKey(requestKey(id), count);
    const home = this.index.liveHome(id);
    if (home !== undefined) return home;
    return this.index.request(id) ? partitionForKey(requestKey(id), count) : -1;
  }

  private fetchable(partition: number): boolean {
    return holds(this.held, partition) && this.parts.fetchable(partition, this.held === 'all');
  }

  /**
   * Pauses every partition not fetchable now and resumes the others. Calls kafkajs only: without
   * its ConsumerGroup (before run(), or between a crash and its restart) nothing is done here, and
   * the next GROUP_JOIN applies it.
   */
  private applyPauses(): void {
    if (!this.running) return;
    const topic = this.topic;
    try {
      if (this.held === 'all') {
        this.consumer.resume([{ topic }]);
        const stopped = this.parts.known().filter((p) => !this.fetchable(p));
        if (stopped.length > 0) this.consumer.pause([{ topic, partitions: stopped }]);
      } else {
        // Everything paused, the fetchable ones excepted: a partition the topic gains later stays paused.
        this.consumer.pause([{ topic }]);
        const go = [...this.held].filter((p) => this.fetchable(p));
        if (go.length > 0) this.consumer.resume([{ topic, partitions: go }]);
      }
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'correlation tail pauses not applied now; the next group join applies them');
    }
  }

  private seekToPositions(only?: number[]): void {
    if (!this.running) return;
    try {
      for (const [partition, offset] of this.positions) {
        if (only && !only.includes(partition)) continue;
        if (this.fetchable(partition)) this.consumer.seek({ topic: this.topic, partition, offset: offset.toString() });
      }
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'correlation tail seeks not applied now; the next group join applies them');
    }
  }

  private wake(): void {
    for (const wake of this.waiters) wake();
  }

  /**
   * A time up to which every record of `partitions` (default: every partition held) is applied:
   * when the newest end offsets they have all reached were taken (within LAG_PROBE_MS of now while
   * the tail keeps up). 0 until they first caught up (a partition gained since counts from its gain).
   */
  appliedThrough(partitions?: Iterable<number>): number {
    const which = partitions ? [...partitions] : this.heldPartitions();
    // Holding no partition (a standby): nothing to be behind on. Holding all, none known yet: unknown.
    if (which.length === 0) return this.held === 'all' ? 0 : Date.now();
    return Math.min(...which.map((p) => this.reachedAt.get(p) ?? 0));
  }

  private startLagProbes(): void {
    if (!this.running) return;
    this.lagTimer = setInterval(() => {
      const at = Date.now();
      void this.admin
        .fetchTopicOffsets(this.topic)
        .then((offsets) => {
          // Offsets unavailable at start (every partition read as it comes): learnt here.
          if (this.partitionIds.length === 0) this.partitionIds = offsets.map((o) => o.partition).sort((a, b) => a - b);
          this.lagProbes.push({ at, ends: nonEmptyEnds(offsets) });
          this.settleLagProbes();
        })
        .catch(() => undefined); // the next probe tries again; meanwhile the lag grows
    }, LAG_PROBE_MS);
    this.lagTimer.unref();
  }

  /** A partition has reached `end` (an empty partition's: anything) and is being read. */
  private reached(partition: number, end: bigint | undefined): boolean {
    return this.fetchable(partition) && (this.positions.get(partition) ?? 0n) >= (end ?? 0n);
  }

  private settleLagProbes(): void {
    const held = this.heldPartitions();
    for (const probe of this.lagProbes) {
      for (const p of held) if (this.reached(p, probe.ends.get(p))) this.reachedAt.set(p, Math.max(this.reachedAt.get(p) ?? 0, probe.at));
    }
    while (this.lagProbes.length > 0 && held.every((p) => this.reached(p, this.lagProbes[0]!.ends.get(p)))) this.lagProbes.shift();
    // A tail far behind would pile probes up: the oldest unreached one is what counts.
    if (this.lagProbes.length > 100) this.lagProbes.splice(1, this.lagProbes.length - 100);
  }

  /**
   * Resolves once everything written to `partitions` (default: every partition held) before this
   * call has been applied (or after `timeoutMs`, returning false; at once for a partition not
   * held). Called before a newly assigned partition is processed, so a record another replica
   * submitted just before a crash is recognised and not sent again. A partition being restored
   * counts once its restore is done and it has read up to those offsets.
   */
  async waitCaughtUp(timeoutMs = 30000, partitions?: Iterable<number>): Promise<boolean> {
    // after stop: asking the admin would open a new connection that nothing closes
    if (!this.running) return false;
    const asked = Date.now();
    const named = partitions ? [...new Set(partitions)] : undefined;
    const notHeld = named?.filter((p) => !holds(this.held, p)) ?? [];
    if (notHeld.length > 0) {
      this.logger.warn({ topic: this.topic, partitions: notHeld }, 'correlation tail asked to catch up on partitions it does not hold');
      return false;
    }
    const deadline = asked + timeoutMs;
    const offsets = await this.endOffsets(deadline);
    if (!offsets) {
      this.logger.warn({ topic: this.topic }, 'correlation topic offsets unavailable; continuing without the catch-up');
      return false;
    }
    const ends = nonEmptyEnds(offsets);
    // Unnamed: the held partitions among the topic's, and any other the tail reads (holding all of a grown topic).
    const which = named ?? [...new Set([...this.heldPartitions(), ...[...ends.keys()].filter((p) => holds(this.held, p))])];
    const done = (): boolean | undefined => {
      if (which.some((p) => !holds(this.held, p))) return false; // released meanwhile
      if (!which.every((p) => this.reached(p, ends.get(p)))) return undefined;
      for (const p of which) this.reachedAt.set(p, Math.max(this.reachedAt.get(p) ?? 0, asked));
      return true;
    };
    const now = done();
    if (now !== undefined) return now;
    return new Promise((resolve) => {
      const check = () => {
        const result = done();
        if (result !== undefined) finish(result);
      };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (!ok) this.logger.warn({ topic: this.topic, partitions: named }, 'correlation tail did not catch up in time; continuing');
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
   * the consumer group member. null when it never worked. Remembers the topic's partitions.
   */
  private async endOffsets(deadline: number): Promise<TopicOffsets | null> {
    const retriable = (err: unknown): boolean => {
      this.logger.debug({ err: (err as Error).message }, 'correlation topic offsets not available yet; retrying');
      return this.running;
    };
    const offsets = await retryUntil(deadline, () => this.admin.fetchTopicOffsets(this.topic), retriable).catch(() => null);
    if (offsets && offsets.length > 0) this.partitionIds = offsets.map((o) => o.partition).sort((a, b) => a - b);
    return offsets;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.aborter.abort();
    if (this.lagTimer) clearInterval(this.lagTimer);
    for (const timer of this.dropTimers.values()) clearTimeout(timer);
    this.wake();
    await this.holdChain; // a restore in progress ends (aborted) and disconnects its consumer
    await this.consumer.disconnect();
  }
}

/**
 * Where a partition restored fresh is read from: the lowest watermark of every partition, not its
 * own. A partition holds the `m:` entries of multipart requests homed in any partition, and those
 * entries reach the live-state topic only inside their request's state, which the home's holder
 * promotes (and vouches for with its own `w:`): a lagging or unowned home keeps its watermark back,
 * and with it where every partition must be read from. Null (the beginning) while any partition
 * has none.
 */
function lowestWatermark(watermarks: RestoredWatermarks, partitions: readonly number[]): number | null {
  let lowest: number | null = null;
  for (const p of partitions) {
    const mark = watermarks.watermarkOf(p);
    if (mark === null) return null;
    lowest = lowest === null ? mark : Math.min(lowest, mark);
  }
  return lowest;
}

const isoOrNull = (at: number | null): string | null => (at === null ? null : new Date(at).toISOString());
