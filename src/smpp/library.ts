/**
 * The one place that loads node-smpp 0.5.1 and corrects its codec for our use. Session, pool
 * helpers and the simulator import `smpp` through this module so the corrections are always
 * applied before the first PDU is decoded.
 *
 * Correction: raw short_message / message_payload. node-smpp decodes short_message with
 * `data_coding & 0x0F` (0 → its GSM table), so an ASCII receipt `id:… stat:DELIVRD err:000`
 * containing `_ @ $` comes back as `§ ¡ ¤`, and UDH bytes get mangled. We replace the *decode*
 * filter of short_message (deliver_sm, submit_sm, data_sm, outbind) and of the message_payload
 * TLV with the identity, keeping the bytes exactly as on the wire. The *encode* filters stay:
 * they pass a Buffer through unchanged, and we only ever send Buffers with explicit data_coding.
 */
import smpp from 'smpp';
import { commandLengthProblem, DELIVER_SM_RESP, encodeDeliverSmResp, encodeSubmitSm, MAX_INBOUND_PDU_OCTETS, SUBMIT_SM } from './pdu-bytes.js';
import type { DeliverSm, SubmitParams } from './types.js';

const RAW_COMMANDS = ['deliver_sm', 'submit_sm', 'data_sm', 'outbind', 'submit_multi', 'replace_sm'];

function keepRawBytes(): void {
  const identity = (value: unknown): unknown => value;
  for (const name of RAW_COMMANDS) {
    const param = smpp.commands[name]?.params?.['short_message'];
    if (param?.filter) {
      // A new filter object: the original is shared by several commands; mutating it is not ours to do.
      param.filter = { encode: param.filter.encode, decode: identity };
    }
  }
  const payload = smpp.tlvs['message_payload'];
  if (payload?.filter) payload.filter = { encode: payload.filter.encode, decode: identity };
}

keepRawBytes();

/**
 * Correction: decoding without the detours. node-smpp's PDU.fromStream copies every PDU into a
 * new buffer to put its length back in front, reads the header through a bound forEach, and
 * runs its decode filters over every enumerable key — the prototype's methods included. That was
 * 5–6 % of the connector's CPU (two PDUs read per message: submit_sm_resp and deliver_sm). This
 * is the same algorithm over the same field tables, types and filters, on the body as read:
 * the objects are equal to the library's own, key order included (property test in
 * test/unit/pdu-decode.test.ts), and the session code that reads them is unchanged. Byte fields
 * (short_message, TLVs) are views of the socket's read chunk rather than of a per-PDU copy: the
 * chunk is what arrived in one read (sized to it), and nothing keeps a receipt's bytes past its
 * handling.
 */
export function decodePduBody(commandLength: number, body: Buffer): smpp.PDU {
  const pdu = new LibraryPdu(commandLength, body.readUInt32BE(0), body.readUInt32BE(4), body.readUInt32BE(8), '');
  const layout = layoutOf(pdu.command_id);
  if (!layout) {
    pdu.command = 'unknown';
    return pdu;
  }
  pdu.command = layout.command;
  // Offsets count from the PDU's first octet, as in the library; the body starts at octet 4.
  let offset = 16;
  let present = 0;
  for (const { key, type } of layout.fields) {
    if (offset >= commandLength) break;
    const value = type.read(body, offset - 4);
    pdu[key] = value;
    offset += type.size(value);
    present++;
  }
  const filteredTlvs = offset + 4 <= commandLength ? readTlvs(pdu, body, offset, commandLength, layout) : null;
  for (const { key, filter, index } of layout.filtered) if (index < present) pdu[key] = filter.decode.call(pdu, pdu[key]);
  if (filteredTlvs) for (const tag of filteredTlvs) applyTlvFilter(pdu, tag);
  return pdu;
}

/**
 * A library PDU object (its prototype, so isResponse()/response() work), header set by name in the
 * library's key order. For decoded PDUs this keeps a receipt's ~24 fields in fast properties:
 * built with Object.create(prototype) and keyed stores the object fell into dictionary mode —
 * slower to fill and read, and ~1.5 KB of hash table per PDU for the young-generation GC (heap
 * sampling profile). Also the shell of the PDUs we encode ourselves (`preEncoded`).
 */
const LibraryPdu = function (this: smpp.PDU, commandLength: number, commandId: number, commandStatus: number, sequenceNumber: number, command: string) {
  this.command_length = commandLength;
  this.command_id = commandId;
  this.command_status = commandStatus;
  this.sequence_number = sequenceNumber;
  this.command = command;
} as unknown as new (commandLength: number, commandId: number, commandStatus: number, sequenceNumber: number, command: string) => smpp.PDU;
LibraryPdu.prototype = smpp.PDU.prototype;

/** One command's body fields in order, and those with a decode filter — read once from the library's tables. */
interface Layout {
  command: string;
  fields: { key: string; type: smpp.FieldType }[];
  filtered: { key: string; filter: smpp.FieldFilter; index: number }[];
  params: Record<string, smpp.ParamDef>;
  tlvMap: Record<string, string>;
}

const layouts = new Map<number, Layout | null>();

function layoutOf(commandId: number): Layout | null {
  let layout = layouts.get(commandId);
  if (layout === undefined) {
    const def = smpp.commandsById[commandId];
    const command = def ? smpp.commands[def.command] : undefined;
    if (!def || !command) layout = null;
    else {
      const params = command.params ?? {};
      const keys = Object.keys(params);
      layout = {
        command: def.command,
        fields: keys.map((key) => ({ key, type: params[key]!.type })),
        filtered: keys.flatMap((key, index) => (params[key]!.filter ? [{ key, filter: params[key]!.filter!, index }] : [])),
        params,
        tlvMap: command.tlvMap ?? {},
      };
    }
    layouts.set(commandId, layout);
  }
  return layout;
}

/** Reads the TLVs; returns the tags that take a decode filter (none in a plain receipt), in order of appearance. */
function readTlvs(pdu: smpp.PDU, body: Buffer, from: number, commandLength: number, layout: Layout): string[] | null {
  let filtered: string[] | null = null;
  let offset = from;
  while (offset + 4 <= commandLength) {
    const tlvId = body.readUInt16BE(offset - 4);
    const length = body.readUInt16BE(offset - 2);
    offset += 4;
    const tlv = smpp.tlvsById[tlvId];
    if (!tlv) {
      pdu[tlvId] = body.slice(offset - 4, offset - 4 + length);
      offset += length;
      continue;
    }
    const tag = layout.tlvMap[tlv.tag!] ?? tlv.tag!;
    const value = tlv.type.read(body, offset - 4, length);
    if (!tlv.multiple) pdu[tag] = value;
    else {
      if (!pdu[tag]) pdu[tag] = [];
      (pdu[tag] as unknown[]).push(value);
    }
    // The library filters a key once, by the body field's filter when it has one (already applied).
    if (smpp.tlvs[tag]?.filter && !layout.params[tag]?.filter && !(filtered ??= []).includes(tag)) filtered.push(tag);
    offset += length;
  }
  return filtered;
}

/** The library's _filter('decode') for one TLV key. */
function applyTlvFilter(pdu: smpp.PDU, key: string): void {
  const tlv = smpp.tlvs[key]!;
  const filter = tlv.filter!;
  if (tlv.multiple) {
    const values = pdu[key] as unknown[];
    for (let i = 0; i < values.length; i++) values[i] = filter.decode.call(pdu, values[i], true);
  } else if (key === 'message_payload') {
    // the library's skipUdh argument, the same expression (a number or a falsy value, not a boolean)
    const shortMessage = pdu['short_message'] as { message?: { length?: number } } | undefined;
    const skipUdh = shortMessage && shortMessage.message && shortMessage.message.length;
    pdu[key] = filter.decode.call(pdu, pdu[key], skipUdh as boolean | undefined);
  } else {
    pdu[key] = filter.decode.call(pdu, pdu[key], true);
  }
}

smpp.PDU.fromStream = (stream, commandLength) => {
  const body = stream.read(commandLength - 4);
  return body ? decodePduBody(commandLength, body) : false;
};

/** A command_length that cannot frame a PDU: the byte stream is lost, the connection must be replaced. */
export class PduFramingError extends Error {
  override readonly name = 'PduFramingError';
  constructor(
    message: string,
    readonly commandLength: number,
  ) {
    super(message);
  }
}

/**
 * Correction: framing. node-smpp's PDU.commandLength checks only the upper bound (16 KiB): a
 * length of 0 is skipped as "no PDU yet" and the next 4 octets are read as a length, 1–4 ask
 * the stream for ≤ 0 octets and wait forever — the session stays bound but deaf until the
 * enquire_link deadline — and 5–15 reach the decoder with a body shorter than the header.
 * Here any length outside 16…MAX_INBOUND_PDU_OCTETS throws; the library emits it as `error`,
 * and the session replaces the connection at once (session.ts, onLibraryError). The upper
 * bound is SMPP's own largest PDU (pdu-bytes.ts), so a legal 64 KB message_payload is read.
 */
smpp.PDU.commandLength = (stream) => {
  const head = stream.read(4);
  if (!head) return false;
  const length = head.readUInt32BE(0);
  const problem = commandLengthProblem(length);
  if (problem !== undefined) throw new PduFramingError(problem, length);
  return length;
};
// Only the library's decoders read maxLength (commandLength above, and PDU.fromBuffer, which tests use).
smpp.PDU.maxLength = MAX_INBOUND_PDU_OCTETS;

export { smpp };
export type Pdu = smpp.PDU;
export type LibrarySession = smpp.Session;

/**
 * A submit_sm ready for the library's send(): its bytes encoded here (pdu-bytes.ts, byte-for-byte
 * what node-smpp would write), or an error text when they cannot be — checked before send(),
 * because node-smpp throws from inside send() after registering the callback (defect 3).
 */
export function submitSmPdu(params: SubmitParams, sequenceNumber: number): smpp.PDU | string {
  const bytes = encodeSubmitSm(params, sequenceNumber);
  return typeof bytes === 'string' ? bytes : preEncoded('submit_sm', SUBMIT_SM, 0, sequenceNumber, bytes);
}

/** The deliver_sm_resp of a received deliver_sm (what `pdu.response({ command_status })` encodes). */
export function deliverSmResp(deliverSm: smpp.PDU, commandStatus: number): smpp.PDU {
  const sequence = deliverSm.sequence_number;
  return preEncoded('deliver_sm_resp', DELIVER_SM_RESP, commandStatus, sequence, encodeDeliverSmResp(sequence, commandStatus));
}

/**
 * A library PDU object carrying bytes encoded elsewhere: send() needs its prototype's
 * isResponse(), the sequence number and toBuffer(); nothing reads its body fields.
 */
function preEncoded(command: string, commandId: number, status: number, sequenceNumber: number, bytes: Buffer): smpp.PDU {
  const pdu = new LibraryPdu(bytes.length, commandId, status, sequenceNumber, command);
  pdu.toBuffer = () => bytes;
  return pdu;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function num(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

/** The typed, raw view of a received deliver_sm. */
export function deliverSmFromPdu(pdu: smpp.PDU, sessionId: string, receivedAt: number): DeliverSm {
  const shortMessage = Buffer.isBuffer(pdu['short_message']) ? (pdu['short_message'] as Buffer) : Buffer.alloc(0);
  const result: DeliverSm = {
    sessionId,
    sequenceNumber: pdu.sequence_number,
    serviceType: str(pdu['service_type']),
    sourceAddr: str(pdu['source_addr']),
    sourceAddrTon: num(pdu['source_addr_ton']),
    sourceAddrNpi: num(pdu['source_addr_npi']),
    destinationAddr: str(pdu['destination_addr']),
    destAddrTon: num(pdu['dest_addr_ton']),
    destAddrNpi: num(pdu['dest_addr_npi']),
    esmClass: num(pdu['esm_class']),
    dataCoding: num(pdu['data_coding']),
    shortMessage,
    receivedAt,
  };
  const receipted = pdu['receipted_message_id'];
  if (typeof receipted === 'string') result.receiptedMessageId = receipted;
  const state = pdu['message_state'];
  if (typeof state === 'number') result.messageState = state;
  const networkError = pdu['network_error_code'];
  if (Buffer.isBuffer(networkError)) result.networkErrorCode = networkError;
  const payload = pdu['message_payload'];
  if (Buffer.isBuffer(payload)) result.messagePayload = payload;
  return result;
}

const corked = new WeakSet<object>();

/**
 * Coalesces every PDU written to this socket until the current callback and its promise
 * continuations are done into one write: cork now, uncork on the next tick. A produce ack
 * releases dozens of deliver_sm_resp at once and a socket read frees several window slots; one
 * write syscall each (and, without Nagle, one TCP segment each) was ~10 % of the connector's CPU.
 */
export function coalesceWrites(socket: { cork(): void; uncork(): void }): void {
  if (corked.has(socket)) return;
  corked.add(socket);
  socket.cork();
  process.nextTick(() => {
    corked.delete(socket);
    socket.uncork();
  });
}
