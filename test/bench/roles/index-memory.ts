/**
 * Bench role: bytes per CorrelationIndex entry. Run with --expose-gc. Fills an index with
 * `count` realistic requests (one segment, accepted, an AGILE-style message id, a final receipt
 * record per segment as after a DELIVERED receipt) and diffs heapUsed after full GCs.
 * Request `measure` { count } → { requestOnly, withFinal } bytes per entry.
 */
import { randomUUID } from 'node:crypto';
import { CorrelationIndex, finalKey, requestKey, type RequestRecord } from '../../../src/pipeline/correlation-index.js';
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

function measure(count: number, withFinal: boolean): number {
  const before = heapAfterGc();
  const index = new CorrelationIndex(count * 2);
  for (let i = 0; i < count; i++) {
    const rec = request(i);
    index.apply(requestKey(rec.id), rec);
    if (withFinal) index.apply(finalKey(rec.messageIds[0]!), JSON.parse('{"v":1,"status":"DELIVERED","errorCategory":null}'));
  }
  const after = heapAfterGc();
  if (index.size !== count) throw new Error('index size mismatch');
  return (after - before) / count;
}

serveRole(
  {
    measure: (p) => {
      if (!gc) throw new Error('run with --expose-gc');
      const { count } = p as { count: number };
      return { requestOnly: measure(count, false), withFinal: measure(count, true) };
    },
  },
  async () => undefined,
);
process.send?.({ type: 'ready' });
