/**
 * The health/metrics port cannot be held open: connections are capped (a new one beyond the cap is
 * closed at once, and the port serves again as soon as one goes), oversized headers are refused.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { createLogger } from '../../src/obs/logger.js';
import { HTTP_LIMITS, startHttpServer } from '../../src/obs/http.js';
import { createMetrics } from '../../src/obs/metrics.js';

const logger = createLogger('silent');

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

/** Resolves with whether the server closed the socket within `ms` (sends nothing itself). */
function closedByServer(s: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    s.on('error', () => undefined);
  });
}

async function waitFor(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) assert.fail('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('the default cap is small and the timeouts are set', () => {
  assert.ok(HTTP_LIMITS.maxConnections > 0 && HTTP_LIMITS.maxConnections <= 64);
  assert.ok(HTTP_LIMITS.headersTimeoutMs < HTTP_LIMITS.requestTimeoutMs);
});

test('connections beyond maxConnections are closed at once; the port serves again when one goes', async () => {
  const server = await startHttpServer({
    port: 0,
    host: '127.0.0.1',
    logger,
    registry: createMetrics().registry,
    readiness: () => ({ ready: true, checks: {} }),
    maxConnections: 3,
  });
  const idle: Socket[] = [];
  try {
    for (let i = 0; i < 3; i++) idle.push(await open(server.port));
    for (const s of idle) s.on('error', () => undefined);
    const extra = await open(server.port);
    assert.equal(await closedByServer(extra, 2000), true, 'the 4th connection is closed by the server');
    const held = await open(server.port);
    assert.equal(await closedByServer(held, 300), true, 'still capped while the 3 idle ones stay');
    assert.equal(
      idle.every((s) => !s.destroyed),
      true,
      'the connections within the cap stay open',
    );
    idle.pop()!.destroy();
    await waitFor(async () => {
      try {
        return (await fetch(`http://127.0.0.1:${server.port}/healthz`, { headers: { connection: 'close' } })).status === 200;
      } catch {
        return false;
      }
    }, 3000);
  } finally {
    for (const s of idle) s.destroy();
    await server.close();
  }
});

test('request headers over the limit are refused with 431', async () => {
  const server = await startHttpServer({
    port: 0,
    host: '127.0.0.1',
    logger,
    registry: createMetrics().registry,
    readiness: () => ({ ready: true, checks: {} }),
  });
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/healthz`, { headers: { 'x-big': 'a'.repeat(HTTP_LIMITS.maxHeaderBytes + 100) } });
    assert.equal(res.status, 431);
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status, 200, 'normal requests still served');
  } finally {
    await server.close();
  }
});
