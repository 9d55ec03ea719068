/**
 * `produce`'s input (flags, CSV, JSON lines) becomes exactly the requests written, and bad input
 * fails naming the file, row and field; `tail`'s line shows the event's facts with numbers masked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { eventJson, eventLine } from '../../src/tools/event-line.js';
import { InputError, requestsFromFile, requestsFromFlags, type RequestDefaults } from '../../src/tools/request-input.js';

const defaults: RequestDefaults = { from: 'ACME', encoding: 'AUTO', requestDeliveryReport: true, metadata: { m: '1' }, idBase: 'b' };

function withFile(name: string, content: string, fn: (file: string) => void): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'input-'));
  try {
    const file = path.join(dir, name);
    writeFileSync(file, content);
    fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('flags: one request keeps the id; several get <id>-n; key defaults to the destination; validForMs sets validUntil', () => {
  const one = requestsFromFlags('+393471234567', 1, { ...defaults, validForMs: 1000 }, 5000);
  assert.equal(one[0]!.value.id, 'b');
  assert.equal(one[0]!.key, '+393471234567');
  assert.equal(one[0]!.value.text, 'Test message b');
  assert.equal(one[0]!.value.validUntil, 6000);
  const many = requestsFromFlags('+393471234567', 3, { ...defaults, key: 'k', text: 'hi' });
  assert.deepEqual(
    many.map((r) => [r.value.id, r.key, r.value.text]),
    [
      ['b-1', 'k', 'hi'],
      ['b-2', 'k', 'hi'],
      ['b-3', 'k', 'hi'],
    ],
  );
});

test('CSV: quoted commas, quotes and line breaks survive; empty cells take the defaults; metadata merges', () => {
  withFile(
    'in.csv',
    'to,text,encoding,requestDeliveryReport,metadata\n393471234567,"a, ""b""\nc",ucs2,false,"{""t"":""x""}"\n393471234568,plain,,,\n',
    (file) => {
      const rs = requestsFromFile(file, defaults);
      assert.equal(rs.length, 2);
      assert.equal(rs[0]!.value.text, 'a, "b"\nc');
      assert.equal(rs[0]!.value.encoding, 'UCS2');
      assert.equal(rs[0]!.value.requestDeliveryReport, false);
      assert.deepEqual(rs[0]!.value.metadata, { m: '1', t: 'x' });
      assert.equal(rs[1]!.value.id, 'b-2');
      assert.equal(rs[1]!.value.encoding, 'AUTO');
    },
  );
});

test('JSON lines and bad input: errors name the place and the field', () => {
  withFile('in.jsonl', '{"to":"393471234567","text":"x","validUntil":"2030-01-01T00:00:00Z"}\n\n{"to":"1","text":"y","encoding":"latin1"}\n', (file) => {
    assert.throws(
      () => requestsFromFile(file, defaults),
      (e: unknown) => e instanceof InputError && /in\.jsonl:line 3: encoding must be one of AUTO, GSM7, UCS2/.test(e.message),
    );
  });
  withFile('in.jsonl', '{"to":"393471234567","text":"x","validUntil":"2030-01-01T00:00:00Z"}\n', (file) => {
    assert.equal(requestsFromFile(file, defaults)[0]!.value.validUntil, Date.parse('2030-01-01T00:00:00Z'));
  });
  withFile('in.json', '[{"text":"no destination"}]', (file) => {
    assert.throws(() => requestsFromFile(file, defaults), /in\.json:item 1: to is required/);
  });
  withFile('in.txt', 'x', (file) => assert.throws(() => requestsFromFile(file, defaults), /unknown file type/));
});

test('event line: time, id, source/status, segment, message id, masked numbers, error; JSON masks too unless asked', () => {
  const e: SmsDeliveryEvent = {
    eventId: 'e',
    id: 'r1',
    source: 'RECEIPT',
    status: 'UNDELIVERED',
    segment: 2,
    segments: 3,
    messageId: 'AGILE-1',
    errorCode: 201,
    errorCodeRaw: '201',
    errorCategory: 'HLR ERROR',
    errorDescription: 'Absent subscriber',
    retryable: false,
    attempts: 1,
    from: '393400000001',
    to: '393471234567',
    submittedAt: null,
    doneAt: null,
    eventAt: 0,
    metadata: {},
    route: null,
  };
  assert.equal(
    eventLine(e, { showNumbers: false }),
    '1970-01-01T00:00:00.000Z  r1  RECEIPT/UNDELIVERED  2/3  AGILE-1  39********01 → 39********67  HLR ERROR 201: Absent subscriber',
  );
  assert.match(eventLine({ ...e, from: 'ACME' }, { showNumbers: true }), /ACME → 393471234567/);
  assert.equal(JSON.parse(eventJson(e, { showNumbers: false })).to, '39********67');
  assert.equal(JSON.parse(eventJson(e, { showNumbers: true })).to, '393471234567');
});
