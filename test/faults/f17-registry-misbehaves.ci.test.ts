// Invariant (F17, issue 17 item 5 "registry misbehaviour is an outage"): a registry — or a proxy in
// front of it — that answers HTML with 200, JSON that is not a schema, 500, 404 for everything, the
// right answer too late, or nothing at all, while records arrive whose schema id the connector has
// never seen (COLD cache) → 0 DLQ records, none of them sent during the faults, the first one
// accepted ≤ 10 s after the registry answers sanely again, missing 0; and the id, once read, is
// looked up once (a known id costs nothing).
// CI scale: ~240 records, each fault held until the connector has met it (≥ 1.5 s each).
// The connector's registry deadline is 2 s here (SCHEMA_REGISTRY_TIMEOUT_MS; default 5 s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import avsc from 'avsc';
import { AvroCodec, readSchema, valueSubject } from '../../src/kafka/codec.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import { LoadGenerator, report, verdict } from '../helpers/fault-oracle.js';
import { delay, envNumber, startCapturedApp } from '../helpers/faults.js';
import { planned } from '../helpers/oracle.js';
import { collectDelivery, produce, readTopic, testEnv, waitUntil } from '../helpers/pipeline.js';
import { RegistryProxy, type RegistryFault } from '../helpers/registry-proxy.js';
import { testStack, uniqueTopics } from '../helpers/stack.js';

const WARM = envNumber('KSC_F17_WARM_RECORDS', 60);
const PER_FAULT = envNumber('KSC_F17_RECORDS_PER_FAULT', 30);
const FAULT_MIN_MS = envNumber('KSC_F17_FAULT_MS', 1500);
const RESUME_BOUND_MS = 10000;
/** The last fault is the one the connector leaves when the registry comes back. */
const FAULTS: RegistryFault[] = ['silent', 'slow', 'error-500', 'not-a-schema', 'not-found', 'html'];

/** SmsOutbound v2: v1 plus an optional field (BACKWARD compatible); a new id the connector never saw. */
function outboundV2(tag: string): string {
  const schema = JSON.parse(readSchema('outbound')) as { fields: unknown[] };
  schema.fields.push({ name: 'channel', type: ['null', 'string'], default: null, doc: `F17 ${tag}` });
  return JSON.stringify(schema);
}

async function registerV2(registryUrl: string, subject: string, schema: string): Promise<number> {
  const res = await fetch(`${registryUrl}/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schema }),
    signal: AbortSignal.timeout(10000),
  });
  const body = (await res.json()) as { id?: number };
  assert.ok(res.ok && typeof body.id === 'number', `v2 registered: HTTP ${res.status}`);
  return body.id;
}

test(
  'F17: a misbehaving registry (silent, slow, 500, not a schema, 404, HTML) with a cold cache → 0 DLQ, resumes ≤ 10 s after a sane answer, missing 0',
  { timeout: 180_000 },
  async () => {
    const stack = await testStack();
    const proxy = await RegistryProxy.start(stack.registryUrl);
    const sim = await startSimulator({ plainPort: 0, recordAccepted: true, behaviour: { receiptDelayMs: 10 } });
    const topics = uniqueTopics('f17');
    const env = testEnv(stack, topics, sim.plainPort!, { SCHEMA_REGISTRY_URL: proxy.url, SCHEMA_REGISTRY_TIMEOUT_MS: '2000', SMPP_SESSIONS: 'trx:2' });
    const { app, log } = await startCapturedApp(env);
    // The test's own codec talks to the registry directly: only the connector sees the faults.
    const codec = new AvroCodec({ url: stack.registryUrl, auth: null }, { outbound: topics.outbound, delivery: topics.delivery, inbound: null });
    await codec.registerContracts();
    const delivery = await collectDelivery({ stack, topics, codec });
    try {
      await waitUntil(() => (sim.stats().bindsBySystemId['test'] ?? 0) === 2, 30000, 'connector bound');

      // ---- warm: v1 records flow (the connector knows its own schema id from registration)
      const gen = new LoadGenerator(`f17-${Date.now()}`, { keys: 20, multipartEvery: 8 });
      const warm = gen.next(WARM);
      await produce(stack, topics.outbound, codec, warm);
      await waitUntil(() => sim.stats().acceptedSubmits >= WARM, 60000, 'warm records accepted');

      // ---- a compatible v2 the connector has never seen: every record of it needs a lookup
      const v2Schema = outboundV2(gen.runId);
      const v2Id = await registerV2(stack.registryUrl, valueSubject(topics.outbound), v2Schema);
      const v2Type = avsc.Type.forSchema(JSON.parse(v2Schema) as avsc.Schema);
      const encodeV2 = (value: object): Buffer => {
        const header = Buffer.alloc(5);
        header.writeInt32BE(v2Id, 1);
        return Buffer.concat([header, v2Type.toBuffer({ ...value, channel: 'f17' })]);
      };
      const v2Path = `/schemas/ids/${v2Id}`;
      const cold = gen.next(PER_FAULT * FAULTS.length);
      const coldDigests = new Set(cold.flatMap((r) => planned(r.value, 10)?.digests ?? []));
      const coldAccepted = () => sim.acceptedSubmits().filter((a) => coldDigests.has(a.digest));

      // ---- the faults, one after the other; each held until the connector asked for v2 under it
      const metFault: Record<string, number> = {};
      for (const [i, fault] of FAULTS.entries()) {
        proxy.mode = fault;
        const since = Date.now();
        const batch = cold.slice(i * PER_FAULT, (i + 1) * PER_FAULT);
        await produce(
          stack,
          topics.outbound,
          codec,
          batch.map((r) => ({ key: r.key, value: encodeV2(r.value) })),
        );
        const met = () => proxy.requests.filter((r) => r.mode === fault && r.at >= since && r.path === v2Path).length;
        await waitUntil(() => met() > 0, 15000, `the connector met the '${fault}' registry`).catch(() => undefined);
        await delay(Math.max(0, FAULT_MIN_MS - (Date.now() - since)));
        metFault[fault] = met();
      }
      const coldAcceptedDuringFaults = coldAccepted().length;
      const dlqDuringFaults = (
        await readTopic(
          stack,
          topics.dlq,
          async (v) => v,
          () => false,
          1000,
        )
      ).length;

      // ---- sane again
      proxy.mode = 'pass';
      const saneAt = Date.now();
      let resumedAt = 0;
      await waitUntil(
        () => {
          const first = coldAccepted()[0];
          if (first) resumedAt = first.at;
          return first !== undefined;
        },
        60000,
        'the first cold record accepted',
      ).catch(() => undefined);

      // ---- oracle
      const records = [...warm, ...cold];
      const ids = new Set(records.map((r) => r.value.id));
      const summarised = () => new Set(delivery.records.filter((r) => r.value.source === 'SUMMARY' && ids.has(r.value.id)).map((r) => r.value.id)).size;
      let timedOut = false;
      await waitUntil(() => summarised() === ids.size, 60000, 'every record summarised').catch(() => {
        timedOut = true;
      });
      const dlq = await readTopic(
        stack,
        topics.dlq,
        async (v) => v,
        () => false,
        2000,
      );
      const v = verdict({ records, accepted: sim.acceptedSubmits(), events: delivery.records.map((r) => r.value) });
      const saneLookups = proxy.requests.filter((r) => r.mode === 'pass' && r.at >= saneAt && r.path === v2Path).length;
      report('F17', {
        volume: `${WARM} warm (v1) + ${cold.length} cold (v2, ${PER_FAULT} produced under each fault)`,
        faults: FAULTS.join(' → '),
        v2LookupsPerFault: metFault,
        coldAcceptedDuringFaults,
        dlqDuringFaults,
        resumeAfterSaneMs: resumedAt ? resumedAt - saneAt : null,
        v2LookupsAfterSane: saneLookups,
        dlqRecords: dlq.length,
        poisonLogged: log.count('poison record sent to the DLQ'),
        registryWaitLogged: log.count('schema registry unavailable; waiting'),
        timedOut,
        summarised: summarised(),
        ...v,
      });
      for (const fault of FAULTS) assert.ok((metFault[fault] ?? 0) > 0, `the connector met the '${fault}' registry`);
      assert.equal(coldAcceptedDuringFaults, 0, 'the cache was cold: no v2 record could be sent while the registry misbehaved');
      assert.equal(dlqDuringFaults, 0, 'a misbehaving registry sends nothing to the DLQ');
      assert.equal(dlq.length, 0, 'no good record dead-lettered');
      assert.equal(log.count('poison record sent to the DLQ'), 0);
      assert.ok(resumedAt > 0 && resumedAt - saneAt <= RESUME_BOUND_MS, `resumed ≤ 10 s after a sane answer (${resumedAt ? resumedAt - saneAt : 'never'} ms)`);
      assert.equal(saneLookups, 1, 'v2 looked up once when sane: every other record of it used the cached verdict');
      assert.equal(timedOut, false, `only ${summarised()} of ${ids.size} records summarised`);
      assert.equal(v.missing, 0, `missing ${JSON.stringify(v.missingIds)}`);
      assert.equal(v.missingEvents, 0, `missing events ${JSON.stringify(v.missingEventIds)}`);
      assert.equal(v.duplicates, 0, 'a registry fault sends nothing twice');
      assert.equal(v.orderViolations, 0);
    } finally {
      await delivery.stop().catch(() => undefined);
      await app.stop();
      await sim.close();
      await proxy.close();
    }
  },
);
