import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { PartitionOffsets } from '../../src/kafka/offsets.js';

describe('offsets', () => {
  test('the commit point is the lowest unfinished offset, whatever order records finish in', () => {
    const t = new PartitionOffsets();
    for (const o of ['10', '11', '12', '13']) t.track(o);
    assert.equal(t.committable(), '10');
    t.finish('12');
    assert.equal(t.committable(), '10');
    t.finish('10');
    assert.equal(t.committable(), '11');
    t.finish('11');
    assert.equal(t.committable(), '13');
    t.finish('13');
    assert.equal(t.committable(), '14');
    assert.equal(t.pendingCount(), 0);
  });

  test('nothing tracked → null; committed offsets are not offered again', () => {
    const t = new PartitionOffsets();
    assert.equal(t.committable(), null);
    t.track('5');
    t.finish('5');
    assert.equal(t.committable(), '6');
    t.markCommitted('6');
    assert.equal(t.committable(), null);
    t.track('9'); // gap 6–8 (compaction, transaction markers) is fine
    assert.equal(t.committable(), '9');
  });

  test('int64 offsets beyond 2^53 stay exact', () => {
    const t = new PartitionOffsets();
    t.track('9223372036854775805');
    t.finish('9223372036854775805');
    assert.equal(t.committable(), '9223372036854775806');
  });

  test('misuse throws: descending track, finishing twice or something never tracked', () => {
    const t = new PartitionOffsets();
    t.track('3');
    assert.throws(() => t.track('3'), RangeError);
    assert.throws(() => t.track('2'), RangeError);
    assert.throws(() => t.finish('4'), RangeError);
    t.finish('3');
    assert.throws(() => t.finish('3'), RangeError);
    assert.throws(() => t.track('-1'), RangeError);
  });

  test('property: committable never passes an unfinished offset, and reaches last + 1 once all finish', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 300, size: 'max' }),
        fc.infiniteStream(fc.nat()),
        fc.nat({ max: 1_000_000 }),
        (gaps, picks, startOffset) => {
          const t = new PartitionOffsets();
          const offsets: bigint[] = [];
          let next = BigInt(startOffset);
          for (const gap of gaps) offsets.push((next += BigInt(gap)));
          const pending = new Set<bigint>();
          let tracked = 0;
          let lastSeen = -1n;
          const pick = picks[Symbol.iterator]();
          while (tracked < offsets.length || pending.size > 0) {
            const r = pick.next().value as number;
            // Interleave: sometimes take the next record, sometimes finish a random pending one.
            if (tracked < offsets.length && (pending.size === 0 || r % 2 === 0)) {
              const o = offsets[tracked++] as bigint;
              t.track(o.toString());
              pending.add(o);
            } else {
              const list = [...pending];
              const o = list[r % list.length] as bigint;
              t.finish(o);
              pending.delete(o);
            }
            const c = t.committable();
            if (c !== null) {
              const commit = BigInt(c);
              for (const p of pending) assert.ok(commit <= p, `commit ${commit} passes unfinished ${p}`);
              assert.ok(commit >= lastSeen, 'the commit point never moves back');
              lastSeen = commit;
              if (r % 3 === 0) t.markCommitted(c);
            }
          }
          const last = offsets[offsets.length - 1] as bigint;
          assert.equal(BigInt(t.committable() ?? lastSeen.toString()), last + 1n);
          assert.equal(t.pendingCount(), 0);
        },
      ),
    );
  });
});
