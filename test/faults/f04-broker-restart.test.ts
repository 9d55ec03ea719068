// Invariant (F4, contract 7 + 1): the Kafka broker killed (SIGKILL) under load and restarted →
// the SAME connector process resumes progress ≤ 60 s after the broker answers again, /readyz says
// not ready while the broker is down, and nothing is lost (missing 0).
// Scale: broker down 20 s instead of the full-size 30 s (docs/reliability.md §9) (KSC_F4_OUTAGE_MS=30000 for the full size);
// the behaviour (retries, reconnects, rejoin) does not depend on the length.
// Runs on a PRIVATE stack (own dir and free ports): the shared broker is never touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, stackDown, stackUp, startKafka, stopKafka, type StackInfo } from '../../tools/dev-stack/stack.js';
import { loadConfig } from '../../src/config.js';
import { AvroCodec } from '../../src/kafka/codec.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import { startConnectorProcess, type ConnectorProcess } from '../helpers/child.js';
import { LoadGenerator, report, verdict } from '../helpers/fault-oracle.js';
import { delay, envNumber } from '../helpers/faults.js';
import { collectDelivery, committedVsEnd, produce, readTopic, testEnv, waitUntil, type PipelineFixture } from '../helpers/pipeline.js';
import { privateStackDir, uniqueTopics } from '../helpers/stack.js';

const RECORDS = envNumber('KSC_F4_RECORDS', 4000);
const OUTAGE_MS = envNumber('KSC_F4_OUTAGE_MS', 20000);
const RESUME_BOUND_MS = 60000;
const SESSIONS = 2;
const WINDOW = 10;

async function readyz(port: number): Promise<{ ready: boolean; checks: unknown } | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { checks: unknown };
    return { ready: res.status === 200, checks: body.checks };
  } catch {
    return null; // the HTTP server did not answer: a crash, reported by the exit check
  }
}

test(
  `F4: Kafka broker SIGKILLed for ${OUTAGE_MS / 1000} s under load, restarted → resumes ≤ 60 s without a connector restart; /readyz false meanwhile; missing 0`,
  { timeout: 900_000 },
  async () => {
    const dir = privateStackDir('f4');
    let stack: StackInfo | undefined;
    let proc: ConnectorProcess | undefined;
    let delivery: Awaited<ReturnType<typeof collectDelivery>> | undefined;
    const sim = await startSimulator({ plainPort: 0, recordAccepted: true, behaviour: { receiptDelayMs: 10 } });
    const logDir = mkdtempSync(join(tmpdir(), 'ksc-f4-'));
    try {
      const tStack = Date.now();
      stack = await stackUp({ dir });
      const stackUpMs = Date.now() - tStack;
      const topics = uniqueTopics('f4');
      const [httpPort] = (await freePorts(1)) as [number];
      // 2 sessions × 25/s: the 4,000 records take ~80 s, so the broker dies with most of them unsent
      const env = testEnv(stack, topics, sim.plainPort!, {
        SMPP_SESSIONS: `trx:${SESSIONS}`,
        SMPP_WINDOW: String(WINDOW),
        SMPP_RATE_LIMIT: '25',
        HTTP_PORT: String(httpPort),
        LOG_LEVEL: 'info',
        // KSC_F4_DEBUG=1: kafkajs request-level lines in the connector log (for diagnosing a stall)
        ...(process.env['KSC_F4_DEBUG'] ? { LOG_LEVEL: 'trace', KAFKAJS_LOG_LEVEL: 'debug' } : {}),
      });
      const config = loadConfig(env);
      const codec = new AvroCodec(config.registry, config.topics);
      const logFile = join(logDir, 'connector.log');
      proc = startConnectorProcess(env, logFile);
      await waitUntil(() => (sim.stats().bindsBySystemId['test'] ?? 0) === SESSIONS, 120000, 'connector bound');
      await waitUntil(async () => (await readyz(httpPort))?.ready === true, 60000, 'connector ready');
      await codec.registerContracts();
      const records = new LoadGenerator(`f4-${Date.now()}`, { keys: 50, multipartEvery: 5 }).next(RECORDS);
      await produce(
        stack,
        topics.outbound,
        codec,
        records.map((r) => ({ key: r.key, value: r.value })),
      );
      await waitUntil(() => sim.stats().acceptedSubmits >= RECORDS / 8, 120000, 'load flowing before the kill');
      const fx = { stack, topics, config } as unknown as PipelineFixture;
      const committedBefore = (await committedVsEnd(fx)).committed;

      // ---- the fault: SIGKILL the broker (no clean shutdown, no leader hand-off, log recovery on start)
      const killAt = Date.now();
      const acceptedAtKill = sim.stats().acceptedSubmits;
      process.kill(stack.kafkaPid, 'SIGKILL');
      await stopKafka({ dir }); // the pid is already dead: this only clears the pid file
      const samples: Array<{ at: number; ready: boolean | null }> = [];
      while (Date.now() - killAt < OUTAGE_MS) {
        const r = await readyz(httpPort);
        samples.push({ at: Date.now(), ready: r ? r.ready : null });
        await delay(500);
      }
      const acceptedDuringOutage = sim.stats().acceptedSubmits - acceptedAtKill;
      const restartAt = Date.now();
      stack = { ...stack, ...(await startKafka({ dir })) };
      const backAt = Date.now(); // the broker answers metadata requests again
      const brokerStartMs = backAt - restartAt;

      // ---- resume: committed offsets move past where they stood at the kill, SMSC acceptances grow
      const acceptedAtBack = sim.stats().acceptedSubmits;
      let commitResumedAt = 0;
      let readyAgainAt = 0;
      let submitsResumedAt = 0;
      const resumeDeadline = backAt + RESUME_BOUND_MS + 30000;
      while ((commitResumedAt === 0 || readyAgainAt === 0 || submitsResumedAt === 0) && Date.now() < resumeDeadline) {
        if (commitResumedAt === 0) {
          const c = await committedVsEnd(fx).catch(() => null);
          if (c && c.committed > committedBefore) commitResumedAt = Date.now();
        }
        if (readyAgainAt === 0 && (await readyz(httpPort))?.ready === true) readyAgainAt = Date.now();
        if (submitsResumedAt === 0 && sim.stats().acceptedSubmits > acceptedAtBack) submitsResumedAt = Date.now();
        await delay(250);
      }
      const processExitedEarly = proc.child.exitCode !== null || proc.child.signalCode !== null;

      // ---- oracle: every record ends (read sms.delivery from the beginning, after the fault)
      delivery = await collectDelivery({ stack, topics, codec });
      const ids = new Set(records.map((r) => r.value.id));
      const summarised = () => new Set(delivery!.records.filter((r) => r.value.source === 'SUMMARY' && ids.has(r.value.id)).map((r) => r.value.id)).size;
      let timedOut = false;
      await waitUntil(() => summarised() === ids.size, 300000, 'every record summarised').catch(() => {
        timedOut = true;
      });
      const dlq = await readTopic(
        stack,
        topics.dlq,
        async (v) => v,
        () => false,
        8000,
      );
      const v = verdict({
        records,
        accepted: sim.acceptedSubmits(),
        events: delivery.records.map((r) => r.value),
        faultTimes: [killAt, backAt],
        inFlightBound: SESSIONS * WINDOW,
      });

      const firstNotReady = samples.find((s) => s.ready !== true);
      const afterFirst = firstNotReady ? samples.filter((s) => s.at >= firstNotReady.at) : [];
      const readyWhileDown = afterFirst.filter((s) => s.ready === true).length;
      const result = {
        volume: `${RECORDS} records`,
        outageMs: backAt - killAt,
        brokerDownMs: OUTAGE_MS,
        brokerStartMs,
        stackUpMs,
        acceptedAtKill,
        acceptedDuringOutage,
        readiness: {
          samplesWhileDown: samples.length,
          notReadyAfterKillMs: firstNotReady ? firstNotReady.at - killAt : null,
          readyWhileDownAfterFirstNotReady: readyWhileDown,
          httpUnanswered: samples.filter((s) => s.ready === null).length,
        },
        commitResumeAfterBackMs: commitResumedAt ? commitResumedAt - backAt : null,
        submitsResumeAfterBackMs: submitsResumedAt ? submitsResumedAt - backAt : null,
        readyAgainAfterBackMs: readyAgainAt ? readyAgainAt - backAt : null,
        connectorRestarted: processExitedEarly,
        timedOut,
        summarised: summarised(),
        dlqRecords: dlq.length,
        ...v,
        logs: logDir,
      };
      report('F4', result);
      assert.equal(processExitedEarly, false, 'the connector process was not restarted (it never exited)');
      assert.ok(v.sent >= 1000 && acceptedAtKill >= 200, 'minimum volume before the fault');
      assert.ok(firstNotReady !== undefined && firstNotReady.at - killAt <= 20000, 'readiness false within 20 s of the kill');
      assert.equal(readyWhileDown, 0, 'readiness stayed false while the broker was down');
      assert.ok(
        commitResumedAt > 0 && commitResumedAt - backAt <= RESUME_BOUND_MS,
        `commits resumed ≤ 60 s after the broker was back (${commitResumedAt ? commitResumedAt - backAt : 'never'} ms)`,
      );
      assert.ok(readyAgainAt > 0 && readyAgainAt - backAt <= RESUME_BOUND_MS, 'ready again ≤ 60 s after the broker was back');
      assert.equal(timedOut, false, `only ${summarised()} of ${ids.size} records summarised`);
      assert.equal(v.missing, 0, `missing ${JSON.stringify(v.missingIds)}`);
      assert.equal(v.missingEvents, 0, `missing events ${JSON.stringify(v.missingEventIds)}`);
      assert.equal(dlq.length, 0, 'a broker outage sends nothing to the DLQ');
      assert.ok(v.duplicates <= SESSIONS * WINDOW, `${v.duplicates} duplicates > in-flight bound ${SESSIONS * WINDOW}`);
      assert.equal(v.orderViolations, 0);
      proc.kill('SIGTERM');
      assert.equal((await proc.exited).code, 0, 'graceful stop after the fault exits 0');
    } finally {
      proc?.kill('SIGKILL');
      await proc?.exited;
      await delivery?.stop().catch(() => undefined);
      await sim.close();
      await stackDown({ dir }).catch(() => undefined);
    }
  },
);
