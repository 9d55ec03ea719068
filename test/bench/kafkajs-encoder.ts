/**
 * `npm run bench:kafkajs-encoder [-- --batches 20000 --records 12 --value-bytes 260 --rounds 3]` —
 * the CPU kafkajs spends encoding record batches, with and without the encoder fix
 * (src/kafka/kafkajs-fixes.ts). No broker: each side runs in its own child process (the fix
 * patches kafkajs for the whole process), encodes `--batches` record batches of `--records`
 * records (a key, a value of `--value-bytes`, one header: the shape of the connector's events) as
 * kafkajs' producer does — each record, then the batch — and reports µs of process CPU
 * (process.cpuUsage) per batch after a warm-up of a tenth as many. Sides alternate.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { fixEncoderBuffers } from '../../src/kafka/kafkajs-fixes.js';

const opts = new Command('kafkajs-encoder')
  .option('--batches <n>', 'record batches encoded per run', (v) => Number(v), 20_000)
  .option('--records <n>', 'records per batch', (v) => Number(v), 12)
  .option('--value-bytes <n>', 'bytes of each record value', (v) => Number(v), 260)
  .option('--rounds <n>', 'plain/fixed pairs', (v) => Number(v), 3)
  .option('--child <mode>', '(internal) run one side: plain or fixed')
  .parse()
  .opts<{ batches: number; records: number; valueBytes: number; rounds: number; child?: 'plain' | 'fixed' }>();

type RecordFn = (record: { key: Buffer; value: Buffer; headers: Record<string, Buffer>; offsetDelta: number }) => unknown;
type RecordBatchFn = (batch: { records: unknown[]; producerId: unknown }) => Promise<{ buffer: Buffer }>;

async function encodeBatches(count: number): Promise<void> {
  const require = createRequire(import.meta.url);
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as RecordFn;
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: RecordBatchFn };
  const Long = require('kafkajs/src/utils/long.js') as { fromInt(n: number): unknown };
  const producerId = Long.fromInt(1);
  const raw = Array.from({ length: opts.records }, (_, i) => ({
    key: Buffer.from(`request-${i}`),
    value: Buffer.alloc(opts.valueBytes, 97 + (i % 26)),
    headers: { 'sms-origin': Buffer.from('3f6c2a1e-replica') },
    offsetDelta: i,
  }));
  for (let i = 0; i < count; i++) await RecordBatch({ records: raw.map(Record), producerId });
}

if (opts.child) {
  if (opts.child === 'fixed' && !fixEncoderBuffers()) throw new Error('kafkajs encoder not found as the fix expects it');
  await encodeBatches(Math.ceil(opts.batches / 10));
  const cpu0 = process.cpuUsage();
  await encodeBatches(opts.batches);
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`${JSON.stringify({ usPerBatch: (cpu.user + cpu.system) / opts.batches })}\n`);
} else {
  const runs: Record<'plain' | 'fixed', number[]> = { plain: [], fixed: [] };
  for (let round = 0; round < opts.rounds; round++) {
    for (const mode of round % 2 === 0 ? (['plain', 'fixed'] as const) : (['fixed', 'plain'] as const)) {
      const args = ['--batches', String(opts.batches), '--records', String(opts.records), '--value-bytes', String(opts.valueBytes)];
      const out = spawnSync(process.execPath, ['--import', 'tsx', process.argv[1]!, '--child', mode, ...args], { encoding: 'utf8' });
      if (out.status !== 0) throw new Error(`${mode} run failed: ${out.stderr}`);
      runs[mode].push((JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '') as { usPerBatch: number }).usPerBatch);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(' / ');
  console.log(
    `kafkajs record batch encoding, ${opts.records} records of ${opts.valueBytes}-byte values and one header, ${opts.batches} batches per run, one child process per run, sides alternating:`,
  );
  console.log(`  kafkajs 2.2.4 as released: ${fmt(runs.plain)} µs of CPU per batch (median ${median(runs.plain).toFixed(1)})`);
  console.log(
    `  with the encoder fix:      ${fmt(runs.fixed)} µs (median ${median(runs.fixed).toFixed(1)}): ${(median(runs.fixed) / median(runs.plain)).toFixed(2)} ×`,
  );
}
