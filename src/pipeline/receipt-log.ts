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

/** The deliver_sm's own fields, its bytes as base64, and the route whose bind took it. */
export type LoggedReceipt = Omit<DeliverSm, 'shortMessage' | 'networkErrorCode' | 'messagePayload'> & {
  v: 1;
  /** The route whose bind took it: its message id is that route's (route-ids.ts). */
  route: string;
  /** base64 of the short_message bytes on the wire. */
  shortMessage: string;
  /** base64 of TLV 0x0423 as received. */
  networkErrorCode?: string;
  /** base64 of TLV 0x0424 as received. */
  messagePayload?: string;
};

/** What the receipts topic keeps of a deliver_sm received on `route`. */
export function loggedReceiptOf(d: DeliverSm, route: string): LoggedReceipt {
  const { shortMessage, networkErrorCode, messagePayload, ...fields } = d;
  const out: LoggedReceipt = { v: 1, route, ...fields, shortMessage: shortMessage.toString('base64') };
  if (networkErrorCode !== undefined) out.networkErrorCode = networkErrorCode.toString('base64');
  if (messagePayload !== undefined) out.messagePayload = messagePayload.toString('base64');
  return out;
}

/** The deliver_sm a logged receipt was made from. */
export function deliverSmOf(r: LoggedReceipt): DeliverSm {
  const { v: _v, route: _route, shortMessage, networkErrorCode, messagePayload, ...fields } = r;
  const d: DeliverSm = { ...fields, shortMessage: Buffer.from(shortMessage, 'base64') };
  if (networkErrorCode !== undefined) d.networkErrorCode = Buffer.from(networkErrorCode, 'base64');
  if (messagePayload !== undefined) d.messagePayload = Buffer.from(messagePayload, 'base64');
  return d;
}
