/**
 * Defaults and validation of SessionOptions, in one place (named defaults, errors naming the field).
 */
import type { SessionOptions } from '../protocol/types.js';

/** The provider closes links without enquire_link for 5 min and asks for one at least every 30 s. */
export const MAX_ENQUIRE_LINK_MS = 30_000;

export const SESSION_DEFAULTS = {
  window: 10,
  rateLimit: 100,
  rateMargin: 0.02,
  enquireLinkMs: MAX_ENQUIRE_LINK_MS,
  responseTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  bindTimeoutMs: 10_000,
  reconnectMinMs: 500,
  reconnectMaxMs: 30_000,
  credentialBackoffMs: 60_000,
  stableAfterMs: 10_000,
  unbindTimeoutMs: 2_000,
  /**
   * 1000: ~15× what a session holds at full load (≈ 900 receipts/s per session, p99 73 ms until
   * the event is acked — the `e2e` and `latency` scenarios of 2026-11-25, docs/perf-log.md), and at
   * most ~72 MB of held PDU bytes per connection even if every one were the largest legal PDU.
   */
  maxUnansweredDeliverSm: 1_000,
} as const;

export type ResolvedSessionOptions = Required<Omit<SessionOptions, 'ca' | 'tlsServername' | 'logger' | 'sessionId' | 'now' | 'pacing'>> &
  Pick<SessionOptions, 'ca' | 'tlsServername'>;

/** Applies defaults; throws a RangeError naming the option on an invalid value. */
export function resolveSessionOptions(options: SessionOptions): ResolvedSessionOptions {
  const responseTimeoutMs = options.responseTimeoutMs ?? SESSION_DEFAULTS.responseTimeoutMs;
  const enquireLinkMs = Math.min(MAX_ENQUIRE_LINK_MS, options.enquireLinkMs ?? SESSION_DEFAULTS.enquireLinkMs);
  const resolved: ResolvedSessionOptions = {
    host: options.host,
    port: options.port,
    tls: options.tls ?? false,
    ca: options.ca,
    tlsServername: options.tlsServername,
    tlsRejectUnauthorized: options.tlsRejectUnauthorized ?? true,
    systemId: options.systemId,
    password: options.password,
    mode: options.mode,
    window: options.window ?? SESSION_DEFAULTS.window,
    rateLimit: options.rateLimit ?? SESSION_DEFAULTS.rateLimit,
    rateMargin: options.rateMargin ?? SESSION_DEFAULTS.rateMargin,
    enquireLinkMs,
    enquireLinkTimeoutMs: options.enquireLinkTimeoutMs ?? Math.min(responseTimeoutMs, enquireLinkMs),
    responseTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? SESSION_DEFAULTS.connectTimeoutMs,
    bindTimeoutMs: options.bindTimeoutMs ?? SESSION_DEFAULTS.bindTimeoutMs,
    reconnectMinMs: options.reconnectMinMs ?? SESSION_DEFAULTS.reconnectMinMs,
    reconnectMaxMs: options.reconnectMaxMs ?? SESSION_DEFAULTS.reconnectMaxMs,
    credentialBackoffMs: options.credentialBackoffMs ?? SESSION_DEFAULTS.credentialBackoffMs,
    stableAfterMs: options.stableAfterMs ?? SESSION_DEFAULTS.stableAfterMs,
    unbindTimeoutMs: options.unbindTimeoutMs ?? SESSION_DEFAULTS.unbindTimeoutMs,
    maxUnansweredDeliverSm: options.maxUnansweredDeliverSm ?? SESSION_DEFAULTS.maxUnansweredDeliverSm,
  };
  const positive = [
    'port',
    'window',
    'rateLimit',
    'enquireLinkMs',
    'enquireLinkTimeoutMs',
    'responseTimeoutMs',
    'connectTimeoutMs',
    'bindTimeoutMs',
    'reconnectMinMs',
    'reconnectMaxMs',
    'credentialBackoffMs',
    'unbindTimeoutMs',
    'maxUnansweredDeliverSm',
  ] as const;
  for (const key of positive) {
    if (!(Number.isFinite(resolved[key]) && resolved[key] > 0)) throw new RangeError(`SMPP session option ${key} must be > 0, got ${resolved[key]}`);
  }
  if (!Number.isInteger(resolved.maxUnansweredDeliverSm))
    throw new RangeError(`SMPP session option maxUnansweredDeliverSm must be an integer, got ${resolved.maxUnansweredDeliverSm}`);
  if (!(resolved.rateMargin >= 0 && resolved.rateMargin < 1))
    throw new RangeError(`SMPP session option rateMargin must be in [0, 1), got ${resolved.rateMargin}`);
  if (!['tx', 'rx', 'trx'].includes(resolved.mode)) throw new RangeError(`SMPP session option mode must be tx, rx or trx, got ${resolved.mode}`);
  return resolved;
}
