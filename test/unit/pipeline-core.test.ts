import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { AccountGate } from '../../src/pipeline/account-gate.js';
import { Admission } from '../../src/pipeline/admission.js';
import { getEventListeners } from 'node:events';
import { createHash } from 'node:crypto';
import { CorrelationIndex, finalKey, requestKey, SUMMARY_MARKER, summaryKey } from '../../src/pipeline/correlation-index.js';
import * as ev from '../../src/pipeline/events.js';
import { OverdueSweeper } from '../../src/pipeline/overdue-sweeper.js';
import { EXPIRY_CLOCK_SKEW_MS, submitSegment, type SubmitPort } from '../../src/pipeline/submit-loop.js';
import type { SubmitParams, SubmitResult } from '../../src/smpp/protocol/types.js';
import { submitStatus } from '../../src/smpp/protocol/status.js';
import { requestRecord, tempIndex, tempStore } from '../helpers/temp-store.js';

const silent = pino({ level: 'silent' });

test('correlation index: a message id finds its request and segment; a newer snapshot replaces the old', () => {
  const index = tempIndex();
  index.apply(requestKey('r1'), requestRecord('r1', ['m1', null]));
  assert.equal(index.segmentOf('m1')?.segment, 1);
  assert.equal(index.segmentOf('m2'), undefined);
  index.apply(requestKey('r1'), requestRecord('r1', ['m1', 'm2']));
  assert.equal(index.segmentOf('m2')?.segment, 2);
  assert.equal(index.segmentOf('m2')?.request.id, 'r1');
  index.apply(requestKey('r1'), null);
  assert.equal(index.segmentOf('m1'), undefined, 'a tombstone removes the mapping');
});

test('correlation index: requests live in the store, not in a count-capped heap — none is evicted, and the store is counted once committed', async () => {
  const index = tempIndex();
  for (let i = 0; i < 1500; i++) index.apply(requestKey(`r${i}`), requestRecord(`r${i}`, [`m${i}`]));
  assert.equal(index.segmentOf('m0')?.request.id, 'r0', 'readable before the commit');
  await index.written();
  assert.equal(index.size, 3000, 'a snapshot and a message entry per request');
  assert.equal(index.segmentOf('m0')?.request.id, 'r0');
  assert.equal(index.segmentOf('m1499')?.request.id, 'r1499');
});

test('correlation index: outcomes are known only when every segment is final', () => {
  const index = tempIndex();
  const r = requestRecord('r1', ['m1', 'm2']);
  index.apply(requestKey('r1'), r);
  index.apply(finalKey('m1'), { v: 1, status: 'DELIVERED', errorCategory: null });
  assert.equal(index.outcomes(r), null);
  index.apply(finalKey('m2'), { v: 1, status: 'UNDELIVERED', errorCategory: 'HLR ERROR' });
  assert.deepEqual(
    index.outcomes(r)?.map((o) => o.status),
    ['DELIVERED', 'UNDELIVERED'],
  );
});

test('correlation index: a receipt that overtakes its mapping waits for it, and gives up after the wait', async () => {
  const index = tempIndex();
  const waiting = index.waitForMessageId('m9', 2000);
  setTimeout(() => index.apply(requestKey('r9'), requestRecord('r9', ['m9'])), 20);
  assert.equal((await waiting)?.request.id, 'r9');
  const t0 = Date.now();
  assert.equal(await index.waitForMessageId('nope', 50), undefined);
  assert.ok(Date.now() - t0 < 1000);
});

test('correlation index: receipt waiters are keyed by message id — a record wakes only the waiters of the ids it maps (no pass over all waiters per record)', async () => {
  class CountingIndex extends CorrelationIndex {
    lookups = 0;
    override segmentOf(messageId: string) {
      this.lookups += 1;
      return super.segmentOf(messageId);
    }
  }
  const index = new CountingIndex(tempStore());
  const waiters = Array.from({ length: 1000 }, (_, i) => index.waitForMessageId(`unknown-${i}`, 60_000));
  const twoOnOneId = [index.waitForMessageId('m-late', 60_000), index.waitForMessageId('m-late', 60_000)];
  assert.equal(index.waitingReceipts, 1002);
  const before = index.lookups;
  for (let i = 0; i < 1000; i++) {
    index.apply(requestKey(`other-${i}`), requestRecord(`other-${i}`, [`other-m-${i}`]));
    index.apply(finalKey(`other-m-${i}`), { v: 1, status: 'DELIVERED', errorCategory: null });
  }
  // 1,000 finals look up their own message id (applyFinal); no waiter ran. One shared list ran all
  // 1,002 checks on each of the 2,000 records: 2,004,000 lookups more.
  assert.equal(index.lookups - before, 1000);
  index.apply(requestKey('r-late'), requestRecord('r-late', ['m-late']));
  const refs = await Promise.all(twoOnOneId);
  assert.deepEqual(
    refs.map((r) => r?.request.id),
    ['r-late', 'r-late'],
  );
  assert.equal(index.waitingReceipts, 1000, 'the woken waiters are gone, the others still wait');
  for (let i = 0; i < 1000; i++) index.apply(requestKey(`late-${i}`), requestRecord(`late-${i}`, [`unknown-${i}`]));
  assert.equal((await Promise.all(waiters)).filter((r) => r !== undefined).length, 1000);
  assert.equal(index.waitingReceipts, 0, 'no waiter entry left behind');
  assert.equal(await index.waitForMessageId('timeout', 10), undefined);
  assert.equal(index.waitingReceipts, 0, 'a timed-out waiter is removed too');
});

test('events: eventId is the first 32 base64url characters of SHA-256 over the parts joined by NUL (ids stay the same across versions)', () => {
  const cases: Array<(string | number | null)[]> = [['r1', 'SUBMIT', 'SUBMITTED', 1, 'AGILE-1', null], ['x'], [null, null], ['é€😀', 0, -1, '']];
  for (const parts of cases) {
    const text = parts.map((p) => (p === null ? '' : String(p))).join('\u0000');
    assert.equal(ev.eventId(...parts), createHash('sha256').update(text).digest('base64url').slice(0, 32), JSON.stringify(parts));
  }
  // pinned: a stored event id must not change when the code that computes it does
  assert.equal(
    ev.eventId('r1', 'SUMMARY', 'DELIVERED', 0, null, null),
    createHash('sha256').update('r1\u0000SUMMARY\u0000DELIVERED\u00000\u0000\u0000').digest('base64url').slice(0, 32),
  );
});

test('events: the same fact gets the same eventId; a different fact a different one', () => {
  const facts = { id: 'r1', from: 'A', to: '39', segments: 2, metadata: {}, route: null };
  const a = ev.submitted(facts, 1, 'AGILE-1', 1, 1000, 5000);
  const b = ev.submitted(facts, 1, 'AGILE-1', 2, 1200, 9000);
  const c = ev.submitted(facts, 2, 'AGILE-2', 1, 1000, 5000);
  assert.equal(a.eventId, b.eventId, 'a replay (other attempt count, other time) is the same fact');
  assert.notEqual(a.eventId, c.eventId);
  const rejected = ev.submitRejected(facts, 1, submitStatus(0x0b), 1, 5000);
  assert.equal(rejected.errorCategory, 'DESTINATION');
  assert.equal(rejected.errorCodeRaw, '0x0B');
  assert.equal(rejected.errorCode, 11);
  assert.equal(rejected.retryable, false);
});

test('events: summary is DELIVERED only if every segment was, UNDELIVERED says how many were', () => {
  const facts = { id: 'r1', from: 'A', to: '39', segments: 3, metadata: {}, route: null };
  const all = ev.summary(
    facts,
    [1, 2, 3].map(() => ({ status: 'DELIVERED' as const, errorCategory: null })),
    1,
    0,
  );
  assert.equal(all.status, 'DELIVERED');
  const some = ev.summary(
    facts,
    [
      { status: 'DELIVERED', errorCategory: null },
      { status: 'UNDELIVERED', errorCategory: 'HLR ERROR' },
      { status: 'DELIVERED', errorCategory: null },
    ],
    1,
    0,
  );
  assert.equal(some.status, 'UNDELIVERED');
  assert.equal(some.errorCategory, 'HLR ERROR');
  assert.equal(some.errorDescription, '2 of 3 segments delivered');
  assert.equal(some.segment, 0);
});

test('account gate: while paused, waiters hold; one probe goes through; its success opens the gate for all', async () => {
  const gate = new AccountGate(30);
  assert.equal(await gate.pass(), false);
  gate.pause('0x103 Insufficient credit');
  const results: boolean[] = [];
  const waiters = [gate.pass(), gate.pass(), gate.pass()].map((p) => Promise.resolve(p).then((probe) => results.push(probe)));
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(results, [true], 'exactly one probe let through');
  gate.succeeded();
  await Promise.all(waiters);
  assert.deepEqual(results.sort(), [false, false, true]);
  assert.equal(gate.current.open, true);
  gate.close();
});

test("account gate: refusals of submits already on the wire do not let a second probe go; the probe's own refusal schedules the next", async () => {
  const gate = new AccountGate(20);
  gate.pause('0x103 Insufficient credit');
  const probes: boolean[] = [];
  const waiters = [gate.pass(), gate.pass(), gate.pass()].map((p) => Promise.resolve(p).then((probe) => probes.push(probe)));
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(probes, [true], 'the first probe is out');
  for (let i = 0; i < 5; i++) gate.pause('0x103 Insufficient credit'); // in-flight submits refused
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(probes, [true], 'no second probe while the first is unanswered');
  gate.pause('0x103 Insufficient credit', true); // the probe itself is refused
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(probes, [true, true], 'the next probe after one interval');
  gate.succeeded();
  await Promise.all(waiters);
  gate.close();
});

test('account gate: an aborted waiter leaves without being let through', async () => {
  const gate = new AccountGate(10_000);
  gate.pause('credentials');
  const ac = new AbortController();
  const p = Promise.resolve(gate.pass(ac.signal));
  ac.abort(new Error('shutdown'));
  await assert.rejects(p, /shutdown/);
  gate.close();
});

const params = { shortMessage: Buffer.from('hi') } as unknown as SubmitParams;

function scriptedPort(script: SubmitResult[]): SubmitPort & { calls: number } {
  const port = {
    calls: 0,
    async submit(): Promise<SubmitResult> {
      const r = script[Math.min(port.calls, script.length - 1)]!;
      port.calls++;
      return r;
    },
  };
  return port;
}
const resp = (status: number, messageId?: string): SubmitResult => ({
  kind: 'response',
  command: 'submit_sm_resp',
  commandStatus: status,
  roundTripMs: 1,
  sessionId: 's',
  ...(messageId ? { messageId } : {}),
});

test('submit loop: 0x58 and 0x08 are retried until accepted; a permanent error is not retried', async () => {
  const gate = new AccountGate(10);
  const port = scriptedPort([resp(0x58), resp(0x08), resp(0, 'AGILE-X')]);
  const opts = { port, gate, retryMaxAgeMs: 60_000, now: Date.now };
  // Shrink the table's delays for the test through a fast clock is not needed: delays are ~1-3 s max here.
  const out = await submitSegment(opts, 'k', params, null, new AbortController().signal);
  assert.equal(out.kind, 'accepted');
  assert.equal(port.calls, 3);
  const permanent = scriptedPort([resp(0x0b)]);
  const rejected = await submitSegment({ ...opts, port: permanent }, 'k', params, null, new AbortController().signal);
  assert.equal(rejected.kind, 'rejected');
  assert.equal(permanent.calls, 1);
  gate.close();
});

test('submit loop: 0x103 pauses the account and never rejects the record; it is sent once credit returns', async () => {
  const gate = new AccountGate(20);
  const port = scriptedPort([resp(0x103), resp(0x103), resp(0x103), resp(0, 'AGILE-Y')]);
  const out = await submitSegment({ port, gate, retryMaxAgeMs: 1, now: Date.now }, 'k', params, null, new AbortController().signal);
  assert.equal(out.kind, 'accepted', 'retry max age does not apply to account pauses');
  assert.equal(out.kind === 'accepted' && out.attempts, 1, 'pause answers do not count as attempts');
  assert.equal(gate.current.open, true);
  gate.close();
});

test('submit loop: a probe refused for a reason of its own (0x0B) hands the probe back: the paused account is probed again', async () => {
  const gate = new AccountGate(30);
  gate.pause('0x103 credit');
  const bad = await submitSegment(
    { port: scriptedPort([resp(0x0b)]), gate, retryMaxAgeMs: 1000, now: Date.now },
    'k',
    params,
    null,
    new AbortController().signal,
  );
  assert.equal(bad.kind, 'rejected', 'the probe’s own record is rejected');
  const next = submitSegment(
    { port: scriptedPort([resp(0, 'AGILE-P')]), gate, retryMaxAgeMs: 1000, now: Date.now },
    'k',
    params,
    null,
    new AbortController().signal,
  );
  const late = new Promise((r) => setTimeout(() => r('still waiting'), 2000).unref());
  const out = await Promise.race([next, late]);
  assert.equal(typeof out === 'object' && out !== null && 'kind' in out ? out.kind : out, 'accepted', 'the next probe went and opened the account');
  assert.equal(gate.current.open, true);
  gate.close();
});

test('submit loop: 0x62 is EXPIRED when validUntil is within the clock skew of now, REJECTED when it is far ahead', async () => {
  const gate = new AccountGate(20);
  const near = scriptedPort([resp(0x62)]);
  const soon = Date.now() + EXPIRY_CLOCK_SKEW_MS / 2;
  const expired = await submitSegment({ port: near, gate, retryMaxAgeMs: 1000, now: Date.now }, 'k', params, soon, new AbortController().signal);
  assert.equal(expired.kind, 'expired');
  assert.equal(expired.attempts, 1);
  const far = scriptedPort([resp(0x62)]);
  const later = Date.now() + 10 * EXPIRY_CLOCK_SKEW_MS;
  const rejected = await submitSegment({ port: far, gate, retryMaxAgeMs: 1000, now: Date.now }, 'k', params, later, new AbortController().signal);
  assert.equal(rejected.kind === 'rejected' && rejected.status.category, 'VALIDITY');
  gate.close();
});

test('submit loop: 0x45 gets one more try only; 0x04 (session not bound) is retried until accepted', async () => {
  const gate = new AccountGate(20);
  const encoding = scriptedPort([resp(0x45), resp(0x45), resp(0)]);
  const out = await submitSegment({ port: encoding, gate, retryMaxAgeMs: 60_000, now: Date.now }, 'k', params, null, new AbortController().signal);
  assert.equal(out.kind === 'rejected' && out.status.hex, '0x45');
  assert.equal(encoding.calls, 2);
  const unbound = scriptedPort([resp(0x04), resp(0x04), resp(0, 'AGILE-Z')]);
  const accepted = await submitSegment({ port: unbound, gate, retryMaxAgeMs: 60_000, now: Date.now }, 'k', params, null, new AbortController().signal);
  assert.equal(accepted.kind === 'accepted' && accepted.messageId, 'AGILE-Z');
  assert.equal(unbound.calls, 3);
  gate.close();
});

test('submit loop: a record past validUntil is never sent', async () => {
  const gate = new AccountGate(20);
  const port = scriptedPort([resp(0)]);
  const out = await submitSegment({ port, gate, retryMaxAgeMs: 1000, now: Date.now }, 'k', params, Date.now() - 1, new AbortController().signal);
  assert.equal(out.kind, 'expired');
  assert.equal(port.calls, 0);
});

test('overdue sweeper: UNKNOWN summary once, when receipts are overdue past the grace', async () => {
  const index = tempIndex();
  index.apply(requestKey('r1'), requestRecord('r1', ['m1', 'm2'], { receiptDeadline: 1000 }));
  index.apply(finalKey('m1'), { v: 1, status: 'DELIVERED', errorCategory: null });
  await index.written(); // the sweep reads committed ranges (the next pass sees what is newer)
  const published: ev.RequestFacts[] = [];
  let now = 1500;
  const sweeper = new OverdueSweeper({
    index,
    sink: { publish: async (events) => void published.push(...(events as never[])) },
    graceMs: 1000,
    summaryGraceMs: 30_000,
    intervalMs: 1000,
    keepCompletedMs: 60000,
    now: () => now,
    logger: silent,
  });
  assert.equal(await sweeper.sweepOnce(), 0, 'within the grace');
  now = 2500;
  assert.equal(await sweeper.sweepOnce(), 1);
  assert.equal(await sweeper.sweepOnce(), 0, 'not repeated');
  const summary = published[0] as unknown as { status: string; source: string; errorDescription: string };
  assert.equal(summary.source, 'SUMMARY');
  assert.equal(summary.status, 'UNKNOWN');
  assert.match(summary.errorDescription, /1 of 2 segments \(1 delivered\)/);
});

test('correlation index: overdue requests come in slices, in deadline order; only requests awaiting receipts past their deadline are visited', async () => {
  const index = tempIndex();
  for (let i = 0; i < 45; i++) {
    index.apply(requestKey(`r${i}`), requestRecord(`r${i}`, [`m${i}`], { receiptDeadline: i % 3 === 0 ? 5_000 : 1_000 + i }));
    if (i % 5 === 0) index.apply(finalKey(`m${i}`), { v: 1, status: 'DELIVERED', errorCategory: null });
  }
  await index.written();
  const expected = Array.from({ length: 45 }, (_, i) => i)
    .filter((i) => i % 3 !== 0 && i % 5 !== 0)
    .map((i) => `r${i}`);
  const slices = [...index.overdueSlices(2_000, 10)];
  assert.deepEqual(
    slices.map((s) => s.length),
    [10, 10, 4],
    '24 overdue and unfinished: the 6 complete ones left the timeline, the 15 due at 5,000 are not reached',
  );
  assert.deepEqual(
    slices.flat().map((r) => r.id),
    expected,
    'deadline order',
  );
  assert.deepEqual(
    [...index.overdueSlices(2_000)].flat().map((r) => r.id),
    expected,
    'one slice when few are due',
  );
});

test('overdue sweeper: a request completed while the sweep yields between slices gets no UNKNOWN summary', async () => {
  const index = tempIndex();
  for (let i = 0; i < 30_000; i++) index.apply(requestKey(`r${i}`), requestRecord(`r${i}`, [`m${i}`], { receiptDeadline: 1000 }));
  await index.written();
  const published: string[] = [];
  const sweeper = new OverdueSweeper({
    index,
    sink: { publish: async (events) => void published.push(...events.map((e) => e.id)) },
    graceMs: 0,
    summaryGraceMs: 30_000,
    intervalMs: 1000,
    keepCompletedMs: 60000,
    now: () => 5000,
    logger: silent,
  });
  const sweep = sweeper.sweepOnce();
  // the first slice (5,000 entries) is summarised, then the sweep yields; a receipt lands meanwhile
  await new Promise((resolve) => setImmediate(resolve));
  index.apply(finalKey('m29999'), { v: 1, status: 'DELIVERED', errorCategory: null });
  await sweep;
  assert.equal(published.length, 29_999);
  assert.ok(!published.includes('r29999'), 'completed between slices: no UNKNOWN');
});

test('correlation index: a prune pass visits at most its limit, oldest completion first; passes drop exactly the requests completed before the cut', async () => {
  let now = 0;
  const index = tempIndex(() => now);
  for (let i = 0; i < 20_000; i++) {
    now = i;
    index.apply(requestKey(`r${i}`), requestRecord(`r${i}`, [`m${i}`], { receipts: false, submittedAt: i }));
  }
  await index.written();
  const started = performance.now();
  const passes: number[] = [];
  for (let dropped = -1; dropped !== 0;) {
    dropped = index.pruneCompleted(12_000, 5_000);
    passes.push(dropped);
    await index.written();
  }
  const ms = performance.now() - started;
  assert.deepEqual(passes, [5_000, 5_000, 2_000, 0]);
  assert.equal(index.request('r11999'), undefined);
  assert.equal(index.request('r12000')?.id, 'r12000');
  assert.equal(index.size, 16_000, 'a snapshot and a message entry per request kept');
  assert.ok(ms < 10_000, `pruning took ${ms.toFixed(0)} ms`);
});

test('correlation index: a request that can never complete (a segment never sent) leaves the store once past its deadline, with or without receipts', async () => {
  const index = tempIndex();
  index.apply(requestKey('partial'), requestRecord('partial', ['m1', null], { receiptDeadline: 1_000 }));
  index.apply(requestKey('partial-noreport'), requestRecord('partial-noreport', ['m2', null], { receipts: false, receiptDeadline: 1_000 }));
  index.apply(requestKey('later'), requestRecord('later', ['m3', null], { receiptDeadline: 9_000 }));
  await index.written();
  assert.deepEqual([...index.overdueSlices(2_000)].flat(), [], 'no UNKNOWN summary: they got theirs when rejected');
  await index.written();
  assert.equal(index.request('partial'), undefined);
  assert.equal(index.request('partial-noreport'), undefined);
  assert.equal(index.segmentOf('m1'), undefined);
  assert.equal(index.request('later')?.id, 'later', 'not past its deadline yet');
  assert.equal(index.size, 2, 'its snapshot and its one mapped id');
});

test('correlation index: finals and markers whose request never comes leave at the prune; one whose request came stays with it', async () => {
  let now = 0;
  const index = tempIndex(() => now);
  index.apply(finalKey('lonely'), { v: 1, status: 'DELIVERED', errorCategory: null });
  index.apply(summaryKey('gone'), SUMMARY_MARKER);
  index.apply(finalKey('m-early'), { v: 1, status: 'DELIVERED', errorCategory: null });
  index.apply(requestKey('r-late'), requestRecord('r-late', ['m-early', 'm-other']));
  await index.written();
  now = 10_000;
  index.pruneCompleted(5_000);
  await index.written();
  assert.equal(index.final('lonely'), undefined, 'a final for an id no request maps');
  assert.equal(index.final('m-early')?.status, 'DELIVERED', 'its request arrived after it');
  index.apply(requestKey('gone'), requestRecord('gone', ['m-gone', 'm-gone-2']));
  index.apply(finalKey('m-gone'), { v: 1, status: 'DELIVERED', errorCategory: null, at: now });
  index.apply(finalKey('m-gone-2'), { v: 1, status: 'DELIVERED', errorCategory: null, at: now });
  await index.written();
  // Had the lone marker stayed, this multipart request would count as summarised and never be due.
  assert.deepEqual(
    index.summaryDue(now + 1).map((d) => d.request.id),
    ['gone'],
    'the lone marker was dropped at the prune',
  );
});

test('correlation index: a snapshot that re-sends a segment under a new id drops the old id with its final', async () => {
  const index = tempIndex();
  index.apply(requestKey('r1'), requestRecord('r1', ['m1', 'm2']));
  index.apply(finalKey('m2'), { v: 1, status: 'UNDELIVERED', errorCategory: 'HLR ERROR' });
  index.apply(requestKey('r1'), requestRecord('r1', ['m1', 'm2-again']));
  await index.written();
  assert.equal(index.segmentOf('m2'), undefined);
  assert.equal(index.final('m2'), undefined);
  assert.equal(index.segmentOf('m2-again')?.segment, 2);
});

test('correlation index: a message id too long for a store key is kept in its request but never mapped; the request leaves at its deadline', async () => {
  const index = tempIndex();
  const long = 'x'.repeat(3_000);
  index.apply(requestKey('r-long'), requestRecord('r-long', [long], { receiptDeadline: 1_000 }));
  index.apply(finalKey(long), { v: 1, status: 'DELIVERED', errorCategory: null });
  await index.written();
  assert.equal(index.request('r-long')?.messageIds[0], long);
  assert.equal(index.segmentOf(long), undefined);
  assert.deepEqual([...index.overdueSlices(2_000)].flat(), []);
  await index.written();
  assert.equal(index.request('r-long'), undefined);
});

test('correlation index: a request whose final record was read before its snapshot (another replica) is still pruned', async () => {
  let now = 0;
  const index = tempIndex(() => now);
  index.apply(finalKey('m1'), { v: 1, status: 'DELIVERED', errorCategory: null });
  index.apply(requestKey('r1'), requestRecord('r1', ['m1']));
  await index.written();
  now = 10_000;
  assert.equal(index.pruneCompleted(5_000), 1);
  assert.equal(index.request('r1'), undefined);
});

test('correlation index: completed requests leave the store after the keep time; unfinished ones stay', async () => {
  let now = 0;
  const index = tempIndex(() => now);
  index.apply(requestKey('done'), requestRecord('done', ['m1']));
  index.apply(requestKey('open'), requestRecord('open', ['m2']));
  index.apply(requestKey('noreport'), requestRecord('noreport', ['m3'], { receipts: false }));
  index.apply(finalKey('m1'), { v: 1, status: 'DELIVERED', errorCategory: null });
  await index.written();
  now = 1000;
  assert.equal(index.pruneCompleted(500), 2, 'the delivered and the no-report request');
  assert.equal(index.segmentOf('m1'), undefined);
  assert.equal(index.segmentOf('m3'), undefined);
  assert.equal(index.final('m1'), undefined, 'with its final');
  assert.equal(index.segmentOf('m2')?.request.id, 'open', 'still waiting for its receipt');
  await index.written();
  assert.equal(index.size, 1);
});

/** A slot as the submit port takes one (enter, then leave once): resolves with its release. */
async function acquire(admission: Admission, sessionId: string, signal: AbortSignal): Promise<() => void> {
  const waiting = admission.enter(sessionId, signal);
  if (waiting) await waiting;
  return () => admission.leave(sessionId);
}

test('admission: the records of one batch park on one abort listener, and its abort rejects every one of them', async () => {
  const admission = new Admission(1);
  const batch = new AbortController();
  const held = [await acquire(admission, 's1', batch.signal), await acquire(admission, 's2', batch.signal)];
  const parked = Array.from({ length: 200 }, (_, i) => acquire(admission, i % 2 ? 's1' : 's2', batch.signal));
  await new Promise((r) => setImmediate(r));
  assert.equal(getEventListeners(batch.signal, 'abort').length, 1);
  held[0]!(); // s1 admits its first waiter; the abort below must not reach it
  const admitted = await parked[1]!;
  batch.abort(new Error('rebalance'));
  const outcomes = await Promise.allSettled(parked);
  assert.equal(outcomes.filter((o) => o.status === 'rejected').length, 199);
  admitted();
  held[1]!();
  assert.equal(admission.outstanding('s1'), 0);
  assert.equal(admission.outstanding('s2'), 0);
  const again = await acquire(admission, 's1', new AbortController().signal); // nothing stale left in the queue
  again();
});

test('admission: waiters are admitted in arrival order; an aborted waiter leaves the queue and the next one goes', async () => {
  const admission = new Admission(1);
  const order: string[] = [];
  const first = await acquire(admission, 's1', new AbortController().signal);
  const abortB = new AbortController();
  const a = acquire(admission, 's1', new AbortController().signal).then((release) => (order.push('a'), release));
  const b = acquire(admission, 's1', abortB.signal).then(
    () => order.push('b'),
    () => order.push('b aborted'),
  );
  const c = acquire(admission, 's1', new AbortController().signal).then((release) => (order.push('c'), release));
  abortB.abort(new Error('drain'));
  await b;
  first();
  (await a)();
  (await c)();
  assert.deepEqual(order, ['b aborted', 'a', 'c']);
  assert.equal(admission.outstanding('s1'), 0);
});
