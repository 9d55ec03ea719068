/**
 * `npm run bench:index-cost -- <tree> [<other tree>] [--messages 100000 --rounds 5]` — the CPU one
 * message costs the correlation index on the connector's thread, and the JSON of the entries it
 * writes, for the code of each git tree given (this repository, a worktree of an older commit).
 * Needs no broker: one child process per run opens a temporary LMDB store and plays, per message,
 * what the outbound processor and the receipt processor do locally for a one-segment request with
 * a receipt — the `m:` entry first where the tree has `messageEntryOf`, then the `r:` snapshot (by
 * `applyNewSubject` / `applyOwnSnapshot` where the tree has them, as its outbound processor), the
 * receipt's lookup and final — with a prune and a commit wait every 1,000 messages, as the sweeper
 * and the tail do. It reports µs of process CPU (user + system) per message. Trees alternate, so a
 * drift of the machine hits both; the end-to-end run is too noisy (±12 % between runs) to show a few
 * µs, this isolates them (issue 20 plan §2.6.5: the ≤ +3 % gate of step 5).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';

interface IndexLike {
  apply(key: string, value: unknown, at?: number): void;
  /** Where the tree has them: what the outbound processor applies for an accepted segment. */
  applyNewSubject?(messageId: string, entry: unknown): void;
  applyOwnSnapshot?(rec: unknown): void;
  segmentOf(messageId: string): unknown;
  applyFinalOf(ref: unknown, final: unknown, at?: number): unknown;
  pruneCompleted(before: number): number;
  written(): Promise<void>;
}

const opts = new Command('index-cost')
  .argument('<trees...>', 'git trees whose src/ is measured')
  .option('--messages <n>', 'messages per run', (v) => Number(v), 100_000)
  .option('--rounds <n>', 'runs of each tree', (v) => Number(v), 5)
  .option('--child', '(internal) one run of the first tree')
  .parse();
const { messages, rounds, child } = opts.opts<{ messages: number; rounds: number; child?: boolean }>();
const trees = opts.processedArgs[0] as string[];

/** Completed requests stay this many messages' worth of time (the prune then removes as many as arrive). */
const KEEP = 20_000;

async function oneRun(tree: string): Promise<number> {
  const load = (file: string) => import(pathToFileURL(path.resolve(tree, file)).href) as Promise<Record<string, unknown>>;
  const idx = await load('src/pipeline/correlation-index.ts');
  const storeModule = await load('src/store/lmdb-store.ts');
  const open = storeModule['openCorrelationStore'] as (o: object) => { close(): Promise<void> };
  const store = open({
    format: idx['CORRELATION_STORE_FORMAT'],
    onWriteError: (err: Error) => {
      throw err;
    },
  });
  let now = 1_000_000;
  const Index = idx['CorrelationIndex'] as new (s: unknown, clock: () => number) => IndexLike;
  const index = new Index(store, () => now);
  const messageEntryOf = idx['messageEntryOf'] as ((rec: object, segment: number, partition: number) => object) | undefined;
  const bundle: string[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < messages; i++) {
    now += 1;
    const id = `bench-${i}`;
    const messageId = `AGILE-${i.toString(16).padStart(8, '0')}-ABCDEF-123456`;
    const rec: Record<string, unknown> = {
      v: 1,
      id,
      from: 'ACME',
      to: '393471234567',
      metadata: { campaign: 'bench', tenant: 't1' },
      segments: 1,
      messageIds: [messageId],
      attempts: 1,
      submittedAt: now,
      receipts: true,
      receiptDeadline: now + 172_800_000,
      route: 'default',
      home: i % 12,
    };
    if (messageEntryOf) {
      rec['messageEntries'] = true;
      const entry = messageEntryOf(rec, 1, (i * 7) % 12);
      if (index.applyNewSubject) index.applyNewSubject(messageId, entry);
      else index.apply(`m:${messageId}`, entry, now);
      bundle.push(JSON.stringify(entry));
    }
    if (index.applyOwnSnapshot) index.applyOwnSnapshot(rec);
    else index.apply(`r:${id}`, rec, now);
    bundle.push(JSON.stringify(rec));
    const ref = index.segmentOf(messageId);
    if (!ref) throw new Error(`${tree}: ${messageId} does not correlate`);
    const final = { v: 1, status: 'DELIVERED', errorCategory: null, at: now };
    index.applyFinalOf(ref, final, now);
    bundle.push(JSON.stringify(final));
    if (i % 1000 === 999) {
      index.pruneCompleted(now - KEEP);
      bundle.length = 0;
      await index.written();
    }
  }
  await index.written();
  const cpu = process.cpuUsage(cpu0);
  await store.close();
  return (cpu.user + cpu.system) / messages;
}

if (child) {
  process.stdout.write(`${JSON.stringify({ usPerMessage: await oneRun(trees[0]!) })}\n`);
} else {
  const results = new Map<string, number[]>(trees.map((t) => [t, []]));
  for (let r = 0; r < rounds; r++) {
    for (const tree of r % 2 === 0 ? trees : [...trees].reverse()) {
      const run = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, tree, '--child', '--messages', String(messages)], {
        encoding: 'utf8',
        cwd: process.cwd(),
      });
      if (run.status !== 0) throw new Error(`${tree}: ${run.stderr}`);
      const { usPerMessage } = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { usPerMessage: number };
      results.get(tree)!.push(usPerMessage);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`# correlation index + entry JSON, µs of CPU per one-segment message (${messages} messages per run, ${rounds} runs per tree, alternating)`);
  for (const [tree, us] of results) console.log(`${tree}: median ${median(us).toFixed(1)} µs (${us.map((u) => u.toFixed(1)).join(' / ')})`);
}
