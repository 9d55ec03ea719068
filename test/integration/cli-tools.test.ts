/**
 * The operator CLI (`produce`, `tail`, `redrive`) run as real child processes (`src/cli.ts`) against
 * the real Kafka + registry (and, for the end-to-end case, the connector and the simulator).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../../tools/dev-stack/stack.js';
import type { SmsDeliveryEvent, SmsOutbound } from '../../src/contracts.js';
import { AvroCodec } from '../../src/kafka/codec.js';
import { REDRIVE_HEADER } from '../../src/tools/redrive.js';
import { kafkaFor, readTopic, startPipeline } from '../helpers/pipeline.js';
import { createTopics, testStack, uniqueTopics, type StackInfo, type TestTopics } from '../helpers/stack.js';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tsx src/cli.ts <args>`; killed (and failed) after `timeoutMs`. */
function runCli(args: string[], env: Record<string, string>, timeoutMs = 60000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cli ${args.join(' ')} did not finish in ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function cliEnv(stack: StackInfo, topics: TestTopics): Record<string, string> {
  return {
    KAFKA_BROKERS: stack.kafkaBrokers,
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    TOPIC_OUTBOUND: topics.outbound,
    TOPIC_DELIVERY: topics.delivery,
    TOPIC_DLQ: topics.dlq,
  };
}

async function scratch(name: string): Promise<{ stack: StackInfo; topics: TestTopics; codec: AvroCodec; env: Record<string, string> }> {
  const stack = await testStack();
  const topics = uniqueTopics(name);
  await createTopics(stack.kafkaBrokers, [topics.outbound, topics.delivery, topics.dlq], 2);
  const codec = new AvroCodec({ url: stack.registryUrl, auth: null }, { outbound: topics.outbound, delivery: topics.delivery, inbound: null });
  await codec.registerContracts();
  return { stack, topics, codec, env: cliEnv(stack, topics) };
}

test('produce: flags and a CSV file become registry-encoded SmsOutbound records with the given fields; no SMPP variable needed', async () => {
  const { stack, topics, codec, env } = await scratch('cli-produce');
  const flags = await runCli(
    [
      'produce',
      '--to',
      '+39 347 1234567',
      '--from',
      'SHOP',
      '--text',
      'Ciao €5 😀',
      '--count',
      '2',
      '--id',
      'p',
      '--no-report',
      '--valid-for-ms',
      '60000',
      '--meta',
      'campaign=x',
    ],
    env,
  );
  assert.equal(flags.code, 0, flags.stderr);
  assert.match(flags.stdout, /^sent p-1 /m);
  assert.match(flags.stdout, /^sent p-2 /m);
  assert.ok(!flags.stdout.includes('3471234567'), 'numbers are masked in the output');

  const dir = mkdtempSync(path.join(tmpdir(), 'cli-produce-'));
  try {
    const csv = path.join(dir, 'in.csv');
    writeFileSync(csv, 'id,to,text,encoding,key\nc-1,393471234500,"Hello, ""quoted""\nsecond line",GSM7,k1\nc-2,393471234501,Привет,,\n');
    const file = await runCli(['produce', '--file', csv], env);
    assert.equal(file.code, 0, file.stderr);
    assert.match(file.stdout, /^2 request\(s\) sent to /m);

    const records = await readTopic(
      stack,
      topics.outbound,
      (v) => codec.decodeOutbound(v),
      (rs) => rs.length >= 4,
      30000,
    );
    const byId = new Map<string, { key: string | null; value: SmsOutbound }>(records.map((r) => [r.value.id, r]));
    const p1 = byId.get('p-1')!;
    assert.equal(p1.value.text, 'Ciao €5 😀');
    assert.equal(p1.value.from, 'SHOP');
    assert.equal(p1.value.requestDeliveryReport, false);
    assert.ok(p1.value.validUntil !== null && p1.value.validUntil > Date.now());
    assert.deepEqual(p1.value.metadata, { source: 'sms-connector-cli', campaign: 'x' });
    assert.equal(p1.key, '+39 347 1234567', 'the default key is the destination');
    const c1 = byId.get('c-1')!;
    assert.equal(c1.value.text, 'Hello, "quoted"\nsecond line');
    assert.equal(c1.value.encoding, 'GSM7');
    assert.equal(c1.key, 'k1');
    assert.equal(byId.get('c-2')!.value.text, 'Привет');
    assert.equal(byId.get('c-2')!.value.encoding, 'AUTO');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const bad = await runCli(['produce', '--to', '393471234567'], { ...env, SCHEMA_REGISTRY_URL: 'not-a-url' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /SCHEMA_REGISTRY_URL/);
});

test('produce output is terminal-safe and masks the sender like the destination; the record keeps the exact values', async () => {
  const { stack, topics, codec, env } = await scratch('cli-hygiene');
  const id = 'h\x1b[2J\x1b]0;owned\x07-1';
  const run = await runCli(['produce', '--to', '393471234567', '--from', '+393479999999', '--id', id], env);
  assert.equal(run.code, 0, run.stderr);
  assert.doesNotMatch(run.stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/, 'no control character but the line ends');
  assert.match(run.stdout, /^sent h-1 {2}key=39\*+67 {2}to=39\*+67 {2}from=39\*+99 /m);
  assert.ok(!run.stdout.includes('393479999999'), 'the sender is masked');
  const [record] = await readTopic(
    stack,
    topics.outbound,
    (v) => codec.decodeOutbound(v),
    (rs) => rs.length >= 1,
    30000,
  );
  assert.equal(record!.value.id, id, 'only the printing is cleaned, never the data');
  assert.equal(record!.value.from, '+393479999999');
});

test('produce --poison: each kind is a record the connector classifies as that DLQ code', async () => {
  const { stack, topics, codec, env } = await scratch('cli-poison');
  const expected: Record<string, string> = {
    'bad-magic': 'BAD_MAGIC_BYTE',
    'unknown-schema': 'UNKNOWN_SCHEMA_ID',
    truncated: 'AVRO_DECODE',
    'null-value': 'NULL_VALUE',
  };
  for (const kind of Object.keys(expected)) {
    const run = await runCli(['produce', '--to', '393471234567', '--poison', kind], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^1 ${kind} record\\(s\\) sent to `, 'm'));
  }
  const records = await readTopic(
    stack,
    topics.outbound,
    async (v) =>
      codec.decodeOutbound(v).then(
        () => 'decoded',
        (err: { code?: string }) => err.code ?? String(err),
      ),
    (rs) => rs.length >= 4,
    30000,
  );
  const codes = Object.fromEntries(records.map((r) => [r.key?.replace(/^poison-/, '') ?? '', r.value]));
  assert.deepEqual(codes, expected);
  const unknown = await runCli(['produce', '--to', '393471234567', '--poison', 'nonsense'], env);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /Allowed choices are bad-magic, unknown-schema, truncated, null-value/);
});

function deliveryEvent(id: string, overrides: Partial<SmsDeliveryEvent>): SmsDeliveryEvent {
  return {
    eventId: `${id}-${overrides.source ?? 'SUBMIT'}-${overrides.status ?? 'SUBMITTED'}`,
    id,
    source: 'SUBMIT',
    status: 'SUBMITTED',
    segment: 1,
    segments: 2,
    messageId: 'AGILE-0000000A-000001-000002-000003',
    errorCode: null,
    errorCodeRaw: null,
    errorCategory: null,
    errorDescription: null,
    retryable: false,
    attempts: 1,
    from: 'ACME',
    to: '393471234567',
    submittedAt: 1_750_000_000_000,
    doneAt: null,
    eventAt: 1_750_000_000_500,
    metadata: {},
    route: null,
    ...overrides,
  };
}

test('tail: one masked line per event with status, segment, message id and error; --id filters; --json --show-numbers is raw', async () => {
  const { stack, topics, codec, env } = await scratch('cli-tail');
  const events = [
    deliveryEvent('other', {}),
    deliveryEvent('t-1', {}),
    deliveryEvent('t-1', {
      source: 'RECEIPT',
      status: 'UNDELIVERED',
      errorCode: 201,
      errorCodeRaw: '201',
      errorCategory: 'HLR ERROR',
      errorDescription: 'Absent subscriber',
    }),
  ];
  const producer = kafkaFor(stack).producer();
  await producer.connect();
  await producer.send({ topic: topics.delivery, acks: -1, messages: events.map((e) => ({ key: e.id, value: codec.encodeDelivery(e) })) });
  // A record that is not Avro must not stop the tail.
  await producer.send({ topic: topics.delivery, acks: -1, messages: [{ key: 'junk', value: Buffer.from('not avro') }] });
  await producer.disconnect();

  const text = await runCli(['tail', '--from-beginning', '--id', 't-1', '--max-events', '2'], env);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trim().split('\n');
  assert.equal(lines.length, 2, text.stdout);
  assert.match(lines[0]!, /^2025-06-15T15:06:40\.500Z {2}t-1 {2}SUBMIT\/SUBMITTED {2}1\/2 {2}AGILE-0000000A-000001-000002-000003 {2}ACME → 39\*+67$/);
  assert.match(lines[1]!, /t-1 {2}RECEIPT\/UNDELIVERED {2}1\/2 .* {2}HLR ERROR 201: Absent subscriber$/);
  assert.ok(!text.stdout.includes('3471234567'));

  const json = await runCli(['tail', '--from-beginning', '--json', '--show-numbers', '--max-events', '3'], env);
  assert.equal(json.code, 0, json.stderr);
  const parsed = json.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as SmsDeliveryEvent);
  assert.equal(parsed.length, 3);
  assert.deepEqual(new Set(parsed.map((e) => e.id)), new Set(['other', 't-1']));
  assert.ok(parsed.every((e) => e.to === '393471234567'));
});

test('redrive: --dry-run lists the matching DLQ record and sends nothing; a real run sends the original bytes and key back with headers + marker', async () => {
  const { stack, topics, env } = await scratch('cli-redrive');
  const poison = Buffer.from([0, 0, 0, 0x7f, 0x7f, 1, 2, 3]);
  const producer = kafkaFor(stack).producer();
  await producer.connect();
  await producer.send({
    topic: topics.dlq,
    acks: -1,
    messages: [
      {
        key: 'order-7',
        value: poison,
        headers: {
          '__connect.errors.topic': topics.outbound,
          '__connect.errors.partition': '0',
          '__connect.errors.offset': '41',
          '__connect.errors.exception.class.name': 'UNKNOWN_SCHEMA_ID',
          '__connect.errors.exception.message': 'schema id 2139062143 is not in the registry',
        },
      },
      {
        key: 'other',
        value: Buffer.from('x'),
        headers: { '__connect.errors.topic': topics.outbound, '__connect.errors.exception.class.name': 'BAD_MAGIC_BYTE' },
      },
      {
        key: null,
        value: Buffer.from('id:1 stat:??'),
        headers: { '__connect.errors.topic': 'smpp', '__connect.errors.exception.class.name': 'UNPARSEABLE_RECEIPT' },
      },
    ],
  });
  await producer.disconnect();

  const dry = await runCli(['redrive', '--dry-run', '--filter', 'UNKNOWN_SCHEMA_ID'], env);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^would send {2}p\d@\d+ {2}key="order-7" {2}8 bytes {2}UNKNOWN_SCHEMA_ID: schema id 2139062143 is not in the registry/m);
  assert.match(dry.stdout, /dry run: would redrive 1 of 3 DLQ record\(s\) \(2 not matching the filter/);
  const typo = await runCli(['redrive', '--dry-run', '--filter', 'UNKNOWN_SCHEMA'], env);
  assert.notEqual(typo.code, 0, 'a filter code the connector never writes is refused, not matched against nothing');
  assert.match(typo.stderr, /unknown code UNKNOWN_SCHEMA; known: .*UNKNOWN_SCHEMA_ID/);
  const admin = kafkaFor(stack).admin();
  await admin.connect();
  const afterDry = await admin.fetchTopicOffsets(topics.outbound);
  assert.equal(
    afterDry.reduce((n, p) => n + Number(p.high), 0),
    0,
    'a dry run sends nothing',
  );
  await admin.disconnect();

  const real = await runCli(['redrive'], env);
  assert.equal(real.code, 0, real.stderr);
  assert.match(real.stdout, /redrove 2 of 3 DLQ record\(s\) \(0 not matching the filter, 1 receipts skipped\)/);
  const back = await readTopic(
    stack,
    topics.outbound,
    async (v) => v,
    (rs) => rs.length >= 2,
    30000,
  );
  const order7 = back.find((r) => r.key === 'order-7')!;
  assert.deepEqual(order7.value, poison);
  assert.equal(order7.headers['__connect.errors.exception.class.name'], 'UNKNOWN_SCHEMA_ID');
  assert.equal(order7.headers[REDRIVE_HEADER.count], '1');
  assert.match(order7.headers[REDRIVE_HEADER.from] ?? '', new RegExp(`^${topics.dlq.replace(/\./g, '\\.')}/\\d/0$`));
  assert.ok(!Number.isNaN(Date.parse(order7.headers[REDRIVE_HEADER.at] ?? '')));
});

test('produce → connector → tail: a request sent with the CLI shows its SUBMITTED, receipt and SUMMARY lines in tail', async () => {
  const fx = await startPipeline('cli-e2e');
  try {
    const env = cliEnv(fx.stack, fx.topics);
    const sent = await runCli(['produce', '--to', '+393471234567', '--text', 'end to end', '--id', 'e2e-1'], env);
    assert.equal(sent.code, 0, sent.stderr);
    const tailed = await runCli(['tail', '--from-beginning', '--id', 'e2e-1', '--max-events', '3'], env, 90000);
    assert.equal(tailed.code, 0, tailed.stderr);
    const lines = tailed.stdout.trim().split('\n');
    assert.match(lines[0]!, /e2e-1 {2}SUBMIT\/SUBMITTED {2}1\/1 {2}AGILE-/);
    assert.match(lines[1]!, /e2e-1 {2}RECEIPT\/DELIVERED {2}1\/1 {2}AGILE-/);
    assert.match(lines[2]!, /e2e-1 {2}SUMMARY\/DELIVERED {2}0\/1 /);
  } finally {
    await fx.stop();
  }
});
