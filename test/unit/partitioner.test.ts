import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { KeyHashPartitioner, murmur2OfKey, partitionForKey } from '../../src/kafka/partitioner.js';

// kafkajs' own murmur2 (the Long-based port of the Java client's): the reference we must match.
const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: string | Buffer) => number;

function metadata(count: number, leaderless: number[] = []): PartitionerArgs['partitionMetadata'] {
  return Array.from({ length: count }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: leaderless.includes(partitionId) ? -1 : 0,
    replicas: [0],
    isr: [0],
  }));
}

test('murmur2 equals kafkajs / the Java client for any string key (UTF-8 bytes, any length)', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 600 }), (key) => {
      assert.equal(murmur2OfKey(key), kafkajsMurmur2(key));
    }),
    { numRuns: 3000 },
  );
});

test('murmur2 equals kafkajs for byte keys, including high bytes in every position of a word', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const key = Buffer.from(bytes);
      assert.equal(murmur2OfKey(key), kafkajsMurmur2(key));
    }),
    { numRuns: 3000 },
  );
});

test('known values of the Java client: murmur2 of "21" and of the empty key', () => {
  // From Kafka's UtilsTest.testMurmur2: the same inputs and results.
  assert.equal(murmur2OfKey(Buffer.from('21')), -973932308);
  assert.equal(murmur2OfKey(Buffer.alloc(0)), 275646681);
});

test('partitioner picks the partition kafkajs DefaultPartitioner picks for keyed and explicit records', () => {
  const ours = KeyHashPartitioner();
  const theirs = Partitioners.DefaultPartitioner();
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), fc.integer({ min: 1, max: 64 }), (key, count) => {
      const args = { topic: 't', partitionMetadata: metadata(count), message: { key, value: null } };
      assert.equal(ours(args), theirs(args));
      assert.equal(partitionForKey(key, count), theirs(args));
    }),
  );
  assert.equal(ours({ topic: 't', partitionMetadata: metadata(12), message: { key: 'k', value: null, partition: 7 } }), 7);
});

test('a record without key goes round-robin over the partitions that have a leader', () => {
  const ours = KeyHashPartitioner();
  const seen = Array.from({ length: 30 }, () => ours({ topic: 't', partitionMetadata: metadata(6, [2, 4]), message: { key: null, value: null } }));
  assert.deepEqual(new Set(seen), new Set([0, 1, 3, 5]));
  for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1]);
});
