/**
 * What a failed registry call means, read from the error's class and the HTTP status — never from
 * its message. Two sources fail: our own calls (registry-http.ts hands back the status) and the
 * registry library's (@kafkajs/confluent-schema-registry), which throws
 * - `ConfluentSchemaRegistryCompatibilityError` when the subject's level differs from the one asked for,
 * - `ConfluentSchemaRegistryArgumentError` / `…InvalidSchemaError` for a schema it will not send,
 * - its HTTP layer's `ResponseError` (a numeric `status`) for any answer that is not 2xx. That layer
 *   (mappersmith) also reports a refused connection or a timeout as a status 400 with no answer behind it,
 *   so 400 counts as unavailable: our requests are well-formed, a real 400 would be our bug anyway.
 */
import {
  ConfluentSchemaRegistryArgumentError,
  ConfluentSchemaRegistryCompatibilityError,
  ConfluentSchemaRegistryInvalidSchemaError,
} from '@kafkajs/confluent-schema-registry/dist/errors.js';
import { RegistryRefusedError, RegistryUnavailableError, type RegistryRefusalCode } from './errors.js';

export type RegistryFailureCode = RegistryRefusalCode | 'REGISTRY_UNAVAILABLE';

/** The failure an HTTP status stands for; anything not listed (400, 408, 429, 5xx…) is worth waiting out. */
export function failureOfStatus(status: number): RegistryFailureCode {
  switch (status) {
    case 401:
    case 403:
      return 'REGISTRY_UNAUTHORIZED';
    case 404:
      return 'REGISTRY_NOT_FOUND';
    case 409:
      return 'SCHEMA_INCOMPATIBLE';
    case 422:
      return 'SCHEMA_INVALID';
    default:
      return 'REGISTRY_UNAVAILABLE';
  }
}

/** The failure behind an error thrown by a registry call (ours or the library's). */
export function classifyRegistryError(err: unknown): RegistryFailureCode {
  if (err instanceof RegistryUnavailableError) return 'REGISTRY_UNAVAILABLE';
  if (err instanceof RegistryRefusedError) return err.code;
  if (err instanceof ConfluentSchemaRegistryCompatibilityError) return 'COMPATIBILITY_LEVEL';
  if (err instanceof ConfluentSchemaRegistryInvalidSchemaError || err instanceof ConfluentSchemaRegistryArgumentError) return 'SCHEMA_INVALID';
  const status = httpStatusOf(err);
  return status === undefined ? 'REGISTRY_UNAVAILABLE' : failureOfStatus(status);
}

/**
 * The error of our closed list for a failed registry call, its cause kept. `detail` replaces the
 * generic message when the caller knows better (a 404 on registration means a wrong URL).
 */
export function registryError(
  err: unknown,
  what: string,
  detail?: Partial<Record<RegistryFailureCode, string>>,
): RegistryUnavailableError | RegistryRefusedError {
  const code = classifyRegistryError(err);
  if (code === 'REGISTRY_UNAVAILABLE') {
    if (err instanceof RegistryUnavailableError) return err;
    return new RegistryUnavailableError(detail?.[code] ?? `schema registry unavailable (${what}): ${describe(err)}`, { cause: err });
  }
  if (err instanceof RegistryRefusedError && detail?.[code] === undefined) return err;
  return new RegistryRefusedError(code, detail?.[code] ?? `schema registry refused ${what} (${code}): ${describe(err)}`, { cause: err });
}

/** The status of the library's ResponseError (not exported by the library: read by shape). */
function httpStatusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  const status = httpStatusOf(err);
  return status === undefined ? String(err) : `HTTP ${status}`;
}
