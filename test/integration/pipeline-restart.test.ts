// Invariant (issue 20): a replica restarted on its own CORRELATION_STORE_DIR reads only what the
// correlation topic gained since it stopped, not its history, and still correlates every receipt
// of the requests it submitted before the restart; one on an empty directory reads the topic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningApp } from '../../src/app/start.js';
import { collectDelivery, outbound, produce, startPipeline, startReplica, waitUntil } from '../helpers/pipeline.js';

const REQUESTS = 300;

const catchUpEntries = async (app: RunningApp): Promise<number> => (await app.metrics.correlationCatchUpEntries.get()).values[0]?.value ?? -1;

test('restart on the same store directory: the catch-up reads only the delta, and receipts held across the restart all correlate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksc-store-'));
  const fx = await startPipeline('restart-store', { behaviour: { holdReceipts: true }, env: { CORRELATION_STORE_DIR: dir } });
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

    assert.equal(fx.sim.releaseHeldReceipts({ order: 'random' }), REQUESTS);
    const receipts = () => delivery.records.filter((r) => r.value.source === 'RECEIPT');
    await waitUntil(() => receipts().length >= REQUESTS, 60_000, 'every held receipt published');
    const events = receipts().map((r) => r.value);
    assert.deepEqual(
      events.filter((e) => e.id.startsWith('unknown:')).map((e) => e.messageId),
      [],
      'no receipt published as unknown:<messageId>',
    );
    assert.equal(new Set(events.filter((e) => ids.has(e.id)).map((e) => e.id)).size, REQUESTS, 'each request got its receipt');
    assert.equal(fx.sim.stats().acceptedSubmits, REQUESTS, 'nothing submitted twice across the restart');
  } finally {
    await delivery.stop();
    for (const app of apps) await app.stop();
    await fx.sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
