// Invariant: every retry delay is min(max, initial·2^attempt) scaled into its jitter range — reconnect
// delays within [min/2, max] that reset after stability, ±20 % spreads, exact pauses without jitter.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Backoff, EQUAL_JITTER, NO_JITTER, SPREAD_JITTER, backoffDelayMs, jitteredLongDelay, type Jitter } from '../../src/util/backoff.js';

describe('backoffDelayMs', () => {
  it('any policy, attempt and random draw: within [low, high] × min(max, initial·2^attempt)', () => {
    const jitterArb = fc.constantFrom<Jitter>(NO_JITTER, EQUAL_JITTER, SPREAD_JITTER);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        jitterArb,
        fc.integer({ min: 0, max: 10_000 }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (initialMs, maxMs, jitter, attempt, r) => {
          const nominal = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
          const delay = backoffDelayMs({ initialMs, maxMs, jitter }, attempt, () => r);
          assert.ok(Number.isFinite(delay));
          assert.ok(delay >= Math.floor(nominal * jitter[0]) && delay <= Math.ceil(nominal * jitter[1]), `${delay} vs ${nominal}`);
        },
      ),
    );
  });

  it('grows monotonically with the attempt at a fixed draw, and a negative attempt is the first', () => {
    const policy = { initialMs: 200, maxMs: 5000, jitter: NO_JITTER };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 40].map((n) => backoffDelayMs(policy, n)),
      [200, 400, 800, 1600, 3200, 5000, 5000, 5000],
    );
    assert.equal(backoffDelayMs(policy, -3), 200);
  });
});

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
    assert.equal(
      jitteredLongDelay(60_000, () => 0),
      48_000,
    );
    assert.equal(
      jitteredLongDelay(60_000, () => 1),
      72_000,
    );
  });
});
