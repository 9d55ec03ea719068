/**
 * A throwaway CA and a server certificate for the demo's TLS simulator, made with `openssl` in a
 * temp dir at run time and deleted at the end — never committed, never reused. The connector
 * trusts the CA through SMPP_TLS_CA_FILE with verification on, as it would trust a provider's.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export interface DemoTls {
  dir: string;
  /** PEM of the CA, for SMPP_TLS_CA_FILE. */
  caFile: string;
  /** The name in the certificate, for SMPP_TLS_SERVERNAME. */
  serverName: string;
  key: Buffer;
  cert: Buffer;
  remove(): void;
}

export function makeDemoTls(serverName = 'localhost'): DemoTls {
  const dir = mkdtempSync(path.join(tmpdir(), 'sms-demo-tls-'));
  const file = (name: string) => path.join(dir, name);
  const openssl = (args: string[]) => {
    try {
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
      throw new Error(`openssl ${args[0]} failed (is openssl installed?): ${(err as Error).message}\n${stderr}`, { cause: err });
    }
  };
  try {
    openssl([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-days',
      '1',
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.pem'),
      '-subj',
      '/CN=sms-connector demo CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', `/CN=${serverName}`]);
    writeFileSync(
      file('server.ext'),
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${serverName},IP:127.0.0.1\n`,
    );
    openssl([
      'x509',
      '-req',
      '-sha256',
      '-days',
      '1',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file('server.pem'),
      '-extfile',
      file('server.ext'),
    ]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    caFile: file('ca.pem'),
    serverName,
    key: readFileSync(file('server.key')),
    cert: readFileSync(file('server.pem')),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
