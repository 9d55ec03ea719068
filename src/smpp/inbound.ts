/**
 * Requests the SMSC sends to us. node-smpp answers none of them (defect 5): an unanswered
 * enquire_link gets us disconnected, an unanswered unbind leaves the SMSC waiting, an unanswered
 * unknown request may stall its window. Every request gets exactly one answer here, except
 * deliver_sm, which is answered only when the receipt handler's promise settles (the pipeline
 * acknowledges a receipt only after its Kafka event is acked — RELIABILITY.md §5).
 */
import type { Logger } from 'pino';
import { coalesceWrites, deliverSmFromPdu, deliverSmResp, smpp, type LibrarySession, type Pdu } from './library.js';
import { DELIVER_SM_RESP_TEMPORARY, type DeliverSmHandler } from './types.js';

const ESME_RINVCMDID = 0x03;
const ESME_RINVBNDSTS = 0x04;
/** Requests that take no response in SMPP 3.4. */
const NO_RESPONSE = new Set(['alert_notification', 'outbind']);

export interface InboundContext {
  sessionId: string;
  log: Logger;
  now: () => number;
  /** False once the connection was replaced: late answers must not go to a new socket. */
  isCurrent: (lib: LibrarySession) => boolean;
  isBound: () => boolean;
  /** Called after unbind_resp was written: the session closes and reconnects with backoff. */
  onUnbind: () => void;
  onDeliverSm: () => void;
}

export class InboundRequests {
  private handler: DeliverSmHandler | undefined;
  private pendingDeliverSm = 0;

  constructor(private readonly ctx: InboundContext) {}

  setHandler(handler: DeliverSmHandler): void {
    this.handler = handler;
  }

  /** deliver_sm whose handler has not settled yet (a gauge). */
  pending(): number {
    return this.pendingDeliverSm;
  }

  handle(lib: LibrarySession, pdu: Pdu, receiveCapable: boolean): void {
    switch (pdu.command) {
      case 'enquire_link':
        this.answer(lib, pdu.response());
        return;
      case 'unbind':
        this.ctx.log.info('SMSC sent unbind; answering, then reconnecting with backoff');
        this.answer(lib, pdu.response());
        this.ctx.onUnbind();
        return;
      case 'deliver_sm':
        this.deliverSm(lib, pdu, receiveCapable);
        return;
      case 'unknown':
        // pdu.response() of an unknown command is generic_nack 0x03.
        this.ctx.log.warn({ commandId: pdu.command_id }, 'unknown SMPP command from SMSC; generic_nack');
        this.answer(lib, pdu.response());
        return;
      default:
        if (NO_RESPONSE.has(pdu.command)) return;
        this.ctx.log.warn({ command: pdu.command }, 'unexpected SMPP request from SMSC; generic_nack');
        this.answer(lib, new smpp.PDU('generic_nack', { sequence_number: pdu.sequence_number, command_status: ESME_RINVCMDID }));
    }
  }

  private deliverSm(lib: LibrarySession, pdu: Pdu, receiveCapable: boolean): void {
    this.ctx.onDeliverSm();
    if (!receiveCapable || !this.ctx.isBound()) {
      this.answer(lib, deliverSmResp(pdu, ESME_RINVBNDSTS));
      return;
    }
    const deliverSm = deliverSmFromPdu(pdu, this.ctx.sessionId, this.ctx.now());
    const handler = this.handler;
    let outcome: Promise<number>;
    if (!handler) {
      // No receiver registered: ask the SMSC to re-send later rather than drop the receipt.
      outcome = Promise.resolve(DELIVER_SM_RESP_TEMPORARY);
    } else {
      try {
        outcome = handler(deliverSm);
      } catch (error) {
        outcome = Promise.reject(error);
      }
    }
    this.pendingDeliverSm += 1;
    outcome
      .then(
        (status) => (Number.isInteger(status) && status >= 0 ? status : DELIVER_SM_RESP_TEMPORARY),
        (error: unknown) => {
          this.ctx.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'receipt handler failed; answering 0x64');
          return DELIVER_SM_RESP_TEMPORARY;
        },
      )
      .then((status) => {
        this.pendingDeliverSm -= 1;
        if (!this.ctx.isCurrent(lib)) {
          // The connection is gone; the SMSC re-sends unanswered deliver_sm on another bind.
          this.ctx.log.debug({ sequence: pdu.sequence_number }, 'deliver_sm answered after its connection closed; dropped');
          return;
        }
        this.answer(lib, deliverSmResp(pdu, status));
      })
      .catch(() => undefined);
  }

  private answer(lib: LibrarySession, response: Pdu): void {
    try {
      coalesceWrites(lib.socket);
      lib.send(response);
    } catch (error) {
      this.ctx.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not write SMPP response');
    }
  }
}
