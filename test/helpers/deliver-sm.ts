/** deliver_sm PDUs as the session hands them to the receipt processor, for unit tests. */
import type { DeliverSm } from '../../src/smpp/protocol/types.js';

/** A deliver_sm from a handset (393471234567) to the sender ACME; a mobile-originated message unless `esmClass` says otherwise. */
export function deliverSm(fields: Partial<DeliverSm> = {}): DeliverSm {
  return {
    sessionId: 's1',
    sequenceNumber: 7,
    serviceType: '',
    sourceAddr: '393471234567',
    sourceAddrTon: 1,
    sourceAddrNpi: 1,
    destinationAddr: 'ACME',
    destAddrTon: 5,
    destAddrNpi: 0,
    esmClass: 0x00,
    dataCoding: 0,
    shortMessage: Buffer.alloc(0),
    receivedAt: 2000,
    ...fields,
  };
}

/** A delivery receipt (esm_class 0x04) in the text format, for `messageId` with final state `stat`. */
export function receiptDeliverSm(messageId: string, stat = 'DELIVRD'): DeliverSm {
  return deliverSm({
    esmClass: 0x04,
    shortMessage: Buffer.from(`id:${messageId} sub:001 dlvrd:001 submit date:2511261200 done date:2511261201 stat:${stat} err:000 text:`, 'latin1'),
  });
}
