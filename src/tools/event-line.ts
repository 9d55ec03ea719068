/**
 * One `SmsDeliveryEvent` as one line for people (`tail`) or as one JSON line (`tail --json`).
 * Phone numbers are masked unless asked otherwise: a terminal scroll-back is a log too.
 */
import type { SmsDeliveryEvent } from '../contracts.js';
import { maskMsisdn } from '../obs/mask.js';
import { printable, printableJson } from '../obs/printable.js';

export interface LineOptions {
  showNumbers: boolean;
}

function address(value: string, opts: LineOptions): string {
  return opts.showNumbers ? value : maskMsisdn(value);
}

function isoTime(ms: number | null): string {
  return ms === null ? '-'.padEnd(24) : new Date(ms).toISOString();
}

/**
 * `2025-06-01T10:00:00.000Z  req-1  RECEIPT/UNDELIVERED  1/2  AGILE-…  ACME → 39*******67  HLR ERROR 201: Absent subscriber`
 */
export function eventLine(e: SmsDeliveryEvent, opts: LineOptions, recordTimestamp?: number): string {
  const parts = [
    isoTime(e.eventAt ?? recordTimestamp ?? null),
    e.id,
    `${e.source}/${e.status}`,
    `${e.segment}/${e.segments}`,
    e.messageId ?? '-',
    `${address(e.from, opts)} → ${address(e.to, opts)}`,
  ];
  const error = errorText(e);
  if (error) parts.push(error);
  if (e.attempts > 1) parts.push(`attempts=${e.attempts}`);
  return printable(parts.join('  '));
}

function errorText(e: SmsDeliveryEvent): string {
  const head = [e.errorCategory, e.errorCodeRaw].filter((x): x is string => x !== null && x !== '').join(' ');
  if (!head && !e.errorDescription) return '';
  const retry = e.retryable ? ' (retryable)' : '';
  return head && e.errorDescription ? `${head}: ${e.errorDescription}${retry}` : `${head || e.errorDescription}${retry}`;
}

/** The event as JSON (numbers masked unless `showNumbers`), one line, control characters escaped. */
export function eventJson(e: SmsDeliveryEvent, opts: LineOptions): string {
  return printableJson({ ...e, from: address(e.from, opts), to: address(e.to, opts) });
}
