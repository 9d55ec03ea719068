/**
 * Restart after history (issue 20): how long a connector takes from its start to ready when its
 * correlation topic holds H requests of history, and what it holds in memory once ready.
 *
 * Each H: fresh topics and group, a fresh simulator (unthrottled, receipts after 20 ms). H records
 * are pushed through a first connector with the rate limit lifted (as the end-to-end run), until
 * the simulator has accepted H submits and had H receipts acknowledged, so every request has its
 * `r:` snapshot and its `f:` final on `sms.correlation`, written by the connector itself. That
 * connector keeps running until the history is older than the restore window
 * (CORRELATION_RESTORE_WINDOW_MS, `--restart-window-ms`, 60 s by default here with
 * CORRELATION_KEEP_DONE_MS a twelfth of it; the product default is 30 min) — weeks of traffic are
 * older than the window; with a window over 2 min the history stays inside it, which measures
 * what reading a full window costs — and is stopped gracefully (the role's stop runs app.stop(), what SIGTERM runs). A
 * fresh process is then started on the same topics and group, twice: on the first connector's
 * store directory (CORRELATION_STORE_DIR: a restart on its own disk, which resumes from the
 * store's checkpoints), then on an empty directory (a rescheduled pod: the live-state topic, then
 * the correlation topic from its watermark). Timed from its spawn:
 *  - started: the role's `ready` message, sent once startApp resolved, i.e. after the correlation
 *    tail caught up with the topic (start.ts loadCorrelation, capped at 60 s) and the consumer ran;
 *  - ready: its readiness report (what GET /readyz answers) first true: group joined, producer up,
 *    a session bound.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../../../tools/dev-stack/stack.js';
import {
  benchTopics,
  cpuSeconds,
  createTopic,
  fmt,
  kafkaClient,
  mib,
  procMemory,
  produceRequests,
  sleep,
  spawnRole,
  uniqueName,
  untilSimulator,
  type BenchTopics,
  type Child,
} from '../common.js';
import { connectorEnv, type BenchContext } from '../context.js';
import { promotionTimes } from '../../../src/pipeline/correlation-promoter.js';
import { UNTHROTTLED } from './ceilings.js';

export const FULL_RESTART_HISTORY = [0, 200_000, 1_000_000];
export const QUICK_RESTART_HISTORY = [0, 5_000];

const RATE_UNLIMITED = { SMPP_RATE_LIMIT: '100000' };
/** Up to this window the history is left to age out of it before the stop. */
const SETTLE_WINDOW_MAX_MS = 120_000;
/** The restore window's settings, and how long to wait after the history for it to be outside the window. */
function restoreWindow(windowMs: number): { env: Record<string, string>; settleMs: number } {
  // A twelfth: a request forgotten half the window less the clock margin after its submit leaves
  // a tombstone in the live-state topic (correlation-promoter.ts tombstoneLatencyMs); with a third
  // (as until 2026-12-04) every request of the history left one, and a restore on an empty disk read them all.
  const keepDoneMs = Math.floor(windowMs / 12);
  const env = { CORRELATION_RESTORE_WINDOW_MS: String(windowMs), CORRELATION_KEEP_DONE_MS: String(keepDoneMs) };
  // The watermark trails the clock by half the window plus a margin (correlation-promoter.ts promotionTimes).
  return { env, settleMs: windowMs <= SETTLE_WINDOW_MAX_MS ? promotionLagMs(windowMs) + 5_000 : 0 };
}
const promotionLagMs = (windowMs: number): number => {
  const now = Date.now();
  return now - promotionTimes(now, windowMs).watermark;
};
/** main.ts runs the bench stack in <repo>/.local/bench-stack; the broker's log.dirs is kafka/data there. */
const BROKER_DATA = path.join(REPO_ROOT, '.local', 'bench-stack', 'kafka', 'data');
const READY_TIMEOUT_MS = 180_000;

interface Restarted {
  startedS: number;
  readyS: number | null;
  cpuS: number;
}

type Disk = 'own disk' | 'empty disk';
const DISKS: Disk[] = ['own disk', 'empty disk'];

export async function restartAfterHistory(ctx: BenchContext, histories: number[], windowMs: number): Promise<void> {
  const seconds: Array<{ h: number; readyS: Record<Disk, number | null> }> = [];
  for (const h of histories) seconds.push({ h, readyS: await restartCase(ctx, h, restoreWindow(windowMs)) });
  for (const disk of DISKS)
    reportGrowth(
      ctx,
      disk,
      seconds.map(({ h, readyS }) => ({ h, readyS: readyS[disk] })),
    );
}

function reportGrowth(ctx: BenchContext, disk: Disk, seconds: Array<{ h: number; readyS: number | null }>): void {
  const measured = seconds.filter((x): x is { h: number; readyS: number } => x.readyS !== null);
  const empty = measured.find((x) => x.h === 0);
  const largest = measured.length > 0 ? measured.reduce((a, b) => (b.h > a.h ? b : a)) : undefined;
  if (!empty || !largest || largest.h === 0) return;
  const S = `restart after history: growth (${disk})`;
  ctx.report.section(S);
  const how = `(ready after ${fmt(largest.h)} − ready after 0) ÷ ${fmt(largest.h)} × 100,000; same run`;
  ctx.report.add(S, 'start to ready per 100,000 requests of history', ((largest.readyS - empty.readyS) / largest.h) * 100_000, 's', how);
  ctx.report.add(S, `ratio ${fmt(largest.h)} ÷ 0`, largest.readyS / empty.readyS, '×', 'start to ready; the goal of issue 20: ≤ 2 × at 3 M (own disk)');
}

/** One H: history pushed through a first connector, then timed restarts on its store and on an empty one. Returns spawn → ready in s. */
async function restartCase(ctx: BenchContext, h: number, window: ReturnType<typeof restoreWindow>): Promise<Record<Disk, number | null>> {
  const S = `restart after history: ${fmt(h)} requests`;
  ctx.report.section(S);
  const topics = benchTopics(`restart${h}`);
  await createTopic(ctx.stack, topics.outbound, 12);
  const group = uniqueName('restart');
  const sim = spawnRole('simulator', { args: [JSON.stringify({ behaviour: UNTHROTTLED })] });
  const { port } = (await sim.ready) as { port: number };
  const storeDir = mkdtempSync(path.join(tmpdir(), 'bench-restart-store-'));
  const emptyDir = mkdtempSync(path.join(tmpdir(), 'bench-restart-empty-'));
  const env = connectorEnv(ctx, topics, group, port, { ...RATE_UNLIMITED, ...window.env, CORRELATION_STORE_DIR: storeDir });
  try {
    const pushS = await pushHistory(ctx, sim, env, topics.outbound, h, window.settleMs);
    ctx.report.add(
      S,
      'history pushed',
      pushS,
      's',
      `${fmt(h)} records (1 segment, receipts requested) through a first connector (SMPP_RATE_LIMIT 100000, trx:4, CORRELATION_RESTORE_WINDOW_MS ${window.env['CORRELATION_RESTORE_WINDOW_MS']}, CORRELATION_KEEP_DONE_MS ${window.env['CORRELATION_KEEP_DONE_MS']}, product defaults otherwise) until the simulator counted ${fmt(h)} accepted submits and ${fmt(h)} receipts acknowledged; then ${window.settleMs / 1000} s more (${window.settleMs > 0 ? 'the history leaves the restore window' : 'none: the history stays inside the restore window'}) and app.stop() (graceful, as on SIGTERM)`,
    );
    await reportTopic(ctx, S, topics, h);
    ctx.report.add(
      S,
      'store on disk',
      fileBytes(path.join(storeDir, 'data.mdb')) / 2 ** 20,
      'MiB',
      `data.mdb of the first connector's CORRELATION_STORE_DIR after its stop (requests completed within CORRELATION_KEEP_DONE_MS are still in it)`,
    );
    const readyS = { 'own disk': null, 'empty disk': null } as Record<Disk, number | null>;
    for (const disk of DISKS) {
      const dir = disk === 'own disk' ? storeDir : emptyDir;
      readyS[disk] = await timedRestart(ctx, `${S}, ${disk}`, { ...env, CORRELATION_STORE_DIR: dir }, disk);
    }
    return readyS;
  } finally {
    await sim.stop();
    rmSync(storeDir, { recursive: true, force: true });
    rmSync(emptyDir, { recursive: true, force: true });
  }
}

async function timedRestart(ctx: BenchContext, S: string, env: Record<string, string>, disk: Disk): Promise<number | null> {
  ctx.report.section(S);
  const t0 = Date.now();
  const connector = spawnRole('connector', { env, execArgv: [...ctx.connectorFlags, '--expose-gc'] });
  try {
    const r = await timeRestart(connector, t0);
    const where = disk === 'own disk' ? "on the first connector's store directory" : 'on an empty store directory';
    const how = `a fresh connector process on the same topics and group, ${where}, timed from fork() (tsx module loading included)`;
    ctx.report.add(
      S,
      'start to started',
      r.startedS,
      's',
      `${how} to the role's 'ready' message: startApp resolved, the correlation tail caught up (capped at 60 s)`,
    );
    if (r.startedS >= 60)
      ctx.report.note(`${S}: started after ≥ 60 s — the correlation catch-up may have hit its 60 s cap (start.ts) and continued unfinished`);
    ctx.report.add(S, 'start to ready', r.readyS ?? NaN, 's', `${how} to its readiness report (GET /readyz) first true, polled every 50 ms over IPC`);
    ctx.report.add(S, 'CPU to ready', r.cpuS, 'CPU-s', 'utime + stime of the restarted process (/proc/<pid>/stat) when ready');
    const read = await connector.request<{ entriesRead: number | null; requests: number | null }>('correlation');
    ctx.report.add(
      S,
      'correlation entries read at start',
      read.entriesRead ?? NaN,
      'entries',
      'sms_connector_correlation_catch_up_entries: entries the start-up applied from the correlation topic',
    );
    ctx.report.add(
      S,
      'requests in the store when ready',
      read.requests ?? NaN,
      'requests',
      'sms_connector_correlation_index_entries (its collector runs at each scrape; read once ready)',
    );
    await reportMemory(ctx, S, connector);
    return r.readyS;
  } finally {
    await connector.stop();
  }
}

function fileBytes(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** H records produced while a first connector consumes them; waits for every submit and receipt. Returns its seconds. */
async function pushHistory(ctx: BenchContext, sim: Child, env: Record<string, string>, topic: string, h: number, settleMs: number): Promise<number> {
  const first = spawnRole('connector', { env, execArgv: ctx.connectorFlags });
  try {
    await first.ready;
    const t0 = Date.now();
    const producing = produceRequests(ctx.codec, ctx.stack, topic, h, `${ctx.runTag}-rs${h}`);
    producing.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    await untilSimulator(
      sim,
      (s) => s['acceptedSubmits']! >= h && s['receiptsAcked']! >= h,
      (s) => `history: ${fmt(s['acceptedSubmits']!)} of ${fmt(h)} submitted, ${fmt(s['receiptsAcked']!)} receipts acked`,
      120_000 + h * 3,
    );
    await producing;
    const pushS = (Date.now() - t0) / 1000;
    await sleep(settleMs);
    return pushS;
  } finally {
    await first.stop();
  }
}

/** From `t0` (just before the fork): the role's `ready` message, then readiness polled until true. */
async function timeRestart(connector: Child, t0: number): Promise<Restarted> {
  await connector.ready;
  const startedS = (Date.now() - t0) / 1000;
  let readyS: number | null = null;
  while (Date.now() - t0 < READY_TIMEOUT_MS) {
    const r = await connector.request<{ ready: boolean }>('readiness');
    if (r.ready) {
      readyS = (Date.now() - t0) / 1000;
      break;
    }
    await sleep(50);
  }
  return { startedS, readyS, cpuS: cpuSeconds(connector.pid) };
}

async function reportMemory(ctx: BenchContext, S: string, connector: Child): Promise<void> {
  const proc = procMemory(connector.pid);
  const { mem } = await connector.request<{ mem: NodeJS.MemoryUsage }>('usage');
  const live = await connector.request<{ mem: NodeJS.MemoryUsage }>('liveHeap');
  const when = 'read right after ready';
  ctx.report.add(S, 'RSS', proc.rss / 2 ** 20, 'MiB', `${when}: /proc/<pid>/status VmRSS (RssAnon ${mib(proc.anon)}, RssFile ${mib(proc.file)})`);
  ctx.report.add(S, 'heap used', mem.heapUsed / 2 ** 20, 'MiB', `${when}: process.memoryUsage().heapUsed, as found`);
  ctx.report.add(S, 'live heap', live.mem.heapUsed / 2 ** 20, 'MiB', `${when}: heapUsed after a full GC (the process runs with --expose-gc)`);
}

/** Records (high − low over partitions, kafkajs admin) and bytes (the partitions' .log files on the broker's disk). */
async function reportTopic(ctx: BenchContext, S: string, topics: BenchTopics, h: number): Promise<void> {
  const admin = kafkaClient(ctx.stack, 'bench-admin').admin();
  await admin.connect();
  let records = 0;
  try {
    for (const p of await admin.fetchTopicOffsets(topics.correlation)) records += Number(p.high) - Number(p.low);
  } finally {
    await admin.disconnect();
  }
  const bytes = logBytes(topics.correlation);
  const per = h > 0 ? `; ${fmt(bytes / h)} bytes per request` : '';
  ctx.report.add(
    S,
    'correlation topic records',
    records,
    '',
    'Σ (high − low) over its partitions, admin fetchTopicOffsets; bundles: one record per partition per flush',
  );
  ctx.report.add(
    S,
    'correlation topic bytes',
    bytes / 2 ** 20,
    'MiB',
    `Σ of its partitions' .log segment files in ${path.relative(REPO_ROOT, BROKER_DATA)}${per}`,
  );
}

function logBytes(topic: string): number {
  let bytes = 0;
  try {
    for (const dir of readdirSync(BROKER_DATA).filter((d) => d.startsWith(`${topic}-`))) {
      for (const f of readdirSync(path.join(BROKER_DATA, dir)).filter((x) => x.endsWith('.log'))) bytes += statSync(path.join(BROKER_DATA, dir, f)).size;
    }
  } catch {
    return NaN;
  }
  return bytes;
}
