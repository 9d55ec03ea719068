import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  SUBMIT_ACTIONS,
  SUBMIT_CATEGORIES,
  SUBMIT_STATUS_TABLE,
  SUBMIT_TIMEOUT,
  formatHex,
  submitStatus,
  type SubmitAction,
} from '../../src/smpp/protocol/status.js';

describe('submit status table', () => {
  test('every row uses the closed category and action lists, its key, its hex and a SMPP-style name', () => {
    for (const [code, s] of SUBMIT_STATUS_TABLE) {
      assert.equal(s.code, code);
      assert.equal(s.hex, formatHex(code));
      assert.ok(SUBMIT_CATEGORIES.includes(s.category), s.hex);
      assert.ok(SUBMIT_ACTIONS.includes(s.action), s.hex);
      assert.match(s.name, /^(ESME_R|AGILE_)[A-Z_]+$/, s.hex);
      assert.ok(s.description.length > 0, s.hex);
      assert.equal(s.retryable, s.action !== 'permanent', s.hex);
      assert.equal(s.ambiguous, false, s.hex);
      if (s.action !== 'permanent') assert.ok(typeof s.retryDelayMs === 'number' && s.retryDelayMs >= 0, `${s.hex} needs a delay`);
      assert.ok(Object.isFrozen(s), s.hex);
    }
  });

  test('all standard SMPP 3.4 error codes the connector can meet are in the table', () => {
    const standard = [
      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x11, 0x13, 0x14, 0x15, 0x33, 0x34, 0x40, 0x42, 0x43, 0x44, 0x45,
      0x48, 0x49, 0x50, 0x51, 0x53, 0x54, 0x55, 0x58, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xfe, 0xff, 0x103, 0x402,
    ];
    for (const code of standard) assert.ok(SUBMIT_STATUS_TABLE.has(code), formatHex(code));
  });

  test('actions follow the design: 0x58 slow-down, 0x04 rebind, 0x103 and 0x0D/0x0E/0x0F pause the account, transient codes retry', () => {
    const expected: Array<[number, SubmitAction, string]> = [
      [0x58, 'slow-down', 'THROTTLING'],
      [0x04, 'rebind', 'SESSION'],
      [0x103, 'pause-account', 'CREDIT'],
      [0x0d, 'pause-account', 'CREDENTIALS'],
      [0x0e, 'pause-account', 'CREDENTIALS'],
      [0x0f, 'pause-account', 'CREDENTIALS'],
      [0x08, 'retry', 'SMSC_TRANSIENT'],
      [0x14, 'retry', 'SMSC_TRANSIENT'],
      [0x45, 'retry', 'ENCODING'],
      [0xff, 'retry', 'SMSC_TRANSIENT'],
      [0x05, 'retry', 'BIND_LIMIT'],
      [0x0a, 'permanent', 'SENDER'],
      [0x0b, 'permanent', 'DESTINATION'],
      [0x402, 'permanent', 'SENDER'],
      [0x01, 'permanent', 'MESSAGE'],
      [0x61, 'permanent', 'SCHEDULE'],
      [0x62, 'permanent', 'VALIDITY'],
      [0x15, 'permanent', 'CONFIG'],
    ];
    for (const [code, action, category] of expected) {
      const s = submitStatus(code);
      assert.equal(s.action, action, s.hex);
      assert.equal(s.category, category, s.hex);
    }
  });

  test('limited retries are bounded: 0x45 and 0xFF carry maxAttempts', () => {
    assert.equal(submitStatus(0x45).maxAttempts, 2);
    assert.equal(submitStatus(0xff).maxAttempts, 3);
    assert.equal(submitStatus(0x08).maxAttempts, undefined);
  });

  test('an unknown code is a permanent PROTOCOL error that keeps the code visible', () => {
    const s = submitStatus(0x4242);
    assert.deepEqual(
      { code: s.code, hex: s.hex, category: s.category, action: s.action, description: s.description, retryable: s.retryable },
      { code: 0x4242, hex: '0x4242', category: 'PROTOCOL', action: 'permanent', description: 'Unknown status 0x4242', retryable: false },
    );
  });

  test('a submit timeout is TIMEOUT, ambiguous and retryable; looking up ESME_ROK is a bug and throws', () => {
    assert.equal(SUBMIT_TIMEOUT.category, 'TIMEOUT');
    assert.equal(SUBMIT_TIMEOUT.ambiguous, true);
    assert.equal(SUBMIT_TIMEOUT.retryable, true);
    assert.throws(() => submitStatus(0), RangeError);
  });

  test('formatHex pads to two digits and upper-cases: 0x0E, 0x58, 0x103', () => {
    assert.equal(formatHex(0x0e), '0x0E');
    assert.equal(formatHex(0x58), '0x58');
    assert.equal(formatHex(0x103), '0x103');
  });
});
