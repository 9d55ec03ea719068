/**
 * The write direction of the codec, and the wire's limits: the bytes of the two PDUs the connector
 * writes once per message — submit_sm and deliver_sm_resp — encoded directly, in one pass into
 * one buffer; the framing limits the read direction (pdu-decode.ts) enforces.
 *
 * Why by hand, beside node-smpp's encoder: node-smpp encodes any PDU generically — it builds an
 * object with every field, walks its keys (the prototype's methods included) three times, runs
 * a filter function per field and allocates a buffer per string (docs/node-smpp.md, defect 19).
 * For these two fixed layouts that was 7–8 % of the connector's CPU in the end-to-end benchmark;
 * written out it is a few hundred nanoseconds (`npm run bench:codec`). The output is byte-for-byte
 * node-smpp's (property tests in test/unit/pdu-encode.test.ts encode random PDUs both ways), and
 * node-smpp still sends it: library.ts hands these bytes to the library's send() as the PDU's
 * toBuffer(). The PDUs sent a few times per connection (bind, enquire_link, unbind, generic_nack)
 * stay with node-smpp's encoder.
 *
 * Pure: no `smpp` import, no I/O.
 */
import type { SubmitParams } from './types.js';

export const SUBMIT_SM = 0x00000004;
export const DELIVER_SM_RESP = 0x80000005;
/**
 * The longest PDU we write: node-smpp 0.5.1's own read limit (16 KiB), which many SMSC stacks
 * share. Our submit_sm never comes near it (short_message ≤ 255 octets, no TLVs).
 */
export const MAX_PDU_OCTETS = 16384;

/**
 * SMPP 3.4 §5.2.1–5.2.2: system_id is a C-Octet String of at most 16 octets and password of 9,
 * each with its NUL — 15 and 8 octets of text. Longer ones stop the process at start unless
 * SMPP_ALLOW_LONG_CREDENTIALS is set (SMSCs whose provider documents longer credentials exist);
 * a 3.4 SMSC refuses them, typically with 0x02.
 */
export const BIND_FIELD_LIMITS = { system_id: 15, password: 8 } as const;

/** The SMPP header: command_length, command_id, command_status, sequence_number — the shortest legal PDU. */
export const HEADER_OCTETS = 16;

/**
 * The longest PDU we read: 72 KiB (73,728 octets). SMPP 3.4's largest legal PDU is a
 * deliver_sm / data_sm whose `message_payload` TLV carries its maximum of 65,535 octets (the TLV
 * length is 16 bits): 16 header + at most 348 mandatory-field octets (deliver_sm's, its C-strings
 * at their maximum sizes) + 4 + 65,535 = 65,903. The rest (7,825 octets) leaves room for the other TLVs an SMSC adds (receipted_message_id,
 * message_state, network_error_code, vendor tags). node-smpp's own limit, 16 KiB, refused a
 * legal long MO or receipt by dropping the link, and the SMSC's re-send looped it (defect 18).
 */
export const MAX_INBOUND_PDU_OCTETS = 72 * 1024;

/**
 * Why a command_length read from the wire cannot frame a PDU, or undefined when it can. Below
 * the header there is nothing to decode; above the limit it is garbage or an attack. Either way
 * the byte stream cannot be re-synchronised (SMPP has no frame marker): the link must go.
 */
export function commandLengthProblem(length: number, max = MAX_INBOUND_PDU_OCTETS): string | undefined {
  if (length < HEADER_OCTETS) return `command_length ${length} is below the ${HEADER_OCTETS}-octet SMPP header`;
  if (length > max) return `command_length ${length} is over the ${max}-octet limit`;
  return undefined;
}

/**
 * node-smpp's time filter on encode: a non-empty string of at most 12 characters is taken as a
 * relative time and padded to `000000000000` + `000R`; anything else passes unchanged.
 */
export function smppTimeField(value: string | undefined): string {
  if (!value) return '';
  return value.length <= 12 ? `${'000000000000'.slice(value.length)}${value}000R` : value;
}

/** The submit_sm fields written as one octet, by name: checked before anything is written. */
const OCTET_FIELDS: ReadonlyArray<readonly [string, (p: SubmitParams) => number]> = [
  ['source_addr_ton', (p) => p.sourceAddrTon],
  ['source_addr_npi', (p) => p.sourceAddrNpi],
  ['dest_addr_ton', (p) => p.destAddrTon],
  ['dest_addr_npi', (p) => p.destAddrNpi],
  ['esm_class', (p) => p.esmClass],
  ['protocol_id', (p) => p.protocolId ?? 0],
  ['priority_flag', (p) => p.priorityFlag ?? 0],
  ['registered_delivery', (p) => p.registeredDelivery],
  ['data_coding', (p) => p.dataCoding],
];

/** The first field node-smpp could not write as one octet (out of range or not an integer), as an error text. */
function octetFieldError(params: SubmitParams): string | undefined {
  for (const [name, get] of OCTET_FIELDS) {
    const value = get(params);
    if (!(Number.isInteger(value) && value >= 0 && value <= 0xff)) return `${name} must be an octet (0–255), got ${value}`;
  }
  return undefined;
}

/**
 * submit_sm bytes, or an error text when node-smpp could not have encoded it either (an octet
 * field out of range, a short_message over 255 octets, a PDU longer than MAX_PDU_OCTETS).
 * C-octet strings are written as node-smpp writes them: one octet per UTF-16 code unit (its
 * 'ascii' encoding, i.e. latin1), then NUL.
 */
export function encodeSubmitSm(params: SubmitParams, sequenceNumber: number): Buffer | string {
  const serviceType = params.serviceType ?? '';
  const schedule = smppTimeField(params.scheduleDeliveryTime);
  const validity = smppTimeField(params.validityPeriod);
  const octetError = octetFieldError(params);
  if (octetError !== undefined) return octetError;
  const message = params.shortMessage;
  if (message.length > 0xff) return `short_message is ${message.length} octets (at most 255)`;
  const length =
    HEADER_OCTETS +
    serviceType.length +
    1 +
    2 +
    params.sourceAddr.length +
    1 +
    2 +
    params.destinationAddr.length +
    1 +
    3 + // esm_class, protocol_id, priority_flag
    schedule.length +
    1 +
    validity.length +
    1 +
    4 + // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
    1 +
    message.length;
  if (length > MAX_PDU_OCTETS) return `PDU too long (${length} octets)`;
  const out = Buffer.allocUnsafe(length);
  out.writeUInt32BE(length, 0);
  out.writeUInt32BE(SUBMIT_SM, 4);
  out.writeUInt32BE(0, 8);
  out.writeUInt32BE(sequenceNumber, 12);
  let at = cString(out, HEADER_OCTETS, serviceType);
  out[at++] = params.sourceAddrTon;
  out[at++] = params.sourceAddrNpi;
  at = cString(out, at, params.sourceAddr);
  out[at++] = params.destAddrTon;
  out[at++] = params.destAddrNpi;
  at = cString(out, at, params.destinationAddr);
  out[at++] = params.esmClass;
  out[at++] = params.protocolId ?? 0;
  out[at++] = params.priorityFlag ?? 0;
  at = cString(out, at, schedule);
  at = cString(out, at, validity);
  out[at++] = params.registeredDelivery;
  out[at++] = 0; // replace_if_present_flag
  out[at++] = params.dataCoding;
  out[at++] = 0; // sm_default_msg_id
  out[at++] = message.length;
  message.copy(out, at);
  return out;
}

/**
 * deliver_sm_resp bytes as node-smpp's `pdu.response({ command_status })` encodes them: with an
 * empty message_id (one NUL) when the status is 0, and the bare header otherwise (node-smpp
 * leaves every body field out of a response with a non-zero status).
 */
export function encodeDeliverSmResp(sequenceNumber: number, commandStatus: number): Buffer {
  const length = commandStatus === 0 ? HEADER_OCTETS + 1 : HEADER_OCTETS;
  const out = Buffer.allocUnsafe(length);
  out.writeUInt32BE(length, 0);
  out.writeUInt32BE(DELIVER_SM_RESP, 4);
  out.writeUInt32BE(commandStatus, 8);
  out.writeUInt32BE(sequenceNumber, 12);
  if (commandStatus === 0) out[HEADER_OCTETS] = 0;
  return out;
}

function cString(out: Buffer, at: number, value: string): number {
  const written = value.length === 0 ? 0 : out.write(value, at, 'latin1');
  out[at + written] = 0;
  return at + written + 1;
}
