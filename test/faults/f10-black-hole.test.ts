// Invariant (F10): when the SMSC never answers, each submit ends (ambiguous) between 1× and 2× the
// response timeout, the session is recycled, and every record still ends once the SMSC answers again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PduRecord } from '../../src/simulator/recorder.js';
import { LoadGenerator, report, verdict } from '../helpers/fault-oracle.js';
import { metricSum, startFaultPipeline } from '../helpers/faults.js';
import { produce, waitUntil } from '../helpers/pipeline.js';

const TIMEOUT_MS = 1500;

test('F10: SMSC black hole → each request ends between 1× and 2× the response timeout; session recycled; every record still ends', async () => {
  const journalPath = join(mkdtempSync(join(tmpdir(), 'ksc-f10-')), 'smsc.jsonl');
  const fx = await startFaultPipeline('f10', { env: { SMPP_SESSIONS: 'trx:2', SMPP_RESPONSE_TIMEOUT_MS: String(TIMEOUT_MS) }, simulator: { journalPath } });
  try {
    await waitUntil(() => fx.sim.stats().bindsBySystemId['test'] === 2, 30000, 'bound');
    const gen = new LoadGenerator(`f10-${Date.now()}`, { keys: 20 });
    const records = gen.next(400);
    await produce(
      fx.stack,
      fx.topics.outbound,
      fx.codec,
      records.map((r) => ({ key: r.key, value: r.value })),
    );
    await waitUntil(() => fx.sim.stats().acceptedSubmits >= 100, 30000, 'flowing');
    const holeAt = Date.now();
    fx.sim.setBehaviour({ blackHole: true });
    await waitUntil(() => Date.now() - holeAt >= 3 * TIMEOUT_MS + 1000, 10000, 'black hole lasts');
    fx.sim.setBehaviour({ blackHole: false });
    const ids = new Set(records.map((r) => r.value.id));
    await waitUntil(
      () =>
        new Set(
          fx
            .events()
            .filter((e) => e.source === 'SUMMARY' && ids.has(e.id))
            .map((e) => e.id),
        ).size === ids.size,
      90000,
      'every record summarised',
    );
    const journal = readFileSync(journalPath, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as PduRecord);
    const answered = new Set(journal.filter((r) => r.dir === 'out' && r.command === 'submit_sm_resp').map((r) => `${r.conn}:${r.seq}`));
    const closedAt = new Map(journal.filter((r) => r.command === 'close').map((r) => [r.conn, r.ts]));
    const unanswered = journal.filter((r) => r.dir === 'in' && r.command === 'submit_sm' && !answered.has(`${r.conn}:${r.seq}`));
    const ends = unanswered.map((r) => (closedAt.get(r.conn) ?? Infinity) - r.ts);
    const v = verdict({ records, accepted: fx.sim.acceptedSubmits(), events: fx.events() });
    const recycled = await metricSum(fx.app, 'sms_connector_reconnects_total', { reason: 'response-timeout' });
    report('F10', {
      responseTimeoutMs: TIMEOUT_MS,
      unansweredSubmits: unanswered.length,
      endMinMs: Math.min(...ends),
      endMaxMs: Math.max(...ends),
      recycled,
      ...v,
    });
    assert.ok(unanswered.length >= 2, 'submits went into the black hole');
    // the connection closes when its last ambiguous submit ends: ≥ 1× after each, ≤ 2× (+ scheduling margin)
    assert.ok(Math.min(...ends) >= TIMEOUT_MS - 50, `a request ended after ${Math.min(...ends)} ms < 1× timeout`);
    assert.ok(Math.max(...ends) <= 2 * TIMEOUT_MS + 500, `a request ended after ${Math.max(...ends)} ms > 2× timeout`);
    assert.ok(recycled >= 1, 'session recycled after the timeout');
    assert.equal(v.missing, 0);
    assert.equal(v.missingEvents, 0);
    assert.equal(v.duplicates, 0, 'a black hole accepts nothing: no duplicates');
    assert.equal(v.rejected, 0);
  } finally {
    await fx.stop();
  }
});
