// Invariant (F7, contracts 2 + 5): while sms.delivery cannot be written, no offset is committed past
// an unacked event and receipts are answered 0x64 after RECEIPT_ACK_WAIT_MS (so the SMSC re-sends);
// once writable again, no event is missing.
// Scale: unwritable 20 s instead of 60 s (the behaviour does not depend on the length).
// Unwritable = max.message.bytes 16 on the topic: min.insync.replicas=2 does not block acks=all on
// a one-broker Kafka 4.1 (the effective min ISR is capped at the replication factor).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { PduRecord } from '../../src/simulator/recorder.js';
import { LoadGenerator, report, verdict } from '../helpers/fault-oracle.js';
import { envNumber, startFaultPipeline, type FaultFixture } from '../helpers/faults.js';
import { committedVsEnd, kafkaFor, produce, waitUntil } from '../helpers/pipeline.js';

const OUTAGE_MS = envNumber('KSC_F7_OUTAGE_MS', 20000);
const ACK_WAIT_MS = 2000;

async function setMaxMessageBytes(fx: FaultFixture, value: string): Promise<void> {
  const admin = kafkaFor(fx.stack).admin();
  await admin.connect();
  try {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: fx.topics.delivery, configEntries: [{ name: 'max.message.bytes', value }] }],
    });
  } finally {
    await admin.disconnect();
  }
}

test('F7: delivery topic unwritable → no commit past an unacked event; receipts answered 0x64 after RECEIPT_ACK_WAIT_MS; afterwards no missing events', async () => {
  const journalPath = join(mkdtempSync(join(tmpdir(), 'ksc-f7-')), 'smsc.jsonl');
  const fx = await startFaultPipeline('f7', {
    env: { SMPP_SESSIONS: 'trx:2', RECEIPT_ACK_WAIT_MS: String(ACK_WAIT_MS), SMPP_RATE_LIMIT: '30' },
    simulator: { journalPath },
    behaviour: { receiptRetryMs: 2000 },
  });
  try {
    await waitUntil(() => fx.sim.stats().bindsBySystemId['test'] === 2, 30000, 'bound');
    const records = new LoadGenerator(`f7-${Date.now()}`, { keys: 30 }).next(600);
    await produce(
      fx.stack,
      fx.topics.outbound,
      fx.codec,
      records.map((r) => ({ key: r.key, value: r.value })),
    );
    await waitUntil(() => fx.sim.stats().acceptedSubmits >= 100, 30000, 'flowing');
    await setMaxMessageBytes(fx, '16');
    const outageAt = Date.now();
    await waitUntil(() => Date.now() - outageAt >= 3000, 4000, 'settle');
    const committedEarly = (await committedVsEnd(fx)).committed;
    const eventsEarly = fx.events().length;
    let commitMoved = 0;
    await waitUntil(
      async () => {
        if ((await committedVsEnd(fx)).committed !== committedEarly) commitMoved += 1;
        return Date.now() - outageAt >= OUTAGE_MS;
      },
      OUTAGE_MS + 5000,
      'outage lasts',
    );
    const eventsDuring = fx.events().length - eventsEarly;
    const refusedDuring = fx.sim.stats().receiptsRefused;
    await setMaxMessageBytes(fx, '1048588');
    const ids = new Set(records.map((r) => r.value.id));
    await waitUntil(
      () =>
        new Set(
          fx
            .events()
            .filter((e) => e.source === 'SUMMARY' && ids.has(e.id))
            .map((e) => e.id),
        ).size === ids.size,
      120000,
      'every record summarised',
    );
    await waitUntil(
      async () => {
        const { committed, end } = await committedVsEnd(fx);
        return committed === end;
      },
      30000,
      'committed to the end',
    );
    const journal = readFileSync(journalPath, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as PduRecord);
    const sentAt = new Map(journal.filter((r) => r.dir === 'out' && r.command === 'deliver_sm').map((r) => [`${r.conn}:${r.seq}`, r.ts]));
    const refusals = journal
      .filter((r) => r.dir === 'in' && r.command === 'deliver_sm_resp' && r.status === 0x64)
      .map((r) => r.ts - (sentAt.get(`${r.conn}:${r.seq}`) ?? r.ts));
    const v = verdict({ records, accepted: fx.sim.acceptedSubmits(), events: fx.events() });
    const receiptEvents = fx.events().filter((e) => e.source === 'RECEIPT' && ids.has(e.id));
    report('F7', {
      outageMs: OUTAGE_MS,
      receiptAckWaitMs: ACK_WAIT_MS,
      commitMovedDuringOutage: commitMoved,
      eventsWrittenDuringOutage: eventsDuring,
      receipts0x64: refusals.length,
      answer0x64MinMs: Math.min(...refusals),
      answer0x64MaxMs: Math.max(...refusals),
      refusedAtSmsc: refusedDuring,
      receiptsDistinct: new Set(receiptEvents.map((e) => e.eventId)).size,
      receiptRecords: receiptEvents.length,
      ...v,
    });
    assert.equal(eventsDuring, 0, 'nothing written while unwritable (the fault was real)');
    assert.equal(commitMoved, 0, 'no commit past an unacked event');
    assert.ok(refusals.length >= 5, 'receipts arrived during the outage and were refused');
    assert.ok(Math.min(...refusals) >= ACK_WAIT_MS - 100 && Math.max(...refusals) <= ACK_WAIT_MS + 2000, 'answered 0x64 after RECEIPT_ACK_WAIT_MS');
    assert.equal(v.missing, 0);
    assert.equal(v.missingEvents, 0);
    assert.equal(v.duplicates, 0);
    assert.equal(new Set(receiptEvents.map((e) => e.id)).size, ids.size, 'a receipt event for every request');
  } finally {
    await setMaxMessageBytes(fx, '1048588').catch(() => undefined);
    await fx.stop();
  }
});
