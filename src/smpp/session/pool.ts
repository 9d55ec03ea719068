/**
 * A pool of SMPP sessions (binds) of one account.
 *
 * Bind cap: the pool never holds more sessions than min(spec total, maxBinds, bindSlots). When
 * replicas share the account, the pipeline lowers or raises the slots with setBindSlots(n);
 * surplus sessions are closed gracefully (drain, unbind) BEFORE new ones start, so the account
 * never sees more binds than allowed, not even during a resize.
 *
 * Routing: the first segment of a message may go to any ready session (submitCandidates; the
 * admission picks the one with the most room), the later segments of a concatenated message
 * follow it (sessionForKey with the first one's session preferred). sessionForKey(key) hashes the
 * key (FNV-1a) onto the submit-capable sessions in slot order; when that session is not ready
 * (down, backing off, recycling), the next ready one in slot order is used. Order per key is
 * kept because the pipeline sends the next message of a key only after the previous one got its
 * final submit result (docs/design.md §5.3; outbound-consumer.ts runRecords chains a key's records)
 * — so the session can change between the messages of a key, never their order.
 */
import { EventEmitter } from 'node:events';
import { canReceive, canSubmit } from './bind.js';
import { checkSessionSpec, fnv1a, modesForSlots, parseSessionSpec, type SessionSpecEntry } from '../protocol/pool-spec.js';
import { SmppSession, type StateChange } from './session.js';
import type { DeliverSmHandler, SessionCounters, SessionOptions, SubmitParams, SubmitResult } from '../protocol/types.js';

export interface PoolOptions {
  /** The parsed spec (the app passes the config's), or its text form, e.g. `trx:4` or `tx:2,rx:2`. */
  spec: string | readonly SessionSpecEntry[];
  /** Binds the account allows (all modes, all replicas). */
  maxBinds: number;
  /** Initial bind slots of this replica (default: the spec total). */
  bindSlots?: number;
  /** Options shared by every session; mode and sessionId come from the spec. */
  session: Omit<SessionOptions, 'mode' | 'sessionId'>;
  /** How long a removed session may drain its in-flight submits (default 5000). */
  drainMs?: number;
  /** Before every session id (`<prefix>trx-1`): the route's, where several pools share metrics and logs. */
  idPrefix?: string;
}

export class SmppPool extends EventEmitter {
  private readonly entries: readonly SessionSpecEntry[];
  private readonly total: number;
  private slots: SmppSession[] = [];
  private handler: DeliverSmHandler | undefined;
  private started = false;
  private closed = false;
  private resizing: Promise<void> = Promise.resolve();

  constructor(private readonly options: PoolOptions) {
    super();
    if (!Number.isInteger(options.maxBinds) || options.maxBinds < 1) throw new Error(`maxBinds must be an integer ≥ 1, got ${options.maxBinds}`);
    this.entries = typeof options.spec === 'string' ? parseSessionSpec(options.spec, options.maxBinds) : checkSessionSpec(options.spec, options.maxBinds);
    this.total = this.entries.reduce((sum, e) => sum + e.count, 0);
    this.slots = this.createSessions(modesForSlots(this.entries, this.clampSlots(options.bindSlots ?? this.total)), 0);
  }

  start(): void {
    this.started = true;
    for (const session of this.slots) session.start();
  }

  /** Receipt handler for every rx/trx session, including sessions created later. */
  onDeliverSm(handler: DeliverSmHandler): void {
    this.handler = handler;
    for (const session of this.slots) if (canReceive(session.mode)) session.onDeliverSm(handler);
  }

  /** Changes the number of binds of this pool; resolves when the pool matches. Resizes run one at a time. */
  setBindSlots(n: number): Promise<void> {
    this.resizing = this.resizing.then(() => this.resize(n));
    return this.resizing;
  }

  /**
   * The submit-capable, ready session for a key (see the module comment), or undefined.
   * `preferredId` — the session that took the earlier segments of a concatenated message — wins
   * while it is ready, so a message stays on one session even when the key's own session becomes
   * ready between its segments (after a restart the sessions bind one by one; fault F15b).
   */
  sessionForKey(key: string, preferredId?: string): SmppSession | undefined {
    if (preferredId !== undefined) {
      const preferred = this.slots.find((s) => s.id === preferredId);
      if (preferred && canSubmit(preferred.mode) && preferred.isReady()) return preferred;
    }
    for (const session of this.readySubmitters(key)) return session;
    return undefined;
  }

  /**
   * Every ready submit-capable session, the one whose pacer lets it send soonest first (on a tie,
   * slot order from the key's own, as in sessionForKey): where a message's first segment may go.
   * Any of them will do — per-key order is kept by the pipeline (see the module comment) — and
   * pinning a message to its key's session left that session's records waiting while another sat
   * idle (issue 19). Soonest first matters when sessions have room alike (admission takes the
   * roomiest, then the first of these): a key with much of the traffic sends one message at a time,
   * each after the previous one's answer, and on its own session it went at that one pacer's rate
   * while three sat idle; spread, it goes at the rate of the answers.
   */
  submitCandidates(key: string): string[] {
    const ready = Array.from(this.readySubmitters(key), (session) => ({ id: session.id, delay: session.sendDelayMs() }));
    return ready.sort((a, b) => a.delay - b.delay).map((s) => s.id);
  }

  /** The ready submit-capable sessions in slot order, starting at the one the key hashes to (FNV-1a). */
  private *readySubmitters(key: string): Generator<SmppSession> {
    const submitters = this.slots.filter((s) => canSubmit(s.mode));
    if (submitters.length === 0) return;
    const start = fnv1a(key) % submitters.length;
    for (let i = 0; i < submitters.length; i += 1) {
      const session = submitters[(start + i) % submitters.length] as SmppSession;
      if (session.isReady()) yield session;
    }
  }

  /** The session with this id, if the pool still holds it. */
  session(id: string): SmppSession | undefined {
    return this.slots.find((s) => s.id === id);
  }

  /** Submits through sessionForKey(key); not-sent when no session is ready. */
  submit(key: string, params: SubmitParams): Promise<SubmitResult> {
    const session = this.sessionForKey(key);
    if (!session) return Promise.resolve({ kind: 'not-sent', reason: 'not-bound', sessionId: '' });
    return session.submit(params);
  }

  sessions(): readonly SmppSession[] {
    return this.slots;
  }

  boundCount(): number {
    return this.slots.filter((s) => s.state === 'bound').length;
  }

  /** Ready submit-capable sessions. */
  readyForSubmit(): number {
    return this.slots.filter((s) => canSubmit(s.mode) && s.isReady()).length;
  }

  inFlight(): number {
    return this.slots.reduce((sum, s) => sum + s.inFlight(), 0);
  }

  /** True when every ready submit-capable session has a full window (or none is ready). */
  isSaturated(): boolean {
    const ready = this.slots.filter((s) => canSubmit(s.mode) && s.isReady());
    return ready.every((s) => s.isSaturated());
  }

  stats(): Record<string, SessionCounters> {
    return Object.fromEntries(this.slots.map((s) => [s.id, s.stats()]));
  }

  async close(drainMs = this.options.drainMs ?? 5_000): Promise<void> {
    this.closed = true;
    await this.resizing;
    await Promise.all(this.slots.map((s) => s.close(drainMs)));
  }

  private async resize(n: number): Promise<void> {
    if (this.closed) return;
    const wanted = modesForSlots(this.entries, this.clampSlots(n));
    // Keep the longest prefix of sessions whose slot keeps its mode; the rest is replaced.
    let prefix = 0;
    while (prefix < this.slots.length && prefix < wanted.length && this.slots[prefix]?.mode === wanted[prefix]) prefix += 1;
    const kept = this.slots.slice(0, prefix);
    const remove = this.slots.slice(prefix);
    this.slots = kept;
    // Close first: the account must never see more binds than allowed, even during a resize.
    await Promise.all(remove.map((s) => s.close(this.options.drainMs ?? 5_000)));
    const added = this.createSessions(wanted.slice(kept.length), kept.length);
    this.slots = [...kept, ...added];
    if (this.started) for (const s of added) s.start();
  }

  private clampSlots(n: number): number {
    if (!Number.isInteger(n) || n < 0) throw new Error(`bind slots must be an integer ≥ 0, got ${n}`);
    return Math.min(n, this.total, this.options.maxBinds);
  }

  private createSessions(modes: readonly string[], offset: number): SmppSession[] {
    return modes.map((mode, i) => {
      const session = new SmppSession({
        ...this.options.session,
        mode: mode as SessionOptions['mode'],
        sessionId: `${this.options.idPrefix ?? ''}${mode}-${offset + i}`,
      });
      session.on('state', (change: StateChange) => this.emit('state', change));
      if (this.handler && canReceive(session.mode)) session.onDeliverSm(this.handler);
      return session;
    });
  }
}
