/**
 * Publisher errors against a REAL broker with authorization on (issue 17 item 4; the scripted-fake
 * versions are test/unit/publisher-refusals.test.ts): a second single-node KRaft broker of the test
 * run, SASL_PLAINTEXT with PLAIN, StandardAuthorizer, `allow.everyone.if.no.acl.found=false`. The
 * connector logs in as `connector` with the ACLs `kafka-acls --producer/--consumer` would give it on
 * its own topics and group (no cluster ACL: since Kafka 3.0 a WRITE on a topic lets the idempotent
 * producer get its id, KIP-679); the test's clients are the super user.
 *
 * Mid-run the connector's WRITE on the delivery topic is deleted (its DESCRIBE stays): the broker
 * answers TOPIC_AUTHORIZATION_FAILED, the replica reports not ready naming it, intake stops, nothing
 * is dead-lettered or committed past the unpublished events, and the process stays up. The ACL back,
 * it is ready again by itself and every request has its events, each segment accepted once.
 *
 * The second test runs the publisher alone as a principal no ACL names: what the broker answers at
 * connect (no WRITE anywhere: CLUSTER_AUTHORIZATION_FAILED for the producer id) and for a topic it may
 * not even DESCRIBE (the metadata refused: TOPIC_AUTHORIZATION_FAILED, wrapped by kafkajs) — both
 * NOT_AUTHORIZED, both over by themselves once the WRITE ACL exists.
 *
 * The last two run `sms-connector run` and `tail` as child processes: a wrong KAFKA_SASL_PASSWORD
 * stops both at once with one line naming KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD (exit 2), the
 * password nowhere in the output; a login the broker takes but that no ACL names stops them naming
 * the topic as not authorized (TOPIC_AUTHORIZATION_FAILED), not as missing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import kafkajs from 'kafkajs';
import { loadClientConfig, loadConfig } from '../../src/config.js';
import { topicsToEnsure } from '../../src/app/options.js';
import { createKafka, ensureTopics } from '../../src/kafka/client.js';
import { Publisher } from '../../src/kafka/publisher.js';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { REPO_ROOT, saslKafkaUp, stackDown, type StackInfo } from '../../tools/dev-stack/stack.js';
import {
  collectDelivery,
  collectTopic,
  committedVsEnd,
  kafkaFor,
  outbound,
  produce,
  startPipeline,
  testEnv,
  testLogger,
  waitUntil,
  type PipelineFixture,
} from '../helpers/pipeline.js';
import { summarised } from '../helpers/oracle.js';
import { privateStackDir, testStack, uniqueGroupId, uniqueTopics } from '../helpers/stack.js';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

const ADMIN = { username: 'admin', password: 'admin-secret' };
const CONNECTOR = { username: 'connector', password: 'connector-secret' };
/** A principal no ACL names yet (a new deployment before the operator's grants). */
const NEWCOMER = { username: 'newcomer', password: 'newcomer-secret' };
/** A principal no ACL ever names (the login tests: logged in, allowed nothing). */
const STRANGER = { username: 'stranger', password: 'stranger-secret' };

let dir: string | undefined;
let stack: StackInfo | undefined;

before(async () => {
  dir = privateStackDir('kafka-authz');
  const shared = await testStack();
  const t0 = Date.now();
  const kafka = await saslKafkaUp({
    dir,
    sasl: {
      users: Object.fromEntries([ADMIN, CONNECTOR, NEWCOMER, STRANGER].map((u) => [u.username, u.password])),
      superUser: ADMIN.username,
    },
  });
  process.stderr.write(`# SASL/ACL broker up in ${((Date.now() - t0) / 1000).toFixed(1)} s on ${kafka.kafkaBrokers}\n`);
  stack = { ...shared, kafkaBrokers: kafka.kafkaBrokers, kafkaPid: kafka.kafkaPid, dir, kafkaSasl: { mechanism: 'plain', ...ADMIN } };
});

after(async () => {
  if (!dir) return;
  await stackDown({ dir }).catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

type Acl = Parameters<kafkajs.Admin['createAcls']>[0]['acl'][number];

function allow(
  resourceType: kafkajs.AclResourceTypes,
  resourceName: string,
  operation: kafkajs.AclOperationTypes,
  prefixed = false,
  user = CONNECTOR.username,
): Acl {
  return {
    resourceType,
    resourceName,
    resourcePatternType: prefixed ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
    principal: `User:${user}`,
    host: '*',
    operation,
    permissionType: AclPermissionTypes.ALLOW,
  };
}

async function asAdmin<T>(s: StackInfo, fn: (admin: kafkajs.Admin) => Promise<T>): Promise<T> {
  const admin = kafkaFor(s).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

async function readyz(port: number): Promise<{ status: number; checks: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, unknown> }).checks };
}

test('real broker with ACLs: the delivery topic WRITE ACL deleted → not ready naming TOPIC_AUTHORIZATION_FAILED, intake paused, nothing dead-lettered or committed past it, the process up; ACL back → ready, every event, each segment accepted once', async (t) => {
  const s = stack!;
  const topics = uniqueTopics('authz');
  const groupId = uniqueGroupId('authz');
  const connectorEnv = {
    KAFKA_GROUP_ID: groupId,
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: CONNECTOR.username,
    KAFKA_SASL_PASSWORD: CONNECTOR.password,
    // the connector may not create topics here (no CREATE ACL): the super user made them
    TOPIC_AUTO_CREATE: 'false',
  };
  // The topics exactly as the connector's start-up would create them (partitions, compaction, sizes).
  const plans = topicsToEnsure(loadConfig(testEnv(s, topics, 2775, connectorEnv)));
  const deliveryWrite = allow(AclResourceTypes.TOPIC, topics.delivery, AclOperationTypes.WRITE);
  await asAdmin(s, async (admin) => {
    await ensureTopics(admin, plans, true);
    const T = AclResourceTypes.TOPIC;
    const { READ, WRITE, DESCRIBE } = AclOperationTypes;
    await admin.createAcls({
      acl: [
        // --consumer on the requests
        allow(T, topics.outbound, READ),
        allow(T, topics.outbound, DESCRIBE),
        // --producer on the events and the DLQ (WRITE and DESCRIBE as two ACLs, so WRITE alone can go)
        deliveryWrite,
        allow(T, topics.delivery, DESCRIBE),
        allow(T, topics.dlq, WRITE),
        allow(T, topics.dlq, DESCRIBE),
        // the correlation topics are written and read back (the index, the live state), and the
        // receipts topic (receipts forwarded to the replica owning them)
        ...[topics.correlation, topics.correlationLive, topics.receipts].flatMap((topic) => [
          allow(T, topic, READ),
          allow(T, topic, WRITE),
          allow(T, topic, DESCRIBE),
        ]),
        // its group, and the correlation readers' groups named after it (`<group>.correlation-tail.<uuid>` …)
        allow(AclResourceTypes.GROUP, groupId, READ, true),
        allow(AclResourceTypes.GROUP, groupId, DESCRIBE, true),
      ],
    });
  });

  // An ACL reaches the broker's authorizer through the metadata log, a moment after createAcls
  // returns: start once the connector's principal sees its topics (a start before failed on a
  // "missing" topic — listTopics leaves out what one may not DESCRIBE).
  const asConnector = { ...s, kafkaSasl: { mechanism: 'plain' as const, ...CONNECTOR } };
  await waitUntil(
    async () => {
      const visible = new Set(await asAdmin(asConnector, (admin) => admin.listTopics()));
      return plans.every((p) => visible.has(p.name));
    },
    30_000,
    'the ACLs in force',
  );

  const fx: PipelineFixture = await startPipeline('authz', { stack: s, topics, env: connectorEnv, simulator: { recordAccepted: true } });
  const delivery = await collectDelivery(fx);
  const dlq = await collectTopic(s, topics.dlq, async (v) => v);
  try {
    await waitUntil(() => fx.app.readiness().ready, 60_000, 'the connector ready with its ACLs');
    const before = Array.from({ length: 20 }, (_, i) => `authz-a-${i}`);
    const during = Array.from({ length: 60 }, (_, i) => `authz-b-${i}`);
    const ids = [...before, ...during];
    const request = (id: string, i: number) => ({ key: `k${i % 10}`, value: outbound(id, { to: `+39347${String(4000000 + i).slice(-7)}` }) });
    const events = () => delivery.records.map((r) => r.value);

    await produce(s, topics.outbound, fx.codec, before.map(request));
    await waitUntil(() => summarised(events(), before).done === before.length, 60_000, 'the first requests summarised');
    const { committed: committedBefore } = await committedVsEnd(fx);

    // The operator's mistake: the connector's WRITE on the delivery topic is deleted.
    const deleted = await asAdmin(s, (admin) => admin.deleteAcls({ filters: [deliveryWrite] }));
    assert.equal(deleted.filterResponses[0]?.matchingAcls.length, 1, 'the WRITE ACL was there and is gone');
    const revokedAt = Date.now();
    await produce(
      s,
      topics.outbound,
      fx.codec,
      during.map((id, i) => request(id, before.length + i)),
    );

    await waitUntil(() => fx.app.readiness().ready === false, 30_000, 'the replica not ready');
    const notReadyMs = Date.now() - revokedAt;
    const report = await readyz(fx.app.httpPort);
    assert.equal(report.status, 503, '/readyz answers 503');
    assert.equal(report.checks['producer'], 'not authorized: TOPIC_AUTHORIZATION_FAILED', '/readyz names the broker error');
    assert.equal(report.checks['kafka'], true, 'the broker itself is reachable: not reported as an outage');

    // Intake pauses: once what had passed the gate is done, no request reaches the SMSC.
    const duringSet = new Set(during);
    // every request before the deletion was summarised before it: what the SMSC accepted since is of the second batch
    const submittedDuring = () => fx.sim.acceptedSubmits().filter((a) => a.at >= revokedAt).length;
    await new Promise((r) => setTimeout(r, 2000));
    const atPause = fx.sim.stats().submitsReceived;
    await new Promise((r) => setTimeout(r, 5000));
    const whilePaused = fx.sim.stats().submitsReceived - atPause;
    assert.equal(whilePaused, 0, `${whilePaused} submits in 5 s while not authorized: intake did not pause`);
    const sentDuring = submittedDuring();
    assert.ok(sentDuring < during.length, `only what passed the gate before it closed reached the SMSC (${sentDuring} of ${during.length})`);

    // Nothing is dead-lettered, nothing of the second batch is on the delivery topic, no commit passes an unpublished event.
    assert.equal(dlq.records.length, 0, 'no DLQ record: an authorization failure is not a poison record');
    assert.equal(events().filter((e) => duringSet.has(e.id)).length, 0, 'no event of the second batch written (the topic refuses them)');
    const { committed: committedPaused, end } = await committedVsEnd(fx);
    assert.equal(end, ids.length);
    assert.ok(committedPaused <= before.length, `committed ${committedPaused} ≤ ${before.length}: no commit past an unpublished event`);
    assert.ok(committedPaused >= committedBefore, 'commits never go back');

    // The process is up and still not ready: it waits for the operator, it does not give up.
    assert.equal((await fetch(`http://127.0.0.1:${fx.app.httpPort}/healthz`)).status, 200, '/healthz: the process is alive');
    assert.equal(fx.app.readiness().checks['producer'], 'not authorized: TOPIC_AUTHORIZATION_FAILED');

    // The ACL back: ready again by itself, every request completes.
    await asAdmin(s, (admin) => admin.createAcls({ acl: [deliveryWrite] }));
    const restoredAt = Date.now();
    await waitUntil(() => fx.app.readiness().ready, 60_000, 'the replica ready again after the ACL is restored');
    const readyAgainMs = Date.now() - restoredAt;
    await waitUntil(() => summarised(events(), ids).done === ids.length, 90_000, 'every request summarised');
    await waitUntil(async () => (await committedVsEnd(fx)).committed === ids.length, 30_000, 'every offset committed');

    const all = events();
    const missing = ids.filter((id) => !all.some((e) => e.id === id && e.source === 'SUBMIT' && e.status === 'SUBMITTED'));
    assert.deepEqual(missing, [], 'every request SUBMITTED');
    for (const id of ids) {
      const summary = all.find((e) => e.id === id && e.source === 'SUMMARY');
      assert.equal(summary?.status, 'DELIVERED', `${id}: summary DELIVERED`);
    }
    // Duplicates: none after a fault that is no crash (docs/reliability.md §3). A batch written again
    // after a refusal may repeat an event, but with its eventId (consumers drop it); the SMSC took
    // each segment once.
    const submittedIds = (id: string) => new Set(all.filter((e: SmsDeliveryEvent) => e.id === id && e.status === 'SUBMITTED').map((e) => e.eventId));
    assert.deepEqual(
      ids.filter((id) => submittedIds(id).size !== 1),
      [],
      'one SUBMITTED eventId per (single-segment) request',
    );
    const accepted = fx.sim.acceptedSubmits();
    assert.equal(accepted.length, ids.length, 'the SMSC accepted each segment once');
    assert.equal(new Set(accepted.map((a) => a.digest)).size, ids.length);
    assert.equal(dlq.records.length, 0, 'still no DLQ record');
    t.diagnostic(
      `not ready ${notReadyMs} ms after the ACL was deleted; ${sentDuring} of ${during.length} requests had passed the gate; ` +
        `committed ${committedPaused} while paused; ready again ${readyAgainMs} ms after the ACL came back; ` +
        `${all.length - new Set(all.map((e) => e.eventId)).size} repeated events (same eventId)`,
    );
  } finally {
    await dlq.stop();
    await delivery.stop();
    await fx.stop();
  }
});

test('the publisher on the real broker: a principal without any ACL starts not authorized and waits; a WRITE lets it in; a topic without even DESCRIBE is TOPIC_AUTHORIZATION_FAILED too', async () => {
  const s = stack!;
  const { delivery: first, dlq: second } = uniqueTopics('authz-publisher');
  await asAdmin(s, (admin) =>
    ensureTopics(
      admin,
      [first, second].map((name) => ({ name, partitions: 1 })),
      true,
    ),
  );
  const config = loadClientConfig({
    KAFKA_BROKERS: s.kafkaBrokers,
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: NEWCOMER.username,
    KAFKA_SASL_PASSWORD: NEWCOMER.password,
  });
  const publisher = new Publisher(createKafka(config.kafka, testLogger));
  const grantWrite = (topic: string) =>
    asAdmin(s, (admin) => admin.createAcls({ acl: [allow(AclResourceTypes.TOPIC, topic, AclOperationTypes.WRITE, false, NEWCOMER.username)] }));
  const within = <T>(p: Promise<T>, ms: number, what: string) =>
    Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);
  try {
    // No WRITE anywhere: the idempotent producer's id is refused (KIP-679: IdempotentWrite or a WRITE on some topic).
    await publisher.connect();
    assert.equal(publisher.problem(), 'not authorized: CLUSTER_AUTHORIZATION_FAILED', 'start-up goes on, not ready, naming the refusal');
    assert.notEqual(publisher.whenAuthorized(), null, 'intake would wait');
    const firstSent = publisher.publish([{ topic: first, key: 'k', value: Buffer.from('one') }]);
    await grantWrite(first);
    await within(firstSent, 60_000, 'the record written once the WRITE ACL exists');
    assert.equal(publisher.problem(), null);
    assert.equal(publisher.whenAuthorized(), null);

    // A topic the principal may not even see: the metadata request is refused, the same error type.
    const secondSent = publisher.publish([{ topic: second, key: 'k', value: Buffer.from('two') }]);
    await waitUntil(() => publisher.problem() !== null, 30_000, 'the refusal seen');
    assert.equal(publisher.problem(), 'not authorized: TOPIC_AUTHORIZATION_FAILED');
    await grantWrite(second);
    await within(secondSent, 60_000, 'the record written once the WRITE ACL exists');
    assert.equal(publisher.problem(), null);
  } finally {
    await publisher.close(1000).catch(() => undefined);
  }
});

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node --import tsx src/cli.ts <args>` with exactly `env` (plus PATH); killed (and failed) after `timeoutMs`. */
function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
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
      reject(new Error(`${args.join(' ')} did not end within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const lastLine = (text: string): string => text.trimEnd().split('\n').at(-1) ?? '';
/** No stack trace anywhere: neither printed (`    at …`) nor logged (pino's `"stack"` field). */
const noStack = (run: CliRun): boolean => !/^\s+at /m.test(run.stderr + run.stdout) && !run.stdout.includes('"stack"') && !run.stderr.includes('"stack"');

const LOGIN_REFUSED =
  'KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD: the broker refused the login (SASL_AUTHENTICATION_FAILED: SASL PLAIN authentication failed: ' +
  'Authentication failed: Invalid username or password): check the user and password (and KAFKA_SASL_MECHANISM)';

test('a wrong KAFKA_SASL_PASSWORD: the connector stops at once, exit 2, one line naming KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD, the password nowhere; tail the same', async (t) => {
  const s = stack!;
  const topics = uniqueTopics('authz-login');
  const wrong = 'not-the-Connector-secret-7f3a';
  const sasl = { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: CONNECTOR.username, KAFKA_SASL_PASSWORD: wrong };

  // LOG_LEVEL=info: the start-up log (config, kafkajs' errors) is on stdout, and must not hold the password either.
  const started = Date.now();
  const run = await runCli(['run'], testEnv(s, topics, 2775, { ...sasl, LOG_LEVEL: 'info' }));
  const runMs = Date.now() - started;
  assert.equal(run.code, 2, `exit code of a configuration error\nstderr:\n${run.stderr}`);
  assert.deepEqual(run.stderr.trimEnd().split('\n'), [`configuration error: ${LOGIN_REFUSED}`], 'stderr: that one line');
  assert.ok(noStack(run), `no stack trace\n${run.stderr}\n${run.stdout}`);
  assert.ok(!run.stdout.includes(wrong) && !run.stderr.includes(wrong), 'the password is not printed');
  assert.ok(run.stdout.includes('"password":"[REDACTED]"'), 'the logged config shows it redacted');

  const tail = await runCli(['tail', '--max-events', '1'], {
    KAFKA_BROKERS: s.kafkaBrokers,
    SCHEMA_REGISTRY_URL: s.registryUrl,
    TOPIC_DELIVERY: topics.delivery,
    ...sasl,
  });
  assert.equal(tail.code, 2, `tail: exit code of a configuration error\nstderr:\n${tail.stderr}`);
  // kafkajs' own error lines (JSON) come first on a tool's stderr; the last line is ours.
  assert.equal(lastLine(tail.stderr), LOGIN_REFUSED);
  assert.ok(noStack(tail), `tail: no stack trace\n${tail.stderr}`);
  assert.ok(!tail.stdout.includes(wrong) && !tail.stderr.includes(wrong), 'tail: the password is not printed');
  assert.equal(tail.stdout, '', 'tail printed no event');
  t.diagnostic(`connector: exit ${run.code} after ${runMs} ms (process start included): ${lastLine(run.stderr)}`);
});

test('a login the broker takes but no ACL names: start-up (TOPIC_AUTO_CREATE=false) and tail name the topic as not authorized, not as missing', async (t) => {
  const s = stack!;
  const topics = uniqueTopics('authz-stranger');
  const env = testEnv(s, topics, 2775, {
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: STRANGER.username,
    KAFKA_SASL_PASSWORD: STRANGER.password,
    TOPIC_AUTO_CREATE: 'false',
  });
  // The topics exist (the super user made them): only this principal may not see them.
  await asAdmin(s, (admin) => ensureTopics(admin, topicsToEnsure(loadConfig(env)), true));

  const run = await runCli(['run'], { ...env, LOG_LEVEL: 'info' });
  assert.equal(run.code, 1, `start-up failed\nstderr:\n${run.stderr}`);
  const notAuthorized = `topic ${topics.outbound}: not authorized (TOPIC_AUTHORIZATION_FAILED): this principal has no DESCRIBE ACL on it`;
  assert.ok(run.stdout.includes(notAuthorized), `the log names the topic and the refusal\n${run.stdout}`);
  assert.ok(!run.stdout.includes('does not exist'), 'not reported as missing');
  assert.ok(!run.stdout.includes(STRANGER.password), 'the password is not printed');

  const tail = await runCli(['tail', '--max-events', '1'], {
    KAFKA_BROKERS: s.kafkaBrokers,
    SCHEMA_REGISTRY_URL: s.registryUrl,
    TOPIC_DELIVERY: topics.delivery,
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: STRANGER.username,
    KAFKA_SASL_PASSWORD: STRANGER.password,
  });
  assert.equal(tail.code, 1, `tail: exit 1\nstderr:\n${tail.stderr}`);
  assert.match(
    lastLine(tail.stderr),
    new RegExp(`^topic ${topics.delivery.replace(/\./g, '\\.')} \\(TOPIC_DELIVERY\\): not authorized \\(TOPIC_AUTHORIZATION_FAILED\\)`),
  );
  assert.ok(noStack(tail), `tail: no stack trace\n${tail.stderr}`);
  t.diagnostic(`tail: ${lastLine(tail.stderr)}`);
});
