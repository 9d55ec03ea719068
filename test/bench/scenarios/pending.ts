/**
 * Requests pending a receipt (issue 20, "shown, not claimed"): the connector's heap and RSS with
 * N requests submitted and none of their receipts back, then every receipt arriving at once in
 * random order — and whether every one is correlated with its request.
 *
 * Each N: fresh topics and group, a fresh simulator (unthrottled) that holds every receipt
 * (`holdReceipts`), one connector with the rate limit lifted (as the end-to-end run). N records
 * (1 segment, receipts requested) are produced until the simulator accepted N submits and the
 * delivery topic holds N events (every SUBMITTED published). Memory is read then — live heap after
 * a full GC (the role runs with --expose-gc), RssAnon and RssFile from /proc — with the
 * connector's `correlation_*` metrics over HTTP, and RssAnon is split: what V8 committed for its
 * heap, what glibc's arenas hold (read with gdb when it is installed: see native-memory.ts), and
 * the rest (mostly pages V8 keeps for reuse). The simulator then releases the held receipts in
 * random order (at most 1,000 unacknowledged at a time); timed until it counts N acknowledged (the
 * connector answers a deliver_sm only once its RECEIPT event is acked by Kafka). Memory is read
 * again, then after malloc_trim(0) (what glibc held free and gives back) and after a last-resort
 * GC (what V8 kept of the pages its collections freed), and the delivery topic is read from its
 * start: a RECEIPT event whose id is a request of this run is correlated, one whose id is
 * `unknown:<messageId>` is not.
 *
 * Only process memory, /metrics and topic contents are read: the scenario holds whatever store
 * keeps the correlation (in memory or on disk) to the same account.
 */
import * as os from 'node:os';
import type { HeapInfo, HeapSpaceInfo } from 'node:v8';
import type { SmsDeliveryEvent } from '../../../src/contracts.js';
import { registerCompressionCodecs } from '../../../src/kafka/compression.js';
import { freePorts } from '../../../tools/dev-stack/stack.js';
import {
  benchTopics,
  connectorMetrics,
  createTopic,
  fmt,
  procMemory,
  produceRequests,
  say,
  scanTopic,
  spawnRole,
  topicEnd,
  uniqueName,
  untilSimulator,
  type Child,
} from '../common.js';
import { connectorEnv, type BenchContext } from '../context.js';
import { lmdbFreeDirtyPages, mallocTotals, mallocTrim, type MallocTotals } from '../native-memory.js';
import { UNTHROTTLED } from './ceilings.js';

export const FULL_PENDING_COUNTS = [100_000, 1_000_000];
export const QUICK_PENDING_COUNTS = [2_000];

const RATE_UNLIMITED = { SMPP_RATE_LIMIT: '100000' };
const MIB = 2 ** 20;
const mib = (bytes: number) => (bytes / MIB).toFixed(1);

/** Memory of the connector at one moment, with its correlation metrics. */
interface MemoryReading {
  liveHeap: number;
  /** process.memoryUsage(): external (C++ objects tied to JS ones, ArrayBuffers included) and arrayBuffers. */
  external: number;
  arrayBuffers: number;
  /** V8's account: committed and resident heap, per space, and what V8 itself malloc'd. */
  heap: HeapInfo;
  spaces: HeapSpaceInfo[];
  rssAnon: number;
  rssFile: number;
  /** glibc's arenas (gdb); undefined when gdb could not read them. */
  malloc: MallocTotals | undefined;
  /** Of glibc's memory in use: LMDB's list of dirty pages kept for reuse (gdb); NaN when unread. */
  lmdbDirtyPages: number;
  /** `correlation_*` series of /metrics (name with labels → value); empty when unreadable. */
  metrics: Record<string, number>;
}

interface PendingRow {
  n: number;
  pending: MemoryReading;
  settled: MemoryReading;
  /** RssAnon after every receipt and malloc_trim(0); NaN when gdb could not call it. */
  trimmedRssAnon: number;
  /** RssAnon after that and a last-resort GC, with what V8 then counts resident. */
  releasedRssAnon: number;
  releasedV8Heap: number;
  pushS: number;
  correlateS: number;
  correlated: number;
  unknown: number;
  duplicates: number;
  receiptEvents: number;
  simulatorRss: number;
  load: string;
}

export async function pendingReceipts(ctx: BenchContext, counts: number[]): Promise<void> {
  registerCompressionCodecs(); // the connector may compress the delivery topic; the scan reads it
  const rows: PendingRow[] = [];
  for (const n of counts) rows.push(await pendingCase(ctx, n));
  printTable(rows);
}

async function pendingCase(ctx: BenchContext, n: number): Promise<PendingRow> {
  const S = `pending receipts: ${fmt(n)} requests`;
  ctx.report.section(S);
  const topics = benchTopics(`pending${n}`);
  await createTopic(ctx.stack, topics.outbound, 12);
  const tag = `${ctx.runTag}-p${n}`;
  const sim = spawnRole('simulator', { args: [JSON.stringify({ behaviour: { ...UNTHROTTLED, holdReceipts: true } })] });
  const { port } = (await sim.ready) as { port: number };
  const [httpPort] = (await freePorts(1)) as [number];
  const env = connectorEnv(ctx, topics, uniqueName('pending'), port, { ...RATE_UNLIMITED, HTTP_PORT: String(httpPort) });
  const connector = spawnRole('connector', { env, execArgv: [...ctx.connectorFlags, '--expose-gc'] });
  try {
    await connector.ready;
    const pushS = await pushPending(ctx, sim, tag, topics, n);
    const pending = await readMemory(connector, httpPort);
    const simulatorRss = procMemory(sim.pid).rss;
    const held = (await sim.request<Record<string, number>>('stats'))['receiptsHeld'] ?? NaN;
    const how = `${fmt(n)} records (1 segment, receipts requested) through one connector (SMPP_RATE_LIMIT 100000, trx:4), the simulator holding every receipt (${fmt(held)} held)`;
    ctx.report.add(S, 'pushed until pending', pushS, 's', `${how}: produced until ${fmt(n)} submits accepted and ${fmt(n)} events on the delivery topic`);
    reportMemory(ctx, S, `with ${fmt(n)} pending`, pending);
    ctx.report.add(S, 'simulator RSS while holding', simulatorRss / MIB, 'MiB', 'VmRSS of the simulator process: the held receipts, packed');
    const load = os.loadavg()[0]!.toFixed(2);
    const seed = Math.floor(Math.random() * 2 ** 32);
    const correlateS = await releaseAll(sim, n, seed);
    ctx.report.add(
      S,
      'release → all acknowledged',
      correlateS,
      's',
      `releaseHeldReceipts random order (seed ${seed}), ≤ 1,000 unacknowledged at a time, to the 4 binds round-robin; until the simulator counted ${fmt(n)} deliver_sm_resp status 0`,
    );
    const settled = await readMemory(connector, httpPort);
    reportMemory(ctx, S, 'after every receipt', settled);
    const trimmedRssAnon = mallocTrim(connector.pid) ? procMemory(connector.pid).anon : NaN;
    ctx.report.add(
      S,
      'RssAnon after malloc_trim(0)',
      trimmedRssAnon / MIB,
      'MiB',
      'the same, once gdb had the connector call malloc_trim(0): what glibc held free and gave back',
    );
    const released = await connector.request<{ heap: HeapInfo }>('releaseHeap');
    const releasedRssAnon = procMemory(connector.pid).anon;
    const releasedV8Heap = released.heap.total_physical_size;
    ctx.report.add(
      S,
      'RssAnon after a last-resort GC',
      releasedRssAnon / MIB,
      'MiB',
      `then gc({ flavor: 'last-resort' }): what V8 kept of the pages its collections had freed (V8 heap committed then ${mib(releasedV8Heap)} MiB)`,
    );
    const events = await countReceipts(ctx, topics.delivery, tag, n);
    ctx.report.add(
      S,
      'correlated',
      `${fmt(events.correlated)} / ${fmt(n)}`,
      '',
      `distinct requests of this run with a RECEIPT event on the delivery topic (read from its start); ${fmt(events.unknown)} RECEIPT events with an unknown: id, ${fmt(events.duplicates)} duplicates, ${fmt(events.receiptEvents)} RECEIPT events in all`,
    );
    if (events.correlated < n) ctx.report.note(`${S}: NOT every receipt was correlated — ${fmt(n - events.correlated)} without their request`);
    return { n, pending, settled, trimmedRssAnon, releasedRssAnon, releasedV8Heap, pushS, correlateS, ...events, simulatorRss, load };
  } finally {
    await connector.stop();
    await sim.stop();
  }
}

/** Produces N records while the connector consumes; returns seconds until every submit was accepted and published. */
async function pushPending(ctx: BenchContext, sim: Child, tag: string, topics: { outbound: string; delivery: string }, n: number): Promise<number> {
  const t0 = Date.now();
  const producing = produceRequests(ctx.codec, ctx.stack, topics.outbound, n, tag);
  producing.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
  await untilSimulator(
    sim,
    async (s) => s['acceptedSubmits']! >= n && (await topicEnd(ctx.stack, topics.delivery)) >= n,
    (s) => `${fmt(s['acceptedSubmits']!)} of ${fmt(n)} submitted, ${fmt(s['receiptsHeld']!)} receipts held`,
    120_000 + n * 3,
    500,
  );
  await producing;
  return (Date.now() - t0) / 1000;
}

/** Releases every held receipt in random order; returns seconds until N were acknowledged. */
async function releaseAll(sim: Child, n: number, seed: number): Promise<number> {
  const t0 = Date.now();
  const { released } = await sim.request<{ released: number }>('releaseHeldReceipts', { order: 'random', seed });
  if (released < n) throw new Error(`only ${fmt(released)} receipts were held, ${fmt(n)} expected`);
  await untilSimulator(
    sim,
    (s) => s['receiptsAcked']! >= n,
    (s) =>
      `${fmt(s['receiptsAcked']!)} of ${fmt(n)} receipts acknowledged (${fmt(s['receiptsRefused']!)} refused, ${fmt(s['receiptsUnanswered']!)} unanswered)`,
    120_000 + n * 3,
  );
  return (Date.now() - t0) / 1000;
}

async function readMemory(connector: Child, httpPort: number): Promise<MemoryReading> {
  const live = await connector.request<{ mem: NodeJS.MemoryUsage; collected: boolean; heap: HeapInfo; spaces: HeapSpaceInfo[] }>('liveHeap');
  const proc = procMemory(connector.pid); // after the collection: what the process still holds
  const malloc = mallocTotals(connector.pid);
  const lmdbDirtyPages = lmdbFreeDirtyPages(connector.pid)?.bytes ?? NaN;
  return {
    liveHeap: live.mem.heapUsed,
    external: live.mem.external,
    arrayBuffers: live.mem.arrayBuffers,
    heap: live.heap,
    spaces: live.spaces,
    rssAnon: proc.anon,
    rssFile: proc.file,
    malloc,
    lmdbDirtyPages,
    metrics: await connectorMetrics(httpPort, 'correlation_'),
  };
}

/**
 * RssAnon in parts. V8's heap pages are its own mmaps (total_physical_size: resident); glibc's
 * arenas hold everything malloc'd — Node's buffers, V8's malloc'd tables (`malloced_memory`),
 * lmdb-js and LMDB, the other native modules — with the free chunks glibc keeps. The rest is what
 * neither accounts for: mostly the pages V8 freed in its collections but keeps mapped for reuse
 * (its heap statistics leave them out; the last-resort GC after the last reading gives them back:
 * 60–110 MiB at 1,000,000 in docs/perf-log.md, 2026-12-03 evening), then thread stacks and other
 * mappings, less the part of the arenas' address space never touched.
 */
function splitAnon(r: MemoryReading): { v8Heap: number; glibcInUse: number; glibcFree: number; rest: number } {
  const v8Heap = r.heap.total_physical_size;
  const glibcInUse = r.malloc?.inUse ?? NaN;
  const glibcFree = r.malloc?.free ?? NaN;
  return { v8Heap, glibcInUse, glibcFree, rest: r.rssAnon - v8Heap - glibcInUse - glibcFree };
}

/** The correlation store's size as the connector reports it: the first `correlation_*entries` gauge. */
function entriesOf(r: MemoryReading): number {
  const key = Object.keys(r.metrics).find((k) => /^correlation_\w*entries(\{.*\})?$/.test(k));
  return key === undefined ? NaN : r.metrics[key]!;
}

function reportMemory(ctx: BenchContext, S: string, when: string, r: MemoryReading): void {
  ctx.report.add(S, `live heap ${when}`, r.liveHeap / MIB, 'MiB', 'heapUsed right after a full GC (the connector runs with --expose-gc)');
  ctx.report.add(S, `RssAnon ${when}`, r.rssAnon / MIB, 'MiB', '/proc/<pid>/status after that GC: anonymous memory (heap, buffers, native)');
  ctx.report.add(S, `RssFile ${when}`, r.rssFile / MIB, 'MiB', '/proc/<pid>/status: file-backed pages resident (code, mmap’d files such as an on-disk store)');
  const part = splitAnon(r);
  const spaces = r.spaces.map((s) => `${s.space_name} ${mib(s.space_size)}/${mib(s.space_used_size)}`).join(', ');
  ctx.report.add(
    S,
    `V8 heap committed ${when}`,
    part.v8Heap / MIB,
    'MiB',
    `v8 total_physical_size (total_heap_size ${mib(r.heap.total_heap_size)}); per space committed/used MiB: ${spaces}`,
  );
  ctx.report.add(
    S,
    `glibc in use ${when}`,
    part.glibcInUse / MIB,
    'MiB',
    `malloc_info over ${r.malloc?.arenas ?? '?'} arenas (${mib(r.malloc?.mmapped ?? NaN)} MiB of it mmap'd chunks); of it LMDB's dirty pages kept for reuse ${mib(r.lmdbDirtyPages)}, V8 malloced_memory ${mib(r.heap.malloced_memory)} (peak ${mib(r.heap.peak_malloced_memory)}); Node counts arrayBuffers ${mib(r.arrayBuffers)}, external ${mib(r.external)} (not all of it malloc'd)`,
  );
  ctx.report.add(S, `glibc free, kept ${when}`, part.glibcFree / MIB, 'MiB', 'free chunks and top chunks glibc keeps in its arenas (malloc_info fast + rest)');
  ctx.report.add(
    S,
    `RssAnon rest ${when}`,
    part.rest / MIB,
    'MiB',
    'RssAnon − V8 heap − glibc in use − glibc free: mostly pages V8 keeps mapped after its collections (see the last-resort GC below), stacks, other mappings',
  );
  const series = Object.entries(r.metrics).map(([k, v]) => `${k} ${fmt(v)}`);
  ctx.report.add(S, `correlation metrics ${when}`, series.length > 0 ? series.join('; ') : 'none', '', 'GET /metrics of the connector, correlation_* series');
}

/** RECEIPT events on the delivery topic: of a request of this run (each index once) or `unknown:`. */
async function countReceipts(
  ctx: BenchContext,
  topic: string,
  tag: string,
  n: number,
): Promise<{ correlated: number; unknown: number; duplicates: number; receiptEvents: number }> {
  const seen = new Uint8Array(n);
  let correlated = 0;
  let unknown = 0;
  let duplicates = 0;
  let receiptEvents = 0;
  const prefix = `${tag}-`;
  await scanTopic(ctx.stack, topic, async (_key, value) => {
    if (value === null) return;
    const event = (await ctx.codec.decodeRaw(value)) as unknown as SmsDeliveryEvent;
    if (event.source !== 'RECEIPT') return;
    receiptEvents += 1;
    if (event.id.startsWith('unknown:')) unknown += 1;
    if (!event.id.startsWith(prefix)) return;
    const i = Number(event.id.slice(prefix.length));
    if (!(i >= 0 && i < n)) return;
    if (seen[i]) duplicates += 1;
    else correlated += 1;
    seen[i] = 1;
  });
  return { correlated, unknown, duplicates, receiptEvents };
}

function printTable(rows: PendingRow[]): void {
  if (rows.length === 0) return;
  say(`\n# pending receipts — npm run bench -- ${process.argv.slice(2).join(' ')}`);
  say('| N | when | live heap MiB | RssAnon MiB | RssFile MiB | correlation entries (metric) | correlated / total | unknown | seconds | load (1 min) |');
  say('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const row = (when: string, m: MemoryReading, correlated: string, unknown: string, seconds: string) =>
      say(
        `| ${fmt(r.n)} | ${when} | ${mib(m.liveHeap)} | ${mib(m.rssAnon)} | ${mib(m.rssFile)} | ${fmt(entriesOf(m))} | ${correlated} | ${unknown} | ${seconds} | ${r.load} |`,
      );
    row('all pending', r.pending, '—', '—', `${r.pushS.toFixed(1)} (push)`);
    row('all receipts in', r.settled, `${fmt(r.correlated)} / ${fmt(r.n)}`, fmt(r.unknown), `${r.correlateS.toFixed(1)} (release → last ack)`);
  }
  say(`  simulator RSS while holding: ${rows.map((r) => `${fmt(r.n)} → ${mib(r.simulatorRss)} MiB`).join(', ')}`);
  say(
    '\n| N | when | RssAnon MiB | V8 heap committed | of it new space | glibc in use | of it LMDB free dirty pages | arrayBuffers (Node) | glibc free, kept | rest (kept by V8) | RssAnon after malloc_trim | … and a last-resort GC (V8 heap then) |',
  );
  say('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const row = (when: string, m: MemoryReading, trimmed: number, released: string) => {
      const part = splitAnon(m);
      const young = m.spaces.filter((s) => s.space_name === 'new_space' || s.space_name === 'new_large_object_space').reduce((t, s) => t + s.space_size, 0);
      say(
        `| ${fmt(r.n)} | ${when} | ${mib(m.rssAnon)} | ${mib(part.v8Heap)} | ${mib(young)} | ${mib(part.glibcInUse)} | ${mib(m.lmdbDirtyPages)} | ${mib(m.arrayBuffers)} | ${mib(part.glibcFree)} | ${mib(part.rest)} | ${mib(trimmed)} | ${released} |`,
      );
    };
    row('all pending', r.pending, NaN, '—');
    row('all receipts in', r.settled, r.trimmedRssAnon, `${mib(r.releasedRssAnon)} (${mib(r.releasedV8Heap)})`);
  }
}
