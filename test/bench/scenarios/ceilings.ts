/**
 * The ceilings, measured in the same run as the connector: (a) bare SMPP, (b) bare Kafka,
 * (c) the naive loop. Each runs as its own process against the shared bench stack.
 */
import { benchTopics, cpuSeconds, createTopic, spawnRole, uniqueName } from '../common.js';
import { naiveEnv, type BenchContext } from '../context.js';
import { monitor, throughput } from '../monitor.js';

const UNTHROTTLED = { throughputPerSecond: 1_000_000_000, maxBindsPerSystemId: 64 };

/** (a) node-smpp client with a window → minimal node-smpp server; no Kafka, no simulator logic. */
export async function bareSmpp(ctx: BenchContext): Promise<void> {
  const S = '(a) bare SMPP ceiling';
  ctx.report.section(S);
  const server = spawnRole('bare-smpp-server');
  const client = spawnRole('bare-smpp-client');
  try {
    const { port } = (await server.ready) as { port: number };
    await client.ready;
    const count = ctx.quick ? 20_000 : 100_000;
    const runs: Array<{ window: number; sessions: number }> = [
      { window: 10, sessions: 1 },
      { window: 100, sessions: 1 },
      { window: 10, sessions: 4 },
    ];
    for (const r of runs) {
      const cpuServer0 = cpuSeconds(server.pid);
      const res = await client.request<{ seconds: number; cpuSeconds: number }>('run', { port, count, ...r });
      const cpuServer = cpuSeconds(server.pid) - cpuServer0;
      ctx.report.add(
        S,
        `window ${r.window} × ${r.sessions} bind${r.sessions > 1 ? 's' : ''}`,
        count / res.seconds,
        'msg/s',
        `${count} submit_sm → submit_sm_resp over loopback, timed in the client (${res.seconds.toFixed(2)} s); client CPU ${((res.cpuSeconds / count) * 1000).toFixed(3)} s/1k, server CPU ${((cpuServer / count) * 1000).toFixed(3)} s/1k (/proc)`,
      );
    }
  } finally {
    await client.stop();
    await server.stop();
  }
}

/** (b) kafkajs: consume Avro sms.outbound, decode, produce one Avro event per record; no SMPP. */
export async function bareKafka(ctx: BenchContext): Promise<void> {
  const S = '(b) bare Kafka ceiling';
  ctx.report.section(S);
  const topics = benchTopics('barekafka', ctx.backlogTopic);
  await createTopic(ctx.stack, topics.delivery, 12);
  const child = spawnRole('bare-kafka', {
    env: {
      BROKERS: ctx.stack.kafkaBrokers,
      REGISTRY_URL: ctx.stack.registryUrl,
      TOPIC_OUTBOUND: topics.outbound,
      TOPIC_DELIVERY: topics.delivery,
      GROUP: uniqueName('barekafka'),
    },
  });
  try {
    await child.ready;
    const brokerCpu0 = cpuSeconds(ctx.kafkaPid);
    const { timedOut } = await monitor({
      sample: () => child.request<Record<string, number>>('stats'),
      pids: {}, // waits only: rate and CPU come from the process itself (below)
      done: (c) => (c['produced'] ?? 0) >= ctx.n,
      timeoutMs: 60_000 + ctx.n * 2,
      intervalMs: 50,
    });
    if (timedOut) ctx.report.note(`${S}: timed out before all ${ctx.n} events were produced`);
    // Timed inside the process, first batch → last ack: a few fetches carry the whole backlog, so a
    // counter sampled from outside jumps past the 10–90 % marks and gave 470k/s at 0 CPU once.
    const own = await child.request<{ produced: number; firstBatchAt: number; lastAckAt: number; cpuMs: number }>('stats');
    const seconds = (own.lastAckAt - own.firstBatchAt) / 1000;
    const broker = ((cpuSeconds(ctx.kafkaPid) - brokerCpu0) / own.produced) * 1000;
    ctx.report.add(
      S,
      'records/s',
      own.produced / seconds,
      'msg/s',
      `${own.produced} pre-produced records, one Avro event each, acked (acks=all); timed in the process from its first batch to its last ack (${seconds.toFixed(2)} s)`,
    );
    ctx.report.add(
      S,
      'CPU per 1,000',
      (own.cpuMs / 1000 / own.produced) * 1000,
      'CPU-s',
      `utime+stime of the consuming process over the same span (process.cpuUsage); Kafka broker ${broker.toFixed(3)} CPU-s/1k (/proc, from the role's start to its last ack)`,
    );
  } finally {
    await child.stop();
  }
}

/** (c) consume → submit → publish result, receipts → Kafka; no guarantees. */
export async function naiveLoop(ctx: BenchContext): Promise<void> {
  const S = '(c) naive loop';
  ctx.report.section(S);
  const sim = spawnRole('simulator', { args: [JSON.stringify({ behaviour: UNTHROTTLED })] });
  const topics = benchTopics('naive', ctx.backlogTopic);
  await createTopic(ctx.stack, topics.delivery, 12);
  let naive: ReturnType<typeof spawnRole> | undefined;
  try {
    const { port } = (await sim.ready) as { port: number };
    naive = spawnRole('naive', {
      env: naiveEnv(ctx, topics, uniqueName('naive'), port),
    });
    await naive.ready;
    const n = naive;
    const { samples, timedOut } = await monitor({
      sample: async () => {
        const [s, c] = await Promise.all([sim.request<Record<string, number>>('stats'), n.request<Record<string, number>>('stats')]);
        return { accepted: s['acceptedSubmits']!, receiptEvents: c['receiptEvents']!, submitEvents: c['submitEvents']! };
      },
      pids: { process: naive.pid, simulator: sim.pid, kafka: ctx.kafkaPid },
      done: (c) => c['accepted']! >= ctx.n && c['receiptEvents']! >= ctx.n && c['submitEvents']! >= ctx.n,
      timeoutMs: 60_000 + ctx.n * 3,
    });
    if (timedOut) ctx.report.note(`${S}: timed out before all ${ctx.n} messages completed`);
    const sub = throughput(samples, 'accepted', ctx.n);
    const rec = throughput(samples, 'receiptEvents', ctx.n);
    ctx.report.add(
      S,
      'submits/s',
      sub.steady,
      'msg/s',
      `${ctx.n} pre-produced records; accepted submit_sm counted by the simulator (unthrottled, 4 trx binds × window 10), steady 10–90 % window`,
    );
    ctx.report.add(S, 'receipts/s', rec.steady, 'msg/s', 'receipt events written to Kafka by the naive loop (its own counter), steady 10–90 % window');
    ctx.report.add(
      S,
      'CPU per 1,000',
      sub.cpuPer1000['process']!,
      'CPU-s',
      `naive process utime+stime (/proc) over the submit steady window; simulator ${sub.cpuPer1000['simulator']!.toFixed(3)}, Kafka broker ${sub.cpuPer1000['kafka']!.toFixed(3)} CPU-s/1k`,
    );
  } finally {
    await naive?.stop();
    await sim.stop();
  }
}

export { UNTHROTTLED };
