/**
 * A fresh restore of one correlation partition when replicas hold only their own (issue 20,
 * partitioned ownership): each holder vouches for its partitions only (`w:<k>`, never `h:`), a
 * partition is read from the higher of its own and the shared watermark, and a multipart request
 * homed elsewhere leaves the restored partition the `m:` entries that name its home.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { RestoredWatermarks } from '../../src/kafka/live-state-restore.js';
import { requestKey, type CorrelationIndex, type FinalRecord, type LiveRequestState, type RequestRecord } from '../../src/pipeline/correlation-index.js';
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

const delivered: FinalRecord = { v: 1, status: 'DELIVERED', errorCategory: null, at: 2_000 };

/** A three-segment request homed in partition 7, promoted with a final for its first segment. */
function multipartState(): LiveRequestState {
  const request: RequestRecord = requestRecord('multi', ['c1', 'c2', 'c3'], { receiptDeadline: FAR, home: 7, messageEntries: true });
  return { v: 1, request, finals: { c1: delivered }, summarised: false, cut: 3_000 };
}

/** Segments c1 and c2 hash into restored partition 2, c3 elsewhere. */
const restoredPartitionOf = (correlationId: string): number | undefined => (correlationId === 'c3' ? undefined : 2);

test('restoreMessageEntries: each waiting segment in a restored partition maps to its request and home; the rest of the state is not restored', async () => {
  const index = tempIndex(() => 5_000);
  const derived = index.restoreMessageEntries('multi', multipartState(), restoredPartitionOf);
  await index.written();
  assert.deepEqual(derived, ['c2'], 'c1 is final (its receipt is done), c3 hashes elsewhere');
  assert.deepEqual(index.pendingRequestOf('c2'), { id: 'multi', home: 7 });
  assert.equal(index.pendingRequestOf('c1'), undefined);
  assert.equal(index.pendingRequestOf('c3'), undefined);
  assert.equal(index.request('multi'), undefined, 'no snapshot: the home holds it');
  assert.equal(index.final('c1'), undefined, 'no finals: the home holds them');
  assert.equal(index.segmentOf('c2'), undefined, 'a pointer to the home, not a request to correlate here');
});

test('restoreMessageEntries: a one-segment state (a subject, restored whole where it lives) derives nothing', async () => {
  const index = tempIndex(() => 5_000);
  const request = requestRecord('one', ['c9'], { receiptDeadline: FAR, home: 2 });
  assert.deepEqual(
    index.restoreMessageEntries('one', { v: 1, request, finals: {}, summarised: false, cut: 3_000 }, () => 2),
    [],
  );
  await index.written();
  assert.equal(index.segmentOf('c9'), undefined);
});

test('forgetMessageEntries: a tombstone read later in the restore drops the derived entries; an id mapped since by a snapshot stays', async () => {
  const index = tempIndex(() => 5_000);
  const derived = index.restoreMessageEntries('multi', { ...multipartState(), finals: {} }, restoredPartitionOf);
  assert.deepEqual(derived, ['c1', 'c2']);
  // An SMSC that gave c1 again, to another request whose snapshot this store holds: that mapping is not the derived entry's.
  index.apply(requestKey('other'), requestRecord('other', ['c1', 'c4'], { receiptDeadline: FAR }), 4_000);
  await index.written();
  index.forgetMessageEntries('multi', derived);
  await index.written();
  assert.equal(index.pendingRequestOf('c2'), undefined, 'dropped with its tombstone');
  assert.equal(index.segmentOf('c1')?.request.id, 'other', "another request's mapping stays");
});
