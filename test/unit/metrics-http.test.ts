import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/obs/logger.js';
import { startHttpServer, type HttpServerHandle, type ReadinessReport } from '../../src/obs/http.js';
import { METRIC_PREFIX, createMetrics, type Metrics } from '../../src/obs/metrics.js';

const logger = createLogger('silent');

/** promtool on PATH (Debian's `prometheus` package), or null. */
function findPromtool(): string | null {
  const which = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() !== '' ? which.stdout.trim() : null;
}

/** Gives every metric of ours a sample, so the exposition shows label sets and histogram series. */
function touchAll(m: Metrics): void {
  m.recordsConsumed.inc({ topic: 'sms.outbound' });
  m.recordsDecoded.inc();
  m.recordsPoison.inc({ reason: 'BAD_MAGIC_BYTE' });
  m.dlqRecords.inc({ reason: 'BAD_MAGIC_BYTE' });
  m.submits.inc({ outcome: 'accepted', category: 'none' });
  m.submitDuration.observe(0.012);
  m.submitToFinalReceipt.observe({ status: 'DELIVERED' }, 42);
  m.receipts.inc({ status: 'DELIVERED', category: 'none' });
  m.correlationLookups.inc({ result: 'hit' });
  m.correlationIndexEntries.set(3);
  m.throttled.inc({ session: 'trx-0' });
  m.pacingRatePerSecond.set({ session: 'trx-0' }, 98);
  m.windowInFlight.set({ session: 'trx-0' }, 2);
  m.sessionsBound.set({ mode: 'trx' }, 1);
  m.binds.inc({ result: 'ok' });
  m.reconnects.inc({ reason: 'socket_closed' });
  m.bindSlots.set(1);
  m.accountPaused.set({ reason: 'credit' }, 0);
  m.consumerLag.set({ partition: '0' }, 7);
  m.eventsPublished.inc({ source: 'SUBMIT', status: 'SUBMITTED' });
  m.inboundMessages.inc();
  m.validationRejected.inc({ field: 'to' });
  m.expired.inc();
  m.ready.set(1);
  m.consumerStalls.inc();
}

/** `# TYPE name type` lines of an exposition. */
function declaredTypes(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(match[1] as string, match[2] as string);
  return types;
}

describe('metrics and the health/metrics HTTP server', () => {
  let metrics: Metrics;
  let server: HttpServerHandle;
  let report: ReadinessReport | Error = { ready: true, checks: { kafka: true, smpp: true } };
  const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;

  before(async () => {
    metrics = createMetrics();
    touchAll(metrics);
    server = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      logger,
      registry: metrics.registry,
      readiness: () => {
        if (report instanceof Error) throw report;
        return report;
      },
    });
  });
  after(() => server.close());

  test('/healthz answers 200 {"status":"ok"} while the process runs', async () => {
    const res = await fetch(url('/healthz'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  test('/readyz is 200 when ready, 503 with the failing checks when not, 503 when the check throws', async () => {
    report = { ready: true, checks: { kafka: true, smpp: true } };
    let res = await fetch(url('/readyz'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), report);

    report = { ready: false, checks: { kafka: true, smpp: 'no session bound' } };
    res = await fetch(url('/readyz'));
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), report);

    report = new Error('boom');
    res = await fetch(url('/readyz'));
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as ReadinessReport).ready, false);
    report = { ready: true, checks: {} };
  });

  test('only health and metrics are served: other paths 404, other methods 405', async () => {
    for (const path of ['/', '/admin', '/metrics/x', '/healthz/../admin', '/debug/pprof']) {
      const res = await fetch(url(path));
      assert.equal(res.status, 404, path);
      await res.arrayBuffer();
    }
    const res = await fetch(url('/metrics'), { method: 'POST', body: 'x' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
    await res.arrayBuffer();
    const query = await fetch(url('/healthz?verbose=1'));
    assert.equal(query.status, 200);
    await query.arrayBuffer();
  });

  test('/metrics serves the Prometheus text format with ours and the standard process/Node metrics', async () => {
    const res = await fetch(url('/metrics'));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const types = declaredTypes(text);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      assert.ok(types.has(name), `default metric ${name}`);
    }
    for (const name of [
      'sms_connector_records_consumed_total',
      'sms_connector_submits_total',
      'sms_connector_submit_duration_seconds',
      'sms_connector_submit_to_final_receipt_seconds',
      'sms_connector_consumer_lag',
      'sms_connector_ready',
      'sms_connector_consumer_stalls_total',
    ]) {
      assert.ok(types.has(name), `our metric ${name}`);
    }
    assert.match(text, /^sms_connector_submit_duration_seconds_bucket\{le="0\.001"\} 0$/m);
    assert.match(text, /^sms_connector_submit_to_final_receipt_seconds_bucket\{le="172800",status="DELIVERED"\} 1$/m);
  });

  test('naming rules: prefix, _total counters, _seconds histograms, no per-message labels', () => {
    const ours = metrics.registry.getMetricsAsArray().filter((m) => m.name.startsWith(METRIC_PREFIX));
    assert.equal(ours.length, 35); // + receipts_forwarded_total, forwarded_receipts_handled_total (partitioned ownership), receipts_logged_total (receipts log), publish_refused_total (bounds), consumer_restarts_total (compression), correlation_catch_up_entries/_seconds (store), correlation_live_writes_total / tail_lag_seconds (live state), route_circuit_open (routes)
    const forbidden = /^(to|from|msisdn|phone|destination|source_addr|destination_addr|id|request_?id|message_?id|event_?id|text)$/i;
    for (const metric of metrics.registry.getMetricsAsArray()) {
      const { name, type } = metric as unknown as { name: string; type: string };
      const labelNames = (metric as unknown as { labelNames?: string[] }).labelNames ?? [];
      const isDefault = /^(process|nodejs)_/.test(name);
      assert.ok(isDefault || name.startsWith(METRIC_PREFIX), `${name} must start with ${METRIC_PREFIX}`);
      if (isDefault) continue;
      assert.match(name, /^[a-z][a-z0-9_]*$/, `${name} is snake_case`);
      if (type === 'counter') assert.ok(name.endsWith('_total'), `counter ${name} ends in _total`);
      else assert.ok(!name.endsWith('_total'), `non-counter ${name} must not end in _total`);
      if (type === 'histogram') assert.ok(name.endsWith('_seconds'), `histogram ${name} is in seconds`);
      for (const label of labelNames) assert.doesNotMatch(label, forbidden, `${name} has a per-message label ${label}`);
    }
  });

  test('promtool check metrics finds nothing wrong with our metrics (skipped without promtool)', async (t) => {
    const promtool = findPromtool();
    if (!promtool) {
      t.skip('promtool not installed (apt-get install prometheus); naming rules are asserted above');
      return;
    }
    const text = await (await fetch(url('/metrics'))).text();
    const run = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    // Exit 0 = clean, 3 = lint findings; anything else (1) = the exposition did not parse.
    assert.ok(run.status === 0 || run.status === 3, `promtool failed: ${run.status} ${run.stderr}`);
    const findings = `${run.stdout}\n${run.stderr}`.split('\n').filter((line) => line.trim() !== '');
    // prom-client's standard Node gauges (nodejs_active_handles_total…) draw "_total" findings; they
    // keep their standard names (docs/design.md §9). Ours must draw none.
    const ourFindings = findings.filter((line) => line.includes(METRIC_PREFIX));
    assert.deepEqual(ourFindings, []);
    for (const line of findings) assert.match(line, /^(nodejs|process)_/, `unexpected promtool finding: ${line}`);
  });

  test('onCollect collectors run once per scrape before gauges are read; a throwing one breaks nothing', async () => {
    const errors: unknown[] = [];
    const m = createMetrics({ onCollectError: (err) => errors.push(err) });
    let runs = 0;
    let inFlight = 0;
    const off = m.onCollect(async () => {
      runs += 1;
      await new Promise((resolve) => setImmediate(resolve));
      m.windowInFlight.set({ session: 'tx-0' }, inFlight);
      m.correlationIndexEntries.set(inFlight * 10);
    });
    m.onCollect(() => {
      throw new Error('live object gone');
    });
    inFlight = 4;
    let text = await m.registry.metrics();
    assert.match(text, /^sms_connector_window_in_flight\{session="tx-0"\} 4$/m);
    assert.match(text, /^sms_connector_correlation_index_entries 40$/m);
    assert.equal(runs, 1, 'one run per scrape, not one per gauge');
    assert.equal(errors.length, 1);
    off();
    inFlight = 9;
    text = await m.registry.metrics();
    assert.match(text, /^sms_connector_window_in_flight\{session="tx-0"\} 4$/m, 'removed collector no longer runs');
    assert.equal(runs, 1);
  });

  test('two metric sets in one process do not collide (own registry, not the global one)', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.expired.inc(2);
    assert.match(await a.registry.metrics(), /^sms_connector_expired_total 2$/m);
    assert.match(await b.registry.metrics(), /^sms_connector_expired_total 0$/m);
  });

  test('counters tallied between reads: every increment reaches the scrape and get(), per label set', async () => {
    const m = createMetrics();
    for (let i = 0; i < 5; i++) m.submits.inc({ route: 'default', outcome: 'accepted', category: 'NONE' });
    m.submits.inc({ route: 'default', outcome: 'retried', category: 'THROTTLING' }, 3);
    m.submits.labels('default', 'retried', 'THROTTLING').inc();
    m.submits.inc({ category: 'THROTTLING', outcome: 'retried', route: 'default' }); // the same series in another key order
    m.recordsDecoded.inc();
    m.recordsDecoded.inc(2);
    let text = await m.registry.metrics();
    assert.match(text, /^sms_connector_submits_total\{route="default",outcome="accepted",category="NONE"\} 5$/m);
    assert.match(text, /^sms_connector_submits_total\{route="default",outcome="retried",category="THROTTLING"\} 5$/m);
    assert.match(text, /^sms_connector_records_decoded_total 3$/m);
    // between two reads: added once, not twice
    m.submits.inc({ route: 'default', outcome: 'accepted', category: 'NONE' });
    const values = (await m.submits.get()).values;
    assert.equal(values.find((v) => v.labels['outcome'] === 'accepted')?.value, 6);
    text = await m.registry.metrics();
    assert.match(text, /^sms_connector_submits_total\{route="default",outcome="accepted",category="NONE"\} 6$/m);
    // a label combination exists at 0 from its first increment of 0
    m.receipts.inc({ status: 'DELIVERED', category: 'NONE' }, 0);
    assert.match(await m.registry.metrics(), /^sms_connector_receipts_total\{status="DELIVERED",category="NONE"\} 0$/m);
  });

  test('tallied counters still refuse what prom-client refuses, at the call', () => {
    const m = createMetrics();
    assert.throws(() => m.submits.inc({ outcome: 'accepted', bogus: 'x' } as never), /bogus/);
    assert.throws(() => m.expired.inc(-1), /decrease/);
    assert.throws(() => m.expired.inc(Number.POSITIVE_INFINITY), /not a valid number/);
  });

  test('port 0 gives an ephemeral port; close() stops listening', async () => {
    const other = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      logger,
      registry: createMetrics().registry,
      readiness: () => ({ ready: false, checks: {} }),
    });
    assert.ok(other.port > 0 && other.port !== server.port);
    assert.equal((await fetch(`http://127.0.0.1:${other.port}/readyz`)).status, 503);
    await other.close();
    await assert.rejects(fetch(`http://127.0.0.1:${other.port}/healthz`));
  });
});
