import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningApp } from '../../src/app/start.js';
import { acceptedByDigest, planned, summarised, type PlannedRequest } from '../helpers/oracle.js';
import { collectDelivery, committedVsEnd, outbound, produce, startPipeline, startReplica, waitUntil } from '../helpers/pipeline.js';

/*
 * Replicas share one account through the consumer group's bind-slot assigner. The simulator's own
 * bind cap is raised to 16 here ON PURPOSE: with the provider's 4 it would refuse a fifth bind
 * itself and the count below could never show an overshoot — this way any moment with more than
 * SMPP_ACCOUNT_MAX_BINDS binds is recorded in maxConcurrentBindsBySystemId.
 */
const CAP = 4;
const CHUNK = 600;

test('replicas: with 1 → 2 → 3 instances (trx:4 each, SMPP_ACCOUNT_MAX_BINDS=4) the account never holds more than 4 binds while records flow and instances join; every record ends, no duplicates', async (t) => {
  const fx = await startPipeline('replicas', {
    env: { SMPP_SESSIONS: 'trx:4', SMPP_ACCOUNT_MAX_BINDS: String(CAP), TOPIC_PARTITIONS: '6' },
    behaviour: { maxBindsPerSystemId: 16 },
    simulator: { recordAccepted: true },
  });
  const delivery = await collectDelivery(fx);
  const replicas: RunningApp[] = [];
  const plans = new Map<string, PlannedRequest>();
  const binds = () => fx.sim.stats().bindsBySystemId['test'] ?? 0;
  let chunkNo = 0;
  const produceChunk = async (): Promise<void> => {
    const values = Array.from({ length: CHUNK }, (_, i) => {
      const n = chunkNo * CHUNK + i;
      return outbound(`rep-${n}`, { to: `+39347${String(4000000 + n).slice(-7)}`, text: `replica test ${n}` });
    });
    chunkNo += 1;
    for (const v of values) plans.set(v.id, planned(v)!);
    await produce(
      fx.stack,
      fx.topics.outbound,
      fx.codec,
      values.map((v, i) => ({ key: `k${i % 60}`, value: v })),
    );
  };
  try {
    await waitUntil(() => binds() === CAP, 20000, 'the first instance holds all 4 binds');
    await produceChunk();
    await waitUntil(() => fx.sim.stats().acceptedSubmits >= 200, 30000, 'records flowing');

    replicas.push(await startReplica(fx));
    await produceChunk();
    // the new member got slots: 2 + 2 (water-filling), and records still flow
    await waitUntil(async () => binds() === CAP && (await gaugeValue(replicas[0]!)) > 0, 30000, 'second instance holds bind slots');
    const accepted2 = fx.sim.stats().acceptedSubmits;
    await waitUntil(() => fx.sim.stats().acceptedSubmits >= accepted2 + 200, 30000, 'records flowing with two instances');

    replicas.push(await startReplica(fx));
    await produceChunk();
    await waitUntil(async () => (await gaugeValue(replicas[1]!)) > 0 && binds() === CAP, 30000, 'third instance holds bind slots');
    const slots = await Promise.all([fx.app, ...replicas].map(gaugeValue));
    await produceChunk();

    const ids = [...plans.keys()];
    await waitUntil(
      () =>
        summarised(
          delivery.records.map((r) => r.value),
          ids,
        ).done === ids.length,
      90000,
      'every record summarised',
    );
    await waitUntil(
      async () => {
        const { committed, end } = await committedVsEnd(fx);
        return committed === end;
      },
      30000,
      'offsets committed to the end',
    );
    const stats = fx.sim.stats();
    const accepted = acceptedByDigest(fx.sim.acceptedSubmits());
    const duplicates = [...accepted.values()].reduce((n, c) => n + c - 1, 0);
    const unsent = [...plans.values()].flatMap((p) => p.digests).filter((d) => !accepted.has(d)).length;
    t.diagnostic(
      `max concurrent binds ${stats.maxConcurrentBindsBySystemId['test']} (cap ${CAP}); slots with 3 instances ${JSON.stringify(slots)}; ` +
        `bind attempts ${stats.bindAttempts}, refused ${JSON.stringify(stats.bindsRefused)}; duplicates ${duplicates}`,
    );
    assert.ok((stats.maxConcurrentBindsBySystemId['test'] ?? 0) <= CAP, `binds peaked at ${stats.maxConcurrentBindsBySystemId['test']} > ${CAP}`);
    assert.equal(
      slots.reduce((a, b) => a + b, 0),
      CAP,
      'the slots of the three instances add up to the cap',
    );
    assert.equal(unsent, 0, 'every record submitted');
    assert.equal(duplicates, 0, 'rebalances drained in time: no duplicates');
  } finally {
    await delivery.stop();
    for (const r of replicas.reverse()) await r.stop();
    await fx.stop();
  }
});

/** The instance's current bind slots, from its own metrics (sms_connector_bind_slots). */
async function gaugeValue(app: RunningApp): Promise<number> {
  return (await app.metrics.bindSlots.get()).values[0]?.value ?? 0;
}
