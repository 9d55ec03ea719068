/**
 * Receipt content in the provider's form: deliver_sm with esm_class 0x04, TLVs
 * receipted_message_id + message_state (+ network_error_code when failed), and the SMPP 3.4
 * Appendix B text `id:… sub:001 dlvrd:001 submit date:yyMMddHHmmss done date:yyMMddHHmmss
 * stat:DELIVRD err:000 text:…` — dates in UTC with 12 digits, as Agile writes them.
 */
import { randomBytes } from 'node:crypto';
import type { SmppAddressPair } from '../smpp/protocol/types.js';
import { RECEIPT_STATES, type ReceiptStat } from './behaviour.js';

/** `AGILE-XXXXXXXX-XXXXXX-XXXXXX-XXXXXX`, uppercase hex (the provider's message id shape). */
export function agileMessageId(): string {
  const hex = randomBytes(13).toString('hex').toUpperCase(); // 26 digits = 8 + 6 + 6 + 6
  return `AGILE-${hex.slice(0, 8)}-${hex.slice(8, 14)}-${hex.slice(14, 20)}-${hex.slice(20, 26)}`;
}

/** yyMMddHHmmss in UTC. */
export function receiptDate(at: number): string {
  const d = new Date(at);
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    two(d.getUTCFullYear() % 100) + two(d.getUTCMonth() + 1) + two(d.getUTCDate()) + two(d.getUTCHours()) + two(d.getUTCMinutes()) + two(d.getUTCSeconds())
  );
}

/** `SmppAddressPair` is the original submit's: its source becomes the receipt's destination. */
export interface ReceiptFacts extends SmppAddressPair {
  messageId: string;
  submittedAt: number;
  doneAt: number;
  stat: ReceiptStat;
  /** Delivery error code (0 when delivered). */
  err: number;
  /** First bytes of the original short_message (printable ASCII kept, others shown as '.'). */
  textSample: Buffer;
}

/** The receipt text as ASCII bytes. */
export function receiptText(facts: ReceiptFacts): Buffer {
  const delivered = facts.stat === 'DELIVRD' ? '001' : '000';
  const head =
    `id:${facts.messageId} sub:001 dlvrd:${delivered} submit date:${receiptDate(facts.submittedAt)} ` +
    `done date:${receiptDate(facts.doneAt)} stat:${facts.stat} err:${String(facts.err).padStart(3, '0')} text:`;
  return Buffer.concat([Buffer.from(head, 'ascii'), facts.textSample]);
}

/** Up to 20 bytes of the original message for `text:`; non-printable bytes become '.'. */
export function textSample(shortMessage: Buffer, esmClass: number, dataCoding: number): Buffer {
  let body = shortMessage;
  if (esmClass & 0x40 && body.length > 0) body = body.subarray(Math.min(body.length, (body[0] ?? 0) + 1));
  if (dataCoding === 0x08) return Buffer.alloc(0);
  return Buffer.from([...body.subarray(0, 20)].map((b) => (b >= 0x20 && b <= 0x7e ? b : 0x2e)));
}

/** deliver_sm fields (node-smpp names) for a receipt. */
export function receiptDeliverSmFields(facts: ReceiptFacts, sequenceNumber: number): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    sequence_number: sequenceNumber,
    service_type: '',
    source_addr_ton: facts.destAddrTon,
    source_addr_npi: facts.destAddrNpi,
    source_addr: facts.destinationAddr,
    dest_addr_ton: facts.sourceAddrTon,
    dest_addr_npi: facts.sourceAddrNpi,
    destination_addr: facts.sourceAddr,
    esm_class: 0x04,
    protocol_id: 0,
    priority_flag: 0,
    schedule_delivery_time: '',
    validity_period: '',
    registered_delivery: 0,
    replace_if_present_flag: 0,
    data_coding: 0,
    sm_default_msg_id: 0,
    short_message: receiptText(facts),
    receipted_message_id: facts.messageId,
    message_state: RECEIPT_STATES[facts.stat],
  };
  if (facts.stat !== 'DELIVRD') {
    // network_error_code: network type 3 (GSM) + 2-octet error code.
    const code = Buffer.alloc(3);
    code.writeUInt8(3, 0);
    code.writeUInt16BE(facts.err & 0xffff, 1);
    fields['network_error_code'] = code;
  }
  return fields;
}
