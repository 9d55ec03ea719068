/**
 * Partitioned ownership, the index's side (issue 20): a replica keeps and acts for its share of the
 * correlation partitions only (`PartitionScope`); it drops a released partition without writing
 * anything; a request that lived past half the restore window gets its tombstone wherever it is
 * forgotten, since another replica may have promoted it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finalKey, messageEntryOf, messageKey, requestKey, type PartitionScope } from '../../src/pipeline/correlation-index.js';
import { requestRecord, tempIndex } from '../helpers/temp-store.js';

/** Partitions by the key's last character: `…-<digit>` keys land in that partition. */
const partitionOfKey = (key: string): number => Number(key.at(-1)) || 0;
const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

function scoped(held: Set<number>, ready: Set<number> = held): PartitionScope {
  return { holds: (p) => held.has(p), actsFor: (p) => held.has(p) && ready.has(p), partitionOfKey };
}

test('a subject of a partition not held is not kept where it was submitted; one held is', async () => {
  const index = tempIndex(() => 1_000);
  index.setScope(scoped(new Set([0])));
  const rec = requestRecord('r-away', ['m-1'], { home: 0, messageEntries: true });
  index.applyNewSubject('m-1', messageEntryOf(rec, 1, 1));
  index.applyOwnSnapshot(rec);
  assert.equal(index.segmentOf('m-1'), undefined, 'partition 1 is another replica’s');
  assert.ok(index.request('r-away'), 'the snapshot stays for replay dedupe (its home is held)');
  const here = requestRecord('r-here', ['m-0'], { home: 0, messageEntries: true });
  index.applyNewSubject('m-0', messageEntryOf(here, 1, 0));
  assert.equal(index.segmentOf('m-0')?.request.id, 'r-here');
});

test('the sweep and promotion act only for partitions held and ready', async () => {
  let now = 1_000;
  const ready = new Set([0]);
  const index = tempIndex(() => now);
  index.setScope(scoped(new Set([0, 1]), ready));
  // Two multipart requests past their deadline, homed in 0 and 1; two subjects in 0 and 1.
  index.apply(requestKey('r-a'), requestRecord('r-a', ['ma-0', 'mb-0'], { home: 0 }), 1_000);
  index.apply(requestKey('r-b'), requestRecord('r-b', ['mc-1', 'md-1'], { home: 1 }), 1_000);
  index.apply(messageKey('s-0'), messageEntryOf(requestRecord('r-s0', ['s-0']), 1, 0), 1_000);
  index.apply(messageKey('s-1'), messageEntryOf(requestRecord('r-s1', ['s-1']), 1, 1), 1_000);
  await index.written();
  now = 20_000;
  const overdue = () =>
    [...index.overdueSlices(now)]
      .flat()
      .map((r) => r.id)
      .sort();
  /** The ids a pass would promote now; the pass is then called failed, so nothing stays in flight for the next call. */
  const promotable = () => {
    const listed = [...index.promotable(now)].flat();
    index.promotionFailed(listed);
    return listed.map((state) => state.request.id).sort();
  };
  assert.deepEqual(overdue(), ['r-a', 'r-s0'], 'partition 1 is still being restored: nothing of it is due yet');
  assert.deepEqual(promotable(), ['r-a', 'r-s0']);
  ready.add(1);
  assert.deepEqual(overdue(), ['r-a', 'r-b', 'r-s0', 'r-s1'], 'ready: every one');
  assert.deepEqual(promotable(), ['r-a', 'r-b', 'r-s0', 'r-s1']);
});

test('a released partition is dropped without a tombstone; a multipart request homed there leaves the m: entry of its segment in a partition still held', async () => {
  let now = 1_000;
  const held = new Set([0, 1]);
  const index = tempIndex(() => now);
  index.setScope(scoped(held));
  // Homed in 1: a multipart request with one segment hashing to 0 and one to 1, promoted.
  const multi = requestRecord('r-m', ['x-0', 'y-1'], { home: 1, receiptDeadline: 100_000 });
  index.apply(requestKey('r-m'), multi, 1_000);
  // A subject in 1 and one in 0; a final for the subject in 1.
  index.apply(messageKey('s-1'), messageEntryOf(requestRecord('r-s1', ['s-1'], { receiptDeadline: 100_000 }), 1, 1), 1_000);
  index.apply(messageKey('s-0'), messageEntryOf(requestRecord('r-s0', ['s-0'], { receiptDeadline: 100_000 }), 1, 0), 1_000);
  now = 50_000;
  for (const slice of index.promotable(now)) index.promotionWritten(slice);
  await index.written();
  assert.equal(index.segmentOf('x-0')?.request.id, 'r-m');

  held.delete(1);
  const dropped = await index.dropPartitions([1], immediate);
  await index.written();
  assert.equal(dropped, 2, 'the snapshot in 1 and the subject in 1');
  assert.equal(index.request('r-m'), undefined);
  assert.equal(index.segmentOf('s-1'), undefined);
  assert.equal(index.segmentOf('s-0')?.request.id, 'r-s0', 'partition 0 untouched');
  assert.deepEqual(index.pendingRequestOf('x-0'), { id: 'r-m', home: 1 }, 'the segment in 0 still finds its home');
  assert.equal(index.pendingRequestOf('y-1'), undefined, 'the segment in 1 went with its partition');
  assert.deepEqual(index.retired(), [], 'no tombstone: the partition’s owner keeps these requests');
  // Applied again from the topic later (a regain), nothing of the drop is in the way.
  index.apply(requestKey('r-m'), multi, 50_000);
  index.apply(finalKey('x-0'), { v: 1, status: 'DELIVERED', errorCategory: null, at: 50_000 }, 50_000);
  assert.deepEqual(index.segmentOf('x-0')?.segment, 1);
});

test('a request forgotten past half the restore window gets a tombstone though this store never promoted it; a younger one does not', async () => {
  let now = 1_000;
  const index = tempIndex(() => now, { promotedAfterMs: 30_000 });
  // Both complete at once (no receipts asked), submitted at 1,000 and at 40,000.
  index.apply(requestKey('r-young'), requestRecord('r-young', ['y-0', 'y2-0'], { receipts: false, submittedAt: 40_000 }), 40_000);
  index.apply(requestKey('r-old'), requestRecord('r-old', ['o1-0', 'o2-0'], { receipts: false, submittedAt: 1_000 }), 1_000);
  await index.written();
  now = 45_000;
  index.pruneCompleted(now);
  await index.written();
  assert.deepEqual(index.retired(), ['r-old'], 'submitted 44 s ago: a tombstone; 5 s ago: none');
});

test('a complete subject’s m: entry read again (a replay republished it) has its final written again after it, by the replica acting for its partition only', async () => {
  const writes: Array<{ key: string; partition: number }> = [];
  const ready = new Set([0]);
  const index = tempIndex(() => 5_000, { onRepublishedFinal: (w) => writes.push({ key: w.key, partition: w.partition }) });
  index.setScope(scoped(new Set([0, 1]), ready));
  const rec = requestRecord('r-1', ['s-0'], { receiptDeadline: 100_000 });
  index.apply(messageKey('s-0'), messageEntryOf(rec, 1, 0), 1_000);
  index.apply(messageKey('s-0'), messageEntryOf(rec, 1, 0), 1_500);
  assert.deepEqual(writes, [], 'not final yet: nothing to write again');
  index.apply(finalKey('s-0'), { v: 1, status: 'DELIVERED', errorCategory: null, at: 2_000 }, 2_000);
  index.apply(messageKey('s-0'), messageEntryOf(rec, 1, 0), 3_000);
  assert.deepEqual(writes, [{ key: finalKey('s-0'), partition: 0 }]);
  index.apply(messageKey('s-0'), messageEntryOf(requestRecord('r-other', ['s-0']), 1, 0), 3_500);
  assert.equal(writes.length, 1, 'another request’s entry for the id (an SMSC reusing ids) is not a republish');
  const elsewhere = requestRecord('r-2', ['s-1'], { receiptDeadline: 100_000 });
  index.apply(messageKey('s-1'), messageEntryOf(elsewhere, 1, 1), 1_000);
  index.apply(finalKey('s-1'), { v: 1, status: 'DELIVERED', errorCategory: null, at: 2_000 }, 2_000);
  index.apply(messageKey('s-1'), messageEntryOf(elsewhere, 1, 1), 3_000);
  assert.equal(writes.length, 1, 'partition 1 is not read up to date here: its owner writes it');
});

test('an own snapshot read back after a gain never takes back a later segment and its final; a newer one is applied', async () => {
  const index = tempIndex(() => 5_000);
  const v1 = requestRecord('r-1', ['a-0', null, null], { receiptDeadline: 100_000 });
  const v2 = requestRecord('r-1', ['a-0', 'b-0', null], { receiptDeadline: 100_000 });
  const v3 = requestRecord('r-1', ['a-0', 'b-0', 'c-0'], { receiptDeadline: 100_000 });
  index.applyOwnSnapshot(v2);
  index.apply(finalKey('b-0'), { v: 1, status: 'DELIVERED', errorCategory: null, at: 2_000 }, 2_000);
  index.applyOwnAgain(requestKey('r-1'), v1, 1_000);
  assert.equal(index.segmentOf('b-0')?.segment, 2, 'the later segment stays mapped');
  assert.equal(index.final('b-0')?.status, 'DELIVERED', 'and its final stays');
  index.applyOwnAgain(requestKey('r-1'), v3, 3_000);
  assert.equal(index.segmentOf('c-0')?.segment, 3, 'a newer snapshot is applied');
});

test('a segment sent after a replay elsewhere: its m: entry names the home though an older snapshot of the request is still here, and a receipt waiting for it stops waiting', async () => {
  const index = tempIndex(() => 5_000);
  // This replica sent segment 1 and let the home (1) go; the replica replaying the request sent segment 2.
  const before = requestRecord('r-re', ['a-0', null], { home: 1, receiptDeadline: 100_000, messageEntries: true });
  index.applyOwnSnapshot(before);
  const after = requestRecord('r-re', ['a-0', 'b-0'], { home: 1, receiptDeadline: 100_000, messageEntries: true });
  const waiting = index.waitForMessageId('b-0', 60_000, () => index.pendingRequestOf('b-0') !== undefined);
  index.apply(messageKey('b-0'), messageEntryOf(after, 2, 0), 2_000);
  assert.equal(await waiting, undefined, 'the wait ends at the entry, long before its timeout');
  assert.equal(index.segmentOf('b-0'), undefined, 'the snapshot here does not map it');
  assert.deepEqual(index.pendingRequestOf('b-0'), { id: 'r-re', home: 1 }, 'so its receipt goes to the home');
  assert.equal(index.pendingRequestOf('a-0'), undefined, 'a segment the snapshot here maps is here');
  index.apply(requestKey('r-re'), after, 3_000);
  assert.equal(index.segmentOf('b-0')?.segment, 2, 'the newer snapshot maps it');
  assert.equal(index.pendingRequestOf('b-0'), undefined);
});
