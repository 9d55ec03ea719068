/**
 * Requests written by a version before `m:` entries, still waiting for receipts, read under
 * partitioned ownership (correlation-index.ts `onLegacyWaiting`, app/legacy-requests.ts): noted as
 * they are read from the correlation or the live-state topic, and told to the operator with the
 * date to run `replicated` until — and nothing is said of requests that are complete, past their
 * deadline, without receipts, or written with `m:` entries.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { LegacyRequests } from '../../src/app/legacy-requests.js';
import { finalKey, messageEntryOf, requestKey, type PartitionScope } from '../../src/pipeline/correlation-index.js';
import { capturingLogger } from '../helpers/log-capture.js';
import { requestRecord, tempIndex } from '../helpers/temp-store.js';

const NOW = 5_000;
const DEADLINE = 10_000;

/** Partitioned ownership of 3 partitions: every message id here hashes to partition 2. */
const SCOPE: PartitionScope = { holds: () => true, actsFor: () => true, partitionOfKey: (key) => (key.startsWith('r:') ? 1 : 2) };

function noting() {
  const noted: number[] = [];
  const index = tempIndex(() => NOW, { onLegacyWaiting: (deadline) => noted.push(deadline) });
  index.setScope(SCOPE);
  return { index, noted };
}

test('a snapshot from a version before m: entries, still waiting for its receipts, is noted with its deadline — one segment or several', () => {
  const { index, noted } = noting();
  index.apply(requestKey('one'), requestRecord('one', ['m1'], { receiptDeadline: DEADLINE }));
  index.apply(requestKey('two'), requestRecord('two', ['m2', 'm3'], { receiptDeadline: DEADLINE + 1 }));
  assert.deepEqual(noted, [DEADLINE, DEADLINE + 1]);
});

test('nothing is noted for requests written with m: entries, complete, past their deadline, without receipts, nothing accepted, or this replica’s own', () => {
  const { index, noted } = noting();
  index.apply(requestKey('current'), requestRecord('current', ['m1'], { messageEntries: true }));
  index.apply(finalKey('m2'), { v: 1, status: 'DELIVERED', errorCategory: null, at: 1 });
  index.apply(requestKey('complete'), requestRecord('complete', ['m2']));
  index.apply(requestKey('expired'), requestRecord('expired', ['m3'], { receiptDeadline: NOW - 1 }));
  index.apply(requestKey('no-receipts'), requestRecord('no-receipts', ['m4'], { receipts: false }));
  index.apply(requestKey('not-sent'), requestRecord('not-sent', [null]));
  index.applyOwnSnapshot(requestRecord('own', ['m5']));
  assert.deepEqual(noted, []);
});

test('a promoted state from such a version read from the live-state topic is noted unless its finals are in', () => {
  const { index, noted } = noting();
  const cut = NOW - 1_000;
  index.restoreLive('waiting', { v: 1, request: requestRecord('waiting', ['m1'], { receiptDeadline: DEADLINE }), finals: {}, summarised: false, cut });
  index.restoreLive('done', {
    v: 1,
    request: requestRecord('done', ['m2']),
    finals: { m2: { v: 1, status: 'DELIVERED', errorCategory: null, at: 1 } },
    summarised: false,
    cut,
  });
  index.restoreLive('parts', { v: 1, request: requestRecord('parts', ['m3', 'm4'], { receiptDeadline: DEADLINE + 2 }), finals: {}, summarised: false, cut });
  // Before m: entries, with homes: its subject lived in its request's home, not where its id hashes.
  index.restoreLive('homed', { v: 1, request: requestRecord('homed', ['m5'], { receiptDeadline: DEADLINE + 3, home: 0 }), finals: {}, summarised: false, cut });
  assert.deepEqual(noted, [DEADLINE, DEADLINE + 2, DEADLINE + 3]);
});

test('a current one-segment request promoted by another replica and restored here is not noted (its state carries no messageEntries)', async () => {
  let now = 1_000;
  const writer = tempIndex(() => now);
  writer.setScope(SCOPE);
  const rec = requestRecord('current', ['m1'], { messageEntries: true, home: 1, submittedAt: 1_000, receiptDeadline: DEADLINE });
  writer.applyNewSubject('m1', messageEntryOf(rec, 1, 2));
  writer.applyOwnSnapshot(rec);
  await writer.written();
  now = NOW;
  const states = [...writer.promotable(2_000)].flat();
  assert.equal(states.length, 1, 'promoted');
  assert.equal(states[0]!.request.messageEntries, undefined, 'what makes the rule needed');

  const { index, noted } = noting();
  index.restoreLive('current', states[0]!);
  assert.deepEqual(noted, []);
});

test('the operator is told after the start-up catch-up, with the count and the last deadline, and again a minute after later reads', (t: TestContext) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { logger, lines } = capturingLogger();
  const legacy = new LegacyRequests(logger);
  legacy.note(Date.UTC(2026, 11, 6, 9));
  legacy.note(Date.UTC(2026, 11, 5, 9));
  legacy.reportStart();
  assert.equal(lines().length, 1);
  assert.equal(lines()[0]!.snapshots, 2);
  assert.equal(lines()[0]!.waitingUntil, '2026-12-06T09:00:00.000Z');
  assert.match(lines()[0]!.msg, /CORRELATION_OWNERSHIP=replicated until 2026-12-06T09:00:00.000Z/);

  legacy.note(Date.UTC(2026, 11, 7, 9)); // a partition gained later
  legacy.note(Date.UTC(2026, 11, 4, 9));
  t.mock.timers.tick(59_999);
  assert.equal(lines().length, 1, 'gathered for a minute');
  t.mock.timers.tick(1);
  assert.equal(lines().length, 2);
  assert.equal(lines()[1]!.snapshots, 2, 'the reads since the last warning');
  assert.equal(lines()[1]!.waitingUntil, '2026-12-07T09:00:00.000Z');
  t.mock.timers.tick(120_000);
  assert.equal(lines().length, 2, 'nothing new: nothing said');
});

test('a report gathering later reads is dropped at the stop', (t: TestContext) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { logger, lines } = capturingLogger();
  const legacy = new LegacyRequests(logger);
  legacy.reportStart();
  legacy.note(Date.UTC(2026, 11, 7, 9));
  legacy.stop();
  t.mock.timers.tick(120_000);
  assert.deepEqual(lines(), []);
});

test('nothing is said when no such request was read', () => {
  const { logger, lines } = capturingLogger();
  new LegacyRequests(logger).reportStart();
  assert.deepEqual(lines(), []);
});
