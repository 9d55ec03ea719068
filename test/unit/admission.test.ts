// Invariant: a submit for any session takes the session with the most room and, when none has room,
// the first slot any candidate frees; a session's own waiters (later segments of a message) go first;
// no slot is lost or counted twice; an abort rejects every parked waiter of its signal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admission } from '../../src/pipeline/admission.js';

const tick = () => new Promise((r) => setImmediate(r));
const all = () => ['a', 'b', 'c'];

async function takeAny(admission: Admission, candidates: () => readonly string[], signal: AbortSignal): Promise<string | undefined> {
  const taken = admission.enterAny(candidates, signal);
  return typeof taken === 'string' || taken === undefined ? taken : await taken;
}

describe('Admission.enterAny', () => {
  it('takes the candidate with the fewest outstanding submits, the earliest on a tie', () => {
    const admission = new Admission(3);
    const signal = new AbortController().signal;
    assert.equal(admission.enterAny(all, signal), 'a');
    assert.equal(admission.enterAny(all, signal), 'b');
    assert.equal(
      admission.enterAny(() => ['c', 'a', 'b'], signal),
      'c',
    );
    admission.leave('b');
    assert.equal(admission.enterAny(all, signal), 'b');
    assert.deepEqual(
      ['a', 'b', 'c'].map((id) => admission.outstanding(id)),
      [1, 1, 1],
    );
  });

  it('no candidate → undefined and no slot taken', () => {
    const admission = new Admission(1);
    assert.equal(
      admission.enterAny(() => [], new AbortController().signal),
      undefined,
    );
  });

  it('when every session is full, a waiter takes the first slot ANY of them frees (not only its key’s)', async () => {
    const admission = new Admission(1);
    const signal = new AbortController().signal;
    for (const id of all()) admission.enter(id, signal);
    const first = takeAny(admission, all, signal);
    const second = takeAny(admission, all, signal);
    await tick();
    assert.equal(admission.waiting(null), 2);
    admission.leave('c');
    assert.equal(await first, 'c', 'the oldest waiter gets the freed slot');
    admission.leave('a');
    assert.equal(await second, 'a');
    assert.deepEqual(
      ['a', 'b', 'c'].map((id) => admission.outstanding(id)),
      [1, 1, 1],
    );
  });

  it("a session's own waiters (later segments of a message on it) go before waiters for any session", async () => {
    const admission = new Admission(1);
    const signal = new AbortController().signal;
    admission.enter('a', signal);
    admission.enter('b', signal);
    const anyone = takeAny(admission, () => ['a', 'b'], signal);
    const pinned = admission.enter('a', signal)!;
    await tick();
    let anyoneDone = false;
    void anyone.then(() => (anyoneDone = true));
    admission.leave('a');
    await pinned;
    await tick();
    assert.equal(anyoneDone, false, 'a’s slot went to its own waiter');
    admission.leave('b');
    assert.equal(await anyone, 'b');
  });

  it('a woken waiter that finds no candidate left gives up (undefined) and passes the wake-up on', async () => {
    const admission = new Admission(1);
    const signal = new AbortController().signal;
    let ready = ['a'];
    admission.enter('a', signal);
    const waiters = [takeAny(admission, () => ready, signal), takeAny(admission, () => ready, signal)];
    await tick();
    ready = [];
    admission.leave('a');
    assert.deepEqual(await Promise.all(waiters), [undefined, undefined]);
    assert.equal(admission.outstanding('a'), 0);
  });

  it('room left on another session after a wake-up is handed to the next waiter (no idle slot while waiters park)', async () => {
    const admission = new Admission(1);
    const signal = new AbortController().signal;
    admission.enter('a', signal);
    admission.enter('b', signal);
    const w1 = takeAny(admission, () => ['a', 'b'], signal);
    const w2 = takeAny(admission, () => ['a', 'b'], signal);
    await tick();
    admission.leave('a');
    admission.leave('b'); // both free before either waiter runs
    assert.deepEqual((await Promise.all([w1, w2])).sort(), ['a', 'b']);
    assert.equal(admission.waiting(null), 0);
  });

  it('a waiter that took another session’s freed slot hands the slot it was woken for to the next waiter', async () => {
    const admission = new Admission(1);
    const signal = new AbortController().signal;
    admission.enter('a', signal);
    admission.enter('b', signal);
    const w1 = takeAny(admission, () => ['b', 'a'], signal);
    const w2 = takeAny(admission, () => ['b', 'a'], signal);
    const pinnedToB = admission.enter('b', signal)!;
    await tick();
    admission.leave('a'); // wakes w1
    admission.leave('b'); // wakes b's own waiter — but w1 runs first and takes b (its first candidate)
    assert.equal(await w1, 'b');
    assert.equal(await w2, 'a', 'a was freed for w1: it must not stay idle while w2 waits');
    admission.leave('b');
    await pinnedToB;
    assert.deepEqual([admission.outstanding('a'), admission.outstanding('b')], [1, 1]);
  });

  it('an abort rejects every parked waiter of its signal, whichever queue it waits in', async () => {
    const admission = new Admission(1);
    const batch = new AbortController();
    const other = new AbortController();
    admission.enter('a', other.signal);
    const parked = [takeAny(admission, () => ['a'], batch.signal), admission.enter('a', batch.signal)!];
    const kept = takeAny(admission, () => ['a'], other.signal);
    await tick();
    batch.abort(new Error('rebalance'));
    for (const p of parked) await assert.rejects(p, /rebalance/);
    assert.equal(admission.waiting(null), 1);
    assert.equal(admission.waiting('a'), 0);
    admission.leave('a');
    assert.equal(await kept, 'a');
  });

  it('under random arrivals and leaves no slot is lost or doubled', async () => {
    const admission = new Admission(2);
    const signal = new AbortController().signal;
    const held: string[] = [];
    const pending: Promise<void>[] = [];
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let step = 0; step < 500; step += 1) {
      if (rand() < 0.55) pending.push(takeAny(admission, all, signal).then((id) => void held.push(id!)));
      else if (held.length > 0) admission.leave(held.splice(Math.floor(rand() * held.length), 1)[0]!);
      await tick();
      for (const id of all()) assert.ok(admission.outstanding(id) <= 2);
      assert.equal(
        all().reduce((n, id) => n + admission.outstanding(id), 0),
        held.length,
      );
      if (admission.waiting(null) > 0)
        assert.ok(
          all().every((id) => admission.outstanding(id) === 2),
          'nobody waits while a slot is free',
        );
    }
    while (held.length > 0) {
      admission.leave(held.pop()!);
      await tick();
    }
    await Promise.all(pending);
  });
});
