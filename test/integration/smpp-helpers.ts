/**
 * Helpers for the SMPP integration tests (simulator over real sockets). Not a test file itself.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { SmppSession } from '../../src/smpp/session/session.js';
import type { SessionOptions, SubmitParams, SubmitResult } from '../../src/smpp/protocol/types.js';

export const silentLogger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

/** Waits until `condition` holds, polling; throws with `label` after timeoutMs. Never a bare sleep. */
export async function waitFor(condition: () => boolean, timeoutMs: number, label: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${label}`);
    await delay(10);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Session options with short timeouts/backoffs so every test runs in seconds. */
export function fastSessionOptions(port: number, overrides: Partial<SessionOptions> = {}): SessionOptions {
  return {
    host: '127.0.0.1',
    port,
    systemId: 'test',
    password: 'secret',
    mode: 'trx',
    window: 10,
    rateLimit: 100,
    rateMargin: 0.02,
    enquireLinkMs: 5_000,
    responseTimeoutMs: 2_000,
    connectTimeoutMs: 2_000,
    bindTimeoutMs: 2_000,
    reconnectMinMs: 100,
    reconnectMaxMs: 1_000,
    credentialBackoffMs: 1_500,
    unbindTimeoutMs: 500,
    logger: silentLogger,
    ...overrides,
  };
}

/** A valid GSM submit (unpacked GSM 03.38 bytes equal ASCII for these characters). */
export function gsmSubmit(destination: string, text: string, registeredDelivery = 0): SubmitParams {
  return {
    sourceAddr: 'AGILETEST',
    sourceAddrTon: 5,
    sourceAddrNpi: 0,
    destinationAddr: destination,
    destAddrTon: 1,
    destAddrNpi: 1,
    dataCoding: 0,
    esmClass: 0,
    registeredDelivery,
    shortMessage: Buffer.from(text, 'latin1'),
  };
}

/**
 * Test-side retry of 0x58 (the pipeline owns retries in production): re-submits a throttled
 * message on the same session (the session already slowed its pacer down) until accepted.
 */
export async function submitUntilAccepted(session: SmppSession, params: SubmitParams, maxAttempts = 50): Promise<{ result: SubmitResult; throttled: number }> {
  let throttled = 0;
  for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
    const result = await session.submit(params);
    if (result.kind === 'response' && result.commandStatus === 0x58) {
      throttled += 1;
      continue;
    }
    if (result.kind === 'not-sent' && result.reason !== 'encode-error') {
      await delay(50);
      continue;
    }
    return { result, throttled };
  }
  throw new Error(`not accepted after ${maxAttempts} attempts`);
}

export interface TlsMaterial {
  dir: string;
  caFile: string;
  otherCaFile: string;
  key: Buffer;
  cert: Buffer;
  cleanup(): void;
}

/** A throw-away CA, a server certificate for localhost/127.0.0.1 signed by it, and an unrelated CA. */
export function makeTlsMaterial(): TlsMaterial {
  const dir = mkdtempSync(join(tmpdir(), 'smpp-tls-'));
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=Test SMPP CA');
  run('req', '-x509', ...ec, '-keyout', 'other.key', '-out', 'other.crt', '-days', '1', '-subj', '/CN=Other CA');
  run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'ext.cnf');
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    otherCaFile: join(dir, 'other.crt'),
    key: readFileSync(join(dir, 'server.key')),
    cert: readFileSync(join(dir, 'server.crt')),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
