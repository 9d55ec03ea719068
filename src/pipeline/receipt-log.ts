/**
 * A receipt as received, for the receipts topic (`TOPIC_RECEIPTS`): the deliver_sm's own fields
 * and bytes, not our parse of them. Two uses (issue 20): with `RECEIPTS_LOG=all` every receipt is
 * written there as it is correlated — an audit log operators can read with kcat — and, once
 * correlation ownership is partitioned, it is how a receipt reaches the replica that owns its
 * message id. So it keeps everything a replica needs to handle the receipt as if it had arrived on
 * its own bind: `deliverSmOf` gives that deliver_sm back.
 *
 * JSON, not Avro, like the correlation topic: connector-internal, no registry lookup on the receipt
 * path. Bytes are base64.
 */
import type { DeliverSm } from '../smpp/protocol/types.js';

export interface LoggedReceipt {
  v: 1;
  /** The route whose bind took it: its message id is that route's (route-ids.ts). */
  route: string;
  sessionId: string;
  sequenceNumber: number;
  receivedAt: number;
  serviceType: string;
  esmClass: number;
  dataCoding: number;
  sourceAddr: string;
  sourceAddrTon: number;
  sourceAddrNpi: number;
  destinationAddr: string;
  destAddrTon: number;
  destAddrNpi: number;
  /** base64 of the short_message bytes on the wire. */
  shortMessage: string;
  receiptedMessageId?: string;
  messageState?: number;
  /** base64 of TLV 0x0423 as received. */
  networkErrorCode?: string;
  /** base64 of TLV 0x0424 as received. */
  messagePayload?: string;
}

/** What the receipts topic keeps of a deliver_sm received on `route`. */
export function loggedReceiptOf(d: DeliverSm, route: string): LoggedReceipt {
  const out: LoggedReceipt = {
    v: 1,
    route,
    sessionId: d.sessionId,
    sequenceNumber: d.sequenceNumber,
    receivedAt: d.receivedAt,
    serviceType: d.serviceType,
    esmClass: d.esmClass,
    dataCoding: d.dataCoding,
    sourceAddr: d.sourceAddr,
    sourceAddrTon: d.sourceAddrTon,
    sourceAddrNpi: d.sourceAddrNpi,
    destinationAddr: d.destinationAddr,
    destAddrTon: d.destAddrTon,
    destAddrNpi: d.destAddrNpi,
    shortMessage: d.shortMessage.toString('base64'),
  };
  if (d.receiptedMessageId !== undefined) out.receiptedMessageId = d.receiptedMessageId;
  if (d.messageState !== undefined) out.messageState = d.messageState;
  if (d.networkErrorCode !== undefined) out.networkErrorCode = d.networkErrorCode.toString('base64');
  if (d.messagePayload !== undefined) out.messagePayload = d.messagePayload.toString('base64');
  return out;
}

/** The deliver_sm a logged receipt was made from. */
export function deliverSmOf(r: LoggedReceipt): DeliverSm {
  const d: DeliverSm = {
    sessionId: r.sessionId,
    sequenceNumber: r.sequenceNumber,
    receivedAt: r.receivedAt,
    serviceType: r.serviceType,
    esmClass: r.esmClass,
    dataCoding: r.dataCoding,
    sourceAddr: r.sourceAddr,
    sourceAddrTon: r.sourceAddrTon,
    sourceAddrNpi: r.sourceAddrNpi,
    destinationAddr: r.destinationAddr,
    destAddrTon: r.destAddrTon,
    destAddrNpi: r.destAddrNpi,
    shortMessage: Buffer.from(r.shortMessage, 'base64'),
  };
  if (r.receiptedMessageId !== undefined) d.receiptedMessageId = r.receiptedMessageId;
  if (r.messageState !== undefined) d.messageState = r.messageState;
  if (r.networkErrorCode !== undefined) d.networkErrorCode = Buffer.from(r.networkErrorCode, 'base64');
  if (r.messagePayload !== undefined) d.messagePayload = Buffer.from(r.messagePayload, 'base64');
  return d;
}
