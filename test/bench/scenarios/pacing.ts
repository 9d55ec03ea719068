/**
 * Pacing under a backlog (issues 6 and 19): does every session send at its paced rate every second
 * while records wait — whatever the topic's partitions and keys?
 *
 * Each case: a fresh `sms.outbound` topic of N partitions holding more than the run can send, the
 * connector with trx:4 × SMPP_RATE_LIMIT 100 against the strict simulator (it refuses with 0x58 the
 * 101st submit_sm of any 1000 ms per connection), receipts on. Records are a mix: 80 % single, 15 %
 * two-part and 5 % three-part messages. Keys are unique, or skewed: one key has 30 % of the records,
 * which per-key order serialises (each of its records waits for the previous one's answer).
 *
 * From the simulator's PDU journal (wire timestamps, SMSC side), over `seconds` from the first
 * accepted submit_sm: the share of the allowed rate (accepted ÷ sessions × 100/s), starved
 * session-seconds (a second in which a session got fewer than half its 98/s pace while the backlog
 * waited), the 0x58 count and the most accepted in any 1000 ms. The per-second table goes to the
 * console and to `<workDir>/pacing-<case>.txt`.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { SmsOutbound } from '../../../src/contracts.js';
import { benchRecord, benchTopics, createTopic, fmt, kafkaClient, maxInWindow, readJournal, say, sleep, spawnRole, uniqueName } from '../common.js';
import { connectorEnv, type BenchContext } from '../context.js';

export interface PacingCase {
  partitions: number;
  keys: 'unique' | 'skewed';
  /** SMPP_RATE_MARGIN (default 0.02 → 98/s). */
  margin: string;
}

/** `4u`, `12s`, `4u0` (margin 0): partitions, u(nique) or s(kewed) keys, an optional margin. */
export function parsePacingCase(text: string): PacingCase {
  const m = /^(\d+)([us])([0-9.]+)?$/.exec(text.trim());
  if (!m || Number(m[1]) < 1) throw new Error(`pacing case '${text}': expected <partitions><u|s>[margin], e.g. 4u, 12s, 4u0`);
  return { partitions: Number(m[1]), keys: m[2] === 's' ? 'skewed' : 'unique', margin: m[3] ?? '0.02' };
}

export const FULL_PACING_CASES = ['1u', '4u', '12u', '1s', '4s', '12s', '4u0'];
export const QUICK_PACING_CASES = ['4u'];

const SESSIONS = 4;
const RATE = 100;
const SKEWED_SHARE = 0.3;

function caseName(c: PacingCase): string {
  return `${c.partitions} partition${c.partitions === 1 ? '' : 's'}, ${c.keys} keys${c.margin === '0.02' ? '' : `, margin ${c.margin}`}`;
}

/** Record i of the mix: every 20th a three-part message, every other 5th a two-part one, else single. */
function mixedRecord(i: number, runTag: string): { value: SmsOutbound; segments: number } {
  const base = benchRecord(i, runTag);
  const segments = i % 20 === 0 ? 3 : i % 5 === 0 ? 2 : 1;
  if (segments === 1) return { value: base, segments };
  // GSM-7: 153 characters per part of a concatenated message
  const text = `${base.text} `.padEnd(153 * (segments - 1) + 40, 'x');
  return { value: { ...base, text }, segments };
}

function keyFor(c: PacingCase, i: number, runTag: string): string {
  if (c.keys === 'skewed' && i % 10 < SKEWED_SHARE * 10) return `${runTag}-hot`;
  return `${runTag}-${i}`;
}

async function produceCase(
  ctx: BenchContext,
  c: PacingCase,
  topic: string,
  segmentsWanted: number,
  runTag: string,
): Promise<{ records: number; segments: number }> {
  const producer = kafkaClient(ctx.stack, 'bench-producer').producer({ allowAutoTopicCreation: false });
  await producer.connect();
  let records = 0;
  let segments = 0;
  try {
    while (segments < segmentsWanted) {
      const messages = [];
      for (let j = 0; j < 2000 && segments < segmentsWanted; j += 1, records += 1) {
        const r = mixedRecord(records, runTag);
        segments += r.segments;
        messages.push({ key: keyFor(c, records, runTag), value: ctx.codec.encodeOutbound(r.value) });
      }
      await producer.send({ topic, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
  return { records, segments };
}

async function acceptedByConnection(journal: string): Promise<{ accepted: Map<number, number[]>; throttled: number }> {
  const accepted = new Map<number, number[]>();
  let throttled = 0;
  await readJournal(journal, (r) => {
    if (r.dir !== 'out' || r.command !== 'submit_sm_resp') return;
    if (r.status === 0) (accepted.get(r.conn) ?? accepted.set(r.conn, []).get(r.conn)!).push(r.ts);
    else if (r.status === 0x58) throttled += 1;
  });
  return { accepted, throttled };
}

export async function pacingCase(ctx: BenchContext, c: PacingCase, seconds: number, run = 1): Promise<void> {
  const name = caseName(c);
  const S = `pacing under a backlog: ${name}${run > 1 ? ` (run ${run})` : ''}`;
  ctx.report.section(S);
  const tag = `${ctx.runTag}-pace-${c.partitions}${c.keys[0]}${c.margin}-${run}`;
  const topics = benchTopics(`pace${c.partitions}${c.keys[0]}${run}${c.margin.replace('.', '')}`);
  await createTopic(ctx.stack, topics.outbound, c.partitions);
  // more than the run can send even at the full rate: the backlog waits for the whole window
  const produced = await produceCase(ctx, c, topics.outbound, Math.ceil(SESSIONS * RATE * (seconds + 15) * 1.1), tag);
  const journal = path.join(ctx.workDir, `pacing-${c.partitions}${c.keys[0]}${c.margin}.jsonl`);
  if (existsSync(journal)) rmSync(journal);
  const sim = spawnRole('simulator', {
    args: [JSON.stringify({ journalPath: journal, behaviour: { throughputPerSecond: RATE, maxBindsPerSystemId: SESSIONS } })],
  });
  const { port } = (await sim.ready) as { port: number };
  const connector = spawnRole('connector', {
    env: connectorEnv(ctx, topics, uniqueName('pacing'), port, {
      SMPP_RATE_LIMIT: String(RATE),
      SMPP_RATE_MARGIN: c.margin,
      TOPIC_PARTITIONS: String(c.partitions),
    }),
    execArgv: ctx.connectorFlags,
  });
  try {
    await connector.ready;
    const t0 = Date.now();
    while (Date.now() - t0 < 120_000) {
      const s = await sim.request<Record<string, number>>('stats');
      if (s['acceptedSubmits']! > 0) break;
      await sleep(100);
    }
    await sleep((seconds + 1) * 1000);
  } finally {
    await connector.stop();
    await sim.stop();
  }
  const { accepted, throttled } = await acceptedByConnection(journal);
  const first = Math.min(...[...accepted.values()].map((ts) => ts[0]!));
  const allAccepted = [...accepted.values()].reduce((sum, ts) => sum + ts.length, 0);
  const backlogLeft = produced.segments - allAccepted;
  const pace = Math.floor((1 - Number(c.margin)) * RATE);
  const rows: string[] = [];
  let starved = 0;
  let inWindow = 0;
  let afterFirstSecond = 0;
  let most = 0;
  for (const conn of [...accepted.keys()].sort((a, b) => a - b)) {
    const ts = accepted.get(conn)!.filter((t) => t >= first && t < first + seconds * 1000);
    const perSecond = new Array<number>(seconds).fill(0);
    for (const t of ts) perSecond[Math.floor((t - first) / 1000)]! += 1;
    starved += perSecond.filter((n) => n < pace / 2).length;
    inWindow += ts.length;
    afterFirstSecond += ts.length - perSecond[0]!;
    most = Math.max(most, maxInWindow(ts, 1000));
    rows.push(`session ${conn}: ${perSecond.join(' ')}`);
  }
  const share = (inWindow / (seconds * SESSIONS * RATE)) * 100;
  const how = `${seconds} s from the first accepted submit_sm; ${fmt(produced.records)} records (${fmt(produced.segments)} submit_sm: 80 % single, 15 % two-part, 5 % three-part; ${c.keys === 'skewed' ? '30 % under one key' : 'unique keys'}; receipts on) in ${c.partitions} partition(s); trx:4, SMPP_RATE_LIMIT ${RATE}, SMPP_RATE_MARGIN ${c.margin}; the simulator's PDU journal`;
  // The first second is the process's cold start (code not compiled yet): shown apart as well.
  const steady = (afterFirstSecond / ((seconds - 1) * SESSIONS * RATE)) * 100;
  ctx.report.add(S, 'share of the allowed rate', share, '%', `${how}; without the first second: ${steady.toFixed(1)} %`);
  ctx.report.add(
    S,
    'starved session-seconds',
    starved,
    '',
    `seconds in which a session got < ${pace / 2} accepted submits (half its ${pace}/s pace), of ${seconds * accepted.size}; backlog left at the end: ${fmt(backlogLeft)} submit_sm${backlogLeft > 0 ? '' : " — RAN OUT, the figures are not a backlog's"}`,
  );
  ctx.report.add(S, '0x58 count', throttled, '', 'submit_sm_resp 0x58 over the whole run, all sessions');
  ctx.report.add(S, 'max in any 1-second window', most, 'submits', 'per connection, sliding 1000 ms over accepted submit_sm_resp timestamps, worst session');
  const table = [`# ${S}: accepted submit_sm per session and second`, ...rows].join('\n');
  say(table);
  writeFileSync(path.join(ctx.workDir, `pacing-${c.partitions}${c.keys[0]}${c.margin}-${run}.txt`), `${table}\n`);
}
