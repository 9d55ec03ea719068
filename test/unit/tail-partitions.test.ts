// The correlation tail's per-partition bookkeeping (issue 20, step 6b): which partitions a change of
// the held set gains and releases, how a gained partition starts, and the state machine.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { holdChanges, holds, planGain, TailPartitions, type Held } from '../../src/kafka/tail-partitions.js';

describe('tail partitions: the state machine', () => {
  test('cold → restoring (paused) → fetching → ready at the target → released → restoring again', () => {
    const t = new TailPartitions();
    assert.equal(t.state(2), 'cold');
    assert.equal(t.fetchable(2, false), false, 'a cold partition of a tail holding some is not fetched');
    assert.equal(t.fetchable(2, true), true, 'a partition a tail holding all never gained is read as always');
    t.gain(2);
    assert.equal(t.state(2), 'restoring');
    assert.equal(t.fetchable(2, true), false, 'paused while its start point is found');
    assert.equal(t.startFetching(2, 100n, 40n), false);
    assert.equal(t.fetchable(2, false), true);
    assert.equal(t.advanced(2, 99n), false);
    assert.equal(t.state(2), 'restoring');
    assert.equal(t.advanced(2, 100n), true);
    assert.equal(t.state(2), 'ready');
    assert.equal(t.advanced(2, 200n), false, 'ready once');
    t.release(2);
    assert.equal(t.state(2), 'released');
    assert.equal(t.fetchable(2, false), false);
    t.gain(2);
    assert.equal(t.state(2), 'restoring');
    assert.equal(t.startFetching(2, 10n, 10n), true, 'nothing to read: ready at once');
    assert.deepEqual(t.known(), [2]);
  });

  test('a partition released while restoring stops; transitions out of order are refused', () => {
    const t = new TailPartitions();
    assert.throws(() => t.release(0), /cold → released/);
    assert.throws(() => t.startFetching(0, 1n, 0n), /not restoring/);
    t.gain(0);
    assert.throws(() => t.gain(0), /restoring → restoring/);
    t.release(0);
    assert.equal(t.fetchable(0, true), false);
    assert.throws(() => t.startFetching(0, 1n, 0n), /not restoring/);
    assert.equal(t.advanced(0, 5n), false);
  });
});

describe('tail partitions: hold changes', () => {
  const arbHeld: fc.Arbitrary<Held> = fc.oneof(
    fc.constant('all' as const),
    fc.uniqueArray(fc.integer({ min: 0, max: 9 })).map((a) => new Set(a)),
  );

  test('gains are held after and not before, releases the reverse, only among the topic’s partitions', () => {
    fc.assert(
      fc.property(arbHeld, arbHeld, fc.integer({ min: 1, max: 8 }), (before, after, count) => {
        const partitions = Array.from({ length: count }, (_, i) => i);
        const { gain, release } = holdChanges(before, after, partitions);
        for (const p of partitions) {
          assert.equal(gain.includes(p), holds(after, p) && !holds(before, p));
          assert.equal(release.includes(p), holds(before, p) && !holds(after, p));
        }
        assert.ok([...gain, ...release].every((p) => p < count));
      }),
    );
  });

  test('all → one of four releases the other three; back to all gains them', () => {
    const ps = [0, 1, 2, 3];
    assert.deepEqual(holdChanges('all', new Set([1]), ps), { gain: [], release: [0, 2, 3] });
    assert.deepEqual(holdChanges(new Set([1]), 'all', ps), { gain: [0, 2, 3], release: [] });
    assert.deepEqual(holdChanges(new Set([1]), new Set([1, 3, 7]), ps), { gain: [3], release: [] });
  });
});

describe('tail partitions: how a gained partition starts', () => {
  const offsets = { low: '10', high: '50' };
  const base = { offsets, storeEmpty: false, liveTopic: true, atStart: false };

  test('a checkpoint within the partition resumes there, bounds included', () => {
    assert.deepEqual(planGain({ ...base, checkpoint: '10' }), { from: 'checkpoints', offset: 10n });
    assert.deepEqual(planGain({ ...base, checkpoint: '50' }), { from: 'checkpoints', offset: 50n });
    assert.deepEqual(planGain({ ...base, checkpoint: '30', atStart: true }), { from: 'checkpoints', offset: 30n });
  });

  test('a checkpoint outside the partition is dropped: later gains restore fresh, the start reads the partition from its beginning (as before)', () => {
    assert.deepEqual(planGain({ ...base, checkpoint: '51' }), { from: 'live-state', dropCheckpoint: true });
    assert.deepEqual(planGain({ ...base, checkpoint: '9' }), { from: 'live-state', dropCheckpoint: true });
    assert.deepEqual(planGain({ ...base, checkpoint: '51', atStart: true }), { from: 'beginning', dropCheckpoint: true });
    assert.deepEqual(planGain({ ...base, checkpoint: '51', liveTopic: false }), { from: 'beginning', dropCheckpoint: true });
  });

  test('without the topic’s offsets a checkpoint cannot be checked: the beginning, checkpoint kept', () => {
    assert.deepEqual(planGain({ ...base, offsets: undefined, checkpoint: '30' }), { from: 'beginning', dropCheckpoint: false });
    assert.deepEqual(planGain({ ...base, offsets: undefined }), { from: 'beginning', dropCheckpoint: false }, 'a later gain needs the end to read to');
  });

  test('no checkpoint: at start the live state only for an empty store (as before); later always when there is one', () => {
    assert.deepEqual(planGain({ ...base, atStart: true, storeEmpty: true }), { from: 'live-state', dropCheckpoint: false });
    assert.deepEqual(planGain({ ...base, atStart: true, storeEmpty: true, offsets: undefined }), { from: 'live-state', dropCheckpoint: false });
    assert.deepEqual(planGain({ ...base, atStart: true, storeEmpty: false }), { from: 'beginning', dropCheckpoint: false });
    assert.deepEqual(planGain({ ...base }), { from: 'live-state', dropCheckpoint: false });
    assert.deepEqual(planGain({ ...base, liveTopic: false }), { from: 'beginning', dropCheckpoint: false });
  });
});
