/**
 * `npm test` entry.
 *
 *   tsx test/run.ts            unit tests, then ONE real stack (Kafka + registry) for all integration tests
 *   tsx test/run.ts --unit     unit tests only (no stack)
 *   tsx test/run.ts --faults   the fault suite under test/faults/ (with its own stack), without extended tests
 *   tsx test/run.ts --faults-ci  only the CI fast subset of the fault suite (files named *.ci.test.ts),
 *                                with KSC_FAULTS_CI=1 so that a file shared with the full suite runs at CI volume
 *   tsx test/run.ts --faults --extended   the fault suite plus the extended tests (test/faults/extended/)
 *
 * Tests run under node's own test runner (`node --import tsx --test`, TAP reporter so the closing
 * `# pass N` / `# fail N` lines are always printed). Node 20's --test does not expand globs: the
 * files are found here. The stack is started in .local/test-stack-<pid> on free ports, exported as
 * KSC_TEST_KAFKA_BROKERS / KSC_TEST_REGISTRY_URL / KSC_TEST_STACK_DIR, and stopped at the end — also
 * on failure and on SIGINT/SIGTERM. Its dir (with kafka.log / registry.log) is kept when a test failed.
 *
 * Env knobs: KSC_TEST_CONCURRENCY (integration files in parallel, default 2),
 *            KSC_TEST_TIMEOUT_MS (per-test timeout, default 300000),
 *            KSC_TEST_RUN_BUDGET_MS (one runner invocation — unit, integration or faults — is stopped
 *              and counted failed past it; default 2400000),
 *            KSC_TEST_FILTER (substring: only files whose path contains it),
 *            KSC_CONNECTOR_ENV ("KEY=VALUE,…" set on every connector the tests start: a suite in another mode).
 * The last line is a plain total: `tests: N passed, N failed[, N skipped]`.
 * A subtest that printed `# Subtest:` but no `ok` / `not ok` counts as a failed test, named with its
 * file in a `# [run]` line (tap-results.ts; node's own counts leave it out).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TapResultCounter, type MissingResult } from './helpers/tap-results.js';
import { REPO_ROOT, isOurProcess, stackDown, stackUp, sweepStacks, type StackInfo } from '../tools/dev-stack/stack.js';

interface Totals {
  pass: number;
  fail: number;
  skipped: number;
  todo: number;
  cancelled: number;
}

const args = new Set(process.argv.slice(2));
const faultsCi = args.has('--faults-ci');
const extended = args.has('--extended');
const mode: 'all' | 'unit' | 'faults' = args.has('--unit') ? 'unit' : args.has('--faults') || faultsCi || extended ? 'faults' : 'all';
const concurrency = Number(process.env['KSC_TEST_CONCURRENCY'] ?? 2);
const perTestTimeoutMs = Number(process.env['KSC_TEST_TIMEOUT_MS'] ?? 300_000);
const runBudgetMs = Number(process.env['KSC_TEST_RUN_BUDGET_MS'] ?? 2_400_000);
/**
 * The unit phase takes ~30 s: a file whose process does not exit (a timer or socket left open)
 * ends it after this rather than after the whole budget (no --test-force-exit, see runNodeTests).
 */
const UNIT_BUDGET_MS = Math.min(runBudgetMs, 600_000);
const filter = process.env['KSC_TEST_FILTER'];

const totals: Totals = { pass: 0, fail: 0, skipped: 0, todo: 0, cancelled: 0 };
let currentChild: ChildProcess | undefined;
let stackDir: string | undefined;
let stopping = false;

function log(msg: string): void {
  process.stdout.write(`# [run] ${msg}\n`);
}

function findTests(rel: string): string[] {
  const root = path.join(REPO_ROOT, rel);
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && !e.name.startsWith('.')) walk(p);
      } else if (e.isFile() && /\.test\.(ts|mts|js|mjs)$/.test(e.name)) {
        out.push(path.relative(REPO_ROOT, p));
      }
    }
  };
  walk(root);
  return out.filter((f) => !filter || f.includes(filter)).sort();
}

/** One `[file, name]` line; the last one is cut short when the runner was killed. */
function parsedLine(line: string): [string, string] | undefined {
  try {
    return JSON.parse(line) as [string, string];
  } catch {
    return undefined;
  }
}

/** Top-level test name → the files that declared it, from test-file-reporter.ts's lines. */
function filesByTopLevelTest(reportFile: string): Map<string, string[]> {
  const files = new Map<string, string[]>();
  let text: string;
  try {
    text = fs.readFileSync(reportFile, 'utf8');
  } catch {
    return files;
  }
  for (const line of text.split('\n')) {
    const entry = parsedLine(line);
    if (!entry) continue;
    const [file, name] = entry;
    const rel = path.isAbsolute(file) ? path.relative(REPO_ROOT, file) : file;
    files.set(name, [...(files.get(name) ?? []).filter((f) => f !== rel), rel]);
  }
  return files;
}

/** Logs each subtest that never reported, with its file; returns how many. */
function reportMissingResults(label: string, missing: MissingResult[], reportFile: string): number {
  if (missing.length === 0) return 0;
  const files = filesByTopLevelTest(reportFile);
  for (const m of missing) {
    const file = files.get(m.path[0]!)?.join(' or ') ?? '(file unknown)';
    log(`${label}: ${file}: subtest "${m.path.join(' > ')}" started (TAP line ${m.line}) but never reported ok / not ok: counted as failed`);
  }
  return missing.length;
}

/** Runs `node --import tsx --test` on the files; echoes its output and adds its summary to the totals. */
function runNodeTests(label: string, files: string[], extraEnv: Record<string, string>, conc: number): Promise<boolean> {
  const budgetMs = label === 'unit' ? UNIT_BUDGET_MS : runBudgetMs;
  return new Promise((resolve) => {
    const reportFile = path.join(os.tmpdir(), `ksc-test-files-${process.pid}-${label}.jsonl`);
    const nodeArgs = [
      '--import',
      'tsx',
      '--test',
      '--test-reporter=tap',
      '--test-reporter-destination=stdout',
      '--test-reporter=./test/helpers/test-file-reporter.ts',
      `--test-reporter-destination=${reportFile}`,
      `--test-concurrency=${conc}`,
      `--test-timeout=${perTestTimeoutMs}`,
      // No --test-force-exit: with it Node (22, 24) exits a file's process before its last results
      // reached the parent, and a run passed with the tail of a file's tests silently missing
      // (nodejs/node#64833; config.test.ts lost 17–22 of its tests in three runs here). A file
      // whose process does not exit is caught by the run budget below instead.
      ...files,
    ];
    log(`${label}: node ${nodeArgs.slice(0, 9).join(' ')} <${files.length} files>`);
    const child = spawn(process.execPath, nodeArgs, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    currentChild = child;
    // The last guard: whatever still hangs, the run ends with a failure and a line saying why.
    let overBudget = false;
    const watchdog = setTimeout(() => {
      overBudget = true;
      log(`${label}: still running after ${budgetMs / 1000} s (KSC_TEST_RUN_BUDGET_MS; a test file whose process does not exit?); stopping it`);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }, budgetMs);
    watchdog.unref();
    const found: Partial<Totals> = {};
    const results = new TapResultCounter();
    let buf = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        results.line(line);
        // top-level summary lines only (nested subtests' comments are indented)
        const m = /^# (pass|fail|skipped|todo|cancelled) (\d+)\s*$/.exec(line);
        if (m) found[m[1] as keyof Totals] = Number(m[2]);
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(watchdog);
      currentChild = undefined;
      for (const k of Object.keys(totals) as (keyof Totals)[]) totals[k] += found[k] ?? 0;
      if (buf) results.line(buf);
      const vanished = reportMissingResults(label, results.finish(), reportFile);
      fs.rmSync(reportFile, { force: true });
      totals.fail += vanished;
      const sawSummary = found.pass !== undefined || found.fail !== undefined;
      if (overBudget && sawSummary) totals.fail += 1;
      if (!sawSummary) {
        // the runner died before summarising: count it as a failure so the total never lies
        totals.fail += 1;
        log(`${label}: node's test runner ended without a summary (code ${code}, signal ${signal})`);
      }
      resolve(!overBudget && code === 0 && sawSummary && vanished === 0 && (found.fail ?? 0) === 0 && (found.cancelled ?? 0) === 0);
    });
  });
}

/** Removes stack dirs left by earlier runs that died without cleaning up (their processes first). */
async function pruneStaleStacks(): Promise<void> {
  const local = path.join(REPO_ROOT, '.local');
  let names: string[];
  try {
    names = fs.readdirSync(local);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^test-stack-(\d+)$/.exec(name);
    if (!m) continue;
    const owner = Number(m[1]);
    let alive: boolean;
    try {
      process.kill(owner, 0);
      alive = true;
    } catch {
      alive = false;
    }
    if (alive && owner !== process.pid) continue;
    const dir = path.join(local, name);
    const anyUp = (['kafka', 'registry'] as const).some((role) => {
      try {
        return isOurProcess(Number(fs.readFileSync(path.join(dir, `${role}.pid`), 'utf8')), dir, role);
      } catch {
        return false;
      }
    });
    if (anyUp) log(`stopping a stack left running by dead run ${owner} (${dir})`);
    await sweepStacks(path.join(dir, 'private')).catch(() => undefined);
    await stackDown({ dir }).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // private stacks of hand-run tests whose process is gone (folder name ends in -<pid>-<n>-<hex>)
  const priv = path.join(local, 'private-stacks');
  let privNames: string[];
  try {
    privNames = fs.readdirSync(priv);
  } catch {
    return;
  }
  for (const name of privNames) {
    const m = /-(\d+)-\d+-[0-9a-f]{6}$/.exec(name);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
      continue; // its test process still runs
    } catch {
      /* dead: sweep */
    }
    const dir = path.join(priv, name);
    await stackDown({ dir }).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(`${dir}.lock`, { recursive: true, force: true });
  }
}

async function startStack(): Promise<StackInfo> {
  await pruneStaleStacks();
  stackDir = path.join(REPO_ROOT, '.local', `test-stack-${process.pid}`);
  fs.rmSync(stackDir, { recursive: true, force: true });
  const t0 = Date.now();
  // no ports given + non-default dir => free ports are chosen
  const info = await stackUp({ dir: stackDir, verbose: true });
  log(`stack started in ${((Date.now() - t0) / 1000).toFixed(1)} s: kafka ${info.kafkaBrokers}, registry ${info.registryUrl}`);
  return info;
}

let stopPromise: Promise<void> | undefined;

/** Stops the run's stack and any private stacks tests left under it; one stop, however often called. */
function stopStack(keepDir: boolean): Promise<void> {
  if (!stackDir) return stopPromise ?? Promise.resolve();
  const dir = stackDir;
  stackDir = undefined;
  stopPromise = (async () => {
    const t0 = Date.now();
    const swept = await sweepStacks(path.join(dir, 'private')).catch(() => [] as string[]);
    if (swept.length > 0) log(`stopped ${swept.length} private stack(s) a test left running`);
    await stackDown({ dir }).catch((e: unknown) => log(`stack down failed: ${String(e)}`));
    log(`stack stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (keepDir) log(`stack logs kept in ${dir} (kafka.log, registry.log)`);
    else {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(`${dir}.lock`, { recursive: true, force: true });
    }
  })();
  return stopPromise;
}

function printTotals(): void {
  const extra = totals.skipped + totals.todo > 0 ? `, ${totals.skipped + totals.todo} skipped` : '';
  process.stdout.write(`tests: ${totals.pass} passed, ${totals.fail + totals.cancelled} failed${extra}\n`);
}

async function onSignal(sig: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`${sig}: stopping tests and the stack`);
  currentChild?.kill('SIGTERM');
  await stopStack(true);
  printTotals();
  process.exit(sig === 'SIGINT' ? 130 : 143);
}

async function main(): Promise<number> {
  process.on('SIGINT', (s) => void onSignal(s));
  process.on('SIGTERM', (s) => void onSignal(s));
  const tStart = Date.now();
  let ok = true;

  if (mode === 'all' || mode === 'unit') {
    const unit = findTests('test/unit');
    if (unit.length === 0) log('no unit tests found under test/unit/');
    else ok = (await runNodeTests('unit', unit, {}, Math.max(1, concurrency))) && ok;
  }

  const suiteDir = mode === 'faults' ? 'test/faults' : mode === 'all' ? 'test/integration' : undefined;
  if (suiteDir && !stopping) {
    const files = findTests(suiteDir).filter((f) => {
      if (mode !== 'faults') return true;
      if (faultsCi) return /\.ci\.test\.[mc]?[jt]s$/.test(f);
      // extended tests (hours of SMSC outage, soak) only when asked for
      return extended || !f.split(path.sep).includes('extended');
    });
    if (files.length === 0) {
      log(mode === 'faults' ? 'no fault suite yet: test/faults/ has no *.test.ts files' : `no tests found under ${suiteDir}/`);
    } else {
      let info: StackInfo | undefined;
      try {
        info = await startStack();
      } catch (e) {
        log(`could not start the stack: ${e instanceof Error ? e.message : String(e)}`);
        totals.fail += 1;
        ok = false;
      }
      if (stopping) await new Promise<never>(() => undefined);
      if (info) {
        const env = {
          KSC_TEST_KAFKA_BROKERS: info.kafkaBrokers,
          KSC_TEST_REGISTRY_URL: info.registryUrl,
          KSC_TEST_STACK_DIR: info.dir,
          // tests whose volume differs between the CI subset and the full suite read it (helpers/faults.ts envVolume)
          ...(faultsCi ? { KSC_FAULTS_CI: '1' } : {}),
        };
        // fault tests stop/restart services of the shared stack: run them one file at a time
        const conc = mode === 'faults' ? 1 : Math.max(1, concurrency);
        let suiteOk = false;
        try {
          suiteOk = await runNodeTests(mode === 'faults' ? 'faults' : 'integration', files, env, conc);
        } finally {
          ok = suiteOk && ok;
          await stopStack(!suiteOk);
        }
        // a signal arrived: its handler stops the stack and exits; never exit before it has
        if (stopping) await new Promise<never>(() => undefined);
      }
    }
  }

  log(`finished in ${((Date.now() - tStart) / 1000).toFixed(1)} s`);
  printTotals();
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    process.stderr.write(`test/run.ts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await stopStack(true);
    printTotals();
    process.exit(1);
  },
);
