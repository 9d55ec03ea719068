import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckSettler } from '../../src/kafka/ack-settler.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('ack settler: a partition commits its batches in order, even when a later batch is acked first', async () => {
  const settler = new AckSettler(100);
  settler.assigned([0]);
  const commits: string[] = [];
  const first = deferred();
  const second = deferred();
  settler.settle(0, first.promise, async () => void commits.push('batch 1'));
  settler.settle(0, second.promise, async () => void commits.push('batch 2'));
  second.resolve();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(commits, [], 'batch 2 waits for batch 1');
  assert.ok(settler.hasPending(0));
  first.resolve();
  await settler.settled(0);
  assert.deepEqual(commits, ['batch 1', 'batch 2']);
  assert.equal(settler.busy, false);
});

test('ack settler: no commit for a partition that moved to another member meanwhile', async () => {
  const settler = new AckSettler(100);
  settler.assigned([0, 1]);
  const commits: number[] = [];
  const acked = deferred();
  settler.settle(0, acked.promise, async () => void commits.push(0));
  settler.settle(1, acked.promise, async () => void commits.push(1));
  settler.assigned([1]); // rebalance: partition 0 went elsewhere
  acked.resolve();
  await settler.settled(0);
  await settler.settled(1);
  assert.deepEqual(commits, [1]);
});

test('ack settler: at most maxUnacked records wait for acks; the next one goes when one settles; an abort ends the wait', async () => {
  const settler = new AckSettler(2);
  const a = deferred();
  const b = deferred();
  await settler.roomForUnacked(new AbortController().signal);
  void settler.track(a.promise);
  await settler.roomForUnacked(new AbortController().signal);
  void settler.track(b.promise);
  let admitted = false;
  const third = settler.roomForUnacked(new AbortController().signal).then(() => (admitted = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(admitted, false, 'two are waiting for acks: the third waits');
  a.resolve();
  await third;
  assert.equal(admitted, true);
  const aborter = new AbortController();
  void settler.track(new Promise(() => undefined)); // never acked: the limit is reached again
  const waiting = settler.roomForUnacked(aborter.signal);
  aborter.abort(new Error('drain'));
  await assert.rejects(waiting, /drain/);
});

test('ack settler: offsets done here are remembered only for partitions still assigned', () => {
  const settler = new AckSettler(10);
  settler.assigned([0, 1]);
  settler.noteDone(0, 42n);
  settler.noteDone(1, 7n);
  settler.noteDone(0, 40n);
  assert.equal(settler.skipBelow(0), 42n, 'never moves back');
  settler.assigned([0]);
  assert.equal(settler.skipBelow(1), undefined, 'a lost partition is forgotten');
  settler.noteDone(1, 9n);
  assert.equal(settler.skipBelow(1), undefined, 'nor noted while not ours');
});

test('ack settler: one commit per partition on its way; batches acked meanwhile leave it to the newest, whose commit covers them', async () => {
  const settler = new AckSettler(1_000);
  settler.assigned([0, 1]);
  const commits: string[] = [];
  const slow = deferred();
  settler.settle(0, Promise.resolve(), async () => {
    commits.push('p0 batch 1');
    await slow.promise; // the broker takes its time over the first commit
  });
  for (let i = 2; i <= 50; i++) settler.settle(0, Promise.resolve(), async () => void commits.push(`p0 batch ${i}`));
  settler.settle(1, Promise.resolve(), async () => void commits.push('p1 batch 1'));
  await settler.settled(1);
  await new Promise((r) => setImmediate(r)); // every batch of p0 is acked by now
  assert.deepEqual(commits, ['p0 batch 1', 'p1 batch 1'], 'another partition does not wait; p0 has one commit on its way');
  assert.ok(settler.busy, 'p0 batches 2–50 are not settled before their commit');
  slow.resolve();
  await settler.settled(0);
  assert.deepEqual(commits, ['p0 batch 1', 'p1 batch 1', 'p0 batch 50'], 'batches 2–49 are covered by the newest commit');
  assert.equal(settler.busy, false);
});

test('ack settler: a batch acked while a commit is on its way is committed after it, never skipped', async () => {
  const settler = new AckSettler(100);
  settler.assigned([0]);
  const commits: number[] = [];
  const slow = deferred();
  const late = deferred();
  settler.settle(0, Promise.resolve(), async () => {
    commits.push(1);
    await slow.promise;
  });
  settler.settle(0, late.promise, async () => void commits.push(2));
  await new Promise((r) => setImmediate(r));
  slow.resolve();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(commits, [1], 'batch 2 is not acked yet');
  late.resolve();
  await settler.settled(0);
  assert.deepEqual(commits, [1, 2]);
});

test('ack settler: a partition commits at most once per interval; a drain (hurry) sends the waiting commit at once', async () => {
  const settler = new AckSettler(100, 60_000);
  settler.assigned([0, 1]);
  const commits: string[] = [];
  settler.settle(0, Promise.resolve(), async () => void commits.push('p0 batch 1'));
  settler.settle(1, Promise.resolve(), async () => void commits.push('p1 batch 1'));
  await settler.settled(1);
  settler.settle(0, Promise.resolve(), async () => void commits.push('p0 batch 2'));
  settler.settle(0, Promise.resolve(), async () => void commits.push('p0 batch 3'));
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(commits, ['p0 batch 1', 'p1 batch 1'], 'p0 committed within the interval: the next commit waits');
  assert.ok(settler.busy);
  const started = Date.now();
  settler.hurry();
  await settler.settled(0);
  assert.ok(Date.now() - started < 5_000, 'not the 60 s interval');
  assert.deepEqual(commits, ['p0 batch 1', 'p1 batch 1', 'p0 batch 3']);
  assert.equal(settler.busy, false);
});

test('ack settler: the last batch of a burst is committed once the interval has passed, with nothing after it to carry it', async () => {
  const settler = new AckSettler(100, 150);
  settler.assigned([0]);
  const commits: { batch: number; at: number }[] = [];
  const started = Date.now();
  settler.settle(0, Promise.resolve(), async () => void commits.push({ batch: 1, at: Date.now() - started }));
  settler.settle(0, Promise.resolve(), async () => void commits.push({ batch: 2, at: Date.now() - started }));
  // not `settled`: waiting for the partition would send the commit at once
  while (commits.length < 2 && Date.now() - started < 5_000) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(
    commits.map((c) => c.batch),
    [1, 2],
  );
  assert.ok(commits[1]!.at >= 140, `batch 2 waited out the interval (${commits[1]!.at} ms)`);
  assert.ok(commits[1]!.at < 150 * 2 + 1000, `and not much longer (${commits[1]!.at} ms)`);
});

test('ack settler: waiting for a partition (settled) sends its commit at once instead of after the interval', async () => {
  const settler = new AckSettler(100, 60_000);
  settler.assigned([0]);
  const commits: number[] = [];
  settler.settle(0, Promise.resolve(), async () => void commits.push(1));
  settler.settle(0, Promise.resolve(), async () => void commits.push(2));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(commits, [1], 'batch 2 waits out the interval');
  const started = Date.now();
  await settler.settled(0);
  assert.ok(Date.now() - started < 5_000, 'not the 60 s interval');
  assert.deepEqual(commits, [1, 2]);
  settler.settle(0, Promise.resolve(), async () => void commits.push(3));
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(commits, [1, 2], 'once nobody waits, the interval applies again');
  settler.hurry();
  await settler.settled(0);
});
