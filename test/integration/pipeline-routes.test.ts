// Invariant (issue 21 §1–3): with a routes file, requests go to the first route of their rule; when
// that route's account runs out of credit (0x103) the traffic fails over to the next route with nothing
// REJECTED, lost or sent twice; when the credit returns, new requests go back to the first route; every
// event names the route that carried its request, and receipts correlate on the route they came from.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startApp } from '../../src/app/start.js';
import { loadConfig } from '../../src/config.js';
import { AvroCodec } from '../../src/kafka/codec.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { collectDelivery, outbound, produce, testEnv, testLogger, waitUntil } from '../helpers/pipeline.js';
import { testStack, uniqueTopics } from '../helpers/stack.js';

test('failover to the backup route on credit exhaustion and back when it returns; events name their route; receipts correlate per route', async (t) => {
  const stack = await testStack();
  const topics = uniqueTopics('routes');
  const primary = await startSimulator({ plainPort: 0, behaviour: { receiptDelayMs: 10 } });
  const backup = await startSimulator({ plainPort: 0, accounts: { backup: 'b4ckup' }, behaviour: { receiptDelayMs: 10 } });
  const dir = mkdtempSync(join(tmpdir(), 'ksc-routes-'));
  const routesFile = join(dir, 'routes.yaml');
  writeFileSync(
    routesFile,
    [
      'routes:',
      '  - { name: primary, host: 127.0.0.1, port: ' +
        primary.plainPort +
        ', tls: false, systemId: test, password: secret, sessions: "trx:2", rateLimit: 100 }',
      '  - { name: backup, host: 127.0.0.1, port: ' +
        backup.plainPort +
        ', tls: false, systemId: backup, password: b4ckup, sessions: "trx:1", accountMaxBinds: 1 }',
      'rules:',
      '  - { name: default, routes: [primary, backup] }',
    ].join('\n'),
  );
  const env = testEnv(stack, topics, 0, { ROUTES_FILE: routesFile, ACCOUNT_PROBE_INTERVAL_MS: '300', ROUTE_FAILOVER_UNBOUND_MS: '5000' });
  const config = loadConfig(env);
  const app = await startApp(config, testLogger);
  const codec = new AvroCodec(config.registry, config.topics);
  await codec.registerContracts();
  const delivery = await collectDelivery({ stack, topics, codec });
  const batch = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      key: `k${(from + i) % 20}`,
      value: outbound(`route-${from + i}`, { to: `+39347${String(4000000 + from + i).slice(-7)}` }),
    }));
  const submitted = () => delivery.records.map((r) => r.value).filter((e) => e.source === 'SUBMIT' && e.status === 'SUBMITTED');
  try {
    await waitUntil(() => app.readiness().checks['route:backup'] === true && app.readiness().checks['route:primary'] === true, 30000, 'both routes bound');

    // 1. the first route of the rule takes the traffic
    await produce(stack, topics.outbound, codec, batch(0, 100));
    await waitUntil(() => submitted().length >= 100, 30000, 'the first 100 submitted');
    assert.deepEqual(new Set(submitted().map((e) => e.route)), new Set(['primary']));

    // 2. the primary runs out of credit: failover, nothing rejected
    primary.setBehaviour({ creditExhausted: true });
    const outageAt = Date.now();
    await produce(stack, topics.outbound, codec, batch(100, 200));
    await waitUntil(() => submitted().filter((e) => e.route === 'backup').length >= 190, 60000, 'the backup route carries the traffic');
    const firstOnBackup = Math.min(
      ...submitted()
        .filter((e) => e.route === 'backup')
        .map((e) => e.submittedAt ?? Infinity),
    );

    // 3. the credit returns: new requests go back to the primary
    primary.setBehaviour({ creditExhausted: false });
    const returnedAt = Date.now();
    await waitUntil(() => app.readiness().checks['route:primary'] === true, 30000, 'the primary open again');
    await produce(stack, topics.outbound, codec, batch(300, 100));
    await waitUntil(() => submitted().length >= 400, 60000, 'every request submitted');
    const late = submitted().filter((e) => Number(e.id.slice('route-'.length)) >= 300);
    const firstBackOnPrimary = Math.min(...late.filter((e) => e.route === 'primary').map((e) => e.submittedAt ?? Infinity));
    assert.ok(
      late.filter((e) => e.route === 'primary').length >= 90,
      `failback: ${late.filter((e) => e.route === 'primary').length} of the last 100 on the primary`,
    );

    // every request: one SUBMITTED, a DELIVERED summary, its receipt from the route that carried it; nothing rejected
    const ids = Array.from({ length: 400 }, (_, i) => `route-${i}`);
    await waitUntil(
      () => new Set(delivery.records.filter((r) => r.value.source === 'SUMMARY').map((r) => r.value.id)).size >= 400,
      60000,
      'every request summarised',
    );
    const events = delivery.records.map((r) => r.value);
    const byId = new Map<string, SmsDeliveryEvent[]>();
    for (const e of events) (byId.get(e.id) ?? byId.set(e.id, []).get(e.id)!).push(e);
    assert.equal(events.filter((e) => e.status === 'REJECTED').length, 0, 'nothing REJECTED');
    assert.equal(events.filter((e) => e.id.startsWith('unknown:')).length, 0, 'every receipt correlated');
    for (const id of ids) {
      const es = byId.get(id) ?? [];
      const sub = es.filter((e) => e.source === 'SUBMIT');
      assert.equal(sub.length, 1, `${id}: one SUBMITTED`);
      const receipt = es.find((e) => e.source === 'RECEIPT');
      assert.equal(receipt?.route, sub[0]!.route, `${id}: the receipt came back on its route`);
      assert.equal(es.find((e) => e.source === 'SUMMARY')?.status, 'DELIVERED', `${id}: summary DELIVERED`);
    }
    const accepted = primary.stats().acceptedSubmits + backup.stats().acceptedSubmits;
    assert.equal(accepted, 400, 'each request accepted once, by one of the two SMSCs');
    t.diagnostic(
      `failover: first submit on the backup ${firstOnBackup - outageAt} ms after the credit ran out; failback: first new request on the primary ${firstBackOnPrimary - returnedAt} ms after it returned; backup carried ${backup.stats().acceptedSubmits}`,
    );
  } finally {
    await delivery.stop();
    await app.stop();
    await primary.close();
    await backup.close();
  }
});
