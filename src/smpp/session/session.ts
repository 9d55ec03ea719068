/**
 * One SMPP bind over node-smpp 0.5.1 — which is a PDU codec, not a client (docs/node-smpp.md).
 * This class adds what the library lacks:
 *  - a NEW library session per connection (defect 1: reconnecting a used session never reads again);
 *  - every library `error` is fatal → destroy and reconnect (defect 2: the parser can go deaf) and
 *    no listener can throw into the library (that also leaves it deaf);
 *  - own per-request response timers, deleting the library's callback entry (defect 3: leaks),
 *    a window and pacing (defect 4: no window, no back-pressure) — the submit path, in submitter.ts;
 *  - answers to enquire_link, unbind and unknown requests (defect 5), own enquire_link every
 *    enquireLinkMs with a deadline, even under traffic (defect 6, provider rule);
 *  - connect and bind timeouts (defect 14), interface_version 0x34 (defect 13);
 *  - raw deliver_sm bytes (defect 8, see pdu-decode.ts);
 *  - framing: a command_length outside 16…72 KiB replaces the connection at once (defects 2, 16, 18;
 *    pdu-decode.ts);
 *  - back-pressure on deliver_sm: reading pauses at maxUnansweredDeliverSm unanswered (inbound.ts),
 *    and reading deadlines start again after a pause (defect 17).
 *
 * Lifecycle: idle → connecting → binding → bound → (error/close/unbind/timeout) → backoff|not-ready
 * → connecting … ; close() → closing → closed. `state` events report each change.
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { pino, type Logger } from 'pino';
import { Backoff, jitteredLongDelay } from '../../util/backoff.js';
import { bindRefusalKind, bindRefusalText, bindRetryFloorMs, buildBindPdu, canReceive, canSubmit, hex, isBindOk } from './bind.js';
import { InboundRequests } from './inbound.js';
import { PduFramingError, smpp, type LibrarySession, type Pdu } from './library.js';
import { resolveSessionOptions, type ResolvedSessionOptions } from './session-options.js';
import { errorText, Submitter, type SubmitLink } from './submitter.js';
import {
  type DeliverSmHandler,
  type SessionCounters,
  type SessionOptions,
  type SessionState,
  type SubmitParams,
  type SubmitResult,
} from '../protocol/types.js';

const MAX_SEQUENCE = 0x7fffffff;

/** One TCP/TLS connection and its library session; stale events compare against `this.conn`. */
interface Connection {
  lib: LibrarySession;
  sequence: number;
  timers: Set<NodeJS.Timeout>;
  enquireInterval: NodeJS.Timeout | undefined;
  /** Set while close() waits for unbind_resp: a teardown meanwhile must end that wait. */
  onTeardown?: () => void;
  /** The same connection as the submit path sees it. */
  link: SubmitLink;
}

export interface StateChange {
  sessionId: string;
  state: SessionState;
  previous: SessionState;
  reason?: string;
}

export class SmppSession extends EventEmitter {
  readonly id: string;
  readonly mode: SessionOptions['mode'];
  private readonly opts: ResolvedSessionOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly submitter: Submitter;
  private readonly backoff: Backoff;
  private readonly inbound: InboundRequests;
  private conn: Connection | undefined;
  /** The most recent library session, kept after teardown so leak checks can inspect it. */
  private lastLib: LibrarySession | undefined;
  private currentState: SessionState = 'idle';
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stableTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private lastErrorText: string | undefined;
  private readonly counters: Omit<SessionCounters, 'inFlight' | 'queued'> = {
    bindAttempts: 0,
    bindFailures: 0,
    binds: 0,
    reconnectsByReason: {},
    submitsSent: 0,
    responses: 0,
    throttled: 0,
    timeouts: 0,
    ambiguous: 0,
    lateResponses: 0,
    deliverSmReceived: 0,
    enquireLinksSent: 0,
  };

  constructor(options: SessionOptions) {
    super();
    this.id = options.sessionId ?? `${options.mode}-0`;
    this.mode = options.mode;
    this.opts = resolveSessionOptions(options);
    this.log = (options.logger ?? pino({ level: 'silent' })).child({ smppSession: this.id });
    this.now = options.now ?? Date.now;
    this.submitter = new Submitter({
      sessionId: this.id,
      window: this.opts.window,
      pacing: { ...options.pacing, rate: this.opts.rateLimit, margin: this.opts.rateMargin },
      responseTimeoutMs: this.opts.responseTimeoutMs,
      log: this.log,
      // Pacing on a monotonic sub-millisecond clock (pacing.ts: whole milliseconds cost ~0.2 % of
      // the rate); the submit path only ever takes differences of it. An injected test clock wins.
      now: options.now ?? (() => performance.now()),
      counters: this.counters,
      // While reading is paused for back-pressure no submit_sm_resp can be read: hold new submits.
      link: () => (this.currentState === 'bound' && !this.inbound.isPaused(this.conn?.lib) ? this.conn?.link : undefined),
      guard: (fn) => this.guard(fn),
      recycle: (reason) => this.teardown(reason),
    });
    this.backoff = new Backoff({ minMs: this.opts.reconnectMinMs, maxMs: this.opts.reconnectMaxMs });
    this.inbound = new InboundRequests({
      sessionId: this.id,
      log: this.log,
      now: this.now,
      isCurrent: (lib) => this.conn?.lib === lib,
      isBound: () => this.currentState === 'bound',
      onUnbind: () => this.teardown('unbind-by-smsc'),
      onDeliverSm: () => {
        this.counters.deliverSmReceived += 1;
      },
      maxUnanswered: this.opts.maxUnansweredDeliverSm,
      onReadingPaused: (paused) => {
        if (!paused) this.submitter.pump();
      },
    });
  }

  // ── public API ──────────────────────────────────────────────────────────────────────────────

  get state(): SessionState {
    return this.currentState;
  }

  /** Starts connecting (idempotent). Returns immediately; watch `state` events. */
  start(): void {
    if (this.currentState !== 'idle') return;
    this.connect();
  }

  /** Registers the receipt handler (rx/trx). Without one, deliver_sm is answered 0x64 (re-sent later). */
  onDeliverSm(handler: DeliverSmHandler): void {
    this.inbound.setHandler(handler);
  }

  /** Queues one submit_sm behind the window and the pacer; see SubmitResult for the outcome kinds. */
  submit(params: SubmitParams): Promise<SubmitResult> {
    if (!canSubmit(this.mode)) return Promise.resolve(this.submitter.notSent('not-submit-capable'));
    if (this.closing) return Promise.resolve(this.submitter.notSent('closing'));
    if (this.currentState !== 'bound' || this.submitter.suspect) return Promise.resolve(this.submitter.notSent('not-bound'));
    return this.submitter.submit(params);
  }

  /** Bound and accepting submits. */
  isReady(): boolean {
    return this.currentState === 'bound' && !this.submitter.suspect && !this.closing;
  }

  /** How long until this session's pacer lets its next submit_sm go (ms; 0: at once). */
  sendDelayMs(): number {
    return this.submitter.sendDelayMs();
  }

  /** All window slots taken. */
  isSaturated(): boolean {
    return !this.submitter.window.hasRoom();
  }

  inFlight(): number {
    return this.submitter.window.inFlightCount();
  }

  queued(): number {
    return this.submitter.window.queuedCount();
  }

  currentRate(): number {
    return this.submitter.currentRate();
  }

  /** deliver_sm of the current connection still waiting for their answer (never above maxUnansweredDeliverSm). */
  unansweredDeliverSm(): number {
    return this.inbound.unanswered(this.conn?.lib);
  }

  /** Highest unanswered deliver_sm count any connection reached, and how often reading paused. */
  deliverSmBackpressure(): { peakUnanswered: number; readPauses: number } {
    return this.inbound.backpressure();
  }

  lastError(): string | undefined {
    return this.lastErrorText;
  }

  stats(): SessionCounters {
    return {
      ...this.counters,
      reconnectsByReason: { ...this.counters.reconnectsByReason },
      inFlight: this.submitter.window.inFlightCount(),
      queued: this.submitter.window.queuedCount(),
    };
  }

  /**
   * For leak tests: callbacks still registered inside node-smpp for the current (or, after a
   * teardown, the last) connection. Submit callbacks are deleted one by one on timeout and on
   * teardown, so this counts only what a live enquire_link/unbind may still await.
   */
  libraryPendingCallbacks(): number {
    const callbacks = (this.conn?.lib ?? this.lastLib)?._callbacks ?? {};
    return Object.values(callbacks).filter((cb) => cb !== undefined).length;
  }

  /**
   * Graceful stop: refuse new submits, fail the queued ones (not-sent), wait for in-flight up to
   * drainMs, unbind (waiting unbindTimeoutMs for unbind_resp), destroy. Never reconnects after.
   */
  async close(drainMs = 5_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.clearReconnect();
    this.submitter.failQueued('closing');
    if (this.currentState === 'idle' || !this.conn) {
      this.setState('closed', 'close');
      return;
    }
    const wasBound = this.currentState === 'bound';
    this.setState('closing', 'close');
    await this.submitter.window.whenDrained(drainMs);
    const conn = this.conn;
    if (conn) {
      if (wasBound) await this.unbind(conn);
      this.teardown('closed');
    }
    this.setState('closed', 'close');
  }

  // ── connection lifecycle ──────────────────────────────────────────────────────────────────────

  private connect(): void {
    this.reconnectTimer = undefined;
    if (this.closing) return;
    this.setState('connecting');
    const { host, port, tls } = this.opts;
    let lib: LibrarySession;
    try {
      // Node TLS options pass through node-smpp to tls.connect; verification stays on by default.
      lib = new smpp.Session({
        host,
        port,
        tls,
        ...(tls
          ? {
              ca: this.opts.ca,
              // SNI carries a host name only (an IP there is deprecated in Node); without a servername the
              // certificate is checked against `host`, which for an IP is what it should be.
              ...(isIP(this.opts.tlsServername ?? host) ? {} : { servername: this.opts.tlsServername ?? host }),
              rejectUnauthorized: this.opts.tlsRejectUnauthorized,
            }
          : {}),
      });
    } catch (error) {
      this.lastErrorText = errorText(error);
      this.scheduleReconnect('connect-error', false, 0);
      return;
    }
    const conn: Connection = { lib, sequence: 0, timers: new Set(), enquireInterval: undefined, link: undefined as unknown as SubmitLink };
    conn.link = {
      lib,
      nextSequence: () => this.nextSequence(conn),
      addTimer: (ms, fire) => this.addTimer(conn, ms, fire),
      forgetTimer: (timer) => conn.timers.delete(timer),
      pauseMark: () => this.inbound.pauseMark(lib),
      readingHeldSince: (mark) => this.inbound.readingHeldSince(lib, mark),
    };
    this.conn = conn;
    this.lastLib = lib;
    // An `error` listener before anything else: without one a socket error kills the process (defect 12).
    lib.on('error', (error: unknown) => this.guard(() => this.onLibraryError(conn, error)));
    lib.on('close', () => this.guard(() => this.conn === conn && this.teardown('socket-close')));
    lib.on('pdu', (pdu: Pdu) => this.guard(() => this.onPdu(conn, pdu)));
    lib.on(tls ? 'secureConnect' : 'connect', () =>
      this.guard(() => {
        if (this.conn !== conn) return;
        // No Nagle: a deliver_sm_resp or submit_sm written while an earlier PDU is unacknowledged
        // otherwise waits for the peer's delayed ACK (~40 ms on Linux) — measured as +40 ms on
        // every receipt answer at half load. Writes are already coalesced per pump (cork).
        lib.socket.setNoDelay(true);
        this.bind(conn);
      }),
    );
    this.addTimer(conn, this.opts.connectTimeoutMs, () => this.teardown('connect-timeout'));
  }

  private bind(conn: Connection): void {
    for (const timer of conn.timers) clearTimeout(timer); // the connect timer
    conn.timers.clear();
    this.setState('binding');
    this.counters.bindAttempts += 1;
    const sequence = this.nextSequence(conn);
    const pdu = buildBindPdu(this.mode, this.opts.systemId, this.opts.password, sequence);
    const timer = this.addTimer(conn, this.opts.bindTimeoutMs, () => {
      delete conn.lib._callbacks[sequence];
      this.counters.bindFailures += 1;
      this.teardown('bind-timeout');
    });
    const sent = conn.lib.send(pdu, (resp) =>
      this.guard(() => {
        this.clearTimer(conn, timer);
        if (this.conn === conn) this.onBindResponse(conn, resp);
      }),
    );
    if (!sent) this.teardown('socket-not-writable');
  }

  private onBindResponse(conn: Connection, resp: Pdu): void {
    if (isBindOk(this.mode, resp)) {
      this.counters.binds += 1;
      this.lastErrorText = undefined;
      this.setState('bound');
      this.log.info({ mode: this.mode }, 'SMPP bound');
      conn.enquireInterval = setInterval(() => this.guard(() => this.sendEnquireLink(conn)), this.opts.enquireLinkMs);
      this.stableTimer = setTimeout(() => this.backoff.reset(), this.opts.stableAfterMs);
      this.submitter.pump();
      return;
    }
    this.counters.bindFailures += 1;
    const status = resp.command_status;
    const kind = bindRefusalKind(status);
    const text = bindRefusalText(status, this.opts.systemId, this.opts.password);
    this.lastErrorText = `${text} (${resp.command})`;
    if (kind === 'other') {
      this.log.warn({ status: hex(status) }, `${text}; reconnecting with backoff`);
      this.teardown('bind-rejected', false, bindRetryFloorMs(status));
      return;
    }
    // One clear line per attempt (attempts are a long backoff apart — never a tight loop).
    this.log.error({ status: hex(status), retryInMs: this.opts.credentialBackoffMs }, text);
    this.teardown(kind === 'credentials' ? 'bind-credentials' : 'bind-limit', true);
  }

  private onLibraryError(conn: Connection, error: unknown): void {
    if (this.conn !== conn) return;
    this.lastErrorText = errorText(error);
    if (error instanceof PduFramingError) {
      // SMPP has no frame marker: after one bad length every later octet is misread.
      this.log.warn({ err: this.lastErrorText, commandLength: error.commandLength }, 'SMSC sent a PDU that cannot be framed; replacing the session');
      this.teardown('pdu-framing');
      return;
    }
    this.log.warn({ err: this.lastErrorText }, 'SMPP connection error; replacing the session');
    this.teardown('socket-error');
  }

  /**
   * Ends the current connection: every in-flight submit becomes ambiguous (it was on the wire),
   * every queued one not-sent; the library session loses our listeners (keeping an error sink)
   * and is destroyed. Reconnects with backoff unless closing.
   */
  private teardown(reason: string, longBackoff = false, minDelayMs = 0): void {
    const conn = this.conn;
    if (!conn) return;
    this.conn = undefined;
    for (const timer of conn.timers) clearTimeout(timer);
    conn.timers.clear();
    if (conn.enquireInterval) clearInterval(conn.enquireInterval);
    conn.onTeardown?.();
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = undefined;
    this.submitter.connectionLost(conn.lib, this.closing);
    conn.lib.removeAllListeners();
    conn.lib.on('error', () => undefined);
    if (reason === 'closed' || reason === 'unbind-by-smsc') {
      // end() flushes our unbind / unbind_resp; destroy shortly after in case the peer never closes.
      conn.lib.close();
      setTimeout(() => conn.lib.destroy(), 1_000).unref();
    } else {
      conn.lib.destroy();
    }
    if (this.closing) return;
    this.counters.reconnectsByReason[reason] = (this.counters.reconnectsByReason[reason] ?? 0) + 1;
    this.scheduleReconnect(reason, longBackoff, minDelayMs);
  }

  private scheduleReconnect(reason: string, longBackoff: boolean, minDelayMs: number): void {
    this.clearReconnect();
    const delayMs = longBackoff ? jitteredLongDelay(this.opts.credentialBackoffMs) : Math.max(minDelayMs, this.backoff.next());
    this.setState(longBackoff ? 'not-ready' : 'backoff', reason);
    this.log.info({ reason, delayMs }, 'SMPP reconnect scheduled');
    this.reconnectTimer = setTimeout(() => this.guard(() => this.connect()), delayMs);
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  private async unbind(conn: Connection): Promise<void> {
    if (this.conn !== conn) return;
    await new Promise<void>((resolve) => {
      const sequence = this.nextSequence(conn);
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        conn.onTeardown = undefined;
        resolve();
      };
      // Not in conn.timers, and resolved by a teardown too: when the link fails during the unbind
      // (peer closes mid-PDU, socket error), teardown clears conn.timers and drops our listeners —
      // without this the unbind_resp wait, and with it close() and the whole shutdown, never ends.
      const timer = setTimeout(() => {
        delete conn.lib._callbacks[sequence];
        finish();
      }, this.opts.unbindTimeoutMs);
      conn.onTeardown = finish;
      const sent = conn.lib.send(new smpp.PDU('unbind', { sequence_number: sequence }), () => finish());
      if (!sent) finish();
    });
  }

  // ── inbound PDUs and keep-alive ───────────────────────────────────────────────────────────────

  private onPdu(conn: Connection, pdu: Pdu): void {
    if (this.conn !== conn) return;
    if (pdu.isResponse()) {
      // node-smpp calls the matching callback after this event; no callback = late or stray.
      if (!conn.lib._callbacks[pdu.sequence_number]) {
        this.counters.lateResponses += 1;
        this.log.debug({ command: pdu.command, sequence: pdu.sequence_number }, 'response without a pending request');
      }
      return;
    }
    this.inbound.handle(conn.lib, pdu, canReceive(this.mode));
  }

  private sendEnquireLink(conn: Connection): void {
    if (this.conn !== conn) return;
    const sequence = this.nextSequence(conn);
    this.counters.enquireLinksSent += 1;
    let timer: NodeJS.Timeout;
    let pauseMark = this.inbound.pauseMark(conn.lib);
    const expire = (): void => {
      if (this.inbound.readingHeldSince(conn.lib, pauseMark)) {
        // We stopped reading (back-pressure) during the wait: the answer may be waiting unread in
        // the socket. The deadline starts again; pauses end when our own receipt handlers answer.
        pauseMark = this.inbound.pauseMark(conn.lib);
        timer = this.addTimer(conn, this.opts.enquireLinkTimeoutMs, expire);
        return;
      }
      delete conn.lib._callbacks[sequence];
      this.log.warn('enquire_link_resp timeout: link considered dead');
      this.teardown('enquire-link-timeout');
    };
    timer = this.addTimer(conn, this.opts.enquireLinkTimeoutMs, expire);
    const sent = conn.lib.send(new smpp.PDU('enquire_link', { sequence_number: sequence }), () => this.clearTimer(conn, timer));
    if (!sent) this.teardown('socket-not-writable');
  }

  // ── helpers ───────────────────────────────────────────────────────────────────────────────────

  private nextSequence(conn: Connection): number {
    conn.sequence = conn.sequence >= MAX_SEQUENCE ? 1 : conn.sequence + 1;
    return conn.sequence;
  }

  private addTimer(conn: Connection, ms: number, fire: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      conn.timers.delete(timer);
      this.guard(fire);
    }, ms);
    conn.timers.add(timer);
    return timer;
  }

  private clearTimer(conn: Connection, timer: NodeJS.Timeout): void {
    clearTimeout(timer);
    conn.timers.delete(timer);
  }

  private setState(state: SessionState, reason?: string): void {
    if (state === this.currentState) return;
    const previous = this.currentState;
    this.currentState = state;
    const change: StateChange = { sessionId: this.id, state, previous, ...(reason !== undefined ? { reason } : {}) };
    this.guard(() => this.emit('state', change));
  }

  /** Nothing may throw into node-smpp or a timer: a throw in a library listener deafens its parser. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.log.error({ err: errorText(error) }, 'unexpected error in SMPP session handler');
    }
  }
}
