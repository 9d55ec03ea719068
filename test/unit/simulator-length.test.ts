import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitsOneSms } from '../../src/simulator/smsc-connection.js';
import { planMessage } from '../../src/sms/plan.js';

test('simulator 0x01 rule = one air-interface SMS: 160 unpacked GSM septets (UDH in septets) or 140 octets otherwise; every segment the planner makes fits', () => {
  const udh = Buffer.from([5, 0, 3, 7, 2, 1]);
  const cases: Array<[string, Buffer, number, number, boolean]> = [
    ['160 GSM septets, no UDH', Buffer.alloc(160, 0x41), 0, 0, true],
    ['161 GSM septets', Buffer.alloc(161, 0x41), 0, 0, false],
    ['UDH 6 + 153 GSM', Buffer.concat([udh, Buffer.alloc(153, 0x41)]), 0, 0x40, true],
    ['UDH 6 + 154 GSM', Buffer.concat([udh, Buffer.alloc(154, 0x41)]), 0, 0x40, false],
    ['140 UCS-2 octets', Buffer.alloc(140), 8, 0, true],
    ['141 UCS-2 octets', Buffer.alloc(141), 8, 0, false],
    ['UDH 6 + 134 UCS-2', Buffer.concat([udh, Buffer.alloc(134)]), 8, 0x40, true],
  ];
  for (const [name, message, dataCoding, esmClass, fits] of cases) assert.equal(fitsOneSms(message, dataCoding, esmClass), fits, name);
  for (const text of ['x'.repeat(160), 'y'.repeat(500), '€'.repeat(100), 'ж'.repeat(70), '😀'.repeat(200)]) {
    const p = planMessage(
      { id: 'r', from: 'ACME', to: '+393471234567', text, encoding: 'AUTO', requestDeliveryReport: true, scheduleAt: null, validUntil: null },
      { maxSegments: 10, referenceNumber: 1 },
    );
    assert.ok(p.ok);
    for (const s of p.plan.segments) assert.ok(fitsOneSms(s.shortMessage, p.plan.dataCoding, s.esmClass), `${text.slice(0, 5)}… segment ${s.seq}`);
  }
});
