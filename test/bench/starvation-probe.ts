/**
 * Starvation probe (issue 19): do the sessions starve while a backlog waits in the intake?
 *
 * No Kafka: the intake is a model of the one kafkajs 2.2.4 runs, with the product's own pool,
 * admission and submit port against the strict in-process simulator (100 accepted submits per
 * connection in any 1000 ms). kafkajs' fetcher (node_modules/kafkajs/src/consumer/fetcher.js)
 * fetches, pushes every batch of the fetch to the worker queue and awaits them ALL
 * (workerQueue.push → Promise.allSettled) before the next fetch; our eachBatch starts every
 * record of its batch at once and returns when the last one is done with the SMSC. So a fetch
 * round here is: `partitions` batches of `batch` records (unique keys), all started together,
 * the next round `fetchMs` after the last record of this one.
 *
 * Prints, per second: accepted submits per session; and, from samples every 100 ms, the lowest
 * intake size (records of the round not done), the most admission waiters (per session, and for
 * any session where that queue exists) and the most in-flight per session in that second.
 *
 *   node --import tsx test/bench/starvation-probe.ts [--seconds 40] [--partitions 4] [--batch 1100] [--fetch-ms 10] [--keys unique|N]
 */
import { createHash, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { poolSubmitPort } from '../../src/app/submit-port.js';
import { Admission } from '../../src/pipeline/admission.js';
import { SmppPool } from '../../src/smpp/session/pool.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import { fastSessionOptions, gsmSubmit, waitFor } from '../integration/smpp-helpers.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '40' },
    partitions: { type: 'string', default: '4' },
    batch: { type: 'string', default: '1100' },
    'fetch-ms': { type: 'string', default: '10' },
    /** `unique` (a UUID per record, as the runs) or a number N: keys customer-(i % N), as the bench's backlog. */
    keys: { type: 'string', default: 'unique' },
  },
});
const seconds = Number(values.seconds);
const partitions = Number(values.partitions);
const batchSize = Number(values.batch);
const fetchMs = Number(values['fetch-ms']);
const keyCount = values.keys === 'unique' ? null : Number(values.keys);
const keyOf = (n: number): string => (keyCount === null ? randomUUID() : `customer-${n % keyCount}`);
/** Kafka's partitioner in spirit: a hash of the key unrelated to the pool's FNV-1a. */
const partitionOf = (key: string): number => createHash('md5').update(key).digest().readUInt32BE(0) % partitions;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Second {
  accepted: Map<string, number>;
  minIntake: number;
  maxWaiters: Map<string, number>;
  maxInFlight: Map<string, number>;
}

async function main(): Promise<void> {
  const sim = await startSimulator({ plainPort: 0, behaviour: { throughputPerSecond: 100, maxBindsPerSystemId: 4 } });
  const pool = new SmppPool({ spec: 'trx:4', maxBinds: 4, session: fastSessionOptions(sim.plainPort as number) });
  pool.start();
  await waitFor(() => pool.boundCount() === 4, 5_000, '4 bound');
  const ids = pool.sessions().map((s) => s.id);
  const admission = new Admission(20);
  const port = poolSubmitPort(pool, admission);
  const signal = new AbortController().signal;
  // waiters for any session (the shared queue of issue 19's fix)
  const waitingAny = (): number => admission.waiting(null);

  const t0 = Date.now();
  const end = t0 + seconds * 1000;
  const perSecond: Second[] = [];
  const second = (at: number): Second => {
    const i = Math.floor((at - t0) / 1000);
    while (perSecond.length <= i) perSecond.push({ accepted: new Map(), minIntake: Infinity, maxWaiters: new Map(), maxInFlight: new Map() });
    return perSecond[i]!;
  };
  let intake = 0;
  let throttled = 0;
  let rounds = 0;

  const sampler = setInterval(() => {
    const s = second(Date.now());
    s.minIntake = Math.min(s.minIntake, intake);
    for (const session of pool.sessions()) {
      s.maxWaiters.set(session.id, Math.max(s.maxWaiters.get(session.id) ?? 0, admission.waiting(session.id)));
      s.maxWaiters.set('any', Math.max(s.maxWaiters.get('any') ?? 0, waitingAny()));
      s.maxInFlight.set(session.id, Math.max(s.maxInFlight.get(session.id) ?? 0, session.inFlight()));
    }
  }, 100);

  const sendOne = async (n: number, key: string): Promise<void> => {
    for (;;) {
      const result = await port.submit(key, gsmSubmit(`3934${String(n).padStart(8, '0')}`, `probe ${n}`), signal);
      if (result.kind === 'response' && result.commandStatus === 0) {
        const s = second(Date.now());
        s.accepted.set(result.sessionId, (s.accepted.get(result.sessionId) ?? 0) + 1);
        return;
      }
      if (result.kind === 'response' && result.commandStatus === 0x58) throttled += 1;
      await sleep(100);
    }
  };

  let next = 0;
  while (Date.now() < end) {
    // this round's records, split by partition; each batch runs as runRecords does: all at once,
    // a key's record after the previous one of the key
    const batches: { n: number; key: string }[][] = Array.from({ length: partitions }, () => []);
    while (batches.some((b) => b.length < batchSize)) {
      const key = keyOf(next);
      const b = batches[keyCount === null ? next % partitions : partitionOf(key)]!;
      if (b.length < batchSize) b.push({ n: next, key });
      next += 1;
    }
    const round = batches.map((batch) => {
      const tails = new Map<string, Promise<void>>();
      const tasks = batch.map(({ n, key }) => {
        const previous = tails.get(key);
        const task = (previous ?? Promise.resolve()).then(() => sendOne(n, key)).then(() => void (intake -= 1));
        tails.set(key, task);
        return task;
      });
      return Promise.all(tasks);
    });
    intake = partitions * batchSize;
    await Promise.all(round);
    rounds += 1;
    await sleep(fetchMs);
  }
  clearInterval(sampler);
  await pool.close();
  await sim.close();

  const full = perSecond.slice(0, seconds);
  const pace = 98;
  let starved = 0;
  let total = 0;
  console.log(`${partitions} partitions × ${batchSize} records per fetch round, keys ${values.keys}, ${rounds} rounds, ${throttled} × 0x58`);
  console.log('sec | accepted per session | min intake | max admission waiters per session, any | max in-flight per session');
  full.forEach((s, i) => {
    const acc = ids.map((id) => s.accepted.get(id) ?? 0);
    if (i > 0) for (const a of acc) if (a < pace / 2) starved += 1;
    if (i > 0) total += acc.reduce((x, y) => x + y, 0);
    const w = [...ids, 'any'].map((id) => s.maxWaiters.get(id) ?? 0);
    const f = ids.map((id) => s.maxInFlight.get(id) ?? 0);
    const mark = acc.some((a) => a < 90) ? ' <' : '';
    console.log(
      `${String(i).padStart(3)} | ${acc.map((a) => String(a).padStart(3)).join(' ')} | ${String(s.minIntake).padStart(5)} | ${w.map((x) => String(x).padStart(4)).join(' ')} | ${f.map((x) => String(x).padStart(2)).join(' ')}${mark}`,
    );
  });
  const counted = Math.max(1, full.length - 1);
  console.log(
    `share of the allowed rate (seconds 1..${full.length - 1}): ${((total / (counted * 4 * 100)) * 100).toFixed(1)} %; of the paced 98/s: ${((total / (counted * 4 * pace)) * 100).toFixed(1)} %; starved session-seconds (< ${pace / 2}): ${starved}`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
