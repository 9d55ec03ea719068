/**
 * Starvation against real Kafka (issue 19): a backlog of unique-key records in a topic of N
 * partitions (default 4), the connector with trx:4 × 100/s against the strict simulator; prints
 * accepted submits per connection and second from the simulator's PDU journal, the share of the
 * allowed rate and the starved session-seconds (< half the 98/s pace while the backlog waits).
 * Starts its own stack in .local/starvation-stack and stops it at the end.
 *
 *   node --import tsx test/bench/starvation-kafka.ts [--seconds 45] [--partitions 4]
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { AvroCodec } from '../../src/kafka/codec.js';
import type { PduRecord } from '../../src/simulator/recorder.js';
import { REPO_ROOT, stackDown, stackUp } from '../../tools/dev-stack/stack.js';
import { benchRecord, benchTopics, createTopic, kafkaClient, spawnRole, uniqueName, sleep } from './common.js';
import { CONNECTOR_NODE_FLAGS, connectorEnv, type BenchContext } from './context.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '45' }, partitions: { type: 'string', default: '4' } } });
const seconds = Number(values.seconds);
const partitions = Number(values.partitions);

async function main(): Promise<void> {
  const dir = path.join(REPO_ROOT, '.local', 'starvation-stack');
  const workDir = path.join(REPO_ROOT, '.local', 'bench-work');
  mkdirSync(workDir, { recursive: true });
  const info = await stackUp({ dir });
  try {
    const stack = { kafkaBrokers: info.kafkaBrokers, registryUrl: info.registryUrl };
    const topics = benchTopics('starve');
    const codec = new AvroCodec({ url: info.registryUrl, auth: null }, { outbound: topics.outbound, delivery: topics.delivery, inbound: null });
    await codec.registerContracts();
    await createTopic(stack, topics.outbound, partitions);
    const total = Math.ceil(4 * 100 * (seconds + 10) * 1.1);
    const producer = kafkaClient(stack, 'starve-producer').producer({ allowAutoTopicCreation: false });
    await producer.connect();
    for (let i = 0; i < total; i += 2000) {
      const messages = [];
      for (let j = i; j < Math.min(total, i + 2000); j += 1) {
        messages.push({ key: randomUUID(), value: codec.encodeOutbound({ ...benchRecord(j, 'starve'), requestDeliveryReport: false }) });
      }
      await producer.send({ topic: topics.outbound, messages, acks: -1 });
    }
    await producer.disconnect();
    const journal = path.join(workDir, `starvation-${partitions}.jsonl`);
    if (existsSync(journal)) rmSync(journal);
    const sim = spawnRole('simulator', { args: [JSON.stringify({ journalPath: journal, behaviour: { throughputPerSecond: 100, maxBindsPerSystemId: 4 } })] });
    const { port } = (await sim.ready) as { port: number };
    const ctx = { stack } as BenchContext;
    const connector = spawnRole('connector', {
      env: connectorEnv(ctx, topics, uniqueName('starve'), port, { SMPP_RATE_LIMIT: '100', TOPIC_PARTITIONS: String(partitions) }),
      execArgv: CONNECTOR_NODE_FLAGS,
    });
    try {
      await connector.ready;
      const t0 = Date.now();
      while (Date.now() - t0 < 120_000) {
        const s = await sim.request<Record<string, number>>('stats');
        if (s['acceptedSubmits']! > 0) break;
        await sleep(200);
      }
      await sleep((seconds + 2) * 1000);
    } finally {
      await connector.stop();
      await sim.stop();
    }
    await report(journal, total);
  } finally {
    await stackDown({ dir });
  }
}

async function report(journal: string, total: number): Promise<void> {
  const accepted = new Map<number, number[]>();
  let throttled = 0;
  const lines = createInterface({ input: createReadStream(journal), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line) continue;
    const r = JSON.parse(line) as PduRecord;
    if (r.dir !== 'out' || r.command !== 'submit_sm_resp') continue;
    if (r.status === 0) (accepted.get(r.conn) ?? accepted.set(r.conn, []).get(r.conn)!).push(r.ts);
    else if (r.status === 0x58) throttled += 1;
  }
  const t0 = Math.min(...[...accepted.values()].map((ts) => ts[0]!));
  const conns = [...accepted.keys()].sort((a, b) => a - b);
  let starved = 0;
  let sum = 0;
  console.log(`${partitions} partitions, ${total} unique-key records, trx:4 × 100/s; ${throttled} × 0x58`);
  for (const conn of conns) {
    const perSecond = new Array<number>(seconds).fill(0);
    for (const t of accepted.get(conn)!) {
      const i = Math.floor((t - t0) / 1000);
      if (i < seconds) perSecond[i]! += 1;
    }
    starved += perSecond.filter((n) => n < 49).length;
    sum += perSecond.reduce((a, b) => a + b, 0);
    console.log(`conn ${conn}: ${perSecond.join(' ')}`);
  }
  console.log(
    `share of the allowed rate over ${seconds} s: ${((sum / (seconds * conns.length * 100)) * 100).toFixed(1)} %; starved session-seconds (< 49): ${starved}`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
