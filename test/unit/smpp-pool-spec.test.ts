// Invariant: a session spec parses to at most maxBinds binds, invalid specs fail with a clear message,
// truncated slot sets keep both directions, and key hashing is deterministic.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkSessionSpec, fnv1a, formatSessionSpec, modesForSlots, parseSessionSpec, slotModes } from '../../src/smpp/protocol/pool-spec.js';

describe('parseSessionSpec', () => {
  it('parses single and mixed specs', () => {
    assert.deepEqual(parseSessionSpec('trx:4'), [{ mode: 'trx', count: 4 }]);
    assert.deepEqual(parseSessionSpec(' TX:2 , rx:2 '), [
      { mode: 'tx', count: 2 },
      { mode: 'rx', count: 2 },
    ]);
  });

  it('rejects bad specs with a message naming the problem', () => {
    assert.throws(() => parseSessionSpec(''), /empty/);
    assert.throws(() => parseSessionSpec('trx:4,foo'), /tx:2,rx:2/);
    assert.throws(() => parseSessionSpec('trx'), /mode:count/);
    assert.throws(() => parseSessionSpec('foo:1'), /mode:count/);
    assert.throws(() => parseSessionSpec('trx:0'), /1\.\.64/);
    assert.throws(() => parseSessionSpec('tx:1,tx:2'), /twice/);
    assert.throws(() => parseSessionSpec('rx:2'), /tx or trx/);
    assert.throws(() => parseSessionSpec('trx:5', 4), /allows 4/);
  });
});

describe('slots', () => {
  it('trx first, then tx and rx interleaved, whatever the order written', () => {
    assert.deepEqual(slotModes(parseSessionSpec('tx:2,rx:2')), ['tx', 'rx', 'tx', 'rx']);
    assert.deepEqual(slotModes(parseSessionSpec('rx:2,tx:2')), ['tx', 'rx', 'tx', 'rx']);
    assert.deepEqual(slotModes(parseSessionSpec('tx:1,trx:1,rx:1')), ['trx', 'tx', 'rx']);
    assert.deepEqual(slotModes(parseSessionSpec('rx:1,tx:2,trx:2')), ['trx', 'trx', 'tx', 'rx', 'tx']);
  });

  it('checks parsed entries the same way, and the text form round-trips', () => {
    assert.throws(() => checkSessionSpec([{ mode: 'trx', count: 0 }]), /1\.\.64/);
    assert.throws(() => checkSessionSpec([{ mode: 'rx', count: 1 }]), /tx or trx/);
    assert.throws(
      () =>
        checkSessionSpec(
          [
            { mode: 'tx', count: 3 },
            { mode: 'rx', count: 2 },
          ],
          4,
        ),
      /asks for 5 binds/,
    );
    assert.equal(formatSessionSpec(parseSessionSpec(' TX:2 , rx:2 ')), 'tx:2,rx:2');
  });

  it('a truncated slot set can always submit, and receives when the spec receives', () => {
    fc.assert(
      fc.property(fc.nat(4), fc.nat(4), fc.nat(4), fc.integer({ min: 1, max: 12 }), (tx, rx, trx, n) => {
        fc.pre(tx + trx > 0);
        const parts = [tx && `tx:${tx}`, rx && `rx:${rx}`, trx && `trx:${trx}`].filter(Boolean).join(',');
        const entries = parseSessionSpec(parts);
        const modes = modesForSlots(entries, n);
        assert.equal(modes.length, Math.min(n, tx + rx + trx));
        assert.ok(modes.some((m) => m !== 'rx'));
        if (rx + trx > 0) assert.ok(modes.some((m) => m !== 'tx'));
      }),
    );
  });
});

describe('fnv1a', () => {
  it('is deterministic and spreads keys', () => {
    assert.equal(fnv1a('abc'), fnv1a('abc'));
    const buckets = new Set(Array.from({ length: 100 }, (_, i) => fnv1a(`key-${i}`) % 4));
    assert.equal(buckets.size, 4);
  });
});
