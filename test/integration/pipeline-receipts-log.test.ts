/**
 * RECEIPTS_LOG=all (issue 20): every receipt the SMSC sends is written, as received, to the
 * receipts topic — keyed by its correlation id, so in the partition of its `m:` correlation entry —
 * and answered only once it is there. Read back, each record is the deliver_sm that produced a
 * RECEIPT event on the delivery topic.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { partitionForKey } from '../../src/kafka/partitioner.js';
import { deliverSmOf, type LoggedReceipt } from '../../src/pipeline/receipt-log.js';
import { parseReceipt } from '../../src/smpp/protocol/dlr.js';
import { summarised } from '../helpers/oracle.js';
import { outbound, produce, readDelivery, readTopic, startPipeline } from '../helpers/pipeline.js';

const PARTITIONS = 3;
const REQUESTS = 24;

test('RECEIPTS_LOG=all: every receipt is in the receipts topic as received, keyed by its correlation id, in the partition of its m: entry', async () => {
  const fx = await startPipeline('receipts-log', { env: { RECEIPTS_LOG: 'all', TOPIC_PARTITIONS: String(PARTITIONS) } });
  try {
    const requests = Array.from({ length: REQUESTS }, (_, i) => ({
      key: `customer-${i}`,
      value: outbound(`log-${i}`, { text: i % 4 === 0 ? 'y'.repeat(200) : `receipt log ${i}` }),
    }));
    await produce(fx.stack, fx.topics.outbound, fx.codec, requests);
    const ids = requests.map((r) => r.value.id);
    const events = await readDelivery(fx, (es) => summarised(es, ids).done === ids.length);
    assert.equal(summarised(events, ids).done, ids.length, 'every request summarised');
    const receiptEvents = events.filter((e: SmsDeliveryEvent) => e.source === 'RECEIPT' && ids.includes(e.id));
    const submitted = events.filter((e: SmsDeliveryEvent) => e.source === 'SUBMIT' && e.messageId);
    assert.ok(receiptEvents.length >= submitted.length, 'a receipt per segment at least');

    const reported = new Set(receiptEvents.map((e) => e.messageId!));
    const logged = await readTopic(
      fx.stack,
      fx.topics.receipts,
      async (v) => JSON.parse(v!.toString('utf8')) as LoggedReceipt,
      (records) => records.length >= receiptEvents.length,
      30_000,
    );
    assert.equal(logged.length, receiptEvents.length, 'one record per receipt received (no re-sends in this run)');
    for (const r of logged) {
      const key = r.key!;
      assert.equal(r.partition, partitionForKey(key, PARTITIONS), `${key}: the partition of its m: entry`);
      const parsed = parseReceipt({ esmClass: r.value.esmClass, shortMessage: deliverSmOf(r.value).shortMessage, tlvs: {} });
      assert.ok(parsed.ok, `${key}: the logged bytes parse as a receipt`);
      assert.equal(parsed.receipt.messageId, key, 'keyed by the message id it reports (the default route: the id itself)');
      assert.ok(reported.has(key), `${key}: a RECEIPT event reports it`);
      assert.equal(r.value.route, 'default');
      assert.equal(r.headers['sms-connector.correlated'], 'local', 'marked as correlated where it was received');
    }
  } finally {
    await fx.stop();
  }
});
