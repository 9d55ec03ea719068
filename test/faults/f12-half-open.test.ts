// Invariant (F12): a half-open link (no FIN, no data) is detected within the enquire_link interval
// plus its timeout, the session is replaced on a new connection, and nothing is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { LoadGenerator, report, verdict } from '../helpers/fault-oracle.js';
import { metricSum, startFaultPipeline } from '../helpers/faults.js';
import { produce, waitUntil } from '../helpers/pipeline.js';

const ENQUIRE_MS = 1000; // enquire_link timeout = min(response timeout 2000, interval) = 1000

test('F12: half-open link (proxy stops forwarding, no FIN) → detected within enquire interval + its timeout; session replaced; missing 0', async () => {
  let proxy: FaultProxy | undefined;
  const fx = await startFaultPipeline('f12', {
    env: { SMPP_SESSIONS: 'trx:2', SMPP_ENQUIRE_LINK_MS: String(ENQUIRE_MS), SMPP_RESPONSE_TIMEOUT_MS: '2000', SMPP_RATE_LIMIT: '40' },
    smppPort: async (p) => (proxy = await FaultProxy.start({ targetPort: p })).port,
  });
  try {
    await waitUntil(() => fx.sim.stats().bindsBySystemId['test'] === 2, 30000, 'bound');
    const records = new LoadGenerator(`f12-${Date.now()}`, { keys: 30 }).next(600);
    await produce(
      fx.stack,
      fx.topics.outbound,
      fx.codec,
      records.map((r) => ({ key: r.key, value: r.value })),
    );
    await waitUntil(() => fx.sim.stats().acceptedSubmits >= 150, 30000, 'flowing');
    const accepted = proxy!.stats().accepted;
    const hungAt = Date.now();
    proxy!.hang();
    await waitUntil(() => proxy!.hungOpen() === 0, 10000, 'connector gave up both hung links');
    const detectMs = Date.now() - hungAt;
    await waitUntil(() => proxy!.stats().accepted >= accepted + 2 && fx.app.readiness().ready, 10000, 'sessions replaced');
    const replacedMs = Date.now() - hungAt;
    const ids = new Set(records.map((r) => r.value.id));
    await waitUntil(
      () =>
        new Set(
          fx
            .events()
            .filter((e) => e.source === 'SUMMARY' && ids.has(e.id))
            .map((e) => e.id),
        ).size === ids.size,
      120000,
      'every record summarised',
    );
    const v = verdict({ records, accepted: fx.sim.acceptedSubmits(), events: fx.events(), faultTimes: [hungAt], inFlightBound: 2 * 10 });
    const reasons = {
      enquire: await metricSum(fx.app, 'sms_connector_reconnects_total', { reason: 'enquire-link-timeout' }),
      responseTimeout: await metricSum(fx.app, 'sms_connector_reconnects_total', { reason: 'response-timeout' }),
    };
    report('F12', { enquireLinkMs: ENQUIRE_MS, enquireTimeoutMs: 1000, detectMs, replacedMs, reconnectReasons: reasons, ...v });
    // interval + timeout, plus scheduling margin under a loaded CI machine
    assert.ok(detectMs <= ENQUIRE_MS + 1000 + 1000, `detected after ${detectMs} ms`);
    assert.equal(v.missing, 0);
    assert.equal(v.missingEvents, 0);
    assert.equal(v.unexplained, 0);
  } finally {
    await fx.stop();
    await proxy?.close();
  }
});
