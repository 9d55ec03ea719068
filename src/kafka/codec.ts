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

export class AvroCodec {
  private readonly registry: SchemaRegistry;
  private readonly ids = new Map<Contract, number>();

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
      if (topic) this.ids.set(contract, await this.register(contract, valueSubject(topic)));
    }
  }

  private async register(contract: Contract, subject: string): Promise<number> {
    const schema = { type: SchemaType.AVRO as const, schema: readSchema(contract) };
    try {
      return (await this.registry.register(schema, { subject, compatibility: COMPATIBILITY.BACKWARD })).id;
    } catch (err) {
      // A subject created by another client can report a different level (Apicurio says NONE):
      // our contract is BACKWARD, so set it explicitly and register again.
      if ((err as Error).name !== 'ConfluentSchemaRegistryCompatibilityError') throw asTransient(err);
      await this.setCompatibility(subject, 'BACKWARD');
      return (await this.registry.register(schema, { subject, compatibility: COMPATIBILITY.BACKWARD })).id;
    }
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
    const id = this.ids.get(contract);
    if (id === undefined) throw new Error(`schema for ${contract} not registered (call registerContracts first)`);
    return id;
  }

  async encodeOutbound(value: SmsOutbound): Promise<Buffer> {
    return this.encode('outbound', value);
  }

  async encodeDelivery(value: SmsDeliveryEvent): Promise<Buffer> {
    return this.encode('delivery', value);
  }

  async encodeInbound(value: SmsInbound): Promise<Buffer> {
    return this.encode('inbound', value);
  }

  private async encode(contract: Contract, value: unknown): Promise<Buffer> {
    try {
      return await this.registry.encode(this.schemaId(contract), value);
    } catch (err) {
      if ((err as Error).name === 'ConfluentSchemaRegistryValidationError') throw err;
      throw asTransient(err);
    }
  }

  /** Decodes a `sms.outbound` value; throws `PoisonRecordError` or `RegistryUnavailableError`. */
  async decodeOutbound(value: Buffer | null): Promise<SmsOutbound> {
    return outboundFromDecoded(await this.decodeRaw(value));
  }

  /** Decodes any value written by a registered schema (delivery events for `tail` and tests). */
  async decodeRaw(value: Buffer | null): Promise<Record<string, unknown>> {
    if (value === null || value.length === 0) throw new PoisonRecordError('NULL_VALUE', 'record value is null or empty');
    if (value[0] !== 0) {
      throw new PoisonRecordError('BAD_MAGIC_BYTE', `magic byte is ${value[0]}, expected 0 (Confluent wire format)`);
    }
    if (value.length < 5) throw new PoisonRecordError('AVRO_DECODE', `value is ${value.length} bytes, shorter than the 5-byte header`);
    try {
      return (await this.registry.decode(value)) as Record<string, unknown>;
    } catch (err) {
      throw await this.classifyDecodeError(err, value.readInt32BE(1));
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
    const id = this.ids.get('outbound');
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

function isNetworkError(err: unknown): boolean {
  const text = `${(err as Error)?.message ?? ''} ${(err as { code?: string })?.code ?? ''}`;
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|socket hang up|timeout|fetch failed/i.test(text);
}

function asTransient(err: unknown): RegistryUnavailableError {
  if (err instanceof RegistryUnavailableError) return err;
  return new RegistryUnavailableError(`schema registry unavailable: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
