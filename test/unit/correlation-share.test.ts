/**
 * CorrelationShare (issue 20, partitioned ownership): what a replica holds follows its bulk and
 * urgent assignments and the group's terms; which receipts it handles itself follows what it holds
 * and has read up to date.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { CorrelationShare, type ShareTail } from '../../src/app/correlation-share.js';
import type { PartitionState } from '../../src/kafka/tail-partitions.js';

class FakeTail implements ShareTail {
  readonly holds: Array<number[] | 'all'> = [];
  readonly asked: number[][] = [];
  held: ReadonlySet<number> | 'all' = 'all';
  readonly states = new Map<number, PartitionState>();
  /** Resolves the pending hold (a hold is async: a restore may run). */
  release: () => void = () => undefined;

  hold(partitions: Iterable<number> | 'all'): Promise<void> {
    this.held = partitions === 'all' ? 'all' : new Set(partitions);
    this.holds.push(partitions === 'all' ? 'all' : [...partitions].sort((a, b) => a - b));
    return new Promise((resolve) => (this.release = resolve));
  }
  holdsPartition(partition: number): boolean {
    return this.held === 'all' || this.held.has(partition);
  }
  heldPartitions(): number[] {
    return this.held === 'all' ? [] : [...this.held];
  }
  partitionState(partition: number): PartitionState {
    return this.states.get(partition) ?? 'cold';
  }
  async waitCaughtUp(_timeoutMs: number, partitions?: Iterable<number>): Promise<boolean> {
    this.asked.push([...(partitions ?? [])].sort((a, b) => a - b));
    return true;
  }
}

const PARTITIONS = 4;
/** Keys `k<digit>` hash to that partition. */
const partitionOfKey = (key: string): number => Number(key.at(-1)) % PARTITIONS || 0;

function share() {
  const tail = new FakeTail();
  const s = new CorrelationShare(tail, { partitions: PARTITIONS, partitionOfKey, catchUpMs: 1000, logger: pino({ level: 'silent' }) });
  return { tail, s };
}

test('it holds the bulk partitions and the homes of the urgent ones; every partition while a member cannot read forwarded receipts', () => {
  const { tail, s } = share();
  s.onBulkAssignment([1]);
  s.onUrgentAssignment([2, 6]); // homes 2 and 6 mod 4 = 2
  assert.deepEqual(tail.holds.at(-1), [1, 2], 'before the first terms: its own share');
  s.onTerms(false);
  assert.equal(tail.holds.at(-1), 'all', 'a member does not read forwarded receipts: everything, each handled where it arrives');
  s.onTerms(false);
  assert.equal(tail.holds.length, 3, 'the same terms again change nothing');
  s.onTerms(true);
  assert.deepEqual(tail.holds.at(-1), [1, 2]);
  s.onBulkAssignment([0, 3]);
  assert.deepEqual(tail.holds.at(-1), [0, 2, 3]);
});

test('it handles the receipts of its bulk partitions once they are read up to date; the others go to their owner, unless forwarding is off', () => {
  const { tail, s } = share();
  const own = s.ownership();
  s.onBulkAssignment([1, 2]);
  assert.equal(own.handlesMessage('k3'), true, 'before the terms say all read forwarded receipts: handled where received');
  s.onTerms(true);
  tail.states.set(1, 'ready');
  tail.states.set(2, 'restoring');
  assert.equal(own.handlesMessage('k1'), true, 'its own, ready');
  assert.equal(own.handlesMessage('k2'), false, 'its own, still restoring: to its receipts partition, read after the catch-up');
  assert.equal(own.handlesMessage('k3'), false, 'another replica’s');
  assert.deepEqual(own.homeOf({ id: 'r', home: 1 }), { partition: 1, here: true });
  assert.deepEqual(own.homeOf({ id: 'r', home: 2 }), { partition: 2, here: false }, 'a home of its own still restoring: through its receipts partition');
  assert.deepEqual(own.homeOf({ id: 'r', home: 3 }), { partition: 3, here: false });
  assert.equal(own.messagePartition('k3'), 3);
});

test('a consumer’s first batch waits for the latest hold, then for its own homes', async () => {
  const { tail, s } = share();
  s.onBulkAssignment([0, 1]);
  s.onUrgentAssignment([5]);
  const bulk = s.caughtUp('bulk');
  const urgent = s.caughtUp('urgent');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(tail.asked, [], 'not before the hold is applied');
  tail.release();
  assert.equal(await bulk, true);
  assert.equal(await urgent, true);
  assert.deepEqual(tail.asked, [[0, 1], [1]]);
});

test('the index keeps the partitions held and acts for those ready', () => {
  const { tail, s } = share();
  const scope = s.scope();
  s.onBulkAssignment([0]);
  tail.states.set(0, 'restoring');
  assert.equal(scope.holds(0), true);
  assert.equal(scope.holds(1), false);
  assert.equal(scope.actsFor(0), false, 'restoring: its finals may still be unread');
  tail.states.set(0, 'ready');
  assert.equal(scope.actsFor(0), true);
  s.onBulkAssignment([1]);
  assert.equal(scope.actsFor(0), false, 'out of the share at once, before the tail has released it');
  assert.equal(scope.holds(0), false);
});

test('local receipts share catch-ups of a partition: one asking while a catch-up runs joins the next, which starts after it asked', async () => {
  const tail = new FakeTail();
  let finish: (ok: boolean) => void = () => undefined;
  const started: number[] = [];
  tail.waitCaughtUp = async (_timeoutMs, partitions) => {
    started.push([...(partitions ?? [])][0]!);
    return new Promise<boolean>((resolve) => (finish = resolve));
  };
  const s = new CorrelationShare(tail, { partitions: PARTITIONS, partitionOfKey, catchUpMs: 1000, logger: pino({ level: 'silent' }) });
  const own = s.ownership();
  const first = own.caughtUp(1);
  await new Promise((r) => setImmediate(r));
  assert.equal(started.length, 1, 'the first starts at once');
  const second = own.caughtUp(1);
  const third = own.caughtUp(1);
  await new Promise((r) => setImmediate(r));
  assert.equal(started.length, 1, 'the others wait for the one under way to end');
  finish(true);
  assert.equal(await first, true);
  await new Promise((r) => setImmediate(r));
  assert.equal(started.length, 2, 'then one more, for both');
  finish(true);
  assert.deepEqual([await second, await third], [true, true]);
});

test('readiness: the partitions of its own share not read up to date yet — its bulk partitions and urgent homes, not the rest of what it holds, nor one the topic does not have', () => {
  const { tail, s } = share();
  assert.deepEqual(s.notReady(), [], 'nothing assigned: nothing to wait for (a hot standby)');
  s.onBulkAssignment([3, 1]);
  s.onUrgentAssignment([6]); // home 2
  tail.states.set(1, 'ready');
  tail.states.set(3, 'restoring');
  assert.deepEqual(s.notReady(), [2, 3], 'one restoring, one not gained yet');
  tail.states.set(2, 'ready');
  tail.states.set(3, 'ready');
  assert.deepEqual(s.notReady(), []);
  s.onTerms(false);
  assert.deepEqual(s.notReady(), [], 'holding all: partition 0 (outside its share, cold) does not make it not ready');
  s.onBulkAssignment([1, 5]);
  assert.deepEqual(s.notReady(), [], 'partition 5: the outbound topic grew past the correlation topic; never gained');
  s.onUrgentAssignment([]);
  tail.states.set(2, 'restoring');
  assert.deepEqual(s.notReady(), [], 'a home no longer its own');
});
