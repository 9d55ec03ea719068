/**
 * The connector itself: end-to-end throughput on a backlog (with an optional CPU profile),
 * scale-out over 1..3 instances, and memory through a long run.
 */
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import {
  benchTopics,
  connectorMetrics,
  createTopic,
  fmt,
  encodeRecords,
  mib,
  produceBacklog,
  rssBytes,
  sleep,
  spawnRole,
  topicEnd,
  uniqueName,
  type Child,
} from '../common.js';
import { freePorts } from '../../../tools/dev-stack/stack.js';
import { connectorEnv, routedConnectorEnv, benchRoutesFile, type BenchContext } from '../context.js';
import { monitor, throughput, type Sample, type Throughput } from '../monitor.js';
import { latestProfile, summariseProfile } from '../profile.js';
import { UNTHROTTLED } from './ceilings.js';

const RATE_UNLIMITED = { SMPP_RATE_LIMIT: '100000' };

async function simulator(extra: Record<string, unknown> = {}): Promise<{ sim: Child; port: number }> {
  const sim = spawnRole('simulator', { args: [JSON.stringify({ behaviour: UNTHROTTLED, ...extra })] });
  const { port } = (await sim.ready) as { port: number };
  return { sim, port };
}

async function simCounts(sim: Child): Promise<Record<string, number>> {
  const s = await sim.request<Record<string, number>>('stats');
  return { accepted: s['acceptedSubmits']!, receiptsAcked: s['receiptsAcked']!, throttled: s['throttled']! };
}

/**
 * End-to-end on the shared backlog: submits and receipts per second, CPU per 1,000, ratio to (c).
 * The figures come from a run WITHOUT the profiler (it cost the connector 10–20 % of its
 * throughput); with --cpu-prof a second, profiled run on the same backlog gives the hot path.
 */
export async function endToEnd(ctx: BenchContext): Promise<void> {
  const S = 'end-to-end (connector)';
  ctx.report.section(S);
  const run = await runBacklog(ctx, 'e2e', []);
  const sub = reportBacklogRun(ctx, S, run, '4 trx binds × SMPP_WINDOW 10');
  const rec = throughput(run.samples, 'receiptsAcked', ctx.n);
  ctx.report.add(S, 'wall time, first submit → last receipt', rec.seconds, 's', `overall ${sub.overall.toFixed(0)} submits/s from first to last`);
  if (!ctx.cpuProf) return;
  const profDir = path.join(ctx.workDir, 'cpu-prof');
  rmSync(profDir, { recursive: true, force: true });
  const profiled = await runBacklog(ctx, 'e2eprof', ['--cpu-prof', '--cpu-prof-dir', profDir]);
  const profiledRate = throughput(profiled.samples, 'accepted', ctx.n).steady;
  reportProfile(ctx, profDir, `a second run on the same backlog with --cpu-prof: ${profiledRate.toFixed(0)} submits/s under the profiler`);
}

export interface BacklogRun {
  samples: Sample[];
  timedOut: boolean;
  events: number;
}

/**
 * The figures of one run through the shared backlog, under section `S`: submits/s, receipts/s, CPU
 * per 1,000, events written, and the ratios to the naive loop run just before it (with --pairs the
 * two alternate). `sessions` says how the connector reached the SMSC. Returns the submit throughput.
 */
export function reportBacklogRun(ctx: BenchContext, S: string, run: BacklogRun, sessions: string): Throughput {
  if (run.timedOut) ctx.report.note(`${S}: timed out before all ${ctx.n} messages completed (accepted ${run.samples.at(-1)?.counts['accepted']})`);
  const sub = throughput(run.samples, 'accepted', ctx.n);
  const rec = throughput(run.samples, 'receiptsAcked', ctx.n);
  const how = `${ctx.n} pre-produced records (1 segment, receipts requested), ${sessions}, SMPP_RATE_LIMIT 100000, simulator unthrottled with 20 ms receipt delay; counters from the simulator sampled every 200 ms, steady 10–90 % window; no profiler attached`;
  ctx.report.add(S, 'submits/s', sub.steady, 'msg/s', `accepted submit_sm; ${how}`);
  ctx.report.add(S, 'receipts/s', rec.steady, 'msg/s', 'deliver_sm_resp received by the simulator — sent only after the receipt event is acked by Kafka');
  ctx.report.add(
    S,
    'CPU per 1,000',
    sub.cpuPer1000['connector']!,
    'CPU-s',
    `connector process utime+stime (/proc) over the submit steady window; simulator ${sub.cpuPer1000['simulator']!.toFixed(3)}, Kafka broker ${sub.cpuPer1000['kafka']!.toFixed(3)} CPU-s/1k`,
  );
  ctx.report.add(
    S,
    'events written',
    run.events,
    'records',
    `high watermark sum of the delivery topic (expected ${ctx.n * 3}: SUBMITTED + DELIVERED + SUMMARY per request)`,
  );
  const naive = ctx.report.all('(c) naive loop', 'submits/s').at(-1);
  if (naive) ctx.report.add(S, 'ratio to (c) naive loop, submits', sub.steady / naive, '×', 'steady submits/s ÷ (c) steady submits/s, same run');
  const naiveRec = ctx.report.all('(c) naive loop', 'receipts/s').at(-1);
  if (naiveRec) ctx.report.add(S, 'ratio to (c) naive loop, receipts', rec.steady / naiveRec, '×', 'steady receipts/s ÷ (c) steady receipt events/s, same run');
  return sub;
}

/**
 * How a backlog run's connector reaches the SMSC: `one` route from the SMPP_* variables (trx:4, as
 * `npm start` without a routes file), or `two` routes of a routes file, trx:2 each, whose rule splits
 * the requests 50/50 by weight — as many sessions and as much window as `one`, against the same
 * simulator process (two accounts on it), so that what differs is the routing alone.
 */
export type BacklogRoutes = 'one' | 'two';

/** One connector (with `execArgv`) through the whole shared backlog, on its own group and output topics. */
export async function runBacklog(ctx: BenchContext, label: string, execArgv: string[], routes: BacklogRoutes = 'one'): Promise<BacklogRun> {
  const { sim, port } = await simulator(routes === 'two' ? { accounts: { test: 'secret', second: 's3cond' } } : {});
  const topics = benchTopics(label, ctx.backlogTopic);
  const group = uniqueName(label);
  const env =
    routes === 'one' ? connectorEnv(ctx, topics, group, port, RATE_UNLIMITED) : routedConnectorEnv(ctx, topics, group, twoRoutesFile(ctx, label, port));
  const connector = spawnRole('connector', { env, execArgv: [...ctx.connectorFlags, ...execArgv] });
  try {
    await connector.ready;
    const { samples, timedOut } = await monitor({
      sample: () => simCounts(sim),
      pids: { connector: connector.pid, simulator: sim.pid, kafka: ctx.kafkaPid },
      done: (c) => c['accepted']! >= ctx.n && c['receiptsAcked']! >= ctx.n,
      timeoutMs: 120_000 + ctx.n * 3,
    });
    return { samples, timedOut, events: await topicEnd(ctx.stack, topics.delivery) };
  } finally {
    await connector.stop();
    await sim.stop();
  }
}

function twoRoutesFile(ctx: BenchContext, label: string, port: number): string {
  const route = { port, sessions: 'trx:2', rateLimit: Number(RATE_UNLIMITED.SMPP_RATE_LIMIT) };
  return benchRoutesFile(
    path.join(ctx.workDir, `routes-${label}.json`),
    [
      { name: 'first', systemId: 'test', password: 'secret', ...route },
      { name: 'second', systemId: 'second', password: 's3cond', ...route },
    ],
    { first: 1, second: 1 },
  );
}

function reportProfile(ctx: BenchContext, dir: string, runNote: string): void {
  const S = 'hot path (--cpu-prof of the end-to-end connector)';
  ctx.report.section(S);
  const file = latestProfile(dir);
  if (!file) return ctx.report.skip(S, `no .cpuprofile written in ${dir}`);
  const p = summariseProfile(file);
  ctx.report.add(
    S,
    'profile',
    file,
    '',
    `${runNote}; busy ${p.totalMs.toFixed(0)} ms, idle ${p.idleMs.toFixed(0)} ms over the connector's whole life (start-up included)`,
  );
  p.topModules.forEach((m, i) => ctx.report.add(S, `module #${i + 1}: ${m.name}`, m.share * 100, '% self', `${m.ms.toFixed(0)} ms self time`));
  p.topFunctions.forEach((f, i) => ctx.report.add(S, `function #${i + 1}: ${f.name}`, f.share * 100, '% self', `${f.ms.toFixed(0)} ms self time`));
}

/** 1, 2, 3 instances in one group (cap raised to 12 binds), aggregate submits/s. */
export async function scaleOut(ctx: BenchContext): Promise<void> {
  const S = 'scale-out (one consumer group)';
  ctx.report.section(S);
  const n = ctx.quick ? ctx.n : Math.min(ctx.n, 60_000);
  for (const instances of [1, 2, 3]) {
    const { sim, port } = await simulator();
    const topics = benchTopics(`scale${instances}`);
    await createTopic(ctx.stack, topics.outbound, 12);
    const group = uniqueName(`scale${instances}`);
    const env = connectorEnv(ctx, topics, group, port, { ...RATE_UNLIMITED, SMPP_ACCOUNT_MAX_BINDS: '12' });
    // The first instance creates the topics; the others start once it is up. Started together on
    // fresh topics, a replica can die in ensureTopics (CreateTopics race: "not the leader").
    const httpPorts = await freePorts(instances);
    const spawn = (i: number) => spawnRole('connector', { env: { ...env, HTTP_PORT: String(httpPorts[i]) }, execArgv: ctx.connectorFlags });
    const children = [spawn(0)];
    try {
      await children[0]!.ready;
      for (let i = 1; i < instances; i++) children.push(spawn(i));
      await Promise.all(children.map((c) => c.ready));
      // Every member joined and bound before the backlog arrives, so no rebalance is inside the window.
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const ready = await Promise.all(children.map((c) => c.request<{ ready: boolean }>('readiness')));
        if (ready.every((r) => r.ready)) break;
        await sleep(250);
      }
      await sleep(1000);
      void produceBacklog(ctx.stack, topics.outbound, ctx.encoded.slice(0, n));
      const pids: Record<string, number> = {};
      children.forEach((c, i) => (pids[`connector${i + 1}`] = c.pid));
      const { samples, timedOut } = await monitor({
        sample: () => simCounts(sim),
        pids,
        done: (c) => c['accepted']! >= n && c['receiptsAcked']! >= n,
        timeoutMs: 120_000 + n * 3,
      });
      if (timedOut) ctx.report.note(`${S}: ${instances} instance(s) timed out`);
      const t = throughput(samples, 'accepted', n);
      const cpu = Object.values(t.cpuPer1000).reduce((a, b) => a + b, 0);
      ctx.report.add(
        S,
        `${instances} instance${instances > 1 ? 's' : ''}`,
        t.steady,
        'msg/s',
        `aggregate accepted submits, ${n} records produced after every member was ready, 12 partitions, trx:4 per instance (SMPP_ACCOUNT_MAX_BINDS 12), steady 10–90 %; connectors' CPU ${cpu.toFixed(3)} CPU-s/1k together`,
      );
      await reportStatePerReplica(ctx, S, instances, n, httpPorts);
    } finally {
      await Promise.all(children.map((c) => c.stop()));
      await sim.stop();
    }
  }
}

/**
 * What each replica holds and did at the end of a scale-out run (issue 20: "each replica holds its
 * share"): requests in its correlation store, and the receipts it correlated (the SMSC sends each
 * receipt to any receiver bind of the account, so most arrive at a replica that did not submit it).
 */
async function reportStatePerReplica(ctx: BenchContext, S: string, instances: number, n: number, httpPorts: number[]): Promise<void> {
  const readings = await Promise.all(httpPorts.map((port) => connectorMetrics(port, 'correlation_')));
  const entries = readings.map((r) => r['correlation_index_entries'] ?? NaN);
  const hits = readings.map((r) => (r['correlation_lookups_total{result="hit"}'] ?? 0) + (r['correlation_lookups_total{result="late_hit"}'] ?? 0));
  const misses = readings.map((r) => r['correlation_lookups_total{result="miss"}'] ?? 0);
  const label = `${instances} instance${instances > 1 ? 's' : ''}`;
  ctx.report.add(
    S,
    `${label}: store share per replica`,
    entries.map((e) => (e / n).toFixed(2)).join(' / '),
    '× the requests',
    `correlation_index_entries of each replica ÷ the ${n} requests of the run, read at its end (CORRELATION_KEEP_DONE_MS has not passed: nothing pruned yet); 1.00 = a full copy`,
  );
  ctx.report.add(
    S,
    `${label}: receipts correlated per replica`,
    hits.map((h) => fmt(h)).join(' / '),
    '',
    `correlation_lookups_total hit + late_hit of each replica (misses: ${misses.join(' / ')})`,
  );
  // CORRELATION_OWNERSHIP=partitioned: what went to another replica through the receipts topic.
  const forwarding = await Promise.all(
    httpPorts.map(async (port) => ({ ...(await connectorMetrics(port, 'receipts_forwarded')), ...(await connectorMetrics(port, 'forwarded_receipts')) })),
  );
  const forwarded = forwarding.map((r) => r['receipts_forwarded_total'] ?? 0);
  const handled = forwarding.map((r) => r['forwarded_receipts_handled_total'] ?? 0);
  if (forwarded.some((f) => f > 0) || handled.some((h) => h > 0))
    ctx.report.add(
      S,
      `${label}: receipts forwarded / handled for others, per replica`,
      forwarded.map((f, i) => `${fmt(f)} / ${fmt(handled[i]!)}`).join(' · '),
      '',
      'receipts_forwarded_total (received here, owned by another replica) and forwarded_receipts_handled_total (forwarded here by others) of each replica (CORRELATION_OWNERSHIP=partitioned)',
    );
}

/** RSS and heap of the connector through a long run (records produced while it consumes). */
export async function memory(ctx: BenchContext, volume: number, keepDoneMs: number): Promise<void> {
  const S = 'memory (long run)';
  ctx.report.section(S);
  const { sim, port } = await simulator();
  const topics = benchTopics('memory');
  await createTopic(ctx.stack, topics.outbound, 12);
  // Completed requests leave the correlation index after CORRELATION_KEEP_DONE_MS (product default
  // 10 min): the run must last well beyond the keep time for the curve to show its plateau.
  // --expose-gc: every 10 s the live heap is read right after a full collection — heapUsed at a
  // random instant mostly says when V8 last collected (it swung 73–560 MiB between samples).
  const connector = spawnRole('connector', {
    env: connectorEnv(ctx, topics, uniqueName('memory'), port, { ...RATE_UNLIMITED, CORRELATION_KEEP_DONE_MS: String(keepDoneMs) }),
    execArgv: [...ctx.connectorFlags, '--expose-gc'],
  });
  const mem: Array<{ t: number; done: number; rss: number; heap: number }> = [];
  const live: Array<{ t: number; done: number; rss: number; heap: number }> = [];
  try {
    await connector.ready;
    const producing = (async () => {
      const chunk = 20_000;
      for (let from = 0; from < volume; from += chunk) {
        const values = await encodeRecords(ctx.codec, from, Math.min(volume, from + chunk), `${ctx.runTag}-mem`);
        await produceBacklog(ctx.stack, topics.outbound, values, from);
        // keep at most ~100k records ahead of the connector: the broker's disk is not the subject
        while (from - (mem.at(-1)?.done ?? 0) > 100_000) await sleep(500);
      }
    })();
    let lastMem = 0;
    let lastLive = 0;
    const { samples, timedOut } = await monitor({
      sample: () => simCounts(sim),
      pids: { connector: connector.pid },
      done: (c) => c['accepted']! >= volume && c['receiptsAcked']! >= volume,
      timeoutMs: 600_000 + volume * 3,
      intervalMs: 500,
      onSample: (s: Sample) => {
        if (s.t - lastLive >= 10_000) {
          lastLive = s.t;
          void connector
            .request<{ mem: NodeJS.MemoryUsage }>('liveHeap')
            .then((u) => live.push({ t: s.t, done: s.counts['accepted']!, rss: rssBytes(connector.pid), heap: u.mem.heapUsed }))
            .catch(() => undefined);
        }
        if (s.t - lastMem < 2000) return;
        lastMem = s.t;
        void connector
          .request<{ mem: NodeJS.MemoryUsage }>('usage')
          .then((u) => mem.push({ t: s.t, done: s.counts['accepted']!, rss: rssBytes(connector.pid), heap: u.mem.heapUsed }))
          .catch(() => undefined);
      },
    });
    await producing;
    if (timedOut) ctx.report.note(`${S}: timed out`);
    const t = throughput(samples, 'accepted', volume);
    const how = `${volume} records, produced while the connector consumed, CORRELATION_KEEP_DONE_MS ${keepDoneMs}; RSS from /proc, heapUsed from process.memoryUsage() every 2 s`;
    ctx.report.add(S, 'messages', volume, '', `${t.steady.toFixed(0)} submits/s steady; ${how}`);
    const warm = mem.filter((m) => m.done >= volume * 0.1);
    let prevShare = 0;
    for (const share of [0.1, 0.25, 0.5, 0.75, 1]) {
      const m = warm.find((x) => x.done >= volume * share * 0.999) ?? mem.at(-1);
      // heapUsed at one instant depends on when the last GC ran; the minimum since the previous
      // mark (the floor after collections) shows the live set's trend better.
      const since = mem.filter((x) => x.done > volume * prevShare && x.done <= volume * share);
      const floor = since.length > 0 ? `, heap floor ${mib(Math.min(...since.map((x) => x.heap)))} since ${prevShare * 100} %` : '';
      prevShare = share;
      if (m) ctx.report.add(S, `at ${share * 100} % (${m.done} sent)`, `RSS ${mib(m.rss)}, heap ${mib(m.heap)}${floor}`, '', how);
    }
    if (warm.length > 1) {
      const rss = warm.map((m) => m.rss);
      const heap = warm.map((m) => m.heap);
      const spread = (xs: number[]) => ((Math.max(...xs) - Math.min(...xs)) / xs[0]!) * 100;
      ctx.report.add(S, 'RSS spread after warm-up', spread(rss), '% of RSS at 10 %', `(max − min) ÷ value at 10 % of the run; max ${mib(Math.max(...rss))}`);
      ctx.report.add(
        S,
        'heap spread after warm-up',
        spread(heap),
        '% of heap at 10 %',
        `(max − min) ÷ value at 10 % of the run; max ${mib(Math.max(...heap))}`,
      );
      const slope = (heap.at(-1)! - heap[0]!) / (warm.at(-1)!.done - warm[0]!.done) || 0;
      ctx.report.add(
        S,
        'heap growth per message after warm-up',
        slope,
        'bytes',
        'linear (last − first) over messages sent; compare with correlation index bytes/entry (the index keeps completed requests for CORRELATION_KEEP_DONE_MS)',
      );
    }
    // Plateau: once the keep time has passed since the first submit (+ 30 s for the sweep and GC),
    // the index holds ~ keep time × rate entries and should stop growing.
    const firstSubmit = samples.find((x) => (x.counts['accepted'] ?? 0) > 0)?.t ?? NaN;
    const plateau = mem.filter((m) => m.t >= firstSubmit + keepDoneMs + 30_000);
    if (plateau.length > 1) {
      const rss = plateau.map((m) => m.rss);
      const heap = plateau.map((m) => m.heap);
      const from = `from ${plateau[0]!.done} sent (keep time + 30 s after the first submit) to ${plateau.at(-1)!.done}, ${plateau.length} samples`;
      ctx.report.add(
        S,
        'RSS after the keep time',
        `${mib(Math.min(...rss))} … ${mib(Math.max(...rss))} (spread ${(((Math.max(...rss) - Math.min(...rss)) / rss[0]!) * 100).toFixed(1)} % of the first)`,
        '',
        from,
      );
      ctx.report.add(
        S,
        'heap after the keep time',
        `${mib(Math.min(...heap))} … ${mib(Math.max(...heap))} (spread ${(((Math.max(...heap) - Math.min(...heap)) / heap[0]!) * 100).toFixed(1)} % of the first)`,
        '',
        from,
      );
      const slope = (heap.at(-1)! - heap[0]!) / Math.max(1, plateau.at(-1)!.done - plateau[0]!.done);
      ctx.report.add(S, 'heap growth per message after the keep time', slope, 'bytes', `linear (last − first) ${from}`);
      const livePlateau = live.filter((m) => m.t >= firstSubmit + keepDoneMs + 30_000);
      if (livePlateau.length > 1) {
        const lh = livePlateau.map((m) => m.heap);
        const lr = livePlateau.map((m) => m.rss);
        const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
        const band = (xs: number[]) =>
          `${mib(Math.min(...xs))} … ${mib(Math.max(...xs))}, ${(((Math.max(...xs) - mean(xs)) / mean(xs)) * 100).toFixed(1)} % / ${(((Math.min(...xs) - mean(xs)) / mean(xs)) * 100).toFixed(1)} % around the mean ${mib(mean(xs))}`;
        const liveFrom = `full GC (--expose-gc) every 10 s, ${livePlateau.length} samples from ${livePlateau[0]!.done} to ${livePlateau.at(-1)!.done} sent`;
        ctx.report.add(S, 'live heap after a full GC, after the keep time', band(lh), '', liveFrom);
        ctx.report.add(S, 'RSS right after a full GC, after the keep time', band(lr), '', liveFrom);
        const liveSlope = (lh.at(-1)! - lh[0]!) / Math.max(1, livePlateau.at(-1)!.done - livePlateau[0]!.done);
        ctx.report.add(S, 'live heap growth per message after the keep time', liveSlope, 'bytes', `linear (last − first), ${liveFrom}`);
      }
    } else {
      ctx.report.note(
        `${S}: the run ended before CORRELATION_KEEP_DONE_MS (${keepDoneMs} ms) + 30 s had passed — no plateau figure; use a larger --memory-volume or a lower --memory-keep-done-ms`,
      );
    }
  } finally {
    await connector.stop();
    await sim.stop();
  }
}

/** Bytes per CorrelationIndex entry: heapUsed diff after gc in a --expose-gc child, and the store's file size. */
export async function indexBytes(ctx: BenchContext): Promise<void> {
  const S = 'correlation index';
  ctx.report.section(S);
  const child = spawnRole('index-memory', { execArgv: ['--expose-gc'] });
  try {
    await child.ready;
    const count = ctx.quick ? 50_000 : 200_000;
    const r = await child.request<{ requestOnly: number; withFinal: number; diskRequestOnly: number; diskWithFinal: number }>('measure', { count });
    const how = `${count} one-segment requests (uuid id, AGILE- message id, 2 metadata entries) applied to an index on a fresh LMDB store, committed; heapUsed diff after 4× gc() (node --expose-gc)`;
    ctx.report.add(S, 'heap bytes per request entry', r.requestOnly, 'bytes', how);
    ctx.report.add(
      S,
      'heap bytes per request + final receipt record',
      r.withFinal,
      'bytes',
      `${how}; plus one f:<messageId> final record each (after DELIVERED)`,
    );
    ctx.report.add(S, 'disk bytes per request entry', r.diskRequestOnly, 'bytes', `${count} requests: size of the store's data.mdb ÷ count`);
    ctx.report.add(S, 'disk bytes per request + final receipt record', r.diskWithFinal, 'bytes', `as above, with the final record`);
  } finally {
    await child.stop();
  }
}
