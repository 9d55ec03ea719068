/**
 * `npm run bench` — the benchmark suite (issue 6): ceilings, the connector end to end, pacing,
 * latency, memory, scale-out, requests pending a receipt and the incumbent (Kannel), measured in
 * ONE run on one machine so the ratios hold on a noisy shared box. Every figure is printed with how it was obtained; a JSON
 * summary goes to .local/bench-results/.
 *
 *   npm run bench                      full run (backlog 50,000; memory run 1,000,000 messages)
 *   npm run bench -- --quick           CI smoke: small volumes, ~5 min, no timing assertions
 *   options: --n N (backlog size) --memory-volume N --memory-keep-done-ms MS (default 60000) --only a,b,c,e2e,routes,pacing,lanes,failover,latency,kannel,index,memory,scale,restart,pending
 *            --pending-counts N,N (requests pending a receipt per case; default 100000,1000000, 2000 with --quick;
 *              the full pending run is left out unless named in --only or given counts)
 *            --latency-rate N (latency at N msg/s instead of 50 % of this run's end-to-end figure)
 *            --pairs N ((c) and the end-to-end run N times, alternating; the median ratio; default 3, 1 with --quick;
 *              also the rounds of `routes`: (c), one route, two routes)
 *            --skip <same list> --no-cpu-prof --no-warmup --keep-stack --node-flags "<extra connector node flags>"
 *            --connector-env KEY=VALUE,KEY=VALUE
 *            --stack <dir> (run on a stack already up in <dir>, e.g. the dev stack .local/stack; left running)
 * Before (c) and the end-to-end run, a warm-up pass (the naive loop once, figures dropped) warms the
 * broker's JVM, so that neither side of the ratio runs on a cold broker (not with --quick).
 *
 * Runs on its own Kafka + registry in .local/bench-stack (free ports), so other work on the shared
 * stack neither disturbs the figures nor is disturbed; the stack is stopped at the end. With
 * `--stack <dir>` it runs on a stack already up there instead (when a second stack would not fit
 * beside other work), starts and stops nothing, and deletes no topics (its bench.* topics stay).
 * Exit code: 0 when every selected scenario ran to its end (a scenario skipped for a stated reason,
 * e.g. Kannel not installed, still counts as run); 1 when one threw.
 */
import { mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { KAFKA_VERSION, REPO_ROOT, stackDown, stackStatus, stackUp, type StackInfo } from '../../tools/dev-stack/stack.js';
import { AvroCodec } from '../../src/kafka/codec.js';
import { createTopic, deleteTopics, encodeRecords, fmt, median, produceBacklog, say } from './common.js';
import { CONNECTOR_NODE_FLAGS, type BenchContext } from './context.js';
import { Report } from './report.js';
import { bareKafka, bareSmpp, naiveLoop } from './scenarios/ceilings.js';
import { endToEnd, indexBytes, memory, scaleOut } from './scenarios/connector.js';
import { kannel } from './scenarios/kannel.js';
import { failover, FULL_FAILOVER, QUICK_FAILOVER } from './scenarios/failover.js';
import { priorityLanes } from './scenarios/lanes.js';
import { FULL_PACING_CASES, pacingCase, parsePacingCase, QUICK_PACING_CASES, type PacingCase } from './scenarios/pacing.js';
import { FULL_PENDING_COUNTS, pendingReceipts, QUICK_PENDING_COUNTS } from './scenarios/pending.js';
import { FULL_RESTART_HISTORY, QUICK_RESTART_HISTORY, restartAfterHistory } from './scenarios/restart.js';
import { routesAgainstOne } from './scenarios/routes.js';
import { latency } from './scenarios/timing.js';

const ALL = ['a', 'c', 'e2e', 'routes', 'pacing', 'lanes', 'failover', 'b', 'latency', 'kannel', 'index', 'memory', 'scale', 'restart', 'pending'] as const;
type Scenario = (typeof ALL)[number];

/** `--connector-env`'s KEY=VALUE,KEY=VALUE; a malformed item stops the bench, named. */
function parseConnectorEnv(list: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of list.split(',').filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`--connector-env: "${item}" is not KEY=VALUE`);
    env[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return env;
}

/** Options by commander (as the product CLI): a typo or a bad number stops with a line naming it. */
function parseArgs(argv: string[]) {
  const count = (name: string) => (value: string) => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${name} must be a whole number ≥ 1`);
    return Number(value);
  };
  const scenarios = (value: string): Scenario[] => {
    const names = value
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    const unknown = names.filter((x) => !(ALL as readonly string[]).includes(x));
    if (unknown.length > 0) throw new InvalidArgumentError(`unknown scenario ${unknown.join(', ')} (known: ${ALL.join(',')})`);
    return names as Scenario[];
  };
  const pacingCases = (value: string): PacingCase[] => {
    try {
      return value.split(',').map(parsePacingCase);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
  const histories = (value: string): number[] => {
    const list = value.split(',').map((x) => x.trim());
    if (list.some((x) => !/^\d+$/.test(x))) throw new InvalidArgumentError('--restart-history must be whole numbers ≥ 0, comma-separated');
    return list.map(Number);
  };
  const pendingCounts = (value: string): number[] => {
    const list = value.split(',').map((x) => x.trim());
    if (list.some((x) => !/^\d+$/.test(x) || Number(x) < 1)) throw new InvalidArgumentError('--pending-counts must be whole numbers ≥ 1, comma-separated');
    return list.map(Number);
  };
  const opts = new Command('bench')
    .description('benchmarks of issue 6; see BENCHMARKS.md')
    .option('--quick', 'CI smoke: small volumes, no memory run')
    .option('--only <list>', `scenarios to run: ${ALL.join(',')}`, scenarios)
    .option('--skip <list>', 'scenarios to leave out', scenarios)
    .option('--n <count>', 'records in the shared backlog (default 50000; 5000 with --quick)', count('--n'))
    .option('--memory-volume <count>', 'messages in the memory run', count('--memory-volume'), 1_000_000)
    // CORRELATION_KEEP_DONE_MS for the memory run only: 60 s (product default 10 min) so that a
    // 1M run (~3–4 min at 5,000/s) lasts several keep times and shows the plateau.
    .option('--memory-keep-done-ms <ms>', 'CORRELATION_KEEP_DONE_MS of the memory run', count('--memory-keep-done-ms'), 60_000)
    .option('--no-cpu-prof', 'skip the profiled second end-to-end run')
    .option('--latency-rate <msgs>', 'offered rate of the latency run (default: 50 % of the end-to-end submits/s of the same run)', count('--latency-rate'))
    .option(
      '--pairs <count>',
      'run (c) and the end-to-end run this many times, alternating, and report the median ratio (the box drifts between runs; default 3, 1 with --quick); also the rounds of routes',
      count('--pairs'),
    )
    .option(
      '--pacing-cases <list>',
      `pacing cases, <partitions><u|s>[margin]: u unique keys, s one key with 30 % (default ${FULL_PACING_CASES.join(',')}; ${QUICK_PACING_CASES.join(',')} with --quick)`,
      pacingCases,
    )
    .option('--pacing-seconds <count>', 'measured seconds of each pacing case (default 60; 10 with --quick)', count('--pacing-seconds'))
    .option('--pacing-runs <count>', 'runs of each pacing case', count('--pacing-runs'), 1)
    .option(
      '--restart-history <list>',
      `requests of history before each timed restart (default ${FULL_RESTART_HISTORY.join(',')}; ${QUICK_RESTART_HISTORY.join(',')} with --quick)`,
      histories,
    )
    .option(
      '--restart-window-ms <ms>',
      'CORRELATION_RESTORE_WINDOW_MS of the restart runs; up to 120000 the history is left to age out of it before the stop, above it stays inside (what reading a full window costs)',
      count('--restart-window-ms'),
      60_000,
    )
    .option(
      '--pending-counts <list>',
      `requests pending a receipt in each case of the pending scenario (default ${FULL_PENDING_COUNTS.join(',')}; ${QUICK_PENDING_COUNTS.join(',')} with --quick)`,
      pendingCounts,
    )
    .option('--no-warmup', 'skip the warm-up pass (the naive loop once through the backlog, figures dropped) before (c) and the end-to-end run')
    .option('--node-flags <flags>', 'extra node flags for every connector started (experiments, e.g. "--single-threaded-gc")', '')
    .option('--connector-env <list>', 'variables set on every connector started, KEY=VALUE,KEY=VALUE (an A/B of a setting, e.g. RECEIPTS_LOG=all)', '')
    .option('--keep-stack', 'leave the bench stack running at the end')
    .option('--stack <dir>', 'run on the stack already up in <dir> (e.g. .local/stack) instead of starting .local/bench-stack; it is left running')
    .parse(argv, { from: 'user' })
    .opts<{
      quick?: boolean;
      only?: Scenario[];
      skip?: Scenario[];
      n?: number;
      memoryVolume: number;
      memoryKeepDoneMs: number;
      cpuProf: boolean;
      keepStack?: boolean;
      stack?: string;
      latencyRate?: number;
      pairs?: number;
      warmup: boolean;
      nodeFlags: string;
      connectorEnv: string;
      pacingCases?: PacingCase[];
      pacingSeconds?: number;
      pacingRuns: number;
      restartHistory?: number[];
      restartWindowMs: number;
      pendingCounts?: number[];
    }>();
  const quick = opts.quick ?? false;
  const skip = opts.skip ?? [];
  // The memory run needs ≥ 500k messages to mean anything: full mode only unless asked for. The
  // pending run at its full counts would take ~25 min on the 2-core box (its 20,000 case took 29 s,
  // and it grows with N): only when asked for (--only pending, or --pending-counts), or at its quick count.
  // `routes` is three more backlog runs (~50 s in quick): the quick `e2e` already runs the same
  // measurement and the quick `failover` a connector from a routes file, and a ratio over 5,000
  // records says nothing — full mode only unless asked for (`--quick --only routes`).
  const inFullOnly = (x: Scenario) => x === 'memory' || x === 'routes';
  const byDefault = (x: Scenario) => (inFullOnly(x) ? !quick : x === 'pending' ? quick || opts.pendingCounts !== undefined : true);
  const selected = ALL.filter((x) => (opts.only ? opts.only.includes(x) : byDefault(x)) && !skip.includes(x));
  return {
    quick,
    n: opts.n ?? (quick ? 5_000 : 50_000),
    memoryVolume: opts.memoryVolume,
    memoryKeepDoneMs: opts.memoryKeepDoneMs,
    selected,
    cpuProf: opts.cpuProf,
    latencyRate: opts.latencyRate ?? null,
    keepStack: opts.keepStack ?? false,
    stackDir: opts.stack === undefined ? undefined : path.resolve(opts.stack),
    // Single pairs swing ±7 % on this box (BENCHMARKS.md, "The machine"): the median of three is the figure.
    pairs: opts.pairs ?? (quick ? 1 : 3),
    // Not in the CI smoke: it only has to run to its end, and 5,000 records warm nothing.
    warmup: opts.warmup && !quick,
    nodeFlags: opts.nodeFlags.split(/\s+/).filter(Boolean),
    connectorEnv: parseConnectorEnv(opts.connectorEnv),
    pacing: {
      cases: opts.pacingCases ?? (quick ? QUICK_PACING_CASES : FULL_PACING_CASES).map(parsePacingCase),
      seconds: opts.pacingSeconds ?? (quick ? 10 : 60),
      runs: opts.pacingRuns,
    },
    restartHistory: opts.restartHistory ?? (quick ? QUICK_RESTART_HISTORY : FULL_RESTART_HISTORY),
    restartWindowMs: opts.restartWindowMs,
    pendingCounts: opts.pendingCounts ?? (quick ? QUICK_PENDING_COUNTS : FULL_PENDING_COUNTS),
  };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const report = new Report();
  const workDir = path.join(REPO_ROOT, '.local', 'bench-work');
  mkdirSync(workDir, { recursive: true });
  const stackDir = args.stackDir ?? path.join(REPO_ROOT, '.local', 'bench-stack');
  const ownStack = args.stackDir === undefined;
  say(`# kafka-smpp-connector benchmarks — ${args.quick ? 'QUICK (smoke: small volumes, figures indicative only)' : 'full'} run`);
  const meta = {
    date: new Date().toISOString(),
    mode: args.quick ? 'quick' : 'full',
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    node: process.version,
    kafka: KAFKA_VERSION,
    backlog: args.n,
    scenarios: args.selected,
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
  };
  say(
    `# machine: ${meta.cores} cores (${meta.cpu}), ${meta.memory}; Node ${meta.node}; Kafka ${meta.kafka} (KRaft, single node); scenarios ${args.selected.join(',')}`,
  );
  say(ownStack ? `# starting the bench stack in ${stackDir} …` : `# on the stack already up in ${stackDir}`);
  const loads: Record<string, string> = { start: loadavg() };
  say(`# load average at start: ${loads['start']} (1, 5, 15 min)`);
  const info = ownStack ? await stackUp({ dir: stackDir }) : await runningStack(stackDir);
  const stack = { kafkaBrokers: info.kafkaBrokers, registryUrl: info.registryUrl };
  const runTag = `b${Date.now().toString(36)}`;
  let failed = 0;
  try {
    // Not on another's stack: its bench.* topics may belong to a run going on there.
    if (ownStack) await deleteTopics(stack, 'bench.');
    const backlogTopic = `bench.backlog.${runTag}.sms-outbound`;
    const codec = new AvroCodec(
      { url: info.registryUrl, auth: null },
      { outbound: backlogTopic, delivery: `bench.codec.${runTag}.sms-delivery`, inbound: null },
    );
    await codec.registerContracts();
    await createTopic(stack, backlogTopic, 12);
    const needsBacklog = args.selected.some((s) => ['c', 'e2e', 'routes', 'b', 'scale'].includes(s));
    const encoded = needsBacklog ? await encodeRecords(codec, 0, args.n, runTag) : [];
    if (needsBacklog) {
      const { seconds } = await produceBacklog(stack, backlogTopic, encoded);
      say(`# backlog: ${fmt(args.n)} Avro records produced to ${backlogTopic} (12 partitions) in ${seconds.toFixed(1)} s`);
    }
    const ctx: BenchContext = {
      stack,
      quick: args.quick,
      n: args.n,
      backlogTopic,
      encoded,
      runTag,
      codec,
      report,
      workDir,
      cpuProf: args.cpuProf,
      latencyRate: args.latencyRate,
      kafkaPid: info.kafkaPid,
      connectorFlags: [...CONNECTOR_NODE_FLAGS, ...args.nodeFlags],
      connectorEnv: args.connectorEnv,
    };
    const run: Record<Scenario, () => Promise<void>> = {
      a: () => bareSmpp(ctx),
      c: () => naiveLoop(ctx),
      e2e: () => endToEnd(ctx),
      routes: () => routesAgainstOne(ctx, args.pairs),
      pacing: async () => {
        for (const c of args.pacing.cases) for (let r = 1; r <= args.pacing.runs; r += 1) await pacingCase(ctx, c, args.pacing.seconds, r);
      },
      lanes: () => priorityLanes(ctx, args.quick ? 20_000 : 200_000, args.quick ? 10 : 60),
      failover: () => failover(ctx, args.quick ? QUICK_FAILOVER : FULL_FAILOVER),
      b: () => bareKafka(ctx),
      latency: () => latency(ctx),
      kannel: () => kannel(ctx),
      index: () => indexBytes(ctx),
      memory: () => memory(ctx, args.memoryVolume, args.memoryKeepDoneMs),
      scale: () => scaleOut(ctx),
      restart: () => restartAfterHistory(ctx, args.restartHistory, args.restartWindowMs),
      pending: () => pendingReceipts(ctx, args.pendingCounts),
    };
    if (args.warmup && args.selected.some((s) => ['c', 'e2e', 'routes'].includes(s))) await warmUp(ctx);
    for (const s of args.selected) {
      const t0 = Date.now();
      try {
        await run[s]();
      } catch (err) {
        failed++;
        report.skip(s, `FAILED: ${(err as Error).stack ?? err}`);
      }
      // Shared 2-core build machines: the load average next to each scenario says how busy the box was.
      say(`  (${s} took ${((Date.now() - t0) / 1000).toFixed(0)} s; load average ${loadavg()})`);
      loads[s] = loadavg();
    }
    if (args.pairs > 1 && args.selected.includes('c') && args.selected.includes('e2e')) {
      for (let i = 2; i <= args.pairs; i++) {
        say(`\n# pair ${i} of ${args.pairs}: (c) and the end-to-end run again, on fresh groups over the same backlog`);
        await naiveLoop(ctx);
        await endToEnd({ ...ctx, cpuProf: false });
      }
    }
    summary(report);
  } finally {
    const file = report.write(path.join(REPO_ROOT, '.local', 'bench-results'), {
      ...meta,
      seconds: (Date.now() - started) / 1000,
      loadAverage: { ...loads, end: loadavg() },
    });
    say(`\n# figures written to ${path.relative(REPO_ROOT, file)}`);
    if (ownStack && !args.keepStack) {
      say('# stopping the bench stack');
      await stackDown({ dir: stackDir });
    }
  }
  say(`# bench finished in ${((Date.now() - started) / 1000).toFixed(0)} s; ${failed} scenario(s) failed`);
  return failed > 0 ? 1 : 0;
}

/** The stack up in `dir` (`--stack`): refuses one that is not, rather than starting it. */
async function runningStack(dir: string): Promise<StackInfo> {
  const status = await stackStatus({ dir });
  if (status.kafka !== 'up' || status.registry !== 'up' || !status.info)
    throw new Error(`--stack ${dir}: Kafka is ${status.kafka}, the registry ${status.registry}; start it first (npm run stack -- up)`);
  return status.info;
}

/**
 * One pass of the naive loop through the backlog before anything is measured, its figures dropped.
 * Without it (c) ran first on a broker whose JVM had not compiled its produce and fetch paths yet:
 * in alternating pairs the naive loop went 6,939 → 8,783 → 8,399 submits/s while the connector
 * stayed at 5,354–5,936, so the single-run ratio flattered the connector by 10–25 %.
 */
async function warmUp(ctx: BenchContext): Promise<void> {
  const t0 = Date.now();
  say('\n# warm-up: the naive loop once through the backlog (figures dropped), so that (c) does not run on a cold broker');
  const quiet = new Report(false);
  await naiveLoop({ ...ctx, report: quiet });
  const rate = quiet.get('(c) naive loop', 'submits/s');
  say(`  (warm-up took ${((Date.now() - t0) / 1000).toFixed(0)} s at ${rate?.toFixed(0) ?? '?'} submits/s; load average ${loadavg()})`);
}

function loadavg(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

function summary(report: Report): void {
  report.section('ratios (same run)');
  // With --pairs the connector ran several times: its median run is the figure the ratios use.
  const e2eRuns = report.all('end-to-end (connector)', 'submits/s');
  const e2e = e2eRuns.length > 0 ? median(e2eRuns) : undefined;
  const pairRatios = report.all('end-to-end (connector)', 'ratio to (c) naive loop, submits');
  const baselines: Array<[string, number | undefined, string]> = [
    ['connector ÷ (a) bare SMPP (window 10 × 4 binds)', report.get('(a) bare SMPP ceiling', 'window 10 × 4 binds'), 'share of the SMPP library ceiling'],
    ['connector ÷ (b) bare Kafka', report.get('(b) bare Kafka ceiling', 'records/s'), 'share of the Kafka ceiling'],
    // with pairs, the median of the pairs' own ratios below is the (c) figure
    ...(pairRatios.length > 1
      ? []
      : [['connector ÷ (c) naive loop', report.get('(c) naive loop', 'submits/s'), 'goal ≥ 0.8'] as [string, number | undefined, string]]),
    ['connector ÷ (d) Kannel', report.get('(d) Kannel (incumbent)', 'submits/s'), 'goal ≥ 2'],
  ];
  for (const [name, base, goal] of baselines) {
    if (e2e && base)
      report.add(
        'ratios',
        name,
        e2e / base,
        '×',
        `end-to-end steady submits/s${e2eRuns.length > 1 ? ` (median of ${e2eRuns.length} runs)` : ''} ÷ baseline steady msg/s; ${goal}`,
      );
    else report.add('ratios', name, 'n/a', '', 'one side was not measured in this run');
  }
  if (pairRatios.length > 1) {
    report.add(
      'ratios',
      `connector ÷ (c) naive loop, median of ${pairRatios.length} pairs`,
      median(pairRatios),
      '×',
      `each pair: (c) then the connector, back to back; ratios ${pairRatios.map((r) => r.toFixed(3)).join(', ')}; goal ≥ 0.8`,
    );
  }
}

process.exitCode = await main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
  return 1;
});
