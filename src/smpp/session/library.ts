/**
 * The one place the rest of the code reaches node-smpp 0.5.1 through (docs/node-smpp.md): the
 * session, the pool helpers and the simulator import `smpp` from here, so the library's read path
 * is ours before the first PDU arrives (pdu-decode.ts, which reads the library's field tables, is
 * the only other module that imports `smpp`). node-smpp keeps the socket loop, the sequence-keyed
 * response callbacks and the encoding of the rarely sent PDUs (bind, enquire_link, unbind,
 * generic_nack); the codec of the per-message PDUs is ours, in one module per direction:
 *  - read: pdu-decode.ts — framing, raw message bytes, one-pass decode, installed below;
 *  - write: pdu-encode.ts — submit_sm and deliver_sm_resp bytes, wrapped below into library PDU
 *    objects that the library's send() accepts.
 * Why the split and not all or nothing: docs/node-smpp.md, "The codec: decision".
 */
import smpp from 'smpp';
import { DELIVER_SM_RESP, encodeDeliverSmResp, encodeSubmitSm, MAX_INBOUND_PDU_OCTETS, SUBMIT_SM } from '../protocol/pdu-encode.js';
import { LibraryPdu, readCommandLength, readPdu } from './pdu-decode.js';
import type { DeliverSm, SubmitParams } from '../protocol/types.js';

smpp.PDU.commandLength = readCommandLength;
smpp.PDU.fromStream = readPdu;
// Only the library's decoders read maxLength (commandLength and fromStream are replaced above; PDU.fromBuffer, which tests use).
smpp.PDU.maxLength = MAX_INBOUND_PDU_OCTETS;

export { PduFramingError } from './pdu-decode.js';
export { smpp };
export type Pdu = smpp.PDU;
export type LibrarySession = smpp.Session;

/**
 * A submit_sm ready for the library's send(): its bytes encoded here (pdu-encode.ts, byte-for-byte
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
  const shortMessage = Buffer.isBuffer(pdu['short_message']) ? pdu['short_message'] : Buffer.alloc(0);
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

/** A C-octet-string field of a decoded PDU ('' when absent): the library decodes them to strings. */
export function pduText(pdu: Pdu, field: string): string {
  const value = pdu[field];
  return typeof value === 'string' ? value : '';
}
