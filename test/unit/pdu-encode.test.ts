import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { deliverSmResp, smpp, submitSmPdu } from '../../src/smpp/session/library.js';
import {
  commandLengthProblem,
  encodeDeliverSmResp,
  encodeSubmitSm,
  HEADER_OCTETS,
  MAX_INBOUND_PDU_OCTETS,
  smppTimeField,
} from '../../src/smpp/protocol/pdu-encode.js';
import type { SubmitParams } from '../../src/smpp/protocol/types.js';
import { librarySubmitSm, sampleSubmit } from '../helpers/smpp-reference.js';

const octet = fc.integer({ min: 0, max: 255 });
// Addresses and times as strings of any UTF-16 code units: node-smpp writes each as one octet.
const text = (max: number) =>
  fc.string({
    unit: fc.oneof(
      fc.constantFrom('a', '0', '+', ' '),
      fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    ),
    maxLength: max,
  });
const params = (messageMax: number): fc.Arbitrary<SubmitParams> =>
  fc.record({
    sourceAddr: text(21),
    sourceAddrTon: octet,
    sourceAddrNpi: octet,
    destinationAddr: text(21),
    destAddrTon: octet,
    destAddrNpi: octet,
    dataCoding: octet,
    esmClass: octet,
    registeredDelivery: octet,
    shortMessage: fc.uint8Array({ maxLength: messageMax }).map((a) => Buffer.from(a)),
    scheduleDeliveryTime: fc.option(text(17), { nil: undefined }),
    validityPeriod: fc.option(fc.oneof(text(17), fc.constantFrom('000001000000000R', '261231235959000+', '10', '000000000001')), { nil: undefined }),
    serviceType: fc.option(text(6), { nil: undefined }),
    protocolId: fc.option(octet, { nil: undefined }),
    priorityFlag: fc.option(octet, { nil: undefined }),
  });
const sequence = fc.integer({ min: 1, max: 0x7fffffff });

test('submit_sm bytes equal node-smpp’s encoding of the same fields (random addresses, times, octets, messages)', () => {
  fc.assert(
    fc.property(params(255), sequence, (p, seq) => {
      const ours = encodeSubmitSm(p, seq);
      assert.ok(Buffer.isBuffer(ours), String(ours));
      assert.deepEqual(ours, librarySubmitSm(p, seq));
    }),
    { numRuns: 2000 },
  );
});

test('submit_sm that node-smpp cannot encode (short_message > 255 octets, an octet field out of range) is an error text, not bytes', () => {
  fc.assert(
    fc.property(params(400), sequence, fc.option(fc.constantFrom(-1, 256, 1.5, 70000), { nil: undefined }), (p, seq, badOctet) => {
      const input = badOctet === undefined ? p : { ...p, esmClass: badOctet };
      let libraryThrew = false;
      try {
        librarySubmitSm(input, seq);
      } catch {
        libraryThrew = true;
      }
      const ours = encodeSubmitSm(input, seq);
      // 1.5 and 70000: node-smpp's writeUInt8 truncates or throws; we refuse every non-octet.
      if (libraryThrew || badOctet !== undefined) assert.equal(typeof ours, 'string');
      else assert.ok(Buffer.isBuffer(ours));
    }),
    { numRuns: 500 },
  );
  assert.match(String(encodeSubmitSm({ ...sampleSubmit(), shortMessage: Buffer.alloc(256) }, 1)), /short_message is 256 octets/);
  assert.match(String(encodeSubmitSm({ ...sampleSubmit(), destAddrTon: 300 }, 1)), /dest_addr_ton must be an octet/);
  assert.match(String(encodeSubmitSm({ ...sampleSubmit(), destinationAddr: 'x'.repeat(17000) }, 1)), /PDU too long/);
});

test('the library PDU carrying our bytes: node-smpp decodes them back to the fields, and send() gets them unchanged', () => {
  const p = { ...sampleSubmit(), validityPeriod: '000001000000000R' };
  const pdu = submitSmPdu(p, 42);
  assert.ok(typeof pdu !== 'string');
  assert.equal(pdu.isResponse(), false);
  assert.equal(pdu.sequence_number, 42);
  const decoded = smpp.PDU.fromBuffer(pdu.toBuffer());
  assert.ok(decoded);
  assert.equal(decoded.command, 'submit_sm');
  assert.equal(decoded['destination_addr'], p.destinationAddr);
  assert.equal(decoded['source_addr'], p.sourceAddr);
  assert.equal(decoded['data_coding'], p.dataCoding);
  assert.equal(decoded['registered_delivery'], p.registeredDelivery);
  assert.deepEqual(decoded['short_message'], p.shortMessage);
  assert.equal(decoded.sequence_number, 42);
});

test('deliver_sm_resp bytes equal node-smpp’s pdu.response({ command_status }) for every status', () => {
  fc.assert(
    fc.property(sequence, fc.oneof(fc.constantFrom(0, 0x64, 0x65, 0x66, 0x04), fc.integer({ min: 0, max: 0xffffffff })), (seq, status) => {
      const request = new smpp.PDU('deliver_sm', { sequence_number: seq });
      const library = request.response({ command_status: status }).toBuffer();
      assert.deepEqual(encodeDeliverSmResp(seq, status), library);
      const ours = deliverSmResp(request, status);
      assert.equal(ours.isResponse(), true);
      assert.deepEqual(ours.toBuffer(), library);
    }),
    { numRuns: 1000 },
  );
});

test('time fields: node-smpp pads a relative time of at most 12 characters; full-length times and empty pass unchanged', () => {
  assert.equal(smppTimeField(undefined), '');
  assert.equal(smppTimeField(''), '');
  assert.equal(smppTimeField('10'), '000000000010000R');
  assert.equal(smppTimeField('261231235959000+'), '261231235959000+');
});

test('the read limit covers SMPP 3.4’s largest legal PDU: header, deliver_sm’s longest mandatory fields, a 65,535-octet message_payload and room for other TLVs', () => {
  // deliver_sm mandatory fields at their SMPP 3.4 maxima: service_type 6, source/dest ton+npi+addr 2+21 each,
  // esm/protocol/priority 3, two times 17 each, registered/replace/data_coding/default_msg_id/sm_length 5, short_message 254.
  const mandatory = 6 + (2 + 21) * 2 + 3 + 17 * 2 + 5 + 254;
  assert.equal(mandatory, 348);
  const largest = HEADER_OCTETS + mandatory + 4 + 0xffff;
  assert.ok(MAX_INBOUND_PDU_OCTETS >= largest + 1024, `${MAX_INBOUND_PDU_OCTETS} ≥ ${largest} + 1 KiB of other TLVs`);
  assert.equal(commandLengthProblem(largest), undefined);
  assert.equal(commandLengthProblem(HEADER_OCTETS), undefined);
  assert.match(commandLengthProblem(15) ?? '', /below the 16-octet SMPP header/);
  assert.match(commandLengthProblem(MAX_INBOUND_PDU_OCTETS + 1) ?? '', /over the 73728-octet limit/);
  assert.match(commandLengthProblem(0xffffffff) ?? '', /over/);
});
