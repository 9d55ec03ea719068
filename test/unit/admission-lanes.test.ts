// Invariant (issue 21, priority lanes): while every session is full, a freed slot goes to the oldest
// urgent waiter, except that bulk gets its minimum share of the grants while both lanes wait; a bulk
// record never takes a free slot ahead of a parked urgent one; no slot is lost or counted twice.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Admission, type Lane } from '../../src/pipeline/admission.js';

const tick = () => new Promise((r) => setImmediate(r));
const one = () => ['s'];

/** Parks `count` waiters of a lane on a full single-session admission; each records its lane when admitted. */
function park(admission: Admission, lane: Lane, count: number, signal: AbortSignal, order: Lane[]): Promise<unknown>[] {
  return Array.from({ length: count }, () => {
    const taken = admission.enterAny(one, signal, lane);
    assert.ok(taken instanceof Promise, 'the session is full: the waiter parks');
    return taken.then((id) => {
      assert.equal(id, 's');
      order.push(lane);
    });
  });
}

/** Frees the session's slot `grants` times, one at a time, letting each woken waiter take it. */
async function grant(admission: Admission, grants: number): Promise<void> {
  for (let i = 0; i < grants; i++) {
    admission.leave('s');
    await tick();
  }
}

describe('Admission lanes', () => {
  it('a freed slot goes to the urgent waiter even when bulk waiters parked first', async () => {
    const admission = new Admission(1, 0);
    const signal = new AbortController().signal;
    admission.enter('s', signal);
    const order: Lane[] = [];
    park(admission, 'bulk', 3, signal, order);
    park(admission, 'urgent', 2, signal, order);
    await tick();
    assert.equal(admission.waiting(null, 'urgent'), 2);
    assert.equal(admission.waiting(null, 'bulk'), 3);
    await grant(admission, 5);
    assert.deepEqual(order, ['urgent', 'urgent', 'bulk', 'bulk', 'bulk']);
    assert.equal(admission.outstanding('s'), 1, 'one slot, held by the last one admitted');
  });

  it('bulk keeps its minimum share while urgent waiters keep coming', async () => {
    const admission = new Admission(1, 0.1);
    const signal = new AbortController().signal;
    admission.enter('s', signal);
    const order: Lane[] = [];
    park(admission, 'bulk', 30, signal, order);
    park(admission, 'urgent', 100, signal, order);
    await tick();
    await grant(admission, 100);
    const bulk = order.filter((l) => l === 'bulk').length;
    assert.equal(bulk, 10, `10 % of 100 grants go to bulk (got ${bulk}): ${order.join(',')}`);
    // spread out, not bunched at the end: every window of 20 grants has bulk in it
    for (let i = 0; i + 20 <= order.length; i += 20) assert.ok(order.slice(i, i + 20).includes('bulk'), `grants ${i}..${i + 19}`);
  });

  it('a bulk record does not take a free slot at once while an urgent one is parked', async () => {
    const admission = new Admission(1, 0);
    const signal = new AbortController().signal;
    admission.enter('s', signal);
    const order: Lane[] = [];
    park(admission, 'urgent', 1, signal, order);
    await tick();
    admission.leave('s'); // the urgent waiter is woken but has not run yet
    const late = admission.enterAny(one, signal, 'bulk');
    assert.ok(late instanceof Promise, 'bulk parks behind the woken urgent waiter');
    await tick();
    assert.deepEqual(order, ['urgent']);
    admission.leave('s');
    assert.equal(await late, 's');
  });

  it('an urgent record takes a free slot at once', () => {
    const admission = new Admission(2);
    const signal = new AbortController().signal;
    assert.equal(admission.enterAny(one, signal, 'urgent'), 's');
    assert.equal(admission.enterAny(one, signal, 'bulk'), 's');
  });

  it('an abort rejects the parked waiters of both lanes and frees their places', async () => {
    const admission = new Admission(1);
    const batch = new AbortController();
    admission.enter('s', new AbortController().signal);
    const waits = [admission.enterAny(one, batch.signal, 'urgent'), admission.enterAny(one, batch.signal, 'bulk')];
    await tick();
    batch.abort(new Error('rebalance'));
    for (const w of waits) await assert.rejects(w as Promise<unknown>, /rebalance/);
    assert.equal(admission.waiting(null), 0);
  });

  it('refuses a share outside [0, 1)', () => {
    assert.throws(() => new Admission(1, 1), /bulk minimum share/);
    assert.throws(() => new Admission(1, -0.1), /bulk minimum share/);
  });

  it('property: every waiter is admitted exactly once; bulk gets ≥ its share (within one grant) while both wait; urgent otherwise first', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Lane>('urgent', 'bulk'), { minLength: 1, maxLength: 60 }),
        fc.constantFrom(0, 0.1, 0.25, 0.5),
        async (lanes, share) => {
          const admission = new Admission(1, share);
          const signal = new AbortController().signal;
          admission.enter('s', signal);
          const order: Lane[] = [];
          for (const lane of lanes) void park(admission, lane, 1, signal, order);
          await tick();
          const waiting = { urgent: lanes.filter((l) => l === 'urgent').length, bulk: lanes.filter((l) => l === 'bulk').length };
          let bulkWhileBoth = 0;
          let grantsWhileBoth = 0;
          for (let i = 0; i < lanes.length; i++) {
            const both = waiting.urgent > 0 && waiting.bulk > 0;
            await grant(admission, 1);
            const got = order[i]!;
            waiting[got] -= 1;
            if (both) {
              grantsWhileBoth += 1;
              if (got === 'bulk') bulkWhileBoth += 1;
              else assert.ok(bulkWhileBoth + 1 >= share * grantsWhileBoth, 'bulk is not behind its share by more than one grant');
            }
          }
          assert.equal(order.length, lanes.length, 'every waiter admitted once');
          assert.equal(admission.waiting(null), 0);
          if (share === 0) {
            const firstBulk = order.indexOf('bulk');
            if (firstBulk >= 0) assert.ok(!order.slice(firstBulk).includes('urgent'), 'with no share, urgent all go first');
          }
          assert.ok(bulkWhileBoth <= share * grantsWhileBoth + 1, 'bulk gets no more than its share while urgent waits');
        },
      ),
      { numRuns: 200, endOnFailure: true },
    );
  });
});
