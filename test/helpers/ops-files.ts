/**
 * Reads the operations files (Grafana dashboard, Prometheus rules) and pulls out every metric name
 * their PromQL uses, so tests can hold them against the metrics the connector really exports; reads
 * the Kubernetes manifests and the Dockerfile's instructions for the deployment checks.
 * Used by test/integration/ops-files.test.ts (against the registry) and test/integration/ops-metrics.test.ts
 * (against a running connector's /metrics).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { REPO_ROOT } from '../../tools/dev-stack/stack.js';

export { REPO_ROOT };

export const DASHBOARD_FILE = path.join(REPO_ROOT, 'deploy/grafana/dashboards/sms-connector.json');
export const ALERTS_FILE = path.join(REPO_ROOT, 'deploy/prometheus/alerts.yaml');

/** Series Prometheus makes itself, not the connector. */
export const PROMETHEUS_OWN_METRICS = new Set(['up']);
/** Suffixes of the series a histogram (or summary) exposes under its base name. */
export const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

/** PromQL words that look like identifiers but are not metric names. */
const KEYWORDS = new Set([
  // binary operators and modifiers
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'atan2',
  // aggregation operators (may be followed by `by (...)` before their parenthesis)
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
  // literals
  'inf',
  'nan',
]);

/** Every metric name a PromQL expression selects (functions, labels, keywords and literals left out). */
export function metricNamesInPromql(expr: string): Set<string> {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals (label values, label_replace args)
    .replace(/#[^\n]*/g, ' ') // comments
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' $1 ') // label lists
    .replace(/\boffset\s+-?[\w$]+/g, ' ') // offset 10m
    .replace(/@\s*[\w.()$]+/g, ' '); // @ modifiers
  const names = new Set<string>();
  for (const m of s.matchAll(/(?<![\w$.:])([A-Za-z_:][\w:]*)(?![\w:])(\s*\()?/g)) {
    if (m[2]) continue; // a function call or an aggregation's parenthesis
    const name = m[1]!;
    if (KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return names;
}

export interface PromqlUse {
  /** Where it is used (panel title / alert name), for readable failures. */
  where: string;
  expr: string;
}

interface DashboardTarget {
  expr?: string;
  refId?: string;
}
interface DashboardPanel {
  id?: number;
  type?: string;
  title?: string;
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
}
export interface Dashboard {
  uid?: string;
  title?: string;
  panels?: DashboardPanel[];
  templating?: { list?: Array<{ name?: string; type?: string; query?: unknown; definition?: string }> };
}

export function readDashboard(file = DASHBOARD_FILE): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
}

/** All panels, rows' nested panels included. */
export function dashboardPanels(d: Dashboard): DashboardPanel[] {
  const out: DashboardPanel[] = [];
  const walk = (ps: DashboardPanel[] | undefined) => {
    for (const p of ps ?? []) {
      out.push(p);
      walk(p.panels);
    }
  };
  walk(d.panels);
  return out;
}

/** Every PromQL expression of the dashboard: panel targets and the templating queries. */
export function dashboardPromql(d: Dashboard): PromqlUse[] {
  const uses: PromqlUse[] = [];
  for (const p of dashboardPanels(d)) {
    for (const t of p.targets ?? []) {
      if (t.expr) uses.push({ where: `panel "${p.title}" ${t.refId ?? ''}`.trim(), expr: t.expr });
    }
  }
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : ((v.query as { query?: string } | undefined)?.query ?? v.definition ?? '');
    // label_values(metric{…}, label) / query_result(expr): the metric part is PromQL
    const m = /^\s*label_values\((.*),\s*\w+\s*\)\s*$/.exec(q) ?? /^\s*query_result\((.*)\)\s*$/.exec(q);
    if (m) uses.push({ where: `variable $${v.name}`, expr: m[1]! });
  }
  return uses;
}

export interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleFile {
  groups: Array<{ name: string; rules: AlertRule[] }>;
}

export function readAlerts(file = ALERTS_FILE): RuleFile {
  return parseYaml(readFileSync(file, 'utf8')) as RuleFile;
}

export function alertsPromql(r: RuleFile): PromqlUse[] {
  return r.groups.flatMap((g) => g.rules.map((rule) => ({ where: `rule ${rule.alert ?? rule.record}`, expr: rule.expr })));
}

/** Metric name → where it is used, over the dashboard and the alert rules. */
export function referencedMetrics(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const use of [...dashboardPromql(readDashboard()), ...alertsPromql(readAlerts())]) {
    for (const name of metricNamesInPromql(use.expr)) out.set(name, [...(out.get(name) ?? []), use.where]);
  }
  return out;
}

/**
 * The exported metric a referenced series name belongs to: itself, or the histogram whose
 * _bucket/_sum/_count it is. `null` when no exported metric matches.
 */
export function resolveMetric(name: string, exported: Map<string, string>): string | null {
  if (exported.has(name)) return name;
  for (const suffix of HISTOGRAM_SUFFIXES) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const type = exported.get(base);
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return base;
  }
  return null;
}

/** promtool on PATH (Debian's `prometheus` package), or null. */
export function findPromtool(): string | null {
  const which = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() !== '' ? which.stdout.trim() : null;
}

export const K8S_DIR = path.join(REPO_ROOT, 'deploy/k8s');

/** One Kubernetes manifest as parsed (loosely typed: the tests read what they check). */
export type K8sDoc = { kind: string; apiVersion: string; metadata: { name: string; [k: string]: unknown }; [k: string]: unknown };

/**
 * Every YAML document under deploy/k8s, with the file it came from; a document that does not parse
 * is reported with its file and errors instead.
 */
export function readK8sManifests(dir = K8S_DIR): Array<{ file: string; doc: K8sDoc | null; errors: string[] }> {
  const out: Array<{ file: string; doc: K8sDoc | null; errors: string[] }> = [];
  for (const file of readdirSync(dir)
    .filter((x) => /\.ya?ml$/.test(x))
    .sort()) {
    for (const d of parseAllDocuments(readFileSync(path.join(dir, file), 'utf8'))) {
      out.push({ file, doc: d.contents ? (d.toJS() as K8sDoc) : null, errors: d.errors.map((e) => e.message) });
    }
  }
  return out;
}

/** `child` is `parent` or a path below it (POSIX paths, as in containers). */
export function isWithin(child: string, parent: string): boolean {
  const rel = path.posix.relative(path.posix.normalize(parent), path.posix.normalize(child));
  return rel === '' || (!rel.startsWith('..') && !path.posix.isAbsolute(rel));
}

/**
 * The runtime stage's `ENV` values of a Dockerfile (the last stage's; `ENV A=1 \\ B=2` forms, and
 * `ENV A 1`), and its `VOLUME` paths.
 */
export function dockerfileRuntime(dockerfile: string): { env: Map<string, string>; volumes: string[] } {
  const joined = dockerfile
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const lastStage = joined.slice(joined.lastIndexOf('\nFROM '));
  const env = new Map<string, string>();
  const volumes: string[] = [];
  for (const line of lastStage.split('\n')) {
    const m = /^(ENV|VOLUME)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'VOLUME') {
      const arg = m[2]!.trim();
      volumes.push(...(arg.startsWith('[') ? (JSON.parse(arg) as string[]) : arg.split(/\s+/)));
    } else if (/^\w+=/.test(m[2]!)) {
      for (const kv of m[2]!.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) env.set(kv[1]!, kv[2]!.replace(/^"(.*)"$/, '$1'));
    } else {
      const [k, ...v] = m[2]!.split(/\s+/);
      env.set(k!, v.join(' '));
    }
  }
  return { env, volumes };
}
