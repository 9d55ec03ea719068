/**
 * TLS to the schema registry with our own CA and client certificate (SCHEMA_REGISTRY_CA_FILE,
 * _CERT_FILE, _KEY_FILE). The registry library takes an `https.Agent`; Node's global `fetch` does
 * not (it has its own dispatcher), so the codec's few direct calls go through `fetchWithAgent`.
 * Without these files nothing here is used and Node's public CA list applies.
 */
import { Agent, request } from 'node:https';
import type { TlsFiles } from '../config-posture.js';

/** The registry's PEM files as read at start (config-posture.ts): one shape for every TLS client. */
export type RegistryPem = TlsFiles;

/** An agent for the registry's https:// URL, or undefined when no CA or client certificate is given. */
export function registryAgent(url: string, pem: RegistryPem | null | undefined): Agent | undefined {
  if (!pem || !url.startsWith('https://') || (pem.ca === null && pem.cert === null)) return undefined;
  return new Agent({
    keepAlive: true,
    ...(pem.ca !== null ? { ca: pem.ca } : {}),
    ...(pem.cert !== null && pem.key !== null ? { cert: pem.cert, key: pem.key } : {}),
  });
}

/** No schema answer is near this: a larger one is a misbehaving registry or proxy (an outage), not read whole. */
export const MAX_REGISTRY_ANSWER_BYTES = 1024 * 1024;

/** `fetch` for a string body over `agent`, with the same abort signal; answers a standard `Response`. */
export function fetchWithAgent(
  url: string,
  init: { method?: string; headers?: Headers; body?: string; signal?: AbortSignal },
  agent: Agent,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers = Object.fromEntries(init.headers?.entries() ?? []);
    const req = request(url, { method: init.method ?? 'GET', headers, agent, ...(init.signal ? { signal: init.signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (bytes > MAX_REGISTRY_ANSWER_BYTES) {
          req.destroy(new Error(`answer over ${MAX_REGISTRY_ANSWER_BYTES} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        const status = res.statusCode ?? 502;
        // a Response may carry no body with these statuses, and only statuses 200-599
        const body = [204, 205, 304].includes(status) ? null : Buffer.concat(chunks);
        resolve(new Response(body, { status: status >= 200 && status <= 599 ? status : 502 }));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
