/**
 * Shared pieces of the benchmark suite: the run's options, the records every scenario sends, the
 * backlog producer, child processes with an IPC request/response channel, /proc CPU and RSS
 * readings, and the small statistics the figures are made of.
 *
 * Every scenario runs its moving parts (simulator, connector, naive loop…) as separate Node
 * processes, as in production: CPU per 1,000 messages is read from /proc/<pid>/stat of exactly the
 * process being measured, and the orchestrator's own work (polling, producing) is not counted.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import type { SmsOutbound } from '../../src/contracts.js';
import type { AvroCodec } from '../../src/kafka/codec.js';
import { METRIC_PREFIX } from '../../src/obs/metrics.js';
import type { PduRecord } from '../../src/simulator/recorder.js';

const { Kafka, logLevel } = kafkajs;

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

export interface StackRef {
  kafkaBrokers: string;
  registryUrl: string;
}

export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function kafkaClient(stack: StackRef, clientId = 'bench'): InstanceType<typeof Kafka> {
  return new Kafka({ clientId, brokers: stack.kafkaBrokers.split(','), logLevel: logLevel.NOTHING });
}

export function uniqueName(label: string): string {
  return `bench.${label}.${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}

export interface BenchTopics {
  outbound: string;
  delivery: string;
  dlq: string;
  correlation: string;
  correlationLive: string;
}

export function benchTopics(label: string, outbound?: string): BenchTopics {
  const base = uniqueName(label);
  return {
    outbound: outbound ?? `${base}.sms-outbound`,
    delivery: `${base}.sms-delivery`,
    dlq: `${base}.sms-outbound-dlq`,
    correlation: `${base}.sms-correlation`,
    correlationLive: `${base}.sms-correlation-live`,
  };
}

/**
 * Record `i` of a run: a one-segment GSM-7 text, receipts requested. The destination carries the
 * index in its last 8 digits, so the simulator's journal (which records destination_addr) maps a
 * submit_sm back to the record and its Kafka timestamp without any change to the simulator.
 */
export function benchRecord(i: number, runTag: string): SmsOutbound {
  return {
    id: `${runTag}-${i}`,
    from: 'ACME',
    to: `+3934${String(i % 100_000_000).padStart(8, '0')}`,
    text: `Your code is ${String(100000 + (i % 900000))}. It expires in 10 minutes. Ref ${i}`,
    encoding: 'AUTO',
    requestDeliveryReport: true,
    scheduleAt: null,
    validUntil: null,
    metadata: { campaign: 'bench', tenant: 't1' },
  };
}

export function indexFromDestination(destination: string): number {
  return Number(destination.slice(-8));
}

/** Key: 1,000 distinct customers, so per-key ordering is exercised but never the bottleneck. */
export const keyOf = (i: number): string => `customer-${i % 1000}`;

export async function createTopic(stack: StackRef, topic: string, partitions: number, configEntries: { name: string; value: string }[] = []): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const admin = kafkaClient(stack, 'bench-admin').admin();
    await admin.connect();
    try {
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries }] });
      await admin.fetchTopicMetadata({ topics: [topic] });
      return;
    } catch (err) {
      // right after a bulk topic deletion the broker may answer metadata requests inconsistently
      if (attempt >= 10) throw err;
      await sleep(1000);
    } finally {
      await admin.disconnect();
    }
  }
}

export async function deleteTopics(stack: StackRef, prefix: string): Promise<void> {
  const admin = kafkaClient(stack, 'bench-admin').admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

/** Sum of the high watermarks of a topic (records ever written). */
export async function topicEnd(stack: StackRef, topic: string): Promise<number> {
  const admin = kafkaClient(stack, 'bench-admin').admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Every record of `topic` from its start up to its end at the time of the call, in partition
 * order, through a throw-away consumer group; `each` may be async (a decode). Returns how many.
 * Counts in a stream: millions of records are never held at once.
 */
export async function scanTopic(
  stack: StackRef,
  topic: string,
  each: (key: Buffer | null, value: Buffer | null) => void | Promise<void>,
  timeoutMs = 600_000,
): Promise<number> {
  const admin = kafkaClient(stack, 'bench-admin').admin();
  await admin.connect();
  const ends = new Map<number, number>();
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) if (Number(p.high) > Number(p.low)) ends.set(p.partition, Number(p.high));
  } finally {
    await admin.disconnect();
  }
  if (ends.size === 0) return 0;
  const consumer = kafkaClient(stack, 'bench-scan').consumer({ groupId: uniqueName('scan'), maxWaitTimeInMs: 200 });
  let seen = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const end = ends.get(batch.partition);
        if (end === undefined) return;
        for (const m of batch.messages) {
          if (Number(m.offset) >= end) break;
          seen += 1;
          await each(m.key, m.value);
        }
        if (Number(batch.lastOffset()) >= end - 1) ends.delete(batch.partition);
        if (ends.size === 0) finish();
      },
    });
    const timer = setTimeout(finish, timeoutMs);
    await finished;
    clearTimeout(timer);
    if (ends.size > 0) throw new Error(`scanning ${topic}: ${ends.size} partition(s) not read to their end within ${timeoutMs} ms`);
    return seen;
  } finally {
    await consumer.disconnect();
  }
}

/** Avro-encodes records [from, to) once, so producing is not paced by encoding. */
export async function encodeRecords(codec: AvroCodec, from: number, to: number, runTag: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = from; i < to; i++) out.push(codec.encodeOutbound(benchRecord(i, runTag)));
  return out;
}

/** Produces pre-encoded records [from, from + values.length) in chunks (acks=all), as fast as the broker takes them. */
export async function produceBacklog(stack: StackRef, topic: string, values: Buffer[], from = 0): Promise<{ seconds: number }> {
  const producer = kafkaClient(stack, 'bench-producer').producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const t0 = Date.now();
  try {
    const chunk = 2000;
    const inFlight: Promise<unknown>[] = [];
    for (let i = 0; i < values.length; i += chunk) {
      const messages = values.slice(i, i + chunk).map((value, j) => ({ key: keyOf(from + i + j), value }));
      inFlight.push(producer.send({ topic, messages, acks: -1 }));
      if (inFlight.length >= 4) await inFlight.shift();
    }
    await Promise.all(inFlight);
  } finally {
    await producer.disconnect();
  }
  return { seconds: (Date.now() - t0) / 1000 };
}

/**
 * Produces records [0, n) (benchRecord) to `topic`, encoded 20,000 at a time so that millions never
 * sit encoded in memory together; what a producer team's backlog looks like to the connector.
 */
export async function produceRequests(codec: AvroCodec, stack: StackRef, topic: string, n: number, runTag: string): Promise<void> {
  const chunk = 20_000;
  for (let from = 0; from < n; from += chunk) await produceBacklog(stack, topic, await encodeRecords(codec, from, Math.min(n, from + chunk), runTag), from);
}

/**
 * Polls the simulator role's stats until `done(stats)`; says `progress(stats)` every 30 s, and
 * throws with it after `timeoutMs`. Resolves with the last stats read.
 */
export async function untilSimulator(
  sim: Child,
  done: (stats: Record<string, number>) => boolean | Promise<boolean>,
  progress: (stats: Record<string, number>) => string,
  timeoutMs: number,
  everyMs = 250,
): Promise<Record<string, number>> {
  const t0 = Date.now();
  let said = t0;
  for (;;) {
    const stats = await sim.request<Record<string, number>>('stats');
    if (await done(stats)) return stats;
    if (Date.now() - t0 > timeoutMs) throw new Error(`not in ${(timeoutMs / 1000).toFixed(0)} s: ${progress(stats)}`);
    if (Date.now() - said >= 30_000) {
      said = Date.now();
      say(`  … ${progress(stats)}`);
    }
    await sleep(everyMs);
  }
}

// ── child processes ─────────────────────────────────────────────────────────────────────────────

export interface Child {
  readonly pid: number;
  readonly process: ChildProcess;
  request<T = unknown>(type: string, payload?: unknown, timeoutMs?: number): Promise<T>;
  /** Waits for the child's first `ready` message. */
  ready: Promise<unknown>;
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * Forks `test/bench/roles/<role>.ts` under tsx with an IPC channel. The role answers
 * `{ id, type, payload }` with `{ id, result | error }` and sends `{ type: 'ready', … }` once.
 */
export function spawnRole(role: string, opts: { env?: Record<string, string>; args?: string[]; execArgv?: string[] } = {}): Child {
  const file = path.join(BENCH_DIR, 'roles', `${role}.ts`);
  const child = fork(file, opts.args ?? [], {
    execArgv: ['--import', 'tsx', ...(opts.execArgv ?? [])],
    env: { ...process.env, ...(opts.env ?? {}) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let readyResolve: (v: unknown) => void;
  let readyReject: (e: Error) => void;
  const ready = new Promise<unknown>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  ready.catch(() => undefined);
  child.on('message', (m: { id?: number; type?: string; result?: unknown; error?: string }) => {
    if (m.type === 'ready') return readyResolve(m);
    if (m.type === 'failed') return readyReject(new Error(`${role}: ${m.error}`));
    const p = m.id === undefined ? undefined : pending.get(m.id);
    if (!p) return;
    pending.delete(m.id!);
    if (m.error !== undefined) p.reject(new Error(`${role}: ${m.error}`));
    else p.resolve(m.result);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.once('exit', (code) => {
    readyReject(new Error(`${role} exited with code ${code}`));
    for (const p of pending.values()) p.reject(new Error(`${role} exited with code ${code}`));
    pending.clear();
  });
  return {
    pid: child.pid ?? 0,
    process: child,
    ready,
    request<T>(type: string, payload?: unknown, timeoutMs = 120_000): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${role}: no answer to ${type} within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        if (!child.connected) {
          pending.delete(id);
          clearTimeout(timer);
          reject(new Error(`${role} is not running`));
          return;
        }
        child.send({ id, type, payload });
      });
    },
    async stop(timeoutMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ id: 0, type: 'stop' });
      const timer = setTimeout(() => {
        // said aloud: a role that needs the kill lost its end-of-run output (e.g. a --cpu-prof profile)
        process.stderr.write(`# ${role} (pid ${child.pid}) did not exit within ${timeoutMs} ms of 'stop'; killed\n`);
        child.kill('SIGKILL');
      }, timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The role side: answers requests with `handlers[type](payload)`; `stop` calls `onStop` then exits. */
export function serveRole(handlers: Record<string, (payload: unknown) => unknown>, onStop: () => Promise<void>): void {
  let stopping = false;
  process.on('message', (m: { id: number; type: string; payload?: unknown }) => {
    if (m.type === 'stop') {
      if (stopping) return;
      stopping = true;
      void onStop()
        .catch((err) => process.stderr.write(`stop failed: ${(err as Error).message}\n`))
        .finally(() => process.exit(0));
      return;
    }
    const handler = handlers[m.type];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown request ${m.type}`);
        return handler(m.payload);
      })
      .then(
        (result) => process.send?.({ id: m.id, result }),
        (err: unknown) => process.send?.({ id: m.id, error: (err as Error).message }),
      );
  });
  process.on('disconnect', () => {
    if (!stopping) void onStop().finally(() => process.exit(0));
  });
}

// ── /proc readings ──────────────────────────────────────────────────────────────────────────────

const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/stat times are in these ticks

/** user + system CPU seconds of a process so far (0 when it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/**
 * The main thread's scheduler counters (`/proc/<pid>/schedstat`): ns on a CPU, ns runnable but
 * waiting for one, and when. For a Node process the main thread is its event loop; the wait is
 * latency no code of its own can remove. null when the process is gone.
 */
export interface SchedStat {
  at: number;
  runNs: number;
  waitNs: number;
}

/** ms on a CPU and ms runnable but waiting for one, per second of wall time. */
export interface SchedRates {
  runMs: number;
  waitMs: number;
}

export function schedStat(pid: number): SchedStat | null {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return { at: Date.now(), runNs: run ?? 0, waitNs: wait ?? 0 };
  } catch {
    return null;
  }
}

/** Between two schedStat readings. */
export function schedPerSecond(from: SchedStat | null, to: SchedStat | null): SchedRates | null {
  if (!from || !to || to.at <= from.at) return null;
  const seconds = (to.at - from.at) / 1000;
  return { runMs: (to.runNs - from.runNs) / 1e6 / seconds, waitMs: (to.waitNs - from.waitNs) / 1e6 / seconds };
}

export function rssBytes(pid: number): number {
  return procMemory(pid).rss;
}

/** VmRSS and its anonymous and file-backed parts (mmap'd files, e.g. an on-disk store), in bytes; 0 when gone. */
export function procMemory(pid: number): { rss: number; anon: number; file: number } {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // the process is gone: zeros
  }
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

/** Every PDU of a simulator journal (JSON lines), in order. */
export async function readJournal(file: string, each: (r: PduRecord) => void): Promise<void> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) if (line) each(JSON.parse(line) as PduRecord);
}

// ── statistics ──────────────────────────────────────────────────────────────────────────────────

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

/** The largest number of timestamps inside any window of `windowMs` (sorted input). */
export function maxInWindow(sorted: number[], windowMs: number): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while ((sorted[hi] as number) - (sorted[lo] as number) >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/** A counter sampled over time: (time ms, value). */
export type Series = Array<[number, number]>;

/** When the sampled counter first reached `value` (linear interpolation between samples). */
export function timeAt(series: Series, value: number): number {
  for (let i = 0; i < series.length; i++) {
    const [t, v] = series[i] as [number, number];
    if (v >= value) {
      if (i === 0) return t;
      const [t0, v0] = series[i - 1] as [number, number];
      return v === v0 ? t : t0 + ((value - v0) / (v - v0)) * (t - t0);
    }
  }
  return NaN;
}

/** Rate over the steady part of a run: between `lo` and `hi` shares of `total`. */
export function steadyRate(series: Series, total: number, lo = 0.1, hi = 0.9): number {
  const t1 = timeAt(series, total * lo);
  const t2 = timeAt(series, total * hi);
  return (total * (hi - lo)) / ((t2 - t1) / 1000);
}

export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';

export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/**
 * A role's `loopDelay` request: its event-loop delay (perf_hooks, 5 ms resolution) in ms since the
 * last reset; `{ reset: true }` starts a new window. The process's own stalls: for the simulator
 * they delay the journal's timestamps, for the connector everything it does.
 */
export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

export function loopDelayProbe(): (payload: unknown) => LoopDelay {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const ms = (ns: number) => Math.round(ns / 1e4) / 100; // the histogram counts in ns
  return (payload) => {
    const result = { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max), samples: histogram.count };
    if ((payload as { reset?: boolean } | undefined)?.reset) histogram.reset();
    return result;
  };
}

/**
 * A connector's /metrics series whose names (without the `sms_connector_` prefix) start with
 * `prefix`, labels kept in the name: `{ 'correlation_lookups_total{result="hit"}': 12 }`. Empty
 * when the connector does not answer (stopped, or its port not set).
 */
export async function connectorMetrics(httpPort: number, prefix: string): Promise<Record<string, number>> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const out: Record<string, number> = {};
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${METRIC_PREFIX}${prefix}`)) continue;
      const m = /^(\S+)\s+(\S+)$/.exec(line.slice(METRIC_PREFIX.length));
      if (m) out[m[1]!] = Number(m[2]);
    }
    return out;
  } catch {
    return {};
  }
}
