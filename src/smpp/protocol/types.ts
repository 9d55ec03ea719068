/**
 * Public types of the SMPP adapter (session and pool). No `smpp` import here: the rest of the
 * code base talks to SMPP through these shapes only.
 */
import type { Logger } from 'pino';
import type { PacingOptions } from './pacing.js';

export type BindMode = 'tx' | 'rx' | 'trx';

/** Lifecycle of one bind. `not-ready` = long backoff after a configuration error (credentials, 0x05). */
export type SessionState = 'idle' | 'connecting' | 'binding' | 'bound' | 'backoff' | 'not-ready' | 'closing' | 'closed';

/** Options of one SMPP session (one bind). Durations in ms. */
export interface SessionOptions {
  host: string;
  port: number;
  /** Connect over TLS (default false here; the connector's config defaults to true). */
  tls?: boolean;
  /** PEM CA bundle to trust (contents, not a path). */
  ca?: Buffer | string;
  /** TLS SNI / certificate host name (default: host). */
  tlsServername?: string;
  /** Certificate verification (default true — never switch it off silently). */
  tlsRejectUnauthorized?: boolean;
  systemId: string;
  password: string;
  mode: BindMode;
  /** Max unanswered submit_sm (default 10). */
  window?: number;
  /** Provider limit, submit_sm per second per session (default 100). */
  rateLimit?: number;
  /** Safety margin below rateLimit (default 0.02). */
  rateMargin?: number;
  /** Fine-tuning of the pacer (smoothing, slow-down and recovery); rate and margin come from above. */
  pacing?: Omit<PacingOptions, 'rate' | 'margin'>;
  /** enquire_link period, sent even under traffic (default 30000, at most 30000). */
  enquireLinkMs?: number;
  /** Deadline for enquire_link_resp (default min(responseTimeoutMs, enquireLinkMs)). */
  enquireLinkTimeoutMs?: number;
  /** Deadline for submit_sm_resp (default 10000). */
  responseTimeoutMs?: number;
  /** TCP (+TLS) connect deadline (default 10000). */
  connectTimeoutMs?: number;
  /** bind_*_resp deadline (default 10000). */
  bindTimeoutMs?: number;
  /** Reconnect backoff bounds (default 500 / 30000). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Backoff after a bind refused for credentials (0x0D/0x0E/0x0F), a malformed bind 0x02 or bind limit 0x05 (default 60000). */
  credentialBackoffMs?: number;
  /** A bound connection that lasted this long resets the reconnect backoff (default 10000). */
  stableAfterMs?: number;
  /** unbind_resp deadline on close() (default 2000). */
  unbindTimeoutMs?: number;
  /**
   * Unanswered deliver_sm per connection before the session stops reading the socket (default
   * 1000; reading resumes when half are answered). Back-pressure on an SMSC that sends faster
   * than receipts are published; see inbound.ts.
   */
  maxUnansweredDeliverSm?: number;
  logger?: Logger;
  /** Label for logs and metrics, e.g. `trx-0`. */
  sessionId?: string;
  /** Clock (default Date.now); tests may inject. */
  now?: () => number;
}

/** The source and destination of a submit_sm or deliver_sm, with their TON/NPI. */
export interface SmppAddressPair {
  sourceAddr: string;
  sourceAddrTon: number;
  sourceAddrNpi: number;
  destinationAddr: string;
  destAddrTon: number;
  destAddrNpi: number;
}

/** One submit_sm. short_message is already encoded (GSM 03.38 unpacked or UCS-2) — never a string. */
export interface SubmitParams extends SmppAddressPair {
  /** 0 (GSM 03.38) or 8 (UCS-2); explicit because node-smpp's auto-detection sends wrong values. */
  dataCoding: number;
  /** 0x40 when shortMessage starts with a UDH. */
  esmClass: number;
  registeredDelivery: number;
  shortMessage: Buffer;
  /** SMPP absolute/relative time `YYMMDDhhmmsstnnp`, or '' (default). */
  scheduleDeliveryTime?: string;
  validityPeriod?: string;
  serviceType?: string;
  protocolId?: number;
  priorityFlag?: number;
}

/**
 * Outcome of submit().
 * - `response`: the SMSC answered (commandStatus 0 = accepted; generic_nack also lands here with
 *   `command: 'generic_nack'`).
 * - `ambiguous`: the PDU went on the wire but no answer came (timeout, connection lost) — the
 *   SMSC MAY have accepted it; a retry can duplicate.
 * - `not-sent`: definitely never written to the socket — safe to retry.
 */
export type SubmitResult =
  | { kind: 'response'; command: 'submit_sm_resp' | 'generic_nack'; commandStatus: number; messageId?: string; roundTripMs: number; sessionId: string }
  | { kind: 'ambiguous'; reason: AmbiguousReason; sessionId: string; elapsedMs: number }
  | { kind: 'not-sent'; reason: NotSentReason; sessionId: string; detail?: string };

export type AmbiguousReason = 'timeout' | 'connection-lost' | 'closing';
export type NotSentReason = 'not-bound' | 'not-submit-capable' | 'closing' | 'encode-error' | 'connection-lost' | 'socket-not-writable' | 'account-paused';

/** A deliver_sm as handed to the receipt handler: raw bytes, TLVs, no library decoding. */
export interface DeliverSm extends SmppAddressPair {
  sessionId: string;
  sequenceNumber: number;
  serviceType: string;
  esmClass: number;
  dataCoding: number;
  /** Exactly the bytes on the wire (node-smpp's text decoding is bypassed: it corrupts `_ @ $`). */
  shortMessage: Buffer;
  /** TLV 0x001E. */
  receiptedMessageId?: string;
  /** TLV 0x0427. */
  messageState?: number;
  /** TLV 0x0423 raw: network type (1 octet) + error code (2 octets). */
  networkErrorCode?: Buffer;
  /** TLV 0x0424 raw. */
  messagePayload?: Buffer;
  receivedAt: number;
}

/**
 * Receipt handler: resolve with the command_status for deliver_sm_resp — 0 (ok, only after the
 * event is safely stored), 0x64 temporary (SMSC re-sends later), 0x65 permanent, 0x66 reject.
 * deliver_sm_resp is written only when the promise settles; a rejection answers 0x64.
 */
export type DeliverSmHandler = (deliverSm: DeliverSm) => Promise<number>;

/** Counters of one session (monotonic unless stated). */
export interface SessionCounters {
  bindAttempts: number;
  bindFailures: number;
  binds: number;
  reconnectsByReason: Record<string, number>;
  submitsSent: number;
  responses: number;
  throttled: number;
  timeouts: number;
  ambiguous: number;
  lateResponses: number;
  deliverSmReceived: number;
  enquireLinksSent: number;
  /** Gauges. */
  inFlight: number;
  queued: number;
}

export const DELIVER_SM_RESP_TEMPORARY = 0x64;
export const ESME_RTHROTTLED = 0x58;
