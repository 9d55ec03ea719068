// Invariant (issue 21 §4, priority lanes): a request on the urgent topic overtakes a bulk backlog
// waiting for the same sessions — it is submitted within a second or so of being produced, while most
// of the backlog still waits — and both lanes are delivered in full, nothing twice, each lane's
// offsets committed to its end.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { committedVsEnd, kafkaFor, outbound, produce, readDelivery, startPipeline, waitUntil } from '../helpers/pipeline.js';

const BULK = 1000;
const URGENT = 10;

test('urgent requests overtake a bulk backlog on the same session; both lanes complete, nothing sent twice', async (t) => {
  const urgentTopic = `t.lanes-urgent.${randomUUID().slice(0, 8)}`;
  // one session at 98/s: the backlog takes ~10 s
  const fx = await startPipeline('lanes', { env: { TOPIC_OUTBOUND_URGENT: urgentTopic, SMPP_SESSIONS: 'trx:1', SMPP_WINDOW: '5' } });
  try {
    const noReport = { requestDeliveryReport: false };
    await produce(
      fx.stack,
      fx.topics.outbound,
      fx.codec,
      Array.from({ length: BULK }, (_, i) => ({ key: `bulk-${i}`, value: outbound(`bulk-${i}`, noReport) })),
    );
    await waitUntil(async () => fx.sim.stats().acceptedSubmits >= 100, 30000, 'the backlog is being sent');
    const producedAt = Date.now();
    await produce(
      fx.stack,
      urgentTopic,
      fx.codec,
      Array.from({ length: URGENT }, (_, i) => ({ key: `urgent-${i}`, value: outbound(`urgent-${i}`, noReport) })),
    );
    const submitted = (es: SmsDeliveryEvent[]) => es.filter((e) => e.source === 'SUBMIT' && e.status === 'SUBMITTED');
    const events = await readDelivery(fx, (es) => submitted(es).length >= BULK + URGENT, 90000);
    const done = submitted(events);
    assert.equal(done.length, BULK + URGENT, 'every request of both lanes submitted');
    assert.equal(new Set(done.map((e) => e.id)).size, BULK + URGENT, 'none twice');

    const urgent = done.filter((e) => e.id.startsWith('urgent-'));
    const lastUrgent = Math.max(...urgent.map((e) => e.submittedAt!));
    const waits = urgent.map((e) => e.submittedAt! - producedAt);
    const bulkAfter = done.filter((e) => e.id.startsWith('bulk-') && e.submittedAt! > lastUrgent).length;
    t.diagnostic(`urgent waits ${waits.join(', ')} ms; ${bulkAfter} bulk requests submitted after the last urgent one`);
    assert.ok(Math.max(...waits) < 3000, `urgent requests submitted within 3 s of being produced (waits ${waits.join(', ')} ms)`);
    assert.ok(bulkAfter >= BULK / 2, `the urgent requests went before most of the backlog (${bulkAfter} of ${BULK} bulk requests after them)`);

    await waitUntil(
      async () => {
        const bulkLane = await committedVsEnd(fx);
        const urgentLane = await urgentCommitted(fx, urgentTopic);
        return bulkLane.committed === bulkLane.end && urgentLane === URGENT;
      },
      20000,
      'both lanes committed to their ends',
    );
  } finally {
    await fx.stop();
  }
});

/** The urgent group's committed offsets on its topic, summed over partitions. */
async function urgentCommitted(fx: { stack: Parameters<typeof kafkaFor>[0]; config: { kafka: { groupId: string } } }, topic: string): Promise<number> {
  const admin = kafkaFor(fx.stack).admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId: `${fx.config.kafka.groupId}.urgent`, topics: [topic] });
    return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}
