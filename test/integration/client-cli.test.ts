/**
 * Invariant: `produce` is the client's producer — a request the connector would reject is refused
 * before anything is sent (each rejection listed in the connector's words, no phone number
 * printed), and `--no-validate` sends it anyway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AvroCodec } from '../../src/kafka/codec.js';
import { kafkaFor, readTopic } from '../helpers/pipeline.js';
import { createTopics, testStack, uniqueTopics } from '../helpers/stack.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function produce(args: string[], env: Record<string, string>): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'produce', ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('produce refuses an input with a request the connector would reject, sends nothing; --no-validate sends it', async () => {
  const stack = await testStack();
  const topics = uniqueTopics('client-cli');
  await createTopics(stack.kafkaBrokers, [topics.outbound, topics.delivery, topics.dlq], 1);
  const env = {
    KAFKA_BROKERS: stack.kafkaBrokers,
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    TOPIC_OUTBOUND: topics.outbound,
    TOPIC_DELIVERY: topics.delivery,
    TOPIC_DLQ: topics.dlq,
  };

  const refused = produce(['--to', '+39 347 CALLME', '--from', 'A-SENDER-TOO-LONG', '--id', 'bad'], env);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stdout, /^rejected bad {2}REJECTED\/VALIDATION {2}from: alphanumeric sender has 17 characters; at most 11 allowed$/m);
  assert.match(refused.stderr, /1 request\(s\) would be rejected by the connector \(listed above\); nothing was sent/);
  // The number is not echoed (kafkajs' log lines carry other digits: ports, correlation ids — hence its letters too).
  assert.doesNotMatch(refused.stdout + refused.stderr, /347 ?CALL|CALLME/);

  const forced = produce(['--to', '12345', '--id', 'forced', '--no-validate'], env);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /^sent forced /m);

  const codec = new AvroCodec({ url: stack.registryUrl, auth: null }, { outbound: topics.outbound, delivery: topics.delivery, inbound: null });
  const records = await readTopic(
    stack,
    topics.outbound,
    (v) => codec.decodeOutbound(v),
    (rs) => rs.length >= 1,
    30_000,
  );
  assert.deepEqual(
    records.map((r) => r.value.id),
    ['forced'],
  );
  const admin = kafkaFor(stack).admin();
  await admin.connect();
  const [offsets] = await admin.fetchTopicOffsets(topics.outbound);
  await admin.disconnect();
  assert.equal(offsets?.high, '1', 'only the --no-validate request reached the topic');
});
