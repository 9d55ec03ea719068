/**
 * The running connector's /metrics exports every metric the Grafana dashboard and the Prometheus
 * alerts reference (deploy/grafana, deploy/prometheus), after real traffic: a delivered request and
 * a poison record. prom-client prints `# HELP`/`# TYPE` for every registered metric, samples only for
 * label sets that were touched, so presence is checked on the HELP lines and samples on the metrics
 * this traffic must have moved. The exposition passes `promtool check metrics` for our metrics
 * (prom-client's own nodejs_*_total gauges break a naming lint; those are reported, not failed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { PROMETHEUS_OWN_METRICS, findPromtool, referencedMetrics, resolveMetric } from '../helpers/ops-files.js';
import { outbound, produce, readDelivery, startPipeline, waitUntil } from '../helpers/pipeline.js';

interface Exposition {
  text: string;
  /** metric name → type, from the # TYPE lines */
  types: Map<string, string>;
  /** metric names with a # HELP line */
  help: Set<string>;
  /** sample lines, `name{labels} value` */
  samples: string[];
}

function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const help = new Set<string>();
  const samples: string[] = [];
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    const h = /^# HELP (\S+) /.exec(line);
    if (h) help.add(h[1]!);
    if (line && !line.startsWith('#')) samples.push(line);
  }
  return { text, types, help, samples };
}

/** Sum of the sample values of `name` whose label set contains every `labels` pair. */
function sampleSum(e: Exposition, name: string, labels: Record<string, string> = {}): number | null {
  let found = false;
  let sum = 0;
  for (const line of e.samples) {
    const m = /^([^{\s]+)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const lbl = m[2] ?? '';
    if (!Object.entries(labels).every(([k, v]) => lbl.includes(`${k}="${v}"`))) continue;
    found = true;
    sum += Number(m[3]);
  }
  return found ? sum : null;
}

test('the running connector exports every metric the dashboard and the alerts use', async (t) => {
  const fx = await startPipeline('ops-metrics');
  const url = (p: string) => `http://127.0.0.1:${fx.app.httpPort}${p}`;
  const scrape = async () => {
    const res = await fetch(url('/metrics'));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    return parseExposition(await res.text());
  };
  try {
    await produce(fx.stack, fx.topics.outbound, fx.codec, [
      { key: 'ops-1', value: outbound('ops-1') },
      { key: 'ops-poison', value: Buffer.from('not avro at all') },
    ]);
    await readDelivery(fx, (es) => es.some((e) => e.source === 'SUMMARY' && e.id === 'ops-1'), 60000);

    let e = await scrape();
    await waitUntil(
      async () => {
        e = await scrape();
        return (sampleSum(e, 'sms_connector_dlq_records_total') ?? 0) >= 1 && (sampleSum(e, 'sms_connector_receipts_total') ?? 0) >= 1;
      },
      20000,
      'the DLQ and receipt counters in /metrics',
    );

    // 1. every referenced metric is registered and exported (HELP line; histograms by base name)
    const missing: string[] = [];
    const withoutSamples: string[] = [];
    for (const [name, where] of referencedMetrics()) {
      if (PROMETHEUS_OWN_METRICS.has(name)) continue;
      const base = resolveMetric(name, e.types);
      if (base === null || !e.help.has(base)) {
        missing.push(`${name} (used in ${[...new Set(where)].join('; ')})`);
        continue;
      }
      if (sampleSum(e, name) === null) withoutSamples.push(name);
    }
    assert.deepEqual(missing, [], `referenced but not exported:\n${missing.join('\n')}`);
    if (withoutSamples.length > 0) {
      t.diagnostic(`exported, no samples yet after this traffic (label sets appear on first use): ${withoutSamples.join(', ')}`);
    }

    // 2. the traffic moved what the dashboard's main panels and the alerts read
    const atLeast = (name: string, labels: Record<string, string>, min: number) => {
      const v = sampleSum(e, name, labels);
      assert.ok(v !== null && v >= min, `${name}${JSON.stringify(labels)} = ${v}, expected >= ${min}`);
    };
    atLeast('sms_connector_records_consumed_total', { topic: fx.topics.outbound }, 2);
    atLeast('sms_connector_submits_total', { outcome: 'accepted' }, 1);
    atLeast('sms_connector_receipts_total', { status: 'DELIVERED' }, 1);
    atLeast('sms_connector_events_published_total', { source: 'SUMMARY', status: 'DELIVERED' }, 1);
    atLeast('sms_connector_dlq_records_total', {}, 1);
    atLeast('sms_connector_records_poison_total', {}, 1);
    atLeast('sms_connector_submit_duration_seconds_count', {}, 1);
    atLeast('sms_connector_submit_duration_seconds_bucket', { le: '+Inf' }, 1);
    atLeast('sms_connector_submit_to_final_receipt_seconds_count', { status: 'DELIVERED' }, 1);
    atLeast('sms_connector_sessions_bound', { mode: 'trx' }, 1);
    atLeast('sms_connector_bind_slots', {}, 1);
    atLeast('sms_connector_ready', {}, 1);
    atLeast('sms_connector_pacing_rate_per_second', {}, 1);
    atLeast('sms_connector_window_in_flight', {}, 0);
    atLeast('sms_connector_consumer_lag', {}, 0);
    atLeast('sms_connector_account_paused', { reason: 'none' }, 0);
    atLeast('sms_connector_consumer_stalls_total', {}, 0);
    atLeast('sms_connector_throttled_total', {}, 0);
    atLeast('process_resident_memory_bytes', {}, 1);
    atLeast('nodejs_eventloop_lag_p99_seconds', {}, 0);

    // 3. health endpoints as the probes and the image's HEALTHCHECK use them
    assert.equal((await fetch(url('/healthz'))).status, 200);
    assert.equal((await fetch(url('/readyz'))).status, 200);

    // 4. promtool's exposition lint, for our metrics
    const promtool = findPromtool();
    if (!promtool) {
      t.diagnostic('promtool is not on PATH (apt-get install -y prometheus): promtool check metrics skipped');
    } else {
      const r = spawnSync(promtool, ['check', 'metrics'], { input: e.text, encoding: 'utf8', timeout: 30000 });
      const out = `${r.stdout}${r.stderr}`;
      // 0 = clean, 3 = lint findings only; anything else is a parse error
      assert.ok(r.status === 0 || r.status === 3, `promtool check metrics failed (${r.status}):\n${out}`);
      const findings = out.split('\n').filter((l) => l.trim() !== '');
      const ours = findings.filter((l) => l.startsWith('sms_connector_'));
      assert.deepEqual(ours, [], `promtool lint findings on our metrics:\n${ours.join('\n')}`);
      if (findings.length > 0) t.diagnostic(`promtool lint on prom-client's default metrics: ${findings.join(' | ')}`);
    }
  } finally {
    await fx.stop();
  }
});
