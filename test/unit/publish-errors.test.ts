import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { classifyPublishError, PUBLISH_ERROR_TABLE, type PublishErrorCode } from '../../src/kafka/publish-errors.js';
import { recordBytes } from '../../src/kafka/publisher.js';
import { CONNECTOR_HEADERS, fitDlqRecord } from '../../src/kafka/sinks.js';

const require = createRequire(import.meta.url);
const { errorCodes, createErrorFromCode } = require('kafkajs/src/protocol/error.js') as {
  errorCodes: Array<{ type: string; code: number; retriable: boolean }>;
  createErrorFromCode: (code: number) => Error;
};
// kafkajs' own error classes, as its producer throws them (not all are exported by its ESM entry).
const { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSSASLAuthenticationError } =
  require('kafkajs/src/errors.js') as Record<
    'KafkaJSConnectionError' | 'KafkaJSNonRetriableError' | 'KafkaJSNumberOfRetriesExceeded' | 'KafkaJSProtocolError' | 'KafkaJSSASLAuthenticationError',
    new (...args: unknown[]) => Error
  >;

test('publish error table: every type exists in kafkajs with the retriable flag the table states', () => {
  for (const [type, row] of Object.entries(PUBLISH_ERROR_TABLE)) {
    const known = errorCodes.find((e) => e.type === type);
    assert.ok(known, `${type} is a kafkajs broker error type`);
    assert.equal(known.retriable, row.kafkajsRetriable, `${type}: kafkajs retriable flag`);
  }
});

test('classification: a broker error decides by its type — raw, wrapped by kafkajs retries, or by class', () => {
  const byType = (type: string): Error => createErrorFromCode(errorCodes.find((e) => e.type === type)!.code);
  const cases: Array<[string, unknown, PublishErrorCode, string, boolean]> = [
    ['too large (bailed out raw)', byType('MESSAGE_TOO_LARGE'), 'RECORD_REFUSED', 'MESSAGE_TOO_LARGE', false],
    ['invalid record', byType('INVALID_RECORD'), 'RECORD_REFUSED', 'INVALID_RECORD', false],
    [
      'corrupt, after kafkajs retries',
      new KafkaJSNumberOfRetriesExceeded(byType('CORRUPT_MESSAGE'), { retryCount: 10, retryTime: 5000 }),
      'RECORD_REFUSED',
      'CORRUPT_MESSAGE',
      true,
    ],
    ['topic ACL', byType('TOPIC_AUTHORIZATION_FAILED'), 'NOT_AUTHORIZED', 'TOPIC_AUTHORIZATION_FAILED', false],
    [
      // seen from a real broker (Kafka 4.1.1, StandardAuthorizer) for a topic with no ACL at all, not
      // even DESCRIBE: the producer's metadata request is refused and kafkajs wraps the error
      'topic ACL, metadata refused',
      new KafkaJSNonRetriableError(byType('TOPIC_AUTHORIZATION_FAILED'), { cause: byType('TOPIC_AUTHORIZATION_FAILED') }),
      'NOT_AUTHORIZED',
      'TOPIC_AUTHORIZATION_FAILED',
      false,
    ],
    ['idempotent-write ACL', byType('CLUSTER_AUTHORIZATION_FAILED'), 'NOT_AUTHORIZED', 'CLUSTER_AUTHORIZATION_FAILED', false],
    ['SASL at connect', new KafkaJSSASLAuthenticationError('SASL PLAIN authentication failed'), 'NOT_AUTHORIZED', 'KafkaJSSASLAuthenticationError', false],
    ['fenced producer', byType('OUT_OF_ORDER_SEQUENCE_NUMBER'), 'PRODUCER_STATE', 'OUT_OF_ORDER_SEQUENCE_NUMBER', false],
    [
      'leader moving',
      new KafkaJSNumberOfRetriesExceeded(byType('NOT_LEADER_FOR_PARTITION'), { retryCount: 10, retryTime: 5000 }),
      'KAFKA_UNAVAILABLE',
      'KafkaJSNumberOfRetriesExceeded',
      false,
    ],
    ['broker down', new KafkaJSConnectionError('Connection error: ECONNREFUSED'), 'KAFKA_UNAVAILABLE', 'KafkaJSConnectionError', true],
    ['anything else', new Error('?'), 'KAFKA_UNAVAILABLE', 'Error', true],
    ['not even an error', undefined, 'KAFKA_UNAVAILABLE', 'Error', true],
  ];
  for (const [label, err, code, type, retriable] of cases) {
    const e = classifyPublishError(err);
    assert.equal(e.code, code, `${label}: code`);
    assert.equal(e.kafkaType, type, `${label}: type`);
    assert.equal(e.retriable, retriable, `${label}: retriable as kafkajs says`);
    assert.equal(e.cause, err, `${label}: cause kept`);
  }
  // The message is never read: the same type with any text decides the same.
  const relabelled = new KafkaJSProtocolError({ type: 'MESSAGE_TOO_LARGE', code: 10, retriable: false, message: 'retry me please' });
  assert.equal(classifyPublishError(relabelled).code, 'RECORD_REFUSED');
});

test('DLQ copy: kept whole when it fits; near the limit it keeps its headers and says its value was left out', () => {
  const own = { '__connect.errors.topic': 'sms.outbound', '__connect.errors.exception.class.name': 'AVRO_DECODE' };
  const small = fitDlqRecord({ topic: 'dlq', key: 'k', value: Buffer.alloc(100), headers: { trace: 't' } }, own, 10_000);
  assert.equal(small.value?.length, 100);
  assert.equal(small.headers?.['trace'], 't');
  const near = fitDlqRecord({ topic: 'dlq', key: 'k', value: Buffer.alloc(9_990), headers: { trace: 't' } }, own, 10_000);
  assert.equal(near.value, null);
  assert.match(String(near.headers?.[CONNECTOR_HEADERS.valueOmitted]), /^9990 bytes/);
  assert.equal(near.headers?.['__connect.errors.exception.class.name'], 'AVRO_DECODE');
  assert.ok(recordBytes(near) <= 10_000);
  const hugeHeaders = fitDlqRecord({ topic: 'dlq', key: 'k', value: Buffer.alloc(10), headers: { big: 'x'.repeat(20_000) } }, own, 10_000);
  assert.equal(hugeHeaders.headers?.['big'], undefined, "the original's own headers go when even they do not fit");
  assert.ok(recordBytes(hugeHeaders) <= 10_000);
});
