import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { smpp } from '../../src/smpp/session/library.js';
import { decodePduBody, PduFramingError } from '../../src/smpp/session/pdu-decode.js';
import { MAX_INBOUND_PDU_OCTETS } from '../../src/smpp/protocol/pdu-encode.js';

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

const submitSmResp = fc
  .record({ seq, id: ascii(64), status: fc.constantFrom(0, 0, 0x58, 0x0b, 0x45) })
  .map((f) => new smpp.PDU('submit_sm_resp', { sequence_number: f.seq, command_status: f.status, message_id: f.id }).toBuffer());

const others = fc.oneof(
  seq.map((s) => new smpp.PDU('enquire_link', { sequence_number: s }).toBuffer()),
  seq.map((s) => new smpp.PDU('enquire_link_resp', { sequence_number: s }).toBuffer()),
  seq.map((s) => new smpp.PDU('unbind', { sequence_number: s }).toBuffer()),
  seq.map((s) => new smpp.PDU('generic_nack', { sequence_number: s, command_status: 3 }).toBuffer()),
  // The simulator reads binds; the connector reads their answers (a refused bind has no body).
  fc
    .record({
      s: seq,
      command: fc.constantFrom('bind_transmitter', 'bind_receiver', 'bind_transceiver'),
      id: ascii(16),
      password: ascii(9),
      version: fc.constantFrom(0x34, 0x50),
    })
    .map((f) =>
      new smpp.PDU(f.command, {
        sequence_number: f.s,
        system_id: f.id,
        password: f.password,
        system_type: '',
        interface_version: f.version,
        addr_ton: 1,
        addr_npi: 1,
        address_range: '',
      }).toBuffer(),
    ),
  fc
    .record({
      s: seq,
      command: fc.constantFrom('bind_transmitter_resp', 'bind_receiver_resp', 'bind_transceiver_resp'),
      id: ascii(15),
      status: fc.constantFrom(0, 0, 0x0e, 0x05),
    })
    .map((f) => new smpp.PDU(f.command, { sequence_number: f.s, command_status: f.status, system_id: f.id }).toBuffer()),
  // What the simulator reads back: deliver_sm_resp (empty message_id, or a bare header with a status), unbind_resp.
  fc
    .record({ s: seq, status: fc.constantFrom(0, 0x64, 0x65) })
    .map((f) => new smpp.PDU('deliver_sm_resp', { sequence_number: f.s, command_status: f.status }).toBuffer()),
  seq.map((s) => new smpp.PDU('unbind_resp', { sequence_number: s }).toBuffer()),
  fc.record({ s: seq, to: ascii(20), text: bytes(140) }).map((f) =>
    new smpp.PDU('submit_sm', {
      sequence_number: f.s,
      destination_addr: f.to,
      short_message: f.text,
      data_coding: 0,
      validity_period: '261231235959000+',
    }).toBuffer(),
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

test('raw bytes: short_message and message_payload come back as on the wire, where node-smpp’s own filter turned ASCII _ @ $ into GSM § ¡ ¤ (defect 8)', () => {
  const text = Buffer.from('id:A_1 stat:DELIVRD err:000 text:a@b$c_d', 'latin1');
  const wire = withTlvs(new smpp.PDU('deliver_sm', { sequence_number: 1, esm_class: 4, data_coding: 0, short_message: text }).toBuffer(), [[0x0424, text]]);
  const decoded = ourDecode(wire);
  assert.deepEqual(decoded['short_message'], text);
  assert.deepEqual(decoded['message_payload'], text);
  // The library's own filter (its exported table, untouched by us) still mangles the same bytes.
  const { filters } = smpp as unknown as { filters: { message: { decode(this: object, value: Buffer): { message: string } } } };
  assert.notEqual(filters.message.decode.call({ data_coding: 0, esm_class: 4 }, text).message, text.toString('latin1'));
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

/** A stream over `bytes` handing out what is asked while it is there, as a socket's read() does. */
function streamOf(bytes: Buffer): { read(size: number): Buffer | null; left(): number } {
  let at = 0;
  return {
    read: (size: number) => {
      if (size <= 0 || at + size > bytes.length) return null;
      const out = bytes.subarray(at, at + size);
      at += size;
      return out;
    },
    left: () => bytes.length - at,
  };
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

test('framing: every command_length below 16 or above the 72 KiB limit is refused with PduFramingError (node-smpp skipped 0 and waited forever on 1–4)', () => {
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: 0, max: 15 }), fc.integer({ min: MAX_INBOUND_PDU_OCTETS + 1, max: 0xffffffff })), bytes(32), (length, rest) => {
      const stream = streamOf(Buffer.concat([u32(length), rest]));
      assert.throws(
        () => smpp.PDU.commandLength(stream),
        (err: unknown) => err instanceof PduFramingError && err.commandLength === length,
      );
    }),
    {
      numRuns: 2000,
      examples: [
        [0, Buffer.alloc(0)],
        [1, Buffer.alloc(0)],
        [4, Buffer.alloc(12)],
        [15, Buffer.alloc(12)],
        [MAX_INBOUND_PDU_OCTETS + 1, Buffer.alloc(0)],
      ],
    },
  );
});

test('framing: every length from 16 to the limit is accepted, and fewer than 4 octets are "not yet" (false), not an error', () => {
  fc.assert(
    fc.property(fc.integer({ min: 16, max: MAX_INBOUND_PDU_OCTETS }), (length) => {
      assert.equal(smpp.PDU.commandLength(streamOf(u32(length))), length);
    }),
    { numRuns: 2000, examples: [[16], [16384], [16385], [MAX_INBOUND_PDU_OCTETS]] },
  );
  assert.equal(smpp.PDU.commandLength(streamOf(Buffer.from([0, 0, 0]))), false);
});

test('the largest legal deliver_sm (a 65,535-octet message_payload, the TLV maximum, and receipt TLVs) decodes as node-smpp would, its payload whole', () => {
  const payload = Buffer.alloc(0xffff, 0x41);
  const base = new smpp.PDU('deliver_sm', {
    sequence_number: 9,
    source_addr: '393471234567',
    destination_addr: 'ACME',
    esm_class: 0,
    data_coding: 0,
    short_message: Buffer.alloc(0),
  }).toBuffer();
  const wire = withTlvs(base, [
    [0x0424, payload],
    [0x001e, Buffer.from('M-1\0')],
    [0x0427, Buffer.from([2])],
  ]);
  assert.ok(wire.length > 65_535 && wire.length <= MAX_INBOUND_PDU_OCTETS, `${wire.length} octets fit the limit`);
  const stream = streamOf(wire);
  const length = smpp.PDU.commandLength(stream);
  assert.equal(length, wire.length);
  const decoded = smpp.PDU.fromStream(stream, wire.length);
  assert.ok(decoded);
  assert.equal(decoded.command, 'deliver_sm');
  assert.ok(Buffer.isBuffer(decoded['message_payload']));
  assert.ok(decoded['message_payload'].equals(payload));
  assert.equal(decoded['receipted_message_id'], 'M-1');
  assert.deepStrictEqual(decoded, libraryDecode(wire));
});

test('deliver_sm with message_payload of any length up to 65,535 octets decodes equal to node-smpp’s own decoding', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff }), seq, (size, sequence) => {
      const base = new smpp.PDU('deliver_sm', {
        sequence_number: sequence,
        source_addr: '1',
        destination_addr: '2',
        short_message: Buffer.alloc(0),
      }).toBuffer();
      const wire = withTlvs(base, [[0x0424, Buffer.alloc(size, size & 0xff)]]);
      const ours = ourDecode(wire);
      assert.deepStrictEqual(ours, libraryDecode(wire));
      assert.equal((ours['message_payload'] as Buffer).length, size);
    }),
    { numRuns: 200 },
  );
});
