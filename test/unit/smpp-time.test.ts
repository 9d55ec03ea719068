import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { addRelativeTime, formatAbsoluteTime, formatRelativeTime, optionalAbsoluteTime, parseSmppTime, resolveSmppTime } from '../../src/sms/smpp-time.js';

describe('smpp-time', () => {
  test('absolute times are 16 characters YYMMDDhhmmsstnnp in UTC with tenths', () => {
    assert.equal(formatAbsoluteTime(Date.UTC(2026, 10, 25, 12, 0, 0)), '261125120000000+');
    assert.equal(formatAbsoluteTime(new Date(Date.UTC(2026, 3, 8, 14, 30, 52, 789))), '260408143052700+');
    assert.equal(optionalAbsoluteTime(null), '');
  });

  test('parse(format(t)) == t truncated to tenths, for any time in 2000–2099', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2099, 11, 31, 23, 59, 59, 999) }), (ms) => {
        const s = formatAbsoluteTime(ms);
        assert.equal(s.length, 16);
        const parsed = parseSmppTime(s);
        assert.deepEqual(parsed, { ok: true, time: { kind: 'absolute', epochMs: ms - (ms % 100) } });
      }),
    );
  });

  test('a UTC offset in quarter hours is honoured: 14:00 at +04 (8 quarters) is 12:00 UTC', () => {
    assert.deepEqual(parseSmppTime('261125140000008+'), { ok: true, time: { kind: 'absolute', epochMs: Date.UTC(2026, 10, 25, 12) } });
    assert.deepEqual(parseSmppTime('261125100000008-'), { ok: true, time: { kind: 'absolute', epochMs: Date.UTC(2026, 10, 25, 12) } });
  });

  test('relative times round-trip as days/hours/minutes/seconds ending in 000R', () => {
    const ms = ((2 * 24 + 3) * 60 + 4) * 60_000 + 5_000;
    const s = formatRelativeTime(ms);
    assert.equal(s, '000002030405000R');
    const parsed = parseSmppTime(s);
    assert.ok(parsed.ok && parsed.time?.kind === 'relative');
    assert.equal(resolveSmppTime(parsed.time, 1_000_000), 1_000_000 + ms);
    assert.throws(() => formatRelativeTime(100 * 86_400_000), RangeError);
  });

  test('relative months and years use the calendar', () => {
    const rel = { years: 1, months: 1, days: 0, hours: 0, minutes: 0, seconds: 0 };
    assert.equal(addRelativeTime(Date.UTC(2026, 0, 15), rel), Date.UTC(2027, 1, 15));
  });

  test('malformed or impossible times are rejected with a reason (what the simulator answers 0x61/0x62 for)', () => {
    for (const s of [
      '2611251200000',
      '20261125120000',
      '261325120000000+',
      '261131120000000+',
      '261125250000000+',
      '261125120000049+',
      '000001000000100R',
      'abcdefghijklmnop',
    ]) {
      assert.equal(parseSmppTime(s).ok, false, s);
    }
    assert.deepEqual(parseSmppTime(''), { ok: true, time: null });
  });
});
