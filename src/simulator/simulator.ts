/**
 * An SMSC with Agile Telecom's behaviour, on node-smpp's server (plain and/or TLS port), for
 * tests, staging and load runs. See README.md in this folder for the behaviours and options.
 */
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pduText, smpp, type LibrarySession, type Pdu } from '../smpp/session/library.js';
import { chooseOutcome, DEFAULT_BEHAVIOUR, mergeBehaviour, type Behaviour } from './behaviour.js';
import { HeldReceiptRelease, HeldReceiptStore, type ReleaseOptions } from './held-receipts.js';
import { ReceiptDispatcher } from './receipt-dispatcher.js';
import { agileMessageId, textSample, type ReceiptFacts } from './receipts.js';
import { PduRecorder, type PduRecord } from './recorder.js';
import { SmscConnection, STATUS, type ConnectionContext } from './smsc-connection.js';

export interface SimulatorOptions {
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Plain TCP port; 0 = ephemeral; null = no plain listener (default 0). */
  plainPort?: number | null;
  /** TLS port; 0 = ephemeral; null = no TLS listener (default null). Needs tlsKey and tlsCert. */
  tlsPort?: number | null;
  tlsKey?: Buffer | string;
  tlsCert?: Buffer | string;
  /** system_id → password (default { test: 'secret' }). */
  accounts?: Record<string, string>;
  /** Append every PDU in and out as a JSON line to this file. */
  journalPath?: string;
  /**
   * Keep every accepted submit_sm in memory for `acceptedSubmits()` (default false: a load run
   * must not grow without bound). The duplicate oracle of tests: same digest twice = sent twice.
   */
  recordAccepted?: boolean;
  behaviour?: Partial<Behaviour>;
}

/** One accepted submit_sm, as the SMSC saw it. */
export interface AcceptedSubmit {
  at: number;
  /**
   * Its place among every acceptance of every simulator in this process: two simulators (two
   * routes) can accept a key's consecutive records within one millisecond, so `at` alone cannot
   * order a timeline of both.
   */
  order: number;
  conn: number;
  messageId: string;
  source: string;
  destination: string;
  esmClass: number;
  dataCoding: number;
  /** sha256 (hex, 32 chars) of destination_addr + short_message: identifies one segment's content. */
  digest: string;
}

let acceptances = 0;
function nextAcceptanceOrder(): number {
  return (acceptances += 1);
}

/** The digest `acceptedSubmits()` reports, for tests that compute it from their own plan. */
export function submitDigest(destination: string, shortMessage: Buffer): string {
  return createHash('sha256').update(destination).update('\u0000').update(shortMessage).digest('hex').slice(0, 32);
}

export type GarbageKind = 'short-length' | 'huge-length' | 'unknown-command' | 'truncated-length';

export interface SimulatorStats {
  connections: number;
  bindAttempts: number;
  bindsRefused: Record<string, number>;
  bindsBySystemId: Record<string, number>;
  maxConcurrentBindsBySystemId: Record<string, number>;
  submitsReceived: number;
  acceptedSubmits: number;
  rejectedSubmits: number;
  throttled: number;
  unansweredSubmits: number;
  enquireLinksReceived: number;
  receiptsSent: number;
  receiptsAcked: number;
  receiptsRefused: number;
  receiptsUnanswered: number;
  receiptsPending: number;
  /** Receipts held (`holdReceipts`) and not sent yet: in the store, or released and waiting for a free slot. */
  receiptsHeld: number;
  idleClosed: number;
}

export interface Simulator {
  readonly plainPort: number | undefined;
  readonly tlsPort: number | undefined;
  behaviour(): Behaviour;
  /** Changes behaviour at runtime (validated; throws naming the field). */
  setBehaviour(update: Partial<Behaviour>): void;
  stats(): SimulatorStats;
  /** Every accepted submit_sm so far (empty unless `recordAccepted` was set). */
  acceptedSubmits(): readonly AcceptedSubmit[];
  /** Destroys every client connection now (TCP close with a full window, etc.). */
  dropConnections(): void;
  /** Writes a malformed PDU to every bound connection; returns how many got it. */
  sendGarbage(kind: GarbageKind): number;
  /** Sends unbind to every bound connection. */
  unbindAll(): void;
  /** Every bound connection stays open but is no longer bound: its submits get 0x04. */
  forgetBinds(): void;
  /**
   * Sends one hand-made deliver_sm (receipt variants, fault tests) to a bound receiver of
   * `systemId`; resolves with the deliver_sm_resp status, or undefined (no receiver, timeout).
   */
  sendDeliverSm(systemId: string, fields: Record<string, unknown>, timeoutMs?: number): Promise<number | undefined>;
  /**
   * Sends every receipt held so far (`holdReceipts`), in submit order or shuffled, to the bound
   * receivers as any receipt is sent; returns how many it released. Resolves nothing: follow
   * `stats().receiptsHeld` and `receiptsAcked`.
   */
  releaseHeldReceipts(options?: ReleaseOptions): number;
  /** Adds or changes an account's password at runtime (credentials wrong, then fixed). */
  setAccount(systemId: string, password: string): void;
  close(): Promise<void>;
}

const GARBAGE: Record<GarbageKind, Buffer> = {
  // command_length 8 (< 16): refused by our framing; node-smpp alone threw and went deaf (docs/node-smpp.md, defects 2, 16).
  'short-length': Buffer.from('0000000800000015', 'hex'),
  // command_length 0xF0000010: above the read limit (defect 18).
  'huge-length': Buffer.from('f00000100000001500000000000000ff', 'hex'),
  // A well-formed header with an unknown command id: must be answered with generic_nack.
  'unknown-command': Buffer.from('00000010000009990000000000000077', 'hex'),
  // command_length 2: node-smpp alone waited forever for a body that cannot exist (defect 2); our framing refuses it.
  'truncated-length': Buffer.from('00000002', 'hex'),
};

class SimulatedSmsc implements ConnectionContext, Simulator {
  plainPort: number | undefined;
  tlsPort: number | undefined;
  private current: Behaviour;
  private readonly accounts: Map<string, string>;
  private readonly recorder: PduRecorder;
  private readonly connections = new Set<SmscConnection>();
  private readonly servers: smpp.Server[] = [];
  private readonly binds = new Map<string, number>();
  private readonly maxBinds = new Map<string, number>();
  private readonly receipts: ReceiptDispatcher;
  private held = new HeldReceiptStore();
  private readonly releases = new Set<HeldReceiptRelease>();
  private nextConnectionId = 1;
  private readonly counters = {
    bindAttempts: 0,
    submitsReceived: 0,
    acceptedSubmits: 0,
    rejectedSubmits: 0,
    throttled: 0,
    unansweredSubmits: 0,
    enquireLinksReceived: 0,
    idleClosed: 0,
  };
  private readonly bindsRefused: Record<string, number> = {};
  private readonly accepted: AcceptedSubmit[] = [];

  constructor(private readonly options: SimulatorOptions) {
    this.current = mergeBehaviour({ ...DEFAULT_BEHAVIOUR }, options.behaviour ?? {});
    this.accounts = new Map(Object.entries(options.accounts ?? { test: 'secret' }));
    this.recorder = new PduRecorder(options.journalPath);
    this.receipts = new ReceiptDispatcher(
      (systemId) => [...this.connections].filter((c) => c.systemId === systemId && c.isReceiver()),
      () => this.current,
    );
  }

  async listen(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    const plainPort = this.options.plainPort === undefined ? 0 : this.options.plainPort;
    if (plainPort !== null) this.plainPort = await this.startServer(smpp.createServer({}), host, plainPort);
    const tlsPort = this.options.tlsPort ?? null;
    if (tlsPort !== null) {
      if (!this.options.tlsKey || !this.options.tlsCert) throw new Error('simulator tlsPort needs tlsKey and tlsCert');
      const server = smpp.createServer({ key: this.options.tlsKey, cert: this.options.tlsCert });
      // A client that rejects our certificate is a normal event here (wrong-CA tests).
      server.on('tlsClientError', () => undefined);
      this.tlsPort = await this.startServer(server, host, tlsPort);
    }
  }

  private startServer(server: smpp.Server, host: string, port: number): Promise<number> {
    server.on('session', (lib: LibrarySession) => this.accept(lib));
    server.on('error', () => undefined);
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });
  }

  private accept(lib: LibrarySession): void {
    lib.on('error', () => undefined); // before anything: an unhandled socket error would kill the process
    lib.socket.setNoDelay(true); // an SMSC answers at once; Nagle would hold small PDUs for the peer's delayed ACK
    const conn = new SmscConnection(this.nextConnectionId++, lib, this);
    this.connections.add(conn);
  }

  // ── ConnectionContext ─────────────────────────────────────────────────────────────────────────

  behaviour(): Behaviour {
    return this.current;
  }

  checkCredentials(systemId: string, password: string): boolean {
    return this.accounts.get(systemId) === password;
  }

  reserveBind(systemId: string): boolean {
    const bound = this.binds.get(systemId) ?? 0;
    if (bound >= this.current.maxBindsPerSystemId) return false;
    this.binds.set(systemId, bound + 1);
    this.maxBinds.set(systemId, Math.max(this.maxBinds.get(systemId) ?? 0, bound + 1));
    return true;
  }

  releaseBind(systemId: string): void {
    this.binds.set(systemId, Math.max(0, (this.binds.get(systemId) ?? 0) - 1));
  }

  decideSubmit(conn: SmscConnection, pdu: Pdu): { status: number; messageId?: string } {
    const destination = pduText(pdu, 'destination_addr');
    const outcome = chooseOutcome(this.current, destination, Math.random);
    if (outcome.kind === 'submit-error') {
      this.counters.rejectedSubmits += 1;
      return { status: outcome.status };
    }
    this.counters.acceptedSubmits += 1;
    const messageId = agileMessageId();
    const registered = Number(pdu['registered_delivery'] ?? 0) & 0x03;
    const failed = outcome.kind === 'failed';
    const message = Buffer.isBuffer(pdu['short_message']) ? pdu['short_message'] : Buffer.alloc(0);
    if (this.options.recordAccepted) {
      this.accepted.push({
        at: this.now(),
        order: nextAcceptanceOrder(),
        conn: conn.id,
        messageId,
        source: pduText(pdu, 'source_addr'),
        destination,
        esmClass: Number(pdu['esm_class'] ?? 0),
        dataCoding: Number(pdu['data_coding'] ?? 0),
        digest: submitDigest(destination, message),
      });
    }
    // 0x01: receipt on success or failure; 0x02: on failure only.
    if (conn.systemId !== undefined && (registered === 0x01 || (registered === 0x02 && failed))) {
      const now = this.now();
      const facts: ReceiptFacts = {
        messageId,
        sourceAddr: pduText(pdu, 'source_addr'),
        sourceAddrTon: Number(pdu['source_addr_ton'] ?? 0),
        sourceAddrNpi: Number(pdu['source_addr_npi'] ?? 0),
        destinationAddr: destination,
        destAddrTon: Number(pdu['dest_addr_ton'] ?? 0),
        destAddrNpi: Number(pdu['dest_addr_npi'] ?? 0),
        submittedAt: now,
        doneAt: now + this.current.receiptDelayMs,
        stat: failed ? (outcome.stat ?? 'UNDELIV') : 'DELIVRD',
        err: failed ? outcome.err : 0,
        textSample: textSample(message, Number(pdu['esm_class'] ?? 0), Number(pdu['data_coding'] ?? 0)),
      };
      if (this.current.holdReceipts) this.held.add(conn.systemId, facts);
      else this.receipts.schedule(conn.systemId, facts, this.current.receiptDelayMs);
    }
    return { status: STATUS.OK, messageId };
  }

  countThrottled(): void {
    this.counters.throttled += 1;
  }
  countSubmitReceived(): void {
    this.counters.submitsReceived += 1;
  }
  countUnanswered(): void {
    this.counters.unansweredSubmits += 1;
  }
  countEnquireLink(): void {
    this.counters.enquireLinksReceived += 1;
  }
  countBindAttempt(status: number): void {
    this.counters.bindAttempts += 1;
    if (status !== 0) {
      const key = `0x${status.toString(16).toUpperCase().padStart(2, '0')}`;
      this.bindsRefused[key] = (this.bindsRefused[key] ?? 0) + 1;
    }
  }
  record(entry: Omit<PduRecord, 'ts'>): void {
    if (entry.command === 'close' && entry.note === 'idle-timeout') this.counters.idleClosed += 1;
    this.recorder.record({ ts: this.now(), ...entry });
  }
  now(): number {
    return Date.now();
  }
  onClosed(conn: SmscConnection): void {
    this.connections.delete(conn);
  }

  // ── control API ───────────────────────────────────────────────────────────────────────────────

  setBehaviour(update: Partial<Behaviour>): void {
    this.current = mergeBehaviour(this.current, update);
  }

  stats(): SimulatorStats {
    return {
      ...this.counters,
      ...this.receipts.counters,
      connections: this.connections.size,
      bindsRefused: { ...this.bindsRefused },
      bindsBySystemId: Object.fromEntries(this.binds),
      maxConcurrentBindsBySystemId: Object.fromEntries(this.maxBinds),
      receiptsPending: this.receipts.pending(),
      receiptsHeld: this.held.size() + [...this.releases].reduce((n, r) => n + r.remaining(), 0),
    };
  }

  acceptedSubmits(): readonly AcceptedSubmit[] {
    return this.accepted;
  }

  dropConnections(): void {
    for (const conn of [...this.connections]) conn.close('dropped-by-control');
  }

  sendGarbage(kind: GarbageKind): number {
    let count = 0;
    for (const conn of this.connections) {
      if (!conn.isBound()) continue;
      conn.writeRaw(GARBAGE[kind]);
      count += 1;
    }
    return count;
  }

  unbindAll(): void {
    for (const conn of this.connections) conn.sendUnbind();
  }

  forgetBinds(): void {
    for (const conn of this.connections) conn.forgetBind();
  }

  sendDeliverSm(systemId: string, fields: Record<string, unknown>, timeoutMs = 5_000): Promise<number | undefined> {
    const target = [...this.connections].find((c) => c.systemId === systemId && c.isReceiver());
    if (!target) return Promise.resolve(undefined);
    return new Promise((resolve) => target.sendDeliverSm(fields, timeoutMs, resolve));
  }

  releaseHeldReceipts(options: ReleaseOptions = {}): number {
    // The store is handed to the release whole (once the options passed its checks); receipts
    // held from now on start a new one.
    const store = this.held;
    // A held receipt's done date is when it is finally sent: the handset came back then.
    const release = new HeldReceiptRelease(store, options, (systemId, facts, acked) =>
      this.receipts.sendNow(systemId, { ...facts, doneAt: this.now() }, () => {
        acked();
        if (release.done()) this.releases.delete(release);
      }),
    );
    this.held = new HeldReceiptStore();
    if (store.size() > 0) this.releases.add(release);
    release.pump();
    return store.size();
  }

  setAccount(systemId: string, password: string): void {
    this.accounts.set(systemId, password);
  }

  async close(): Promise<void> {
    this.receipts.stop();
    this.releases.clear();
    for (const conn of [...this.connections]) conn.close('simulator-closed');
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    await this.recorder.close();
  }
}

/** Starts the simulator; resolves once every configured port listens. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const simulator = new SimulatedSmsc(options);
  try {
    await simulator.listen();
  } catch (error) {
    await simulator.close();
    throw error;
  }
  return simulator;
}
