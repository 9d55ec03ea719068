// The fault oracle's per-key order check over two SMSCs' acceptances (F21): a key's record accepted
// on one route and its next record on the other can share a millisecond; the timeline is ordered by
// acceptance, not by the millisecond, so a tie is no violation — and a real reversal still is one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AcceptedSubmit } from '../../src/simulator/simulator.js';
import { LoadGenerator, oneTimeline, verdict } from '../helpers/fault-oracle.js';
import { planned } from '../helpers/oracle.js';

const AT = 1_800_000_000_000;

function accepted(digest: string, order: number, conn: number): AcceptedSubmit {
  return { at: AT, order, conn, messageId: `m${order}`, source: 'S', destination: 'D', esmClass: 0, dataCoding: 0, digest };
}

const records = new LoadGenerator('oracle', { keys: 1 }).next(2);
const [first, second] = records.map((r) => planned(r.value)!.digests[0]!) as [string, string];

test('two routes accepting a key’s records in one millisecond: the timeline keeps the acceptance order', () => {
  // the backup accepted seq 1, then the primary seq 2, both at AT; listed primary first as a test would
  const lists = [accepted(second, 8, 1), accepted(first, 7, 2)];
  const v = verdict({ records, accepted: oneTimeline(lists), events: [] });
  assert.equal(v.orderViolations, 0);
  assert.equal(v.missing, 0);
});

test('a key’s later record accepted first is a violation, with the acceptances shown', () => {
  const lists = [accepted(second, 7, 1), accepted(first, 8, 2)];
  const v = verdict({ records, accepted: oneTimeline(lists), events: [] });
  assert.equal(v.orderViolations, 1);
  assert.deepEqual(v.orderSamples[0]?.seqs, [2, 1]);
  assert.deepEqual(
    v.orderSamples[0]?.accepted.map((a) => a.order),
    [7, 8],
  );
});
