import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { CONNECTOR_HEADERS, DLQ_HEADERS } from '../../src/kafka/sinks.js';
import { ECHO_KEY, shortenId } from '../../src/pipeline/request-bounds.js';
import { committedVsEnd, outbound, produce, readDlq, readTopic, startPipeline, waitUntil, type PipelineFixture, type ReadRecord } from '../helpers/pipeline.js';

async function readEvents(
  fx: PipelineFixture,
  done: (rs: ReadRecord<SmsDeliveryEvent>[]) => boolean,
  timeoutMs = 60_000,
): Promise<ReadRecord<SmsDeliveryEvent>[]> {
  return readTopic(fx.stack, fx.topics.delivery, async (v) => (await fx.codec.decodeRaw(v)) as unknown as SmsDeliveryEvent, done, timeoutMs);
}

const summaries = (rs: ReadRecord<SmsDeliveryEvent>[]) => new Map(rs.filter((r) => r.value.source === 'SUMMARY').map((r) => [r.value.id, r]));

async function offsetsReachTheEnd(fx: PipelineFixture): Promise<void> {
  await waitUntil(
    async () => {
      const { committed, end } = await committedVsEnd(fx);
      return committed === end;
    },
    30_000,
    'offsets committed to the end',
  );
}

test('events Kafka refuses (delivery topic max.message.bytes 2 KB) go to the DLQ named MESSAGE_TOO_LARGE and are written shrunk; the good events around them are acknowledged and nothing stalls', async () => {
  const fx = await startPipeline('refused', { precreate: { delivery: [{ name: 'max.message.bytes', value: '2048' }] } });
  try {
    const ids = Array.from({ length: 36 }, (_, i) => `req-${i}`);
    const big = new Set(ids.filter((_, i) => i % 6 === 3));
    // 3,000 bytes of metadata: within REQUEST_MAX_METADATA_BYTES, so the request is valid — but every
    // event echoing it is over the topic's 2 KB.
    await produce(
      fx.stack,
      fx.topics.outbound,
      fx.codec,
      ids.map((id) => ({
        key: `k-${id}`,
        value: outbound(id, big.has(id) ? { metadata: { blob: 'b'.repeat(3000) } } : {}),
      })),
    );
    const records = await readEvents(fx, (rs) => summaries(rs).size === ids.length);
    const byId = summaries(records);
    for (const id of ids) {
      const s = byId.get(id);
      assert.ok(s, `${id} has a SUMMARY`);
      assert.equal(s.value.status, 'DELIVERED', `${id} delivered`);
      if (big.has(id)) {
        assert.equal(s.headers[CONNECTOR_HEADERS.shrunk], 'MESSAGE_TOO_LARGE', `${id}: written shrunk`);
        assert.deepEqual(s.value.metadata, {}, `${id}: metadata dropped in the shrunk event`);
      } else {
        assert.equal(s.headers[CONNECTOR_HEADERS.shrunk], undefined);
        assert.deepEqual(s.value.metadata, { test: 'yes' });
      }
    }
    const dlq = await readDlq(fx, (rs) => [...big].every((id) => rs.filter((r) => r.key === id).length >= 3), 30_000);
    for (const id of big) {
      const copies = dlq.filter((r) => r.key === id);
      assert.ok(copies.length >= 3, `${id}: SUBMITTED, RECEIPT and SUMMARY each dead-lettered (${copies.length})`);
      for (const c of copies) {
        assert.equal(c.headers[DLQ_HEADERS.code], 'MESSAGE_TOO_LARGE');
        assert.equal(c.headers[DLQ_HEADERS.topic], fx.topics.delivery);
        const full = (await fx.codec.decodeRaw(c.value)) as unknown as SmsDeliveryEvent;
        assert.equal(full.metadata['blob']?.length, 3000, 'the DLQ copy is the whole event');
      }
    }
    assert.ok(
      dlq.every((r) => big.has(r.key ?? '')),
      'only the oversized requests were dead-lettered',
    );
    await offsetsReachTheEnd(fx);
    assert.equal(fx.app.readiness().checks['producer'], true, 'the producer is healthy again');
    const refused = await fx.app.metrics.registry.getSingleMetricAsString('sms_connector_publish_refused_total');
    assert.match(refused, /reason="MESSAGE_TOO_LARGE",outcome="dead-lettered"} [1-9]/);
  } finally {
    await fx.stop();
  }
});

test('a ~400 KB request (huge id, huge metadata) ends REJECTED VALIDATION with the field named, echoed within bounds; the records around it flow', async () => {
  // OUTBOUND_MAX_RECORD_BYTES (default 256 KiB) would dead-letter a 400 KB record before decoding
  // (RECORD_TOO_LARGE); raised here so the field bounds are what decides.
  const fx = await startPipeline('oversized', { env: { OUTBOUND_MAX_RECORD_BYTES: String(1024 * 1024) } });
  try {
    const hugeId = `huge-${'x'.repeat(200_000)}`;
    const hugeMetadata = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`key-${i}`, 'm'.repeat(1000)]));
    const good = Array.from({ length: 10 }, (_, i) => `ok-${i}`);
    await produce(fx.stack, fx.topics.outbound, fx.codec, [
      ...good.slice(0, 5).map((id) => ({ key: 'same-key', value: outbound(id) })),
      { key: 'same-key', value: outbound(hugeId, { metadata: hugeMetadata }) },
      { key: 'same-key', value: outbound('many-meta', { metadata: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }) },
      { key: 'same-key', value: outbound('long-text', { text: 't'.repeat(300_000) }) },
      // Poison near the outbound topic's own limit (broker default 1,048,588): its DLQ copy with our
      // headers would be over KAFKA_MAX_RECORD_BYTES, so it keeps its headers and loses its value.
      { key: 'near-limit-poison', value: Buffer.concat([Buffer.from([0x01]), Buffer.alloc(999_990, 0x41)]) },
      ...good.slice(5).map((id) => ({ key: 'same-key', value: outbound(id) })),
    ]);
    const shortId = shortenId(hugeId, 256);
    const records = await readEvents(fx, (rs) => summaries(rs).size === good.length + 3);
    const byId = summaries(records);
    for (const id of good) assert.equal(byId.get(id)?.value.status, 'DELIVERED', `${id} delivered`);

    const rejected = records.filter((r) => r.value.id === shortId);
    assert.deepEqual(
      rejected.map((r) => `${r.value.source}/${r.value.status}/${r.value.errorCategory}`),
      ['CONNECTOR/REJECTED/VALIDATION', 'SUMMARY/REJECTED/VALIDATION'],
    );
    const event = rejected[0]!.value;
    assert.equal(event.errorDescription, 'id: 200005 characters; at most 256 allowed (REQUEST_MAX_ID_CHARS)');
    assert.equal(event.id.length, 256);
    assert.equal(rejected[0]!.key, shortId, 'keyed by the shortened id');
    assert.equal(event.metadata[ECHO_KEY.shortened], 'id,metadata');
    assert.match(
      event.metadata[ECHO_KEY.record] ?? '',
      new RegExp(`^${fx.topics.outbound.replace(/\./g, '\\.')}/\\d+/5$`),
      'the Kafka coordinates of the request',
    );
    assert.ok(Object.keys(event.metadata).length <= 66, 'metadata within its bounds (+ the two echo entries)');

    assert.match(byId.get('many-meta')?.value.errorDescription ?? '', /^metadata: 65 entries; at most 64 allowed/);
    assert.match(byId.get('long-text')?.value.errorDescription ?? '', /^text: text has 300000 characters; at most 1600 fit/);
    await offsetsReachTheEnd(fx);
    const dlq = await readDlq(fx, (rs) => rs.length > 0, 30_000);
    assert.deepEqual(
      dlq.map((r) => r.key),
      ['near-limit-poison'],
      'only the poison record was dead-lettered; no event was refused',
    );
    assert.equal(dlq[0]!.value, null);
    assert.match(dlq[0]!.headers[CONNECTOR_HEADERS.valueOmitted] ?? '', /^999991 bytes, over KAFKA_MAX_RECORD_BYTES \(1000000\)$/);
    // The coordinates of the original, to read it there: the only record under its key, so offset 0.
    assert.equal(dlq[0]!.headers[DLQ_HEADERS.topic], fx.topics.outbound);
    assert.equal(dlq[0]!.headers[DLQ_HEADERS.offset], '0');
  } finally {
    await fx.stop();
  }
});
