/**
 * Partitioned ownership is the default (issue 20); it pairs bulk, correlation and receipts
 * partitions by number. On topics that cannot pair, an unset CORRELATION_OWNERSHIP runs replicated
 * and says why (an upgrade on topics created with other counts keeps working), an explicit
 * `partitioned` stops the start naming the variable; a missing receipts topic is created with the
 * correlation topic's count, whatever TOPIC_PARTITIONS says. A partitioned replica that reads a
 * request written before `m:` entries, still waiting, says until when to run replicated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/config-error.js';
import { startApp } from '../../src/app/start.js';
import { capturingLogger } from '../helpers/log-capture.js';
import { kafkaFor, startPipeline } from '../helpers/pipeline.js';

async function partitionsOf(fx: Awaited<ReturnType<typeof startPipeline>>, topic: string): Promise<number | undefined> {
  const admin = kafkaFor(fx.stack).admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0]?.partitions.length;
  } catch {
    return undefined; // not there
  } finally {
    await admin.disconnect();
  }
}

test('outbound and correlation topics with different partition counts: unset → replicated with a warning naming them; CORRELATION_OWNERSHIP=partitioned → the start stops naming it', async () => {
  // The outbound topic made beforehand with 3 partitions; the connector makes the others with 4.
  const fx = await startPipeline('ownership-counts', { precreate: { outbound: [] }, env: { TOPIC_PARTITIONS: '4' } });
  const replicas = [];
  try {
    const { logger, warnings } = capturingLogger();
    const replica = await startApp(loadConfig(fx.env), logger);
    replicas.push(replica);
    const fallback = warnings().find((m) => m.startsWith('CORRELATION_OWNERSHIP unset: running replicated'));
    assert.ok(fallback, `a warning says why it runs replicated (saw: ${JSON.stringify(warnings())})`);
    assert.match(fallback, /has 3 partitions and TOPIC_CORRELATION \(\S+\) 4/);
    assert.equal(await partitionsOf(fx, fx.topics.receipts), undefined, 'no receipts topic made for an ownership not used');

    await assert.rejects(
      startApp(loadConfig({ ...fx.env, CORRELATION_OWNERSHIP: 'partitioned' }), pino({ level: 'silent' })),
      (err: unknown) => err instanceof ConfigError && err.variable === 'CORRELATION_OWNERSHIP' && /has 3 partitions/.test(err.message),
    );
  } finally {
    for (const r of replicas) await r.stop();
    await fx.app.stop();
    await fx.sim.close();
  }
});

test('a missing receipts topic is made with the correlation topic’s partition count, not TOPIC_PARTITIONS', async () => {
  // Outbound and correlation made beforehand with 3 partitions; TOPIC_PARTITIONS says 5.
  const { logger, warnings } = capturingLogger();
  const fx = await startPipeline('ownership-receipts', { precreate: { outbound: [], correlation: [] }, env: { TOPIC_PARTITIONS: '5' } });
  try {
    assert.equal(await partitionsOf(fx, fx.topics.receipts), 3);
    const second = await startApp(loadConfig(fx.env), logger);
    await second.stop();
    assert.deepEqual(
      warnings().filter((m) => m.includes('CORRELATION_OWNERSHIP')),
      [],
      'partitioned, without a fallback',
    );
  } finally {
    await fx.app.stop();
    await fx.sim.close();
  }
});

test('a partitioned replica that reads a request from a version before m: entries, still waiting for receipts, warns with the date to run replicated until; a replicated one says nothing', async () => {
  // On its own store and instance name, so that its restart holds at once what it was given (the
  // start-up catch-up reads the old request; a replica that gains it later says so a minute after).
  const storeDir = mkdtempSync(path.join(tmpdir(), 'ownership-legacy-'));
  const env = { CORRELATION_STORE_DIR: storeDir, CONNECTOR_INSTANCE_ID: 'legacy-a' };
  const fx = await startPipeline('ownership-legacy', { env });
  const replicas = [];
  try {
    await fx.app.stop();
    // A snapshot as a version before m: entries wrote it: a plain r: record, no messageEntries, no home.
    const deadline = Date.now() + 3_600_000;
    const legacy = { v: 1, id: 'legacy-1', from: 'ACME', to: '393471234567', metadata: {}, segments: 1, messageIds: ['LEGACY-M1'], attempts: 1 };
    const producer = kafkaFor(fx.stack).producer();
    await producer.connect();
    await producer.send({
      topic: fx.topics.correlation,
      messages: [{ key: 'r:legacy-1', value: JSON.stringify({ ...legacy, submittedAt: Date.now() - 60_000, receipts: true, receiptDeadline: deadline }) }],
    });
    await producer.disconnect();

    const { logger, lines } = capturingLogger();
    const partitioned = await startApp(loadConfig(fx.env), logger);
    replicas.push(partitioned);
    const told = lines().find((l) => l.msg.startsWith('requests written by a version before m: entries'));
    assert.ok(told, `a warning names the old requests (saw: ${JSON.stringify(lines().map((l) => l.msg))})`);
    assert.equal(told.snapshots, 1);
    assert.equal(told.waitingUntil, new Date(deadline).toISOString());
    await partitioned.stop();
    replicas.pop();

    const quiet = capturingLogger();
    const { CORRELATION_STORE_DIR: _own, ...onTemporaryStore } = fx.env;
    replicas.push(await startApp(loadConfig({ ...onTemporaryStore, CORRELATION_OWNERSHIP: 'replicated' }), quiet.logger));
    assert.deepEqual(
      quiet.lines().filter((l) => l.msg.startsWith('requests written by a version before')),
      [],
      'replicated: every replica holds the whole state, nothing to say',
    );
  } finally {
    for (const r of replicas) await r.stop();
    await fx.sim.close();
    rmSync(storeDir, { recursive: true, force: true });
  }
});
