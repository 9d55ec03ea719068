/**
 * Latency at half of the measured capacity, read from the simulator's PDU journal (wire
 * timestamps, SMSC side). Pacing is in pacing.ts.
 */
import { existsSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import {
  readJournal,
  benchTopics,
  createTopic,
  encodeRecords,
  indexFromDestination,
  kafkaClient,
  keyOf,
  percentile,
  schedPerSecond,
  schedStat,
  type LoopDelay,
  type SchedRates,
  type SchedStat,
  sleep,
  spawnRole,
  uniqueName,
} from '../common.js';
import { connectorEnv, naiveEnv, type BenchContext } from '../context.js';
import { monitor } from '../monitor.js';
import { UNTHROTTLED } from './ceilings.js';

/**
 * Latency at 50 % of the end-to-end capacity: Kafka timestamp → submit_sm at the SMSC, receipt
 * sent → event acked — for the connector, and the submit figure for the naive loop (c) at the
 * same offered rate, as the floor this box and harness allow (it answers receipts before writing
 * their events, so it has no receipt figure).
 */
export async function latency(ctx: BenchContext): Promise<void> {
  const S = 'latency at 50 % of capacity';
  ctx.report.section(S);
  const capacity = ctx.report.get('end-to-end (connector)', 'submits/s');
  if (!capacity && ctx.latencyRate === null) return ctx.report.skip(S, 'no end-to-end capacity figure to take 50 % of (or give --latency-rate)');
  const rate = ctx.latencyRate ?? Math.max(50, Math.floor(capacity! / 2));
  const seconds = ctx.quick ? 10 : 30;
  // Warm-up at the same rate, not in the percentiles (reported on its own as the cold start): for
  // the first ~5 s a fresh process handles only about the offered rate (its code not compiled yet;
  // timeline in docs/perf-log.md, 2026-11-26, "Latency, per second"), and the backlog of those seconds drains until second 7–8. With a 6 s
  // warm-up that tail alone set the p99.
  const warmupSeconds = ctx.quick ? 3 : 12;
  const how = `${rate} msg/s (${ctx.latencyRate === null ? '50 % of the end-to-end submits/s' : 'given by --latency-rate'}) produced for ${warmupSeconds} + ${seconds} s, each record's time taken when the load generator sends it (the timestamp it gives the record; the topic keeps the broker's append time instead, below); the first ${warmupSeconds} s (warm-up) dropped; simulator journal timestamps (same clock, ms)`;
  const connector = await measureLatency(ctx, 'connector', rate, warmupSeconds, seconds);
  ctx.report.add(S, 'Kafka timestamp → submit_sm at SMSC, p50', percentile(connector.submit, 50), 'ms', `${connector.submit.length} submits; ${how}`);
  ctx.report.add(S, 'Kafka timestamp → submit_sm at SMSC, p99', percentile(connector.submit, 99), 'ms', `max ${connector.submit.at(-1)} ms`);
  const fromAppend = `the same submits from each record's broker append time (the outbound topic is LogAppendTime; read back after the run): what is left once the load generator's own send path — its event loop, its produce round trip — is taken out; max ${connector.submitFromAppend.at(-1)} ms`;
  ctx.report.add(S, 'broker append → submit_sm at SMSC, p50', percentile(connector.submitFromAppend, 50), 'ms', `${connector.submitFromAppend.length} submits`);
  ctx.report.add(S, 'broker append → submit_sm at SMSC, p99', percentile(connector.submitFromAppend, 99), 'ms', fromAppend);
  ctx.report.add(
    S,
    'receipt sent → its event acked, p50',
    percentile(connector.receipt, 50),
    'ms',
    `${connector.receipt.length} receipts: deliver_sm out → deliver_sm_resp in (the connector answers only after the event is acked by Kafka)`,
  );
  ctx.report.add(S, 'receipt sent → its event acked, p99', percentile(connector.receipt, 99), 'ms', `max ${connector.receipt.at(-1)} ms`);
  ctx.report.add(
    S,
    'cold start: worst Kafka → submit_sm in the warm-up',
    connector.coldStart.worst,
    'ms',
    connector.coldStart.lastSlowAt === null
      ? `no record of the first ${warmupSeconds} s (dropped from the percentiles) took over 100 ms`
      : `the first ${warmupSeconds} s, dropped from the percentiles; the last record over 100 ms was produced ${connector.coldStart.lastSlowAt.toFixed(1)} s after the load started`,
  );
  const lag = connector.loopDelay;
  if (lag) {
    ctx.report.add(
      S,
      "connector's event-loop delay, p99",
      lag.p99,
      'ms',
      `p50 ${lag.p50} ms, max ${lag.max} ms over the measured ${seconds} s (perf_hooks monitorEventLoopDelay, 5 ms resolution): the connector's own stalls, the part of the latency that is not the broker's, the simulator's or the shared CPU's`,
    );
  }
  const sched = connector.sched;
  if (sched?.connector && sched.simulator) {
    ctx.report.add(
      S,
      "connector's event loop waiting for a CPU",
      Math.round(sched.connector.waitMs),
      'ms/s',
      `runnable but not running, per second of the measured ${seconds} s (/proc/<pid>/schedstat of the main thread; ${Math.round(sched.connector.runMs)} ms/s on a CPU); the simulator's ${Math.round(sched.simulator.waitMs)} ms/s waiting, ${Math.round(sched.simulator.runMs)} ms/s running — the 2 cores are shared with the broker and the load generator, and every hop of a message can queue for one`,
    );
  }
  const simLag = connector.simulatorLoopDelay;
  if (simLag) {
    ctx.report.add(
      S,
      "simulator's event-loop delay, p99",
      simLag.p99,
      'ms',
      `p50 ${simLag.p50} ms, max ${simLag.max} ms over the same ${seconds} s: the simulator stamps a submit_sm when its event loop reads it, so its own stalls (GC, journal writes, the shared CPU) are inside every figure above`,
    );
  }
  const cpu = connector.streamingCpu;
  if (cpu) {
    ctx.report.add(
      S,
      "connector's CPU per 1,000 while streaming",
      Number(cpu.perThousand.toFixed(3)),
      'CPU-s',
      `${(cpu.coreShare * 100).toFixed(0)} % of one core over the measured ${seconds} s (process.cpuUsage from the warm-up's end to the last record produced): records arrive a few per partition per fetch, so this is dearer than the backlog run's figure — the headroom left at this rate`,
    );
  }
  const naive = await measureLatency(ctx, 'naive', rate, warmupSeconds, seconds);
  ctx.report.add(
    S,
    '(c) naive loop: Kafka timestamp → submit_sm, p50',
    percentile(naive.submit, 50),
    'ms',
    `${naive.submit.length} submits; the same offered rate and harness`,
  );
  ctx.report.add(S, '(c) naive loop: Kafka timestamp → submit_sm, p99', percentile(naive.submit, 99), 'ms', `max ${naive.submit.at(-1)} ms`);
  ctx.report.add(
    S,
    '(c) naive loop: broker append → submit_sm, p99',
    percentile(naive.submitFromAppend, 99),
    'ms',
    `p50 ${percentile(naive.submitFromAppend, 50)} ms, max ${naive.submitFromAppend.at(-1)} ms`,
  );
}

/** The connector role's `usage` answer (process.cpuUsage in µs). */
interface Usage {
  at: number;
  cpu: { user: number; system: number };
}

/** The connector's CPU over the measured seconds of steady load (warm-up end → last record produced). */
interface StreamingCpu {
  perThousand: number;
  coreShare: number;
}

/** The warm-up's submits: the worst latency, and when (s after the load started) the last one over 100 ms was produced. */
interface ColdStart {
  worst: number;
  lastSlowAt: number | null;
}

/** One process (connector or naive loop) at `rate` msg/s: sorted latencies from the simulator journal. */
async function measureLatency(
  ctx: BenchContext,
  target: 'connector' | 'naive',
  rate: number,
  warmupSeconds: number,
  seconds: number,
): Promise<{
  submit: number[];
  submitFromAppend: number[];
  receipt: number[];
  loopDelay: LoopDelay | null;
  simulatorLoopDelay: LoopDelay | null;
  /** Main threads' ms on a CPU and ms runnable but waiting for one, per second, over the measured window. */
  sched: { connector: SchedRates | null; simulator: SchedRates | null } | null;
  coldStart: ColdStart;
  streamingCpu: StreamingCpu | null;
}> {
  const total = rate * (seconds + warmupSeconds);
  const journal = path.join(ctx.workDir, `latency-${target}.jsonl`);
  if (existsSync(journal)) rmSync(journal);
  const sim = spawnRole('simulator', { args: [JSON.stringify({ journalPath: journal, behaviour: UNTHROTTLED })] });
  const topics = benchTopics(`latency-${target}`);
  // The broker stamps each record with its append time (read back after the run): the latency from
  // there leaves out the load generator's own send path, which is not the consumer's doing.
  await createTopic(ctx.stack, topics.outbound, 12, [{ name: 'message.timestamp.type', value: 'LogAppendTime' }]);
  await createTopic(ctx.stack, topics.delivery, 12);
  const values = await encodeRecords(ctx.codec, 0, total, `${ctx.runTag}-lat-${target}`);
  const { port } = (await sim.ready) as { port: number };
  const group = uniqueName(`latency-${target}`);
  const child =
    target === 'connector'
      ? spawnRole('connector', { env: connectorEnv(ctx, topics, group, port, { SMPP_RATE_LIMIT: '100000' }), execArgv: ctx.connectorFlags })
      : spawnRole('naive', { env: naiveEnv(ctx, topics, group, port) });
  const sentAt = new Float64Array(total);
  let loopDelay: LoopDelay | null = null;
  let simulatorLoopDelay: LoopDelay | null = null;
  let schedAtWarm: { connector: SchedStat | null; simulator: SchedStat | null } | null = null;
  let sched: { connector: SchedRates | null; simulator: SchedRates | null } | null = null;
  let usageAtWarm: Promise<Usage> | null = null;
  let sentAtWarm = 0;
  let streamingCpu: StreamingCpu | null = null;
  try {
    await child.ready;
    // wait until bound and assigned, so start-up is not measured
    if (target === 'connector') {
      for (let i = 0; i < 240 && !(await child.request<{ ready: boolean }>('readiness')).ready; i++) await sleep(250);
    }
    await sleep(target === 'naive' ? 3000 : 1000); // the naive loop has no readiness: give its group time to form
    const producer = kafkaClient(ctx.stack, 'bench-latency').producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const start = Date.now();
    let sent = 0;
    const sends: Promise<unknown>[] = [];
    let warmedUp = false;
    while (sent < total) {
      if (!warmedUp && target === 'connector' && Date.now() - start >= warmupSeconds * 1000) {
        warmedUp = true;
        void child.request('loopDelay', { reset: true });
        void sim.request('loopDelay', { reset: true });
        usageAtWarm = child.request<Usage>('usage');
        schedAtWarm = { connector: schedStat(child.pid), simulator: schedStat(sim.pid) };
        sentAtWarm = sent;
      }
      const due = Math.min(total, Math.floor(((Date.now() - start) / 1000) * rate));
      if (due > sent) {
        const now = Date.now();
        const messages = [];
        for (; sent < due; sent++) {
          sentAt[sent] = now;
          messages.push({ key: keyOf(sent), value: values[sent]!, timestamp: String(now) });
        }
        sends.push(producer.send({ topic: topics.outbound, messages, acks: -1 }));
      }
      await sleep(5);
    }
    if (schedAtWarm)
      sched = { connector: schedPerSecond(schedAtWarm.connector, schedStat(child.pid)), simulator: schedPerSecond(schedAtWarm.simulator, schedStat(sim.pid)) };
    if (usageAtWarm) {
      const [from, to] = await Promise.all([usageAtWarm, child.request<Usage>('usage')]);
      const cpuSeconds = (to.cpu.user + to.cpu.system - from.cpu.user - from.cpu.system) / 1e6;
      streamingCpu = { perThousand: (cpuSeconds / (sent - sentAtWarm)) * 1000, coreShare: cpuSeconds / ((to.at - from.at) / 1000) };
    }
    await Promise.all(sends);
    await producer.disconnect();
    await monitor({
      sample: async () => {
        const s = await sim.request<Record<string, number>>('stats');
        return { accepted: s['acceptedSubmits']!, acked: s['receiptsAcked']! };
      },
      pids: {},
      done: (c) => c['accepted']! >= total && c['acked']! >= total,
      timeoutMs: 60_000,
    });
    if (target === 'connector')
      [loopDelay, simulatorLoopDelay] = await Promise.all([child.request<LoopDelay>('loopDelay'), sim.request<LoopDelay>('loopDelay')]);
  } finally {
    await child.stop();
    await sim.stop();
  }
  const appendedAt = await readAppendTimes(ctx, topics.outbound, total);
  const warmupUntil = (sentAt[0] ?? 0) + warmupSeconds * 1000;
  const submit: number[] = [];
  const submitFromAppend: number[] = [];
  const coldStart: ColdStart = { worst: 0, lastSlowAt: null };
  const deliverOut = new Map<string, number>();
  const receipt: number[] = [];
  await readJournal(journal, (r) => {
    if (r.dir === 'in' && r.command === 'submit_sm' && r.destination) {
      const i = indexFromDestination(r.destination);
      if (i >= total) return;
      const latency = r.ts - sentAt[i]!;
      if (sentAt[i]! >= warmupUntil) {
        submit.push(latency);
        if (appendedAt[i]! > 0) submitFromAppend.push(r.ts - appendedAt[i]!);
      } else {
        coldStart.worst = Math.max(coldStart.worst, latency);
        if (latency > 100) coldStart.lastSlowAt = Math.max(coldStart.lastSlowAt ?? 0, (sentAt[i]! - sentAt[0]!) / 1000);
      }
    } else if (r.dir === 'out' && r.command === 'deliver_sm') {
      deliverOut.set(`${r.conn}:${r.seq}`, r.ts);
    } else if (r.dir === 'in' && r.command === 'deliver_sm_resp') {
      const out = deliverOut.get(`${r.conn}:${r.seq}`);
      if (out !== undefined && out >= warmupUntil) receipt.push(r.ts - out);
    }
  });
  submit.sort((a, b) => a - b);
  submitFromAppend.sort((a, b) => a - b);
  receipt.sort((a, b) => a - b);
  return { submit, submitFromAppend, receipt, loopDelay, simulatorLoopDelay, sched, coldStart, streamingCpu };
}

/** Each record's broker append time (LogAppendTime topic), by record index; 0 where not read. */
async function readAppendTimes(ctx: BenchContext, topic: string, total: number): Promise<Float64Array> {
  const at = new Float64Array(total);
  const consumer = kafkaClient(ctx.stack, 'bench-latency-read').consumer({ groupId: uniqueName('latency-read') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let read = 0;
  const all = new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const i = indexFromDestination((await ctx.codec.decodeOutbound(m.value)).to);
          if (i < total) at[i] = Number(m.timestamp);
          if (++read >= total) resolve();
        }
      },
    });
  });
  await Promise.race([all, sleep(60_000)]);
  await consumer.disconnect();
  return at;
}
