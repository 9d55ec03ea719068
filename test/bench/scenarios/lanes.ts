/**
 * Priority lanes (issue 21 §4): how long does an urgent request wait behind a bulk backlog, and does
 * the account stay busy meanwhile?
 *
 * A bulk topic of 4 partitions holding `backlog` requests (200,000; 20,000 with --quick), more than
 * the run can send; the connector with trx:4 × SMPP_RATE_LIMIT 100 against the strict simulator and
 * TOPIC_OUTBOUND_URGENT set. From the first accepted submit_sm, one urgent request is produced every
 * 200 ms for `seconds`. Figures: the urgent requests' wait, produce call → SUBMITTED (`submittedAt`,
 * the submit_sm_resp), p50 / p99 / max; the share of the allowed rate that was used (the simulator's
 * journal, as in the pacing scenario); how many urgent requests were never submitted.
 */
import * as path from 'node:path';
import { existsSync, rmSync } from 'node:fs';
import type { SmsDeliveryEvent } from '../../../src/contracts.js';
import {
  benchRecord,
  benchTopics,
  createTopic,
  fmt,
  kafkaClient,
  percentile,
  produceRequests,
  readJournal,
  say,
  scanTopic,
  sleep,
  spawnRole,
  uniqueName,
} from '../common.js';
import { connectorEnv, type BenchContext } from '../context.js';

const SESSIONS = 4;
const RATE = 100;
const URGENT_EVERY_MS = 200;

export async function priorityLanes(ctx: BenchContext, backlog: number, seconds: number): Promise<void> {
  const S = 'priority lanes: urgent requests behind a bulk backlog';
  ctx.report.section(S);
  const tag = `${ctx.runTag}-lanes`;
  const topics = benchTopics('lanes');
  const urgentTopic = `${topics.outbound}.urgent`;
  await createTopic(ctx.stack, topics.outbound, 4);
  await createTopic(ctx.stack, urgentTopic, 4);
  say(`lanes: producing a bulk backlog of ${fmt(backlog)} requests`);
  await produceRequests(ctx.codec, ctx.stack, topics.outbound, backlog, `${tag}-bulk`);
  const journal = path.join(ctx.workDir, 'lanes.jsonl');
  if (existsSync(journal)) rmSync(journal);
  const sim = spawnRole('simulator', {
    args: [JSON.stringify({ journalPath: journal, behaviour: { throughputPerSecond: RATE, maxBindsPerSystemId: SESSIONS } })],
  });
  const { port } = (await sim.ready) as { port: number };
  const connector = spawnRole('connector', {
    env: connectorEnv(ctx, topics, uniqueName('lanes'), port, { SMPP_RATE_LIMIT: String(RATE), TOPIC_OUTBOUND_URGENT: urgentTopic, TOPIC_PARTITIONS: '4' }),
    execArgv: ctx.connectorFlags,
  });
  const sentAt = new Map<string, number>();
  const producer = kafkaClient(ctx.stack, 'bench-urgent').producer({ allowAutoTopicCreation: false });
  try {
    await connector.ready;
    for (const t0 = Date.now(); Date.now() - t0 < 120_000; await sleep(100)) {
      if ((await sim.request<Record<string, number>>('stats'))['acceptedSubmits']! > 0) break;
    }
    await producer.connect();
    const until = Date.now() + seconds * 1000;
    for (let i = 0; Date.now() < until; i++) {
      const value = { ...benchRecord(i, `${tag}-urgent`), requestDeliveryReport: false };
      const at = Date.now();
      sentAt.set(value.id, at);
      await producer.send({ topic: urgentTopic, acks: -1, messages: [{ key: value.id, value: ctx.codec.encodeOutbound(value) }] });
      await sleep(Math.max(0, at + URGENT_EVERY_MS - Date.now()));
    }
    await sleep(3000);
  } finally {
    await producer.disconnect();
    await connector.stop();
    await sim.stop();
  }
  const waits: number[] = [];
  await scanTopic(ctx.stack, topics.delivery, async (_key, value) => {
    const event = (await ctx.codec.decodeRaw(value)) as unknown as SmsDeliveryEvent;
    const at = sentAt.get(event.id);
    if (at !== undefined && event.source === 'SUBMIT' && event.status === 'SUBMITTED' && event.submittedAt !== null) waits.push(event.submittedAt - at);
  });
  waits.sort((a, b) => a - b);
  const share = await busyShare(journal, seconds);
  const how = `${fmt(sentAt.size)} urgent requests, one every ${URGENT_EVERY_MS} ms for ${seconds} s, behind ${fmt(backlog)} bulk requests (4 partitions); trx:4, SMPP_RATE_LIMIT ${RATE}; produce call → submittedAt of its SUBMITTED event`;
  ctx.report.add(S, 'urgent wait p50', percentile(waits, 50), 'ms', how);
  ctx.report.add(S, 'urgent wait p99', percentile(waits, 99), 'ms', `${how}; the goal of issue 21: ≤ 1,000 ms`);
  ctx.report.add(S, 'urgent wait max', waits.at(-1) ?? Number.NaN, 'ms', how);
  ctx.report.add(S, 'urgent requests not submitted', sentAt.size - waits.length, '', 'by the end of the run + 3 s');
  ctx.report.add(
    S,
    'share of the allowed rate used',
    share,
    '%',
    `accepted submit_sm of both lanes over ${seconds} s from the first one ÷ ${SESSIONS} × ${RATE}/s; the goal of issue 21: ≥ 95 %`,
  );
}

/** Accepted submit_sm over `seconds` from the first one, as a share of the account's rate. */
async function busyShare(journal: string, seconds: number): Promise<number> {
  const accepted: number[] = [];
  await readJournal(journal, (r) => {
    if (r.dir === 'out' && r.command === 'submit_sm_resp' && r.status === 0) accepted.push(r.ts);
  });
  const first = Math.min(...accepted);
  const inWindow = accepted.filter((t) => t < first + seconds * 1000).length;
  return (inWindow / (seconds * SESSIONS * RATE)) * 100;
}
