/**
 * Avro in the Confluent wire format (magic byte 0 + 4-byte schema id + Avro body), with schemas
 * held by a Confluent-compatible registry (Apicurio's ccompat API in the local stack).
 *
 * Decoding classifies every failure as poison (the bytes can never decode: DLQ) or transient (the
 * registry did not answer, or answered garbage: pause and retry). The distinction matters: calling
 * a registry outage "poison" would DLQ a whole backlog.
 *
 * A record's schema id is not trusted: its writer schema is fetched and judged once per id
 * (writer-schemas.ts, schema-trust.ts), and every decode is bounded (avro-bounds.ts). The registry
 * library is used only to register our own schemas, each of its requests under a deadline.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { SchemaRegistryAPIClientArgs } from '@kafkajs/confluent-schema-registry/dist/api/index.js';
import avsc from 'avsc';
import type { SmsDeliveryEvent, SmsInbound, SmsOutbound } from '../contracts.js';
import { PoisonRecordError, type RegistryRefusedError, type RegistryUnavailableError } from './errors.js';
import { outboundFromDecoded } from './outbound-shape.js';
import { classifyRegistryError, registryError } from './registry-errors.js';
import { RegistryHttp, withDeadline, type RegistryConfig } from './registry-http.js';
import { decodeUnder } from './schema-trust.js';
import { WriterSchemas } from './writer-schemas.js';

export type { RegistryConfig } from './registry-http.js';

/** `schemas/` at the package root: two levels up from src/kafka, three from dist/src/kafka. */
const SCHEMAS_DIR =
  ['../../schemas', '../../../schemas']
    .map((rel) => resolve(dirname(fileURLToPath(import.meta.url)), rel))
    .find((dir) => existsSync(resolve(dir, 'sms-outbound.avsc'))) ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../schemas');

export interface ContractTopics {
  outbound: string;
  /** The urgent lane's topic: the outbound contract is registered under its subject too. */
  outboundUrgent?: string | null;
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
  type: avsc.Type;
}

/** How the codec reads `sms.outbound` values. */
export interface OutboundDecodeOptions {
  /** A value larger than this goes to the DLQ (RECORD_TOO_LARGE) before any decoding (OUTBOUND_MAX_RECORD_BYTES); default 256 KiB. */
  maxRecordBytes?: number;
  /** Accept only schema ids registered under `<outbound topic>-value` (SCHEMA_SUBJECT_STRICT); default false. */
  subjectStrict?: boolean;
}

export const DEFAULT_MAX_RECORD_BYTES = 256 * 1024;

/** A per-request deadline for the registry library (mappersmith's own request option). */
function requestTimeout(ms: number): NonNullable<SchemaRegistryAPIClientArgs['middlewares']>[number] {
  return () => ({ prepareRequest: (next) => next().then((request) => request.enhance({ timeout: ms })) });
}

export class AvroCodec {
  private readonly registry: SchemaRegistry;
  private readonly http: RegistryHttp;
  private readonly writers = new Map<Contract, Writer>();
  /** What each writer schema id of a record is worth (writer-schemas.ts). */
  private readonly schemas: WriterSchemas;
  private readonly maxRecordBytes: number;

  constructor(
    private readonly config: RegistryConfig,
    private readonly topics: ContractTopics,
    options: OutboundDecodeOptions = {},
  ) {
    this.http = new RegistryHttp(config);
    this.maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.schemas = new WriterSchemas(this.http, {
      readerSchema: readSchema('outbound'),
      outboundSubjects: [topics.outbound, ...(topics.outboundUrgent ? [topics.outboundUrgent] : [])].map(valueSubject),
      subjectStrict: options.subjectStrict ?? false,
    });
    this.registry = new SchemaRegistry({
      host: config.url,
      ...(config.auth ? { auth: config.auth } : {}),
      ...(this.http.agent ? { agent: this.http.agent } : {}),
      // Our own pause/resume loop retries; a short client retry keeps one record's wait bounded.
      retry: { retries: 1, maxRetryTimeInSecs: 1 },
      middlewares: [requestTimeout(this.http.timeoutMs)],
    });
  }

  /**
   * Registers our schemas (BACKWARD) under their topics' value subjects. Fails fast at start-up
   * when the registry URL is wrong, instead of later calling every record poison.
   */
  async registerContracts(): Promise<void> {
    // [contract, topic, whether its id is the one we write with]
    const subjects: [Contract, string | null, boolean][] = [
      ['outbound', this.topics.outbound, true],
      // an urgent producer using TopicNameStrategy finds the same contract under its topic's subject
      ['outbound', this.topics.outboundUrgent ?? null, false],
      ['delivery', this.topics.delivery, true],
      ['inbound', this.topics.inbound, true],
    ];
    for (const [contract, topic, ours] of subjects) {
      if (!topic) continue;
      const id = await this.register(contract, valueSubject(topic));
      if (!ours) continue;
      this.writers.set(contract, writer(id, contract));
      if (contract === 'outbound') this.schemas.trustOwn(id);
    }
    await this.schemas.requireSubjectListing();
  }

  private async register(contract: Contract, subject: string): Promise<number> {
    const schema = { type: SchemaType.AVRO as const, schema: readSchema(contract) };
    // The library's calls get the same deadline per request; the whole registration (up to three
    // requests and a retry) gets a few of them, in case a registry trickles its answer.
    const deadlineMs = 4 * this.http.timeoutMs;
    const registerOnce = () =>
      withDeadline(this.registry.register(schema, { subject, compatibility: COMPATIBILITY.BACKWARD }), deadlineMs, `registering ${subject}`);
    try {
      return (await registerOnce()).id;
    } catch (err) {
      // A subject created by another client can report a different level (Apicurio says NONE):
      // our contract is BACKWARD, so set it explicitly and register again.
      if (classifyRegistryError(err) !== 'COMPATIBILITY_LEVEL') throw this.registrationError(err, subject);
      await this.setCompatibility(subject, 'BACKWARD');
      try {
        return (await registerOnce()).id;
      } catch (again) {
        throw this.registrationError(again, subject);
      }
    }
  }

  /**
   * The registration's failure from the closed list (registry-errors.ts). A 404 on registration means
   * the URL does not reach a Confluent-compatible API (a registry always has the
   * POST /subjects/{subject}/versions route): say so, with the likely fix, rather than the library's
   * "[object Object]".
   */
  private registrationError(err: unknown, subject: string): RegistryUnavailableError | RegistryRefusedError {
    return registryError(err, `registering subject ${subject}`, {
      REGISTRY_NOT_FOUND:
        `registry at ${this.config.url} answered 404 to registering subject ${subject}: SCHEMA_REGISTRY_URL must be the ` +
        `Confluent-compatible base URL (Apicurio: http://<host>:<port>/apis/ccompat/v7)`,
    });
  }

  private async setCompatibility(subject: string, compatibility: string): Promise<void> {
    const res = await this.http.call(`/config/${encodeURIComponent(subject)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility }),
    });
    if (res.status < 200 || res.status >= 300) throw registryError(res, `setting compatibility ${compatibility} on ${subject}`);
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

  /**
   * Decodes a `sms.outbound` value; throws `PoisonRecordError` (DLQ) or `RegistryUnavailableError`
   * (wait). The order is the cost: size and header first, then the writer schema's verdict (one
   * lookup per id, cached), then the bounded decode through the resolver (schema-trust.ts).
   */
  async decodeOutbound(value: Buffer | null): Promise<SmsOutbound> {
    const schemaId = this.schemaIdOf(value, this.maxRecordBytes);
    const verdict = this.schemas.known(schemaId, 'outbound') ?? (await this.schemas.verdict(schemaId, 'outbound'));
    return outboundFromDecoded(decodeUnder(verdict, schemaId, value!));
  }

  /**
   * The same decode without a promise, for a value whose writer schema was already accepted (every
   * record after the first of its schema): undefined when it was not, or when the value fails in
   * any way — `decodeOutbound` then decodes it again and classifies the failure (DLQ or wait).
   * Three async layers per record were ~1 % of the connector's CPU in their promises and hops.
   */
  decodeOutboundKnown(value: Buffer | null): SmsOutbound | undefined {
    if (value === null || value.length < 5 || value[0] !== 0 || value.length > this.maxRecordBytes) return undefined;
    const verdict = this.schemas.known(value.readInt32BE(1), 'outbound');
    if (verdict === undefined || !verdict.accepted) return undefined;
    try {
      return outboundFromDecoded(verdict.decode(value));
    } catch {
      return undefined;
    }
  }

  /**
   * Decodes any value written by an Avro schema of the registry, as written (delivery events for
   * `tail` and tests): bounded like `decodeOutbound`, without the SmsOutbound resolution.
   */
  async decodeRaw(value: Buffer | null): Promise<Record<string, unknown>> {
    const schemaId = this.schemaIdOf(value, Infinity);
    const verdict = this.schemas.known(schemaId, 'any') ?? (await this.schemas.verdict(schemaId, 'any'));
    return decodeUnder(verdict, schemaId, value!);
  }

  /** The schema id of a value in the Confluent wire format, or why it is poison. */
  private schemaIdOf(value: Buffer | null, maxBytes: number): number {
    if (value === null || value.length === 0) throw new PoisonRecordError('NULL_VALUE', 'record value is null or empty');
    // Before anything reads it: the size bounds the decoding work (avro-bounds.ts).
    if (value.length > maxBytes) {
      throw new PoisonRecordError('RECORD_TOO_LARGE', `value is ${value.length} bytes, over OUTBOUND_MAX_RECORD_BYTES (${maxBytes})`);
    }
    if (value[0] !== 0) {
      throw new PoisonRecordError('BAD_MAGIC_BYTE', `magic byte is ${value[0]}, expected 0 (Confluent wire format)`);
    }
    if (value.length < 5) throw new PoisonRecordError('AVRO_DECODE', `value is ${value.length} bytes, shorter than the 5-byte header`);
    return value.readInt32BE(1);
  }
}

function writer(id: number, contract: Contract): Writer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  // The schema we registered, parsed as the library parses it (avsc, default options): the same bytes.
  return { id, header, type: avsc.Type.forSchema(JSON.parse(readSchema(contract)) as avsc.Schema) };
}

/** A value our own schema cannot encode: a bug in the caller, never a registry problem. */
export class AvroEncodeError extends Error {
  constructor(
    contract: string,
    readonly paths: string[],
    cause: unknown,
  ) {
    super(`value does not fit the ${contract} schema${paths.length ? ` at ${paths.join(', ')}` : ''}: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
    this.name = 'AvroEncodeError';
  }
}

function invalidPaths(type: avsc.Type, value: object): string[] {
  const paths: string[] = [];
  type.isValid(value, { errorHook: (path) => paths.push(path.join('.')) });
  return paths;
}
