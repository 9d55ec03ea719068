/**
 * Homes (issue 20): every correlation entry of a request — its snapshot, each segment's final, a
 * multipart request's summary marker — lands in the correlation partition numbered like the
 * partition its outbound record was read from. So the replica that re-reads an outbound partition
 * after a crash or a rebalance finds what was submitted from it in one correlation partition.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { unpackCorrelation } from '../../src/kafka/correlation-bundle.js';
import { partitionForKey } from '../../src/kafka/partitioner.js';
import { summarised } from '../helpers/oracle.js';
import { outbound, produce, readDelivery, readTopic, startPipeline } from '../helpers/pipeline.js';

const PARTITIONS = 3;
const REQUESTS = 30;

test('a request’s snapshot, finals and summary marker land in the correlation partition of its outbound record', async () => {
  const fx = await startPipeline('homes', { env: { TOPIC_PARTITIONS: String(PARTITIONS) } });
  try {
    // Every third request has two segments (a marker too); keys spread the records over the partitions.
    const requests = Array.from({ length: REQUESTS }, (_, i) => ({
      key: `customer-${i}`,
      value: outbound(`home-${i}`, { text: i % 3 === 0 ? 'x'.repeat(200) : `home test ${i}` }),
    }));
    await produce(fx.stack, fx.topics.outbound, fx.codec, requests);
    const ids = requests.map((r) => r.value.id);
    const events = await readDelivery(fx, (es) => summarised(es, ids).done === ids.length);
    assert.equal(summarised(events, ids).done, ids.length, 'every request summarised');

    const homeOf = new Map(requests.map((r) => [r.value.id, partitionForKey(r.key, PARTITIONS)]));
    assert.equal(new Set(homeOf.values()).size, PARTITIONS, 'the records spread over every partition');
    const requestOfMessage = new Map(events.filter((e: SmsDeliveryEvent) => e.source === 'SUBMIT' && e.messageId).map((e) => [e.messageId!, e.id] as const));
    const expected = ids.length + requestOfMessage.size + ids.filter((_, i) => i % 3 === 0).length;
    const entries: Array<{ key: string; partition: number }> = [];
    await readTopic(
      fx.stack,
      fx.topics.correlation,
      async (v) => v,
      (records) => {
        entries.length = 0;
        for (const r of records) for (const [key] of unpackCorrelation(r.key!, r.value)) entries.push({ key, partition: r.partition });
        return entries.length >= expected;
      },
      30_000,
    );
    const requestOfEntry = (key: string): string | undefined =>
      key.startsWith('f:') ? requestOfMessage.get(key.slice(2)) : key.startsWith('r:') || key.startsWith('s:') ? key.slice(2) : undefined;
    const misplaced = entries.filter((e) => homeOf.get(requestOfEntry(e.key) ?? '') !== e.partition);
    assert.deepEqual(misplaced, [], 'entries outside their request’s home');
    const kinds = new Set(entries.map((e) => e.key.slice(0, 2)));
    assert.deepEqual([...kinds].sort(), ['f:', 'r:', 's:'], 'snapshots, finals and markers were all checked');
  } finally {
    await fx.stop();
  }
});
