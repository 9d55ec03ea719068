// Invariant: a message's first segment goes to whichever ready session has admission room (a busy
// key session never holds it while another idles, issue 19); later segments of a concatenated
// message wait for the session of the first; no ready session → not-sent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { poolSubmitPort } from '../../src/app/submit-port.js';
import { Admission } from '../../src/pipeline/admission.js';
import type { SessionAffinity } from '../../src/pipeline/submit-loop.js';
import type { SmppPool } from '../../src/smpp/session/pool.js';
import type { SubmitParams, SubmitResult } from '../../src/smpp/protocol/types.js';

interface FakeSession {
  id: string;
  ready: boolean;
  /** Submits on the wire, answered by `answer()`. */
  wire: Array<(r: SubmitResult) => void>;
  isReady(): boolean;
  submit(params: SubmitParams): Promise<SubmitResult>;
}

function fakeSession(id: string): FakeSession {
  const s: FakeSession = {
    id,
    ready: true,
    wire: [],
    isReady: () => s.ready,
    submit: () => new Promise((resolve) => s.wire.push(resolve)),
  };
  return s;
}

function answer(s: FakeSession): void {
  s.wire.shift()!({ kind: 'response', command: 'submit_sm_resp', commandStatus: 0, messageId: 'm', roundTripMs: 1, sessionId: s.id });
}

/** The pool's routing surface the port uses; `own` is every key's own session. */
function fakePool(sessions: FakeSession[], own: FakeSession): SmppPool {
  const ready = () => sessions.filter((s) => s.ready);
  return {
    sessionForKey: (_key: string, preferred?: string) => ready().find((s) => s.id === preferred) ?? (own.ready ? own : ready()[0]),
    submitCandidates: () => [own, ...sessions.filter((s) => s !== own)].filter((s) => s.ready).map((s) => s.id),
    session: (id: string) => sessions.find((s) => s.id === id),
  } as unknown as SmppPool;
}

const params = {} as SubmitParams;
const tick = () => new Promise((r) => setImmediate(r));

describe('poolSubmitPort', () => {
  it("a single message goes to an idle session when its key's session has no room", async () => {
    const a = fakeSession('a');
    const b = fakeSession('b');
    const port = poolSubmitPort(fakePool([a, b], a), new Admission(2));
    const signal = new AbortController().signal;
    const sent = Array.from({ length: 4 }, () => port.submit('k', params, signal));
    await tick();
    assert.deepEqual([a.wire.length, b.wire.length], [2, 2], 'the key’s own session first, the rest where there is room');
    const fifth = port.submit('k', params, signal);
    await tick();
    answer(b);
    await tick();
    assert.equal(b.wire.length, 2, 'the waiting one took the slot b freed, not a later one of a');
    for (const s of [a, b]) while (s.wire.length) answer(s);
    const results = await Promise.all([...sent, fifth]);
    assert.deepEqual(results.map((r) => r.sessionId).sort(), ['a', 'a', 'b', 'b', 'b']);
  });

  it('later segments of a concatenated message wait for the session of the first', async () => {
    const a = fakeSession('a');
    const b = fakeSession('b');
    const admission = new Admission(1);
    const port = poolSubmitPort(fakePool([a, b], a), admission);
    const signal = new AbortController().signal;
    const affinity: SessionAffinity = {};
    const first = port.submit('k', params, signal, undefined, affinity);
    await tick();
    answer(a);
    assert.equal((await first).sessionId, 'a');
    assert.equal(affinity.sessionId, 'a');
    const other = port.submit('other', params, signal); // takes a's only slot
    await tick();
    const second = port.submit('k', params, signal, undefined, affinity);
    await tick();
    assert.equal(b.wire.length, 0, 'b has room, but the segment waits for a');
    answer(a);
    await other;
    await tick();
    answer(a);
    assert.equal((await second).sessionId, 'a');
  });

  it('no ready session → not-sent', async () => {
    const a = fakeSession('a');
    a.ready = false;
    const port = poolSubmitPort(fakePool([a], a), new Admission(1));
    const result = await port.submit('k', params, new AbortController().signal);
    assert.equal(result.kind, 'not-sent');
  });
});
