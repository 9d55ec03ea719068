import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { GSM7_BASIC_CHARS, GSM7_EXTENSION_CHARS, decodeGsm7, encodeGsm7, firstNonGsm7, gsm7Length, gsm7Septets, isGsm7 } from '../../src/sms/gsm7.js';

const gsmChar = fc.constantFrom(...GSM7_BASIC_CHARS, ...GSM7_EXTENSION_CHARS);

describe('gsm7', () => {
  test('the tables hold exactly GSM 03.38: 127 basic characters (escape excluded) and 10 extension characters', () => {
    assert.equal(GSM7_BASIC_CHARS.length, 127);
    assert.equal(new Set(GSM7_BASIC_CHARS).size, 127);
    assert.deepEqual([...GSM7_EXTENSION_CHARS].sort(), ['\f', '^', '{', '}', '\\', '[', '~', ']', '|', '€'].sort());
  });

  test('well-known septet values are right (spot checks against TS 23.038)', () => {
    const cases: Array<[string, number[]]> = [
      ['@', [0x00]],
      ['£', [0x01]],
      ['$', [0x02]],
      ['\n', [0x0a]],
      ['_', [0x11]],
      ['Δ', [0x10]],
      ['É', [0x1f]],
      [' ', [0x20]],
      ['¤', [0x24]],
      ['A', [0x41]],
      ['¡', [0x40]],
      ['§', [0x5f]],
      ['¿', [0x60]],
      ['à', [0x7f]],
      ['€', [0x1b, 0x65]],
      ['{', [0x1b, 0x28]],
      ['}', [0x1b, 0x29]],
      ['[', [0x1b, 0x3c]],
      [']', [0x1b, 0x3e]],
      ['~', [0x1b, 0x3d]],
      ['\\', [0x1b, 0x2f]],
      ['^', [0x1b, 0x14]],
      ['|', [0x1b, 0x40]],
      ['\f', [0x1b, 0x0a]],
    ];
    for (const [ch, septets] of cases) assert.deepEqual([...encodeGsm7(ch)], septets, JSON.stringify(ch));
  });

  test('extension characters cost 2 septets, basic ones 1, others are not representable', () => {
    for (const ch of GSM7_EXTENSION_CHARS) assert.equal(gsm7Septets(ch), 2, ch);
    for (const ch of GSM7_BASIC_CHARS) assert.equal(gsm7Septets(ch), 1, ch);
    for (const ch of ['ç', '`', 'á', '😀', 'ж', '\u001b', '\t']) assert.equal(gsm7Septets(ch), null, ch);
  });

  test('isGsm7 rejects any text with one character outside the alphabet and names that character', () => {
    assert.equal(isGsm7('Hello {world} €5 @home'), true);
    assert.equal(isGsm7('Ciao ç'), false);
    assert.equal(isGsm7('smile 😀'), false);
    assert.equal(firstNonGsm7('abc😀ç'), '😀');
    assert.equal(firstNonGsm7('abc'), null);
  });

  test('encoding a non-GSM character throws instead of substituting', () => {
    assert.throws(() => encodeGsm7('café ç'), RangeError);
  });

  test('the unit ends a segment may be cut at lie after each character, an escape and its code together', () => {
    const ends: number[] = [];
    assert.deepEqual([...encodeGsm7('a€b', ends)], [0x61, 0x1b, 0x65, 0x62]);
    assert.deepEqual(ends, [1, 3, 4]);
  });

  test('decode(encode(text)) == text for any GSM text, and its length equals the septet count', () => {
    fc.assert(
      fc.property(fc.string({ unit: gsmChar, maxLength: 400, size: 'max' }), (text) => {
        const septets = encodeGsm7(text);
        assert.equal(septets.length, gsm7Length(text));
        assert.ok(septets.every((b) => b <= 0x7f));
        assert.equal(decodeGsm7(septets), text);
      }),
    );
  });

  test('checks per code unit agree with a per-code-point reference on mixed text (emoji, lone surrogates, Latin-1)', () => {
    const anyChar = fc.oneof(
      gsmChar,
      fc.constantFrom('ç', '`', 'á', 'ж', '\t', '\u001b', '😀', '\ud800', '\udc00', '€'),
      fc.string({ unit: 'binary', maxLength: 1 }),
    );
    fc.assert(
      fc.property(fc.string({ unit: anyChar, maxLength: 80 }), (text) => {
        const points = [...text]; // code points: a surrogate pair is one, a lone surrogate one too
        const costs = points.map((ch) => gsm7Septets(ch));
        const firstBad = points.find((ch) => gsm7Septets(ch) === null) ?? null;
        assert.equal(isGsm7(text), firstBad === null);
        assert.equal(firstNonGsm7(text), firstBad);
        assert.equal(gsm7Length(text), firstBad === null ? costs.reduce<number>((n, c) => n + c!, 0) : null);
        if (firstBad === null) assert.equal(encodeGsm7(text).length, gsm7Length(text));
        else assert.throws(() => encodeGsm7(text), RangeError);
      }),
      { numRuns: 2000 },
    );
  });

  test('decoding is lenient: unknown escape shows the basic character, trailing lone escape is dropped', () => {
    assert.equal(decodeGsm7(Uint8Array.from([0x1b, 0x41])), 'A');
    assert.equal(decodeGsm7(Uint8Array.from([0x41, 0x1b])), 'A');
  });
});
