/**
 * Checks a decoded record against the `SmsOutbound` contract and fills the defaults of optional
 * fields. The record was decoded with its *writer's* schema, which may be an older version
 * (BACKWARD: missing fields with defaults are fine) or an unrelated schema (SCHEMA_MISMATCH: poison).
 */
import { SMS_ENCODINGS, type SmsEncoding, type SmsOutbound } from '../contracts.js';
import { PoisonRecordError } from './errors.js';

function mismatch(field: string, expected: string): never {
  throw new PoisonRecordError('SCHEMA_MISMATCH', `field '${field}' is missing or not ${expected}`);
}

function requiredString(obj: Record<string, unknown>, field: string): string {
  const v = obj[field];
  return typeof v === 'string' ? v : mismatch(field, 'a string');
}

function optionalMillis(obj: Record<string, unknown>, field: string): number | null {
  const v = obj[field];
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v instanceof Date) return v.getTime();
  return mismatch(field, 'a timestamp-millis');
}

export function outboundFromDecoded(obj: Record<string, unknown>): SmsOutbound {
  if (obj === null || typeof obj !== 'object') mismatch('(record)', 'a record');
  const encoding = obj.encoding ?? 'AUTO';
  if (!SMS_ENCODINGS.includes(encoding as SmsEncoding)) mismatch('encoding', `one of ${SMS_ENCODINGS.join(', ')}`);
  const report = obj.requestDeliveryReport ?? true;
  if (typeof report !== 'boolean') mismatch('requestDeliveryReport', 'a boolean');
  const metadata = obj.metadata ?? {};
  if (typeof metadata !== 'object' || metadata === null || Object.values(metadata).some((v) => typeof v !== 'string')) {
    mismatch('metadata', 'a map of strings');
  }
  return {
    id: requiredString(obj, 'id'),
    from: requiredString(obj, 'from'),
    to: requiredString(obj, 'to'),
    text: requiredString(obj, 'text'),
    encoding: encoding as SmsEncoding,
    requestDeliveryReport: report,
    scheduleAt: optionalMillis(obj, 'scheduleAt'),
    validUntil: optionalMillis(obj, 'validUntil'),
    metadata: { ...(metadata as Record<string, string>) },
  };
}
