/**
 * An HTTP proxy in front of the real schema registry that misbehaves on demand, as a broken
 * gateway, a half-up registry or a black hole would: answer HTML with 200, JSON that is not a
 * schema, 500, 404 for everything, the right answer too late, or nothing at all.
 *
 * Invariant it keeps: in `pass` mode every request reaches the registry unchanged and its answer
 * comes back unchanged; a silent request stays silent even after the mode changes (as a lost
 * request would), until its client gives up or the proxy closes.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type RegistryFault = 'pass' | 'html' | 'not-a-schema' | 'error-500' | 'not-found' | 'slow' | 'silent';

export class RegistryProxy {
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly target: URL;
  /** Its own upstream pool, closed with the proxy (the global agent would keep the process alive). */
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly timers = new Set<NodeJS.Timeout>();
  mode: RegistryFault = 'pass';
  /** How late `slow` answers (the right answer, after this). */
  slowMs = 3000;
  /** Requests seen, by path without the base (e.g. `/schemas/ids/7`), in every mode. */
  readonly requests: Array<{ path: string; mode: RegistryFault; at: number }> = [];
  port = 0;

  private constructor(registryUrl: string) {
    this.target = new URL(registryUrl);
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** Listens on a free port; `url` is then the proxied base URL (same path as the registry's). */
  static async start(registryUrl: string): Promise<RegistryProxy> {
    const proxy = new RegistryProxy(registryUrl);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as AddressInfo).port;
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}${this.target.pathname.replace(/\/$/, '')}`;
  }

  /** Requests for one path (e.g. a schema id's) seen so far. */
  count(path: string): number {
    return this.requests.filter((r) => r.path === path).length;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const mode = this.mode;
    const base = this.target.pathname.replace(/\/$/, '');
    this.requests.push({ path: (req.url ?? '').slice(base.length), mode, at: Date.now() });
    switch (mode) {
      case 'pass':
        return this.forward(req, res);
      case 'slow': {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.forward(req, res);
        }, this.slowMs);
        this.timers.add(timer);
        return;
      }
      case 'silent':
        return; // the request is read and never answered
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>');
        return;
      case 'not-a-schema':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"UP","checks":[]}');
        return;
      case 'error-500':
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error_code":50001,"message":"Error in the backend data store"}');
        return;
      case 'not-found':
        res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>404 Not Found</body></html>');
        return;
    }
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const upstream = http.request(
      {
        host: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: this.target.host },
        agent: this.agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    this.agent.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
