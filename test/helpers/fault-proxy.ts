/**
 * A TCP fault proxy in Node, placed between the connector and a server (the SMSC simulator or a
 * broker) to make network faults for real: latency, hang (half-open: nothing forwarded, no FIN),
 * reset (RST), slicing into 1-byte writes, close (FIN), and refusing new connections.
 *
 * Invariant it keeps: bytes are forwarded in order per direction, whatever the fault mode — a
 * sliced or delayed stream is the same stream, only cut differently in time.
 */
import * as net from 'node:net';

export type Direction = 'up' | 'down' | 'both';

export interface FaultProxyOptions {
  targetHost?: string;
  targetPort: number;
  /** Listen port; 0 = ephemeral (default). */
  listenPort?: number;
}

export interface FaultProxyStats {
  /** Connections accepted since start. */
  accepted: number;
  /** Connections open now. */
  active: number;
  /** Connections refused while `refuse` was on. */
  refused: number;
  bytesUp: number;
  bytesDown: number;
  /** Individual socket writes (slicing makes one per byte). */
  writes: number;
}

interface Pipe {
  queue: Buffer[];
  busy: boolean;
}

interface Link {
  id: number;
  client: net.Socket;
  server: net.Socket;
  up: Pipe;
  down: Pipe;
  openedAt: number;
  closed: boolean;
  hung: boolean;
}

export class FaultProxy {
  private server!: net.Server;
  private readonly links = new Set<Link>();
  private nextId = 1;
  private latencyMs = 0;
  private slice: Direction | null = null;
  private refusing = false;
  private readonly counters: FaultProxyStats = { accepted: 0, active: 0, refused: 0, bytesUp: 0, bytesDown: 0, writes: 0 };
  port = 0;

  private constructor(private readonly opts: FaultProxyOptions) {}

  static async start(opts: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(opts);
    await proxy.listen();
    return proxy;
  }

  private listen(): Promise<void> {
    this.server = net.createServer((client) => this.accept(client));
    this.server.on('error', () => undefined);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.listenPort ?? 0, '127.0.0.1', () => {
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.refusing) {
      this.counters.refused += 1;
      client.destroy();
      return;
    }
    this.counters.accepted += 1;
    const server = net.connect({ host: this.opts.targetHost ?? '127.0.0.1', port: this.opts.targetPort });
    server.on('error', () => undefined);
    client.setNoDelay(true);
    server.setNoDelay(true);
    const link: Link = {
      id: this.nextId++,
      client,
      server,
      up: { queue: [], busy: false },
      down: { queue: [], busy: false },
      openedAt: Date.now(),
      closed: false,
      hung: false,
    };
    this.links.add(link);
    this.counters.active = this.links.size;
    client.on('data', (chunk: Buffer) => {
      this.counters.bytesUp += chunk.length;
      this.enqueue(link, 'up', chunk);
    });
    server.on('data', (chunk: Buffer) => {
      this.counters.bytesDown += chunk.length;
      this.enqueue(link, 'down', chunk);
    });
    // A FIN or an error on one side is passed on as a FIN / destroy to the other — unless hung.
    const end = (from: net.Socket, to: net.Socket) => () => {
      if (link.hung || link.closed) return;
      this.finish(link, () => to.end());
      void from;
    };
    client.on('end', end(client, server));
    server.on('end', end(server, client));
    client.on('close', () => this.onClose(link, server));
    server.on('close', () => this.onClose(link, client));
  }

  private onClose(link: Link, other: net.Socket): void {
    if (link.hung) return; // half-open: handled by markHung
    if (link.closed) return;
    // forward what is still queued towards `other`, then close it: a close is not a reset
    this.finish(link, () => {
      link.closed = true;
      other.destroy();
      this.links.delete(link);
      this.counters.active = this.links.size;
    });
  }

  private finish(link: Link, fn: () => void): void {
    // let queued bytes go first, then end
    const pending = () => !link.closed && (link.up.busy || link.down.busy || link.up.queue.length > 0 || link.down.queue.length > 0);
    const wait = (): void => {
      if (pending()) setTimeout(wait, 5);
      else fn();
    };
    wait();
  }

  private enqueue(link: Link, dir: 'up' | 'down', chunk: Buffer): void {
    const pipe = dir === 'up' ? link.up : link.down;
    pipe.queue.push(chunk);
    if (!pipe.busy) void this.drain(link, dir);
  }

  /** Forwards a pipe's queue in order, applying latency and slicing; pauses while hung. */
  private async drain(link: Link, dir: 'up' | 'down'): Promise<void> {
    const pipe = dir === 'up' ? link.up : link.down;
    const target = dir === 'up' ? link.server : link.client;
    pipe.busy = true;
    try {
      while (pipe.queue.length > 0 && !link.closed) {
        if (link.hung) return;
        const chunk = pipe.queue.shift()!;
        if (this.latencyMs > 0) await delay(this.latencyMs);
        const sliced = this.slice === 'both' || this.slice === dir;
        if (!sliced) {
          this.counters.writes += 1;
          target.write(chunk);
          continue;
        }
        for (let i = 0; i < chunk.length && !link.closed; i++) {
          this.counters.writes += 1;
          target.write(chunk.subarray(i, i + 1));
          // a macrotask between bytes: each byte leaves in its own TCP segment (Nagle is off)
          await new Promise<void>((r) => setImmediate(r));
        }
      }
    } finally {
      pipe.busy = false;
    }
  }

  /** Delay every forwarded chunk by `ms` (both directions, order kept). */
  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  /** Forward bytes one per write in the given direction(s) (`up` = to the server); null = off. */
  setSlice(direction: Direction | null): void {
    this.slice = direction;
  }

  /**
   * Half-open link: stop forwarding in both directions and stop reading, without FIN or RST, on
   * the open connections. New connections are forwarded normally (a replacement link works).
   */
  hang(): void {
    // connections accepted from now on work: only the ones open now hang
    for (const link of this.links) {
      link.hung = true;
      link.client.pause();
      link.server.pause();
      this.hungLinks.add(link);
      this.markHung(link);
    }
  }

  private hungLinks = new Set<Link>();

  private markHung(link: Link): void {
    // Replace the forwarding of a hung link with nothing: data stays in the kernel buffers.
    link.client.removeAllListeners('data');
    link.server.removeAllListeners('data');
    link.client.removeAllListeners('end');
    link.server.removeAllListeners('end');
    link.client.removeAllListeners('close');
    link.server.removeAllListeners('close');
    // Keep reading the client side into nothing: its bytes are lost as on a dead link, and a FIN
    // from the connector (when it gives up) is still noticed here.
    link.client.on('data', () => undefined);
    link.client.resume();
    link.client.on('close', () => {
      // the connector gave up on the link: forget it (the server side stays silent, as half-open)
      this.links.delete(link);
      this.counters.active = this.links.size;
      link.server.destroy();
    });
    link.up.queue.length = 0;
    link.down.queue.length = 0;
  }

  /** Connections that are hung now and still open on the client side. */
  hungOpen(): number {
    return [...this.hungLinks].filter((l) => this.links.has(l)).length;
  }

  /** TCP reset on every open connection (both sides). */
  resetAll(): void {
    for (const link of [...this.links]) {
      link.closed = true;
      link.client.resetAndDestroy();
      link.server.resetAndDestroy();
      this.links.delete(link);
    }
    this.counters.active = this.links.size;
  }

  /** Orderly close (FIN) of every open connection, both sides. */
  closeAll(): void {
    for (const link of [...this.links]) {
      link.closed = true;
      link.client.end();
      link.server.end();
      setTimeout(() => {
        link.client.destroy();
        link.server.destroy();
      }, 200).unref();
      this.links.delete(link);
    }
    this.counters.active = this.links.size;
  }

  /** Refuse (accept and close at once) new connections — "the server is down". */
  setRefuse(on: boolean): void {
    this.refusing = on;
  }

  stats(): FaultProxyStats {
    return { ...this.counters, active: this.links.size };
  }

  async close(): Promise<void> {
    for (const link of [...this.links]) {
      link.closed = true;
      link.client.destroy();
      link.server.destroy();
    }
    this.links.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
