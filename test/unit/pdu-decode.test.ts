import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodePduBody, smpp } from '../../src/smpp/library.js';

/** The library's own decoding of a whole PDU (what its fromStream did after re-joining the length). */
function libraryDecode(bytes: Buffer): smpp.PDU {
  return new smpp.PDU(bytes);
}

function ourDecode(bytes: Buffer): smpp.PDU {
  return decodePduBody(bytes.readUInt32BE(0), bytes.subarray(4));
}

function attempt(decode: () => smpp.PDU): smpp.PDU | RangeError {
  try {
    return decode();
  } catch (err) {
    if (err instanceof RangeError) return err;
    throw err;
  }
}

/** Appends raw TLVs (id, value) to an encoded PDU and fixes its length. */
function withTlvs(bytes: Buffer, tlvs: Array<[number, Buffer]>): Buffer {
  const parts = [bytes];
  for (const [id, value] of tlvs) {
    const head = Buffer.alloc(4);
    head.writeUInt16BE(id, 0);
    head.writeUInt16BE(value.length, 2);
    parts.push(head, value);
  }
  const out = Buffer.concat(parts);
  out.writeUInt32BE(out.length, 0);
  return out;
}

const ascii = (max: number) => fc.string({ unit: fc.constantFrom(...'abcXYZ019 :+-_@$'.split('')), maxLength: max });
const octet = fc.integer({ min: 0, max: 255 });
const seq = fc.integer({ min: 1, max: 0x7fffffff });
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

const deliverSm = fc
  .record({
    seq,
    source: ascii(20),
    destination: ascii(20),
    esmClass: fc.constantFrom(0x00, 0x04, 0x08, 0x40, 0x44),
    dataCoding: fc.constantFrom(0, 3, 8),
    text: bytes(160),
    time: fc.constantFrom('', '261231235959000+', '260101000000004-'),
  })
  .map((f) =>
    new smpp.PDU('deliver_sm', {
      sequence_number: f.seq,
      source_addr: f.source,
      destination_addr: f.destination,
      esm_class: f.esmClass,
      data_coding: f.dataCoding,
      short_message: f.text,
      schedule_delivery_time: f.time,
      validity_period: f.time,
    }).toBuffer(),
  );

// Known TLVs as a receipt carries them, one the library decodes through a filter, and unknown ids.
const tlv: fc.Arbitrary<[number, Buffer]> = fc.oneof(
  ascii(64).map((id): [number, Buffer] => [0x001e, Buffer.from(`${id}\0`, 'latin1')]), // receipted_message_id
  octet.map((state): [number, Buffer] => [0x0427, Buffer.from([state])]), // message_state
  bytes(3).map((raw): [number, Buffer] => [0x0423, raw]), // network_error_code
  bytes(300).map((raw): [number, Buffer] => [0x0424, raw]), // message_payload
  fc.integer({ min: 0, max: 0xffff }).map((v): [number, Buffer] => [0x0204, Buffer.from([v >> 8, v & 0xff])]), // user_message_reference
  fc.constantFrom<[number, Buffer]>([0x0210, Buffer.from([0x34])]), // sc_interface_version
  fc.tuple(fc.integer({ min: 0x1400, max: 0x3fff }), bytes(8)), // vendor-specific, not in the library's table
);

const submitSmResp = fc.record({ seq, id: ascii(64), status: fc.constantFrom(0, 0, 0x58, 0x0b, 0x45) }).map((f) =>
  new smpp.PDU('submit_sm_resp', { sequence_number: f.seq, command_status: f.status, message_id: f.id }).toBuffer(),
);

const others = fc.oneof(
  seq.map((s) => new smpp.PDU('enquire_link', { sequence_number: s }).toBuffer()),
  seq.map((s) => new smpp.PDU('enquire_link_resp', { sequence_number: s }).toBuffer()),
  seq.map((s) => new smpp.PDU('unbind', { sequence_number: s }).toBuffer()),
  seq.map((s) => new smpp.PDU('generic_nack', { sequence_number: s, command_status: 3 }).toBuffer()),
  fc.record({ s: seq, id: ascii(15) }).map((f) => new smpp.PDU('bind_transceiver_resp', { sequence_number: f.s, system_id: f.id }).toBuffer()),
  fc.record({ s: seq, to: ascii(20), text: bytes(140) }).map((f) =>
    new smpp.PDU('submit_sm', { sequence_number: f.s, destination_addr: f.to, short_message: f.text, data_coding: 0, validity_period: '261231235959000+' }).toBuffer(),
  ),
  // an unknown command id: header only, command 'unknown'
  seq.map((s) => {
    const b = Buffer.alloc(20);
    b.writeUInt32BE(20, 0);
    b.writeUInt32BE(0x00000777, 4);
    b.writeUInt32BE(s, 12);
    return b;
  }),
);

test('decoding equals node-smpp’s own: every field, the prototype and the key order (deliver_sm with TLVs, submit_sm_resp, session PDUs, unknown ids)', () => {
  fc.assert(
    fc.property(fc.oneof(deliverSm, submitSmResp, others), fc.array(tlv, { maxLength: 4 }), (pdu, tlvs) => {
      const wire = withTlvs(pdu, tlvs);
      // A TLV read as a body field can run past the end: the library throws then (the session
      // reports an error), and so must we.
      const library = attempt(() => libraryDecode(wire));
      const ours = attempt(() => ourDecode(wire));
      if (library instanceof RangeError || ours instanceof RangeError) {
        assert.ok(library instanceof RangeError && ours instanceof RangeError, `library: ${String(library)}; ours: ${String(ours)}`);
        return;
      }
      assert.deepStrictEqual(ours, library);
      assert.deepEqual(Object.keys(ours), Object.keys(library));
      assert.equal(Object.getPrototypeOf(ours), smpp.PDU.prototype);
    }),
    {
      numRuns: 3000,
      // found by this property: a submit_sm_resp with an error status and no body, then a TLV (both throw)
      examples: [[Buffer.from([0, 0, 0, 16, 0x80, 0, 0, 4, 0, 0, 0, 0x58, 0, 0, 0, 1]), [[0x0423, Buffer.from([2, 0, 0])]]]],
    },
  );
});

test('the socket path uses it: PDU.fromStream reads one body and gives back false until it is all there', () => {
  const wire = withTlvs(new smpp.PDU('submit_sm_resp', { sequence_number: 7, message_id: 'abc' }).toBuffer(), [[0x001e, Buffer.from('x\0')]]);
  const chunks = [wire.subarray(4)];
  const stream = { read: (size: number) => (chunks[0] && chunks[0].length >= size ? chunks.shift()!.subarray(0, size) : null) };
  const decoded = smpp.PDU.fromStream(stream, wire.length);
  assert.ok(decoded);
  assert.equal(decoded.command, 'submit_sm_resp');
  assert.equal(decoded['message_id'], 'abc');
  assert.equal(decoded['receipted_message_id'], 'x');
  assert.equal(decoded.isResponse(), true);
  assert.equal(smpp.PDU.fromStream({ read: () => null }, 40), false);
});
