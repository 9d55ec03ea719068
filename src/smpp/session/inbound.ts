/**
 * Requests the SMSC sends to us. node-smpp answers none of them (defect 5): an unanswered
 * enquire_link gets us disconnected, an unanswered unbind leaves the SMSC waiting, an unanswered
 * unknown request may stall its window. Every request gets exactly one answer here, except
 * deliver_sm, which is answered only when the receipt handler's promise settles (the pipeline
 * acknowledges a receipt only after its Kafka event is acked — docs/reliability.md §5).
 *
 * Back-pressure: an SMSC may send deliver_sm without waiting for our answers (its window is its
 * own; a hostile one has none; docs/node-smpp.md, defect 17). Each unanswered deliver_sm holds
 * its bytes and a handler until its event is acked, so per connection at most `maxUnanswered` are taken in: at the cap the
 * library stops reading the socket (`pause()`; the kernel's buffers fill and TCP flow control
 * slows the SMSC), and reading resumes once the answers bring the count down to half the cap.
 * While reading is paused nothing else is read either (responses, enquire_link): the session
 * holds new submits, and an enquire_link or submit_sm_resp deadline that finds reading paused
 * now, or paused at any moment since it was set, starts again (session.ts, submitter.ts): an
 * answer may be waiting unread behind the pause.
 */
import type { Logger } from 'pino';
import { coalesceWrites, deliverSmFromPdu, deliverSmResp, smpp, type LibrarySession, type Pdu } from './library.js';
import { DELIVER_SM_RESP_TEMPORARY, type DeliverSmHandler } from '../protocol/types.js';

const ESME_RINVCMDID = 0x03;
const ESME_RINVBNDSTS = 0x04;
/** Requests that take no response in SMPP 3.4. */
const NO_RESPONSE = new Set(['alert_notification', 'outbind']);
/** At most one warning per this long about reading paused: a sustained flood pauses many times a second. */
const PAUSE_LOG_EVERY_MS = 60_000;

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
  /** Unanswered deliver_sm per connection before reading pauses (≥ 1); reading resumes at half. */
  maxUnanswered: number;
  /** Reading of the current connection paused (true) or resumed (false) for back-pressure. */
  onReadingPaused: (paused: boolean) => void;
}

/** One connection's unanswered deliver_sm, whether we paused its reading, and how often we did. */
interface LinkLoad {
  unanswered: number;
  paused: boolean;
  pauses: number;
}

export class InboundRequests {
  private handler: DeliverSmHandler | undefined;
  private pendingDeliverSm = 0;
  private readonly loads = new WeakMap<LibrarySession, LinkLoad>();
  /** Highest unanswered count one connection reached (tests assert the cap holds). */
  private peakUnanswered = 0;
  private readPauses = 0;
  private pausesLogged = 0;
  private pauseLoggedAt = -Infinity;

  constructor(private readonly ctx: InboundContext) {}

  setHandler(handler: DeliverSmHandler): void {
    this.handler = handler;
  }

  /** deliver_sm whose handler has not settled yet (a gauge). */
  pending(): number {
    return this.pendingDeliverSm;
  }

  /** Unanswered deliver_sm of `lib`'s connection. */
  unanswered(lib: LibrarySession | undefined): number {
    return lib ? (this.loads.get(lib)?.unanswered ?? 0) : 0;
  }

  /** True while reading `lib` is paused for back-pressure. */
  isPaused(lib: LibrarySession | undefined): boolean {
    return lib ? (this.loads.get(lib)?.paused ?? false) : false;
  }

  /** A mark for readingHeldSince: it changes each time reading of `lib` pauses. */
  pauseMark(lib: LibrarySession): number {
    return this.loads.get(lib)?.pauses ?? 0;
  }

  /**
   * True when reading of `lib` is paused now or was paused at any moment since `mark`: an answer
   * awaited since then may have sat unread behind the pause. "Paused now" alone is not enough —
   * under a flood reading pauses and resumes many times a second, and a deadline that fires in
   * one of the short resumed spells finds its answer still queued behind thousands of deliver_sm.
   */
  readingHeldSince(lib: LibrarySession, mark: number): boolean {
    const load = this.loads.get(lib);
    return load !== undefined && (load.paused || load.pauses !== mark);
  }

  backpressure(): { peakUnanswered: number; readPauses: number } {
    return { peakUnanswered: this.peakUnanswered, readPauses: this.readPauses };
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
        outcome = Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    this.pendingDeliverSm += 1;
    const load = this.taken(lib);
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
        load.unanswered -= 1;
        if (!this.ctx.isCurrent(lib)) {
          // The connection is gone; the SMSC re-sends unanswered deliver_sm on another bind.
          this.ctx.log.debug({ sequence: pdu.sequence_number }, 'deliver_sm answered after its connection closed; dropped');
          return;
        }
        this.answer(lib, deliverSmResp(pdu, status));
        this.maybeResume(lib, load);
      })
      .catch(() => undefined);
  }

  /** Counts one deliver_sm taken in on `lib`; pauses reading at the cap. */
  private taken(lib: LibrarySession): LinkLoad {
    let load = this.loads.get(lib);
    if (!load) this.loads.set(lib, (load = { unanswered: 0, paused: false, pauses: 0 }));
    load.unanswered += 1;
    if (load.unanswered > this.peakUnanswered) this.peakUnanswered = load.unanswered;
    if (!load.paused && load.unanswered >= this.ctx.maxUnanswered) {
      // Called from the library's 'pdu' event: its read loop checks `paused` before the next PDU.
      load.paused = true;
      load.pauses += 1;
      this.readPauses += 1;
      lib.pause();
      this.logPause();
      this.ctx.onReadingPaused(true);
    }
    return load;
  }

  private logPause(): void {
    const now = this.ctx.now();
    if (now - this.pauseLoggedAt < PAUSE_LOG_EVERY_MS) return;
    this.ctx.log.warn(
      { cap: this.ctx.maxUnanswered, pausesSinceLastWarning: this.readPauses - this.pausesLogged },
      'deliver_sm unanswered at the cap: reading from the SMSC paused until half are answered (receipts are published slower than they arrive)',
    );
    this.pauseLoggedAt = now;
    this.pausesLogged = this.readPauses;
  }

  private maybeResume(lib: LibrarySession, load: LinkLoad): void {
    if (!load.paused || load.unanswered > Math.floor(this.ctx.maxUnanswered / 2)) return;
    load.paused = false;
    this.ctx.log.debug({ unanswered: load.unanswered }, 'deliver_sm answers caught up; reading resumed');
    this.ctx.onReadingPaused(false);
    // Last: resume() reads what waited in the socket at once, synchronously (more deliver_sm may pause it again).
    lib.resume();
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
