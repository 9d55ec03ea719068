// Invariant (F2, contract 3): SIGTERM rolling restarts of 2 instances under load lose nothing, send
// nothing twice, and each instance exits 0 within the shutdown timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { AvroCodec } from '../../src/kafka/codec.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import { startConnectorProcess, type ConnectorProcess } from '../helpers/child.js';
import { LoadGenerator, report, verdict } from '../helpers/fault-oracle.js';
import { envNumber } from '../helpers/faults.js';
import { summarised, traceUnsummarised } from '../helpers/oracle.js';
import { collectDelivery, produce, testEnv, waitUntil } from '../helpers/pipeline.js';
import { testStack, uniqueTopics } from '../helpers/stack.js';

const RECORDS = envNumber('KSC_F2_RECORDS', 2000);
const DRAIN_MS = 5000;

test('F2: SIGTERM rolling restarts of 2 instances under load → missing 0, duplicates 0, each exits 0 within the shutdown timeout', async () => {
  const stack = await testStack();
  const topics = uniqueTopics('f2');
  const sim = await startSimulator({ plainPort: 0, recordAccepted: true, behaviour: { receiptDelayMs: 10 } });
  const logDir = mkdtempSync(join(tmpdir(), 'ksc-f2-'));
  const env = testEnv(stack, topics, sim.plainPort!, {
    SMPP_SESSIONS: 'trx:2',
    SMPP_ACCOUNT_MAX_BINDS: '4',
    TOPIC_PARTITIONS: '4',
    SMPP_RATE_LIMIT: '50',
    SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
    LOG_LEVEL: 'info',
  });
  const codec = new AvroCodec(loadConfig(env).registry, loadConfig(env).topics);
  const procs: ConnectorProcess[] = [];
  const all: ConnectorProcess[] = [];
  let delivery: Awaited<ReturnType<typeof collectDelivery>> | undefined;
  const binds = () => sim.stats().bindsBySystemId['test'] ?? 0;
  const start = (): ConnectorProcess => {
    const p = startConnectorProcess(env, join(logDir, `connector-${all.length + 1}.log`));
    all.push(p);
    return p;
  };
  try {
    procs.push(start(), start());
    await waitUntil(() => binds() === 4, 90000, 'both instances bound (2 + 2)');
    await codec.registerContracts();
    delivery = await collectDelivery({ stack, topics, codec });
    const records = new LoadGenerator(`f2-${Date.now()}`, { keys: 60, multipartEvery: 6 }).next(RECORDS);
    await produce(
      stack,
      topics.outbound,
      codec,
      records.map((r) => ({ key: r.key, value: r.value })),
    );
    const exits: Array<{ code: number | null; ms: number }> = [];
    for (let i = 0; i < 2; i++) {
      await waitUntil(() => sim.stats().acceptedSubmits >= ((i + 1) * RECORDS) / 3.5, 120000, `load before restart ${i + 1}`);
      const at = Date.now();
      procs[i]!.kill('SIGTERM');
      const exit = await procs[i]!.exited;
      exits.push({ code: exit.code, ms: exit.at - at });
      procs[i] = start();
      await waitUntil(() => binds() === 4, 90000, `instance ${i + 1} back`);
    }
    const ids = new Set(records.map((r) => r.value.id));
    let timedOut = false;
    const eventsNow = () => delivery!.records.map((r) => r.value);
    await waitUntil(() => summarised(eventsNow(), ids).missing.length === 0, 120000, 'every record summarised').catch(() => {
      timedOut = true; // report the numbers anyway: they say what was lost
    });
    const events = eventsNow();
    const withoutSummary = traceUnsummarised(events, ids);
    const v = verdict({ records, accepted: sim.acceptedSubmits(), events });
    report('F2', {
      volume: `${RECORDS} records`,
      timedOut,
      summarised: summarised(events, ids).done,
      withoutSummary,
      exits,
      shutdownDrainMs: DRAIN_MS,
      maxBinds: sim.stats().maxConcurrentBindsBySystemId['test'],
      // Receipts the simulator still re-sends (never answered 0): 0 with a receipt missing means one was answered and lost.
      receiptsPending: sim.stats().receiptsPending,
      ...v,
      logs: logDir,
    });
    assert.ok(v.sent >= 1000);
    assert.equal(timedOut, false, `only ${summarised(events, ids).done} of ${ids.size} records summarised`);
    for (const e of exits) {
      assert.equal(e.code, 0, 'graceful stop exits 0');
      assert.ok(e.ms <= DRAIN_MS + 5000, `stop took ${e.ms} ms`);
    }
    assert.equal(v.missing, 0, `missing ${JSON.stringify(v.missingIds)}`);
    assert.equal(v.missingEvents, 0);
    assert.equal(v.duplicates, 0, 'zero duplicates after graceful stops');
    assert.equal(v.orderViolations, 0);
  } finally {
    for (const p of all) p.kill('SIGKILL');
    await Promise.all(all.map((p) => p.exited));
    await delivery?.stop();
    await sim.close();
  }
});
