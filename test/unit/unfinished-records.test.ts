// The mark a batch handler waits for before it lets kafkajs fetch the next round (issue 19).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { UnfinishedRecords } from '../../src/pipeline/unfinished-records.js';

const settled = async (p: Promise<void>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

describe('UnfinishedRecords', () => {
  it('resolves at once when already at or under the mark', async () => {
    const u = new UnfinishedRecords();
    u.add();
    assert.equal(await settled(u.whenAtMost(1).reached), true);
    assert.equal(await settled(u.whenAtMost(0).reached), false);
  });

  it('wakes a wait exactly when the count falls to its mark, not before', async () => {
    const u = new UnfinishedRecords();
    for (let i = 0; i < 5; i += 1) u.add();
    const wait = u.whenAtMost(2).reached;
    u.done();
    u.done();
    assert.equal(await settled(wait), false, '3 unfinished > 2');
    u.done();
    assert.equal(await settled(wait), true);
  });

  it('a cancelled wait is never woken', async () => {
    const u = new UnfinishedRecords();
    u.add();
    u.add();
    const wait = u.whenAtMost(0);
    wait.cancel();
    u.done();
    u.done();
    assert.equal(await settled(wait.reached), false);
  });

  it('refuses a done() without a record', () => {
    assert.throws(() => new UnfinishedRecords().done(), RangeError);
  });

  it('every wait is woken once its mark is reached, whatever the order of adds, dones and waits (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.constant('add' as const), fc.constant('done' as const), fc.nat(6)), { maxLength: 60 }), async (ops) => {
        const u = new UnfinishedRecords();
        const waits: Array<{ mark: number; woke: () => boolean; minSeen: () => number }> = [];
        const track: number[] = [];
        for (const op of ops) {
          if (op === 'add') u.add();
          else if (op === 'done') {
            if (u.size > 0) u.done();
          } else {
            let woke = false;
            void u.whenAtMost(op).reached.then(() => (woke = true));
            const index = track.length;
            track.push(u.size);
            waits.push({ mark: op, woke: () => woke, minSeen: () => Math.min(...track.slice(index)) });
          }
          for (let i = 0; i < track.length; i += 1) track[i] = Math.min(track[i] as number, u.size);
        }
        await new Promise((r) => setImmediate(r));
        for (const w of waits) assert.equal(w.woke(), w.minSeen() <= w.mark, `mark ${w.mark}, lowest count since ${w.minSeen()}`);
      }),
      { numRuns: 300 },
    );
  });
});
