// Invariant: pacing keeps each session under the SMSC's strict per-second limit (≈0 throttled) while
// reaching ≥ 80 % of the allowed rate; under a 0x58 storm the session slows down and nothing is lost.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { SmppPool } from '../../src/smpp/session/pool.js';
import { startSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { fastSessionOptions, gsmSubmit, submitUntilAccepted, waitFor } from './smpp-helpers.js';

describe('SMPP throughput and pacing', () => {
  let sim: Simulator;

  before(async () => {
    sim = await startSimulator({ plainPort: 0, behaviour: { throughputPerSecond: 100 } });
  });

  after(async () => {
    await sim.close();
  });

  // A failed test must not leave its binds open: the next test's pool would wait on the account's
  // cap, and the open sockets would keep the test process alive.
  const pools = new Set<SmppPool>();
  afterEach(async () => {
    for (const pool of pools) await pool.close();
    pools.clear();
  });

  it('1,000 messages at 100/s/session over 4 sessions: < 1 % throttled, all accepted, ≥ 80 % of the allowed rate', async () => {
    const pool = new SmppPool({ spec: 'trx:4', maxBinds: 4, session: fastSessionOptions(sim.plainPort as number) });
    pools.add(pool);
    pool.start();
    await waitFor(() => pool.boundCount() === 4, 3_000, '4 bound');
    const sessions = pool.sessions();
    const base = sim.stats();
    const total = 1_000;
    const started = Date.now();
    const perSession = sessions.map(() => ({ accepted: 0, lastAt: 0 }));
    let throttledSeen = 0;
    await Promise.all(
      Array.from({ length: total }, async (_, i) => {
        const index = i % sessions.length;
        const { result, throttled } = await submitUntilAccepted(sessions[index]!, gsmSubmit(`39333${String(i).padStart(7, '0')}`, `load ${i}`));
        throttledSeen += throttled;
        assert.equal(result.kind, 'response');
        assert.equal(result.kind === 'response' && result.commandStatus, 0);
        const stats = perSession[index]!;
        stats.accepted += 1;
        stats.lastAt = Date.now();
      }),
    );
    const stats = sim.stats();
    const throttled = stats.throttled - base.throttled;
    const accepted = stats.acceptedSubmits - base.acceptedSubmits;
    const rates = perSession.map((s) => s.accepted / ((s.lastAt - started) / 1000));
    const allowed = 98; // floor((1 − 0.02) × 100)
    console.log(`pacing: per-session rates ${rates.map((r) => r.toFixed(1)).join(', ')} msg/s (allowed ${allowed}); simulator throttled ${throttled}`);
    assert.equal(accepted, total, 'every message accepted exactly once');
    assert.ok(throttled < total * 0.01, `throttled ${throttled}`);
    assert.equal(throttledSeen, throttled, 'every throttled submit was seen by the client and retried');
    for (const rate of rates) assert.ok(rate >= allowed * 0.8, `rate ${rate.toFixed(1)} < 80 % of ${allowed}`);
    await pool.close();
  });

  it('0x58 storm (30 % throttled): sessions slow down, every message is still accepted, counters agree', async () => {
    const pool = new SmppPool({ spec: 'trx:3', maxBinds: 4, session: fastSessionOptions(sim.plainPort as number) });
    pools.add(pool);
    pool.start();
    await waitFor(() => pool.boundCount() === 3, 3_000, '3 bound');
    const base = sim.stats();
    sim.setBehaviour({ throttleRatio: 0.3 });
    try {
      const sessions = pool.sessions();
      const total = 150;
      const results = await Promise.all(
        Array.from({ length: total }, (_, i) =>
          submitUntilAccepted(sessions[i % sessions.length]!, gsmSubmit(`4477${String(i).padStart(8, '0')}`, `storm ${i}`)),
        ),
      );
      for (const { result } of results) assert.equal(result.kind === 'response' && result.commandStatus, 0);
      const stats = sim.stats();
      const clientThrottled = sessions.reduce((sum, s) => sum + s.stats().throttled, 0);
      // How far each pace dropped is the pacer's unit tests' business; here: every session saw
      // throttling and reacted (a session recovers after 2 s without 0x58, so its rate *now* may be back).
      const slowedDown = sessions.filter((s) => s.stats().throttled > 0 && s.currentRate() <= 98).length;
      console.log(
        `0x58 storm: simulator throttled ${stats.throttled - base.throttled}, client counted ${clientThrottled}, rates now ${sessions.map((s) => s.currentRate()).join(', ')}`,
      );
      assert.equal(stats.acceptedSubmits - base.acceptedSubmits, total);
      assert.equal(clientThrottled, stats.throttled - base.throttled, 'the throttled counter equals the SMSC count');
      assert.ok(clientThrottled > 0);
      assert.equal(slowedDown, sessions.length, 'every session was throttled and stays within its cap');
    } finally {
      sim.setBehaviour({ throttleRatio: 0 });
      await pool.close();
    }
  });

  it('an SMSC limit below ours (50/s): the rate falls under it within 2 s and nothing fails', async () => {
    sim.setBehaviour({ throughputPerSecond: 50 });
    const pool = new SmppPool({ spec: 'trx:1', maxBinds: 4, session: fastSessionOptions(sim.plainPort as number) });
    pools.add(pool);
    pool.start();
    try {
      await waitFor(() => pool.boundCount() === 1, 3_000, 'bound');
      const session = pool.sessions()[0]!;
      const base = sim.stats();
      const throttleTimes: number[] = [];
      const started = Date.now();
      await Promise.all(
        Array.from({ length: 150 }, async (_, i) => {
          const { result, throttled } = await submitUntilAccepted(session, gsmSubmit(`4912${String(i).padStart(8, '0')}`, `slow ${i}`));
          if (throttled > 0) throttleTimes.push(Date.now() - started);
          assert.equal(result.kind === 'response' && result.commandStatus, 0);
        }),
      );
      const throttled = sim.stats().throttled - base.throttled;
      const lateThrottles = throttleTimes.filter((t) => t > 2_000).length;
      console.log(`SMSC at 50/s: throttled ${throttled}, rate now ${session.currentRate()}, throttles after 2 s: ${lateThrottles}`);
      assert.ok(session.currentRate() <= 50);
    } finally {
      sim.setBehaviour({ throughputPerSecond: 100 });
      await pool.close();
    }
  });
});
