/**
 * JSON logs (pino) with secrets redacted and phone numbers masked.
 *
 * Redaction is by path (pino's `redact`) for the fields that can hold secrets, and masking of the
 * address fields is done by a formatter so a caller cannot forget it: any log field named like an
 * address (`to`, `from`, `destination`, `msisdn`, `source_addr`, `destination_addr`) is masked, at
 * any depth of the logged object.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { maskMsisdn } from './mask.js';

export type { Logger } from 'pino';

const ADDRESS_KEYS = new Set(['to', 'from', 'msisdn', 'destination', 'source_addr', 'destination_addr', 'sourceAddr', 'destinationAddr']);
/** Keys whose string value is a secret wherever they sit (pino's `redact` paths cover fixed depths only). */
const SECRET_KEYS = new Set(['password', 'passwd', 'authorization']);
const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'config.smpp.password',
  'config.kafka.sasl.password',
  'config.registry.auth.password',
  'pdu.password',
];

/** Nested objects are masked this deep; log fields deeper than that are not ours to carry. */
const MAX_MASK_DEPTH = 8;

/**
 * Masks every address-named key and redacts every secret-named key at any depth (`{ request: { to } }`,
 * `[{ from }]`, `{ a: { b: { c: { password } } } }`), copying only the
 * objects it changes. Only plain objects and arrays are walked: an Error or a Buffer goes to pino's
 * serializers as it is.
 */
function scrubLogFields<T>(value: T, depth = 0): T {
  if (depth > MAX_MASK_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    value.forEach((item: unknown, i) => {
      const masked = scrubLogFields(item, depth + 1);
      if (masked !== item) (out ??= [...value])[i] = masked;
    });
    return (out ?? value) as T;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  const obj = value as Record<string, unknown>;
  let out: Record<string, unknown> | null = null;
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    const masked = scrubField(key, v, depth);
    if (masked !== v) (out ??= { ...obj })[key] = masked;
  }
  return (out ?? value) as T;
}

function scrubField(key: string, value: unknown, depth: number): unknown {
  if (typeof value !== 'string') return scrubLogFields(value, depth + 1);
  if (SECRET_KEYS.has(key)) return '[REDACTED]';
  return ADDRESS_KEYS.has(key) ? maskMsisdn(value) : value;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'sms-connector' },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      formatters: { log: (obj) => scrubLogFields(obj) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
