// Invariant: never more than `limit` slots taken; waiters are admitted in record order (their seq),
// whatever order they asked in; no slot is lost or counted twice; an abort rejects every waiter of
// its signal and leaves the others queued.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IntakeSlots } from '../../src/pipeline/intake-slots.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('IntakeSlots', () => {
  it('takes a free slot at once, then parks', () => {
    const slots = new IntakeSlots(2);
    const signal = new AbortController().signal;
    assert.equal(slots.acquire(0, signal), undefined);
    assert.equal(slots.acquire(1, signal), undefined);
    assert.ok(slots.acquire(2, signal) instanceof Promise);
    assert.equal(slots.inUse, 2);
    assert.equal(slots.waiting, 1);
  });

  it('admits waiters in record order, not in the order they asked', async () => {
    const slots = new IntakeSlots(1);
    const signal = new AbortController().signal;
    slots.acquire(0, signal);
    const admitted: number[] = [];
    // 7 asks last (it waited for its key's previous record) but was taken before 9 and 12
    for (const seq of [9, 12, 7]) void slots.acquire(seq, signal)!.then(() => admitted.push(seq));
    for (let i = 0; i < 3; i += 1) {
      slots.release();
      await tick();
    }
    assert.deepEqual(admitted, [7, 9, 12]);
  });

  it('a free slot is not taken past an earlier waiter', async () => {
    const slots = new IntakeSlots(1);
    const signal = new AbortController().signal;
    slots.acquire(0, signal);
    const early = slots.acquire(1, signal)!;
    slots.release(); // admits 1
    await early;
    assert.equal(slots.inUse, 1);
    assert.ok(slots.acquire(2, signal) instanceof Promise, 'no free slot: 1 holds it');
  });

  it('an abort rejects the waiters of its signal only; their places go to the others', async () => {
    const slots = new IntakeSlots(1);
    const batchA = new AbortController();
    const batchB = new AbortController();
    slots.acquire(0, batchA.signal);
    const a1 = slots.acquire(1, batchA.signal)!;
    const b2 = slots.acquire(2, batchB.signal)!;
    const a3 = slots.acquire(3, batchA.signal)!;
    batchA.abort(new Error('rebalance'));
    await assert.rejects(a1, /rebalance/);
    await assert.rejects(a3, /rebalance/);
    assert.equal(slots.waiting, 1);
    slots.release();
    await b2;
    assert.equal(slots.inUse, 1);
    assert.throws(() => slots.acquire(4, batchA.signal), /rebalance/, 'an aborted signal takes nothing');
  });

  it('an abort of many interleaved waiters keeps the others in record order', async () => {
    const slots = new IntakeSlots(1);
    const aborted = new AbortController();
    const kept = new AbortController();
    slots.acquire(0, kept.signal);
    const admitted: number[] = [];
    for (let seq = 1; seq <= 2000; seq += 1) {
      const signal = seq % 3 === 0 ? kept.signal : aborted.signal;
      void slots.acquire(seq, signal)!.then(
        () => admitted.push(seq),
        () => undefined,
      );
    }
    aborted.abort(new Error('rebalance'));
    assert.equal(slots.waiting, 666);
    for (let i = 0; i < 3; i += 1) {
      slots.release();
      await tick();
    }
    assert.deepEqual(admitted, [3, 6, 9]);
  });

  it('refuses a limit that is not a positive integer', () => {
    assert.throws(() => new IntakeSlots(0), RangeError);
    assert.throws(() => new IntakeSlots(1.5), RangeError);
  });

  it('property: at most `limit` held, every acquire admitted once, in seq order among waiters', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 40 }),
        async (limit, seqs) => {
          const slots = new IntakeSlots(limit);
          const signal = new AbortController().signal;
          const order: number[] = [];
          let held = 0;
          let most = 0;
          const parked: number[] = [];
          for (const seq of seqs) {
            const taken = slots.acquire(seq, signal);
            if (taken === undefined) {
              held += 1;
              order.push(seq);
            } else {
              parked.push(seq);
              void taken.then(() => {
                held += 1;
                order.push(seq);
              });
            }
            most = Math.max(most, held);
          }
          while (order.length < seqs.length) {
            held -= 1;
            slots.release();
            await tick();
            most = Math.max(most, held);
          }
          assert.ok(most <= limit);
          assert.equal(new Set(order).size, seqs.length);
          // the parked ones were admitted in ascending seq
          const admittedParked = order.filter((s) => parked.includes(s));
          assert.deepEqual(
            admittedParked,
            [...parked].sort((a, b) => a - b),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
