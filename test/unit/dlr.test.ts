import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { classifyDeliverSm, parseReceipt, parseReceiptDate, type DeliverSmInput, type Receipt } from '../../src/smpp/protocol/dlr.js';

const AGILE_ID = 'AGILE-1A2B3C4D-1A2B3C-1A2B3C-1A2B3C';
const text = (s: string): Buffer => Buffer.from(s, 'latin1');
const receipt = (shortMessage: Buffer, tlvs?: DeliverSmInput['tlvs'], esmClass = 0x04): DeliverSmInput => ({ esmClass, shortMessage, tlvs });

function ok(input: DeliverSmInput): Receipt {
  const r = parseReceipt(input);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.receipt;
}

describe('dlr', () => {
  test('esm_class type bits (& 0x3C) classify deliver_sm, ignoring the UDHI and mode bits', () => {
    const cases: Array<[number, string]> = [
      [0x04, 'receipt'],
      [0x44, 'receipt'],
      [0x20, 'intermediate'],
      [0x00, 'mobile-originated'],
      [0x40, 'mobile-originated'],
      [0x03, 'mobile-originated'],
      [0x08, 'other'],
      [0x10, 'other'],
    ];
    for (const [esm, kind] of cases) assert.equal(classifyDeliverSm(esm), kind, esm.toString(16));
  });

  test("Agile's text receipt: id, 12-digit UTC dates, stat and err all read", () => {
    const r = ok(receipt(text(`id:${AGILE_ID} sub:001 dlvrd:001 submit date:260408143000 done date:260408143052 stat:DELIVRD err:000 text:Hello world`)));
    assert.deepEqual(r, {
      messageId: AGILE_ID,
      state: 'DELIVERED',
      final: true,
      errRaw: '000',
      errCode: null,
      networkErrorCode: null,
      submitDate: Date.UTC(2026, 3, 8, 14, 30, 0),
      doneDate: Date.UTC(2026, 3, 8, 14, 30, 52),
      sub: '001',
      dlvrd: '001',
      text: 'Hello world',
    });
  });

  test('real-world variants parse to the same facts (table)', () => {
    const cases: Array<[string, DeliverSmInput, Partial<Receipt>]> = [
      [
        'TLV only',
        receipt(Buffer.alloc(0), { receipted_message_id: AGILE_ID, message_state: 5, network_error_code: Buffer.from([0x03, 0x00, 0xc9]) }),
        {
          messageId: AGILE_ID,
          state: 'UNDELIVERED',
          final: true,
          errRaw: '201',
          errCode: 201,
          networkErrorCode: { networkType: 3, errorCode: 201 },
          text: null,
        },
      ],
      [
        'TLV wins over text',
        receipt(text('id:other stat:UNDELIV err:201'), { receipted_message_id: AGILE_ID, message_state: 2 }),
        { messageId: AGILE_ID, state: 'DELIVERED', errRaw: '201', errCode: 201 },
      ],
      [
        '10-digit dates',
        receipt(text('id:42 submit date:2604081430 done date:2604081431 stat:EXPIRED err:0')),
        { messageId: '42', state: 'EXPIRED', submitDate: Date.UTC(2026, 3, 8, 14, 30), doneDate: Date.UTC(2026, 3, 8, 14, 31) },
      ],
      ['14-digit dates', receipt(text('id:42 done date:20260408143052 stat:DELIVRD')), { doneDate: Date.UTC(2026, 3, 8, 14, 30, 52) }],
      [
        'fields out of order, Text:, upper-case keys',
        receipt(text(`Text:hi there STAT:undeliv ERR:21b ID:${AGILE_ID} Sub:001`)),
        { messageId: AGILE_ID, state: 'UNDELIVERED', errRaw: '21b', errCode: null, text: 'hi there', sub: '001', dlvrd: null },
      ],
      ['missing fields', receipt(text('id:abc stat:REJECTD')), { state: 'REJECTED', errRaw: null, submitDate: null, doneDate: null, sub: null }],
      [
        'keys inside text stay text',
        receipt(text('id:1 stat:DELIVRD err:000 text:pay id:2 stat:x now')),
        { messageId: '1', state: 'DELIVERED', text: 'pay id:2 stat:x now' },
      ],
      ['intermediate ENROUTE is not final', receipt(text('id:7 stat:ENROUTE'), undefined, 0x20), { state: 'ENROUTE', final: false }],
      ['intermediate notification is never final', receipt(text('id:7 stat:ACCEPTD'), undefined, 0x20), { state: 'ACCEPTED', final: false }],
      ['latin1 bytes kept, no GSM decoding', receipt(text('id:a_b@c$ stat:DELIVRD')), { messageId: 'a_b@c$' }],
      ['text in message_payload', receipt(Buffer.alloc(0), { message_payload: text('id:9 stat:DELETED') }), { messageId: '9', state: 'DELETED' }],
      ['invalid date is null, receipt kept', receipt(text('id:9 done date:261332999999 stat:DELIVRD')), { doneDate: null }],
      [
        'network_error_code as object',
        receipt(text('id:9 stat:UNDELIV'), { network_error_code: { networkType: 1, errorCode: 5 } }),
        { errRaw: '005', errCode: 5 },
      ],
      ['64-char id', receipt(text(`id:${'x'.repeat(64)} stat:DELIVRD`)), { messageId: 'x'.repeat(64) }],
    ];
    for (const [name, input, expected] of cases) {
      const r = ok(input);
      for (const [k, v] of Object.entries(expected)) assert.deepEqual(r[k as keyof Receipt], v, `${name}: ${k}`);
    }
  });

  test('every message_state TLV value maps to its state; only ENROUTE is not final', () => {
    const states = ['ENROUTE', 'DELIVERED', 'EXPIRED', 'DELETED', 'UNDELIVERED', 'ACCEPTED', 'UNKNOWN', 'REJECTED'];
    states.forEach((state, i) => {
      const r = ok(receipt(Buffer.alloc(0), { receipted_message_id: 'm', message_state: i + 1 }));
      assert.equal(r.state, state);
      assert.equal(r.final, state !== 'ENROUTE');
    });
  });

  test('unusable input is ok:false with a reason, never a guessed receipt', () => {
    const cases: Array<[string, DeliverSmInput, RegExp]> = [
      ['garbage', receipt(text('hello there, how are you?')), /no message id/],
      ['no state', receipt(text('id:123 err:000')), /no state/],
      ['unknown stat', receipt(text('id:123 stat:WHATEVER')), /unrecognised stat 'WHATEVER'/],
      ['id too long', receipt(text(`id:${'x'.repeat(65)} stat:DELIVRD`)), /longer than 64/],
      ['mobile-originated', receipt(text('id:1 stat:DELIVRD'), undefined, 0x00), /mobile-originated/],
      ['empty', receipt(Buffer.alloc(0)), /no message id/],
    ];
    for (const [name, input, reason] of cases) {
      const r = parseReceipt(input);
      assert.equal(r.ok, false, name);
      if (!r.ok) assert.match(r.reason, reason, name);
    }
  });

  test('property: parsing never throws, whatever bytes arrive', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300, size: 'max' }),
        fc.integer({ min: 0, max: 255 }),
        fc.option(fc.integer({ min: 0, max: 255 })),
        (bytes, esm, state) => {
          parseReceipt({ esmClass: esm, shortMessage: Buffer.from(bytes), tlvs: state === null ? undefined : { message_state: state } });
        },
      ),
    );
  });

  test('property: any valid yyMMddHHmmss date reads back as the same UTC instant', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2099, 11, 31, 23, 59, 59) }), (ms) => {
        const d = new Date(ms - (ms % 1000));
        const p2 = (n: number): string => String(n).padStart(2, '0');
        const s =
          p2(d.getUTCFullYear() % 100) + p2(d.getUTCMonth() + 1) + p2(d.getUTCDate()) + p2(d.getUTCHours()) + p2(d.getUTCMinutes()) + p2(d.getUTCSeconds());
        assert.equal(parseReceiptDate(s), d.getTime());
      }),
    );
  });
});
