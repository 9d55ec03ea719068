/**
 * One client connection of the simulated SMSC: bind, submit_sm, enquire_link, unbind, idle
 * timeout, and outgoing deliver_sm. Built on node-smpp's server-side Session, which shares the
 * client's defects: listeners never throw (a throw deafens its parser) and any library `error`
 * closes the connection (docs/node-smpp.md, defects 2 and 16).
 */
import { pduText, smpp, type LibrarySession, type Pdu } from '../smpp/session/library.js';
import { isValidDestination, isValidSender, type Behaviour } from './behaviour.js';
import type { PduRecord } from './recorder.js';
import type { BindMode } from '../smpp/protocol/types.js';

const BIND_MODES: Record<string, BindMode> = {
  bind_transmitter: 'tx',
  bind_receiver: 'rx',
  bind_transceiver: 'trx',
};

export const STATUS = {
  OK: 0x00,
  INVMSGLEN: 0x01,
  INVCMDID: 0x03,
  INVBNDSTS: 0x04,
  ALYBND: 0x05,
  INVSRCADR: 0x0a,
  INVDSTADR: 0x0b,
  INVPASWD: 0x0e,
  INVSYSTYP: 0x15,
  THROTTLED: 0x58,
  NOCREDIT: 0x103,
} as const;

/** What a connection needs from the simulator (accounts, counters, receipts). */
export interface ConnectionContext {
  behaviour(): Behaviour;
  checkCredentials(systemId: string, password: string): boolean;
  /** Reserves a bind slot of the account; false when the account is at its cap. */
  reserveBind(systemId: string): boolean;
  releaseBind(systemId: string): void;
  /** Decides a submit that passed the protocol checks; returns status and message id. */
  decideSubmit(conn: SmscConnection, pdu: Pdu): { status: number; messageId?: string };
  countThrottled(): void;
  countSubmitReceived(): void;
  countUnanswered(): void;
  countEnquireLink(): void;
  countBindAttempt(status: number): void;
  record(entry: Omit<PduRecord, 'ts'>): void;
  now(): number;
  onClosed(conn: SmscConnection): void;
}

export class SmscConnection {
  systemId: string | undefined;
  mode: BindMode | undefined;
  private bound = false;
  private closed = false;
  private submitCount = 0;
  /** Times of accepted submits within the last second (throughput check). */
  private readonly acceptedAt: number[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  private sequence = 0;

  constructor(
    readonly id: number,
    private readonly lib: LibrarySession,
    private readonly ctx: ConnectionContext,
  ) {
    lib.on('error', () => this.guard(() => this.close('error')));
    lib.on('close', () => this.guard(() => this.close('peer-closed')));
    lib.on('pdu', (pdu: Pdu) => this.guard(() => this.onPdu(pdu)));
    this.resetIdle();
  }

  isReceiver(): boolean {
    return this.bound && !this.closed && (this.mode === 'rx' || this.mode === 'trx');
  }

  isBound(): boolean {
    return this.bound && !this.closed;
  }

  /** Sends a deliver_sm; `onResult` gets the deliver_sm_resp status, or undefined on timeout/close. */
  sendDeliverSm(fields: Record<string, unknown>, timeoutMs: number, onResult: (status: number | undefined) => void): void {
    if (!this.isReceiver()) {
      onResult(undefined);
      return;
    }
    const sequence = this.nextSequence();
    const pdu = new smpp.PDU('deliver_sm', { ...fields, sequence_number: sequence });
    let settled = false;
    const settle = (status: number | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      delete this.lib._callbacks[sequence];
      onResult(status);
    };
    const timer = setTimeout(() => settle(undefined), timeoutMs);
    const sent = this.send(pdu, { callback: (resp) => settle(resp.command_status) });
    if (!sent) settle(undefined);
  }

  /** Writes raw bytes (garbage injection). */
  writeRaw(bytes: Buffer): void {
    if (!this.closed) this.lib.socket.write(bytes);
  }

  /** Sends unbind to the client (the client must answer and reconnect). */
  sendUnbind(): void {
    if (this.isBound()) this.send(new smpp.PDU('unbind', { sequence_number: this.nextSequence() }));
  }

  /**
   * Forgets this connection's bind but keeps the socket (an SMSC whose session layer restarted
   * behind a proxy): submit_sm is answered 0x04 from now on, enquire_link still answered.
   */
  forgetBind(): void {
    if (!this.bound || this.closed) return;
    if (this.systemId !== undefined) this.ctx.releaseBind(this.systemId);
    this.bound = false;
    this.ctx.record({ conn: this.id, dir: 'out', command: 'forget-bind', status: 0, seq: 0 });
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.bound && this.systemId !== undefined) this.ctx.releaseBind(this.systemId);
    this.bound = false;
    this.ctx.record({ conn: this.id, dir: 'out', command: 'close', status: 0, seq: 0, note: reason });
    this.lib.removeAllListeners('pdu');
    this.lib.on('error', () => undefined);
    this.lib.destroy();
    this.ctx.onClosed(this);
  }

  private onPdu(pdu: Pdu): void {
    if (this.closed) return;
    this.resetIdle();
    this.ctx.record({
      conn: this.id,
      dir: 'in',
      command: pdu.command,
      status: pdu.command_status,
      seq: pdu.sequence_number,
      ...(this.systemId !== undefined ? { systemId: this.systemId } : {}),
      ...(typeof pdu['destination_addr'] === 'string' && pdu.command === 'submit_sm' ? { destination: pdu['destination_addr'] } : {}),
    });
    if (pdu.isResponse()) return; // deliver_sm_resp etc. are matched by node-smpp's callbacks
    const mode = BIND_MODES[pdu.command];
    if (mode) return this.onBind(pdu, mode);
    switch (pdu.command) {
      case 'enquire_link':
        this.ctx.countEnquireLink();
        this.send(pdu.response());
        return;
      case 'unbind':
        this.send(pdu.response());
        this.lib.close(); // end() after the unbind_resp is flushed
        return;
      case 'submit_sm':
        this.onSubmit(pdu);
        return;
      case 'unknown':
        this.send(pdu.response());
        return;
      default:
        this.send(new smpp.PDU('generic_nack', { sequence_number: pdu.sequence_number, command_status: STATUS.INVCMDID }));
    }
  }

  private onBind(pdu: Pdu, mode: BindMode): void {
    const systemId = pduText(pdu, 'system_id');
    const password = pduText(pdu, 'password');
    let status: number = STATUS.OK;
    if (this.bound) status = STATUS.ALYBND;
    else if (!this.ctx.checkCredentials(systemId, password)) status = STATUS.INVPASWD;
    else if (pduText(pdu, 'system_type') !== '') status = STATUS.INVSYSTYP;
    else if (!this.ctx.reserveBind(systemId)) status = STATUS.ALYBND;
    this.ctx.countBindAttempt(status);
    if (status === STATUS.OK) {
      this.bound = true;
      this.systemId = systemId;
      this.mode = mode;
    }
    this.send(pdu.response({ command_status: status, system_id: 'AGILESIM' }));
  }

  private onSubmit(pdu: Pdu): void {
    this.ctx.countSubmitReceived();
    const behaviour = this.ctx.behaviour();
    if (!this.bound || this.mode === 'rx') return this.answerSubmit(pdu, STATUS.INVBNDSTS, 0);
    this.submitCount += 1;
    if (behaviour.dropAfterSubmits !== null && this.submitCount >= behaviour.dropAfterSubmits) {
      this.ctx.countUnanswered();
      this.close('drop-after-submits');
      return;
    }
    if (behaviour.blackHole) {
      this.ctx.countUnanswered();
      return;
    }
    const now = this.ctx.now();
    while (this.acceptedAt.length > 0 && (this.acceptedAt[0] as number) <= now - 1000) this.acceptedAt.shift();
    // Strict provider counting: any 1000 ms window; throttled submits do not take a slot.
    if (this.acceptedAt.length >= behaviour.throughputPerSecond || Math.random() < behaviour.throttleRatio) {
      this.ctx.countThrottled();
      return this.answerSubmit(pdu, STATUS.THROTTLED, behaviour.responseLatencyMs);
    }
    const status = this.protocolCheck(pdu, behaviour);
    if (status !== STATUS.OK) return this.answerSubmit(pdu, status, behaviour.responseLatencyMs);
    const decision = this.ctx.decideSubmit(this, pdu);
    if (decision.status === STATUS.OK) this.acceptedAt.push(now);
    this.answerSubmit(pdu, decision.status, behaviour.responseLatencyMs, decision.messageId);
  }

  private protocolCheck(pdu: Pdu, behaviour: Behaviour): number {
    if (behaviour.creditExhausted) return STATUS.NOCREDIT;
    if (!isValidSender(pduText(pdu, 'source_addr'))) return STATUS.INVSRCADR;
    if (!isValidDestination(pduText(pdu, 'destination_addr'))) return STATUS.INVDSTADR;
    const message = pdu['short_message'];
    if (Buffer.isBuffer(message) && !fitsOneSms(message, Number(pdu['data_coding'] ?? 0), Number(pdu['esm_class'] ?? 0))) return STATUS.INVMSGLEN;
    return STATUS.OK;
  }

  private answerSubmit(pdu: Pdu, status: number, latencyMs: number, messageId?: string): void {
    const respond = (): void =>
      this.guard(() => {
        if (this.closed) return;
        this.send(
          pdu.response(status === STATUS.OK ? { message_id: messageId ?? '' } : { command_status: status }),
          messageId !== undefined ? { messageId } : {},
        );
      });
    if (latencyMs > 0) setTimeout(respond, latencyMs);
    else respond();
  }

  private send(pdu: Pdu, extra: { callback?: (pdu: Pdu) => void; messageId?: string } = {}): boolean {
    if (this.closed) return false;
    const { callback, messageId } = extra;
    this.ctx.record({
      conn: this.id,
      dir: 'out',
      command: pdu.command,
      status: pdu.command_status,
      seq: pdu.sequence_number,
      ...(this.systemId !== undefined ? { systemId: this.systemId } : {}),
      ...(messageId !== undefined ? { messageId } : {}),
      ...(typeof pdu['receipted_message_id'] === 'string' ? { messageId: pdu['receipted_message_id'] } : {}),
    });
    try {
      return this.lib.send(pdu, callback ? (resp) => this.guard(() => callback(resp)) : undefined);
    } catch {
      this.close('encode-error');
      return false;
    }
  }

  private resetIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const idleMs = this.ctx.behaviour().idleTimeoutMs;
    this.idleTimer = setTimeout(() => this.guard(() => this.close('idle-timeout')), idleMs);
  }

  private nextSequence(): number {
    this.sequence = this.sequence >= 0x7fffffff ? 1 : this.sequence + 1;
    return this.sequence;
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch {
      this.close('handler-error');
    }
  }
}

/**
 * The provider's 0x01 rule: "SMS limited to 160 characters (or 70 for unicode)" — i.e. what fits
 * one 140-octet air-interface SMS. data_coding 0 (SMSC default alphabet) travels UNPACKED over
 * SMPP, one octet per septet, so its limit is 160 septets, a UDH counting as its octets in septets
 * (6 octets → 7); every other coding is limited to 140 octets as sent.
 */
export function fitsOneSms(shortMessage: Buffer, dataCoding: number, esmClass: number): boolean {
  if (dataCoding !== 0) return shortMessage.length <= 140;
  const udhOctets = esmClass & 0x40 && shortMessage.length > 0 ? Math.min(shortMessage.length, (shortMessage[0] ?? 0) + 1) : 0;
  return Math.ceil((udhOctets * 8) / 7) + (shortMessage.length - udhOctets) <= 160;
}
