import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { GSM7_BASIC_CHARS, GSM7_EXTENSION_CHARS, gsm7Length, isGsm7 } from '../../src/sms/gsm7.js';
import { SEGMENT_CAPACITY, planMessage, reassemble, splitUdh, type Encoding, type MessagePlan, type SmsRequest } from '../../src/sms/plan.js';

const base: SmsRequest = {
  id: 'req-1',
  from: 'ACME',
  to: '+39 123 456 7890',
  text: 'Hello',
  encoding: 'AUTO',
  requestDeliveryReport: true,
  scheduleAt: null,
  validUntil: null,
};
const opts = { maxSegments: 255, referenceNumber: 0x2a, now: Date.UTC(2026, 0, 1) };

function planOf(req: Partial<SmsRequest>, o: Partial<typeof opts> = {}): MessagePlan {
  const r = planMessage({ ...base, ...req }, { ...opts, ...o });
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.plan;
}

/** Octets a segment takes on the air interface: GSM septets are packed, the UDH is padded to a septet boundary. */
function airOctets(shortMessage: Buffer, esmClass: number, encoding: Encoding): number {
  if (encoding === 'UCS2') return shortMessage.length;
  const udhOctets = esmClass & 0x40 ? (shortMessage[0] ?? 0) + 1 : 0;
  const septets = Math.ceil((udhOctets * 8) / 7) + (shortMessage.length - udhOctets);
  return Math.ceil((septets * 7) / 8);
}

/** Indivisible unit sizes, computed independently of the planner. */
function unitSizes(text: string, encoding: Encoding): number[] {
  return [...text].map((ch) => (encoding === 'GSM7' ? (gsm7Length(ch) ?? 0) : ch.length * 2));
}

/** Minimal part count by dynamic programming (not greedy), to check the planner's greedy fill. */
function minimalParts(sizes: number[], capacity: number): number {
  const dp = new Array<number>(sizes.length + 1).fill(Infinity);
  dp[0] = 0;
  for (let i = 1; i <= sizes.length; i++) {
    let used = 0;
    for (let j = i; j >= 1; j--) {
      used += sizes[j - 1] ?? 0;
      if (used > capacity) break;
      dp[i] = Math.min(dp[i] ?? Infinity, (dp[j - 1] ?? Infinity) + 1);
    }
  }
  return dp[sizes.length] ?? Infinity;
}

const gsmUnit = fc.constantFrom(...GSM7_BASIC_CHARS, ...GSM7_EXTENSION_CHARS);
const otherUnit = fc.oneof(fc.constantFrom('😀', '👍🏽', '𝄞', 'ç', 'ж', '中', 'á', '\u200d'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
const anyText = fc.oneof(
  fc.string({ unit: gsmUnit, minLength: 1, maxLength: 2000, size: 'max' }),
  fc.string({ unit: fc.oneof({ weight: 4, arbitrary: gsmUnit }, { weight: 1, arbitrary: otherUnit }), minLength: 1, maxLength: 2000, size: 'max' }),
  fc.string({ unit: fc.constantFrom('€', '😀', 'a', '{'), minLength: 1, maxLength: 2000, size: 'max' }),
);

describe('plan', () => {
  test('a short GSM text is one segment, data_coding 0, no UDH, with normalised addresses and receipt requested', () => {
    const p = planOf({});
    assert.equal(p.encoding, 'GSM7');
    assert.equal(p.dataCoding, 0x00);
    assert.deepEqual(p.source, { addr: 'ACME', ton: 5, npi: 0 });
    assert.deepEqual(p.destination, { addr: '391234567890', ton: 1, npi: 1 });
    assert.equal(p.registeredDelivery, 0x01);
    assert.equal(p.scheduleDeliveryTime, '');
    assert.equal(p.validityPeriod, '');
    assert.deepEqual(p.segments, [{ seq: 1, total: 1, shortMessage: Buffer.from('Hello'), esmClass: 0 }]);
  });

  test('size boundaries: GSM 160 single / 161 → 2 parts; € counts 2; UCS-2 70 single / 71 → 2 parts; 😀 counts 2 units', () => {
    const cases: Array<[string, Encoding, number]> = [
      ['a'.repeat(160), 'GSM7', 1],
      ['a'.repeat(161), 'GSM7', 2],
      ['€'.repeat(80), 'GSM7', 1],
      ['€'.repeat(81), 'GSM7', 2],
      ['a'.repeat(306), 'GSM7', 2],
      ['a'.repeat(307), 'GSM7', 3],
      ['ж'.repeat(70), 'UCS2', 1],
      ['ж'.repeat(71), 'UCS2', 2],
      ['😀'.repeat(35), 'UCS2', 1],
      ['😀'.repeat(36), 'UCS2', 2],
      ['ж'.repeat(134), 'UCS2', 2],
      ['ж'.repeat(135), 'UCS2', 3],
    ];
    for (const [text, encoding, count] of cases) {
      const p = planOf({ text });
      assert.equal(p.encoding, encoding, text.slice(0, 3));
      assert.equal(p.segments.length, count, `${text.slice(0, 2)}×${[...text].length}`);
    }
  });

  test('an escape pair is never split: 152 a + € moves the whole € to part 2', () => {
    const p = planOf({ text: 'a'.repeat(152) + '€' + 'b'.repeat(10) });
    const first = p.segments[0]?.shortMessage;
    assert.ok(first);
    assert.equal(first.length, 6 + 152);
    assert.notEqual(first[first.length - 1], 0x1b);
  });

  test('UDH is 05 00 03 ref total seq with esm_class 0x40 on every part of a multipart message', () => {
    const p = planOf({ text: 'x'.repeat(400) }, { referenceNumber: 200 });
    assert.equal(p.segments.length, 3);
    p.segments.forEach((s, i) => {
      assert.deepEqual([...s.shortMessage.subarray(0, 6)], [0x05, 0x00, 0x03, 200, 3, i + 1]);
      assert.equal(s.esmClass, 0x40);
      assert.equal(s.seq, i + 1);
      assert.equal(s.total, 3);
    });
  });

  test('UCS-2 is UTF-16BE with surrogate pairs kept together', () => {
    const p = planOf({ text: 'ж😀' });
    assert.equal(p.dataCoding, 0x08);
    assert.deepEqual([...(p.segments[0]?.shortMessage ?? [])], [0x04, 0x36, 0xd8, 0x3d, 0xde, 0x00]);
  });

  test('validation errors name the field: sender, destination, empty text, forced GSM7, too many segments, validity', () => {
    const cases: Array<[Partial<SmsRequest>, number, string, RegExp]> = [
      [{ from: 'COMPANY ABCD' }, 10, 'from', /at most 11/],
      [{ to: '12' }, 10, 'to', /digits/],
      [{ text: '' }, 10, 'text', /empty/],
      [{ text: 'Ciao ç', encoding: 'GSM7' }, 10, 'encoding', /U\+00E7/],
      [{ text: 'a'.repeat(154 * 2) }, 2, 'text', /3 segments in GSM7; at most 2/],
      [{ scheduleAt: Date.UTC(2026, 1, 1), validUntil: Date.UTC(2026, 0, 31) }, 10, 'validUntil', /after scheduleAt/],
      [{ validUntil: Date.UTC(2100, 0, 1) }, 10, 'validUntil', /year 2100 cannot be sent/],
      [{ scheduleAt: Date.UTC(2150, 5, 1) }, 10, 'scheduleAt', /year 2150 cannot be sent/],
      [{ validUntil: 9e15 }, 10, 'validUntil', /not a valid time/],
    ];
    for (const [req, maxSegments, field, reason] of cases) {
      const r = planMessage({ ...base, ...req }, { ...opts, maxSegments });
      assert.equal(r.ok, false, JSON.stringify(req).slice(0, 60));
      if (!r.ok) {
        assert.equal(r.field, field);
        assert.match(r.reason, reason);
      }
    }
  });

  test('UCS2 forced on GSM text is honoured; no receipt → registered_delivery 0; times as SMPP absolute; past schedule → now', () => {
    const p = planOf({ text: 'Hi', encoding: 'UCS2', requestDeliveryReport: false, scheduleAt: Date.UTC(2026, 0, 2), validUntil: Date.UTC(2026, 0, 3) });
    assert.equal(p.encoding, 'UCS2');
    assert.equal(p.registeredDelivery, 0);
    assert.equal(p.scheduleDeliveryTime, '260102000000000+');
    assert.equal(p.validityPeriod, '260103000000000+');
    assert.equal(planOf({ scheduleAt: opts.now - 1 }).scheduleDeliveryTime, '');
  });

  test('bad options from our own code throw (they are bugs, not producer errors)', () => {
    assert.throws(() => planMessage(base, { maxSegments: 0, referenceNumber: 0 }), RangeError);
    assert.throws(() => planMessage(base, { maxSegments: 10, referenceNumber: 256 }), RangeError);
  });

  test('property: for any text ≤ 2000 chars, reassembly is exact, each part fits 140 air octets, the count is minimal, no pair is split, UDH is right', () => {
    fc.assert(
      fc.property(anyText, fc.integer({ min: 0, max: 255 }), (text, ref) => {
        const r = planMessage({ ...base, text }, { ...opts, referenceNumber: ref });
        assert.ok(r.ok, r.ok ? '' : r.reason);
        const { plan } = r;
        const { segments, encoding } = plan;
        assert.equal(encoding, isGsm7(text) ? 'GSM7' : 'UCS2', 'AUTO picks GSM7 exactly when every char fits');
        assert.equal(reassemble(segments, encoding), text);
        assert.equal(reassemble([...segments].reverse(), encoding), text, 'order comes from the UDH');

        const sizes = unitSizes(text, encoding);
        const total = sizes.reduce((a, b) => a + b, 0);
        const cap = SEGMENT_CAPACITY[encoding];
        const expected = total <= cap.single ? 1 : minimalParts(sizes, cap.multipart);
        assert.equal(segments.length, expected, 'minimal segment count');

        for (const s of segments) {
          assert.ok(airOctets(s.shortMessage, s.esmClass, encoding) <= 140, 'fits one SMS on the air');
          assert.ok(s.shortMessage.length <= (encoding === 'GSM7' ? 160 : 140), 'short_message size');
          const payload = segments.length === 1 ? s.shortMessage : Buffer.from(splitUdh(s.shortMessage).payload);
          if (encoding === 'GSM7') {
            assert.notEqual(payload[payload.length - 1], 0x1b, 'escape pair split');
          } else {
            const lastUnit = payload.readUInt16BE(payload.length - 2);
            assert.ok(lastUnit < 0xd800 || lastUnit > 0xdbff, 'surrogate pair split');
          }
          if (segments.length === 1) {
            assert.equal(s.esmClass, 0);
          } else {
            assert.equal(s.esmClass, 0x40);
            assert.deepEqual([...s.shortMessage.subarray(0, 6)], [5, 0, 3, ref, segments.length, s.seq]);
          }
        }
        assert.deepEqual(
          segments.map((s) => s.seq),
          segments.map((_, i) => i + 1),
        );
      }),
      { numRuns: 200 },
    );
  });
});
