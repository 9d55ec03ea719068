/**
 * The read direction of the codec: bytes from the SMSC (or, in the simulator, from the client)
 * into node-smpp PDU objects — the objects the library's Session hands to our listeners and
 * callbacks. Three corrections over node-smpp 0.5.1 (docs/node-smpp.md):
 *
 *  - raw short_message / message_payload (defect 8): the library decodes short_message with
 *    `data_coding & 0x0F` (0 → its GSM table), so an ASCII receipt `id:… stat:DELIVRD err:000`
 *    containing `_ @ $` comes back as `§ ¡ ¤`, and UDH bytes get mangled. The *decode* filter of
 *    short_message (every command that has one) and of the message_payload TLV becomes the
 *    identity: the bytes stay as on the wire. The *encode* filters stay: they pass a Buffer
 *    through unchanged, and we only ever hand them Buffers with an explicit data_coding.
 *  - framing (defects 2, 18): any command_length outside 16…MAX_INBOUND_PDU_OCTETS is a
 *    PduFramingError, where the library skipped 0, waited forever on 1–4 and refused legal
 *    PDUs over 16 KiB.
 *  - one pass (defect 19): the library's algorithm over the library's own field tables, without
 *    its per-PDU copy and its filter walk over every key. The objects are equal to the library's,
 *    key order and prototype included (property tests in test/unit/pdu-decode.test.ts).
 *
 * No I/O: `stream` is anything with read(size). The tables are node-smpp's exported definitions
 * (`smpp.commands`, `smpp.tlvs` — what its addCommand/addTLV extend), read once per command id.
 */
import smpp from 'smpp';
import { commandLengthProblem } from '../protocol/pdu-encode.js';

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

// Before any layout is read below: a layout keeps the filter objects it found.
keepRawBytes();

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

/** What node-smpp's Session reads a PDU from (its socket). */
export interface PduSource {
  read(size: number): Buffer | null;
}

/**
 * The 4 command_length octets, false while they have not all arrived; throws PduFramingError for a
 * length that cannot frame a PDU (the library emits the throw as `error`; the session replaces
 * the connection at once — session.ts, onLibraryError).
 */
export function readCommandLength(source: PduSource): number | false {
  const head = source.read(4);
  if (!head) return false;
  const length = head.readUInt32BE(0);
  const problem = commandLengthProblem(length);
  if (problem !== undefined) throw new PduFramingError(problem, length);
  return length;
}

/**
 * One PDU's body (the octets after command_length), false while it has not all arrived. Byte
 * fields (short_message, TLVs) are views of the socket's read chunk rather than of a per-PDU copy:
 * the chunk is what arrived in one read (sized to it), and nothing keeps a receipt's bytes past
 * its handling.
 */
export function readPdu(source: PduSource, commandLength: number): smpp.PDU | false {
  const body = source.read(commandLength - 4);
  return body ? decodePduBody(commandLength, body) : false;
}

/** Decodes a body whose command_length was already read (offsets below count from the PDU's first octet, as in the library). */
export function decodePduBody(commandLength: number, body: Buffer): smpp.PDU {
  const pdu = new LibraryPdu(commandLength, body.readUInt32BE(0), body.readUInt32BE(4), body.readUInt32BE(8), '');
  const layout = layoutOf(pdu.command_id);
  if (!layout) {
    pdu.command = 'unknown';
    return pdu;
  }
  pdu.command = layout.command;
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
 * sampling profile). Also the shell of the PDUs we encode ourselves (library.ts, preEncoded).
 */
export const LibraryPdu = function (this: smpp.PDU, commandLength: number, commandId: number, commandStatus: number, sequenceNumber: number, command: string) {
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
        filtered: keys.flatMap((key, index) => (params[key]!.filter ? [{ key, filter: params[key]!.filter, index }] : [])),
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
      // Unknown tags keep their bytes under the numeric id, as in the library (defect 10).
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
