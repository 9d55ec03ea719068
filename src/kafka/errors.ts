/**
 * The codec's closed error list. A consumer reads the class, never the message:
 * `PoisonRecordError` → the record can never be decoded (DLQ it and move on);
 * `RegistryUnavailableError` → the registry did not answer (pause and retry the same record).
 */

/** Codes used as the DLQ header `__connect.errors.exception.class.name`. */
export const POISON_CODES = [
  'NULL_VALUE',
  'BAD_MAGIC_BYTE',
  'UNKNOWN_SCHEMA_ID',
  'AVRO_DECODE',
  'SCHEMA_MISMATCH',
] as const;
export type PoisonCode = (typeof POISON_CODES)[number];

export class PoisonRecordError extends Error {
  readonly retriable = false;
  constructor(
    readonly code: PoisonCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PoisonRecordError';
  }
}

export class RegistryUnavailableError extends Error {
  readonly retriable = true;
  readonly code = 'REGISTRY_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RegistryUnavailableError';
  }
}
