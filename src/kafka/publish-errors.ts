/**
 * The publisher's closed error list: every failure of a produce request becomes one `PublishError`
 * whose `code` says what the publisher does next. The decision reads kafkajs' error *type* (the
 * broker's error code name, `KafkaJSProtocolError.type`) or error *class* name, walking the `cause`
 * chain (kafkajs wraps a retriable error in `KafkaJSNumberOfRetriesExceeded` once its own retries
 * ran out) — never the message text.
 *
 *   KAFKA_UNAVAILABLE  an outage (broker down, leader moving, timeouts, anything unlisted): keep the
 *                      batch, back off, send it again until it works or the publisher closes.
 *   PRODUCER_STATE     the idempotent producer's sequence/epoch no longer matches the broker's:
 *                      replace the producer (new producer id), then send again.
 *   RECORD_REFUSED     the broker will never take these bytes (too large for the topic, invalid):
 *                      isolate the offending record(s) by halving the batch, hand each one to the
 *                      refusal handler (DLQ / smaller replacement) and let the rest flow on.
 *                      (Except a record ≤ 1 KiB refused as too large: the topic is misconfigured,
 *                      an outage — record-size.ts `isTopicMisconfigured`.)
 *   NOT_AUTHORIZED     credentials or ACLs: pause intake, report not ready, keep retrying — it
 *                      resumes by itself when an operator fixes the ACL or the secret.
 */
import { causeChain, type KafkaJsLike } from './error-chain.js';

export const PUBLISH_ERROR_CODES = ['KAFKA_UNAVAILABLE', 'PRODUCER_STATE', 'RECORD_REFUSED', 'NOT_AUTHORIZED'] as const;
export type PublishErrorCode = (typeof PUBLISH_ERROR_CODES)[number];

/**
 * Broker error types (kafkajs `src/protocol/error.js`) whose outcome is not "an outage". kafkajs'
 * own `retriable` flag is shown beside each, as it classifies them; every type not listed here is
 * KAFKA_UNAVAILABLE (today's behaviour: retry with backoff).
 */
export const PUBLISH_ERROR_TABLE: Readonly<Record<string, { code: PublishErrorCode; kafkajsRetriable: boolean; why: string }>> = {
  MESSAGE_TOO_LARGE: { code: 'RECORD_REFUSED', kafkajsRetriable: false, why: 'record batch over the topic max.message.bytes' },
  RECORD_LIST_TOO_LARGE: { code: 'RECORD_REFUSED', kafkajsRetriable: false, why: 'record batch over the log segment size' },
  INVALID_RECORD: {
    code: 'RECORD_REFUSED',
    kafkajsRetriable: false,
    why: 'the broker validated a record and refused it (e.g. a compacted topic and a null key)',
  },
  // kafkajs calls it retriable (a bit flipped on the wire) and has retried it already by the time it reaches us.
  CORRUPT_MESSAGE: { code: 'RECORD_REFUSED', kafkajsRetriable: true, why: 'the record failed its CRC or format check again and again' },
  INVALID_TIMESTAMP: { code: 'RECORD_REFUSED', kafkajsRetriable: false, why: 'timestamp outside the topic message.timestamp.difference.max.ms' },
  TOPIC_AUTHORIZATION_FAILED: { code: 'NOT_AUTHORIZED', kafkajsRetriable: false, why: 'no WRITE ACL on the topic' },
  CLUSTER_AUTHORIZATION_FAILED: { code: 'NOT_AUTHORIZED', kafkajsRetriable: false, why: 'no IDEMPOTENT_WRITE ACL on the cluster (idempotent producer)' },
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: { code: 'NOT_AUTHORIZED', kafkajsRetriable: false, why: 'no ACL for the producer id' },
  SASL_AUTHENTICATION_FAILED: { code: 'NOT_AUTHORIZED', kafkajsRetriable: false, why: 'SASL credentials refused' },
  UNSUPPORTED_SASL_MECHANISM: { code: 'NOT_AUTHORIZED', kafkajsRetriable: false, why: 'the broker does not offer KAFKA_SASL_MECHANISM' },
  ILLEGAL_SASL_STATE: { code: 'NOT_AUTHORIZED', kafkajsRetriable: false, why: 'SASL handshake out of order' },
  DELEGATION_TOKEN_AUTHORIZATION_FAILED: { code: 'NOT_AUTHORIZED', kafkajsRetriable: false, why: 'delegation token refused' },
  OUT_OF_ORDER_SEQUENCE_NUMBER: { code: 'PRODUCER_STATE', kafkajsRetriable: false, why: 'producer sequence ahead of or behind the broker' },
  DUPLICATE_SEQUENCE_NUMBER: { code: 'PRODUCER_STATE', kafkajsRetriable: false, why: 'producer sequence already written' },
  INVALID_PRODUCER_EPOCH: { code: 'PRODUCER_STATE', kafkajsRetriable: false, why: 'producer fenced by a newer epoch' },
  UNKNOWN_PRODUCER_ID: { code: 'PRODUCER_STATE', kafkajsRetriable: false, why: 'the broker expired the producer id' },
  INVALID_PRODUCER_ID_MAPPING: { code: 'PRODUCER_STATE', kafkajsRetriable: false, why: 'producer id unknown to the broker' },
};

/** kafkajs error classes (by `name`) that carry no broker type but decide the same way. */
export const PUBLISH_ERROR_CLASSES: Readonly<Record<string, PublishErrorCode>> = {
  KafkaJSSASLAuthenticationError: 'NOT_AUTHORIZED',
};

/** The record was larger than KAFKA_MAX_RECORD_BYTES: refused here, without a round trip. */
export const LOCAL_RECORD_TOO_LARGE = 'RECORD_OVER_BUDGET';

export class PublishError extends Error {
  constructor(
    readonly code: PublishErrorCode,
    /** The broker error type (`MESSAGE_TOO_LARGE`…), the kafkajs class name, or LOCAL_RECORD_TOO_LARGE. */
    readonly kafkaType: string,
    /** As kafkajs classifies the underlying error (true when it gave no flag). */
    readonly retriable: boolean,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PublishError';
  }
}

/** Maps any error thrown by a produce (or the producer's connect) onto the closed list. */
export function classifyPublishError(err: unknown): PublishError {
  if (err instanceof PublishError) return err;
  const top = (err ?? {}) as KafkaJsLike;
  for (const e of causeChain(top)) {
    const type = typeof e.type === 'string' ? e.type : null;
    const row = type ? PUBLISH_ERROR_TABLE[type] : undefined;
    if (row && type) return wrap(row.code, type, e, err);
    const cls = typeof e.name === 'string' ? PUBLISH_ERROR_CLASSES[e.name] : undefined;
    if (cls) return wrap(cls, e.name as string, e, err);
  }
  const type = typeof top.type === 'string' ? top.type : typeof top.name === 'string' ? top.name : 'Error';
  return wrap('KAFKA_UNAVAILABLE', type, top, err);
}

function wrap(code: PublishErrorCode, kafkaType: string, e: KafkaJsLike, cause: unknown): PublishError {
  const retriable = e.retriable !== false;
  return new PublishError(code, kafkaType, retriable, `${code} (${kafkaType}): ${typeof e.message === 'string' ? e.message : ''}`, { cause });
}
