/**
 * TLS to the schema registry with our own CA and a client certificate (SCHEMA_REGISTRY_CA_FILE,
 * _CERT_FILE, _KEY_FILE): the codec registers, encodes and decodes through an https front of the
 * real registry that requires a client certificate — and fails without the CA or without the
 * certificate, so the files are what makes it work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadClientConfig } from '../../src/config.js';
import { AvroCodec } from '../../src/kafka/codec.js';
import { makeDemoTls } from '../../src/demo/tls.js';
import { outbound } from '../helpers/pipeline.js';
import { testStack, uniqueTopics } from '../helpers/stack.js';

/** A client certificate signed by the demo CA (its key is in the same temp dir). */
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

/** https://127.0.0.1:<port> → the registry's http URL, only for clients with a certificate of our CA. */
async function mutualTlsFront(target: URL, tls: { key: Buffer; cert: Buffer; ca: Buffer }): Promise<{ server: Server; port: number; seen: () => number }> {
  let requests = 0;
  const server = createServer({ key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    requests += 1;
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, seen: () => requests };
}

test('registry over mutual TLS: our CA and client certificate files make it work; without either it fails', async () => {
  const stack = await testStack();
  const registry = new URL(stack.registryUrl);
  const tls = makeDemoTls('127.0.0.1');
  const front = await mutualTlsFront(registry, { key: tls.key, cert: tls.cert, ca: readFileSync(tls.caFile) });
  try {
    const client = clientCertificate(tls.dir);
    const topics = uniqueTopics('registry-tls');
    const url = `https://127.0.0.1:${front.port}${registry.pathname}`;
    const base = { SCHEMA_REGISTRY_URL: url, TOPIC_OUTBOUND: topics.outbound, TOPIC_DELIVERY: topics.delivery };

    const config = loadClientConfig({
      ...base,
      SCHEMA_REGISTRY_CA_FILE: tls.caFile,
      SCHEMA_REGISTRY_CERT_FILE: client.cert,
      SCHEMA_REGISTRY_KEY_FILE: client.key,
    });
    const codec = new AvroCodec(config.registry, { outbound: topics.outbound, delivery: topics.delivery, inbound: null });
    await codec.registerContracts();
    const request = outbound('tls-1');
    const bytes = codec.encodeOutbound(request);
    // a fresh codec knows no schema yet: the decode must fetch it over TLS
    const reader = new AvroCodec(config.registry, { outbound: topics.outbound, delivery: topics.delivery, inbound: null });
    const decoded = await reader.decodeOutbound(bytes);
    assert.equal(decoded.id, 'tls-1');
    assert.ok(front.seen() >= 2, `the calls went through the TLS front (${front.seen()})`);

    const seenBefore = front.seen();
    const noCert = loadClientConfig({ ...base, SCHEMA_REGISTRY_CA_FILE: tls.caFile });
    await assert.rejects(
      new AvroCodec(noCert.registry, { outbound: topics.outbound, delivery: topics.delivery, inbound: null }).registerContracts(),
      'without the client certificate',
    );
    const noCa = loadClientConfig({ ...base, SCHEMA_REGISTRY_CERT_FILE: client.cert, SCHEMA_REGISTRY_KEY_FILE: client.key });
    await assert.rejects(
      new AvroCodec(noCa.registry, { outbound: topics.outbound, delivery: topics.delivery, inbound: null }).registerContracts(),
      'without our CA',
    );
    assert.equal(front.seen(), seenBefore, 'no request got through without the files');
  } finally {
    front.server.closeAllConnections();
    await new Promise((r) => front.server.close(r));
    tls.remove();
  }
});
