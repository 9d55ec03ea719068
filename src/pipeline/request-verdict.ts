/**
 * The connector's verdict on a decoded request before anything is sent — one function, so the
 * connector (`OutboundProcessor`) and the client library that upstream services use
 * (`src/client/request.ts`) cannot drift apart. The order is part of the contract: the field
 * bounds first (nothing of an oversized field is parsed), then "validity already passed", then the
 * plan (sender, destination, text, encoding, segments, schedule).
 */
import type { SmsOutbound } from '../contracts.js';
import { planMessage, type MessagePlan, type PlanErrorCategory } from '../sms/plan.js';
import { checkRequestBounds, type RequestBounds } from './request-bounds.js';

export type RequestVerdict =
  | { readonly kind: 'oversized'; readonly field: string; readonly reason: string }
  | { readonly kind: 'expired'; readonly validUntil: number }
  | { readonly kind: 'invalid'; readonly field: string; readonly reason: string; readonly category: PlanErrorCategory }
  | { readonly kind: 'planned'; readonly plan: MessagePlan };

export interface VerdictOptions {
  bounds: RequestBounds;
  maxSegments: number;
  /** The UDH reference of a multipart message; it never changes the verdict. */
  referenceNumber: number;
  now: number;
}

export function judgeRequest(request: SmsOutbound, opts: VerdictOptions): RequestVerdict {
  const bounded = checkRequestBounds(request, opts.bounds);
  if (!bounded.ok) return { kind: 'oversized', field: bounded.field, reason: bounded.reason };
  if (request.validUntil !== null && request.validUntil <= opts.now) return { kind: 'expired', validUntil: request.validUntil };
  const planned = planMessage(request, { maxSegments: opts.maxSegments, referenceNumber: opts.referenceNumber, now: opts.now });
  if (!planned.ok) return { kind: 'invalid', field: planned.field, reason: planned.reason, category: planned.category };
  return { kind: 'planned', plan: planned.plan };
}
