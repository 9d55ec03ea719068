/**
 * CORRELATION_OWNERSHIP=partitioned (issue 20, step 7b): two replicas, each handling the receipts
 * whose message id hashes into its own bulk partitions. The simulator sends each receipt to any
 * bound receiver of the account, round-robin, so about half reach a replica that does not own them:
 * those are forwarded through the receipts topic and handled by their owner. Every receipt comes
 * before its submit_sm_resp here (the simulator answers the submit 150 ms late), so a forwarded
 * receipt is often read by its owner before the message id is known: it waits for it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunningApp } from '../../src/app/start.js';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { partitionForKey } from '../../src/kafka/partitioner.js';
import { loggedReceiptOf, type LoggedReceipt } from '../../src/pipeline/receipt-log.js';
import { receiptDeliverSm } from '../helpers/deliver-sm.js';
import { summarised } from '../helpers/oracle.js';
import { collectDelivery, kafkaFor, outbound, produce, readDelivery, readTopic, startPipeline, startReplica, waitUntil } from '../helpers/pipeline.js';

const PARTITIONS = 4;
const REQUESTS = 80;

test('partitioned ownership: receipts reaching the replica that does not own them are forwarded and correlated by their owner, once each', async (t) => {
  const fx = await startPipeline('receipt-owner', {
    env: { CORRELATION_OWNERSHIP: 'partitioned', TOPIC_PARTITIONS: String(PARTITIONS), SMPP_SESSIONS: 'trx:2', SMPP_ACCOUNT_MAX_BINDS: '4' },
    behaviour: { responseLatencyMs: 150, receiptDelayMs: 0 },
  });
  let replica: RunningApp | undefined;
  try {
    replica = await startReplica(fx);
    const slots = async (app: RunningApp) => (await app.metrics.bindSlots.get()).values[0]?.value ?? 0;
    await waitUntil(async () => (await slots(fx.app)) > 0 && (await slots(replica!)) > 0, 30000, 'both replicas hold bind slots');

    const requests = Array.from({ length: REQUESTS }, (_, i) => ({
      key: `customer-${i}`,
      value: outbound(`own-${i}`, { text: i % 5 === 0 ? 'z'.repeat(200) : `owned receipt ${i}` }),
    }));
    await produce(fx.stack, fx.topics.outbound, fx.codec, requests);
    const ids = requests.map((r) => r.value.id);
    const events = await readDelivery(fx, (es) => summarised(es, ids).done === ids.length, 90000);
    assert.equal(summarised(events, ids).done, ids.length, 'every request summarised');

    const counter = async (app: RunningApp, name: 'receiptsForwarded' | 'forwardedReceiptsHandled') => (await app.metrics[name].get()).values[0]?.value ?? 0;
    const forwarded = (await counter(fx.app, 'receiptsForwarded')) + (await counter(replica, 'receiptsForwarded'));
    const handled = (await counter(fx.app, 'forwardedReceiptsHandled')) + (await counter(replica, 'forwardedReceiptsHandled'));
    const receipts = events.filter((e: SmsDeliveryEvent) => e.source === 'RECEIPT');
    t.diagnostic(`receipt events ${receipts.length}, forwarded ${forwarded}, handled by their owner ${handled}`);
    assert.ok(forwarded > 0, 'some receipts reached a replica that does not own them');
    assert.ok(forwarded < receipts.length, 'and some the one that does');
    assert.equal(handled, forwarded, 'every forwarded receipt handled by its owner (passed on to its home, for a multipart one)');

    assert.deepEqual(
      receipts.filter((e) => e.id.startsWith('unknown:')).map((e) => e.messageId),
      [],
      'no receipt uncorrelated',
    );
    // One eventId per fact: a message's receipt of one status published under one id.
    const idsByFact = new Map<string, Set<string>>();
    for (const e of receipts) {
      const fact = `${e.messageId}/${e.status}`;
      idsByFact.set(fact, (idsByFact.get(fact) ?? new Set()).add(e.eventId));
    }
    assert.deepEqual(
      [...idsByFact].filter(([, s]) => s.size > 1).map(([fact]) => fact),
      [],
      'no fact published under two eventIds',
    );
    const summaries = events.filter((e) => e.source === 'SUMMARY' && ids.includes(e.id));
    assert.equal(new Set(summaries.map((e) => e.eventId)).size, ids.length, 'one SUMMARY eventId per request');

    // Each replica holds its share: the store of one that held everything would have every
    // request's snapshot and an entry per accepted segment.
    const everything = ids.length + events.filter((e) => e.source === 'SUBMIT' && ids.includes(e.id)).length;
    await new Promise((r) => setTimeout(r, 500)); // the stores commit in the background
    const entries = async (app: RunningApp) => (await app.metrics.correlationIndexEntries.get()).values[0]?.value ?? -1;
    const shares = [(await entries(fx.app)) / everything, (await entries(replica)) / everything];
    t.diagnostic(`store entries per replica, as a share of everything: ${shares.map((x) => x.toFixed(2)).join(', ')} (${everything} entries in all)`);
    for (const share of shares) assert.ok(share > 0 && share < 0.8, `a replica holds its share, not everything: ${share.toFixed(2)}`);
    assert.ok(
      summaries.every((e) => e.status === 'DELIVERED'),
      'every summary DELIVERED',
    );

    // What went through the receipts topic: unmarked, keyed by correlation id, in its message id's
    // partition — or, for a multipart request's segment, in its home (its outbound record's partition).
    const requestOf = new Map(events.filter((e) => e.source === 'SUBMIT' && e.messageId).map((e) => [e.messageId!, e.id]));
    const homeOf = new Map(requests.map((r) => [r.value.id, { partition: partitionForKey(r.key, PARTITIONS), multipart: r.value.text.length > 160 }]));
    const records = await readTopic(
      fx.stack,
      fx.topics.receipts,
      async (v) => JSON.parse(v!.toString('utf8')) as LoggedReceipt,
      (rs) => rs.length >= forwarded,
      30_000,
    );
    assert.equal(records.length, forwarded, 'one record per forwarded receipt');
    for (const r of records) {
      const home = homeOf.get(requestOf.get(r.key!)!)!;
      if (r.partition !== partitionForKey(r.key!, PARTITIONS)) {
        assert.ok(home.multipart, `${r.key}: in its message id's partition`);
        assert.equal(r.partition, home.partition, `${r.key}: a multipart segment's receipt in its request's home`);
      }
      assert.equal(r.headers['sms-connector.correlated'], undefined, 'not marked as correlated where received');
    }
  } finally {
    await replica?.stop();
    await fx.stop();
  }
});

test('partitioned ownership: a forwarded receipt waiting for its message id holds up no other partition', async (t) => {
  const matchWaitMs = 6000;
  const fx = await startPipeline('receipt-owner-wait', {
    env: { CORRELATION_OWNERSHIP: 'partitioned', TOPIC_PARTITIONS: String(PARTITIONS), RECEIPT_MATCH_WAIT_MS: String(matchWaitMs) },
  });
  const delivery = await collectDelivery(fx);
  const producer = kafkaFor(fx.stack).producer();
  try {
    await waitUntil(async () => ((await fx.app.metrics.bindSlots.get()).values[0]?.value ?? 0) > 0, 30000, 'the replica holds its partitions');
    // Two ids no request has, in two partitions; as another replica would forward them.
    const idIn = (partition: number, not?: string) => {
      for (let i = 0; ; i++) if (partitionForKey(`nobody-${i}`, PARTITIONS) === partition && `nobody-${i}` !== not) return `nobody-${i}`;
    };
    const waiting = idIn(0);
    const old = idIn(1);
    const forward = (id: string, receivedAt: number) =>
      producer.send({
        topic: fx.topics.receipts,
        messages: [{ key: id, value: JSON.stringify({ ...loggedReceiptOf(receiptDeliverSm(id), 'default'), receivedAt }) }],
      });
    await producer.connect();
    const seen = (id: string) => delivery.records.some((r) => r.value.id === `unknown:${id}`);
    // Just received: waits RECEIPT_MATCH_WAIT_MS for its id.
    const t0 = Date.now();
    await forward(waiting, t0);
    await new Promise((r) => setTimeout(r, 1000));
    // Received a minute ago: nothing left to wait for.
    const t1 = Date.now();
    await forward(old, t1 - 60_000);
    await waitUntil(() => seen(old), 20000, 'the old receipt published');
    const oldAfter = Date.now() - t1;
    const waitingDoneEarly = seen(waiting);
    await waitUntil(() => seen(waiting), 20000, 'the waiting receipt published');
    const waitingAfter = Date.now() - t0;
    t.diagnostic(`old receipt's event after ${oldAfter} ms; the waiting one's after ${waitingAfter} ms`);
    assert.equal(waitingDoneEarly, false, 'the waiting receipt was still waiting when the other was published');
    assert.ok(oldAfter < matchWaitMs - 2000, `the other partition's receipt was not held behind it (${oldAfter} ms)`);
    assert.ok(waitingAfter >= matchWaitMs - 500, `the waiting one waited for its id (${waitingAfter} ms)`);
  } finally {
    await producer.disconnect();
    await delivery.stop();
    await fx.stop();
  }
});

test('partitioned ownership: a replica taking a receipts partition over resumes where its last owner stopped, from the progress it wrote', async (t) => {
  const fx = await startPipeline('receipt-owner-handover', { env: { CORRELATION_OWNERSHIP: 'partitioned', TOPIC_PARTITIONS: String(PARTITIONS) } });
  const delivery = await collectDelivery(fx);
  const producer = kafkaFor(fx.stack).producer();
  let successor: RunningApp | undefined;
  try {
    await waitUntil(async () => ((await fx.app.metrics.bindSlots.get()).values[0]?.value ?? 0) > 0, 30000, 'the first replica holds its partitions');
    await producer.connect();
    // Receipts for ids nobody sent, as another replica would forward them, received a minute ago:
    // each is published at once as unknown:<id>.
    const ids = Array.from({ length: 40 }, (_, i) => `handover-${i}`);
    await producer.send({
      topic: fx.topics.receipts,
      messages: ids.map((id) => ({ key: id, value: JSON.stringify({ ...loggedReceiptOf(receiptDeliverSm(id), 'default'), receivedAt: Date.now() - 60_000 }) })),
    });
    const published = () => delivery.records.filter((r) => r.value.id.startsWith('unknown:handover-')).length;
    await waitUntil(() => published() === ids.length, 30000, 'the first owner handled them');
    await fx.app.stop(); // writes its progress, then leaves the group
    const perPartition = new Map<number, number>();
    for (const id of ids) perPartition.set(partitionForKey(id, PARTITIONS), (perPartition.get(partitionForKey(id, PARTITIONS)) ?? 0) + 1);
    // A new replica on an empty store: its only way to know where the first stopped is that progress.
    successor = await startReplica(fx);
    await waitUntil(async () => ((await successor!.metrics.bindSlots.get()).values[0]?.value ?? 0) > 0, 30000, 'the successor holds the partitions');
    // Then one new record per partition: once each is handled, the successor reads every partition,
    // and anything it would handle again (below the progress) came before those.
    const after = Array.from({ length: PARTITIONS }, (_, p) => {
      for (let i = 0; ; i++) if (partitionForKey(`after-${i}`, PARTITIONS) === p) return `after-${i}`;
    });
    await producer.send({
      topic: fx.topics.receipts,
      messages: after.map((id) => ({
        key: id,
        value: JSON.stringify({ ...loggedReceiptOf(receiptDeliverSm(id), 'default'), receivedAt: Date.now() - 60_000 }),
      })),
    });
    await waitUntil(
      () => after.every((id) => delivery.records.some((r) => r.value.id === `unknown:${id}`)),
      30000,
      'the successor handles new records in every partition',
    );
    t.diagnostic(`unknown: events ${published()} for ${ids.length} receipts; per partition ${JSON.stringify([...perPartition])}`);
    assert.equal(published(), ids.length, 'none handled again by the successor');
  } finally {
    await producer.disconnect();
    await delivery.stop();
    await successor?.stop();
    await fx.stop();
  }
});

test('partitioned ownership beside a replica that does not read forwarded receipts (replicated, or an older version): nothing is forwarded, every receipt correlates', async (t) => {
  const fx = await startPipeline('receipt-owner-mixed', {
    env: { CORRELATION_OWNERSHIP: 'partitioned', TOPIC_PARTITIONS: String(PARTITIONS), SMPP_SESSIONS: 'trx:2', SMPP_ACCOUNT_MAX_BINDS: '4' },
  });
  let replica: RunningApp | undefined;
  try {
    replica = await startReplica(fx, { CORRELATION_OWNERSHIP: 'replicated' });
    const slots = async (app: RunningApp) => (await app.metrics.bindSlots.get()).values[0]?.value ?? 0;
    await waitUntil(async () => (await slots(fx.app)) > 0 && (await slots(replica!)) > 0, 30000, 'both replicas hold bind slots');
    const requests = Array.from({ length: 40 }, (_, i) => ({ key: `customer-${i}`, value: outbound(`mixed-${i}`, { text: `mixed ${i}` }) }));
    await produce(fx.stack, fx.topics.outbound, fx.codec, requests);
    const ids = requests.map((r) => r.value.id);
    const events = await readDelivery(fx, (es) => summarised(es, ids).done === ids.length, 90000);
    const forwarded = (await fx.app.metrics.receiptsForwarded.get()).values[0]?.value ?? 0;
    t.diagnostic(`receipt events ${events.filter((e) => e.source === 'RECEIPT').length}, forwarded ${forwarded}`);
    assert.equal(forwarded, 0, 'the partitioned replica forwards nothing while a member would not read it');
    assert.equal(events.filter((e) => e.id.startsWith('unknown:')).length, 0);
    assert.ok(
      events.filter((e) => e.source === 'SUMMARY' && ids.includes(e.id)).every((e) => e.status === 'DELIVERED'),
      'every summary DELIVERED',
    );
  } finally {
    await replica?.stop();
    await fx.stop();
  }
});
