/**
 * Record sizes as the broker counts them against `max.message.bytes`, and what the broker has
 * told us about a topic's limit. Used by the publisher to keep every produce request within
 * KAFKA_MAX_RECORD_BYTES and to refuse, without a round trip, a record it already knows is too large.
 */
import { PublishError } from './publish-errors.js';

/** Per-record framing in a v2 record batch (length, attributes, deltas, key/value lengths): at most ~36 bytes. */
const RECORD_OVERHEAD_BYTES = 40;
const HEADER_OVERHEAD_BYTES = 10;

export interface SizedRecord {
  key: string | Buffer | null;
  value: Buffer | string | null;
  headers?: Record<string, string | Buffer>;
}

/** A record's size in a record batch (uncompressed: an upper bound of what compression leaves). */
export function recordBytes(r: SizedRecord): number {
  let n = RECORD_OVERHEAD_BYTES + byteLength(r.key) + byteLength(r.value);
  if (r.headers) for (const k in r.headers) n += HEADER_OVERHEAD_BYTES + Buffer.byteLength(k) + byteLength(r.headers[k] ?? null);
  return n;
}

export function byteLength(v: string | Buffer | null | undefined): number {
  return v === null || v === undefined ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}

/** Broker refusals that are about size: a larger record on the same topic is refused too. */
const SIZE_REFUSALS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
/**
 * A record this small refused as too large says more about the topic than the record: no event of
 * ours is under ~150 bytes, and no sane max.message.bytes is under 1 KiB. The publisher treats it
 * as an outage (wait, not ready, retry — fault F7 makes the delivery topic unwritable this way).
 */
export const MISCONFIGURED_BELOW_BYTES = 1024;

export function isTopicMisconfigured(error: PublishError, bytes: number): boolean {
  return SIZE_REFUSALS.has(error.kafkaType) && bytes <= MISCONFIGURED_BELOW_BYTES;
}

/** How long a learned limit holds: an operator who raises max.message.bytes is noticed within this. */
const LEARNED_LIMIT_TTL_MS = 10 * 60_000;

/**
 * Per topic, the smallest record the broker refused *alone* as too large. Without it every later
 * record of that size costs a failed produce request, a producer replacement and a bisection
 * (measured in the 2 KB-topic integration test: 76 refused requests for 18 records → 9).
 */
export class SizeRefusals {
  private readonly byTopic = new Map<string, { bytes: number; type: string; at: number }>();

  constructor(private readonly clock: () => number = Date.now) {}

  get empty(): boolean {
    return this.byTopic.size === 0;
  }

  /** A record of `bytes` was refused alone with `error`. */
  learn(topic: string, bytes: number, error: PublishError): void {
    if (!SIZE_REFUSALS.has(error.kafkaType)) return;
    const known = this.byTopic.get(topic);
    const now = this.clock();
    if (!known || bytes < known.bytes || now - known.at > LEARNED_LIMIT_TTL_MS) this.byTopic.set(topic, { bytes, type: error.kafkaType, at: now });
  }

  /** The refusal a record of `bytes` for `topic` would get, if the broker already refused a smaller one. */
  refusal(topic: string, bytes: number): PublishError | null {
    const known = this.byTopic.get(topic);
    if (!known || bytes < known.bytes) return null;
    if (this.clock() - known.at > LEARNED_LIMIT_TTL_MS) {
      this.byTopic.delete(topic);
      return null;
    }
    return new PublishError(
      'RECORD_REFUSED',
      known.type,
      false,
      `record of ${bytes} bytes for ${topic}: the broker refused one of ${known.bytes} bytes as ${known.type}`,
    );
  }
}
