/**
 * Health and metrics over plain node:http. Three read-only routes and nothing else — the port is
 * exposed to the cluster's probes and to Prometheus, so it must not offer any control surface
 * (security requirement): no admin actions, no request data, no echo of the request.
 *
 *   GET /healthz  200 {"status":"ok"} while the process runs (liveness: the event loop answers)
 *   GET /readyz   200 or 503 with the readiness checks as JSON
 *   GET /metrics  Prometheus text exposition of the given registry
 *
 * HEAD is accepted where GET is; other methods on these paths → 405; any other path → 404.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';

export interface ReadinessReport {
  ready: boolean;
  /** One entry per check: `true`, `false`, or a short reason why it is not ready. */
  checks: Record<string, boolean | string>;
}

export interface HttpServerOptions {
  /** TCP port; 0 picks an ephemeral one (tests). */
  port: number;
  /** Interface to listen on (default: all interfaces, as probes come from outside the pod). */
  host?: string;
  readiness: () => ReadinessReport | Promise<ReadinessReport>;
  registry: Pick<Registry, 'metrics' | 'contentType'>;
  logger: Logger;
  /**
   * Open connections at most (default 32); beyond that a new one is closed at once. Probes and a
   * few scrapers need a handful: the cap keeps a flood of idle sockets from exhausting the pod.
   */
  maxConnections?: number;
}

/** Probes and scrapes are tiny: slow or idle clients get cut off rather than held open. */
export const HTTP_LIMITS = {
  maxConnections: 32,
  /** The whole request, headers included, must arrive within this. */
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 5_000,
  keepAliveTimeoutMs: 5_000,
  /** A socket with no traffic for this long is closed (a slow-loris client sends nothing). */
  idleSocketMs: 15_000,
  /** Request header bytes at most (Node's default is 16 KiB); a probe sends a few hundred. */
  maxHeaderBytes: 8 * 1024,
  maxHeadersCount: 32,
} as const;

export interface HttpServerHandle {
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string, head: boolean): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(head ? undefined : body);
}

function sendJson(res: ServerResponse, status: number, value: unknown, head: boolean): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value), head);
}

async function route(req: IncomingMessage, res: ServerResponse, options: HttpServerOptions): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const known = path === '/healthz' || path === '/readyz' || path === '/metrics';
  if (!known) return sendJson(res, 404, { error: 'not found' }, false);
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.setHeader('allow', 'GET, HEAD');
    return sendJson(res, 405, { error: 'method not allowed' }, false);
  }
  if (path === '/healthz') return sendJson(res, 200, { status: 'ok' }, head);
  if (path === '/readyz') {
    let report: ReadinessReport;
    try {
      report = await options.readiness();
    } catch (err) {
      options.logger.warn({ err }, 'readiness check threw');
      report = { ready: false, checks: { readiness: 'check failed' } };
    }
    return sendJson(res, report.ready ? 200 : 503, report, head);
  }
  try {
    const body = await options.registry.metrics();
    send(res, 200, options.registry.contentType, body, head);
  } catch (err) {
    options.logger.error({ err }, 'collecting metrics failed');
    sendJson(res, 500, { error: 'metrics unavailable' }, head);
  }
}

export function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  const server = createServer({ maxHeaderSize: HTTP_LIMITS.maxHeaderBytes }, (req, res) => {
    req.resume(); // no route reads a body; drain it so keep-alive connections stay usable
    route(req, res, options).catch((err: unknown) => {
      options.logger.error({ err }, 'http handler failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' }, false);
      else res.destroy();
    });
  });
  server.maxConnections = options.maxConnections ?? HTTP_LIMITS.maxConnections;
  server.requestTimeout = HTTP_LIMITS.requestTimeoutMs;
  server.headersTimeout = HTTP_LIMITS.headersTimeoutMs;
  server.keepAliveTimeout = HTTP_LIMITS.keepAliveTimeoutMs;
  server.maxHeadersCount = HTTP_LIMITS.maxHeadersCount;
  server.setTimeout(HTTP_LIMITS.idleSocketMs, (socket) => socket.destroy());

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      server.on('error', (err) => options.logger.error({ err }, 'http server error'));
      const port = (server.address() as AddressInfo).port;
      options.logger.info({ port, host: options.host ?? '*' }, 'health and metrics server listening');
      resolve({
        port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            server.closeAllConnections();
          }),
      });
    });
  });
}
