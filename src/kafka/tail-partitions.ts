/**
 * What the correlation tail does with each partition of its topic, kept pure so that it can be
 * tested without Kafka (issue 20, step 6b; docs/plans/issue-20-correlation-state.md §2.6.3).
 *
 * A partition is
 *  - `cold`: never held by this tail;
 *  - `restoring`: held, and being brought up to date. First paused while its start point is found
 *    (a checkpoint checked against the topic, or a restore from the live-state topic), then
 *    `fetching` from that point until it reaches the end offset taken when it was gained;
 *  - `ready`: held and caught up once (it keeps being read);
 *  - `released`: no longer held: paused, never fetched. Its data stays in the store: dropping it
 *    needs partition-leading keys (the plan's step 5b).
 */

export type PartitionState = 'cold' | 'restoring' | 'ready' | 'released';

/** The transitions allowed; anything else is a bug in the caller. */
const NEXT: Record<PartitionState, readonly PartitionState[]> = {
  cold: ['restoring'],
  restoring: ['ready', 'released'],
  ready: ['released'],
  released: ['restoring'],
};

interface Entry {
  state: PartitionState;
  /** restoring: its start point is known and it is being fetched (else paused). */
  fetching: boolean;
  /** restoring: the end offset taken when it was gained; `ready` once the tail's position reaches it. */
  target: bigint;
}

export class TailPartitions {
  private readonly entries = new Map<number, Entry>();

  state(partition: number): PartitionState {
    return this.entries.get(partition)?.state ?? 'cold';
  }

  /** Every partition this tail has held at some point, in order. */
  known(): number[] {
    return [...this.entries.keys()].sort((a, b) => a - b);
  }

  /** A partition gained (cold or released): restoring, paused until `startFetching`. */
  gain(partition: number): void {
    this.move(partition, 'restoring');
    const e = this.entries.get(partition)!;
    e.fetching = false;
    e.target = 0n;
  }

  /**
   * Its start point is set: fetch it until `position` reaches `target` (the end offset taken at the
   * gain). Returns true when it is ready at once (nothing to read).
   */
  startFetching(partition: number, target: bigint, position: bigint): boolean {
    const e = this.entries.get(partition);
    if (e?.state !== 'restoring') throw new Error(`partition ${partition} is ${e?.state ?? 'cold'}, not restoring`);
    e.fetching = true;
    e.target = target;
    return this.advanced(partition, position);
  }

  /** The tail has applied the partition up to `position` (exclusive); true when that made it ready. */
  advanced(partition: number, position: bigint): boolean {
    const e = this.entries.get(partition);
    if (e?.state !== 'restoring' || !e.fetching || position < e.target) return false;
    this.move(partition, 'ready');
    return true;
  }

  release(partition: number): void {
    this.move(partition, 'released');
    this.entries.get(partition)!.fetching = false;
  }

  /**
   * Whether the tail may fetch and apply the partition now. `all`: the tail holds every partition,
   * and one it never gained (the topic grew, or its offsets were unavailable at start) is read as
   * the tail always read: from wherever the consumer is.
   */
  fetchable(partition: number, all: boolean): boolean {
    const e = this.entries.get(partition);
    if (!e) return all;
    return e.state === 'ready' || (e.state === 'restoring' && e.fetching);
  }

  private move(partition: number, to: PartitionState): void {
    const from = this.state(partition);
    if (!NEXT[from].includes(to)) throw new Error(`partition ${partition}: ${from} → ${to} is not a transition`);
    const e = this.entries.get(partition);
    if (e) e.state = to;
    else this.entries.set(partition, { state: to, fetching: false, target: 0n });
  }
}

/** What the tail holds: some partitions, or all of them (what every replica holds today). */
export type Held = ReadonlySet<number> | 'all';

export const holds = (held: Held, partition: number): boolean => held === 'all' || held.has(partition);

/** The partitions a hold names (none for `all`). */
export const named = (held: Held): number[] => (held === 'all' ? [] : [...held]);

/**
 * The partitions a change of the held set gains and releases, among `partitions` (the topic's).
 * A partition named but not in the topic is neither.
 */
export function holdChanges(before: Held, after: Held, partitions: readonly number[]): { gain: number[]; release: number[] } {
  return {
    gain: partitions.filter((p) => holds(after, p) && !holds(before, p)),
    release: partitions.filter((p) => holds(before, p) && !holds(after, p)),
  };
}

/** Where a gained partition starts: what the store has for it, and what the topic says. */
export interface GainFacts {
  /** The store's checkpoint for the partition (the next offset to read), if any. */
  checkpoint?: string | undefined;
  /** The partition's first and end offsets, when they could be had. */
  offsets?: { low: string; high: string } | undefined;
  /** The store holds no checkpoint for any partition of the topic (a new disk, a temporary directory). */
  storeEmpty: boolean;
  /** A live-state topic to restore from is configured. */
  liveTopic: boolean;
  /** The tail's start, not a partition gained later. */
  atStart: boolean;
}

export type GainPlan =
  { from: 'checkpoints'; offset: bigint } | { from: 'live-state'; dropCheckpoint: boolean } | { from: 'beginning'; dropCheckpoint: boolean };

/**
 * How a gained partition is brought up to date.
 *
 * - A checkpoint within the partition's offsets: resume there (the store holds everything before).
 *   One past the end (the topic was recreated) or before the start (retention removed records the
 *   store never saw) is dropped. Without the offsets it cannot be checked: the partition is read from
 *   its beginning and the checkpoint kept (as the tail always did).
 * - No usable checkpoint: a restore from the live-state topic, then the partition from the
 *   watermark — at start only when the whole store is empty, as before; a store with checkpoints
 *   for other partitions reads the rest from their beginning there (unchanged behaviour). A partition
 *   gained later is restored from the live state whenever there is one.
 */
export function planGain(f: GainFacts): GainPlan {
  let dropCheckpoint = false;
  if (f.checkpoint !== undefined) {
    if (!f.offsets) return { from: 'beginning', dropCheckpoint: false };
    const at = BigInt(f.checkpoint);
    if (at >= BigInt(f.offsets.low) && at <= BigInt(f.offsets.high)) return { from: 'checkpoints', offset: at };
    dropCheckpoint = true;
  }
  const live = f.liveTopic && (f.atStart ? f.storeEmpty : f.offsets !== undefined);
  return live ? { from: 'live-state', dropCheckpoint } : { from: 'beginning', dropCheckpoint };
}
