/**
 * A hostile SMSC: a raw TCP server speaking just enough SMPP 3.4 (bind, enquire_link, submit_sm,
 * unbind answered correctly) so that a session binds and submits — and that writes whatever bytes
 * a test injects, split however the test likes. No node-smpp inside: the bytes on the wire are
 * exactly the test's, malformed ones included.
 */
import * as net from 'node:net';

export const CMD = {
  generic_nack: 0x80000000,
  bind_receiver: 0x00000001,
  bind_transmitter: 0x00000002,
  submit_sm: 0x00000004,
  submit_sm_resp: 0x80000004,
  deliver_sm: 0x00000005,
  deliver_sm_resp: 0x80000005,
  unbind: 0x00000006,
  unbind_resp: 0x80000006,
  bind_transceiver: 0x00000009,
  bind_transceiver_resp: 0x80000009,
  outbind: 0x0000000b,
  enquire_link: 0x00000015,
  enquire_link_resp: 0x80000015,
  alert_notification: 0x00000102,
  data_sm: 0x00000103,
} as const;

/** One PDU: header (length, id, status, sequence) + body. */
export function pdu(commandId: number, status: number, sequence: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(16 + body.length, 0);
  header.writeUInt32BE(commandId >>> 0, 4);
  header.writeUInt32BE(status >>> 0, 8);
  header.writeUInt32BE(sequence >>> 0, 12);
  return Buffer.concat([header, body]);
}

export function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'latin1'), Buffer.from([0])]);
}

export function tlv(tag: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(tag, 0);
  head.writeUInt16BE(value.length, 2);
  return Buffer.concat([head, value]);
}

/** A deliver_sm body (receipt shape unless esmClass says otherwise). */
export function deliverSmBody(opts: { esmClass?: number; text?: Buffer; tlvs?: Buffer[]; smLength?: number; dataCoding?: number } = {}): Buffer {
  const text = opts.text ?? Buffer.alloc(0);
  return Buffer.concat([
    cstr(''),
    Buffer.from([1, 1]),
    cstr('393471234567'),
    Buffer.from([5, 0]),
    cstr('ACME'),
    Buffer.from([opts.esmClass ?? 0x04, 0, 0]),
    cstr(''),
    cstr(''),
    Buffer.from([0, 0, opts.dataCoding ?? 0, 0, opts.smLength ?? Math.min(255, text.length)]),
    text,
    ...(opts.tlvs ?? []),
  ]);
}

interface Conn {
  socket: net.Socket;
  buf: Buffer;
  bound: boolean;
  seq: number;
}

export interface HostileStats {
  connections: number;
  binds: number;
  submitsAnswered: number;
  deliverSmResps: number;
  genericNacksReceived: number;
  enquireLinks: number;
  /** deliver_sm_resp by command_status (e.g. { '0': 12, '100': 1 }). */
  deliverSmRespsByStatus: Record<string, number>;
}

export class HostileSmsc {
  private server!: net.Server;
  private readonly conns = new Set<Conn>();
  private messageCounter = 0;
  port = 0;
  /** Bytes written right after accept, before any bind response (e.g. deliver_sm before bind). */
  onConnect: Buffer | null = null;
  /** When true, submit_sm is not answered. */
  silent = false;
  /** Bytes written right before the next submit_sm_resp (once), e.g. a deliver_sm flood it must wait behind. */
  beforeNextSubmitResp: Buffer | null = null;
  /** command_status of every bind response (0 = bound; e.g. 0x02 as a 3.4 SMSC answers an over-long password). */
  bindStatus = 0;
  readonly counters: HostileStats = {
    connections: 0,
    binds: 0,
    submitsAnswered: 0,
    deliverSmResps: 0,
    genericNacksReceived: 0,
    enquireLinks: 0,
    deliverSmRespsByStatus: {},
  };

  static async start(): Promise<HostileSmsc> {
    const s = new HostileSmsc();
    s.server = net.createServer((socket) => s.accept(socket));
    s.server.on('error', () => undefined);
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', () => resolve()));
    s.port = (s.server.address() as net.AddressInfo).port;
    return s;
  }

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    const conn: Conn = { socket, buf: Buffer.alloc(0), bound: false, seq: 1000 };
    this.conns.add(conn);
    this.counters.connections += 1;
    socket.on('close', () => this.conns.delete(conn));
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    if (this.onConnect) socket.write(this.onConnect);
  }

  private onData(conn: Conn, chunk: Buffer): void {
    conn.buf = Buffer.concat([conn.buf, chunk]);
    while (conn.buf.length >= 16) {
      const len = conn.buf.readUInt32BE(0);
      if (len < 16 || len > 0x20000) {
        conn.socket.destroy();
        return;
      }
      if (conn.buf.length < len) return;
      const p = conn.buf.subarray(0, len);
      conn.buf = conn.buf.subarray(len);
      this.onPdu(conn, p.readUInt32BE(4), p.readUInt32BE(12), p.readUInt32BE(8));
    }
  }

  private onPdu(conn: Conn, id: number, seq: number, status: number): void {
    const w = (b: Buffer) => {
      if (!conn.socket.destroyed) conn.socket.write(b);
    };
    switch (id) {
      case CMD.bind_transceiver:
      case CMD.bind_transmitter:
      case CMD.bind_receiver:
        if (this.bindStatus !== 0) {
          w(pdu(id | 0x80000000, this.bindStatus, seq));
          return;
        }
        conn.bound = true;
        this.counters.binds += 1;
        w(pdu(id | 0x80000000, 0, seq, cstr('HOSTILE')));
        return;
      case CMD.enquire_link:
        this.counters.enquireLinks += 1;
        w(pdu(CMD.enquire_link_resp, 0, seq));
        return;
      case CMD.submit_sm:
        if (this.silent) return;
        if (this.beforeNextSubmitResp) {
          w(this.beforeNextSubmitResp);
          this.beforeNextSubmitResp = null;
        }
        this.counters.submitsAnswered += 1;
        w(pdu(CMD.submit_sm_resp, 0, seq, cstr(`HOSTILE-${++this.messageCounter}`)));
        return;
      case CMD.unbind:
        w(pdu(CMD.unbind_resp, 0, seq));
        conn.socket.end();
        return;
      case CMD.deliver_sm_resp:
        this.counters.deliverSmResps += 1;
        this.counters.deliverSmRespsByStatus[status] = (this.counters.deliverSmRespsByStatus[status] ?? 0) + 1;
        return;
      case CMD.generic_nack:
        this.counters.genericNacksReceived += 1;
        return;
      default:
        return;
    }
  }

  /** Connections that completed a bind and are open. */
  bound(): number {
    return [...this.conns].filter((c) => c.bound && !c.socket.destroyed).length;
  }

  nextSequence(): number {
    const c = [...this.conns].find((x) => x.bound);
    return c ? ++c.seq : 1;
  }

  /**
   * Writes `bytes` to every bound connection, cut at `splits` (byte offsets) into separate
   * writes a macrotask apart. Returns how many connections got them.
   */
  async inject(bytes: Buffer, splits: number[] = []): Promise<number> {
    const targets = [...this.conns].filter((c) => c.bound && !c.socket.destroyed);
    const cuts = [...new Set(splits.filter((s) => s > 0 && s < bytes.length))].sort((a, b) => a - b);
    const parts: Buffer[] = [];
    let from = 0;
    for (const c of [...cuts, bytes.length]) {
      parts.push(bytes.subarray(from, c));
      from = c;
    }
    for (const part of parts) {
      for (const t of targets) if (!t.socket.destroyed) t.socket.write(part);
      if (parts.length > 1) await new Promise<void>((r) => setImmediate(r));
    }
    return targets.length;
  }

  dropAll(): void {
    for (const c of this.conns) c.socket.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
