import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadClientConfig, loadConfig, redactedConfig } from '../../src/config.js';

const required = { SMPP_SYSTEM_ID: 'acme', SMPP_PASSWORD: 's3cret' };

test('defaults are the Agile Telecom profile of docs/design.md §8', () => {
  const c = loadConfig(required);
  assert.equal(c.smpp.host, 'smpp.agiletelecom.com');
  assert.equal(c.smpp.port, 2776);
  assert.equal(c.smpp.tls, true);
  assert.equal(c.smpp.tlsRejectUnauthorized, true);
  assert.deepEqual(c.smpp.sessions, [{ mode: 'trx', count: 4 }]);
  assert.equal(c.smpp.accountMaxBinds, 4);
  assert.equal(c.smpp.rateLimit, 100);
  assert.equal(c.smpp.rateMargin, 0.02);
  assert.equal(c.smpp.window, 10);
  assert.equal(c.smpp.enquireLinkMs, 30000);
  assert.deepEqual(c.kafka.brokers, ['127.0.0.1:9092']);
  assert.equal(c.kafka.fetchMinBytes, 1);
  assert.equal(c.kafka.fetchMaxWaitMs, 500);
  assert.equal(c.topics.outbound, 'sms.outbound');
  assert.equal(c.topics.dlq, 'sms.outbound.dlq');
  assert.equal(c.topics.inbound, null);
  assert.equal(c.topics.partitions, 12);
  assert.equal(c.retryMaxAgeMs, 3600000);
  assert.equal(c.receiptAckWaitMs, 10000);
  assert.equal(c.httpPort, 9464);
});

test('config is frozen so nothing below start-up can change it', () => {
  const c = loadConfig(required);
  assert.throws(() => {
    (c.smpp as { port: number }).port = 1;
  }, TypeError);
});

const bad: [Record<string, string>, string, RegExp][] = [
  [{ SMPP_PORT: 'abc' }, 'SMPP_PORT', /integer from 1 to 65535/],
  [{ SMPP_PORT: '0' }, 'SMPP_PORT', /integer from 1 to 65535/],
  [{ SMPP_TLS: 'maybe' }, 'SMPP_TLS', /one of/],
  [{ SMPP_PASSWORD: '' }, 'SMPP_PASSWORD', /\(empty\)$/],
  [{ SMPP_SESSIONS: 'trx:4,foo' }, 'SMPP_SESSIONS', /tx:2,rx:2/],
  [{ SMPP_SESSIONS: 'rx:2' }, 'SMPP_SESSIONS', /tx or trx/],
  [{ SMPP_SESSIONS: 'tx:4,rx:4' }, 'SMPP_SESSIONS', /asks for 8 binds but SMPP_ACCOUNT_MAX_BINDS allows 4/],
  [{ SMPP_SESSIONS: 'trx:4', SMPP_ACCOUNT_MAX_BINDS: '2' }, 'SMPP_SESSIONS', /asks for 4 binds/],
  [{ SMPP_SESSIONS: 'tx:1,tx:2' }, 'SMPP_SESSIONS', /tx appears twice \(got "tx:1,tx:2"\)$/],
  [{ SMPP_SESSIONS: 'trx:0,tx:1' }, 'SMPP_SESSIONS', /count for trx must be 1\.\.64/],
  [{ SMPP_ENQUIRE_LINK_MS: '60000' }, 'SMPP_ENQUIRE_LINK_MS', /30000/],
  [{ SMPP_RATE_MARGIN: '0.9' }, 'SMPP_RATE_MARGIN', /0 to 0.5/],
  [{ KAFKA_BROKERS: 'nohost' }, 'KAFKA_BROKERS', /host:port/],
  [{ KAFKA_FETCH_MIN_BYTES: '0' }, 'KAFKA_FETCH_MIN_BYTES', /integer from 1 to 16777216/],
  [{ KAFKA_FETCH_MAX_WAIT_MS: '0' }, 'KAFKA_FETCH_MAX_WAIT_MS', /integer from 10 to 5000/],
  [{ SCHEMA_REGISTRY_URL: 'ftp://x' }, 'SCHEMA_REGISTRY_URL', /http/],
  [{ TOPIC_OUTBOUND: 'bad topic' }, 'TOPIC_OUTBOUND', /topic name/],
  [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /one of/],
  [{ SMPP_RECONNECT_MIN_MS: '5000', SMPP_RECONNECT_MAX_MS: '1000' }, 'SMPP_RECONNECT_MIN_MS', /RECONNECT_MAX/],
  [{ REQUEST_MAX_ID_CHARS: '8' }, 'REQUEST_MAX_ID_CHARS', /integer from 32 to 600/],
  [{ REQUEST_MAX_ID_CHARS: '601' }, 'REQUEST_MAX_ID_CHARS', /integer from 32 to 600/],
  [{ REQUEST_MAX_METADATA_ENTRIES: '-1' }, 'REQUEST_MAX_METADATA_ENTRIES', /integer from 0 to 10000/],
  [{ KAFKA_MAX_RECORD_BYTES: '1000' }, 'KAFKA_MAX_RECORD_BYTES', /integer from 65536/],
  [{ SCHEMA_REGISTRY_TIMEOUT_MS: '0' }, 'SCHEMA_REGISTRY_TIMEOUT_MS', /100/],
  [{ SCHEMA_SUBJECT_STRICT: 'maybe' }, 'SCHEMA_SUBJECT_STRICT', /true/],
  [{ OUTBOUND_MAX_RECORD_BYTES: '10' }, 'OUTBOUND_MAX_RECORD_BYTES', /1024/],
  [{ ROUTE_CIRCUIT_FAILURES: '-1' }, 'ROUTE_CIRCUIT_FAILURES', /integer from 0 to 100000/],
  [{ ROUTE_CIRCUIT_OPEN_MS: '10' }, 'ROUTE_CIRCUIT_OPEN_MS', /integer from 100 to 3600000/],
  // Bounds whose worst-case correlation entry would not fit in a record.
  [{ REQUEST_MAX_METADATA_BYTES: '1048576', KAFKA_MAX_RECORD_BYTES: '1000000' }, 'REQUEST_MAX_METADATA_BYTES', /over KAFKA_MAX_RECORD_BYTES \(1000000\)/],
];

test('schema trust: documented defaults (5 s registry deadline, any subject, 256 KiB records)', () => {
  const c = loadConfig(required);
  assert.equal(c.registry.timeoutMs, 5000);
  assert.equal(c.registry.subjectStrict, false);
  assert.equal(c.outboundMaxRecordBytes, 256 * 1024);
  const set = loadConfig({ ...required, SCHEMA_REGISTRY_TIMEOUT_MS: '1500', SCHEMA_SUBJECT_STRICT: 'true', OUTBOUND_MAX_RECORD_BYTES: '65536' });
  assert.deepEqual([set.registry.timeoutMs, set.registry.subjectStrict, set.outboundMaxRecordBytes], [1500, true, 65536]);
});

test('request bounds and the record budget: documented defaults', () => {
  const c = loadConfig(required);
  assert.deepEqual(c.requestBounds, { maxIdChars: 256, maxAddressChars: 64, maxMetadataEntries: 64, maxMetadataBytes: 8192 });
  assert.equal(c.kafka.maxRecordBytes, 1_000_000);
});

for (const [env, variable, allowed] of bad) {
  test(`a wrong ${variable} stops start-up with one line naming it`, () => {
    try {
      loadConfig({ ...required, ...env });
      assert.fail('expected ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.variable, variable);
      assert.match(err.message, new RegExp(`^${variable}: `));
      assert.match(err.message, allowed);
      assert.ok(!err.message.includes('\n'), 'one line');
    }
  });
}

test('a missing SMPP_SYSTEM_ID is named', () => {
  assert.throws(
    () => loadConfig({ SMPP_PASSWORD: 'x' }),
    (e: ConfigError) => e.variable === 'SMPP_SYSTEM_ID',
  );
});

test('SMPP_PASSWORD_FILE reads the secret file and wins over SMPP_PASSWORD', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'pw');
  writeFileSync(file, 'fromfile\n');
  const c = loadConfig({ SMPP_SYSTEM_ID: 'acme', SMPP_PASSWORD: 'fromenv', SMPP_PASSWORD_FILE: file });
  assert.equal(c.smpp.password, 'fromfile');
});

test('an unreadable SMPP_PASSWORD_FILE is named, without the secret', () => {
  assert.throws(
    () => loadConfig({ SMPP_SYSTEM_ID: 'acme', SMPP_PASSWORD_FILE: '/nonexistent/pw' }),
    (e: ConfigError) => e.variable === 'SMPP_PASSWORD_FILE' && /cannot read/.test(e.message),
  );
});

test('the loggable config never contains a secret', () => {
  const c = loadConfig({
    ...required,
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: 'u',
    KAFKA_SASL_PASSWORD: 'kafkapw',
    SCHEMA_REGISTRY_USERNAME: 'r',
    SCHEMA_REGISTRY_PASSWORD: 'regpw',
  });
  const text = JSON.stringify(redactedConfig(c));
  for (const secret of ['s3cret', 'kafkapw', 'regpw']) assert.ok(!text.includes(secret), secret);
  assert.ok(text.includes('[REDACTED]'));
  assert.ok(text.includes('acme'), 'non-secret values stay');
});

test('SMPP_SESSIONS goes through the one spec parser: case and spaces ignored, entries as written', () => {
  const c = loadConfig({ ...required, SMPP_SESSIONS: ' RX:1 , tx:2 ', SMPP_ACCOUNT_MAX_BINDS: '3' });
  assert.deepEqual(c.smpp.sessions, [
    { mode: 'rx', count: 1 },
    { mode: 'tx', count: 2 },
  ]);
});

test('the client tools read SMS_MAX_SEGMENTS and REQUEST_MAX_* like the connector, so produce checks requests as that connector will', () => {
  const tools = loadClientConfig({ SMS_MAX_SEGMENTS: '20', REQUEST_MAX_ID_CHARS: '64' });
  const connector = loadConfig({ ...required, SMS_MAX_SEGMENTS: '20', REQUEST_MAX_ID_CHARS: '64' });
  assert.deepEqual(tools.requestChecks, { maxSegments: connector.sms.maxSegments, bounds: connector.requestBounds });
  assert.equal(loadClientConfig({}).requestChecks?.maxSegments, loadConfig(required).sms.maxSegments, 'the same default');
});

test('CORRELATION_RESTORE_WINDOW_MS: 30 min by default, or 3 × CORRELATION_KEEP_DONE_MS if more; a window not over twice the keep time is named', () => {
  const base = { SMPP_SYSTEM_ID: 'acme', SMPP_PASSWORD: 'x' };
  assert.equal(loadConfig(base).correlationRestoreWindowMs, 30 * 60_000);
  assert.equal(loadConfig({ ...base, CORRELATION_KEEP_DONE_MS: String(20 * 60_000) }).correlationRestoreWindowMs, 60 * 60_000);
  assert.equal(loadConfig({ ...base, CORRELATION_RESTORE_WINDOW_MS: '40000', CORRELATION_KEEP_DONE_MS: '15000' }).correlationRestoreWindowMs, 40_000);
  assert.throws(
    () => loadConfig({ ...base, CORRELATION_RESTORE_WINDOW_MS: '40000', CORRELATION_KEEP_DONE_MS: '20000' }),
    (e: ConfigError) => e.variable === 'CORRELATION_RESTORE_WINDOW_MS' && /twice CORRELATION_KEEP_DONE_MS/.test(e.message),
  );
});

test('TOPIC_OUTBOUND_URGENT: no urgent lane by default; a topic of its own, or the line names it; LANE_BULK_MIN_SHARE 0.1 by default, at most 0.5', () => {
  const base = { SMPP_SYSTEM_ID: 'acme', SMPP_PASSWORD: 'x' };
  assert.equal(loadConfig(base).topics.outboundUrgent, null);
  assert.equal(loadConfig({ ...base, TOPIC_OUTBOUND_URGENT: 'otp' }).topics.outboundUrgent, 'otp');
  assert.equal(loadClientConfig({ TOPIC_OUTBOUND_URGENT: 'otp' }).topics.outboundUrgent, 'otp', 'the tools know the lane too');
  for (const other of ['sms.outbound', 'sms.delivery', 'sms.correlation']) {
    assert.throws(
      () => loadConfig({ ...base, TOPIC_OUTBOUND_URGENT: other }),
      (e: ConfigError) => e.variable === 'TOPIC_OUTBOUND_URGENT' && e.message.includes('must be a topic of its own'),
    );
  }
  assert.equal(loadConfig(base).laneBulkMinShare, 0.1);
  assert.equal(loadConfig({ ...base, LANE_BULK_MIN_SHARE: '0' }).laneBulkMinShare, 0);
  assert.throws(
    () => loadConfig({ ...base, LANE_BULK_MIN_SHARE: '0.6' }),
    (e: ConfigError) => e.variable === 'LANE_BULK_MIN_SHARE',
  );
});
