// consumer_lag{lane, partition} shows only the partitions a lane's consumer holds now: a partition
// that moved to another replica, or a lane that left the group (the urgent lane without bind slots),
// must not keep reporting its last lag — summed over replicas it would count twice, or never fall.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { consumerObserver } from '../../src/app/instrument.js';
import { createMetrics } from '../../src/obs/metrics.js';

async function lagSeries(m: ReturnType<typeof createMetrics>): Promise<string[]> {
  const metric = await m.consumerLag.get();
  return metric.values.map((v) => `${v.labels.lane}/${v.labels.partition}=${v.value}`).sort();
}

test('lag of partitions no longer held is removed; the other lane is untouched', async () => {
  const m = createMetrics();
  const bulk = consumerObserver(m, 'bulk');
  const urgent = consumerObserver(m, 'urgent');
  bulk.holds!([0, 1, 2]);
  for (const p of [0, 1, 2]) bulk.lag!(p, 100 + p);
  urgent.holds!([0]);
  urgent.lag!(0, 7);
  bulk.holds!([1]); // a rebalance gave partitions 0 and 2 to another replica
  assert.deepEqual(await lagSeries(m), ['bulk/1=101', 'urgent/0=7']);
  urgent.holds!([]); // the urgent lane left the group
  assert.deepEqual(await lagSeries(m), ['bulk/1=101']);
  bulk.holds!([1, 2]);
  bulk.lag!(2, 5);
  assert.deepEqual(await lagSeries(m), ['bulk/1=101', 'bulk/2=5']);
});
