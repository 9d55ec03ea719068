/**
 * A request as an upstream service writes it, and the connector's own verdict on it before it is
 * sent — pure, no I/O.
 *
 * The verdict is not a second set of rules: it is the connector's own `judgeRequest`
 * (`pipeline/request-verdict.ts`): the field bounds (`pipeline/request-bounds.ts`), then
 * "validity already passed", then the plan (`sms/plan.ts`: sender, destination, text, encoding,
 * segments, schedule). The category and description come from the same event builders the
 * connector uses, so a rejection here reads exactly like the REJECTED/EXPIRED event the connector
 * would have published for the request.
 */
import type { SmsEncoding, SmsOutbound } from '../contracts.js';
import { expiredBeforeSend, validationRejected, type RequestFacts } from '../pipeline/events.js';
import { DEFAULT_REQUEST_BOUNDS, type RequestBounds } from '../pipeline/request-bounds.js';
import { judgeRequest } from '../pipeline/request-verdict.js';
import { DEFAULT_MAX_SEGMENTS, type PlanErrorCategory } from '../sms/plan.js';

/**
 * One SMS request for `sms.outbound`. The four required fields are the schema's fields without a
 * default; every optional one takes the schema's default (`toSmsOutbound`).
 */
export interface OutboundRequest {
  /** Your request id: the connector's idempotency key, echoed on every delivery event. */
  id: string;
  /** Sender ID: numeric (≤ 16 digits, optional `+`) or alphanumeric (≤ 11 characters). */
  from: string;
  /** Destination in international format; `+`, `00`, spaces, `-`, `.` and parentheses are tolerated. */
  to: string;
  /** Any Unicode text; the connector encodes and splits it. */
  text: string;
  /** Default `AUTO`: GSM-7 when every character fits, else UCS-2. */
  encoding?: SmsEncoding;
  /** Default true: ask the SMSC for a delivery receipt. */
  requestDeliveryReport?: boolean;
  /** Epoch ms; default null (send now). */
  scheduleAt?: number | null;
  /** Epoch ms; default null (the SMSC's default validity). A request past it is never sent. */
  validUntil?: number | null;
  /** Default {}: echoed on every delivery event (tenant, campaign, trace id …). */
  metadata?: Record<string, string>;
}

/** The request with the schema's defaults filled in: the exact record that is encoded. */
export function toSmsOutbound(r: OutboundRequest): SmsOutbound {
  return {
    id: r.id,
    from: r.from,
    to: r.to,
    text: r.text,
    encoding: r.encoding ?? 'AUTO',
    requestDeliveryReport: r.requestDeliveryReport ?? true,
    scheduleAt: r.scheduleAt ?? null,
    validUntil: r.validUntil ?? null,
    metadata: { ...(r.metadata ?? {}) },
  };
}

/** Which connector settings the verdict follows; set them as the connector you send to runs. */
export interface CheckOptions {
  /** The connector's SMS_MAX_SEGMENTS. Default 10 (the connector's default). */
  maxSegments?: number;
  /** The connector's REQUEST_MAX_* bounds. Default the connector's defaults. */
  bounds?: RequestBounds;
  /** Clock for "validUntil already passed" and "scheduleAt in the past"; default `Date.now()`. */
  now?: number;
}

/** The connector's default SMS_MAX_SEGMENTS. */
export { DEFAULT_MAX_SEGMENTS };

/** Why the connector would not send a request, as its delivery events would say it. */
export interface RequestRejection {
  /** The request's id. */
  id: string;
  /** The final status the connector would publish: REJECTED, or EXPIRED when validUntil has passed. */
  status: 'REJECTED' | 'EXPIRED';
  /** The event's `errorCategory`: VALIDATION, or VALIDITY for a passed validUntil. */
  category: string;
  /** The field at fault (`from`, `to`, `text`, `encoding`, `scheduleAt`, `validUntil`, `id`, `metadata`). */
  field: string;
  /** What is wrong with it in the plan's words (SENDER, DESTINATION, MESSAGE …); null for a size bound or expiry. */
  problem: PlanErrorCategory | null;
  /** The event's `errorDescription`, word for word. Never repeats a phone number. */
  description: string;
}

export type RequestCheck =
  | { readonly ok: true; readonly request: SmsOutbound; readonly segments: number; readonly encoding: 'GSM7' | 'UCS2' }
  | { readonly ok: false; readonly request: SmsOutbound; readonly rejection: RequestRejection };

/** The connector's verdict on `input`, without sending it. */
export function checkRequest(input: OutboundRequest, opts: CheckOptions = {}): RequestCheck {
  const request = toSmsOutbound(input);
  const now = opts.now ?? Date.now();
  const facts: RequestFacts = { id: request.id, from: request.from, to: request.to, segments: 0, metadata: request.metadata, route: null };
  const reject = (
    field: string,
    problem: PlanErrorCategory | null,
    event: { status: string; errorCategory: string | null; errorDescription: string | null },
  ): RequestCheck => ({
    ok: false,
    request,
    rejection: {
      id: request.id,
      status: event.status as RequestRejection['status'],
      category: event.errorCategory ?? '',
      field,
      problem,
      description: event.errorDescription ?? '',
    },
  });

  // The UDH reference does not change the verdict; 0 stands in for the connector's hash of the id.
  const verdict = judgeRequest(request, {
    bounds: opts.bounds ?? DEFAULT_REQUEST_BOUNDS,
    maxSegments: opts.maxSegments ?? DEFAULT_MAX_SEGMENTS,
    referenceNumber: 0,
    now,
  });
  switch (verdict.kind) {
    case 'oversized':
      return reject(verdict.field, null, validationRejected(facts, `${verdict.field}: ${verdict.reason}`, now));
    case 'expired':
      return reject('validUntil', null, expiredBeforeSend(facts, verdict.validUntil, 0, now));
    case 'invalid':
      return reject(verdict.field, verdict.category, validationRejected(facts, `${verdict.field}: ${verdict.reason}`, now));
    case 'planned':
      return { ok: true, request, segments: verdict.plan.segments.length, encoding: verdict.plan.encoding };
  }
}

/**
 * Thrown by the producer when a request would be rejected by the connector; nothing of the batch
 * was sent. `rejections` lists every rejected request of the batch, not only the first.
 */
export class RequestRejectedError extends Error {
  readonly code = 'REQUEST_REJECTED';
  /** Sending the same request again gives the same verdict. */
  readonly retriable = false;

  constructor(readonly rejections: readonly RequestRejection[]) {
    const first = rejections[0];
    const more = rejections.length > 1 ? ` (and ${rejections.length - 1} more request(s) rejected)` : '';
    super(first ? `request ${shortId(first.id)} would be ${first.status} (${first.category}): ${first.description}${more}` : 'request rejected');
    this.name = 'RequestRejectedError';
  }
}

/** An id in a message: an id over its bound may be kilobytes long. */
function shortId(id: string): string {
  return id.length > 80 ? `${id.slice(0, 79)}…` : id;
}
