/**
 * TypeScript shapes of the public Avro contracts in `schemas/*.avsc`.
 *
 * Written by hand (the schemas are small and change rarely); `test/unit/contracts.test.ts` proves
 * every field of each .avsc exists here with a compatible type and vice versa, so the two cannot drift.
 * Timestamps are epoch milliseconds (Avro `long` / `timestamp-millis`).
 */

export const SMS_ENCODINGS = ['AUTO', 'GSM7', 'UCS2'] as const;
export type SmsEncoding = (typeof SMS_ENCODINGS)[number];

export const EVENT_SOURCES = ['CONNECTOR', 'SUBMIT', 'RECEIPT', 'SUMMARY', 'UNKNOWN'] as const;
export type EventSource = (typeof EVENT_SOURCES)[number];

export const DELIVERY_STATUSES = ['SUBMITTED', 'REJECTED', 'EXPIRED', 'DELIVERED', 'UNDELIVERED', 'ENROUTE', 'ACCEPTED', 'DELETED', 'UNKNOWN'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** `SmsOutbound` — one request on `sms.outbound`. */
export interface SmsOutbound {
  id: string;
  from: string;
  to: string;
  text: string;
  encoding: SmsEncoding;
  requestDeliveryReport: boolean;
  scheduleAt: number | null;
  validUntil: number | null;
  metadata: Record<string, string>;
}

/** `SmsDeliveryEvent` — one fact about one request on `sms.delivery`. */
export interface SmsDeliveryEvent {
  eventId: string;
  id: string;
  source: EventSource;
  status: DeliveryStatus;
  segment: number;
  segments: number;
  messageId: string | null;
  errorCode: number | null;
  errorCodeRaw: string | null;
  errorCategory: string | null;
  errorDescription: string | null;
  retryable: boolean;
  attempts: number;
  from: string;
  to: string;
  submittedAt: number | null;
  doneAt: number | null;
  eventAt: number | null;
  metadata: Record<string, string>;
  /** The route that carried the request (null: none did). Added with issue 21; absent in older events, read as null. */
  route: string | null;
}

/** `SmsInbound` — a mobile-originated message on `TOPIC_INBOUND`. */
export interface SmsInbound {
  eventId: string;
  from: string;
  to: string;
  text: string;
  textRaw: Buffer;
  dataCoding: number;
  esmClass: number;
  receivedAt: number;
  sessionId: string;
}

/** Field lists in schema order; the contract test compares them with the .avsc files. */
export const SMS_OUTBOUND_FIELDS = [
  'id',
  'from',
  'to',
  'text',
  'encoding',
  'requestDeliveryReport',
  'scheduleAt',
  'validUntil',
  'metadata',
] as const satisfies readonly (keyof SmsOutbound)[];

export const SMS_DELIVERY_FIELDS = [
  'eventId',
  'id',
  'source',
  'status',
  'segment',
  'segments',
  'messageId',
  'errorCode',
  'errorCodeRaw',
  'errorCategory',
  'errorDescription',
  'retryable',
  'attempts',
  'from',
  'to',
  'submittedAt',
  'doneAt',
  'eventAt',
  'metadata',
  'route',
] as const satisfies readonly (keyof SmsDeliveryEvent)[];

export const SMS_INBOUND_FIELDS = [
  'eventId',
  'from',
  'to',
  'text',
  'textRaw',
  'dataCoding',
  'esmClass',
  'receivedAt',
  'sessionId',
] as const satisfies readonly (keyof SmsInbound)[];

// Compile-time guard: each list names every key of its interface (a missing key makes this `false`).
type Covers<T, L extends readonly (keyof T)[]> = Exclude<keyof T, L[number]> extends never ? true : false;
export const fieldListsAreComplete: [
  Covers<SmsOutbound, typeof SMS_OUTBOUND_FIELDS>,
  Covers<SmsDeliveryEvent, typeof SMS_DELIVERY_FIELDS>,
  Covers<SmsInbound, typeof SMS_INBOUND_FIELDS>,
] = [true, true, true];
