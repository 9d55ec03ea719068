// Invariant: a session binds in every mode (plain and verified TLS), and bind refusals (credentials,
// bind limit, untrusted certificate) never produce a tight reconnect loop or exceed the account cap.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { poolSubmitPort } from '../../src/app/submit-port.js';
import { Admission } from '../../src/pipeline/admission.js';
import type { SessionAffinity } from '../../src/pipeline/submit-loop.js';
import { SmppPool } from '../../src/smpp/session/pool.js';
import { fnv1a } from '../../src/smpp/protocol/pool-spec.js';
import { SmppSession } from '../../src/smpp/session/session.js';
import type { BindMode } from '../../src/smpp/protocol/types.js';
import { startSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { delay, fastSessionOptions, gsmSubmit, makeTlsMaterial, waitFor, type TlsMaterial } from './smpp-helpers.js';

describe('SMPP bind', () => {
  let sim: Simulator;
  let tlsMaterial: TlsMaterial;

  before(async () => {
    tlsMaterial = makeTlsMaterial();
    sim = await startSimulator({ plainPort: 0, tlsPort: 0, tlsKey: tlsMaterial.key, tlsCert: tlsMaterial.cert });
  });

  after(async () => {
    await sim.close();
    tlsMaterial.cleanup();
  });

  for (const mode of ['tx', 'rx', 'trx'] as BindMode[]) {
    it(`binds as ${mode} with interface 3.4 and unbinds on close`, async () => {
      const session = new SmppSession(fastSessionOptions(sim.plainPort as number, { mode }));
      session.start();
      await waitFor(() => session.state === 'bound', 3_000, `${mode} bound`);
      assert.equal(sim.stats().bindsBySystemId['test'], 1);
      await session.close();
      assert.equal(session.state, 'closed');
      await waitFor(() => sim.stats().bindsBySystemId['test'] === 0, 2_000, 'bind released');
    });
  }

  it('wrong password: long backoff, state not-ready, no reconnect loop', async () => {
    const before = sim.stats().bindsRefused['0x0E'] ?? 0;
    const session = new SmppSession(fastSessionOptions(sim.plainPort as number, { password: 'wrong', credentialBackoffMs: 1_500 }));
    const states: string[] = [];
    session.on('state', (change: { state: string }) => states.push(change.state));
    session.start();
    await delay(2_000);
    const attempts = session.stats().bindAttempts;
    await session.close();
    // 2 s with a 1.5 s (±20 %, so at least 1.2 s) backoff: the first attempt and at most one retry.
    // (2.5 s let two short draws, 1.2 s + 1.2 s, fit a third attempt: a CI run saw it.)
    assert.ok(attempts >= 1 && attempts <= 2, `bind attempts ${attempts}`);
    assert.ok(states.includes('not-ready'));
    assert.ok(!states.includes('bound'));
    assert.match(session.lastError() ?? '', /0x0E/);
    assert.equal((sim.stats().bindsRefused['0x0E'] ?? 0) - before, attempts);
  });

  it('5th bind of the account is refused with 0x05; concurrent binds never exceed 4', async () => {
    const pool = new SmppPool({ spec: 'trx:4', maxBinds: 4, session: fastSessionOptions(sim.plainPort as number) });
    pool.start();
    await waitFor(() => pool.boundCount() === 4, 3_000, '4 bound');
    const fifth = new SmppSession(fastSessionOptions(sim.plainPort as number, { sessionId: 'fifth', credentialBackoffMs: 5_000 }));
    fifth.start();
    await waitFor(() => fifth.state === 'not-ready', 3_000, 'fifth refused');
    assert.match(fifth.lastError() ?? '', /0x05/);
    assert.equal(fifth.stats().bindAttempts, 1);
    assert.ok((sim.stats().bindsRefused['0x05'] ?? 0) >= 1);
    assert.equal(sim.stats().maxConcurrentBindsBySystemId['test'], 4);
    await fifth.close();
    await pool.close();
  });

  it("a concatenated message stays on the session of its first segment when the key's own session binds in between (F15)", async () => {
    // Three binds held elsewhere leave the account (cap 4) one: the pool's second session is
    // refused (0x05) until one of them goes, as after a restart where sessions bind one by one.
    const holders = [0, 1, 2].map((i) => new SmppSession(fastSessionOptions(sim.plainPort as number, { sessionId: `holder-${i}` })));
    for (const h of holders) h.start();
    await waitFor(() => holders.every((h) => h.state === 'bound'), 3_000, 'holders bound');
    const pool = new SmppPool({ spec: 'trx:2', maxBinds: 2, session: fastSessionOptions(sim.plainPort as number, { credentialBackoffMs: 300 }) });
    pool.start();
    try {
      await waitFor(() => pool.boundCount() === 1, 3_000, 'one of two bound');
      const ready = pool.sessions().find((s) => s.isReady())!;
      const waiting = pool.sessions().find((s) => s !== ready)!;
      // a key whose own session (hash slot) is the one still waiting for its bind
      const waitingSlot = pool.sessions().indexOf(waiting);
      let key = 'k0';
      for (let i = 1; fnv1a(key) % 2 !== waitingSlot; i++) key = `k${i}`;
      assert.equal(pool.sessionForKey(key), ready, 'meanwhile the key falls back to the bound session');
      const port = poolSubmitPort(pool, new Admission(20));
      const affinity: SessionAffinity = {};
      const signal = new AbortController().signal;
      const first = await port.submit(key, gsmSubmit('393471234567', 'part 1'), signal, undefined, affinity);
      assert.equal(first.sessionId, ready.id);
      assert.equal(affinity.sessionId, ready.id);
      await holders[0]!.close();
      await waitFor(() => pool.boundCount() === 2, 5_000, "the key's own session bound");
      assert.equal(pool.sessionForKey(key), waiting, 'a new message of the key goes to its own session again');
      const second = await port.submit(key, gsmSubmit('393471234567', 'part 2'), signal, undefined, affinity);
      assert.equal(second.sessionId, ready.id, 'the second segment follows the first');
      assert.equal(second.kind, 'response');
    } finally {
      await pool.close();
      await Promise.all(holders.map((h) => h.close()));
    }
  });

  it('a pool never asks for more binds than the account cap', () => {
    assert.throws(() => new SmppPool({ spec: 'tx:3,rx:2', maxBinds: 4, session: fastSessionOptions(1) }), /allows 4/);
  });

  it('TLS bind works with the CA from a file and verification on', async () => {
    const session = new SmppSession(fastSessionOptions(sim.tlsPort as number, { tls: true, ca: readFileSync(tlsMaterial.caFile), tlsServername: 'localhost' }));
    session.start();
    await waitFor(() => session.state === 'bound', 3_000, 'TLS bound');
    await session.close();
  });

  it('TLS to an IP address: the certificate is checked against the IP, no SNI (no Node deprecation warning)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(`${w.name}: ${w.message}`);
    };
    process.on('warning', onWarning);
    try {
      // As the app passes it: SMPP_TLS_SERVERNAME defaults to SMPP_HOST, here an IP.
      const session = new SmppSession(
        fastSessionOptions(sim.tlsPort as number, { tls: true, ca: readFileSync(tlsMaterial.caFile), tlsServername: '127.0.0.1' }),
      );
      session.start();
      await waitFor(() => session.state === 'bound', 3_000, 'TLS bound by IP');
      await session.close();
      await delay(50); // process warnings are emitted on a later tick
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(
      warnings.filter((w) => /ServerName|SNI/i.test(w)),
      [],
    );
  });

  it('TLS with the wrong CA fails certificate verification and never binds', async () => {
    const session = new SmppSession(
      fastSessionOptions(sim.tlsPort as number, { tls: true, ca: readFileSync(tlsMaterial.otherCaFile), tlsServername: 'localhost' }),
    );
    const states: string[] = [];
    session.on('state', (change: { state: string }) => states.push(change.state));
    session.start();
    await waitFor(() => (session.stats().reconnectsByReason['socket-error'] ?? 0) >= 1, 3_000, 'TLS error');
    await session.close();
    assert.ok(!states.includes('bound'));
    assert.match(session.lastError() ?? '', /certificate|SELF_SIGNED|UNABLE_TO_VERIFY|CERT/i);
  });
});
