/**
 * KAFKA_SSL_CA_FILE / _CERT_FILE / _KEY_FILE reach the brokers' sockets: a TLS endpoint that only
 * accepts clients with a certificate of our CA sees the connector's kafkajs client complete the
 * handshake (verifying the endpoint against our CA, presenting its certificate) and send its first
 * Kafka request; without the files the handshake fails. (A TLS listener on the shared broker would
 * need a broker restart; what is tested here is the wiring from the variables to the socket.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { createServer, type TLSSocket } from 'node:tls';
import { loadClientConfig } from '../../src/config.js';
import { createKafka } from '../../src/kafka/client.js';
import { makeDemoTls } from '../../src/demo/tls.js';
import { createLogger } from '../../src/obs/logger.js';

function clientCertificate(dir: string): { cert: string; key: string } {
  const file = (n: string) => path.join(dir, n);
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-keyout', file('client.key'), '-out', file('client.csr'), '-subj', '/CN=sms-connector']);
  writeFileSync(file('client.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  openssl([
    'x509',
    '-req',
    '-sha256',
    '-days',
    '1',
    '-in',
    file('client.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('client.pem'),
    '-extfile',
    file('client.ext'),
  ]);
  return { cert: file('client.pem'), key: file('client.key') };
}

test('Kafka over mutual TLS: the CA and client certificate files are used on the broker socket; without them no handshake', async () => {
  const tls = makeDemoTls('127.0.0.1');
  const peers: string[] = [];
  let failedHandshakes = 0;
  const server = createServer(
    { key: tls.key, cert: tls.cert, ca: readFileSync(tls.caFile), requestCert: true, rejectUnauthorized: true },
    (socket: TLSSocket) => {
      // the client verified us and we verified it: record whose certificate it was, then hang up on the first request
      socket.once('data', () => {
        peers.push(String(socket.getPeerCertificate().subject?.CN ?? '?'));
        socket.destroy();
      });
    },
  );
  server.on('tlsClientError', () => (failedHandshakes += 1));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const broker = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const logger = createLogger('silent');
  const connect = async (env: Record<string, string>) => {
    const config = loadClientConfig({ KAFKA_BROKERS: broker, KAFKA_SSL: 'true', ...env });
    const admin = createKafka({ ...config.kafka, retries: 0 }, logger).admin({ retry: { retries: 0 } });
    await assert.rejects(admin.connect(), 'our endpoint is no Kafka: the connect fails after the handshake or at it');
    await admin.disconnect();
  };
  try {
    const client = clientCertificate(tls.dir);
    await connect({ KAFKA_SSL_CA_FILE: tls.caFile, KAFKA_SSL_CERT_FILE: client.cert, KAFKA_SSL_KEY_FILE: client.key });
    assert.ok(peers.length >= 1 && peers.every((cn) => cn === 'sms-connector'), `a Kafka request arrived over mutual TLS (${peers.join(', ')})`);

    const seen = peers.length;
    await connect({ KAFKA_SSL_CA_FILE: tls.caFile }); // no client certificate: the endpoint refuses it
    await connect({ KAFKA_SSL_CERT_FILE: client.cert, KAFKA_SSL_KEY_FILE: client.key }); // no CA: the client refuses the endpoint
    assert.equal(peers.length, seen, 'no request without the files');
    assert.ok(failedHandshakes >= 1, 'the endpoint saw refused handshakes');
  } finally {
    await new Promise((r) => server.close(r));
    tls.remove();
  }
});
