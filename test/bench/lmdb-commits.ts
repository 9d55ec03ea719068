/**
 * `npm run bench:lmdb-commits [-- --turns 20000 --writes 13 --rounds 2 --busy 3]` — what one
 * lmdb-js transaction per event-loop turn costs against transactions batched over 5 ms, the
 * question behind the correlation store's `startWriting` share in the end-to-end profile
 * (BENCHMARKS.md "What limits throughput"). No broker: each side runs in its own child process on
 * a temporary store, makes `--turns` event-loop turns of `--writes` puts each (about the store
 * writes of one message), and reports per turn the process CPU (the writer thread included), the
 * main thread's busy time (event-loop utilisation) and the transactions. Each child runs under
 * `--cpu-prof`, and the self time sampled in lmdb-js' `startWriting` is read from its profile, per
 * call: with `--busy N` busy loops beside it (a saturated box, as in the end-to-end run), that time
 * is mostly the main thread waiting for a core after it woke the writer, not work it does.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { open } from 'lmdb';
import { latestProfile, summariseProfile } from './profile.js';

type Mode = 'per-turn' | 'batched';

const opts = new Command('lmdb-commits')
  .option('--turns <n>', 'event-loop turns per run', (v) => Number(v), 20_000)
  .option('--writes <n>', 'puts per turn', (v) => Number(v), 13)
  .option('--rounds <n>', 'per-turn/batched pairs', (v) => Number(v), 2)
  .option('--busy <n>', 'busy-loop processes running beside the children', (v) => Number(v), 0)
  .option('--child <mode>', '(internal) run one side: per-turn or batched')
  .parse()
  .opts<{ turns: number; writes: number; rounds: number; busy: number; child?: Mode }>();

/** The store's settings (src/store/lmdb-store.ts) with, for `batched`, a transaction per 5 ms at most. */
const BATCHED = { eventTurnBatching: false, commitDelay: 5, txnStartThreshold: 1_000_000_000 };

async function runChild(mode: Mode): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lmdb-commits-'));
  const env = open({ path: dir, maxDbs: 4, ...(mode === 'batched' ? BATCHED : {}) });
  const table = env.openDB<{ n: number; text: string }, string>('t', {});
  let transactions = 0;
  let lastCommit: Promise<boolean> | undefined;
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  await new Promise<void>((resolve) => {
    let turn = 0;
    const step = (): void => {
      for (let w = 0; w < opts.writes; w++) {
        // Every put of one transaction gets the same promise (what the store's overlay relies on).
        const committed = table.put(`key-${turn}-${w}`, { n: turn, text: 'x'.repeat(40) });
        if (committed !== lastCommit) transactions++;
        lastCommit = committed;
      }
      if (++turn < opts.turns) setImmediate(step);
      else resolve();
    };
    step();
  });
  await lastCommit;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  await env.close();
  rmSync(dir, { recursive: true, force: true });
  const result = { cpuUsPerTurn: (cpu.user + cpu.system) / opts.turns, mainUsPerTurn: (elu.active * 1000) / opts.turns, transactions };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

interface Run {
  cpuUsPerTurn: number;
  mainUsPerTurn: number;
  transactions: number;
  startWritingUsPerCall: number;
}

function runSide(mode: Mode): Run {
  const profDir = mkdtempSync(path.join(tmpdir(), 'lmdb-commits-prof-'));
  const args = ['--turns', String(opts.turns), '--writes', String(opts.writes), '--child', mode];
  const out = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, '--import', 'tsx', process.argv[1]!, ...args], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${mode} run failed: ${out.stderr}`);
  const run = JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '') as Omit<Run, 'startWritingUsPerCall'>;
  const profile = latestProfile(profDir);
  const sampled = profile ? summariseProfile(profile, 10_000).topFunctions.find((f) => f.name.startsWith('startWriting (npm:lmdb')) : undefined;
  rmSync(profDir, { recursive: true, force: true });
  return { ...run, startWritingUsPerCall: ((sampled?.ms ?? 0) * 1000) / Math.max(1, run.transactions) };
}

if (opts.child) {
  await runChild(opts.child);
} else {
  const busy: ChildProcess[] = Array.from({ length: opts.busy }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  try {
    const runs: Record<Mode, Run[]> = { 'per-turn': [], batched: [] };
    for (let round = 0; round < opts.rounds; round++) {
      for (const mode of round % 2 === 0 ? (['per-turn', 'batched'] as const) : (['batched', 'per-turn'] as const)) runs[mode].push(runSide(mode));
    }
    const fmt = (rs: Run[], pick: (r: Run) => number, digits = 1) => rs.map((r) => pick(r).toFixed(digits)).join(' / ');
    console.log(`# ${opts.turns} event-loop turns of ${opts.writes} puts, ${opts.rounds} alternating pairs, ${opts.busy} busy loop(s) beside`);
    for (const mode of ['per-turn', 'batched'] as const) {
      const rs = runs[mode];
      console.log(`${mode}: transactions ${fmt(rs, (r) => r.transactions, 0)}`);
      console.log(`  process CPU per turn: ${fmt(rs, (r) => r.cpuUsPerTurn)} µs; main thread busy per turn: ${fmt(rs, (r) => r.mainUsPerTurn)} µs`);
      console.log(`  sampled in startWriting per call: ${fmt(rs, (r) => r.startWritingUsPerCall)} µs`);
    }
    console.log('  how: process.cpuUsage and performance.eventLoopUtilization over the turns; startWriting self time from each child’s --cpu-prof');
  } finally {
    for (const b of busy) b.kill();
  }
}
