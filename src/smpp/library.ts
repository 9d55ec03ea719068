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

export { smpp };
export type Pdu = smpp.PDU;
export type LibrarySession = smpp.Session;

/** Builds a submit_sm PDU with every field explicit (node-smpp defaults are wrong for us). */
export function buildSubmitSm(params: SubmitParams, sequenceNumber: number): smpp.PDU {
  return new smpp.PDU('submit_sm', {
    sequence_number: sequenceNumber,
    service_type: params.serviceType ?? '',
    source_addr_ton: params.sourceAddrTon,
    source_addr_npi: params.sourceAddrNpi,
    source_addr: params.sourceAddr,
    dest_addr_ton: params.destAddrTon,
    dest_addr_npi: params.destAddrNpi,
    destination_addr: params.destinationAddr,
    esm_class: params.esmClass,
    protocol_id: params.protocolId ?? 0,
    priority_flag: params.priorityFlag ?? 0,
    schedule_delivery_time: params.scheduleDeliveryTime ?? '',
    validity_period: params.validityPeriod ?? '',
    registered_delivery: params.registeredDelivery,
    replace_if_present_flag: 0,
    data_coding: params.dataCoding,
    sm_default_msg_id: 0,
    short_message: params.shortMessage,
  });
}

/**
 * Validates what node-smpp would throw on *inside* send() (defect: it throws synchronously on
 * a non-string address or a short_message > 255 octets, after registering the callback).
 * Returns an error text, or undefined when the PDU encodes — and then the PDU keeps its bytes,
 * so it must not be changed afterwards.
 */
export function encodeCheck(pdu: smpp.PDU): string | undefined {
  try {
    const buffer = pdu.toBuffer();
    if (buffer.length > smpp.PDU.maxLength) return `PDU too long (${buffer.length} octets)`;
    // send() encodes again; hand it these bytes instead (encoding is ~8 % of the hot path).
    pdu.toBuffer = () => buffer;
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
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
