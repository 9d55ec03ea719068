/**
 * Bench role: bytes per CorrelationIndex entry, in the heap and on disk. Run with --expose-gc.
 * Fills an index on a fresh temporary store with `count` realistic requests (one segment,
 * accepted, an AGILE-style message id, a final receipt record per segment as after a DELIVERED
 * receipt), waits for the store's commit, and diffs heapUsed after full GCs; the disk figure is
 * the store's data file size divided by the count.
 * Request `measure` { count } → { requestOnly, withFinal, diskRequestOnly, diskWithFinal } bytes per entry.
 */
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { CorrelationIndex, finalKey, requestKey, type RequestRecord } from '../../../src/pipeline/correlation-index.js';
import { tempStore } from '../../helpers/temp-store.js';
import { serveRole } from '../common.js';

const gc = (globalThis as { gc?: () => void }).gc;

function heapAfterGc(): number {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage().heapUsed;
}

function request(i: number): RequestRecord {
  // As decoded from the correlation topic: fresh strings per record, like JSON.parse gives.
  return JSON.parse(
    JSON.stringify({
      v: 1,
      id: randomUUID(),
      from: 'ACME',
      to: `39347${String(1000000 + i)}`,
      metadata: { campaign: 'spring-sale', tenant: 't1' },
      segments: 1,
      messageIds: [`AGILE-${randomUUID().replace(/-/g, '').slice(0, 20)}`],
      attempts: 1,
      submittedAt: Date.now(),
      receipts: true,
      receiptDeadline: Date.now() + 172_800_000,
    }),
  ) as RequestRecord;
}

async function measure(count: number, withFinal: boolean): Promise<{ heap: number; disk: number }> {
  const before = heapAfterGc();
  const store = tempStore();
  const index = new CorrelationIndex(store);
  for (let i = 0; i < count; i++) {
    const rec = request(i);
    index.apply(requestKey(rec.id), rec);
    if (withFinal) index.apply(finalKey(rec.messageIds[0]!), JSON.parse('{"v":1,"status":"DELIVERED","errorCategory":null}'));
    // Let commits land as they would between batches: the overlay holds uncommitted writes only.
    if (i % 10_000 === 9_999) await index.written();
  }
  await index.written();
  const after = heapAfterGc();
  // A snapshot and a message entry (its subject) per one-segment request.
  if (index.size !== 2 * count) throw new Error(`index size mismatch: ${index.size} entries for ${count} requests`);
  const disk = statSync(path.join(store.dir, 'data.mdb')).size;
  await store.close();
  return { heap: (after - before) / count, disk: disk / count };
}

serveRole(
  {
    measure: async (p) => {
      if (!gc) throw new Error('run with --expose-gc');
      const { count } = p as { count: number };
      const requestOnly = await measure(count, false);
      const withFinal = await measure(count, true);
      return { requestOnly: requestOnly.heap, withFinal: withFinal.heap, diskRequestOnly: requestOnly.disk, diskWithFinal: withFinal.disk };
    },
  },
  async () => undefined,
);
process.send?.({ type: 'ready' });
