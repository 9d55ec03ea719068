// Invariant (issue 21 §3): a segment goes to the first route of its list that can take traffic; it
// leaves a route that stops taking traffic for a healthy one only between attempts and only while
// nothing of its message is accepted (pinned: it waits for its route); the first route is chosen
// again as soon as it is healthy (failback); the time fields are written the way each route wants.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { AccountGate } from '../../src/pipeline/account-gate.js';
import { observedByCircuit, RouteCircuit } from '../../src/pipeline/route-circuit.js';
import { chooseRoute, claimProbeOrTrial, submitRouted, wantsProbeOrTrial, type RouteDirectory, type RouteHandle } from '../../src/pipeline/routed-submit.js';
import type { SubmitPort } from '../../src/pipeline/submit-loop.js';
import { submitStatus } from '../../src/smpp/protocol/status.js';
import type { SubmitParams, SubmitResult } from '../../src/smpp/protocol/types.js';
import type { SmppTimeFormat } from '../../src/sms/smpp-time.js';
import { sampleSubmit } from '../helpers/smpp-reference.js';

interface FakeRoute {
  handle: RouteHandle;
  sent: SubmitParams[];
  healthy: boolean;
  /** What the next submit answers (default: accepted). */
  answer: () => SubmitResult;
}

const gates: AccountGate[] = [];
// a paused gate keeps its probe timer: closed, the file's process can exit
after(() => gates.forEach((g) => g.close()));

/** `circuit`: the route's health and probes also follow it, as app/routes.ts wires it. */
function fakeRoute(name: string, timeFormat: SmppTimeFormat = 'smpp34', probeIntervalMs = 60_000, circuit?: RouteCircuit): FakeRoute {
  const gate = new AccountGate(probeIntervalMs);
  gates.push(gate);
  const route: FakeRoute = {
    sent: [],
    healthy: true,
    answer: () => ({
      kind: 'response',
      command: 'submit_sm_resp',
      commandStatus: 0,
      messageId: `${name}-${route.sent.length}`,
      roundTripMs: 1,
      sessionId: `${name}/trx-1`,
    }),
    handle: undefined as unknown as RouteHandle,
  };
  const port: SubmitPort = {
    // as the pool's port: `stillAllowed` is asked when the submit has its turn
    submit: async (_key, params, _signal, stillAllowed) => {
      if (stillAllowed && !stillAllowed()) return { kind: 'not-sent', reason: 'account-paused', sessionId: '' };
      const result = route.answer();
      if (result.kind !== 'not-sent') route.sent.push(params);
      return result;
    },
  };
  route.handle = {
    name,
    timeFormat,
    healthy: () => route.healthy && (circuit?.allowsTraffic() ?? true),
    wantsProbe: () => wantsProbeOrTrial(gate, circuit),
    probeChosen: () => claimProbeOrTrial(gate, circuit),
    submit: { port, gate, retryMaxAgeMs: 60_000, now: Date.now, notSentDelayMs: 5, ...(circuit ? { observer: observedByCircuit({}, circuit) } : {}) },
  };
  return route;
}

function directoryOf(...routes: FakeRoute[]): RouteDirectory {
  return { knows: (name) => routes.some((r) => r.handle.name === name), route: (name) => routes.find((r) => r.handle.name === name)!.handle };
}

const params: SubmitParams = { ...sampleSubmit('hi'), scheduleDeliveryTime: '', validityPeriod: '261203040506300+' };
const signal = new AbortController().signal;

describe('submitRouted', () => {
  it('the first healthy route of the list takes the segment; its time fields in that route’s format', async () => {
    const a = fakeRoute('a');
    const b = fakeRoute('b', 'yyyymmddhhmmss');
    a.healthy = false;
    const outcome = await submitRouted(directoryOf(a, b), ['a', 'b'], 'k', params, null, signal, {}, undefined);
    assert.equal(outcome.kind, 'accepted');
    assert.equal(outcome.route, 'b');
    assert.deepEqual([a.sent.length, b.sent.length], [0, 1]);
    assert.equal(b.sent[0]!.validityPeriod, '20261203040506', 'YYYYMMDDhhmmss in UTC');
  });

  it('failover: a route that stops taking traffic while the segment waits for a session is left for the next', async () => {
    const a = fakeRoute('a');
    const b = fakeRoute('b');
    a.answer = () => ({ kind: 'not-sent', reason: 'not-bound', sessionId: '' });
    setTimeout(() => (a.healthy = false), 30); // unbound too long: routing gives it up
    const outcome = await submitRouted(directoryOf(a, b), ['a', 'b'], 'k', params, null, signal, {}, undefined);
    assert.equal(outcome.route, 'b');
    assert.deepEqual([a.sent.length, b.sent.length], [0, 1], 'nothing was on the wire on a');
  });

  it('failover on an account paused by the SMSC (0x103): the refused attempt is not counted, the next route takes it', async () => {
    const a = fakeRoute('a');
    const b = fakeRoute('b');
    a.answer = () => {
      a.healthy = false; // what the gate closing means to routing
      return { kind: 'response', command: 'submit_sm_resp', commandStatus: 0x103, roundTripMs: 1, sessionId: 'a/trx-1' };
    };
    const outcome = await submitRouted(directoryOf(a, b), ['a', 'b'], 'k', params, null, signal, {}, undefined);
    assert.equal(outcome.kind, 'accepted');
    assert.equal(outcome.route, 'b');
    assert.equal(outcome.attempts, 1, 'the account refusal is not an attempt of this message');
  });

  it('a segment waiting out a retry delay (0x08: 3 s) leaves as soon as its route stops taking traffic, not after the delay', async () => {
    const a = fakeRoute('a');
    const b = fakeRoute('b');
    a.answer = () => {
      setTimeout(() => (a.healthy = false), 100); // e.g. its circuit opens on the answers of other segments
      return { kind: 'response', command: 'submit_sm_resp', commandStatus: 0x08, roundTripMs: 1, sessionId: 'a/trx-1' };
    };
    const started = Date.now();
    const outcome = await submitRouted(directoryOf(a, b), ['a', 'b'], 'k', params, null, signal, {}, undefined);
    assert.deepEqual([outcome.route, outcome.kind, a.sent.length, b.sent.length], ['b', 'accepted', 1, 1]);
    assert.ok(Date.now() - started < 1500, `left within ${Date.now() - started} ms of the 0x08`);
  });

  it('pinned: a message with a segment accepted on a route stays there through a short outage, waiting for a session', async () => {
    const a = fakeRoute('a');
    const b = fakeRoute('b');
    let tries = 0;
    a.answer = () => (++tries < 4 ? { kind: 'not-sent', reason: 'not-bound', sessionId: '' } : fakeAccept('a'));
    const outcome = await submitRouted(directoryOf(a, b), ['b', 'a'], 'k', params, null, signal, { route: 'a' }, undefined);
    assert.equal(outcome.route, 'a');
    assert.equal(b.sent.length, 0);
    assert.equal(tries, 4, 'it waited for a session of its route (still healthy: unbound only briefly)');
  });

  it('pinned, its route lost while another can take traffic: route-lost, nothing sent anywhere (the caller sends the whole message again)', async () => {
    const a = fakeRoute('a');
    const b = fakeRoute('b');
    a.healthy = false;
    a.answer = () => ({ kind: 'not-sent', reason: 'not-bound', sessionId: '' });
    const outcome = await submitRouted(directoryOf(a, b), ['b', 'a'], 'k', params, null, signal, { route: 'a' }, undefined);
    assert.deepEqual([outcome.kind, outcome.route], ['route-lost', 'a']);
    assert.deepEqual([a.sent.length, b.sent.length], [0, 0]);
  });

  it('segments parked at a paused gate fail over as soon as another route becomes healthy, without waiting for a probe turn', async () => {
    const a = fakeRoute('a'); // probe interval 60 s: only a recheck can free a parked segment in time
    const b = fakeRoute('b');
    a.handle.submit.gate.pause('0x103 credit');
    a.healthy = false;
    b.healthy = false; // reconnecting: nowhere to go yet
    const directory = directoryOf(a, b);
    assert.equal(a.handle.submit.gate.wantsProbe(), false, 'no probe due yet');
    setTimeout(() => (b.healthy = true), 100);
    const started = Date.now();
    const outcomes = await Promise.all(['k1', 'k2'].map((k) => submitRouted(directory, ['a', 'b'], k, params, null, signal, {}, undefined)));
    assert.deepEqual(
      outcomes.map((o) => o.route),
      ['b', 'b'],
    );
    assert.ok(Date.now() - started < 2000, `left the paused gate within ${Date.now() - started} ms`);
    assert.equal(a.sent.length, 0);
  });

  it('failback: the first route is chosen again once it is healthy', () => {
    const a = fakeRoute('a');
    const b = fakeRoute('b');
    const directory = directoryOf(a, b);
    a.healthy = false;
    assert.deepEqual(chooseRoute(directory, ['a', 'b']), { route: 'b', probe: false });
    a.healthy = true;
    assert.deepEqual(chooseRoute(directory, ['a', 'b']), { route: 'a', probe: false });
    b.healthy = false;
    a.healthy = false;
    assert.deepEqual(chooseRoute(directory, ['a', 'b']), { route: 'a', probe: false }, 'none healthy: the segment waits on the first');
  });

  it('a paused route whose traffic failed over still gets probed: when its probe is due one segment goes there at once, and on to the other route if refused', async () => {
    const a = fakeRoute('a', 'smpp34', 300);
    const b = fakeRoute('b');
    const directory = directoryOf(a, b);
    a.handle.submit.gate.pause('0x103 credit');
    a.healthy = false;
    assert.deepEqual(chooseRoute(directory, ['a', 'b']), { route: 'b', probe: false }, 'no probe due yet: the other route');
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(chooseRoute(directory, ['a', 'b']), { route: 'a', probe: true }, 'the probe is due and nobody waits at the gate of a: this one probes');
    let refusals = 0;
    a.answer = () => {
      refusals += 1;
      return { kind: 'response', command: 'submit_sm_resp', commandStatus: 0x103, roundTripMs: 1, sessionId: 'a/trx-1' };
    };
    const started = Date.now();
    const [refused, other] = await Promise.all([
      submitRouted(directory, ['a', 'b'], 'k1', params, null, signal, {}, undefined),
      submitRouted(directory, ['a', 'b'], 'k2', params, null, signal, {}, undefined),
    ]);
    assert.ok(Date.now() - started < 200, `the probe went at once, not at a later turn (${Date.now() - started} ms)`);
    assert.deepEqual([refusals, refused.route, refused.kind], [1, 'b', 'accepted'], 'the probe was refused once, then failed over');
    assert.equal(other.route, 'b', 'one probe: the segment beside it did not probe too');
    assert.equal(a.handle.submit.gate.wantsProbe(), false, 'the next probe is not due yet');
    await new Promise((r) => setTimeout(r, 400));
    a.answer = () => fakeAccept('a');
    const back = await submitRouted(directory, ['a', 'b'], 'k', params, null, signal, {}, undefined);
    assert.equal(back.route, 'a', 'the next probe is accepted: the route is back');
    assert.equal(a.handle.submit.gate.current.open, true);
  });

  it('a claimed probe that never reaches the SMSC (its batch aborted) is handed back: the gate probes again', async () => {
    const a = fakeRoute('a', 'smpp34', 50);
    const b = fakeRoute('b');
    const directory = directoryOf(a, b);
    a.handle.submit.gate.pause('0x103 credit');
    a.healthy = false;
    await new Promise((r) => setTimeout(r, 100));
    const aborted = new AbortController();
    a.answer = () => {
      aborted.abort(new Error('rebalance'));
      throw new Error('aborted on the wire');
    };
    await assert.rejects(submitRouted(directory, ['a', 'b'], 'k1', params, null, aborted.signal, {}, undefined));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(a.handle.submit.gate.wantsProbe(), true, 'due again after its interval');
  });

  it('a circuit trial is not offered while the account is paused: the segment goes to the healthy route at once, not after the gate’s probe turn', async () => {
    let now = 0;
    const circuit = new RouteCircuit({ failures: 3, openMs: 1000, now: () => now });
    const a = fakeRoute('a', 'smpp34', 3000, circuit);
    const b = fakeRoute('b');
    const systemError: SubmitResult = { kind: 'response', command: 'submit_sm_resp', commandStatus: 0x08, roundTripMs: 1, sessionId: 'a/trx-1' };
    for (let i = 0; i < 3; i += 1) a.handle.submit.observer!.onResult!(systemError, submitStatus(0x08));
    a.handle.submit.gate.pause('0x103 credit'); // and its account paused too: the gate's probe is 3 s away
    now += 1000; // the circuit would take a trial now
    const started = Date.now();
    const outcome = await submitRouted(directoryOf(a, b), ['a', 'b'], 'k', params, null, signal, {}, undefined);
    assert.equal(outcome.route, 'b');
    assert.ok(Date.now() - started < 1000, `on b after ${Date.now() - started} ms`);
  });

  it('circuit: a run of system errors opens it and the traffic fails over; after the cooldown ONE segment is the trial, and its success brings the traffic back', async () => {
    let now = 0;
    const circuit = new RouteCircuit({ failures: 3, openMs: 1000, now: () => now });
    const a = fakeRoute('a', 'smpp34', 60_000, circuit);
    const b = fakeRoute('b');
    const directory = directoryOf(a, b);
    // the run, as other segments' attempts report it (each waits 0x08's 3 s before its next: too slow to play here)
    const systemError: SubmitResult = { kind: 'response', command: 'submit_sm_resp', commandStatus: 0x08, roundTripMs: 1, sessionId: 'a/trx-1' };
    for (let i = 0; i < 3; i += 1) a.handle.submit.observer!.onResult!(systemError, submitStatus(0x08));
    assert.equal(circuit.state(), 'open');
    const moved = await submitRouted(directory, ['a', 'b'], 'k', params, null, signal, {}, undefined);
    assert.deepEqual([moved.route, a.sent.length], ['b', 0], 'open: the next segment goes to b');
    assert.deepEqual(chooseRoute(directory, ['a', 'b']), { route: 'b', probe: false }, 'open: a is not even probed');
    now += 1000;
    assert.deepEqual(chooseRoute(directory, ['a', 'b']), { route: 'a', probe: true }, 'half-open: this segment is the trial');
    a.answer = () => fakeAccept('a');
    const trial = submitRouted(directory, ['a', 'b'], 'k1', params, null, signal, {}, undefined);
    assert.deepEqual(chooseRoute(directory, ['a', 'b']), { route: 'b', probe: false }, 'one trial at a time: the next segment goes to b');
    assert.equal((await trial).route, 'a');
    assert.equal(circuit.allowsTraffic(), true, 'the trial was accepted: closed');
    assert.deepEqual(chooseRoute(directory, ['a', 'b']), { route: 'a', probe: false }, 'failback');
  });
});

function fakeAccept(route: string): SubmitResult {
  return { kind: 'response', command: 'submit_sm_resp', commandStatus: 0, messageId: `${route}-x`, roundTripMs: 1, sessionId: `${route}/trx-1` };
}
