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
