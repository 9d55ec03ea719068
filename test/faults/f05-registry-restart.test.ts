// Invariant (F5, contract 4 "outages pause, never DLQ" + 7): the Schema Registry stopped while
// records arrive whose schema id the connector has never seen (COLD cache: a new compatible
// version of SmsOutbound registered just before the stop) → 0 DLQ records, none of them sent
// during the outage, progress ≤ 10 s after the registry is back, missing 0; the registry keeps its
// schemas across the restart (file-backed H2 in the private stack).
// Scale: registry down 20 s instead of the full-size 60 s (docs/reliability.md §9) (KSC_F5_OUTAGE_MS=60000 for the full
// size); the connector's retry backoff is capped at 5 s, so the length does not change the bound.
// Runs on a PRIVATE stack (own dir and free ports): the shared registry is never touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { freePorts, stackDown, stackUp, startRegistry, stopRegistry, type StackInfo } from '../../tools/dev-stack/stack.js';
import { loadConfig } from '../../src/config.js';
import { AvroCodec, readSchema, valueSubject } from '../../src/kafka/codec.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import { startConnectorProcess, type ConnectorProcess } from '../helpers/child.js';
import { LoadGenerator, report, verdict } from '../helpers/fault-oracle.js';
import { delay, envNumber } from '../helpers/faults.js';
import { planned } from '../helpers/oracle.js';
import { collectDelivery, produce, readTopic, testEnv, waitUntil } from '../helpers/pipeline.js';
import { privateStackDir, uniqueTopics } from '../helpers/stack.js';

const WARM = envNumber('KSC_F5_WARM_RECORDS', 300);
const COLD = envNumber('KSC_F5_RECORDS', 1500);
const OUTAGE_MS = envNumber('KSC_F5_OUTAGE_MS', 20000);
const RESUME_BOUND_MS = 10000;

/** SmsOutbound v2: v1 plus an optional field with a default (BACKWARD compatible). */
function outboundV2(): string {
  const schema = JSON.parse(readSchema('outbound')) as { fields: unknown[] };
  schema.fields.push({ name: 'priority', type: ['null', 'string'], default: null, doc: 'F5 test: a field the connector has never seen.' });
  return JSON.stringify(schema);
}

test(
  `F5: Schema Registry stopped ${OUTAGE_MS / 1000} s with a cold schema cache, restarted → 0 DLQ, resumes ≤ 10 s after, missing 0, schemas kept`,
  { timeout: 900_000 },
  async () => {
    const dir = privateStackDir('f5');
    let stack: StackInfo | undefined;
    let proc: ConnectorProcess | undefined;
    let delivery: Awaited<ReturnType<typeof collectDelivery>> | undefined;
    let registryStopped = false;
    const sim = await startSimulator({ plainPort: 0, recordAccepted: true, behaviour: { receiptDelayMs: 10 } });
    const logDir = mkdtempSync(join(tmpdir(), 'ksc-f5-'));
    try {
      const tStack = Date.now();
      stack = await stackUp({ dir });
      const stackUpMs = Date.now() - tStack;
      const topics = uniqueTopics('f5');
      const [httpPort] = (await freePorts(1)) as [number];
      const env = testEnv(stack, topics, sim.plainPort!, { SMPP_SESSIONS: 'trx:2', SMPP_RATE_LIMIT: '50', HTTP_PORT: String(httpPort), LOG_LEVEL: 'info' });
      const config = loadConfig(env);
      const codec = new AvroCodec(config.registry, config.topics);
      proc = startConnectorProcess(env, join(logDir, 'connector.log'));
      await waitUntil(() => (sim.stats().bindsBySystemId['test'] ?? 0) === 2, 120000, 'connector bound');
      await codec.registerContracts();

      // ---- warm phase: v1 records flow (the connector caches the v1 schema id)
      const gen = new LoadGenerator(`f5-${Date.now()}`, { keys: 40, multipartEvery: 6 });
      const warm = gen.next(WARM);
      await produce(
        stack,
        topics.outbound,
        codec,
        warm.map((r) => ({ key: r.key, value: r.value })),
      );
      await waitUntil(() => sim.stats().acceptedSubmits >= WARM, 120000, 'warm records accepted');

      // ---- a new compatible version, registered right before the stop: the connector never saw its id
      const registry = new SchemaRegistry({ host: stack.registryUrl });
      const subject = valueSubject(topics.outbound);
      const v1Id = codec.schemaId('outbound');
      const { id: v2Id } = await registry.register({ type: SchemaType.AVRO, schema: outboundV2() }, { subject });
      assert.notEqual(v2Id, v1Id, 'v2 has its own schema id');
      const cold = gen.next(COLD);
      // encoded now (the test's client caches v2 on register); produced while the registry is down
      const coldValues = await Promise.all(cold.map(async (r) => ({ key: r.key, value: await registry.encode(v2Id, { ...r.value, priority: 'high' }) })));
      const coldDigests = new Set(cold.flatMap((r) => planned(r.value, 10)?.digests ?? []));
      const coldAccepted = () => sim.acceptedSubmits().filter((a) => coldDigests.has(a.digest));

      // ---- the fault
      const stopAt = Date.now();
      await stopRegistry({ dir });
      registryStopped = true;
      const stoppedAt = Date.now();
      await produce(stack, topics.outbound, codec, coldValues.slice(0, Math.floor(COLD / 2)));
      await delay(Math.max(0, OUTAGE_MS / 2 - (Date.now() - stoppedAt)));
      await produce(stack, topics.outbound, codec, coldValues.slice(Math.floor(COLD / 2)));
      await delay(Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt)));
      const coldAcceptedDuringOutage = coldAccepted().length;
      const restartAt = Date.now();
      stack = { ...stack, ...(await startRegistry({ dir })) };
      registryStopped = false;
      const backAt = Date.now(); // the registry answers again
      const registryStartMs = backAt - restartAt;

      // ---- resume: the first v2 record accepted by the SMSC
      let resumedAt = 0;
      await waitUntil(
        () => {
          const first = coldAccepted()[0];
          if (first) resumedAt = first.at;
          return first !== undefined;
        },
        120000,
        'the first cold-cache record accepted',
      ).catch(() => undefined);

      // ---- the registry kept its schemas across the restart (file-backed H2)
      const kept: Record<string, boolean> = {};
      for (const id of [v1Id, v2Id, codec.schemaId('delivery')]) {
        const res = await fetch(`${stack.registryUrl}/schemas/ids/${id}`, { signal: AbortSignal.timeout(10000) }).catch(() => null);
        kept[id] = res?.ok === true && ((await res.json()) as { schema?: string }).schema !== undefined;
      }

      // ---- oracle
      delivery = await collectDelivery({ stack, topics, codec });
      const records = [...warm, ...cold];
      const ids = new Set(records.map((r) => r.value.id));
      const summarised = () => new Set(delivery!.records.filter((r) => r.value.source === 'SUMMARY' && ids.has(r.value.id)).map((r) => r.value.id)).size;
      let timedOut = false;
      await waitUntil(() => summarised() === ids.size, 180000, 'every record summarised').catch(() => {
        timedOut = true;
      });
      const dlq = await readTopic(
        stack,
        topics.dlq,
        async (v) => v,
        () => false,
        8000,
      );
      const v = verdict({ records, accepted: sim.acceptedSubmits(), events: delivery.records.map((r) => r.value) });
      const processExitedEarly = proc.child.exitCode !== null || proc.child.signalCode !== null;
      report('F5', {
        volume: `${WARM} warm (v1) + ${COLD} cold (v2, produced while the registry was down)`,
        schemaIds: { v1: v1Id, v2: v2Id },
        outageMs: backAt - stopAt,
        registryDownTargetMs: OUTAGE_MS,
        registryStartMs,
        stackUpMs,
        coldAcceptedDuringOutage,
        resumeAfterBackMs: resumedAt ? resumedAt - backAt : null,
        dlqRecords: dlq.length,
        schemasKept: kept,
        connectorRestarted: processExitedEarly,
        timedOut,
        summarised: summarised(),
        ...v,
        logs: logDir,
      });
      assert.equal(processExitedEarly, false, 'the connector never exited');
      assert.ok(v.sent >= 1000, 'minimum volume');
      assert.equal(coldAcceptedDuringOutage, 0, 'the cache was cold: no v2 record could be sent while the registry was down');
      assert.equal(dlq.length, 0, 'a registry outage sends nothing to the DLQ');
      assert.ok(
        resumedAt > 0 && resumedAt - backAt <= RESUME_BOUND_MS,
        `resumed ≤ 10 s after the registry was back (${resumedAt ? resumedAt - backAt : 'never'} ms)`,
      );
      assert.ok(Object.values(kept).every(Boolean), `schemas kept across the restart ${JSON.stringify(kept)}`);
      assert.equal(timedOut, false, `only ${summarised()} of ${ids.size} records summarised`);
      assert.equal(v.missing, 0, `missing ${JSON.stringify(v.missingIds)}`);
      assert.equal(v.missingEvents, 0, `missing events ${JSON.stringify(v.missingEventIds)}`);
      assert.equal(v.duplicates, 0, 'a registry outage sends nothing twice');
      assert.equal(v.orderViolations, 0);
      proc.kill('SIGTERM');
      assert.equal((await proc.exited).code, 0, 'graceful stop exits 0');
    } finally {
      proc?.kill('SIGKILL');
      await proc?.exited;
      await delivery?.stop().catch(() => undefined);
      await sim.close();
      if (registryStopped) await startRegistry({ dir }).catch(() => undefined);
      await stackDown({ dir }).catch(() => undefined);
    }
  },
);
