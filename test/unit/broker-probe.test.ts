// BrokerProbe (readiness "kafka" check, fault F4): reachable after a recent successful Metadata
// request; unreachable at once when a probe fails, and once a probe hangs longer than staleMs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Admin } from 'kafkajs';
import { BrokerProbe } from '../../src/kafka/broker-probe.js';

function fakeAdmin(behaviour: { mode: 'ok' | 'fail' | 'hang' }): Admin {
  return {
    fetchTopicMetadata: () =>
      behaviour.mode === 'ok'
        ? Promise.resolve({ topics: [] })
        : behaviour.mode === 'fail'
          ? Promise.reject(new Error('ECONNREFUSED'))
          : new Promise(() => undefined),
  } as unknown as Admin;
}

test('broker probe: ok → reachable; failed probe → unreachable; success again → reachable', async () => {
  let now = 1000;
  const b = { mode: 'ok' as 'ok' | 'fail' | 'hang' };
  const probe = new BrokerProbe(fakeAdmin(b), 't', 2000, 6000, () => now);
  await probe.probe();
  assert.equal(probe.reachable(), true);
  b.mode = 'fail';
  now += 2000;
  await probe.probe();
  assert.equal(probe.reachable(), false);
  b.mode = 'ok';
  now += 2000;
  await probe.probe();
  assert.equal(probe.reachable(), true);
});

test('broker probe: a hanging probe turns unreachable once the last success is older than staleMs', async () => {
  let now = 1000;
  const b = { mode: 'ok' as 'ok' | 'fail' | 'hang' };
  const probe = new BrokerProbe(fakeAdmin(b), 't', 2000, 6000, () => now);
  await probe.probe();
  b.mode = 'hang';
  void probe.probe();
  now += 5000;
  assert.equal(probe.reachable(), true, 'not stale yet');
  void probe.probe(); // one probe at a time: no pile-up behind the hung one
  now += 2000;
  assert.equal(probe.reachable(), false, 'stale after 6 s without an answer');
});
