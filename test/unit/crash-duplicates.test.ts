// The crash oracle (pipeline-crash): each duplicate of a kill is put down to a submit Kafka had not
// recorded (allowed), a recorded one the replay check should have skipped, or one process's own resend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AcceptedSubmit } from '../../src/simulator/simulator.js';
import { crashDuplicates, processesByConnection } from '../helpers/oracle.js';

let order = 0;
function accepted(digest: string, conn: number, messageId: string): AcceptedSubmit {
  order += 1;
  return { at: 1_800_000_000_000 + order, order, conn, messageId, source: 'S', destination: 'D', esmClass: 0, dataCoding: 0, digest };
}

// connections 1 and 2 were the crashed process's, 3 and 4 the restarted one's
const crashed = (a: AcceptedSubmit): boolean => a.conn <= 2;

test('a segment accepted before the kill and not recorded, sent again after it: the allowed class', () => {
  const list = [accepted('a', 1, 'm1'), accepted('b', 2, 'm2'), accepted('a', 3, 'm3'), accepted('c', 4, 'm4')];
  const d = crashDuplicates(list, ['a', 'b', 'c'], crashed, new Set(['m2']));
  assert.deepEqual(
    { ...d, samples: d.samples.length },
    { unrecorded: 1, missed: 0, sameProcess: 0, unrecordedAtKill: 1, kills: [{ unrecorded: 1, unrecordedAtKill: 1 }], samples: 0 },
  );
});

test('a segment recorded before the kill and sent again after it: missed by the replay check', () => {
  const list = [accepted('a', 1, 'm1'), accepted('a', 3, 'm2')];
  const d = crashDuplicates(list, ['a'], crashed, new Set(['m1']));
  assert.equal(d.missed, 1);
  assert.equal(d.unrecorded, 0);
  assert.equal(d.unrecordedAtKill, 0);
  assert.equal(d.samples[0]?.cause, 'missed');
});

test('two acceptances within one process are its own resend, on either side of the kill', () => {
  const list = [accepted('a', 1, 'm1'), accepted('a', 2, 'm2'), accepted('b', 3, 'm3'), accepted('b', 4, 'm4')];
  const d = crashDuplicates(list, ['a', 'b'], crashed, new Set());
  assert.equal(d.sameProcess, 2);
  assert.equal(d.unrecorded, 0);
  assert.equal(d.unrecordedAtKill, 2);
});

test('unrecorded, resent twice after the kill: one allowed, one a resend of the restarted process', () => {
  const list = [accepted('a', 1, 'm1'), accepted('a', 3, 'm2'), accepted('a', 4, 'm3')];
  const d = crashDuplicates(list, ['a'], crashed, new Set());
  assert.equal(d.unrecorded, 1);
  assert.equal(d.sameProcess, 1);
});

test('digests of other requests are left out', () => {
  const list = [accepted('x', 1, 'm1'), accepted('x', 3, 'm2')];
  const d = crashDuplicates(list, ['a'], crashed, new Set());
  assert.deepEqual(
    { ...d, samples: d.samples.length },
    { unrecorded: 0, missed: 0, sameProcess: 0, unrecordedAtKill: 0, kills: [{ unrecorded: 0, unrecordedAtKill: 0 }], samples: 0 },
  );
});

test('several kills: each resend is counted against the kill of the process whose acceptance was not recorded', () => {
  // processes: 0 = connections 1–2 (first kill), 1 = 3–4 (second kill), 2 = 5–6 (still running)
  const procs = processesByConnection([2, 4]);
  const list = [
    accepted('a', 1, 'm1'), // unrecorded at the first kill, resent by process 1 …
    accepted('b', 2, 'm2'), // recorded: never sent again
    accepted('c', 2, 'm3'), // unrecorded at the first kill, not reached by process 1, resent by process 2
    accepted('a', 3, 'm4'), // … which died too before recording it: resent by process 2
    accepted('d', 4, 'm5'), // unrecorded at the second kill, resent by process 2
    accepted('e', 4, 'm6'), // recorded at the second kill
    accepted('a', 5, 'm7'),
    accepted('c', 6, 'm8'),
    accepted('d', 5, 'm9'),
  ];
  const d = crashDuplicates(list, ['a', 'b', 'c', 'd', 'e'], procs, new Set(['m2', 'm6']));
  assert.deepEqual(
    { ...d, samples: d.samples.length },
    {
      unrecorded: 4,
      missed: 0,
      sameProcess: 0,
      unrecordedAtKill: 4,
      kills: [
        { unrecorded: 2, unrecordedAtKill: 2 },
        { unrecorded: 2, unrecordedAtKill: 2 },
      ],
      samples: 0,
    },
  );
});

test('several kills: a segment recorded by the first process and sent by the third is missed; a resend within the second is its own', () => {
  const procs = processesByConnection([2, 4]);
  const list = [accepted('a', 1, 'm1'), accepted('b', 2, 'm2'), accepted('b', 3, 'm3'), accepted('b', 4, 'm4'), accepted('a', 5, 'm5')];
  const d = crashDuplicates(list, ['a', 'b'], procs, new Set(['m1']));
  assert.equal(d.missed, 1, 'a: recorded at the first kill, sent again by process 2');
  assert.equal(d.unrecorded, 1, 'b: unrecorded at the first kill, resent by process 1');
  assert.equal(d.sameProcess, 1, 'b: process 1 sent it twice');
  assert.deepEqual(d.kills, [
    { unrecorded: 1, unrecordedAtKill: 1 },
    { unrecorded: 0, unrecordedAtKill: 2 },
  ]);
  assert.deepEqual(
    d.samples.map((s) => [s.cause, s.acceptances.map((a) => a.process)]),
    [
      ['missed', [0, 2]],
      ['sameProcess', [0, 1, 1]],
    ],
  );
});
