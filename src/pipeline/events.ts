/**
 * Builders for `SmsDeliveryEvent`s — pure. Every event gets a deterministic `eventId` derived from
 * the fact it states (request, source, status, segment, message id, code), so the same fact
 * published twice — a replay after a crash, a receipt the SMSC re-sent — carries the same id and
 * consumers can drop the copy.
 */
import * as crypto from 'node:crypto';
import type { DeliveryStatus, EventSource, SmsDeliveryEvent } from '../contracts.js';
import type { SubmitStatus } from '../smpp/protocol/status.js';
import type { Receipt, ReceiptState } from '../smpp/protocol/dlr.js';
import { receiptError } from '../smpp/protocol/receipt-errors.js';

/** What every event of one request repeats. */
export interface RequestFacts {
  id: string;
  from: string;
  to: string;
  segments: number;
  metadata: Record<string, string>;
  /** The route that carried it, refused it or held it until it expired; null when none was involved (validation, expired on arrival). */
  route: string | null;
}

// One-shot hashing (Node ≥ 20.12) creates no Hash object per event — three per message on the
// hot path; createHash where it is missing. Same digest either way.
const sha256Base64url: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'base64url')
    : (text) => crypto.createHash('sha256').update(text).digest('base64url');

export function eventId(...parts: (string | number | null)[]): string {
  // Joined by hand (same text as map + join): three events per message, no intermediate array.
  let text = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    text += (i === 0 ? '' : '\u0000') + (part === null ? '' : String(part));
  }
  return sha256Base64url(text).slice(0, 32);
}

function base(facts: RequestFacts, source: EventSource, status: DeliveryStatus, segment: number, now: number): SmsDeliveryEvent {
  return {
    eventId: '',
    id: facts.id,
    source,
    status,
    segment,
    segments: facts.segments,
    messageId: null,
    errorCode: null,
    errorCodeRaw: null,
    errorCategory: null,
    errorDescription: null,
    retryable: false,
    attempts: 0,
    from: facts.from,
    to: facts.to,
    submittedAt: null,
    doneAt: null,
    eventAt: now,
    metadata: facts.metadata,
    route: facts.route,
  };
}

function withId(e: SmsDeliveryEvent, ...extra: (string | number | null)[]): SmsDeliveryEvent {
  e.eventId = eventId(e.id, e.source, e.status, e.segment, e.messageId, e.errorCodeRaw, ...extra);
  return e;
}

/** The request never reached the SMSC because it broke a rule we check ourselves. */
export function validationRejected(facts: RequestFacts, reason: string, now: number): SmsDeliveryEvent {
  const e = base(facts, 'CONNECTOR', 'REJECTED', 0, now);
  e.errorCategory = 'VALIDATION';
  e.errorDescription = reason;
  return withId(e);
}

/** The request's validUntil passed before it could be sent; it never will be. */
export function expiredBeforeSend(facts: RequestFacts, validUntil: number, attempts: number, now: number): SmsDeliveryEvent {
  const e = base(facts, 'CONNECTOR', 'EXPIRED', 0, now);
  e.errorCategory = 'VALIDITY';
  e.errorDescription = `validUntil ${new Date(validUntil).toISOString()} passed before the message could be sent`;
  e.attempts = attempts;
  return withId(e);
}

export function submitted(facts: RequestFacts, segment: number, messageId: string, attempts: number, submittedAt: number, now: number): SmsDeliveryEvent {
  const e = base(facts, 'SUBMIT', 'SUBMITTED', segment, now);
  e.messageId = messageId;
  e.attempts = attempts;
  e.submittedAt = submittedAt;
  return withId(e);
}

/** A submit error the status table calls permanent, or a retryable one whose retries ran out. */
export function submitRejected(facts: RequestFacts, segment: number, status: SubmitStatus, attempts: number, now: number, note?: string): SmsDeliveryEvent {
  const e = base(facts, 'SUBMIT', 'REJECTED', segment, now);
  e.errorCode = status.code >= 0 ? status.code : null;
  e.errorCodeRaw = status.hex;
  e.errorCategory = status.category;
  e.errorDescription = note ? `${status.description} (${note})` : status.description;
  e.retryable = status.retryable;
  e.attempts = attempts;
  return withId(e);
}

const RECEIPT_STATUS: Record<ReceiptState, DeliveryStatus> = {
  DELIVERED: 'DELIVERED',
  EXPIRED: 'EXPIRED',
  DELETED: 'DELETED',
  UNDELIVERED: 'UNDELIVERED',
  ACCEPTED: 'ACCEPTED',
  UNKNOWN: 'UNKNOWN',
  REJECTED: 'REJECTED',
  ENROUTE: 'ENROUTE',
};

export interface ReceiptContext {
  segment: number;
  attempts: number;
  submittedAt: number | null;
}

export function receiptEvent(facts: RequestFacts, ctx: ReceiptContext, r: Receipt, now: number): SmsDeliveryEvent {
  const e = base(facts, 'RECEIPT', RECEIPT_STATUS[r.state], ctx.segment, now);
  e.messageId = r.messageId;
  e.attempts = ctx.attempts;
  e.submittedAt = ctx.submittedAt;
  e.doneAt = r.doneDate;
  const err = receiptError(r.errRaw);
  if (err.kind !== 'none') {
    e.errorCodeRaw = err.raw;
    e.errorCode = err.code;
    e.errorCategory = err.kind === 'known' ? err.category : null;
    e.errorDescription = err.kind === 'known' ? err.description : `Unknown delivery error ${err.raw}`;
  } else if (r.errRaw !== null) {
    e.errorCodeRaw = r.errRaw;
  }
  // The done date tells two receipts of the same state apart (e.g. two ENROUTE notifications).
  return withId(e, r.doneDate);
}

/** Final state of one segment, as the summary needs it. */
export interface SegmentOutcome {
  status: DeliveryStatus;
  /** For failures: the category to report in the summary. */
  errorCategory: string | null;
}

const FAILED: ReadonlySet<DeliveryStatus> = new Set(['UNDELIVERED', 'EXPIRED', 'DELETED', 'REJECTED', 'UNKNOWN']);

/**
 * SUMMARY once every segment is final: DELIVERED if all were, UNDELIVERED if any failed (the
 * description says how many were delivered), or the request-level status for requests that never
 * reached the SMSC (REJECTED / EXPIRED), SUBMITTED when no receipt was requested, UNKNOWN when
 * receipts did not come in time.
 */
export function summary(
  facts: RequestFacts,
  outcomes: readonly SegmentOutcome[],
  attempts: number,
  now: number,
  override?: { status: DeliveryStatus; description: string; category?: string | null },
): SmsDeliveryEvent {
  const e = base(facts, 'SUMMARY', 'UNKNOWN', 0, now);
  e.attempts = attempts;
  if (override) {
    e.status = override.status;
    e.errorDescription = override.description;
    e.errorCategory = override.category ?? null;
    return withId(e);
  }
  const delivered = outcomes.filter((o) => o.status === 'DELIVERED').length;
  const failed = outcomes.filter((o) => FAILED.has(o.status));
  if (delivered === outcomes.length) {
    e.status = 'DELIVERED';
  } else if (failed.length > 0) {
    e.status = 'UNDELIVERED';
    e.errorCategory = failed[0]!.errorCategory;
    e.errorDescription = `${delivered} of ${outcomes.length} segments delivered`;
  } else {
    e.status = 'UNKNOWN';
    e.errorDescription = `${delivered} of ${outcomes.length} segments delivered; the rest did not report a final state`;
  }
  return withId(e);
}
