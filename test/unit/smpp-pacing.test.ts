// Invariant: no 1000 ms window ever holds more submit_sm than floor((1 − margin) × rate), a stall never
// produces a catch-up burst, and 0x58 lowers the pace, which then recovers gradually up to the cap.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { pacingLimit, SubmitPacer } from '../../src/smpp/protocol/pacing.js';

/** Max number of sends inside any 1000 ms window (t − 1000, t], as the simulator counts. */
function maxInAnyWindow(sends: number[], from = Number.NEGATIVE_INFINITY): number {
  let best = 0;
  let start = 0;
  const times = sends.filter((t) => t >= from);
  for (let end = 0; end < times.length; end += 1) {
    while ((times[end] as number) - (times[start] as number) >= 1000) start += 1;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

/** A greedy sender: sends whenever allowed; `stalls` inserts idle gaps after some sends. */
function runGreedy(pacer: SubmitPacer, count: number, stalls: Map<number, number>): number[] {
  const sends: number[] = [];
  let now = 0;
  for (let i = 0; i < count; i += 1) {
    now = pacer.nextSendAt(now);
    pacer.take(now);
    sends.push(now);
    now += stalls.get(i) ?? 0;
  }
  return sends;
}

describe('pacingLimit', () => {
  it('is floor((1 - margin) * rate), at least 1', () => {
    assert.equal(pacingLimit(100, 0.02), 98);
    assert.equal(pacingLimit(100, 0), 100);
    assert.equal(pacingLimit(50, 0.1), 45);
    assert.equal(pacingLimit(1, 0.5), 1);
    assert.throws(() => pacingLimit(0, 0.02), /rate/);
    assert.throws(() => pacingLimit(100, 1), /margin/);
  });
});

describe('SubmitPacer', () => {
  it('never exceeds the limit in any 1000 ms window (property, greedy sender with stalls)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.tuple(fc.nat(600), fc.integer({ min: 1, max: 5000 })), { maxLength: 10 }),
        (rate, margin, smoothing, stallList) => {
          const pacer = new SubmitPacer({ rate, margin, smoothing });
          const sends = runGreedy(pacer, 600, new Map(stallList));
          assert.ok(maxInAnyWindow(sends) <= pacer.cap, `window max ${maxInAnyWindow(sends)} > ${pacer.cap}`);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('holds the limit for arbitrary (not only greedy) send attempts', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 800 }), (gaps) => {
        const pacer = new SubmitPacer({ rate: 20, margin: 0 });
        const sends: number[] = [];
        let now = 0;
        for (const gap of gaps) {
          now += gap;
          if (pacer.canSend(now)) {
            pacer.take(now);
            sends.push(now);
          }
        }
        assert.ok(maxInAnyWindow(sends) <= 20);
      }),
    );
  });

  it('reaches the allowed rate under sustained load', () => {
    const pacer = new SubmitPacer({ rate: 100, margin: 0.02 });
    const sends = runGreedy(pacer, 980, new Map());
    const seconds = ((sends.at(-1) as number) - (sends[0] as number)) / 1000;
    assert.ok(980 / seconds >= 95, `rate ${980 / seconds}`);
  });

  it('does not catch up after a stall: the first 100 ms after a long pause stay smooth', () => {
    const pacer = new SubmitPacer({ rate: 100, margin: 0.02 });
    runGreedy(pacer, 200, new Map());
    const resumeAt = 1_000_000; // a long stall
    const sends: number[] = [];
    let now = resumeAt;
    for (let i = 0; i < 150; i += 1) {
      now = pacer.nextSendAt(now);
      pacer.take(now);
      sends.push(now);
    }
    const inFirst100 = sends.filter((t) => t < resumeAt + 100).length;
    // smoothing 0.8 → min gap ≈ 8.2 ms → at most 13 in 100 ms (a token bucket would allow 98 at once).
    assert.ok(inFirst100 <= 13, `burst of ${inFirst100}`);
    assert.ok(maxInAnyWindow(sends) <= 98);
  });

  it('slowDown halves the limit once per hold period, then recovers gradually to the cap', () => {
    const pacer = new SubmitPacer({ rate: 100, margin: 0.02, recoverQuietMs: 2000, recoverStepPerSecond: 0.1 });
    assert.equal(pacer.currentLimit(0), 98);
    assert.equal(pacer.slowDown(1000), true);
    assert.equal(pacer.currentLimit(1000), 49);
    assert.equal(pacer.slowDown(1500), false, 'a burst of 0x58 halves only once per second');
    assert.equal(pacer.currentLimit(2999), 49, 'quiet period before recovery');
    assert.equal(pacer.currentLimit(4000), 58, '+10 % of the cap per second');
    assert.equal(pacer.currentLimit(60_000), 98, 'never above the cap');
    assert.equal(pacer.slowDown(60_000), true);
    assert.equal(pacer.currentLimit(60_000), 49);
    assert.equal(pacer.slowDownCount(), 2);
  });

  it('slowDown follows what the SMSC accepted: a small step at our own pace, straight down to a slower SMSC', () => {
    const atOurPace = new SubmitPacer({ rate: 100, margin: 0.02 });
    const sends = runGreedy(atOurPace, 300, new Map());
    const t = sends.at(-1) as number;
    atOurPace.slowDown(t);
    const afterStep = atOurPace.currentLimit(t);
    assert.ok(afterStep >= 90 && afterStep < 98, `one 0x58 at full pace lowers 98 to ${afterStep}, not to 49`);
    // An SMSC that takes 50/s: we had sent 51 in the last second when it refused.
    const slowSmsc = new SubmitPacer({ rate: 100, margin: 0.02 });
    for (let i = 0; i < 51; i += 1) slowSmsc.take(10_000 + i * 19);
    slowSmsc.slowDown(11_000);
    assert.ok(slowSmsc.currentLimit(11_000) <= 50, `limit ${slowSmsc.currentLimit(11_000)} ≤ the SMSC's 50`);
  });

  it('after slowDown, windows that start after it hold at most the reduced limit', () => {
    const pacer = new SubmitPacer({ rate: 100, margin: 0, recoverQuietMs: 5000 });
    runGreedy(pacer, 300, new Map());
    const t = pacer.nextSendAt(10_000);
    pacer.slowDown(t);
    const sends: number[] = [];
    let now = t;
    for (let i = 0; i < 150; i += 1) {
      now = pacer.nextSendAt(now);
      pacer.take(now);
      sends.push(now);
    }
    const within = sends.filter((s) => s < t + 4000);
    assert.ok(maxInAnyWindow(within, t) <= 50, `max ${maxInAnyWindow(within, t)}`);
  });

  it('a stall at the SMSC does not bunch into its next window: sends are counted when the SMSC had them (answered)', () => {
    // Greedy sender at 98/s; the SMSC takes each submit 1 ms after it is sent and answers at once,
    // but now and then its process stalls 30 ms and takes the queued submits together (TCP keeps
    // them in order). Counted where the SMSC counts, the arrivals must stay within its 100/s.
    const arrivalsWith = (feedback: boolean): number[] => {
      const pacer = new SubmitPacer({ rate: 100, margin: 0.02 });
      const arrivals: number[] = [];
      let now = 0;
      let lastArrival = 0;
      for (let i = 0; i < 3000; i += 1) {
        now = pacer.nextSendAt(now);
        const send = pacer.take(now);
        let arrival = Math.max(now + 1, lastArrival);
        const second = Math.floor(arrival / 1000);
        const stallStart = second * 1000 + 400;
        if (second % 3 === 0 && arrival >= stallStart && arrival < stallStart + 30) arrival = stallStart + 30;
        lastArrival = arrival;
        arrivals.push(arrival);
        if (feedback) pacer.answered(send, now, arrival + 1);
      }
      return arrivals;
    };
    assert.ok(maxInAnyWindow(arrivalsWith(false)) > 100, 'the model is sharp: without the answers the SMSC counts over 100');
    assert.ok(maxInAnyWindow(arrivalsWith(true)) <= 100, `with the answers: ${maxInAnyWindow(arrivalsWith(true))} in the SMSC's window`);
  });

  it('answered never lets a window of send times hold more than the limit (property: random answer delays)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 80 }), { minLength: 200, maxLength: 400 }), (delays) => {
        const pacer = new SubmitPacer({ rate: 100, margin: 0.02 });
        const sends: number[] = [];
        let now = 0;
        for (const delay of delays) {
          now = pacer.nextSendAt(now);
          const send = pacer.take(now);
          sends.push(now);
          pacer.answered(send, now, now + delay);
        }
        assert.ok(maxInAnyWindow(sends) <= pacer.cap, `window max ${maxInAnyWindow(sends)}`);
      }),
      { numRuns: 100 },
    );
  });

  it('never goes below minLimit', () => {
    const pacer = new SubmitPacer({ rate: 10, margin: 0, minLimit: 2, slowDownHoldMs: 0 });
    for (let i = 0; i < 10; i += 1) pacer.slowDown(i);
    assert.equal(pacer.currentLimit(10), 2);
  });
});
