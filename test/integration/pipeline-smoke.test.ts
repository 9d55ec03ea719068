import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outbound, produce, readDelivery, startPipeline, committedVsEnd, waitUntil } from '../helpers/pipeline.js';

test('a valid request gets SUBMITTED, a DELIVERED receipt and a DELIVERED summary; offsets reach the end', async () => {
  const fx = await startPipeline('smoke');
  try {
    await produce(fx.stack, fx.topics.outbound, fx.codec, [{ key: 'k1', value: outbound('req-1') }]);
    const events = await readDelivery(fx, (es) => es.some((e) => e.source === 'SUMMARY'), 60000);
    const kinds = events.map((e) => `${e.source}/${e.status}/${e.segment}`);
    assert.deepEqual(kinds, ['SUBMIT/SUBMITTED/1', 'RECEIPT/DELIVERED/1', 'SUMMARY/DELIVERED/0']);
    const receipt = events[1]!;
    assert.equal(receipt.id, 'req-1');
    assert.match(receipt.messageId ?? '', /^AGILE-/);
    assert.ok(receipt.doneAt !== null);
    assert.equal(receipt.to, '393471234567');
    assert.deepEqual(receipt.metadata, { test: 'yes' });
    await waitUntil(
      async () => {
        const { committed, end } = await committedVsEnd(fx);
        return committed === end;
      },
      20000,
      'offsets committed to the end',
    );
  } finally {
    await fx.stop();
  }
});
