// Invariant (issue 21 §1–3): with a routes file, requests go to the first route of their rule; when
// that route's account runs out of credit (0x103), or its SMSC answers every submit with a system
// error (its circuit opens), the traffic fails over to the next route with nothing REJECTED, lost or
// sent twice; when the route works again, new requests go back to it; every event names the route
// that carried its request, and receipts correlate on the route they came from.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApp } from '../../src/app/start.js';
import { loadConfig } from '../../src/config.js';
import { AvroCodec } from '../../src/kafka/codec.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { collectDelivery, outbound, produce, testEnv, testLogger, waitUntil } from '../helpers/pipeline.js';
import { writeRoutesFile } from '../helpers/routes-file.js';
import { byRequest, summarised } from '../helpers/oracle.js';
import { testStack, uniqueTopics } from '../helpers/stack.js';

/** A connector with two routes, `primary` (two sessions) then `backup` (one), each on its own simulator. */
async function twoRoutes(name: string, env: Record<string, string>) {
  const stack = await testStack();
  const topics = uniqueTopics(name);
  const primary = await startSimulator({ plainPort: 0, behaviour: { receiptDelayMs: 10 } });
  const backup = await startSimulator({ plainPort: 0, accounts: { backup: 'b4ckup' }, behaviour: { receiptDelayMs: 10 } });
  const dir = mkdtempSync(join(tmpdir(), 'ksc-routes-'));
  const routesFile = writeRoutesFile(join(dir, 'routes.json'), {
    routes: [
      { name: 'primary', port: primary.plainPort, systemId: 'test', password: 'secret', sessions: 'trx:2', rateLimit: 100 },
      { name: 'backup', port: backup.plainPort, systemId: 'backup', password: 'b4ckup', sessions: 'trx:1', accountMaxBinds: 1 },
    ],
    rules: [{ name: 'default', routes: ['primary', 'backup'] }],
  });
  const config = loadConfig(testEnv(stack, topics, 0, { ROUTES_FILE: routesFile, ...env }));
  const app = await startApp(config, testLogger);
  const codec = new AvroCodec(config.registry, config.topics);
  await codec.registerContracts();
  const delivery = await collectDelivery({ stack, topics, codec });
  const events = () => delivery.records.map((r) => r.value);
  const routeState = (route: string) => app.readiness().checks[`route:${route}`];
  const stop = async (): Promise<void> => {
    await delivery.stop();
    await app.stop();
    await primary.close();
    await backup.close();
  };
  try {
    await waitUntil(() => routeState('backup') === true && routeState('primary') === true, 30000, 'both routes bound');
  } catch (err) {
    await stop(); // the test's own finally never gets this fixture
    throw err;
  }
  return {
    app,
    primary,
    backup,
    routeState,
    /** Requests `route-<from>` … `route-<from + n - 1>`, on 20 keys. */
    produceRange: (from: number, n: number) =>
      produce(
        stack,
        topics.outbound,
        codec,
        Array.from({ length: n }, (_, i) => ({
          key: `k${(from + i) % 20}`,
          value: outbound(`route-${from + i}`, { to: `+39347${String(4000000 + from + i).slice(-7)}` }),
        })),
      ),
    submitted: () => events().filter((e) => e.source === 'SUBMIT' && e.status === 'SUBMITTED'),
    /** Every request `route-0` … `route-<n - 1>`: one SUBMITTED, its receipt from the route that carried it, a DELIVERED summary; nothing rejected, nothing accepted twice. */
    async assertEachDeliveredOnce(n: number): Promise<void> {
      const ids = Array.from({ length: n }, (_, i) => `route-${i}`);
      await waitUntil(() => summarised(events(), ids).missing.length === 0, 60000, 'every request summarised');
      const byId = byRequest(events());
      assert.equal(events().filter((e) => e.status === 'REJECTED').length, 0, 'nothing REJECTED');
      assert.equal(events().filter((e) => e.id.startsWith('unknown:')).length, 0, 'every receipt correlated');
      for (const id of ids) {
        const es = byId.get(id) ?? [];
        const sub = es.filter((e) => e.source === 'SUBMIT');
        assert.equal(sub.length, 1, `${id}: one SUBMITTED`);
        const receipt = es.find((e) => e.source === 'RECEIPT');
        assert.equal(receipt?.route, sub[0]!.route, `${id}: the receipt came back on its route`);
        assert.equal(es.find((e) => e.source === 'SUMMARY')?.status, 'DELIVERED', `${id}: summary DELIVERED`);
      }
      assert.equal(primary.stats().acceptedSubmits + backup.stats().acceptedSubmits, n, 'each request accepted once, by one of the two SMSCs');
    },
    stop,
  };
}

const firstAt = (events: SmsDeliveryEvent[]) => Math.min(...events.map((e) => e.submittedAt ?? Infinity));

test('failover to the backup route on credit exhaustion and back when it returns; events name their route; receipts correlate per route', async (t) => {
  const fx = await twoRoutes('routes', { ACCOUNT_PROBE_INTERVAL_MS: '300', ROUTE_FAILOVER_UNBOUND_MS: '5000' });
  try {
    // 1. the first route of the rule takes the traffic
    await fx.produceRange(0, 100);
    await waitUntil(() => fx.submitted().length >= 100, 30000, 'the first 100 submitted');
    assert.deepEqual(new Set(fx.submitted().map((e) => e.route)), new Set(['primary']));

    // 2. the primary runs out of credit: failover, nothing rejected
    fx.primary.setBehaviour({ creditExhausted: true });
    const outageAt = Date.now();
    await fx.produceRange(100, 200);
    await waitUntil(() => fx.submitted().filter((e) => e.route === 'backup').length >= 190, 60000, 'the backup route carries the traffic');
    const firstOnBackup = firstAt(fx.submitted().filter((e) => e.route === 'backup'));

    // 3. the credit returns. A paused route learns it from a probe, and a probe is one of the requests
    // routed there: requests keep coming (one at a time) until the primary is open, then new ones go back to it
    fx.primary.setBehaviour({ creditExhausted: false });
    const returnedAt = Date.now();
    let next = 300;
    await waitUntil(
      async () => {
        if (fx.routeState('primary') === true) return true;
        await fx.produceRange(next++, 1);
        return false;
      },
      30000,
      'the primary open again',
    );
    const firstLate = next;
    await fx.produceRange(firstLate, 100);
    await waitUntil(() => fx.submitted().length >= firstLate + 100, 60000, 'every request submitted');
    const late = fx.submitted().filter((e) => Number(e.id.slice('route-'.length)) >= firstLate);
    const firstBackOnPrimary = firstAt(fx.submitted().filter((e) => e.route === 'primary' && (e.submittedAt ?? 0) >= returnedAt));
    assert.ok(
      late.filter((e) => e.route === 'primary').length >= 90,
      `failback: ${late.filter((e) => e.route === 'primary').length} of the last 100 on the primary`,
    );

    await fx.assertEachDeliveredOnce(firstLate + 100);
    t.diagnostic(
      `failover: first submit on the backup ${firstOnBackup - outageAt} ms after the credit ran out; failback: first new request on the primary ${firstBackOnPrimary - returnedAt} ms after it returned; backup carried ${fx.backup.stats().acceptedSubmits}`,
    );
  } finally {
    await fx.stop();
  }
});

test('circuit: the primary answers every submit with 0x08 mid-run → its circuit opens and the traffic fails over; it answers again → after the cooldown one request tries it and the traffic returns', async (t) => {
  const OPEN_MS = 3000;
  const fx = await twoRoutes('circuit', { ROUTE_CIRCUIT_FAILURES: '5', ROUTE_CIRCUIT_OPEN_MS: String(OPEN_MS) });
  // a steady 50 requests/s, as a live service sends: the trial after each cooldown is one of them
  let produced = 0;
  let producing = true;
  const trickle = (async () => {
    while (producing) {
      await fx.produceRange(produced, 10);
      produced += 10;
      await sleep(200);
    }
  })();
  const onPrimary = (since: number) => fx.submitted().filter((e) => e.route === 'primary' && (e.submittedAt ?? 0) >= since);
  const circuitGauge = async () =>
    (await fx.app.metrics.registry.getSingleMetricAsString('sms_connector_route_circuit_open')).match(/route="primary"\} (\d)/)?.[1];
  try {
    await waitUntil(() => fx.submitted().length >= 50, 30000, 'traffic on the primary');
    assert.deepEqual(new Set(fx.submitted().map((e) => e.route)), new Set(['primary']));
    assert.equal(await circuitGauge(), '0');

    // 1. the primary stays bound but refuses everything with a system error: the circuit opens, the backup takes over
    fx.primary.setBehaviour({ outcomeRatios: [{ ratio: 1, outcome: { kind: 'submit-error', status: 0x08 } }] });
    const faultAt = Date.now();
    await waitUntil(() => /^circuit (open|half-open): 0x08 ESME_RSYSERR$/.test(String(fx.routeState('primary'))), 30000, 'the primary circuit open');
    assert.equal(await circuitGauge(), '1');
    // two cooldowns at least: a trial fails and opens it again
    await waitUntil(
      () => Date.now() - faultAt > 2 * OPEN_MS && fx.submitted().filter((e) => e.route === 'backup').length >= 100,
      60000,
      'the backup carries the traffic',
    );
    const firstOnBackup = firstAt(fx.submitted().filter((e) => e.route === 'backup'));
    const outageMs = Date.now() - faultAt;
    // what the primary refused: the run that opened it, what was on the wire or retrying there then
    // (2 sessions × window 10), and one trial per cooldown — not the traffic of the whole outage
    const refused = fx.primary.stats().rejectedSubmits;
    const refusedBound = 5 + 2 * 10 + Math.ceil(outageMs / OPEN_MS) + 1;
    assert.ok(refused <= refusedBound, `the primary refused ${refused} submits in ${outageMs} ms (bound ${refusedBound})`);

    // 2. the primary answers again: after the cooldown a trial is accepted, new requests return to it
    fx.primary.setBehaviour({ outcomeRatios: [] });
    const returnedAt = Date.now();
    await waitUntil(() => fx.routeState('primary') === true, OPEN_MS + 30000, 'the primary circuit closed by an accepted trial');
    // requests produced from now on choose their route after the close (those chosen before it finish on the backup)
    const firstAfterClose = produced + 10;
    const afterClose = () => fx.submitted().filter((e) => Number(e.id.slice('route-'.length)) >= firstAfterClose);
    await waitUntil(() => afterClose().length >= 50, 60000, 'traffic after the close');
    const firstBackOnPrimary = firstAt(onPrimary(returnedAt));
    assert.equal(await circuitGauge(), '0');
    assert.ok(firstBackOnPrimary - returnedAt <= OPEN_MS + 10000, `back on the primary ${firstBackOnPrimary - returnedAt} ms after it answered again`);
    const backOnPrimary = afterClose().filter((e) => e.route === 'primary').length;
    assert.ok(
      backOnPrimary >= 0.9 * afterClose().length,
      `failback: ${backOnPrimary} of ${afterClose().length} requests produced after the close on the primary`,
    );

    producing = false;
    await trickle;
    await fx.assertEachDeliveredOnce(produced);
    t.diagnostic(
      `circuit failover: first submit on the backup ${firstOnBackup - faultAt} ms after the primary began answering 0x08 (it refused ${refused} in ${outageMs} ms); failback: first request on the primary ${firstBackOnPrimary - returnedAt} ms after it answered again (cooldown ${OPEN_MS} ms); ${produced} requests, backup carried ${fx.backup.stats().acceptedSubmits}`,
    );
  } finally {
    producing = false;
    await trickle.catch(() => undefined);
    await fx.stop();
  }
});
