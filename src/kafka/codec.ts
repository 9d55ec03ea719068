/**
 * Avro in the Confluent wire format (magic byte 0 + 4-byte schema id + Avro body), with schemas
 * held by a Confluent-compatible registry (Apicurio's ccompat API in the local stack).
 *
 * Decoding classifies every failure as poison (the bytes can never decode: DLQ) or transient (the
 * registry did not answer: pause and retry). The distinction matters: calling a registry outage
 * "poison" would DLQ a whole backlog.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Schema } from '@kafkajs/confluent-schema-registry/dist/@types.js';
import type { SmsDeliveryEvent, SmsInbound, SmsOutbound } from '../contracts.js';
import { PoisonRecordError, RegistryUnavailableError } from './errors.js';
import { outboundFromDecoded } from './outbound-shape.js';

/** `schemas/` at the package root: two levels up from src/kafka, three from dist/src/kafka. */
const SCHEMAS_DIR = ['../../schemas', '../../../schemas']
  .map((rel) => resolve(dirname(fileURLToPath(import.meta.url)), rel))
  .find((dir) => existsSync(resolve(dir, 'sms-outbound.avsc'))) ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../schemas');

export interface RegistryConfig {
  url: string;
  auth: { username: string; password: string } | null;
}

export interface ContractTopics {
  outbound: string;
  delivery: string;
  inbound: string | null;
}

type Contract = 'outbound' | 'delivery' | 'inbound';
const SCHEMA_FILES: Record<Contract, string> = {
  outbound: 'sms-outbound.avsc',
  delivery: 'sms-delivery.avsc',
  inbound: 'sms-inbound.avsc',
};

export function readSchema(contract: Contract): string {
  return readFileSync(resolve(SCHEMAS_DIR, SCHEMA_FILES[contract]), 'utf8');
}

/** TopicNameStrategy: the value subject of topic `t` is `t-value`. */
export const valueSubject = (topic: string): string => `${topic}-value`;

/** avsc's `Type.encode`: writes at `pos`, returns the end, or minus the bytes missing. */
interface AvroWriter {
  encode(value: unknown, buffer: Buffer, pos: number): number;
}

/** Where records are encoded before their copy out; grows when a record does not fit. */
let encodeScratch = Buffer.allocUnsafe(16 * 1024);

/** What encoding one of our own contracts needs, resolved once at registration. */
interface Writer {
  id: number;
  /** Magic byte 0 + the schema id, big-endian: the Confluent wire format's 5-byte header. */
  header: Buffer;
  type: Schema;
}

export class AvroCodec {
  private readonly registry: SchemaRegistry;
  private readonly writers = new Map<Contract, Writer>();
  /** Writer schemas by id, once seen: decoding a known id needs no registry lookup. */
  private readonly readers = new Map<number, Schema>();

  constructor(
    private readonly config: RegistryConfig,
    private readonly topics: ContractTopics,
  ) {
    this.registry = new SchemaRegistry({
      host: config.url,
      ...(config.auth ? { auth: config.auth } : {}),
      // Our own pause/resume loop retries; a short client retry keeps one record's wait bounded.
      retry: { retries: 1, maxRetryTimeInSecs: 1 },
    });
  }

  /**
   * Registers our schemas (BACKWARD) under their topics' value subjects. Fails fast at start-up
   * when the registry URL is wrong, instead of later calling every record poison.
   */
  async registerContracts(): Promise<void> {
    const subjects: [Contract, string | null][] = [
      ['outbound', this.topics.outbound],
      ['delivery', this.topics.delivery],
      ['inbound', this.topics.inbound],
    ];
    for (const [contract, topic] of subjects) {
      if (topic) this.writers.set(contract, await this.writer(await this.register(contract, valueSubject(topic))));
    }
  }

  private async writer(id: number): Promise<Writer> {
    const header = Buffer.alloc(5);
    header.writeInt32BE(id, 1);
    try {
      return { id, header, type: await this.registry.getSchema(id) };
    } catch (err) {
      throw asTransient(err);
    }
  }

  private async register(contract: Contract, subject: string): Promise<number> {
    const schema = { type: SchemaType.AVRO as const, schema: readSchema(contract) };
    try {
      return (await this.registry.register(schema, { subject, compatibility: COMPATIBILITY.BACKWARD })).id;
    } catch (err) {
      // A subject created by another client can report a different level (Apicurio says NONE):
      // our contract is BACKWARD, so set it explicitly and register again.
      if ((err as Error).name !== 'ConfluentSchemaRegistryCompatibilityError') throw this.registrationError(err, subject);
      await this.setCompatibility(subject, 'BACKWARD');
      return (await this.registry.register(schema, { subject, compatibility: COMPATIBILITY.BACKWARD })).id;
    }
  }

  /**
   * A 404 on registration means the URL does not reach a Confluent-compatible API (a registry
   * always has the POST /subjects/{subject}/versions route): say so, with the likely fix, rather
   * than the library's "[object Object]".
   */
  private registrationError(err: unknown, subject: string): RegistryUnavailableError {
    if ((err as { status?: number }).status !== 404) return asTransient(err);
    return new RegistryUnavailableError(
      `registry at ${this.config.url} answered 404 to registering subject ${subject}: SCHEMA_REGISTRY_URL must be the ` +
        `Confluent-compatible base URL (Apicurio: http://<host>:<port>/apis/ccompat/v7)`,
      { cause: err },
    );
  }

  private async setCompatibility(subject: string, compatibility: string): Promise<void> {
    const res = await this.fetchRegistry(`/config/${encodeURIComponent(subject)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility }),
    });
    if (!res.ok) throw new RegistryUnavailableError(`registry refused compatibility for ${subject}: HTTP ${res.status}`);
  }

  schemaId(contract: Contract): number {
    return this.writerOf(contract).id;
  }

  private writerOf(contract: Contract): Writer {
    const writer = this.writers.get(contract);
    if (writer === undefined) throw new Error(`schema for ${contract} not registered (call registerContracts first)`);
    return writer;
  }

  encodeOutbound(value: SmsOutbound): Buffer {
    return this.encode('outbound', value);
  }

  encodeDelivery(value: SmsDeliveryEvent): Buffer {
    return this.encode('delivery', value);
  }

  encodeInbound(value: SmsInbound): Buffer {
    return this.encode('inbound', value);
  }

  /**
   * Synchronous: our schemas' Avro types are resolved at registration, so encoding an event is the
   * Avro body behind the 5-byte header — no registry lookup and no promise per event (three events
   * per message; the library's async encode was ~2 % of the connector's CPU with its microtasks).
   */
  private encode(contract: Contract, value: object): Buffer {
    const { header, type } = this.writerOf(contract);
    for (;;) {
      header.copy(encodeScratch);
      let end: number;
      try {
        end = (type as unknown as AvroWriter).encode(value, encodeScratch, header.length);
      } catch (err) {
        throw new AvroEncodeError(contract, invalidPaths(type, value), err);
      }
      // One copy out of the scratch buffer (pooled for small records), instead of the body's own
      // zero-filled buffer and a concat behind the header.
      if (end >= 0) return Buffer.from(encodeScratch.subarray(0, end));
      encodeScratch = Buffer.allocUnsafe(2 * (encodeScratch.length - end)); // end = −(bytes missing)
    }
  }

  /** Decodes a `sms.outbound` value; throws `PoisonRecordError` or `RegistryUnavailableError`. */
  async decodeOutbound(value: Buffer | null): Promise<SmsOutbound> {
    return outboundFromDecoded(await this.decodeRaw(value));
  }

  /**
   * The same decode without a promise, for a value whose writer schema is already known (every
   * record after the first of its schema): undefined when it is not, or when the value fails in
   * any way — `decodeOutbound` then decodes it again and classifies the failure (DLQ or wait).
   * Three async layers per record were ~1 % of the connector's CPU in their promises and hops.
   */
  decodeOutboundKnown(value: Buffer | null): SmsOutbound | undefined {
    if (value === null || value.length < 5 || value[0] !== 0) return undefined;
    const known = this.readers.get(value.readInt32BE(1));
    if (!known) return undefined;
    try {
      return outboundFromDecoded(known.fromBuffer(value.subarray(5)) as Record<string, unknown>);
    } catch {
      return undefined;
    }
  }

  /** Decodes any value written by a registered schema (delivery events for `tail` and tests). */
  async decodeRaw(value: Buffer | null): Promise<Record<string, unknown>> {
    if (value === null || value.length === 0) throw new PoisonRecordError('NULL_VALUE', 'record value is null or empty');
    if (value[0] !== 0) {
      throw new PoisonRecordError('BAD_MAGIC_BYTE', `magic byte is ${value[0]}, expected 0 (Confluent wire format)`);
    }
    if (value.length < 5) throw new PoisonRecordError('AVRO_DECODE', `value is ${value.length} bytes, shorter than the 5-byte header`);
    const schemaId = value.readInt32BE(1);
    try {
      const known = this.readers.get(schemaId);
      if (known) return known.fromBuffer(value.subarray(5)) as Record<string, unknown>;
      const decoded = (await this.registry.decode(value)) as Record<string, unknown>;
      this.readers.set(schemaId, await this.registry.getSchema(schemaId)); // in the library's cache now
      return decoded;
    } catch (err) {
      throw await this.classifyDecodeError(err, schemaId);
    }
  }

  private async classifyDecodeError(err: unknown, schemaId: number): Promise<Error> {
    const status = (err as { status?: number }).status;
    if (status === 404) {
      // A 404 is only proof of an unknown id if the registry is otherwise healthy (a wrong base URL
      // or a registry half-up also answers 404): check that our own schema id still resolves.
      if (await this.registryKnowsOurSchema()) {
        return new PoisonRecordError('UNKNOWN_SCHEMA_ID', `schema id ${schemaId} is not in the registry`, { cause: err });
      }
      return new RegistryUnavailableError(`registry answered 404 for schema id ${schemaId} and for our own schema`, { cause: err });
    }
    if (status !== undefined || isNetworkError(err)) return asTransient(err);
    return new PoisonRecordError('AVRO_DECODE', `Avro body does not decode with schema id ${schemaId}: ${(err as Error).message}`, {
      cause: err,
    });
  }

  private async registryKnowsOurSchema(): Promise<boolean> {
    const id = this.writers.get('outbound')?.id;
    if (id === undefined) return false;
    try {
      return (await this.fetchRegistry(`/schemas/ids/${id}`, { method: 'GET' })).ok;
    } catch {
      return false;
    }
  }

  private fetchRegistry(path: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.config.auth) {
      const token = Buffer.from(`${this.config.auth.username}:${this.config.auth.password}`).toString('base64');
      headers.set('authorization', `Basic ${token}`);
    }
    return fetch(`${this.config.url}${path}`, { ...init, headers, signal: AbortSignal.timeout(5000) });
  }
}

/** A value our own schema cannot encode: a bug in the caller, never a registry problem. */
export class AvroEncodeError extends Error {
  constructor(
    contract: string,
    readonly paths: string[],
    cause: unknown,
  ) {
    super(`value does not fit the ${contract} schema${paths.length ? ` at ${paths.join(', ')}` : ''}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'AvroEncodeError';
  }
}

function invalidPaths(type: Schema, value: object): string[] {
  const paths: string[] = [];
  type.isValid(value, { errorHook: (path) => paths.push(path.join('.')) });
  return paths;
}

function isNetworkError(err: unknown): boolean {
  const text = `${(err as Error)?.message ?? ''} ${(err as { code?: string })?.code ?? ''}`;
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|socket hang up|timeout|fetch failed/i.test(text);
}

function asTransient(err: unknown): RegistryUnavailableError {
  if (err instanceof RegistryUnavailableError) return err;
  return new RegistryUnavailableError(`schema registry unavailable: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
