/**
 * Which writer schemas the connector decodes with. A record's schema id may name any schema of
 * any type under any subject: the registry's answer is judged before anything is parsed.
 *
 * - not a schema at all (`{}`, an error body without a `schema` string) → the registry
 *   misbehaves: RegistryUnavailableError, pause and retry — never poison;
 * - `schemaType` JSON or PROTOBUF → FOREIGN_SCHEMA_TYPE, decided on that field alone: the schema
 *   text (an attacker's regular expressions, a .proto) is never parsed;
 * - Avro text that avsc cannot read, or with references → SCHEMA_MISMATCH (the registry did answer
 *   with a schema: its text is what a producer registered, so waiting would not change it);
 * - an array of zero-byte items → UNBOUNDED_SCHEMA (its decoding has no bound: avro-bounds.ts);
 * - for `sms.outbound`: the writer must resolve against the SmsOutbound reader schema by Avro
 *   schema resolution (`createResolver`), else SCHEMA_MISMATCH with avsc's reason. An evolved
 *   writer (fields added or dropped with defaults) decodes through the resolver.
 */
import avsc, { type Type } from 'avsc';
import { bodyCheck, unboundedArrays, type BodyCheck } from './avro-bounds.js';
import { PoisonRecordError, RegistryUnavailableError } from './errors.js';

/** A schema as the registry returned it (`GET /schemas/ids/{id}`). */
export interface RegisteredSchema {
  /** AVRO when the registry left it out (Confluent does for Avro). */
  schemaType: string;
  schema: string;
  references: unknown[];
}

/** Decodes a whole record value (5-byte header + Avro body) to a plain object; throws poison. */
export type BodyDecoder = (value: Buffer) => Record<string, unknown>;

export type Verdict = { accepted: true; decode: BodyDecoder } | { accepted: false; refusal: PoisonRecordError };

/** Reads the registry's answer as a schema, or throws RegistryUnavailableError: it is not one. */
export function registeredSchema(id: number, json: unknown): RegisteredSchema {
  const body = json as { schema?: unknown; schemaType?: unknown; references?: unknown } | null;
  const shaped =
    typeof body === 'object' &&
    body !== null &&
    !Array.isArray(body) &&
    typeof body.schema === 'string' &&
    (body.schemaType === undefined || body.schemaType === null || typeof body.schemaType === 'string') &&
    (body.references === undefined || body.references === null || Array.isArray(body.references));
  if (!shaped) throw new RegistryUnavailableError(`schema registry's answer for schema id ${id} is not a schema: ${JSON.stringify(json)?.slice(0, 80)}`);
  return {
    schemaType: typeof body.schemaType === 'string' && body.schemaType !== '' ? body.schemaType.toUpperCase() : 'AVRO',
    schema: body.schema as string,
    references: (body.references as unknown[] | null | undefined) ?? [],
  };
}

const refuse = (code: PoisonRecordError['code'], message: string): never => {
  throw new PoisonRecordError(code, message);
};

/**
 * Runs a judgement: a thrown PoisonRecordError is the refusal (cached like an acceptance). Any other
 * error comes from the schema text itself (the same text fails the same way every time): a refusal too.
 */
function verdictOf(id: number, judge: () => BodyDecoder): Verdict {
  try {
    return { accepted: true, decode: judge() };
  } catch (err) {
    if (err instanceof RegistryUnavailableError) throw err;
    if (err instanceof PoisonRecordError) return { accepted: false, refusal: err };
    return { accepted: false, refusal: new PoisonRecordError('SCHEMA_MISMATCH', `schema id ${id}: ${(err as Error)?.message ?? String(err)}`, { cause: err }) };
  }
}

/** The Avro writer type of `registered`, or a refusal (any schema type, any subject). */
function writerType(id: number, registered: RegisteredSchema): Type {
  if (registered.schemaType !== 'AVRO') {
    refuse('FOREIGN_SCHEMA_TYPE', `schema id ${id} is a ${registered.schemaType} schema, not Avro (not parsed)`);
  }
  if (registered.references.length > 0) {
    refuse('SCHEMA_MISMATCH', `schema id ${id} uses schema references, which the connector does not resolve`);
  }
  let json: unknown;
  try {
    // A bare type name (`string`, `com.acme.Sms`) is a schema too, as some registries store primitives.
    json = /^[A-Za-z_][A-Za-z0-9_.]*$/.test(registered.schema) ? registered.schema : JSON.parse(registered.schema);
  } catch (err) {
    // A registry validates what it stores: text that is not even JSON was garbled on the way (a
    // proxy, a truncated answer) — an outage to wait out, never a verdict cached against the id.
    throw new RegistryUnavailableError(`schema registry answered schema id ${id} with text that is not JSON (${(err as Error).message})`, { cause: err });
  }
  let type: Type;
  try {
    type = avsc.Type.forSchema(json as avsc.Schema);
  } catch (err) {
    return refuse('SCHEMA_MISMATCH', `schema id ${id} is not a valid Avro schema: ${(err as Error).message}`);
  }
  const unbounded = unboundedArrays(type);
  if (unbounded.length > 0) {
    refuse('UNBOUNDED_SCHEMA', `schema id ${id} has an ${unbounded[0]} (items of zero bytes: a few bytes could hold millions of them)`);
  }
  return type;
}

/** Any Avro schema, decoded as written (delivery events for `tail` and tests): bounded, no resolution. */
export function judgeAny(id: number, registered: RegisteredSchema): Verdict {
  return verdictOf(id, () => {
    const writer = writerType(id, registered);
    return boundedDecoder(id, writer, writer, undefined);
  });
}

/** An `sms.outbound` writer schema: accepted only if it resolves against SmsOutbound (`readerSchema`). */
export function judgeOutbound(id: number, registered: RegisteredSchema, readerSchema: string): Verdict {
  return verdictOf(id, () => {
    const writer = writerType(id, registered);
    const reader = readerFor(writer, readerSchema);
    let resolver: avsc.Resolver;
    try {
      resolver = reader.createResolver(writer);
    } catch (err) {
      return refuse('SCHEMA_MISMATCH', `schema id ${id} does not resolve against SmsOutbound: ${(err as Error).message}`);
    }
    // Our own schema needs no resolution: avsc's plain read is the cheaper one.
    return boundedDecoder(id, writer, reader, writer.equals(reader) ? undefined : resolver);
  });
}

/**
 * The reader type for `writer`. The Avro specification matches records by their unqualified name;
 * avsc by the full one. A producer's own namespace (`com.acme.SmsOutbound`) is common, so the
 * reader takes the writer's namespace when the names agree.
 */
function readerFor(writer: Type, readerSchema: string): Type {
  const schema = JSON.parse(readerSchema) as { name: string; namespace?: string };
  const full = writer.name ?? '';
  const dot = full.lastIndexOf('.');
  if (full.slice(dot + 1) === schema.name && full !== `${schema.namespace}.${schema.name}`) {
    schema.namespace = dot > 0 ? full.slice(0, dot) : '';
  }
  return avsc.Type.forSchema(schema as avsc.Schema);
}

/** The bounded walk first (see avro-bounds.ts), then avsc on the same bytes. */
function boundedDecoder(id: number, writer: Type, reader: Type, resolver: avsc.Resolver | undefined): BodyDecoder {
  let check: BodyCheck;
  try {
    check = bodyCheck(writer);
  } catch (err) {
    return refuse('SCHEMA_MISMATCH', `schema id ${id}: ${(err as Error).message}`);
  }
  return (value) => {
    check(value, 5);
    return reader.fromBuffer(value.subarray(5), resolver) as Record<string, unknown>;
  };
}

/** Decodes `value` under `verdict`, or throws its refusal; any failure to decode is AVRO_DECODE poison. */
export function decodeUnder(verdict: Verdict, schemaId: number, value: Buffer): Record<string, unknown> {
  if (!verdict.accepted) throw new PoisonRecordError(verdict.refusal.code, verdict.refusal.message);
  try {
    return verdict.decode(value);
  } catch (err) {
    throw new PoisonRecordError('AVRO_DECODE', `Avro body does not decode with schema id ${schemaId}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Verdicts by schema id: a known id costs nothing. Bounded (oldest first out) because ids come
 * from the records: an attacker cycling through registered ids must not grow it for ever.
 */
export class VerdictCache {
  private readonly byId = new Map<number, Verdict>();

  constructor(private readonly max = 1024) {}

  get(id: number): Verdict | undefined {
    return this.byId.get(id);
  }

  set(id: number, verdict: Verdict): void {
    if (!this.byId.has(id) && this.byId.size >= this.max) this.byId.delete(this.byId.keys().next().value!);
    this.byId.set(id, verdict);
  }
}
