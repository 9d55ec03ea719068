// Invariant (F3): scaling 1 → 3 → 1 instances under load loses nothing, keeps per-key order, and
// the account never holds more binds than its cap (the simulator's own cap is raised so an
// overshoot would be visible instead of refused).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningApp } from '../../src/app/start.js';
import { LoadGenerator, report, verdict } from '../helpers/fault-oracle.js';
import { envNumber, startFaultPipeline } from '../helpers/faults.js';
import { produce, startReplica, waitUntil } from '../helpers/pipeline.js';

const CAP = 4;
const RECORDS = envNumber('KSC_F3_RECORDS', 2400);

test('F3: rebalance under load, 1 → 3 → 1 instances → missing 0, per-key order kept, binds never above the account cap', async () => {
  const fx = await startFaultPipeline('f3', {
    env: { SMPP_SESSIONS: 'trx:4', SMPP_ACCOUNT_MAX_BINDS: String(CAP), TOPIC_PARTITIONS: '6', SMPP_RATE_LIMIT: '50' },
    behaviour: { maxBindsPerSystemId: 16 },
  });
  const replicas: RunningApp[] = [];
  try {
    await waitUntil(() => fx.sim.stats().bindsBySystemId['test'] === CAP, 30000, 'first instance bound');
    const records = new LoadGenerator(`f3-${Date.now()}`, { keys: 80 }).next(RECORDS);
    await produce(
      fx.stack,
      fx.topics.outbound,
      fx.codec,
      records.map((r) => ({ key: r.key, value: r.value })),
    );
    const accepted = () => fx.sim.stats().acceptedSubmits;
    await waitUntil(() => accepted() >= RECORDS / 6, 60000, 'flowing with 1');
    replicas.push(await startReplica(fx), await startReplica(fx));
    await waitUntil(() => accepted() >= RECORDS / 2, 120000, 'flowing with 3');
    for (const r of replicas.splice(0)) await r.stop();
    const ids = new Set(records.map((r) => r.value.id));
    await waitUntil(
      () =>
        new Set(
          fx
            .events()
            .filter((e) => e.source === 'SUMMARY' && ids.has(e.id))
            .map((e) => e.id),
        ).size === ids.size,
      180000,
      'every record summarised',
    );
    const v = verdict({ records, accepted: fx.sim.acceptedSubmits(), events: fx.events() });
    const maxBinds = fx.sim.stats().maxConcurrentBindsBySystemId['test'] ?? 0;
    report('F3', { volume: RECORDS, scale: '1→3→1', maxConcurrentBinds: maxBinds, cap: CAP, ...v });
    assert.ok(v.sent >= 1000);
    assert.equal(v.missing, 0, `missing ${JSON.stringify(v.missingIds)}`);
    assert.equal(v.missingEvents, 0);
    assert.equal(v.orderViolations, 0, 'per-key order kept');
    assert.ok(maxBinds <= CAP, `binds peaked at ${maxBinds} > ${CAP}`);
  } finally {
    for (const r of replicas) await r.stop();
    await fx.stop();
  }
});
