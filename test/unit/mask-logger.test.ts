import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { maskMsisdn } from '../../src/obs/mask.js';
import { createLogger } from '../../src/obs/logger.js';

test('masking keeps the country code and the last two digits only', () => {
  assert.equal(maskMsisdn('393471234567'), '39********67');
  assert.equal(maskMsisdn('+14155550123'), '1********23');
  assert.equal(maskMsisdn('00447700900123'), '44********23');
  assert.equal(maskMsisdn('+358401234567'), '358*******67');
  assert.equal(maskMsisdn('ACME'), 'ACME', 'alphanumeric senders are brands, not people');
});

test('log lines never hold a password or a full phone number', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const log = createLogger('info', sink);
  log.info({ to: '393471234567', from: '393479999999', password: 'hunter2' }, 'submit');
  log.info({ config: { smpp: { password: 'hunter2', host: 'h' } } }, 'config');
  const text = lines.join('');
  assert.ok(!text.includes('393471234567'));
  assert.ok(!text.includes('393479999999'));
  assert.ok(!text.includes('hunter2'));
  assert.ok(text.includes('39********67'));
  assert.ok(text.includes('[REDACTED]'));
});
