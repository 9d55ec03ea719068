import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { AvroCodec } from '../../src/kafka/codec.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import { startConnectorProcess } from '../helpers/child.js';
import { outbound, produce, readTopic, testEnv, waitUntil } from '../helpers/pipeline.js';
import { createTopics, testStack, uniqueTopics } from '../helpers/stack.js';

const PASSWORD = 'Pw7xQ2zK';
const REGISTRY_PASSWORD = 'RegPw-71x';
const MSISDN = '393479876543';

test('privacy: a whole connector run at debug level never logs the SMPP password or a full phone number', async () => {
  const stack = await testStack();
  const topics = uniqueTopics('log-privacy');
  await createTopics(stack.kafkaBrokers, [topics.outbound, topics.delivery], 3);
  // 201 for this number: the failure path logs too.
  const sim = await startSimulator({
    plainPort: 0,
    accounts: { test: PASSWORD },
    behaviour: { receiptDelayMs: 10, outcomesByDestination: [{ pattern: '^39347987654', outcome: { kind: 'failed', err: 201 } }] },
  });
  // Plain SMPP and registry basic auth over http://: both must be named at start (the registry ignores the header).
  const env = testEnv(stack, topics, sim.plainPort!, {
    SMPP_PASSWORD: PASSWORD,
    LOG_LEVEL: 'debug',
    SCHEMA_REGISTRY_USERNAME: 'connector',
    SCHEMA_REGISTRY_PASSWORD: REGISTRY_PASSWORD,
  });
  const logFile = join(mkdtempSync(join(tmpdir(), 'privacy-')), 'connector.log');
  const proc = startConnectorProcess(env, logFile);
  try {
    const config = loadConfig(env);
    const codec = new AvroCodec(config.registry, config.topics);
    await codec.registerContracts();
    await produce(stack, topics.outbound, codec, [
      { key: MSISDN, value: outbound('p-1', { to: `+${MSISDN}` }) },
      { key: 'k2', value: outbound('p-2', { to: `00${MSISDN}`, from: '+393471112223' }) },
      { key: 'k3', value: outbound('p-3', { to: '12' }) }, // invalid: the validation path logs too
    ]);
    const decode = async (v: Buffer | null) => (await codec.decodeRaw(v)) as { source: string };
    await readTopic(stack, topics.delivery, decode, (rs) => rs.filter((r) => r.value.source === 'SUMMARY').length >= 3, 60000);
    proc.kill('SIGTERM');
    const { code } = await proc.exited;
    assert.equal(code, 0, `connector exit code; log tail:\n${readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n')}`);
    await waitUntil(() => readFileSync(logFile, 'utf8').includes('"msg":"stopped"'), 5000, 'log flushed');
    const log = readFileSync(logFile, 'utf8');
    assert.ok(log.split('\n').length > 20, 'the run logged something to check');
    assert.ok(log.includes('39********43'), 'the destination is logged, masked (so this test can fail)');
    assert.ok(!log.includes(PASSWORD), 'the SMPP password appears in the log');
    assert.ok(!log.includes(REGISTRY_PASSWORD), 'the registry password appears in the log');
    // each weakened setting: one warn-level line at start, before the connector reports itself started
    const lines = log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string });
    const insecure = lines.filter((l) => l.msg.startsWith('INSECURE: '));
    assert.deepEqual(
      insecure.map((l) => l.msg.split(':')[1]!.trim()),
      ['SMPP_TLS=false', 'SCHEMA_REGISTRY_USERNAME with an http'],
      'one line per weakened setting',
    );
    assert.ok(
      insecure.every((l) => l.level === 40),
      'at warn level',
    );
    const started = lines.findIndex((l) => l.msg === 'sms-connector started');
    assert.ok(started > lines.indexOf(insecure[1]!), 'printed at start');
    assert.ok(!log.includes(MSISDN), 'a full MSISDN appears in the log');
    assert.ok(!log.includes('393471112223'), 'a full numeric sender appears in the log');
  } finally {
    proc.kill('SIGKILL');
    await sim.close();
  }
});
