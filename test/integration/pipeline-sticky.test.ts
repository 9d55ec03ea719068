/**
 * Sticky assignment (issue 20): a replica that stops and comes back under the same instance name,
 * on its own correlation store, gets back the partitions it held — kafkajs gives it a new member id,
 * so only what it announces (its instance, and the partitions its store followed last) can bring
 * them back. The leader's rule is unit-tested in test/unit/assigner.test.ts; this is the wiring on a
 * real group: the announcement on the wire, the store remembering, the member that covered giving back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import type { RunningApp } from '../../src/app/start.js';
import { decodeMember } from '../../src/kafka/assigner.js';
import { kafkaFor, startPipeline, startReplica, waitUntil } from '../helpers/pipeline.js';

const { AssignerProtocol } = kafkajs;

test('a replica restarted on its own store under its instance name gets back the partitions it held, from the one that covered for it', async () => {
  const dirs = [mkdtempSync(join(tmpdir(), 'ksc-sticky-x-')), mkdtempSync(join(tmpdir(), 'ksc-sticky-y-'))];
  const fx = await startPipeline('sticky', { env: { TOPIC_PARTITIONS: '4' } });
  // The two replicas in a group of their own (the fixture's connector sits in its group; nothing is
  // produced). Four partitions, one bind each: pod-x starts alone with all four and keeps the first
  // two when pod-y joins. While pod-x is away pod-y holds all four; when pod-x is back, pod-y keeps
  // the two pod-x's store did not follow — in partition order alone it would keep 0 and 1 and
  // hand pod-x the wrong two.
  const group = `${fx.config.kafka.groupId}.sticky`;
  const replicaEnv = (instance: string, dir: string) => ({
    KAFKA_GROUP_ID: group,
    SMPP_SESSIONS: 'trx:1',
    SMPP_ACCOUNT_MAX_BINDS: '4',
    CONNECTOR_INSTANCE_ID: instance,
    CORRELATION_STORE_DIR: dir,
  });
  const admin = kafkaFor(fx.stack).admin();
  const running: Partial<Record<'x' | 'y', RunningApp>> = {};
  /** Partitions per instance name while the group is stable, from what the members announce and were given. */
  const assignment = async (): Promise<Record<string, number[]> | null> => {
    const { groups } = await admin.describeGroups([group]);
    const found = groups[0];
    if (found?.state !== 'Stable') return null;
    return Object.fromEntries(
      found.members.map((m) => [
        decodeMember(m.memberMetadata).instance ?? `no instance (${m.memberId})`,
        [...(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[fx.topics.outbound] ?? [])].sort((a, b) => a - b),
      ]),
    );
  };
  const settled = async (holders: number): Promise<Record<string, number[]>> => {
    let last: Record<string, number[]> | null = null;
    await waitUntil(
      async () => {
        last = await assignment();
        return last !== null && Object.keys(last).length === holders && Object.values(last).every((p) => p.length === 4 / holders);
      },
      60_000,
      `${holders} members holding ${4 / holders} partitions each`,
    );
    return last!;
  };
  try {
    await admin.connect();
    running.x = await startReplica(fx, replicaEnv('pod-x', dirs[0]!));
    await settled(1);
    running.y = await startReplica(fx, replicaEnv('pod-y', dirs[1]!));
    assert.deepEqual(await settled(2), { 'pod-x': [0, 1], 'pod-y': [2, 3] });

    await running.x.stop();
    delete running.x;
    assert.deepEqual(await settled(1), { 'pod-y': [0, 1, 2, 3] });

    running.x = await startReplica(fx, replicaEnv('pod-x', dirs[0]!));
    assert.deepEqual(await settled(2), { 'pod-x': [0, 1], 'pod-y': [2, 3] }, 'each instance holds what it held before pod-x went away');
  } finally {
    await Promise.all(Object.values(running).map((app) => app.stop()));
    await admin.disconnect();
    await fx.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
});
