/**
 * The codec's closed error list. A consumer reads the class, never the message:
 * `PoisonRecordError` → the record can never be decoded (DLQ it and move on);
 * `RegistryUnavailableError` → the registry did not answer (pause and retry the same record).
 * Both extend the pipeline's decode port (pipeline/decode-errors.ts), which is all the pipeline sees.
 */
import { DecoderUnavailableError, UndecodableRecordError } from '../pipeline/decode-errors.js';

/**
 * Codes used as the DLQ header `__connect.errors.exception.class.name` (and by `redrive --filter`
 * and the `reason` label of the DLQ metrics). The README's DLQ table says what each one means.
 */
export const POISON_CODES = [
  'NULL_VALUE',
  'BAD_MAGIC_BYTE',
  'UNKNOWN_SCHEMA_ID',
  'AVRO_DECODE',
  'SCHEMA_MISMATCH',
  /** The value is larger than OUTBOUND_MAX_RECORD_BYTES: refused before any decoding. */
  'RECORD_TOO_LARGE',
  /** The schema id names a JSON Schema or Protobuf schema (never parsed), not an Avro one. */
  'FOREIGN_SCHEMA_TYPE',
  /** SCHEMA_SUBJECT_STRICT: the schema id is not registered under `<outbound topic>-value`. */
  'FOREIGN_SUBJECT',
  /** The writer schema has an array whose items encode in zero bytes: its decoding has no bound. */
  'UNBOUNDED_SCHEMA',
] as const;
export type PoisonCode = (typeof POISON_CODES)[number];

export class PoisonRecordError extends UndecodableRecordError {
  declare readonly code: PoisonCode;
  constructor(code: PoisonCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'PoisonRecordError';
  }
}

export class RegistryUnavailableError extends DecoderUnavailableError {
  declare readonly code: 'REGISTRY_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super('REGISTRY_UNAVAILABLE', message, options);
    this.name = 'RegistryUnavailableError';
  }
}

/**
 * Answers of the schema registry that waiting will not change (registry-errors.ts sorts them from the
 * HTTP status or the registry library's error class). A start-up that meets one needs a person.
 */
export const REGISTRY_REFUSAL_CODES = [
  /** 404: the URL does not reach a Confluent-compatible API (or the subject/id is not there). */
  'REGISTRY_NOT_FOUND',
  /** 401 / 403: the credentials or the client certificate are not accepted. */
  'REGISTRY_UNAUTHORIZED',
  /** 409: our schema is not compatible with the versions already under the subject. */
  'SCHEMA_INCOMPATIBLE',
  /** 422, or the library refused the schema before sending it: the schema itself is wrong. */
  'SCHEMA_INVALID',
  /** The subject's compatibility level is not BACKWARD (the codec sets it and registers again). */
  'COMPATIBILITY_LEVEL',
] as const;
export type RegistryRefusalCode = (typeof REGISTRY_REFUSAL_CODES)[number];

export class RegistryRefusedError extends Error {
  readonly retriable = false;
  constructor(
    readonly code: RegistryRefusalCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RegistryRefusedError';
  }
}
