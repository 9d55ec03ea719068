// Invariant: reconnect delays grow exponentially within [min/2, max], carry jitter, and reset after stability.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Backoff, jitteredLongDelay } from '../../src/smpp/backoff.js';

describe('Backoff', () => {
  it('stays within [ceiling/2, ceiling] with ceiling = min(max, min·2^n)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 60_000 }), fc.double({ min: 0, max: 0.999, noNaN: true }), (minMs, maxMs, r) => {
        const backoff = new Backoff({ minMs, maxMs, random: () => r });
        const cap = Math.max(minMs, maxMs);
        for (let n = 0; n < 40; n += 1) {
          const ceiling = Math.min(cap, minMs * 2 ** n);
          const delay = backoff.next();
          assert.ok(delay >= Math.floor(ceiling / 2) && delay <= Math.ceil(ceiling), `${delay} vs ${ceiling}`);
        }
      }),
    );
  });

  it('first delay ≤ min, cap reached, reset starts over', () => {
    const backoff = new Backoff({ minMs: 500, maxMs: 30_000, random: () => 0.999 });
    assert.ok(backoff.next() <= 500);
    for (let i = 0; i < 20; i += 1) backoff.next();
    assert.ok(backoff.next() <= 30_000);
    backoff.reset();
    assert.equal(backoff.attempts(), 0);
    assert.ok(backoff.next() <= 500);
  });

  it('long delay has ±20 % jitter', () => {
    assert.equal(jitteredLongDelay(60_000, () => 0), 48_000);
    assert.equal(jitteredLongDelay(60_000, () => 1), 72_000);
  });
});
