/**
 * A fresh restore of one correlation partition when replicas hold only their own (issue 20,
 * partitioned ownership): each holder vouches for its partitions only (`w:<k>`, never `h:`), and a
 * partition is read from the higher of its own and the shared watermark.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { RestoredWatermarks } from '../../src/kafka/live-state-restore.js';
import { requestKey, type CorrelationIndex } from '../../src/pipeline/correlation-index.js';
import { CorrelationPromoter, promotionTimes, type LiveStateWrite, type PromoterDeps } from '../../src/pipeline/correlation-promoter.js';
import { requestRecord, tempIndex } from '../helpers/temp-store.js';

const NOW = 100_000;
const WINDOW_MS = 40_000;
const FAR = 10 ** 12;

/** A promoter over `index` whose sink records what it is given (and may act on it: `onWrite`). */
function promoterWith(
  index: CorrelationIndex,
  extra: Partial<PromoterDeps>,
  onWrite: (records: LiveStateWrite[]) => void = () => undefined,
): { promoter: CorrelationPromoter; written: LiveStateWrite[][] } {
  const written: LiveStateWrite[][] = [];
  const promoter = new CorrelationPromoter({
    index,
    sink: {
      write: async (records) => {
        written.push(records);
        onWrite(records);
      },
    },
    windowMs: WINDOW_MS,
    instanceId: 'i1',
    appliedThrough: () => NOW,
    maxLagMs: WINDOW_MS / 4,
    intervalMs: 1_000,
    now: () => NOW,
    logger: pino({ level: 'silent' }),
    ...extra,
  });
  return { promoter, written };
}

/** An index with one request waiting since long before the cut: a pass promotes it, then writes its watermarks. */
async function indexWithOneWaiting(): Promise<CorrelationIndex> {
  const index = tempIndex(() => NOW);
  index.apply(requestKey('r'), requestRecord('r', ['a', 'b'], { submittedAt: 1_000, receiptDeadline: FAR, home: 0 }), 1_000);
  await index.written();
  return index;
}

const keysOf = (written: LiveStateWrite[][]): string[][] => written.map((w) => w.map((r) => r.key));

test('promoter, partitioned: a pass writes w:<k> for each partition listed, with the pass watermark, and no h:', async () => {
  const { promoter, written } = promoterWith(await indexWithOneWaiting(), { watermarkPartitions: () => [0, 2] });
  const pass = await promoter.passOnce();
  const { watermark } = promotionTimes(NOW, WINDOW_MS);
  assert.equal(pass.watermark, watermark);
  assert.deepEqual(keysOf(written), [['q:r'], ['w:0', 'w:2']]);
  assert.deepEqual(
    written[1]!.map((r) => r.value),
    [
      { v: 1, watermark },
      { v: 1, watermark },
    ],
  );
});

test('promoter, replicated (no watermarkPartitions): h:<instance>, as before partitions could be held', async () => {
  const { promoter, written } = promoterWith(await indexWithOneWaiting(), {});
  await promoter.passOnce();
  assert.deepEqual(keysOf(written), [['q:r'], ['h:i1']]);
});

test('promoter, partitioned: a partition released (or not ready any more) during the pass gets no watermark from it', async () => {
  let held = [0, 1, 2];
  const { promoter, written } = promoterWith(await indexWithOneWaiting(), { watermarkPartitions: () => held }, (records) => {
    if (records.some((r) => r.key.startsWith('q:'))) held = [0, 2, 3]; // 1 released, 3 gained while the states were written
  });
  await promoter.passOnce();
  assert.deepEqual(keysOf(written), [['q:r'], ['w:0', 'w:2']], '1 was not held at the end, 3 not at the start');
});

test('promoter, partitioned: holding nothing caught up, a pass writes no watermark at all', async () => {
  const { promoter, written } = promoterWith(await indexWithOneWaiting(), { watermarkPartitions: () => [] });
  const pass = await promoter.passOnce();
  assert.equal(pass.watermark, null);
  assert.deepEqual(keysOf(written), [['q:r']]);
});

test('restored watermarks: a partition reads from the higher of its own w:<k> and the highest h:; null with neither', () => {
  const marks = new RestoredWatermarks();
  assert.equal(marks.watermarkOf(0), null);
  marks.note('w:0', 5_000);
  marks.note('w:0', 3_000); // an older record of the same key, read first or after: the highest counts
  marks.note('w:1', 1_000);
  assert.deepEqual([marks.watermarkOf(0), marks.watermarkOf(1), marks.watermarkOf(2)], [5_000, 1_000, null]);
  marks.note('h:host-a', 2_000);
  marks.note('h:host-b', 4_000);
  assert.deepEqual([marks.watermarkOf(0), marks.watermarkOf(1), marks.watermarkOf(2)], [5_000, 4_000, 4_000]);
  marks.note('w:x', 9_000);
  marks.note('w:-1', 9_000);
  marks.note('w:', 9_000);
  marks.note('w:2', Number.NaN);
  assert.deepEqual([marks.watermarkOf(0), marks.watermarkOf(2)], [5_000, 4_000], 'keys that name no partition, and values that are no time, are ignored');
});
