import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { destinationAddress, senderAddress } from '../../src/sms/address.js';

describe('address', () => {
  test('senders follow the provider rules: numeric ≤ 16 chars → TON 1/NPI 1 without +, alphanumeric ≤ 11 → TON 5/NPI 0', () => {
    const valid: Array<[string, string, number, number]> = [
      ['+391234567890123', '391234567890123', 1, 1], // the seed's example, 16 characters
      ['1234567890123456', '1234567890123456', 1, 1],
      ['12345', '12345', 1, 1],
      ['00391234567890', '391234567890', 1, 1], // the international dialling prefix, as for destinations
      ['COMPANY ABC', 'COMPANY ABC', 5, 0], // the seed's example, 11 characters with a space
      ['Shop24', 'Shop24', 5, 0],
      ['  ACME  ', 'ACME', 5, 0],
      ['A-B.C&D', 'A-B.C&D', 5, 0],
    ];
    for (const [from, addr, ton, npi] of valid) {
      assert.deepEqual(senderAddress(from), { ok: true, address: { addr, ton, npi } }, from);
    }
  });

  test('invalid senders are rejected with a reason that says why, never repeating the sender (a number is personal data)', () => {
    const invalid: Array<[string, RegExp]> = [
      ['', /empty/],
      ['   ', /empty/],
      ['+3912345678901234', /17 characters; at most 16/],
      ['12345678901234567', /at most 16/],
      ['COMPANY ABCD', /12 characters; at most 11/],
      ['Café', /U\+00E9, not allowed/],
      ['A{B}', /U\+007B, not allowed/],
      ['Shop😀', /U\+1F600, not allowed/],
      ['+39 347 123~4567', /U\+007E, not allowed/],
    ];
    for (const [from, reason] of invalid) {
      const r = senderAddress(from);
      assert.equal(r.ok, false, from);
      if (!r.ok) {
        assert.match(r.reason, reason, from);
        if (from.trim().length > 3) assert.ok(!r.reason.includes(from.trim()), r.reason);
        assert.ok(!/\d{5}/.test(r.reason.replace(/U\+[0-9A-F]+/, '')), `no run of digits: ${r.reason}`);
      }
    }
  });

  test('destinations are normalised to 8–15 digits, TON 1/NPI 1; +, 00, spaces, dashes, dots, parentheses tolerated', () => {
    const valid: Array<[string, string]> = [
      ['+391234567890', '391234567890'],
      ['00391234567890', '391234567890'],
      ['+39 123 456 7890', '391234567890'],
      ['+1 (555) 123-4567', '15551234567'],
      ['39.123.456.7890', '391234567890'],
      ['12345678', '12345678'],
      ['123456789012345', '123456789012345'],
    ];
    for (const [to, addr] of valid) {
      assert.deepEqual(destinationAddress(to), { ok: true, address: { addr, ton: 1, npi: 1 } }, to);
    }
  });

  test('invalid destinations are rejected, and the reason never repeats the number (logs mask numbers)', () => {
    const invalid: Array<[string, RegExp]> = [
      ['', /empty/],
      ['+', /empty/],
      ['1234567', /7 digits/],
      ['1234567890123456', /16 digits/],
      ['+39abc4567890', /not a phone number/],
      ['+39+1234567890', /not a phone number/],
    ];
    for (const [to, reason] of invalid) {
      const r = destinationAddress(to);
      assert.equal(r.ok, false, to);
      if (!r.ok) {
        assert.match(r.reason, reason, to);
        if (to.length > 3) assert.ok(!r.reason.includes(to), r.reason);
      }
    }
  });
});
