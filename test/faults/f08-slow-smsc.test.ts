// Invariant (F8): an SMSC answering every submit 5 s late causes no rebalance, in-flight stays
// ≤ sessions × window, and no response times out when the timeout is above 5 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoadGenerator, report, verdict } from '../helpers/fault-oracle.js';
import { metricSum, startFaultPipeline } from '../helpers/faults.js';
import { produce, waitUntil } from '../helpers/pipeline.js';

const SESSIONS = 2;
const WINDOW = 10;

test('F8: SMSC answers every submit 5 s late → no rebalance, in-flight ≤ sessions × window, no response timeouts (timeout 8 s)', async () => {
  const fx = await startFaultPipeline('f8', {
    env: { SMPP_SESSIONS: `trx:${SESSIONS}`, SMPP_WINDOW: String(WINDOW), SMPP_RESPONSE_TIMEOUT_MS: '8000' },
    behaviour: { responseLatencyMs: 5000 },
  });
  try {
    await waitUntil(() => fx.sim.stats().bindsBySystemId['test'] === SESSIONS, 30000, 'bound');
    const joinsBefore = fx.log.count('joined consumer group');
    const gen = new LoadGenerator(`f8-${Date.now()}`, { keys: 40 });
    const records = gen.next(100);
    await produce(
      fx.stack,
      fx.topics.outbound,
      fx.codec,
      records.map((r) => ({ key: r.key, value: r.value })),
    );
    let maxInFlight = 0;
    const ids = new Set(records.map((r) => r.value.id));
    const t0 = Date.now();
    await waitUntil(
      async () => {
        maxInFlight = Math.max(maxInFlight, await metricSum(fx.app, 'sms_connector_window_in_flight'));
        return (
          new Set(
            fx
              .events()
              .filter((e) => e.status === 'SUBMITTED' && ids.has(e.id))
              .map((e) => e.id),
          ).size === ids.size
        );
      },
      120000,
      'every record submitted',
    );
    const elapsedMs = Date.now() - t0;
    const v = verdict({ records, accepted: fx.sim.acceptedSubmits(), events: fx.events() });
    const rebalances = fx.log.count('consumer group rebalancing') + fx.log.count('joined consumer group') - joinsBefore;
    const timeouts = fx.sim.stats().unansweredSubmits + (await metricSum(fx.app, 'sms_connector_reconnects_total', { reason: 'response-timeout' }));
    const ambiguous = fx.events().filter((e) => e.attempts > 1).length;
    report('F8', {
      responseLatencyMs: 5000,
      responseTimeoutMs: 8000,
      maxInFlight,
      bound: SESSIONS * WINDOW,
      rebalances,
      timeouts,
      retriedEvents: ambiguous,
      elapsedMs,
      missing: v.missing,
      duplicates: v.duplicates,
    });
    assert.ok(v.sent >= 100);
    assert.equal(rebalances, 0, 'no rebalance while submits wait 5 s');
    assert.ok(maxInFlight <= SESSIONS * WINDOW, `in-flight ${maxInFlight}`);
    assert.ok(maxInFlight >= WINDOW, 'the windows did fill (the test measured something)');
    assert.equal(timeouts, 0, 'no response timeouts');
    assert.equal(ambiguous, 0, 'every submit accepted at the first attempt');
    assert.equal(v.missing, 0);
    assert.equal(v.duplicates, 0);
  } finally {
    await fx.stop();
  }
});
