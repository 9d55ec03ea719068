// Invariant: whatever the SMSC does (silence, dropped socket, garbage, unbind, idle cut-off), every
// request ends (response / ambiguous / not-sent) within its deadline, no library callback leaks, the
// session is replaced with backoff, and the process survives.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { SmppSession } from '../../src/smpp/session/session.js';
import { startSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { delay, fastSessionOptions, gsmSubmit, waitFor } from './smpp-helpers.js';

describe('SMPP faults', () => {
  let sim: Simulator;
  // Closed after each test, passed or failed: a session left open by a failed assertion would keep
  // the file's process alive.
  const opened: SmppSession[] = [];

  before(async () => {
    sim = await startSimulator({ plainPort: 0 });
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((session) => session.close(0)));
  });

  after(async () => {
    await sim.close();
  });

  async function boundSession(overrides: Parameters<typeof fastSessionOptions>[1] = {}): Promise<SmppSession> {
    const session = new SmppSession(fastSessionOptions(sim.plainPort as number, overrides));
    opened.push(session);
    session.start();
    await waitFor(() => session.state === 'bound', 3_000, 'bound');
    return session;
  }

  it('black hole: each submit ends ambiguous between 1× and 2× the response timeout, no leaked callbacks, session recycled', async () => {
    const timeoutMs = 600;
    const session = await boundSession({ responseTimeoutMs: timeoutMs, enquireLinkMs: 30_000, window: 5 });
    sim.setBehaviour({ blackHole: true });
    try {
      const results = await Promise.all(Array.from({ length: 5 }, (_, i) => session.submit(gsmSubmit(`3933300000${i}`, 'void'))));
      for (const result of results) {
        assert.equal(result.kind, 'ambiguous');
        assert.ok(result.kind === 'ambiguous' && result.reason === 'timeout');
        // elapsedMs is wall-clock (Date.now) while the timer runs on the monotonic clock: the two
        // round differently, so a timer that waited its full 600 ms can read 599 (seen in CI).
        const clockSlackMs = 2;
        assert.ok(
          result.kind === 'ambiguous' && result.elapsedMs >= timeoutMs - clockSlackMs && result.elapsedMs < 2 * timeoutMs,
          `elapsed ${JSON.stringify(result)}`,
        );
      }
      assert.equal(session.libraryPendingCallbacks(), 0, 'node-smpp callback entries deleted');
      assert.equal(session.stats().inFlight, 0);
      await waitFor(() => (session.stats().reconnectsByReason['response-timeout'] ?? 0) === 1, 2_000, 'recycled');
    } finally {
      sim.setBehaviour({ blackHole: false });
    }
    await waitFor(() => session.state === 'bound', 3_000, 'rebound');
    const ok = await session.submit(gsmSubmit('393330000099', 'after'));
    assert.equal(ok.kind === 'response' && ok.commandStatus, 0);
    await session.close();
  });

  it('0x04 (the SMSC forgot the bind, socket still open): the session stops sending, rebinds, and submits are accepted again', async () => {
    const session = await boundSession({ window: 5, enquireLinkMs: 30_000, reconnectMinMs: 100 });
    const before = sim.stats().bindAttempts;
    sim.forgetBinds();
    const results = await Promise.all(Array.from({ length: 3 }, (_, i) => session.submit(gsmSubmit(`3933322222${i}`, 'forgotten'))));
    // Sent ones come back 0x04; any still queued when the session stopped sending end not-sent (safe to retry).
    assert.equal(results[0]?.kind === 'response' && results[0].commandStatus, 0x04, JSON.stringify(results[0]));
    for (const result of results) {
      const refused = result.kind === 'response' && result.commandStatus === 0x04;
      assert.ok(refused || result.kind === 'not-sent', JSON.stringify(result));
    }
    await waitFor(() => (session.stats().reconnectsByReason['smsc-not-bound'] ?? 0) === 1, 3_000, 'recycled after 0x04');
    await waitFor(() => session.state === 'bound', 3_000, 'rebound');
    assert.ok(sim.stats().bindAttempts > before, 'a new bind_transceiver reached the SMSC');
    const ok = await session.submit(gsmSubmit('393332222299', 'after'));
    assert.equal(ok.kind === 'response' && ok.commandStatus, 0, JSON.stringify(ok));
    assert.equal(session.libraryPendingCallbacks(), 0);
    await session.close();
  });

  it('connection dropped with a full window: pending fail as ambiguous within 1 s, reconnect with backoff', async () => {
    const session = await boundSession({ window: 10, responseTimeoutMs: 5_000, reconnectMinMs: 200 });
    sim.setBehaviour({ responseLatencyMs: 3_000, dropAfterSubmits: 10 });
    let droppedAt: number;
    try {
      const started = Date.now();
      const pending = Array.from({ length: 12 }, (_, i) => session.submit(gsmSubmit(`3933311111${String(i).padStart(2, '0')}`, 'full')));
      const results = await Promise.all(pending);
      droppedAt = Date.now();
      const ambiguous = results.filter((r) => r.kind === 'ambiguous' && r.reason === 'connection-lost').length;
      const notSent = results.filter((r) => r.kind === 'not-sent').length;
      assert.equal(ambiguous, 10, 'the whole window was on the wire');
      assert.equal(notSent, 2, 'queued submits were never sent');
      assert.ok(droppedAt - started < 1_000 + 500, 'failed quickly, not at the response timeout');
      assert.equal(session.libraryPendingCallbacks(), 0);
    } finally {
      sim.setBehaviour({ responseLatencyMs: 0, dropAfterSubmits: null });
    }
    await waitFor(() => session.state === 'bound', 3_000, 'reconnected');
    const reconnectMs = Date.now() - droppedAt;
    assert.ok(reconnectMs >= 100, `reconnected after ${reconnectMs} ms — backoff applied`);
    assert.equal(session.stats().reconnectsByReason['socket-close'], 1);
    await session.close();
  });

  it('idle longer than the SMSC idle timeout: enquire_link keeps the bind alive', async () => {
    sim.setBehaviour({ idleTimeoutMs: 1_500 });
    try {
      const keptAlive = await boundSession({ enquireLinkMs: 500 });
      const control = await boundSession({ enquireLinkMs: 30_000, reconnectMinMs: 5_000, reconnectMaxMs: 5_000 });
      await delay(3_500);
      assert.equal(keptAlive.state, 'bound');
      assert.deepEqual(keptAlive.stats().reconnectsByReason, {});
      assert.ok(keptAlive.stats().enquireLinksSent >= 5);
      assert.notEqual(control.state, 'bound', 'the control session without enquire_link was cut off');
      await Promise.all([keptAlive.close(), control.close()]);
    } finally {
      sim.setBehaviour({ idleTimeoutMs: 300_000 });
    }
  });

  for (const kind of ['short-length', 'huge-length'] as const) {
    it(`garbage PDU (${kind}): session replaced, process alive, submits work again`, async () => {
      const session = await boundSession();
      assert.ok(sim.sendGarbage(kind) >= 1);
      await waitFor(() => (session.stats().reconnectsByReason['pdu-framing'] ?? 0) === 1, 2_000, 'replaced');
      await waitFor(() => session.state === 'bound', 3_000, 'rebound');
      const ok = await session.submit(gsmSubmit('393330000001', 'after garbage'));
      assert.equal(ok.kind === 'response' && ok.commandStatus, 0);
      await session.close();
    });
  }

  it('command_length 2 (node-smpp waited forever for a body of -2 octets): replaced at once, not at the enquire_link deadline', async () => {
    const session = await boundSession({ enquireLinkMs: 5_000, enquireLinkTimeoutMs: 5_000 });
    sim.sendGarbage('truncated-length');
    await waitFor(() => (session.stats().reconnectsByReason['pdu-framing'] ?? 0) === 1, 1_000, 'replaced well before the 5 s enquire_link deadline');
    await waitFor(() => session.state === 'bound', 3_000, 'rebound');
    await session.close();
  });

  it('unknown command from the SMSC is answered with generic_nack; the session stays', async () => {
    const session = await boundSession();
    sim.sendGarbage('unknown-command');
    await delay(200);
    assert.equal(session.state, 'bound');
    assert.deepEqual(session.stats().reconnectsByReason, {});
    await session.close();
  });

  it('unbind from the SMSC: answered, closed, rebound with backoff', async () => {
    const session = await boundSession();
    sim.unbindAll();
    await waitFor(() => (session.stats().reconnectsByReason['unbind-by-smsc'] ?? 0) === 1, 2_000, 'unbind handled');
    await waitFor(() => session.state === 'bound', 3_000, 'rebound');
    await session.close();
  });

  it('submit while not bound is not-sent (safe to retry); close() refuses new submits', async () => {
    const session = new SmppSession(fastSessionOptions(sim.plainPort as number));
    opened.push(session);
    const early = await session.submit(gsmSubmit('393330000002', 'early'));
    assert.deepEqual([early.kind, early.kind === 'not-sent' && early.reason], ['not-sent', 'not-bound']);
    session.start();
    await waitFor(() => session.state === 'bound', 3_000, 'bound');
    const closing = session.close();
    const late = await session.submit(gsmSubmit('393330000003', 'late'));
    assert.deepEqual([late.kind, late.kind === 'not-sent' && late.reason], ['not-sent', 'closing']);
    await closing;
  });
});
