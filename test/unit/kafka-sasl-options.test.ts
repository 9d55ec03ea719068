/**
 * KAFKA_SASL_* reach kafkajs as options it can use: kafkajs 2.2.4 keeps the mechanism's
 * authentication provider on the `sasl` object it was given, and the loaded config is frozen.
 * Passing the config's own object made every SASL login throw "Cannot add property
 * authenticationProvider, object is not extensible" (found against a real SASL broker,
 * test/integration/kafka-authorization.test.ts). Here kafkajs' own authenticator runs a PLAIN login
 * over a scripted connection, so the check needs no broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { pino } from 'pino';
import { loadClientConfig, loadConfig } from '../../src/config.js';
import { kafkaConfigFrom } from '../../src/kafka/client.js';

const require = createRequire(import.meta.url);
// kafkajs internals (2.2.4, pinned): the class the broker connection runs for SASL.
const SASLAuthenticator = require('kafkajs/src/broker/saslAuthenticator/index.js') as new (
  connection: unknown,
  logger: unknown,
  versions: Record<number, { minVersion: number; maxVersion: number }>,
  supportAuthenticationProtocol: boolean,
) => { authenticate(): Promise<void> };
const logger = pino({ level: 'silent' });
const SASL_ENV = { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'connector', KAFKA_SASL_PASSWORD: 'connector-secret' };

/** kafkajs' SASL PLAIN login over a connection that accepts it; the auth bytes it sent. */
async function plainLogin(sasl: unknown): Promise<string[]> {
  const sent: string[] = [];
  const kafkajsLogger = { namespace: () => kafkajsLogger, debug() {}, error() {}, info() {}, warn() {} };
  const connection = {
    sasl,
    host: '127.0.0.1',
    port: 9092,
    send: async () => ({ enabledMechanisms: ['PLAIN'] }),
    sendAuthRequest: async ({ request }: { request: { encode(): Promise<Buffer> } }) => {
      sent.push((await request.encode()).toString('latin1'));
      return true;
    },
  };
  await new SASLAuthenticator(connection, kafkajsLogger, { 17: { minVersion: 0, maxVersion: 1 } }, false).authenticate();
  return sent;
}

test('the connector config: kafkajs gets an extensible copy of the SASL options and logs in with them', async () => {
  const config = loadConfig({ SMPP_SYSTEM_ID: 'acme', SMPP_PASSWORD: 's3cret', ...SASL_ENV });
  assert.ok(Object.isFrozen(config.kafka.sasl), 'the loaded config is frozen (the reason for the copy)');
  await assert.rejects(plainLogin(config.kafka.sasl), /not extensible/, 'kafkajs cannot use the frozen object itself');

  const options = kafkaConfigFrom(config.kafka, logger);
  assert.deepEqual(options.sasl, { mechanism: 'plain', username: 'connector', password: 'connector-secret' });
  assert.notEqual(options.sasl, config.kafka.sasl);
  const sent = await plainLogin(options.sasl);
  assert.equal(sent.length, 1);
  assert.match(sent[0]!, /\0connector\0connector-secret$/, 'the PLAIN message carries the configured credentials');
});

test('the client tools config (loadClientConfig) too', async () => {
  const config = loadClientConfig({ KAFKA_BROKERS: '127.0.0.1:9092', ...SASL_ENV });
  const sent = await plainLogin(kafkaConfigFrom(config.kafka, logger).sasl);
  assert.match(sent[0]!, /\0connector\0connector-secret$/);
});

test('no SASL variables: no sasl option', () => {
  const config = loadConfig({ SMPP_SYSTEM_ID: 'acme', SMPP_PASSWORD: 's3cret' });
  assert.equal(kafkaConfigFrom(config.kafka, logger).sasl, undefined);
});
