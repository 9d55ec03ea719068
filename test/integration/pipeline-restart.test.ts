// Invariant (issue 20): a replica restarted on its own CORRELATION_STORE_DIR reads only what the
// correlation topic gained since it stopped, not its history, and still correlates every receipt
// of the requests it submitted before the restart. One on an empty directory restores the
// live-state topic and reads only the correlation topic's last window (without either, the whole topic).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningApp } from '../../src/app/start.js';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { collectDelivery, kafkaFor, outbound, produce, startPipeline, startReplica, waitUntil, type PipelineFixture } from '../helpers/pipeline.js';

const REQUESTS = 300;

/** Releases the SMSC's held receipts in random order; returns the RECEIPT events once `count` are published, none of them `unknown:`. */
async function releaseHeldReceipts(fx: PipelineFixture, delivery: Awaited<ReturnType<typeof collectDelivery>>, count: number): Promise<SmsDeliveryEvent[]> {
  assert.equal(fx.sim.releaseHeldReceipts({ order: 'random' }), count);
  const receipts = () => delivery.records.filter((r) => r.value.source === 'RECEIPT');
  await waitUntil(() => receipts().length >= count, 60_000, 'every held receipt published');
  const events = receipts().map((r) => r.value);
  assert.deepEqual(
    events.filter((e) => e.id.startsWith('unknown:')).map((e) => e.messageId),
    [],
    'no receipt published as unknown:<messageId>',
  );
  return events;
}

const catchUpEntries = async (app: RunningApp): Promise<number> => (await app.metrics.correlationCatchUpEntries.get()).values[0]?.value ?? -1;

/**
 * These measure the start-up catch-up (what a replica reads before it binds), so every replica
 * holds the whole state: a partitioned replica on an empty directory holds nothing until its first
 * assignment, and restores its share then (pipeline-partition-restore*.test.ts).
 */
const REPLICATED = { CORRELATION_OWNERSHIP: 'replicated' };

test('restart on the same store directory: the catch-up reads only the delta, and receipts held across the restart all correlate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksc-store-'));
  const fx = await startPipeline('restart-store', { behaviour: { holdReceipts: true }, env: { ...REPLICATED, CORRELATION_STORE_DIR: dir } });
  const delivery = await collectDelivery(fx);
  const apps: RunningApp[] = [];
  try {
    const batch = Array.from({ length: REQUESTS }, (_, i) => ({ key: `k${i}`, value: outbound(`restart-${i}`, { text: `held ${i}` }) }));
    await produce(fx.stack, fx.topics.outbound, fx.codec, batch);
    const ids = new Set(batch.map((r) => r.value.id));
    const submitted = () => delivery.records.filter((r) => ids.has(r.value.id) && r.value.status === 'SUBMITTED').length;
    await waitUntil(() => submitted() === REQUESTS, 60_000, 'every request submitted');
    assert.equal(fx.sim.stats().receiptsHeld, REQUESTS, 'the SMSC holds every receipt');
    const firstCatchUp = await catchUpEntries(fx.app);
    await fx.app.stop();
    assert.ok(existsSync(join(dir, 'data.mdb')), 'the store is on disk, not in a temporary directory');

    const restarted = await startReplica(fx);
    apps.push(restarted);
    const again = await catchUpEntries(restarted);
    // A fresh directory reads every entry the topic holds: the same history, the other way.
    const freshDir = mkdtempSync(join(tmpdir(), 'ksc-store-fresh-'));
    const fresh = await startReplica(fx, { CORRELATION_STORE_DIR: freshDir });
    const fromScratch = await catchUpEntries(fresh);
    await fresh.stop();
    rmSync(freshDir, { recursive: true, force: true });
    t.diagnostic(`catch-up entries: first start ${firstCatchUp}, restart on its directory ${again}, fresh directory ${fromScratch}`);
    assert.ok(fromScratch >= REQUESTS, `a fresh directory reads the history (${fromScratch} entries)`);
    assert.ok(again < REQUESTS / 3, `the restart read ${again} entries, not the ${fromScratch} of the history`);

    const events = await releaseHeldReceipts(fx, delivery, REQUESTS);
    assert.equal(new Set(events.filter((e) => ids.has(e.id)).map((e) => e.id)).size, REQUESTS, 'each request got its receipt');
    assert.equal(fx.sim.stats().acceptedSubmits, REQUESTS, 'nothing submitted twice across the restart');
  } finally {
    await delivery.stop();
    for (const app of apps) await app.stop();
    await fx.sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an empty store restores the requests still waiting from the live-state topic and reads only the last window: held receipts all correlate there', async (t) => {
  // A short window, so that the history is outside it within seconds: promotion at 6 s of age,
  // the watermark 9 s back.
  const env = { ...REPLICATED, CORRELATION_RESTORE_WINDOW_MS: '12000', CORRELATION_KEEP_DONE_MS: '2000' };
  const fx = await startPipeline('restore-live', { behaviour: { holdReceipts: true }, env });
  const delivery = await collectDelivery(fx);
  const apps: RunningApp[] = [];
  const HISTORY = 250;
  const HELD = 60;
  try {
    // History that completes at once (no receipt asked), then requests whose receipts the SMSC holds.
    const history = Array.from({ length: HISTORY }, (_, i) => ({ key: `h${i}`, value: outbound(`done-${i}`, { requestDeliveryReport: false }) }));
    const held = Array.from({ length: HELD }, (_, i) => ({ key: `w${i}`, value: outbound(`waits-${i}`) }));
    await produce(fx.stack, fx.topics.outbound, fx.codec, [...history, ...held]);
    // A request without receipts gets its SUMMARY (status SUBMITTED) too: counted once.
    const submitted = () => new Set(delivery.records.filter((r) => r.value.status === 'SUBMITTED').map((r) => r.value.id)).size;
    await waitUntil(() => submitted() === HISTORY + HELD, 60_000, 'every request submitted');
    const fullRead = await startReplica(fx, { ...env, CORRELATION_STORE_DIR: mkdtempSync(join(tmpdir(), 'ksc-store-full-')) });
    const beforeWindow = await catchUpEntries(fullRead);
    await fullRead.stop();
    // Past the window: the held requests promoted, the watermark after the whole history.
    await new Promise((resolve) => setTimeout(resolve, 14_000));
    await fx.app.stop();

    const dir = mkdtempSync(join(tmpdir(), 'ksc-store-empty-'));
    const restored = await startReplica(fx, { ...env, CORRELATION_STORE_DIR: dir });
    apps.push(restored);
    const read = await catchUpEntries(restored);
    const requests = (await restored.metrics.correlationIndexEntries.get()).values[0]?.value ?? -1;
    t.diagnostic(`an empty store read ${read} correlation entries (a full read inside the window: ${beforeWindow}); it holds ${requests} requests`);
    assert.ok(beforeWindow >= HISTORY + HELD, `a full read gets the history (${beforeWindow} entries)`);
    assert.ok(read < HELD, `the restore read ${read} correlation entries, not the history`);
    assert.equal(requests, HELD, 'the store holds exactly the requests still waiting');

    const events = await releaseHeldReceipts(fx, delivery, HELD);
    assert.equal(new Set(events.map((e) => e.id)).size, HELD, 'each waiting request got its receipt');
    assert.equal(fx.sim.stats().acceptedSubmits, HISTORY + HELD, 'nothing submitted twice');
    rmSync(dir, { recursive: true, force: true });
  } finally {
    await delivery.stop();
    for (const app of apps) await app.stop();
    await fx.sim.close();
  }
});

test('a store whose checkpoints are past the end of a recreated correlation topic reads the new topic from its beginning', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksc-store-'));
  const fx = await startPipeline('restart-recreated', { env: { CORRELATION_STORE_DIR: dir } });
  const delivery = await collectDelivery(fx);
  const kafka = kafkaFor(fx.stack);
  const admin = kafka.admin();
  await admin.connect();
  const apps: RunningApp[] = [];
  const summarisedCount = (prefix: string) => delivery.records.filter((r) => r.value.id.startsWith(prefix) && r.value.source === 'SUMMARY').length;
  try {
    const old = Array.from({ length: 150 }, (_, i) => ({ key: `o${i}`, value: outbound(`old-${i}`) }));
    await produce(fx.stack, fx.topics.outbound, fx.codec, old);
    await waitUntil(() => summarisedCount('old-') === old.length, 60_000, 'the old history done');
    await fx.app.stop();

    // The topic is deleted and created again (a cluster rebuilt, `compose down`): the store's
    // checkpoints now point past its end.
    await admin.deleteTopics({ topics: [fx.topics.correlation] });
    await waitUntil(async () => !(await admin.listTopics()).includes(fx.topics.correlation), 30_000, 'correlation topic deleted');
    const writer = await startReplica(fx, { CORRELATION_STORE_DIR: mkdtempSync(join(tmpdir(), 'ksc-store-writer-')) });
    apps.push(writer);
    const fresh = Array.from({ length: 30 }, (_, i) => ({ key: `n${i}`, value: outbound(`new-${i}`) }));
    await produce(fx.stack, fx.topics.outbound, fx.codec, fresh);
    await waitUntil(() => summarisedCount('new-') === fresh.length, 60_000, 'the new requests done');
    await writer.stop();
    apps.pop();

    const restarted = await startReplica(fx);
    apps.push(restarted);
    const read = await catchUpEntries(restarted);
    t.diagnostic(`catch-up entries after the topic was recreated: ${read}`);
    // 30 snapshots and 30 finals written by the other replica into the new topic: all read.
    assert.ok(read >= 2 * fresh.length, `read ${read} entries of the recreated topic, not skipped by the old checkpoints`);
  } finally {
    await delivery.stop();
    for (const app of apps) await app.stop();
    await admin.disconnect();
    await fx.sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
