/**
 * The broker refusing us at the first contact (src/kafka/access-errors.ts), sorted by kafkajs' own
 * error classes and broker error types — the real ones, as kafkajs 2.2.4 throws them. Against a real
 * SASL broker: test/integration/kafka-authorization.test.ts.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { ConfigError } from '../../src/config-error.js';
import { isTopicAuthorizationFailure, KafkaLoginRefusedError, loginRefusedError, TopicNotAuthorizedError } from '../../src/kafka/access-errors.js';

const require = createRequire(import.meta.url);
const { errorCodes, createErrorFromCode } = require('kafkajs/src/protocol/error.js') as {
  errorCodes: Array<{ type: string; code: number }>;
  createErrorFromCode: (code: number) => Error;
};
const { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSSASLAuthenticationError } = require('kafkajs/src/errors.js') as Record<
  'KafkaJSConnectionError' | 'KafkaJSNumberOfRetriesExceeded' | 'KafkaJSSASLAuthenticationError',
  new (...args: unknown[]) => Error
>;
const byType = (type: string): Error => createErrorFromCode(errorCodes.find((e) => e.type === type)!.code);

test('a refused SASL login is a ConfigError naming KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD, in one line with the broker reason', () => {
  // What kafkajs' PLAIN authenticator throws when the broker answers SASL_AUTHENTICATION_FAILED.
  const thrown = new KafkaJSSASLAuthenticationError('SASL PLAIN authentication failed: Authentication failed: Invalid username or password');
  const err = loginRefusedError(thrown);
  assert.ok(err instanceof KafkaLoginRefusedError);
  assert.ok(err instanceof ConfigError, 'the CLI prints it as a configuration error and exits 2');
  assert.equal(err.variable, 'KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD');
  assert.equal(err.code, 'SASL_AUTHENTICATION_FAILED');
  assert.equal(err.retriable, false);
  assert.equal(
    err.message,
    'KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD: the broker refused the login (SASL_AUTHENTICATION_FAILED: SASL PLAIN authentication failed: ' +
      'Authentication failed: Invalid username or password): check the user and password (and KAFKA_SASL_MECHANISM)',
  );
  assert.match(err.message, new RegExp(`^${err.variable}: `), 'the line starts with the variables');
  assert.equal(err.cause, thrown);

  // The broker's error type itself, raw or as a cause; a terminal-unsafe reason is cleaned, kept on one line.
  assert.ok(loginRefusedError(byType('SASL_AUTHENTICATION_FAILED')));
  assert.ok(loginRefusedError(new KafkaJSNumberOfRetriesExceeded(thrown, { retryCount: 1, retryTime: 10 })));
  const odd = loginRefusedError(new KafkaJSSASLAuthenticationError('refused\n\x1b[31mred'));
  assert.ok(odd && !/[\n\x1b]/.test(odd.message), odd?.message);
});

test('anything else is no login refusal: outages, ACLs, kafkajs messages that merely mention SASL', () => {
  for (const err of [
    new KafkaJSConnectionError('Connection error: ECONNREFUSED'),
    byType('TOPIC_AUTHORIZATION_FAILED'),
    byType('CLUSTER_AUTHORIZATION_FAILED'),
    new Error('SASL PLAIN authentication failed: Authentication failed'),
    null,
    undefined,
    'SASL_AUTHENTICATION_FAILED',
  ]) {
    assert.equal(loginRefusedError(err), null, String(err));
  }
});

test('TOPIC_AUTHORIZATION_FAILED is read from the type; the error names the topic, its variable and the ACL', () => {
  assert.equal(isTopicAuthorizationFailure(byType('TOPIC_AUTHORIZATION_FAILED')), true);
  assert.equal(isTopicAuthorizationFailure(new KafkaJSNumberOfRetriesExceeded(byType('TOPIC_AUTHORIZATION_FAILED'), { retryCount: 1, retryTime: 10 })), true);
  assert.equal(isTopicAuthorizationFailure(byType('UNKNOWN_TOPIC_OR_PARTITION')), false);
  assert.equal(isTopicAuthorizationFailure(new Error('Not authorized to access topics: [Topic authorization failed]')), false);
  const err = new TopicNotAuthorizedError('sms.delivery', 'TOPIC_DELIVERY');
  assert.equal(err.code, 'TOPIC_AUTHORIZATION_FAILED');
  assert.match(err.message, /^topic sms\.delivery \(TOPIC_DELIVERY\): not authorized \(TOPIC_AUTHORIZATION_FAILED\): .*DESCRIBE/);
  assert.doesNotMatch(err.message, /does not exist/);
  assert.match(new TopicNotAuthorizedError('sms.outbound').message, /^topic sms\.outbound: not authorized/);
});
