/**
 * Nothing the command line prints can drive the operator's terminal: escape sequences, C0/C1
 * controls and bidirectional overrides from producers, the SMSC or DLQ headers are removed (text)
 * or escaped (JSON), and phone numbers stay masked — the sender like the destination.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { printable, printableJson, printableLines } from '../../src/obs/printable.js';
import { eventJson, eventLine } from '../../src/tools/event-line.js';
import { DLQ_HEADERS as DLQ_HEADER } from '../../src/kafka/sinks.js';
import { describe as describeDlqRecord } from '../../src/tools/redrive.js';

/** Anything a terminal would act on. */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

const hostile = [
  '\x1b[2J\x1b[H', // clear screen, cursor home
  '\x1b]0;pwned\x07', // window title (OSC … BEL)
  '\x1b]52;c;ZWNobyBoaQ==\x1b\\', // clipboard write (OSC 52 … ST)
  '\x1bP+q544e\x1b\\', // DCS query
  '\x9b31m', // 8-bit CSI
  '\x9d8;;http://evil\x9c', // 8-bit OSC hyperlink
  'ok\rFAKE', // carriage return overwrite
  'a\nb\tc',
  '\u202eevil\u202c', // right-to-left override
  '\x1bc', // full reset (two-byte escape)
];

test('printable removes every escape sequence and control character and keeps the text around them', () => {
  assert.equal(printable('req-\x1b[31mRED\x1b[0m-1'), 'req-RED-1');
  assert.equal(printable('t\x1b]0;title\x07x'), 'tx');
  assert.equal(printable('a\x1b]52;c;AAAA\x1b\\b'), 'ab');
  assert.equal(printable('ok\rFAKE'), 'okFAKE');
  assert.equal(printable('Café → 39********67 ✓ 😀'), 'Café → 39********67 ✓ 😀', 'ordinary Unicode stays');
  for (const h of hostile) assert.doesNotMatch(printable(`x${h}y`), UNSAFE, JSON.stringify(h));
});

test('property: printable output never holds a control character, and is idempotent', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
      const out = printable(s);
      return !UNSAFE.test(out) && printable(out) === out;
    }),
    { numRuns: 2000 },
  );
});

test('printableJson escapes controls so the value survives a JSON parser intact', () => {
  const value = { id: `a\x1b[2J\x9b1m\u202eb\u2028` };
  const line = printableJson(value);
  assert.doesNotMatch(line, UNSAFE);
  assert.deepEqual(JSON.parse(line), value);
  assert.equal(printable(line), line, 'the printer wrapper leaves it unchanged');
});

function event(over: Partial<SmsDeliveryEvent>): SmsDeliveryEvent {
  return {
    id: 'req-1',
    source: 'RECEIPT',
    status: 'UNDELIVERED',
    segment: 1,
    segments: 1,
    messageId: 'm-1',
    from: 'ACME',
    to: '393471234567',
    errorCategory: null,
    errorCodeRaw: null,
    errorDescription: null,
    retryable: false,
    attempts: 1,
    eventAt: 0,
    ...over,
  } as SmsDeliveryEvent;
}

test('tail lines: hostile ids, message ids and error texts are made harmless; sender and destination masked', () => {
  for (const h of hostile) {
    const e = event({ id: `r${h}`, messageId: `m${h}`, errorDescription: `d${h}`, errorCategory: 'HLR ERROR', from: '+393479999999' });
    const line = eventLine(e, { showNumbers: false });
    assert.doesNotMatch(line, UNSAFE, JSON.stringify(h));
    assert.ok(!line.includes('393479999999') && !line.includes('393471234567'), line);
    const json = eventJson(e, { showNumbers: false });
    assert.doesNotMatch(json, UNSAFE);
    assert.equal((JSON.parse(json) as SmsDeliveryEvent).id, `r${h}`, 'JSON keeps the value, escaped');
  }
});

test('redrive lines: DLQ headers with escapes are harmless and a number in the error text is masked', () => {
  const line = describeDlqRecord(
    {
      partition: 0,
      offset: '7',
      key: Buffer.from('393471234567\x1b[2J'),
      value: Buffer.from('x'),
      timestamp: '0',
      headers: { [DLQ_HEADER.message]: 'destination 393471234567\x1b]0;owned\x07 refused' },
    } as never,
    'AVRO_DECODE\x1b[5m',
  );
  const printed: string[] = [];
  printableLines((l) => printed.push(l))(line);
  assert.doesNotMatch(printed[0]!, UNSAFE);
  assert.ok(!printed[0]!.includes('393471234567'), printed[0]);
  assert.match(printed[0]!, /39\*+67 refused/);
});
