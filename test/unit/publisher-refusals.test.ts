/**
 * The publisher's decisions on produce errors, against a scripted producer (the real broker's
 * refusals are covered by test/integration/pipeline-oversized.test.ts; authorization failures need
 * a broker with an authorizer, which the test stack does not run).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import type { Kafka, Message } from 'kafkajs';
import { CorrelationBundler } from '../../src/kafka/correlation-bundle.js';
import { Publisher, type OutRecord } from '../../src/kafka/publisher.js';
import type { PublishError } from '../../src/kafka/publish-errors.js';

const require = createRequire(import.meta.url);
const { errorCodes, createErrorFromCode } = require('kafkajs/src/protocol/error.js') as {
  errorCodes: Array<{ type: string; code: number }>;
  createErrorFromCode: (code: number) => Error;
};
const brokerError = (type: string): Error => createErrorFromCode(errorCodes.find((e) => e.type === type)!.code);

/** A producer whose sendBatch is `script`: it either throws or writes every message (value text) in order. */
function scriptedKafka(
  script: (values: string[]) => Error | null,
  connectScript: () => Error | null = () => null,
): { kafka: Kafka; written: string[]; producers: () => number } {
  const written: string[] = [];
  let created = 0;
  const kafka = {
    producer: () => {
      created++;
      return {
        events: { CONNECT: 'connect', DISCONNECT: 'disconnect' },
        on: () => undefined,
        connect: async () => {
          const err = connectScript();
          if (err) throw err;
        },
        disconnect: async () => undefined,
        sendBatch: async ({ topicMessages }: { topicMessages: Array<{ topic: string; messages: Message[] }> }) => {
          const values = topicMessages.flatMap((t) => t.messages.map((m) => `${t.topic}:${String(m.value)}`));
          const err = script(values);
          if (err) throw err;
          written.push(...values);
        },
      };
    },
  } as unknown as Kafka;
  return { kafka, written, producers: () => created };
}

const rec = (value: string, topic = 'events'): OutRecord => ({ topic, key: value, value: Buffer.from(value) });

test('a record the broker refuses is isolated and replaced in its place; the records around it are written in order and every publish resolves', async () => {
  // Refused records over 1 KiB: a smaller one refused as too large would mean a misconfigured topic (last test).
  const BAD = 'BAD'.padEnd(2000, '.');
  const BIG = 'BIG'.padEnd(2100, '.');
  const { kafka, written, producers } = scriptedKafka((values) => (values.includes(`events:${BAD}`) ? brokerError('MESSAGE_TOO_LARGE') : null));
  const publisher = new Publisher(kafka, { lingerMs: 5 });
  const refused: Array<[string, PublishError]> = [];
  publisher.onRefused((r, e) => {
    refused.push([String(r.value).slice(0, 3), e]);
    return [rec(`copy-of-${String(r.value).slice(0, 3)}`, 'dlq')];
  });
  await publisher.connect();
  await Promise.all([publisher.publish([rec('a'), rec('b')]), publisher.publish([rec(BAD), rec('c')]), publisher.publish([rec('d')])]);
  assert.deepEqual(written, ['events:a', 'events:b', 'dlq:copy-of-BAD', 'events:c', 'events:d']);
  assert.deepEqual(
    refused.map(([v, e]) => `${v} ${e.code} ${e.kafkaType}`),
    ['BAD RECORD_REFUSED MESSAGE_TOO_LARGE'],
  );
  const producersAfterFirst = producers();
  assert.ok(producersAfterFirst > 1, 'the producer was replaced after the partial failure');
  // Learned: a record at least as large on that topic is refused without a round trip.
  await publisher.publish([rec('e'), rec(BIG), rec('f')]);
  assert.deepEqual(written.slice(5), ['events:e', 'dlq:copy-of-BIG', 'events:f']);
  assert.equal(producers(), producersAfterFirst, 'no new refusal from the broker, no replacement');
  assert.equal(publisher.healthy(), true);
  await publisher.close();
});

test('a record over KAFKA_MAX_RECORD_BYTES is refused locally (RECORD_OVER_BUDGET); a publish larger than the budget is split across requests', async () => {
  const sizes: number[] = [];
  const { kafka, written } = scriptedKafka((values) => {
    sizes.push(values.length);
    return null;
  });
  const publisher = new Publisher(kafka, { lingerMs: 1, maxRecordBytes: 65_536 });
  const reasons: string[] = [];
  publisher.onRefused((_r, e) => (reasons.push(e.kafkaType), []));
  await publisher.connect();
  const many = Array.from({ length: 20 }, (_, i) => ({ topic: 'events', key: `k${i}`, value: Buffer.alloc(10_000, 97 + i) }));
  await publisher.publish([...many, { topic: 'events', key: 'huge', value: Buffer.alloc(70_000) }]);
  assert.deepEqual(reasons, ['RECORD_OVER_BUDGET']);
  assert.equal(written.length, 20);
  assert.ok(
    sizes.every((n) => n <= 6),
    `each request within 64 KiB: ${sizes.join(',')} records`,
  );
  await publisher.close();
});

test('authorization failure: not ready, intake waits on whenAuthorized; both resume by themselves once the ACL is fixed', async () => {
  let authorized = false;
  const { kafka, written } = scriptedKafka(() => (authorized ? null : brokerError('TOPIC_AUTHORIZATION_FAILED')));
  const publisher = new Publisher(kafka, { lingerMs: 1 });
  await publisher.connect();
  assert.equal(publisher.whenAuthorized(), null, 'writable at first');
  let acked = false;
  const publishing = publisher.publish([rec('a')]).then(() => (acked = true));
  const until = Date.now() + 5000;
  while (publisher.healthy() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  assert.equal(publisher.problem(), 'not authorized: TOPIC_AUTHORIZATION_FAILED');
  const aborted = new AbortController();
  const abortedWait = publisher.whenAuthorized(aborted.signal)!;
  aborted.abort(new Error('rebalance'));
  await assert.rejects(abortedWait, /rebalance/, 'a waiting record can still be aborted');
  const intake = publisher.whenAuthorized();
  assert.ok(intake, 'intake waits');
  assert.equal(acked, false);
  authorized = true;
  await intake;
  await publishing;
  assert.deepEqual(written, ['events:a'], 'the same record, written once the ACL was fixed');
  assert.equal(publisher.healthy(), true);
  assert.equal(publisher.whenAuthorized(), null);
  await publisher.close();
});

test('refused credentials at start do not stop start-up: not ready, intake paused, connected by itself once fixed', async () => {
  const { KafkaJSSASLAuthenticationError } = require('kafkajs/src/errors.js') as { KafkaJSSASLAuthenticationError: new (m: string) => Error };
  let fixed = false;
  const { kafka } = scriptedKafka(
    () => null,
    () => (fixed ? null : new KafkaJSSASLAuthenticationError('SASL SCRAM-SHA-512 authentication failed')),
  );
  const publisher = new Publisher(kafka, { lingerMs: 1 });
  await publisher.connect();
  assert.equal(publisher.problem(), 'not authorized: KafkaJSSASLAuthenticationError');
  const intake = publisher.whenAuthorized();
  assert.ok(intake);
  fixed = true;
  await intake;
  assert.equal(publisher.healthy(), true);
  await publisher.close();
});

test('a topic that refuses even small records as too large is an outage: held, not dead-lettered, written once the topic is fixed', async () => {
  let fixed = false;
  const { kafka, written } = scriptedKafka(() => (fixed ? null : brokerError('MESSAGE_TOO_LARGE')));
  const publisher = new Publisher(kafka, { lingerMs: 1 });
  const refused: string[] = [];
  publisher.onRefused((r) => (refused.push(String(r.value)), []));
  await publisher.connect();
  const publishing = Promise.all([publisher.publish([rec('a'), rec('b')]), publisher.publish([rec('c')])]);
  await new Promise((r) => setTimeout(r, 700));
  assert.deepEqual(written, []);
  fixed = true;
  await publishing;
  assert.deepEqual(written, ['events:a', 'events:b', 'events:c'], 'every record, in order, once writable');
  assert.deepEqual(refused, [], 'nothing dead-lettered for a misconfigured topic');
  await publisher.close();
});

test('a correlation entry naming a partition outside its topic is refused to its caller alone; the records flushed beside it are written', async () => {
  const { kafka, written } = scriptedKafka(() => null);
  const bundler = new CorrelationBundler({ partitions: 3, origin: 'unit' });
  const publisher = new Publisher(kafka, { lingerMs: 5, bundle: { topic: 'corr', bundler } });
  await publisher.connect();
  const good = publisher.publish([rec('event-1'), { topic: 'corr', key: 'r:req-1', value: '{"v":1}', partition: 2 }]);
  await assert.rejects(
    publisher.publish([{ topic: 'corr', key: 'r:req-2', value: '{"v":1}', partition: 3 }]),
    /correlation entry r:req-2 names partition 3; the topic has 3/,
  );
  await good;
  assert.deepEqual(
    written.filter((w) => w.startsWith('events:')),
    ['events:event-1'],
  );
  assert.equal(written.filter((w) => w.startsWith('corr:') && w.includes('r:req-1')).length, 1, 'the good entry went out in its bundle');
  await publisher.close();
});
