import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outboundFromDecoded } from '../../src/kafka/outbound-shape.js';
import { PoisonRecordError } from '../../src/kafka/errors.js';

test('a decoded record missing required fields is SCHEMA_MISMATCH poison, naming the field', () => {
  assert.throws(
    () => outboundFromDecoded({ id: 'x', from: 'A', text: 't' }),
    (e: PoisonRecordError) => e.code === 'SCHEMA_MISMATCH' && /'to'/.test(e.message),
  );
  assert.throws(
    () => outboundFromDecoded({ id: 'x', from: 'A', to: '1', text: 't', encoding: 'LATIN1' }),
    (e: PoisonRecordError) => e.code === 'SCHEMA_MISMATCH' && /encoding/.test(e.message),
  );
});

test('optional fields get the schema defaults when an older writer lacks them', () => {
  const v = outboundFromDecoded({ id: 'x', from: 'A', to: '1', text: 't' });
  assert.equal(v.encoding, 'AUTO');
  assert.equal(v.requestDeliveryReport, true);
  assert.equal(v.scheduleAt, null);
  assert.equal(v.validUntil, null);
  assert.deepEqual(v.metadata, {});
});
