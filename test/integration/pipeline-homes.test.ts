/**
 * Where correlation entries land (issue 20). A request's snapshot — and a multipart request's
 * finals and summary marker — land in the correlation partition numbered like the partition its
 * outbound record was read from (its home): the replica that re-reads an outbound partition after
 * a crash or a rebalance finds what was submitted from it in one correlation partition. Each
 * accepted segment's `m:` entry lands where its message id hashes instead — the partition a
 * receipt, which knows only that id, can be routed to — and a one-segment request's final with it:
 * that request lives on as its `m:` entry.
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

test('snapshots, multipart finals and markers land in the correlation partition of their outbound record; m: entries and one-segment finals where their message id hashes', async () => {
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
    // Every key the run must have written (snapshots are written once per segment, so count keys, not entries).
    const expected = new Set([
      ...ids.map((id) => `r:${id}`),
      ...ids.filter((_, i) => i % 3 === 0).map((id) => `s:${id}`),
      ...[...requestOfMessage.keys()].flatMap((m) => [`f:${m}`, `m:${m}`]),
    ]);
    const entries: Array<{ key: string; partition: number; value: unknown }> = [];
    await readTopic(
      fx.stack,
      fx.topics.correlation,
      async (v) => v,
      (records) => {
        entries.length = 0;
        for (const r of records) for (const [key, value] of unpackCorrelation(r.key!, r.value)) entries.push({ key, partition: r.partition, value });
        const seen = new Set(entries.map((e) => e.key));
        return [...expected].every((k) => seen.has(k));
      },
      30_000,
    );
    const requestOfEntry = (key: string): string | undefined =>
      key.startsWith('f:') ? requestOfMessage.get(key.slice(2)) : key.startsWith('r:') || key.startsWith('s:') ? key.slice(2) : undefined;
    const multipart = new Set(ids.filter((_, i) => i % 3 === 0));
    const byMessageId = (e: { key: string }) => e.key.startsWith('m:') || (e.key.startsWith('f:') && !multipart.has(requestOfEntry(e.key) ?? ''));
    const [byId, homed] = [entries.filter(byMessageId), entries.filter((e) => !byMessageId(e))];
    const messageEntries = byId.filter((e) => e.key.startsWith('m:'));
    const misplaced = homed.filter((e) => homeOf.get(requestOfEntry(e.key) ?? '') !== e.partition);
    assert.deepEqual(misplaced, [], 'entries outside their request’s home');
    const kinds = new Set(homed.map((e) => e.key.slice(0, 2)));
    assert.deepEqual([...kinds].sort(), ['f:', 'r:', 's:'], 'snapshots, finals and markers were all checked');

    // The default route's correlation id is the SMSC's message id itself (route-ids.ts).
    assert.deepEqual(new Set(messageEntries.map((e) => e.key.slice(2))), new Set(requestOfMessage.keys()), 'an m: entry for every accepted segment');
    const astray = byId.filter((e) => e.partition !== partitionForKey(e.key.slice(2), PARTITIONS));
    assert.deepEqual(astray, [], 'm: entries and one-segment finals outside the partition of their message id');
    assert.ok(
      byId.some((e) => e.key.startsWith('f:')),
      'one-segment finals were checked',
    );
    const wrongRequest = messageEntries.filter((e) => (e.value as { requestId?: string }).requestId !== requestOfMessage.get(e.key.slice(2)));
    assert.deepEqual(wrongRequest, [], 'm: entries naming another request');
    assert.ok(
      messageEntries.some((e) => e.partition !== homeOf.get(requestOfMessage.get(e.key.slice(2))!)),
      'some m: entries live outside their request’s home (else the check above says nothing new)',
    );
  } finally {
    await fx.stop();
  }
});
