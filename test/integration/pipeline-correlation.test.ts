import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { RunningApp } from '../../src/app/start.js';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import type { PduRecord } from '../../src/simulator/recorder.js';
import { summarised } from '../helpers/oracle.js';
import {
  collectDelivery,
  committedVsEnd,
  kafkaFor,
  outbound,
  produce,
  startPipeline,
  startReplica,
  waitUntil,
  type PipelineFixture,
} from '../helpers/pipeline.js';

function journal(path: string): PduRecord[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as PduRecord);
}

/** For each accepted message id: the connection that submitted it and the ones its receipt went to. */
function receiptRoutes(records: PduRecord[]): Array<{ messageId: string; submitConn: number; receiptConns: number[] }> {
  const submitConn = new Map<string, number>();
  const receiptConns = new Map<string, number[]>();
  for (const r of records) {
    if (r.dir !== 'out' || !r.messageId) continue;
    if (r.command === 'submit_sm_resp' && r.status === 0) submitConn.set(r.messageId, r.conn);
    if (r.command === 'deliver_sm') receiptConns.set(r.messageId, [...(receiptConns.get(r.messageId) ?? []), r.conn]);
  }
  return [...submitConn].map(([messageId, conn]) => ({ messageId, submitConn: conn, receiptConns: receiptConns.get(messageId) ?? [] }));
}

function records(prefix: string, n: number, key: (i: number) => string) {
  return Array.from({ length: n }, (_, i) => ({
    key: key(i),
    value: outbound(`${prefix}-${i}`, { to: `+39347${String(5000000 + i).slice(-7)}`, text: `${prefix} ${i}` }),
  }));
}

function assertCorrelated(events: SmsDeliveryEvent[], ids: string[]): void {
  assert.deepEqual(
    events.filter((e) => e.id.startsWith('unknown:')).map((e) => e.messageId),
    [],
    'no receipt published as unknown:<messageId>',
  );
  for (const id of ids) {
    const receipts = events.filter((e) => e.id === id && e.source === 'RECEIPT');
    const submitted = events.find((e) => e.id === id && e.status === 'SUBMITTED');
    assert.ok(receipts.length >= 1 && receipts.every((r) => r.messageId === submitted?.messageId), `${id}: receipt correlated to its submit`);
  }
}

test('receipts delivered to a different session than the one that submitted are correlated (no unknown: ids)', async (t) => {
  const journalPath = join(mkdtempSync(join(tmpdir(), 'ksc-corr-')), 'smsc.jsonl');
  // a transmitter and a receiver: every receipt arrives on a session other than the one that
  // submitted. (With trx:2 the submits alternate between the sessions as the receipts do, and in
  // step with them often enough that few receipts crossed.)
  const fx = await startPipeline('corr-session', { env: { SMPP_SESSIONS: 'tx:1,rx:1' }, simulator: { journalPath } });
  const delivery = await collectDelivery(fx);
  try {
    await waitUntil(() => fx.sim.stats().bindsBySystemId['test'] === 2, 20000, 'two sessions bound');
    const batch = records('sess', 60, () => 'one-key');
    await produce(fx.stack, fx.topics.outbound, fx.codec, batch);
    const ids = batch.map((r) => r.value.id);
    await waitUntil(
      () =>
        summarised(
          delivery.records.map((r) => r.value),
          ids,
        ).done === ids.length,
      60000,
      'every request summarised',
    );
    const routes = receiptRoutes(journal(journalPath));
    const crossed = routes.filter((r) => r.receiptConns.some((c) => c !== r.submitConn)).length;
    t.diagnostic(`${crossed} of ${routes.length} receipts arrived on a session other than the submitting one`);
    assert.ok(routes.length === 60 && crossed === routes.length, 'every receipt went to the receiver, not the submitting transmitter');
    assertCorrelated(
      delivery.records.map((r) => r.value),
      ids,
    );
  } finally {
    await delivery.stop();
    await fx.stop();
  }
});

test('receipts for messages submitted by instance A that arrive at instance B (same group, shared account) are correlated (no unknown: ids)', async (t) => {
  const journalPath = join(mkdtempSync(join(tmpdir(), 'ksc-corr-')), 'smsc.jsonl');
  const fx = await startPipeline('corr-replica', {
    env: { SMPP_SESSIONS: 'trx:2', SMPP_ACCOUNT_MAX_BINDS: '4', TOPIC_PARTITIONS: '4' },
    simulator: { journalPath },
  });
  const delivery = await collectDelivery(fx);
  let b: RunningApp | undefined;
  try {
    await waitUntil(() => fx.sim.stats().bindsBySystemId['test'] === 2, 20000, 'instance A bound');
    const connsOfA = new Set(
      journal(journalPath)
        .filter((r) => r.command === 'bind_transceiver_resp' && r.status === 0)
        .map((r) => r.conn),
    );
    b = await startReplica(fx);
    await waitUntil(() => fx.sim.stats().bindsBySystemId['test'] === 4, 30000, 'instance B bound');
    const batch = records('repl', 200, (i) => `k${i}`);
    await produce(fx.stack, fx.topics.outbound, fx.codec, batch);
    const ids = batch.map((r) => r.value.id);
    await waitUntil(
      () =>
        summarised(
          delivery.records.map((r) => r.value),
          ids,
        ).done === ids.length,
      60000,
      'every request summarised',
    );
    const pdus = journal(journalPath);
    const bound = pdus.filter((r) => r.command === 'bind_transceiver_resp' && r.status === 0).map((r) => r.conn);
    assert.equal(bound.length, 4, 'no reconnects: connections map to instances by bind order');
    assert.equal(connsOfA.size, 2);
    const routes = receiptRoutes(pdus);
    const aToB = routes.filter((r) => connsOfA.has(r.submitConn) && r.receiptConns.some((c) => !connsOfA.has(c))).length;
    const bToA = routes.filter((r) => !connsOfA.has(r.submitConn) && r.receiptConns.some((c) => connsOfA.has(c))).length;
    t.diagnostic(`receipts crossing instances: A→B ${aToB}, B→A ${bToA} of ${routes.length}`);
    assert.ok(aToB >= 5 && bToA >= 5, 'receipts crossed between the instances both ways');
    assertCorrelated(
      delivery.records.map((r) => r.value),
      ids,
    );
  } finally {
    await delivery.stop();
    await b?.stop();
    await fx.stop();
  }
});

/**
 * Makes the delivery topic unwritable (and writable again) without touching the broker:
 * `max.message.bytes` below any record batch → every produce to it fails. (min.insync.replicas=2
 * does not work on a one-broker stack: Kafka 4 caps the effective min ISR at the replication factor.)
 */
async function setMaxMessageBytes(fx: PipelineFixture, value: string): Promise<void> {
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

test('a receipt is acknowledged (deliver_sm_resp 0) only after its event is acked by Kafka: delivery topic unwritable → receipts answered 0x64 and nothing committed; writable again → every receipt published and acked', async (t) => {
  const fx = await startPipeline('receipt-ack', { env: { RECEIPT_ACK_WAIT_MS: '1500' } });
  const delivery = await collectDelivery(fx);
  try {
    await waitUntil(() => fx.sim.stats().bindsBySystemId['test'] === 2, 20000, 'sessions bound');
    await setMaxMessageBytes(fx, '16');
    const batch = records('ack', 20, (i) => `k${i}`);
    await produce(fx.stack, fx.topics.outbound, fx.codec, batch);
    await waitUntil(() => fx.sim.stats().acceptedSubmits === 20, 30000, 'all submitted at the SMSC');
    await waitUntil(() => fx.sim.stats().receiptsRefused >= 20, 30000, 'receipts answered non-zero while Kafka cannot ack');
    const during = fx.sim.stats();
    assert.equal(during.receiptsAcked, 0, 'no receipt acknowledged before its event is acked');
    assert.equal(delivery.records.length, 0, 'nothing reached sms.delivery');
    assert.equal((await committedVsEnd(fx)).committed, 0, 'no offset committed past unacked events');

    await setMaxMessageBytes(fx, '1048588');
    const ids = batch.map((r) => r.value.id);
    await waitUntil(
      () =>
        summarised(
          delivery.records.map((r) => r.value),
          ids,
        ).done === ids.length,
      60000,
      'every request summarised',
    );
    await waitUntil(() => fx.sim.stats().receiptsAcked === 20 && fx.sim.stats().receiptsPending === 0, 30000, 'every receipt acknowledged');
    const events = delivery.records.map((r) => r.value);
    const receiptIds = new Set(events.filter((e) => e.source === 'RECEIPT').map((e) => e.eventId));
    t.diagnostic(
      `while unwritable: ${during.receiptsRefused} receipts answered 0x64; after: ${receiptIds.size} distinct receipt events, ${events.filter((e) => e.source === 'RECEIPT').length} records`,
    );
    assert.equal(receiptIds.size, 20, 'each receipt published (distinct eventIds)');
    assert.equal(events.filter((e) => e.source === 'RECEIPT').length, 20, 're-sent receipts joined the pending publish: each published once');
    assertCorrelated(events, ids);
  } finally {
    await delivery.stop();
    await setMaxMessageBytes(fx, '1048588').catch(() => undefined);
    await fx.stop();
  }
});
