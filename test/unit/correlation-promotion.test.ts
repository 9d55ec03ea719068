/**
 * Promotion to the live-state topic (correlation-index.ts `promotable`, correlation-promoter.ts):
 * which requests are written, when again, when their tombstone is due, and — the property that
 * matters — an empty store restored from the live-state topic plus the correlation topic's last
 * window holds the same waiting requests as a store that read everything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pino } from 'pino';
import {
  finalKey,
  messageEntryOf,
  messageKey,
  requestKey,
  type CorrelationIndex,
  type CorrelationValue,
  type FinalRecord,
  type LiveRequestState,
  type RequestRecord,
} from '../../src/pipeline/correlation-index.js';
import {
  CorrelationPromoter,
  maxPromotionLagMs,
  promotionAgeMs,
  promotionTimes,
  quietWindowMs,
  tombstoneLatencyMs,
  type LiveStateWrite,
} from '../../src/pipeline/correlation-promoter.js';
import { prng } from '../../src/util/prng.js';
import { requestRecord, tempIndex } from '../helpers/temp-store.js';

const FAR = 10 ** 12;

/** A request that waits for its receipts far beyond the test's clock. */
const waiting = (id: string, messageIds: string[], submittedAt = 0): RequestRecord => requestRecord(id, messageIds, { submittedAt, receiptDeadline: FAR });
const delivered = (at: number): FinalRecord => ({ v: 1, status: 'DELIVERED', errorCategory: null, at });

/** One promotion pass whose writes Kafka acknowledged. */
async function promote(index: CorrelationIndex, cut: number): Promise<LiveRequestState[]> {
  await index.written();
  const states = [...index.promotable(cut)].flat();
  index.promotionWritten(states);
  await index.written();
  return states;
}

test('promotion: a request still waiting at the cut is written once, with its state; complete ones and newer ones are not', async () => {
  let now = 1_000;
  const index = tempIndex(() => now);
  index.apply(requestKey('waits'), waiting('waits', ['m1']), 1_000);
  index.apply(requestKey('done'), waiting('done', ['m2']), 1_000);
  index.apply(finalKey('m2'), delivered(1_100), 1_100);
  index.apply(requestKey('young'), waiting('young', ['m3']), 5_000);
  now = 6_000;
  assert.deepEqual(
    (await promote(index, 2_000)).map((s) => s.request.id),
    ['waits'],
  );
  assert.deepEqual(await promote(index, 2_000), [], 'not again: nothing changed');
  const later = await promote(index, 6_000);
  assert.deepEqual(
    later.map((s) => [s.request.id, s.cut]),
    [['young', 6_000]],
  );
});

test('promotion: a change to a promoted request asks for another promotion; a change before the first one is part of it', async () => {
  let now = 1_000;
  const index = tempIndex(() => now);
  index.apply(requestKey('multi'), waiting('multi', ['a', 'b', 'c']), 1_000);
  index.apply(finalKey('a'), delivered(1_500), 1_500);
  now = 2_000;
  const first = await promote(index, 2_000);
  assert.deepEqual(Object.keys(first[0]!.finals), ['a']);
  index.apply(finalKey('b'), delivered(3_000), 3_000);
  assert.deepEqual(await promote(index, 2_500), [], 'the change is newer than this cut');
  const second = await promote(index, 3_500);
  assert.deepEqual(Object.keys(second[0]!.finals).sort(), ['a', 'b']);
  // The completing final needs none: it stays in the restore window until the tombstone.
  index.apply(finalKey('c'), delivered(4_000), 4_000);
  assert.deepEqual(await promote(index, 9_000), []);
});

test('promotion: a forgotten promoted request is due a tombstone; one never promoted is not', async () => {
  let now = 1_000;
  const index = tempIndex(() => now);
  index.apply(requestKey('p'), waiting('p', ['m1']), 1_000);
  index.apply(requestKey('q'), waiting('q', ['m2']), 1_000);
  index.apply(finalKey('m2'), delivered(1_200), 1_200); // complete before any promotion
  now = 3_000;
  await promote(index, 2_000);
  index.apply(finalKey('m1'), delivered(3_000), 3_000);
  now = 10_000;
  await index.written();
  assert.equal(index.pruneCompleted(9_000), 2);
  await index.written();
  assert.deepEqual(index.retired(), ['p']);
  index.retiredWritten('p');
  await index.written();
  assert.deepEqual(index.retired(), []);
});

test('promotion: receipts slower than tombstoneLatencyMs leave a tombstone when forgotten, never promoted or not; a window under it leaves one for every request', async () => {
  assert.equal(tombstoneLatencyMs(30 * 60_000, 600_000), 4 * 60_000, 'the defaults: receipts slower than 4 min');
  assert.equal(tombstoneLatencyMs(quietWindowMs(600_000), 600_000), 60_000);
  assert.equal(tombstoneLatencyMs(60_000, 20_000), -5_000, 'a 60 s window with a third of it kept done: every request');
  const forgetsWithTombstone = async (windowMs: number, keepDoneMs: number, receiptAfterMs: number): Promise<boolean> => {
    let now = 1_000;
    const index = tempIndex(() => now, { promotedAfterMs: promotionAgeMs(windowMs) });
    index.apply(requestKey('r'), waiting('r', ['m1'], now), now);
    now += receiptAfterMs;
    index.apply(finalKey('m1'), delivered(now), now);
    await index.written();
    now += keepDoneMs + 1_000; // the sweeper's next pass after the keep
    index.pruneCompleted(now - keepDoneMs);
    await index.written();
    return index.retired().includes('r');
  };
  assert.equal(await forgetsWithTombstone(60_000, 20_000, 20), true, 'a receipt after 20 ms');
  assert.equal(await forgetsWithTombstone(60_000, 5_000, 20), false);
  const latency = tombstoneLatencyMs(30 * 60_000, 600_000);
  assert.equal(await forgetsWithTombstone(30 * 60_000, 600_000, latency - 2_000), false, 'the defaults, a receipt just under the latency');
  assert.equal(await forgetsWithTombstone(30 * 60_000, 600_000, latency), true, 'and at it');
});

test('promotion: a failed write lists the request again at the next pass, and an earlier promotion still counts', async () => {
  let now = 5_000;
  const index = tempIndex(() => now);
  index.apply(requestKey('r'), waiting('r', ['a', 'b']), 1_000);
  await index.written();
  const first = [...index.promotable(2_000)].flat();
  index.promotionFailed(first);
  assert.deepEqual(
    (await promote(index, 2_500)).map((s) => s.request.id),
    ['r'],
  );
  index.apply(finalKey('a'), delivered(6_000), 6_000);
  await index.written();
  index.promotionFailed([...index.promotable(7_000)].flat()); // Kafka down for the re-promotion
  now = 20_000;
  index.apply(finalKey('b'), delivered(8_000), 8_000);
  await index.written();
  index.pruneCompleted(19_000);
  await index.written();
  assert.deepEqual(index.retired(), ['r'], 'the tombstone of the state written first is still due');
});

test('promotion: a change applied while the state is on its way asks for another promotion', async () => {
  const index = tempIndex(() => 5_000);
  index.apply(requestKey('r'), waiting('r', ['a', 'b', 'c']), 1_000);
  await index.written();
  const onItsWay = [...index.promotable(2_000)].flat();
  index.apply(finalKey('a'), delivered(1_500), 1_500); // older than the cut, read late
  index.promotionWritten(onItsWay);
  const again = await promote(index, 2_000);
  assert.deepEqual(Object.keys(again[0]?.finals ?? {}), ['a']);
});

test('restore: a snapshot older than the restored state does not take back its segments or their finals', async () => {
  const full = tempIndex(() => 9_000);
  full.apply(requestKey('r'), waiting('r', ['a', null] as string[]), 1_000);
  full.apply(requestKey('r'), waiting('r', ['a', 'b']), 1_100);
  full.apply(finalKey('b'), delivered(1_200), 1_200);
  const [state] = await promote(full, 2_000);
  const restored = tempIndex(() => 9_000);
  restored.restoreLive('r', state!);
  // The window below the cut read again: the final first (another partition), then both snapshots.
  restored.apply(finalKey('b'), delivered(1_200), 1_200);
  restored.apply(requestKey('r'), waiting('r', ['a', null] as string[]), 1_000);
  restored.apply(requestKey('r'), waiting('r', ['a', 'b']), 1_100);
  await restored.written();
  assert.equal(restored.final('b')?.status, 'DELIVERED');
  assert.deepEqual(restored.request('r')?.messageIds, ['a', 'b']);
});

test('promoter: a pass writes states, then tombstones, then its watermark; a lagging tail skips the pass', async () => {
  const now = 100_000;
  const index = tempIndex(() => now);
  index.apply(requestKey('r'), waiting('r', ['m']), 1_000);
  await index.written();
  const written: LiveStateWrite[][] = [];
  let through = now;
  const promoter = new CorrelationPromoter({
    index,
    sink: { write: async (records) => void written.push(records) },
    windowMs: 40_000,
    instanceId: 'i1',
    appliedThrough: () => through,
    maxLagMs: maxPromotionLagMs(40_000, 5_000),
    intervalMs: 1_000,
    now: () => now,
    logger: pino({ level: 'silent' }),
  });
  through = now - 10_001; // more than a quarter of the window behind
  assert.deepEqual(await promoter.passOnce(), { promoted: 0, tombstones: 0, watermark: null });
  assert.equal(written.length, 0);
  through = now;
  const pass = await promoter.passOnce();
  assert.deepEqual(pass, { promoted: 1, tombstones: 0, watermark: promotionTimes(now, 40_000).watermark });
  assert.deepEqual(
    written.map((w) => w.map((r) => r.key)),
    [['q:r'], ['h:i1']],
  );
  assert.equal(promotionTimes(now, 40_000).watermark, now - 20_000 - 10_000);
});

/**
 * The guarantee a restore rests on, checked on random histories: submits of 1–3 segments (a
 * snapshot per accepted segment, as the submitter writes them), finals arriving in any order and
 * time, prunes and promoter passes at random times, some passes failing to write. At the end, a
 * second, empty index gets the live-state topic (last value per key, tombstones removing) and then
 * the correlation topic's entries written at or after the last watermark, its three partitions
 * interleaved at random (an `r:` and the `f:` of its segments hash to different partitions). Every
 * request still waiting in the first index must be there with the same finals, and no other.
 */
/**
 * How a history's entries are laid out: `legacy` as written before `m:` entries (snapshots only,
 * each entry in the partition its key hashes to); `connector` as the connector writes them now
 * (`m:` entries and one-segment finals in the message id's partition, snapshots and multipart
 * finals in the home; replays republishing a request's snapshot, `m:` entries and known finals).
 */
type Layout = 'legacy' | 'connector';

/**
 * Restore from the live-state topic plus the last window gives the waiting requests of a full
 * read, for random histories of submits, finals, promotion passes (some whose write fails) and, in
 * the connector's layout, replays; the window's partitions applied in any interleaving.
 */
async function restoreMatchesFullRead(layout: Layout): Promise<void> {
  const windowMs = 40_000;
  const keepDoneMs = 5_000;
  const ops = [
    fc.record({ kind: fc.constant('submit' as const), segments: fc.integer({ min: 1, max: 3 }), dt: fc.integer({ min: 0, max: 3_000 }) }),
    fc.record({ kind: fc.constant('final' as const), pick: fc.nat(), dt: fc.integer({ min: 0, max: 3_000 }) }),
    fc.record({ kind: fc.constant('pass' as const), dt: fc.integer({ min: 0, max: 12_000 }), fails: fc.integer({ min: 0, max: 4 }).map((x) => x === 0) }),
  ];
  const replay = fc.record({ kind: fc.constant('replay' as const), pick: fc.nat(), dt: fc.integer({ min: 0, max: 20_000 }) });
  const op = layout === 'connector' ? fc.oneof(...ops, replay) : fc.oneof(...ops);
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 60 }), fc.integer(), async (history, seed) => {
      let now = 1_000_000;
      const full = tempIndex(() => now);
      const hot: Array<{ key: string; value: CorrelationValue | null; at: number; partition: number }> = [];
      const live = new Map<string, LiveRequestState>();
      let watermark = -Infinity;
      const open: string[] = []; // message ids without a final yet
      const requests: RequestRecord[] = []; // request i's last snapshot
      const write = (key: string, value: CorrelationValue | null, partition = partitionOf(key)): void => {
        hot.push({ key, value, at: now, partition });
        full.apply(key, value, now);
      };
      const connector = layout === 'connector';
      const finalPartition = (rec: RequestRecord, messageId: string) =>
        !connector ? partitionOf(finalKey(messageId)) : rec.segments === 1 ? partitionOf(messageId) : partitionOf(rec.id);
      for (const o of history) {
        now += o.dt;
        if (o.kind === 'submit') {
          const id = `r${requests.length}`;
          const ids = Array.from({ length: o.segments }, (_, i) => `${id}.${i}`);
          open.push(...ids);
          let rec = waiting(id, [], now);
          for (let accepted = 1; accepted <= ids.length; accepted++) {
            rec = waiting(id, ids.map((m, i) => (i < accepted ? m : null)) as string[], now);
            if (connector) {
              rec = { ...rec, home: partitionOf(id), messageEntries: true };
              const messageId = ids[accepted - 1]!;
              write(messageKey(messageId), messageEntryOf(rec, accepted, partitionOf(messageId)), partitionOf(messageId));
            }
            write(requestKey(id), rec, connector ? partitionOf(id) : undefined);
          }
          requests.push(rec);
        } else if (o.kind === 'final' && open.length > 0) {
          const [messageId] = open.splice(o.pick % open.length, 1);
          const rec = requests[Number(messageId!.slice(1, messageId!.indexOf('.')))]!;
          write(finalKey(messageId!), delivered(now), finalPartition(rec, messageId!));
        } else if (o.kind === 'replay' && requests.length > 0) {
          // A record read again after a crash, while its snapshot is kept for dedupe (else it is sent
          // again: a new request, as far as correlation goes).
          const rec = requests[o.pick % requests.length]!;
          if (!full.request(rec.id)) continue;
          write(requestKey(rec.id), rec, partitionOf(rec.id));
          rec.messageIds.forEach((m, i) => {
            write(messageKey(m!), messageEntryOf(rec, i + 1, partitionOf(m!)), partitionOf(m!));
            const final = full.final(m!);
            if (final) write(finalKey(m!), final, finalPartition(rec, m!));
          });
        } else if (o.kind === 'pass') {
          await full.written();
          full.pruneCompleted(now - keepDoneMs);
          await full.written();
          const times = promotionTimes(now, windowMs);
          const states = [...full.promotable(times.cut)].flat();
          if (o.fails && states.length > 0) {
            full.promotionFailed(states); // no tombstones, no watermark after a failed write
            continue;
          }
          for (const state of states) live.set(state.request.id, structuredClone(state));
          full.promotionWritten(states);
          for (const id of full.retired()) {
            live.delete(id);
            full.retiredWritten(id);
          }
          watermark = times.watermark;
          await full.written();
        }
      }
      const restored = tempIndex(() => now);
      for (const [id, state] of live) restored.restoreLive(id, state);
      for (const h of interleaved(
        hot.filter((h) => h.at >= watermark),
        seed,
      ))
        restored.apply(h.key, h.value, h.at);
      await restored.written();
      const stillWaiting = (index: CorrelationIndex): Map<string, string[]> => {
        const out = new Map<string, string[]>();
        for (const { id, messageIds } of requests) {
          // A one-segment request lives on as its message (its snapshot leaves after KEEP_DONE).
          const rec = messageIds.length === 1 ? index.segmentOf(messageIds[0]!)?.request : index.request(id);
          if (!rec || index.outcomes(rec) !== null) continue;
          out.set(
            id,
            rec.messageIds.filter((m): m is string => m !== null && index.final(m) !== undefined),
          );
        }
        return out;
      };
      assert.deepEqual(stillWaiting(restored), stillWaiting(full));
    }),
    // No shrinking: each run opens two LMDB stores, and a shrink of a 60-step history takes minutes.
    { numRuns: 200, endOnFailure: true },
  );
}

test('restore from the live-state topic plus the last window gives the waiting requests of a full read (property)', () => restoreMatchesFullRead('legacy'));

test('the same, with entries laid out as the connector writes them: m: entries, finals where their request settles, replays republishing (property)', () =>
  restoreMatchesFullRead('connector'));

/** The entries in an order a tail reading three partitions at once may apply them: each partition's own order kept. */
function interleaved<T extends { partition: number }>(entries: T[], seed: number): T[] {
  const partitions: T[][] = [[], [], []];
  for (const e of entries) partitions[e.partition]!.push(e);
  const random = prng(seed);
  const out: T[] = [];
  while (partitions.some((p) => p.length > 0)) {
    const open = partitions.filter((p) => p.length > 0);
    out.push(open[Math.floor(random() * open.length)]!.shift()!);
  }
  return out;
}

const partitionOf = (key: string): number => [...key].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 3, 7);
