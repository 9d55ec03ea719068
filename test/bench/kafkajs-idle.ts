/**
 * `npx tsx test/bench/kafkajs-idle.ts [--brokers 127.0.0.1:9092 --seconds 10 --rounds 2]` — what an
 * idle kafkajs connection costs, with and without the request-queue fix (src/kafka/kafkajs-fixes.ts).
 * Needs a broker (`npm run stack up`). Each side runs in its own child process (the fix patches
 * kafkajs for the whole process): an admin and a producer connect, make one request each, then
 * sit idle; the child reports its CPU (process.cpuUsage) over the idle seconds. Sides alternate.
 */
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { Kafka, logLevel } from 'kafkajs';
import { fixRequestQueueTimer } from '../../src/kafka/kafkajs-fixes.js';

const opts = new Command('kafkajs-idle')
  .option('--brokers <list>', 'bootstrap brokers', '127.0.0.1:9092')
  .option('--seconds <n>', 'idle seconds measured per run', (v) => Number(v), 10)
  .option('--rounds <n>', 'plain/fixed pairs', (v) => Number(v), 2)
  .option('--child <mode>', '(internal) run one side: plain or fixed')
  .parse()
  .opts<{ brokers: string; seconds: number; rounds: number; child?: 'plain' | 'fixed' }>();

if (opts.child) {
  if (opts.child === 'fixed') fixRequestQueueTimer();
  const kafka = new Kafka({ clientId: 'idle-bench', brokers: opts.brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer();
  await admin.connect();
  await producer.connect();
  await admin.listTopics();
  await producer.send({ topic: 'bench.kafkajs-idle', messages: [{ value: 'x' }] }).catch(() => undefined);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, opts.seconds * 1000));
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(`${JSON.stringify({ percentOfCore: ((cpu.user + cpu.system) / 1e6 / seconds) * 100 })}\n`);
  await producer.disconnect();
  await admin.disconnect();
} else {
  const runs: Record<'plain' | 'fixed', number[]> = { plain: [], fixed: [] };
  for (let round = 0; round < opts.rounds; round++) {
    for (const mode of ['plain', 'fixed'] as const) {
      const out = spawnSync(
        process.execPath,
        ['--import', 'tsx', process.argv[1]!, '--child', mode, '--brokers', opts.brokers, '--seconds', String(opts.seconds)],
        { encoding: 'utf8' },
      );
      const line = out.stdout.trim().split('\n').at(-1) ?? '';
      runs[mode].push((JSON.parse(line) as { percentOfCore: number }).percentOfCore);
    }
  }
  const fmt = (xs: number[]) => xs.map((x) => `${x.toFixed(2)} %`).join(', ');
  console.log(`idle CPU of one process with a connected kafkajs admin + producer, ${opts.seconds} s per run, sides alternating:`);
  console.log(`  kafkajs 2.2.4 as released: ${fmt(runs.plain)} of a core`);
  console.log(`  with the request-queue fix: ${fmt(runs.fixed)} of a core`);
}
