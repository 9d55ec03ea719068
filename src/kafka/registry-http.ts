/**
 * The registry calls the codec makes itself: basic auth like the library's, a deadline on every
 * call (connect, headers *and* body), and one rule for what an answer is worth. A registry that
 * does not answer, answers 5xx, or answers something that is not the JSON it should be (an HTML
 * page from a proxy, `{}`) is *unavailable* — the caller pauses and retries. Only a well-formed
 * answer can make a record poison.
 */
import type { Agent } from 'node:https';
import { RegistryUnavailableError } from './errors.js';
import { MAX_REGISTRY_ANSWER_BYTES, fetchWithAgent, registryAgent, type RegistryPem } from './registry-tls.js';

export interface RegistryConfig {
  url: string;
  auth: { username: string; password: string } | null;
  /** SCHEMA_REGISTRY_CA_FILE / _CERT_FILE / _KEY_FILE as PEM text (registry-tls.ts); default: Node's public CAs. */
  pem?: RegistryPem;
  /** Deadline of each registry call in ms (SCHEMA_REGISTRY_TIMEOUT_MS); default 5000. */
  timeoutMs?: number;
}

export const DEFAULT_REGISTRY_TIMEOUT_MS = 5000;

/** A registry answer: the status and, when it was JSON, the parsed body (else undefined). */
export interface RegistryAnswer {
  status: number;
  json: unknown;
}

export class RegistryHttp {
  readonly timeoutMs: number;
  /** Our own CA / client certificate for an https:// registry, shared with the registry library. */
  readonly agent: Agent | undefined;

  constructor(private readonly config: RegistryConfig) {
    this.timeoutMs = config.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS;
    this.agent = registryAgent(config.url, config.pem);
  }

  /**
   * One call, body included, within the deadline. Throws RegistryUnavailableError when there is no
   * answer in time; a 2xx whose body is not JSON is unavailable too (a proxy's page is no answer).
   */
  async call(path: string, init: RequestInit = { method: 'GET' }): Promise<RegistryAnswer> {
    const headers = new Headers(init.headers);
    headers.set('accept', 'application/vnd.schemaregistry.v1+json, application/json');
    if (this.config.auth) {
      const token = Buffer.from(`${this.config.auth.username}:${this.config.auth.password}`).toString('base64');
      headers.set('authorization', `Basic ${token}`);
    }
    let status: number;
    let text: string;
    try {
      // The signal covers the body too: a registry sending headers and then nothing still times out.
      const url = `${this.config.url}${path}`;
      const signal = AbortSignal.timeout(this.timeoutMs);
      const body = typeof init.body === 'string' ? init.body : undefined;
      const res = this.agent
        ? await fetchWithAgent(url, { method: init.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}), signal }, this.agent)
        : await fetch(url, { ...init, headers, signal });
      status = res.status;
      text = await cappedText(res);
    } catch (err) {
      throw new RegistryUnavailableError(`schema registry did not answer ${init.method ?? 'GET'} ${path} within ${this.timeoutMs} ms: ${describe(err)}`, {
        cause: err,
      });
    }
    const json = parseJson(text);
    if (status >= 200 && status < 300 && json === undefined) {
      throw new RegistryUnavailableError(`schema registry answered ${path} with HTTP ${status} but not JSON (${preview(text)})`);
    }
    return { status, json };
  }
}

/** The body as text, refused past MAX_REGISTRY_ANSWER_BYTES (read in chunks, never whole). */
async function cappedText(res: Response): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    if (bytes > MAX_REGISTRY_ANSWER_BYTES) break; // leaving the loop cancels the stream
    chunks.push(chunk);
  }
  if (bytes > MAX_REGISTRY_ANSWER_BYTES) throw new Error(`answer over ${MAX_REGISTRY_ANSWER_BYTES} bytes`);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The first characters of a body, on one line, for an error message. */
export function preview(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 60 ? `${flat.slice(0, 60)}…` : flat || 'empty body';
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  return [e?.message, e?.cause?.code].filter(Boolean).join(' ') || String(err);
}

/**
 * Bounds a call we cannot give a signal to (the registry library's registration) by `ms`: the
 * promise is left to settle on its own, its result ignored.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RegistryUnavailableError(`${what}: no answer from the schema registry within ${ms} ms`)), ms);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
