/**
 * The submit path of one SMPP session: queue → pacer → window → submit_sm on the wire → response,
 * response timeout, or connection loss. Every submit settles exactly once with a SubmitResult.
 *
 * Split from session.ts, which keeps the connection lifecycle (connect, bind, keep-alive,
 * teardown): the session hands this class the live connection as a `SubmitLink` and tells it when
 * the connection is gone. node-smpp has no window, no request timeout and leaks callbacks
 * (docs/node-smpp.md, defects 3 and 4); what makes up for that on the submit side is here.
 */
import type { Logger } from 'pino';
import { coalesceWrites, submitSmPdu, type LibrarySession, type Pdu } from './library.js';
import { SubmitPacer, type PacingOptions } from '../protocol/pacing.js';
import { submitStatus } from '../protocol/status.js';
import { ESME_RTHROTTLED, type SessionCounters, type SubmitParams, type SubmitResult } from '../protocol/types.js';
import { SubmitWindow, type WaitingSubmit } from './window.js';

/** The bound connection, as the submit path needs it. */
export interface SubmitLink {
  readonly lib: LibrarySession;
  nextSequence(): number;
  /** A timer that the connection's teardown clears. */
  addTimer(ms: number, fire: () => void): NodeJS.Timeout;
  /** The timer ended on its own (response arrived): the teardown need not clear it. */
  forgetTimer(timer: NodeJS.Timeout): void;
  /** A mark for readingHeldSince (deliver_sm back-pressure). */
  pauseMark(): number;
  /** We stopped reading this connection at some moment since `mark`: answers may sit unread in the socket. */
  readingHeldSince(mark: number): boolean;
}

export type SubmitCounters = Pick<SessionCounters, 'submitsSent' | 'responses' | 'throttled' | 'timeouts' | 'ambiguous'>;

export interface SubmitterOptions {
  sessionId: string;
  window: number;
  pacing: PacingOptions;
  responseTimeoutMs: number;
  log: Logger;
  now: () => number;
  counters: SubmitCounters;
  /** The connection to send on while bound, else undefined. */
  link: () => SubmitLink | undefined;
  /** Runs a callback so that nothing throws into node-smpp or a timer. */
  guard: (fn: () => void) => void;
  /** The connection is suspect and the window is now empty: replace the connection. */
  recycle: (reason: SuspectReason) => void;
}

/**
 * Why a session stops sending and is replaced once its window is empty:
 * - response-timeout: a submit_sm went unanswered (the link may be dead);
 * - smsc-not-bound: the SMSC answered with a status whose action is `rebind` (0x04, "Bind not yet
 *   completed"): our side thinks it is bound, the SMSC does not — only a new bind mends that.
 */
export type SuspectReason = 'response-timeout' | 'smsc-not-bound';

type NotSentReason = Extract<SubmitResult, { kind: 'not-sent' }>['reason'];

export class Submitter {
  readonly window: SubmitWindow;
  private readonly pacer: SubmitPacer;
  private pumpTimer: NodeJS.Timeout | undefined;
  /** Set while suspect: send nothing more, recycle once the window is empty. */
  private suspectReason: SuspectReason | undefined;

  constructor(private readonly opts: SubmitterOptions) {
    this.window = new SubmitWindow(opts.window);
    this.pacer = new SubmitPacer(opts.pacing);
  }

  get suspect(): boolean {
    return this.suspectReason !== undefined;
  }

  /** Queues one submit_sm; the caller checked that the session is bound and accepting. */
  submit(params: SubmitParams): Promise<SubmitResult> {
    const result = this.window.enqueue(params, this.opts.now());
    this.pump();
    return result;
  }

  currentRate(): number {
    return this.pacer.currentRate(this.opts.now());
  }

  /** How long until the pacer lets the next submit_sm go (ms; 0: at once). */
  sendDelayMs(): number {
    const now = this.opts.now();
    return Math.max(0, this.pacer.nextSendAt(now) - now);
  }

  notSent(reason: NotSentReason, detail?: string): SubmitResult {
    return { kind: 'not-sent', reason, sessionId: this.opts.sessionId, ...(detail !== undefined ? { detail } : {}) };
  }

  /** Moves queued submits onto the wire while the window has room and the pacer allows. */
  pump(): void {
    const link = this.opts.link();
    if (this.pumpTimer || !link) return;
    // PDUs due in this tick go out in one write (see coalesceWrites).
    coalesceWrites(link.lib.socket);
    while (!this.suspectReason && this.window.hasRoom() && this.window.queuedCount() > 0 && this.opts.link() === link) {
      const now = this.opts.now();
      const sendAt = this.pacer.nextSendAt(now);
      if (sendAt > now) {
        this.pumpTimer = setTimeout(() => {
          this.pumpTimer = undefined;
          this.opts.guard(() => this.pump());
        }, sendAt - now);
        return;
      }
      const waiting = this.window.shift();
      if (waiting) this.send(link, waiting, now);
    }
  }

  /**
   * The connection is gone: every in-flight submit becomes ambiguous (it was on the wire, the
   * SMSC may have accepted it), every queued one not-sent. `lib` is the closed connection's
   * library session, whose callback entries are deleted (defect 3).
   */
  connectionLost(lib: LibrarySession, closing: boolean): void {
    this.suspectReason = undefined;
    this.pacer.newLink();
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    const now = this.opts.now();
    for (const entry of this.window.takeAllInFlight()) {
      delete lib._callbacks[entry.sequenceNumber];
      this.opts.counters.ambiguous += 1;
      entry.resolve({ kind: 'ambiguous', reason: closing ? 'closing' : 'connection-lost', sessionId: this.opts.sessionId, elapsedMs: now - entry.sentAt });
    }
    this.failQueued(closing ? 'closing' : 'connection-lost');
  }

  /** Every queued (not yet sent) submit ends not-sent. */
  failQueued(reason: NotSentReason): void {
    for (const waiting of this.window.takeAllWaiting()) waiting.resolve(this.notSent(reason));
  }

  private send(link: SubmitLink, waiting: WaitingSubmit, now: number): void {
    const sequence = link.nextSequence();
    // Encoded first: node-smpp registers the callback before encoding and throws from send() (defect 3).
    const pdu = submitSmPdu(waiting.params, sequence);
    if (typeof pdu === 'string') {
      waiting.resolve(this.notSent('encode-error', pdu));
      return;
    }
    let sent: boolean;
    try {
      sent = link.lib.send(pdu, (resp) => this.opts.guard(() => this.onResponse(link, sequence, resp)));
    } catch (error) {
      delete link.lib._callbacks[sequence];
      waiting.resolve(this.notSent('encode-error', errorText(error)));
      return;
    }
    if (!sent) {
      waiting.resolve(this.notSent('socket-not-writable'));
      return;
    }
    const paced = this.pacer.take(now);
    this.opts.counters.submitsSent += 1;
    const timer = link.addTimer(this.opts.responseTimeoutMs, this.onTimeout.bind(this, link, sequence, link.pauseMark()));
    this.window.add({ sequenceNumber: sequence, sentAt: now, paced, resolve: waiting.resolve, timer });
  }

  private onResponse(link: SubmitLink, sequence: number, resp: Pdu): void {
    const entry = this.window.settle(sequence);
    if (!entry) return;
    link.forgetTimer(entry.timer as NodeJS.Timeout);
    const now = this.opts.now();
    this.opts.counters.responses += 1;
    this.pacer.answered(entry.paced, entry.sentAt, now);
    const status = resp.command_status;
    if (status === ESME_RTHROTTLED) {
      this.opts.counters.throttled += 1;
      if (this.pacer.slowDown(now)) this.opts.log.warn({ limit: this.pacer.currentLimit(now) }, 'SMSC throttled (0x58): slowing down');
    } else if (status !== 0 && submitStatus(status).action === 'rebind') {
      this.becomeSuspect('smsc-not-bound', { status: submitStatus(status).hex }, 'the SMSC says this session is not bound; rebinding');
    }
    const messageId = typeof resp['message_id'] === 'string' && resp['message_id'] !== '' ? resp['message_id'] : undefined;
    entry.resolve({
      kind: 'response',
      command: resp.command === 'generic_nack' ? 'generic_nack' : 'submit_sm_resp',
      commandStatus: status,
      ...(messageId !== undefined ? { messageId } : {}),
      roundTripMs: now - entry.sentAt,
      sessionId: this.opts.sessionId,
    });
    this.afterSettle();
  }

  /**
   * No response within responseTimeoutMs: the request is AMBIGUOUS (the SMSC may have accepted
   * it). The library's callback entry is deleted (defect 3). The session becomes suspect: it
   * sends nothing more and is recycled once its window is empty, so every other in-flight
   * request still gets its full timeout (each ends between 1× and 2× the timeout).
   */
  private onTimeout(link: SubmitLink, sequence: number, pauseMark: number): void {
    const waiting = this.window.inFlightEntry(sequence);
    if (waiting && link.readingHeldSince(pauseMark)) {
      // Our own back-pressure, not the SMSC's silence: the submit_sm_resp may be waiting unread in
      // the socket (defect 17). The deadline starts again, as enquire_link's does; the pause ends when our
      // receipt handlers answer (each within RECEIPT_ACK_WAIT_MS).
      link.forgetTimer(waiting.timer as NodeJS.Timeout);
      waiting.timer = link.addTimer(this.opts.responseTimeoutMs, this.onTimeout.bind(this, link, sequence, link.pauseMark()));
      return;
    }
    const entry = this.window.settle(sequence);
    delete link.lib._callbacks[sequence];
    if (!entry) return;
    this.opts.counters.timeouts += 1;
    this.opts.counters.ambiguous += 1;
    entry.resolve({ kind: 'ambiguous', reason: 'timeout', sessionId: this.opts.sessionId, elapsedMs: this.opts.now() - entry.sentAt });
    this.becomeSuspect('response-timeout', { timeoutMs: this.opts.responseTimeoutMs }, 'submit_sm_resp timeout; recycling the session');
    this.afterSettle();
  }

  private becomeSuspect(reason: SuspectReason, detail: Record<string, unknown>, message: string): void {
    if (this.suspectReason) return;
    this.suspectReason = reason;
    this.opts.log.warn(detail, message);
  }

  private afterSettle(): void {
    if (this.suspectReason && this.window.inFlightCount() === 0) {
      this.opts.recycle(this.suspectReason);
      return;
    }
    this.pump();
  }
}

export function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
