/**
 * JSON logs (pino) with secrets redacted and phone numbers masked.
 *
 * Redaction is by path (pino's `redact`) for the fields that can hold secrets, and masking of the
 * address fields is done by a formatter so a caller cannot forget it: any log field named like an
 * address (`to`, `from`, `destination`, `msisdn`, `source_addr`, `destination_addr`) is masked.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { maskMsisdn } from './mask.js';

export type { Logger } from 'pino';

const ADDRESS_KEYS = new Set(['to', 'from', 'msisdn', 'destination', 'source_addr', 'destination_addr']);
const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'config.smpp.password',
  'config.kafka.sasl.password',
  'config.registry.auth.password',
  'pdu.password',
];

function maskAddresses(obj: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (ADDRESS_KEYS.has(key) && typeof value === 'string') {
      out ??= { ...obj };
      out[key] = maskMsisdn(value);
    }
  }
  return out ?? obj;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'sms-connector' },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      formatters: { log: maskAddresses },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
