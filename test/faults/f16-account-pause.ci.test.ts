// Invariant (F16, contract 4 "outages pause, never DLQ"): an account-level refusal — credit
// exhausted (0x103), credentials refused (0x0E) — pauses intake, marks zero records failed, and
// intake resumes by itself once the account works again.
// CI scale: each outage lasts 6 s (docs/reliability.md §9 gives no length; the behaviour does not depend on it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoadGenerator, report, verdict, type LoadRecord } from '../helpers/fault-oracle.js';
import { envNumber, startFaultPipeline } from '../helpers/faults.js';
import { produce, waitUntil } from '../helpers/pipeline.js';

const OUTAGE_MS = envNumber('KSC_F16_OUTAGE_MS', 6000);

test('F16: credit exhausted then restored, and credentials wrong then fixed → intake pauses, zero records failed, resumes by itself', async () => {
  const fx = await startFaultPipeline('f16', { env: { SMPP_SESSIONS: 'trx:2', ACCOUNT_PROBE_INTERVAL_MS: '500', SMPP_BIND_ERROR_BACKOFF_MS: '1000' } });
  const records: LoadRecord[] = [];
  const faultTimes: number[] = [];
  try {
    await waitUntil(() => fx.sim.stats().bindsBySystemId['test'] === 2, 30000, 'sessions bound');
    const gen = new LoadGenerator(`f16-${Date.now()}`, { keys: 30 });
    const send = async (n: number) => {
      const batch = gen.next(n);
      records.push(...batch);
      await produce(
        fx.stack,
        fx.topics.outbound,
        fx.codec,
        batch.map((r) => ({ key: r.key, value: r.value })),
      );
    };
    const failed = () => fx.events().filter((e) => e.status === 'REJECTED' || e.status === 'EXPIRED').length;
    const account = () => fx.app.readiness().checks['account'];

    // ── credit ────────────────────────────────────────────────────────────────────────────────
    await send(300);
    await waitUntil(() => fx.sim.stats().acceptedSubmits >= 50, 30000, 'traffic flowing');
    fx.sim.setBehaviour({ creditExhausted: true });
    const creditAt = Date.now();
    await waitUntil(() => String(account()).startsWith('paused'), 10000, 'account paused on 0x103');
    const creditPausedMs = Date.now() - creditAt;
    await send(200);
    const submitsAtPause = fx.sim.stats().submitsReceived;
    await waitUntil(() => Date.now() - creditAt >= OUTAGE_MS, OUTAGE_MS + 1000, 'credit outage lasts');
    const creditProbes = fx.sim.stats().submitsReceived - submitsAtPause;
    const failedDuringCredit = failed();
    fx.sim.setBehaviour({ creditExhausted: false });
    const creditBack = Date.now();
    await waitUntil(() => account() === true, 15000, 'account gate open after credit returns');
    const creditResumeMs = Date.now() - creditBack;

    // ── credentials: the provider changes the password, the binds drop and cannot come back ───
    await send(300);
    await waitUntil(() => fx.sim.stats().acceptedSubmits >= 650, 60000, 'traffic flowing again');
    fx.sim.setAccount('test', 'rotated');
    const credAt = Date.now();
    const attemptsAt = fx.sim.stats().bindAttempts;
    const logsAt = fx.log.count(/invalid credentials/);
    faultTimes.push(credAt);
    fx.sim.dropConnections();
    await waitUntil(() => fx.app.readiness().ready === false, 10000, 'readiness false while no bind succeeds');
    await send(200);
    await waitUntil(() => Date.now() - credAt >= OUTAGE_MS, OUTAGE_MS + 1000, 'credentials outage lasts');
    const credLogLines = fx.log.count(/invalid credentials/) - logsAt;
    const refusedBinds = fx.sim.stats().bindAttempts - attemptsAt;
    const failedDuringCred = failed();
    const readyDuringCred = fx.app.readiness().ready;
    fx.sim.setAccount('test', 'secret');
    const credBack = Date.now();
    await waitUntil(() => fx.sim.stats().bindsBySystemId['test'] === 2, 15000, 'rebound after the password is fixed');
    const credResumeMs = Date.now() - credBack;

    const ids = new Set(records.map((r) => r.value.id));
    await waitUntil(
      () =>
        new Set(
          fx
            .events()
            .filter((e) => e.source === 'SUMMARY' && ids.has(e.id))
            .map((e) => e.id),
        ).size === ids.size,
      90000,
      'every record summarised',
    );
    const v = verdict({ records, accepted: fx.sim.acceptedSubmits(), events: fx.events(), faultTimes, inFlightBound: 2 * 10 });
    report('F16', {
      volume: records.length,
      creditPausedAfterMs: creditPausedMs,
      creditProbeSubmits: creditProbes,
      failedDuringCredit,
      creditResumeMs,
      refusedBindsDuringCred: refusedBinds,
      credLogLines,
      readyDuringCred,
      failedDuringCred,
      credResumeMs,
      rejectedOrExpired: v.rejected + v.expired,
      missing: v.missing,
      duplicates: v.duplicates,
      unexplained: v.unexplained,
      orderViolations: v.orderViolations,
    });
    assert.ok(v.sent >= 1000, 'minimum volume');
    assert.equal(failedDuringCredit, 0, 'no record failed while the credit was exhausted');
    assert.ok(creditProbes <= OUTAGE_MS / 500 + 10, `${creditProbes} submits while paused: intake did not stop`);
    assert.ok(creditResumeMs <= 5000, 'resumed by itself after the credit returned');
    assert.equal(readyDuringCred, false);
    assert.equal(failedDuringCred, 0, 'no record failed while credentials were refused');
    assert.ok(refusedBinds >= 2 && refusedBinds <= 2 * (OUTAGE_MS / 800 + 2), `bind retried with backoff, not in a tight loop (${refusedBinds} attempts)`);
    assert.ok(credLogLines >= 1 && credLogLines <= refusedBinds, 'one clear log line per refused bind');
    assert.ok(credResumeMs <= 10000, 'rebound by itself after the password was fixed');
    assert.equal(v.rejected + v.expired, 0, 'zero records marked failed');
    assert.equal(v.missing, 0, `missing ${JSON.stringify(v.missingIds)}`);
    assert.equal(v.unexplained, 0);
    assert.equal(v.orderViolations, 0);
  } finally {
    await fx.stop();
  }
});
