/**
 * Real Kafka + Schema Registry for integration tests.
 *
 * Under `npm test` (test/run.ts) one stack serves the whole run: the orchestrator exports
 *   KSC_TEST_KAFKA_BROKERS, KSC_TEST_REGISTRY_URL, KSC_TEST_STACK_DIR
 * and testStack() only reads them.
 *
 * When a test file is run by hand (`node --import tsx --test test/integration/x.test.ts`), testStack()
 * starts (or reuses) a stack in <repo>/.local/test-stack on free ports and LEAVES IT RUNNING, so the next
 * run starts instantly. Stop it with:  npm run stack -- down --dir .local/test-stack
 *
 * Tests must not share topics or groups: use uniqueTopics() / uniqueGroupId().
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import { REPO_ROOT, stackUp, type StackInfo } from '../../tools/dev-stack/stack.js';
import { ensureTopics } from '../../src/kafka/client.js';

const { Kafka, logLevel } = kafkajs;

export type { StackInfo };

export const HAND_RUN_STACK_DIR = path.join(REPO_ROOT, '.local', 'test-stack');
/** Private stacks of hand-run tests; a folder name ends in -<pid>-<counter>-<hex>. */
export const PRIVATE_STACKS_DIR = path.join(REPO_ROOT, '.local', 'private-stacks');

let cached: Promise<StackInfo> | undefined;

function pidFrom(dir: string, role: 'kafka' | 'registry'): number {
  try {
    return Number(fs.readFileSync(path.join(dir, `${role}.pid`), 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

/** The stack this test process should use (started on demand when no orchestrator set one up). */
export function testStack(): Promise<StackInfo> {
  if (!cached) {
    const brokers = process.env['KSC_TEST_KAFKA_BROKERS'];
    const registryUrl = process.env['KSC_TEST_REGISTRY_URL'];
    if (brokers && registryUrl) {
      const dir = process.env['KSC_TEST_STACK_DIR'] ?? '';
      cached = Promise.resolve({
        kafkaBrokers: brokers,
        registryUrl,
        kafkaPid: dir ? pidFrom(dir, 'kafka') : 0,
        registryPid: dir ? pidFrom(dir, 'registry') : 0,
        dir,
      });
    } else {
      // hand run: a persistent stack on free ports (kept in the dir's stack.json and reused next time)
      cached = stackUp({ dir: HAND_RUN_STACK_DIR, verbose: true }).then((info) => {
        process.stderr.write(
          `# test stack left running in ${info.dir} (kafka ${info.kafkaBrokers}, registry ${info.registryUrl});` +
            ` stop it with: npm run stack -- down --dir .local/test-stack\n`,
        );
        return info;
      });
    }
  }
  return cached;
}

let counter = 0;

/**
 * A folder for a private stack (e.g. a registry a test restarts on its own). Under the orchestrator it
 * lies inside the run's stack dir, so test/run.ts stops it even when the test process dies before its
 * own cleanup; in a hand run it lies under .local/private-stacks/ (stale ones are swept by test/run.ts).
 * Stop it in the test's `finally` with stackDown({ dir }).
 */
export function privateStackDir(name: string): string {
  const shared = process.env['KSC_TEST_STACK_DIR'];
  const root = shared ? path.join(shared, 'private') : PRIVATE_STACKS_DIR;
  fs.mkdirSync(root, { recursive: true });
  return path.join(root, `${sanitize(name)}-${uniqueSuffix()}`);
}

function uniqueSuffix(): string {
  counter += 1;
  return `${process.pid}-${counter}-${randomBytes(3).toString('hex')}`;
}

function sanitize(name: string): string {
  return (
    name
      .replace(/[^a-zA-Z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'test'
  );
}

export interface TestTopics {
  outbound: string;
  delivery: string;
  dlq: string;
  correlation: string;
  correlationLive: string;
  inbound: string;
  /** Receipts as received or forwarded: created only when a test sets RECEIPTS_LOG=all or CORRELATION_OWNERSHIP=partitioned. */
  receipts: string;
}

/** Topic names unique to this call (pid + counter + random), readable in broker listings. */
export function uniqueTopics(testName: string): TestTopics {
  const base = `t.${sanitize(testName)}.${uniqueSuffix()}`;
  return {
    outbound: `${base}.sms-outbound`,
    delivery: `${base}.sms-delivery`,
    dlq: `${base}.sms-outbound-dlq`,
    correlation: `${base}.sms-correlation`,
    correlationLive: `${base}.sms-correlation-live`,
    inbound: `${base}.sms-inbound`,
    receipts: `${base}.sms-receipts`,
  };
}

export function uniqueGroupId(testName: string): string {
  return `g.${sanitize(testName)}.${uniqueSuffix()}`;
}

/** A unique schema-registry subject name (tests must not fight over compatibility of one subject). */
export function uniqueSubject(testName: string): string {
  return `s.${sanitize(testName)}.${uniqueSuffix()}-value`;
}

/** Creates the topics (if missing) and waits until each partition has a leader. */
export async function createTopics(brokers: string, names: string[], partitions = 1, configEntries: { name: string; value: string }[] = []): Promise<void> {
  const kafka = new Kafka({
    clientId: 'ksc-test-admin',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // The product's own set-up: it retries the transient "This server does not host this
    // topic-partition" a busy broker answers right after a create (a bare fetchTopicMetadata here
    // failed a CI run on it) and returns once every partition has a leader.
    await ensureTopics(
      admin,
      names.map((name) => ({ name, partitions, ...(configEntries.length > 0 ? { configEntries } : {}) })),
      true,
    );
  } finally {
    await admin.disconnect();
  }
}

/** Deletes topics, ignoring ones already gone (best-effort cleanup). */
export async function deleteTopics(brokers: string, names: string[]): Promise<void> {
  const kafka = new Kafka({ clientId: 'ksc-test-admin', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: names, timeout: 30_000 }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}
