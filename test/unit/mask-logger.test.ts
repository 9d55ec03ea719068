import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { maskMsisdn, maskNumbersIn } from '../../src/obs/mask.js';
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

test("nested address keys are masked and secret keys redacted at any depth, in arrays too, without touching errors or the caller's object", () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const log = createLogger('info', sink);
  const request = { id: 'r-1', to: '393471234567', meta: { route: { from: '+393479999999' } } };
  const err = new Error('boom');
  log.info({ request, receipts: [{ source_addr: '393475555555', sourceAddr: '393476666666' }], err }, 'nested');
  log.info({ a: { b: { c: { d: { password: 'deep-secret-1' } } } }, headers: [{ authorization: 'Basic c2VjcmV0' }] }, 'deep secrets');
  const text = lines.join('');
  for (const n of ['393471234567', '393479999999', '393475555555', '393476666666']) assert.ok(!text.includes(n), `${n} in ${text}`);
  assert.ok(!text.includes('deep-secret-1') && !text.includes('c2VjcmV0'), 'secrets at any depth are redacted');
  assert.ok(text.includes('39********67') && text.includes('39********99'), 'masked, not dropped');
  assert.ok(text.includes('"message":"boom"') && text.includes('"stack"'), 'the error is still serialized by pino');
  assert.equal(request.to, '393471234567', 'the logged object itself is not changed');
  assert.equal(request.meta.route.from, '+393479999999');
});

test('maskNumbersIn masks phone-number-like runs in free text and leaves short numbers', () => {
  assert.equal(maskNumbersIn('destination 393471234567 refused (code 201, 160 chars)'), 'destination 39********67 refused (code 201, 160 chars)');
  assert.equal(maskNumbersIn('sender +14155550123'), 'sender 1********23');
  assert.equal(maskNumbersIn('p3@1234567 offset'), 'p3@1234567 offset', '7 digits: not a phone number');
  assert.equal(maskNumbersIn('schema id 2139062143 is not in the registry'), 'schema id 2139062143 is not in the registry', 'a schema id stays readable');
  assert.equal(maskNumbersIn('offset 12345678901234567890'), 'offset 12345678901234567890', 'over 15 digits: no phone number');
});
