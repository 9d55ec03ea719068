// Invariant: every config field that shapes a part reaches the option it sets (nothing copied by hand
// in start-up), the topics start-up ensures carry the settings the connector depends on, and the
// bind-slot request says what this replica's SMPP_SESSIONS asks for.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import {
  admissionLimitFrom,
  bindSlotRequestFrom,
  consumerSettingsFrom,
  poolOptionsFrom,
  publisherSettingsFrom,
  sessionOptionsFrom,
  sweeperTimingFrom,
  topicsToEnsure,
} from '../../src/app/options.js';
import { loadConfig } from '../../src/config.js';
import { CompressionTypes } from 'kafkajs';

const required = { SMPP_SYSTEM_ID: 'acme', SMPP_PASSWORD: 's3cret' };
const logger = pino({ level: 'silent' });

describe('topicsToEnsure', () => {
  test('the six topics by default, each with TOPIC_PARTITIONS; the DLQ takes a full record, the correlation topics compact, the receipts topic deletes by age', () => {
    const config = loadConfig({ ...required, TOPIC_PARTITIONS: '6', KAFKA_MAX_RECORD_BYTES: '2000000', CORRELATION_RETENTION_MS: '86400000' });
    const plans = topicsToEnsure(config);
    assert.deepEqual(
      plans.map((t) => [t.name, t.partitions]),
      [
        ['sms.outbound', 6],
        ['sms.delivery', 6],
        ['sms.outbound.dlq', 6],
        ['sms.correlation', 6],
        ['sms.correlation.live', 6],
        ['sms.receipts', 6],
      ],
    );
    assert.deepEqual(plans[2]?.configEntries, [{ name: 'max.message.bytes', value: String(2_000_000 + 1024) }]);
    assert.deepEqual(plans[3]?.configEntries, [
      { name: 'cleanup.policy', value: 'compact,delete' },
      { name: 'retention.ms', value: '86400000' },
    ]);
    assert.deepEqual(
      plans[4]?.configEntries?.[0],
      { name: 'cleanup.policy', value: 'compact' },
      'the live-state topic keeps the last state of each request, without a time limit',
    );
    assert.deepEqual(plans[5]?.configEntries, [
      { name: 'cleanup.policy', value: 'delete' },
      { name: 'retention.ms', value: '604800000' },
    ]);
  });

  test('with CORRELATION_OWNERSHIP=replicated and no receipts log, nothing writes the receipts topic: not created', () => {
    const plans = topicsToEnsure(loadConfig({ ...required, CORRELATION_OWNERSHIP: 'replicated' }));
    assert.deepEqual(
      plans.map((t) => t.name),
      ['sms.outbound', 'sms.delivery', 'sms.outbound.dlq', 'sms.correlation', 'sms.correlation.live'],
    );
  });

  test('TOPIC_OUTBOUND_URGENT adds the urgent lane right after the bulk one', () => {
    const plans = topicsToEnsure(loadConfig({ ...required, TOPIC_OUTBOUND_URGENT: 'sms.outbound.urgent' }));
    assert.deepEqual(plans[1], { name: 'sms.outbound.urgent', partitions: 12 });
    assert.equal(plans.length, 7);
  });

  test('TOPIC_INBOUND adds the inbound topic', () => {
    const plans = topicsToEnsure(loadConfig({ ...required, TOPIC_INBOUND: 'sms.inbound' }));
    assert.deepEqual(plans.at(-2), { name: 'sms.inbound', partitions: 12 });
  });
});

describe('sessionOptionsFrom', () => {
  test('every SMPP_* session setting reaches its option; SMPP_BIND_ERROR_BACKOFF_MS is the credential backoff', () => {
    const config = loadConfig({
      ...required,
      SMPP_HOST: 'smsc.example',
      SMPP_PORT: '2775',
      SMPP_TLS: 'false',
      SMPP_WINDOW: '7',
      SMPP_RATE_LIMIT: '50',
      SMPP_RATE_MARGIN: '0.1',
      SMPP_ENQUIRE_LINK_MS: '20000',
      SMPP_RESPONSE_TIMEOUT_MS: '3000',
      SMPP_CONNECT_TIMEOUT_MS: '4000',
      SMPP_BIND_TIMEOUT_MS: '5000',
      SMPP_RECONNECT_MIN_MS: '100',
      SMPP_RECONNECT_MAX_MS: '9000',
      SMPP_BIND_ERROR_BACKOFF_MS: '12000',
    });
    assert.deepEqual(sessionOptionsFrom(config.smpp, logger), {
      host: 'smsc.example',
      port: 2775,
      tls: false,
      tlsServername: 'smsc.example',
      tlsRejectUnauthorized: true,
      systemId: 'acme',
      password: 's3cret',
      window: 7,
      rateLimit: 50,
      rateMargin: 0.1,
      enquireLinkMs: 20000,
      responseTimeoutMs: 3000,
      connectTimeoutMs: 4000,
      bindTimeoutMs: 5000,
      reconnectMinMs: 100,
      reconnectMaxMs: 9000,
      credentialBackoffMs: 12000,
      logger,
    });
  });

  test('the CA text is passed through when given, absent otherwise', () => {
    const config = loadConfig(required);
    const ca = Buffer.from('-----BEGIN CERTIFICATE-----');
    assert.equal(sessionOptionsFrom(config.smpp, logger, ca).ca, ca);
    assert.ok(!('ca' in sessionOptionsFrom(config.smpp, logger)));
  });
});

describe('pool and bind slots', () => {
  test('the pool gets the parsed spec, the account cap, no binds until slots arrive, a drain within 5 s', () => {
    const config = loadConfig({ ...required, SMPP_SESSIONS: 'tx:2,rx:1', SMPP_ACCOUNT_MAX_BINDS: '3', SHUTDOWN_DRAIN_MS: '20000' });
    const session = sessionOptionsFrom(config.smpp, logger);
    const pool = poolOptionsFrom(config, config.smpp, session);
    assert.deepEqual(pool.spec, [
      { mode: 'tx', count: 2 },
      { mode: 'rx', count: 1 },
    ]);
    assert.equal(pool.maxBinds, 3);
    assert.equal(pool.bindSlots, 0);
    assert.equal(pool.drainMs, 5000);
    assert.equal(pool.session, session);
    assert.equal(poolOptionsFrom(loadConfig({ ...required, SHUTDOWN_DRAIN_MS: '1200' }), config.smpp, session).drainMs, 1200);
    assert.equal(pool.idPrefix, undefined, 'the default route keeps its session ids (trx-1)');
    assert.equal(poolOptionsFrom(config, { ...config.smpp, name: 'backup' }, session).idPrefix, 'backup/');
  });

  test('the bind-slot request: per route the spec total, its text form, the cap; the first route also at the top level', () => {
    const config = loadConfig({ ...required, SMPP_SESSIONS: 'rx:1,tx:2', SMPP_ACCOUNT_MAX_BINDS: '4' });
    const first = { requestedBinds: 3, sessions: 'rx:1,tx:2', cap: 4 };
    assert.deepEqual(bindSlotRequestFrom(config), { ...first, routes: { default: first } });
  });

  test('admission: two windows per session', () => {
    assert.equal(admissionLimitFrom(loadConfig({ ...required, SMPP_WINDOW: '7' }).smpp), 14);
  });
});

describe('producer, consumer and sweeper settings', () => {
  test('the producer: linger, codec, record size', () => {
    const config = loadConfig({ ...required, KAFKA_PRODUCER_LINGER_MS: '5', KAFKA_COMPRESSION: 'gzip', KAFKA_MAX_RECORD_BYTES: '500000' });
    assert.deepEqual(publisherSettingsFrom(config), { lingerMs: 5, compression: CompressionTypes.GZIP, maxRecordBytes: 500000 });
  });

  test('the consumer: topic, group, timings, fetch; partitions at once capped at 32', () => {
    const config = loadConfig({
      ...required,
      TOPIC_OUTBOUND: 'out',
      KAFKA_GROUP_ID: 'g1',
      KAFKA_SESSION_TIMEOUT_MS: '10000',
      KAFKA_HEARTBEAT_INTERVAL_MS: '1000',
      KAFKA_COMMIT_INTERVAL_MS: '200',
      KAFKA_FETCH_MIN_BYTES: '1024',
      KAFKA_FETCH_MAX_WAIT_MS: '100',
      TOPIC_PARTITIONS: '48',
      SHUTDOWN_DRAIN_MS: '7000',
    });
    assert.deepEqual(consumerSettingsFrom(config), {
      topic: 'out',
      groupId: 'g1',
      sessionTimeoutMs: 10000,
      heartbeatIntervalMs: 1000,
      commitIntervalMs: 200,
      fetchMinBytes: 1024,
      fetchMaxWaitMs: 100,
      partitionsConcurrency: 32,
      drainMs: 7000,
      maxRecordsInProgress: 160,
    });
    assert.equal(consumerSettingsFrom(loadConfig({ ...required, TOPIC_PARTITIONS: '3' })).partitionsConcurrency, 3);
  });

  test('the urgent lane: its topic, a group of its own, the same timings', () => {
    const config = loadConfig({ ...required, KAFKA_GROUP_ID: 'g1', TOPIC_OUTBOUND_URGENT: 'otp' });
    const urgent = consumerSettingsFrom(config, 'urgent');
    assert.deepEqual([urgent.topic, urgent.groupId], ['otp', 'g1.urgent']);
    assert.deepEqual({ ...urgent, topic: '', groupId: '' }, { ...consumerSettingsFrom(config), topic: '', groupId: '' });
    assert.throws(() => consumerSettingsFrom(loadConfig(required), 'urgent'), /TOPIC_OUTBOUND_URGENT/);
  });

  test('records in progress: twice what the submitting sessions admit (receivers do not count), at least 64', () => {
    assert.equal(consumerSettingsFrom(loadConfig({ ...required, SMPP_SESSIONS: 'tx:2,rx:2', SMPP_WINDOW: '25' })).maxRecordsInProgress, 2 * 2 * 50);
    assert.equal(consumerSettingsFrom(loadConfig({ ...required, SMPP_SESSIONS: 'trx:1', SMPP_WINDOW: '1' })).maxRecordsInProgress, 64);
  });

  test('the sweeper: defaults look every 60 s, the summary grace stays below half the keep time', () => {
    assert.deepEqual(sweeperTimingFrom(loadConfig(required)), { graceMs: 900000, summaryGraceMs: 30000, keepCompletedMs: 600000, intervalMs: 60000 });
    assert.deepEqual(sweeperTimingFrom(loadConfig({ ...required, RECEIPT_GRACE_MS: '0', CORRELATION_KEEP_DONE_MS: '10000' })), {
      graceMs: 0,
      summaryGraceMs: 5000,
      keepCompletedMs: 10000,
      intervalMs: 1000,
    });
  });
});
