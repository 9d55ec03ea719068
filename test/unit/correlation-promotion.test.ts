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
  requestKey,
  type CorrelationIndex,
  type CorrelationValue,
  type FinalRecord,
  type LiveRequestState,
  type RequestRecord,
} from '../../src/pipeline/correlation-index.js';
import { CorrelationPromoter, promotionTimes, type LiveStateWrite } from '../../src/pipeline/correlation-promoter.js';
import { requestRecord, tempIndex } from '../helpers/temp-store.js';

const FAR = 10 ** 12;

/** A request that waits for its receipts far beyond the test's clock. */
const waiting = (id: string, messageIds: string[], submittedAt = 0): RequestRecord => requestRecord(id, messageIds, { submittedAt, receiptDeadline: FAR });
const delivered = (at: number): FinalRecord => ({ v: 1, status: 'DELIVERED', errorCategory: null, at });

async function promote(index: CorrelationIndex, cut: number): Promise<LiveRequestState[]> {
  await index.written();
  const states = [...index.promotable(cut)].flat();
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

test('promotion: a failed write lists the request again at the next pass', async () => {
  const index = tempIndex(() => 5_000);
  index.apply(requestKey('r'), waiting('r', ['m']), 1_000);
  assert.equal((await promote(index, 2_000)).length, 1);
  index.promotionFailed('r', 1_999);
  assert.deepEqual(
    (await promote(index, 2_500)).map((s) => s.request.id),
    ['r'],
  );
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
    intervalMs: 1_000,
    now: () => now,
    logger: pino({ level: 'silent' }),
  });
  through = now - 20_000; // more than a quarter of the window behind
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
 * The guarantee a restore rests on, checked on random histories: submits of 1–3 segments, finals
 * arriving in any order and time, prunes and promoter passes at random times. At the end, a
 * second, empty index gets the live-state topic (last value per key, tombstones removing) and then
 * the correlation topic's entries written at or after the last watermark. Every request still
 * waiting in the first index must be there with the same finals, and no other waiting one.
 */
test('restore from the live-state topic plus the last window gives the waiting requests of a full read (property)', async () => {
  const windowMs = 40_000;
  const keepDoneMs = 5_000;
  const op = fc.oneof(
    fc.record({ kind: fc.constant('submit' as const), segments: fc.integer({ min: 1, max: 3 }), dt: fc.integer({ min: 0, max: 3_000 }) }),
    fc.record({ kind: fc.constant('final' as const), pick: fc.nat(), dt: fc.integer({ min: 0, max: 3_000 }) }),
    fc.record({ kind: fc.constant('pass' as const), dt: fc.integer({ min: 0, max: 30_000 }) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 60 }), async (ops) => {
      let now = 1_000_000;
      const full = tempIndex(() => now);
      const hot: Array<{ key: string; value: CorrelationValue; at: number }> = [];
      const live = new Map<string, LiveRequestState>();
      let watermark = -Infinity;
      const open: string[] = []; // message ids without a final yet
      const write = (key: string, value: CorrelationValue): void => {
        hot.push({ key, value, at: now });
        full.apply(key, value, now);
      };
      let n = 0;
      for (const o of ops) {
        now += o.dt;
        if (o.kind === 'submit') {
          const id = `r${n++}`;
          const ids = Array.from({ length: o.segments }, (_, i) => `${id}.${i}`);
          open.push(...ids);
          write(requestKey(id), waiting(id, ids, now));
        } else if (o.kind === 'final' && open.length > 0) {
          const [messageId] = open.splice(o.pick % open.length, 1);
          write(finalKey(messageId!), delivered(now));
        } else if (o.kind === 'pass') {
          await full.written();
          full.pruneCompleted(now - keepDoneMs);
          await full.written();
          const times = promotionTimes(now, windowMs);
          for (const state of [...full.promotable(times.cut)].flat()) live.set(state.request.id, structuredClone(state));
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
      for (const h of hot) if (h.at >= watermark) restored.apply(h.key, h.value, h.at);
      await restored.written();
      const stillWaiting = (index: CorrelationIndex): Map<string, string[]> => {
        const out = new Map<string, string[]>();
        for (let i = 0; i < n; i++) {
          const rec = index.request(`r${i}`);
          if (!rec || index.outcomes(rec) !== null) continue;
          out.set(
            rec.id,
            rec.messageIds.filter((m): m is string => m !== null && index.final(m) !== undefined),
          );
        }
        return out;
      };
      assert.deepEqual(stillWaiting(restored), stillWaiting(full));
    }),
    { numRuns: 60 },
  );
});
