/**
 * Correlation bundles: what the publisher packs, the tail unpacks — every entry, once, in the
 * partition its own key hashes to, in the order written.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { BUNDLE_PREFIX, CorrelationBundler, ORIGIN_HEADER, unpackCorrelation } from '../../src/kafka/correlation-bundle.js';

const entryArb = fc.record({
  key: fc.oneof(
    fc.string({ minLength: 1, maxLength: 12 }).map((s) => `r:${s}`),
    fc.string({ minLength: 1, maxLength: 12 }).map((s) => `f:${s}`),
  ),
  value: fc
    .dictionary(
      fc.string({ maxLength: 6 }),
      fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.oneof(fc.string(), fc.constant(null)), { maxLength: 4 })),
    )
    .map(
      (v) => JSON.parse(JSON.stringify(v)) as unknown, // plain objects, as the pipeline's values are
    ),
});

function asBuffer(value: unknown): Buffer {
  return Buffer.from(typeof value === 'string' ? value : (value as Buffer));
}

describe('correlation bundles', () => {
  test('pack then unpack returns every entry once, each in its key’s partition, in order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.array(entryArb, { maxLength: 60 }), (partitions, entries) => {
        const bundler = new CorrelationBundler({ partitions, origin: 'proc-1' });
        const messages = bundler.pack(entries.map((e) => ({ key: e.key, json: JSON.stringify(e.value) })));
        assert.equal(new Set(messages.map((m) => m.partition)).size, messages.length, 'one bundle per partition');
        assert.ok(messages.length <= Math.min(partitions, entries.length));
        const unpacked: Array<[string, unknown]> = [];
        for (const m of messages) {
          assert.ok(String(m.key).startsWith(BUNDLE_PREFIX));
          assert.equal(m.headers?.[ORIGIN_HEADER], 'proc-1');
          const inBundle = unpackCorrelation(String(m.key), asBuffer(m.value));
          for (const [key] of inBundle) assert.equal(bundler.partitionFor(key), m.partition);
          // within a partition, the entries keep the order they were written in
          const expected = entries.filter((e) => bundler.partitionFor(e.key) === m.partition).map((e) => [e.key, e.value]);
          assert.deepEqual(inBundle, expected);
          unpacked.push(...inBundle);
        }
        assert.equal(unpacked.length, entries.length);
      }),
    );
  });

  test('two replicas put a key in the same partition, and bundle keys never repeat (compaction would drop one)', () => {
    const bundler = new CorrelationBundler({ partitions: 12, origin: 'proc-2' });
    const otherReplica = new CorrelationBundler({ partitions: 12, origin: 'proc-3' });
    const keys = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const entries = [
        { key: `r:req-${i % 7}`, json: '{}' },
        { key: `f:AGILE-${i}`, json: '{}' },
      ];
      for (const m of bundler.pack(entries)) {
        assert.ok(!keys.has(String(m.key)), `bundle key ${String(m.key)} repeated`);
        keys.add(String(m.key));
      }
      assert.equal(otherReplica.partitionFor(`r:req-${i % 7}`), bundler.partitionFor(`r:req-${i % 7}`));
      assert.equal(otherReplica.partitionFor(`f:AGILE-${i}`), bundler.partitionFor(`f:AGILE-${i}`));
    }
    const spread = new Set(Array.from({ length: 500 }, (_, i) => bundler.partitionFor(`r:req-${i}`)));
    assert.equal(spread.size, 12, 'keys spread over every partition');
  });

  test('an entry that names its partition goes there; the others where their keys hash; each partition keeps the order written', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 16 })
          .chain((partitions) =>
            fc.tuple(fc.constant(partitions), fc.array(fc.tuple(entryArb, fc.option(fc.nat(partitions - 1), { nil: undefined })), { maxLength: 60 })),
          ),
        ([partitions, written]) => {
          const bundler = new CorrelationBundler({ partitions, origin: 'proc-1' });
          const entries = written.map(([e, partition]) => ({ key: e.key, json: JSON.stringify(e.value), partition }));
          const expectedPartition = (e: (typeof entries)[number]) => e.partition ?? bundler.partitionFor(e.key);
          const messages = bundler.pack(entries);
          let read = 0;
          for (const m of messages) {
            const inBundle = unpackCorrelation(String(m.key), asBuffer(m.value));
            const expected = entries.filter((e) => expectedPartition(e) === m.partition).map((e) => [e.key, JSON.parse(e.json) as unknown]);
            assert.deepEqual(inBundle, expected);
            read += inBundle.length;
          }
          assert.equal(read, entries.length);
        },
      ),
    );
  });

  test('a named partition outside the topic is refused, naming the entry', () => {
    const bundler = new CorrelationBundler({ partitions: 4, origin: 'x' });
    for (const partition of [4, -1, 1.5, Number.NaN]) {
      assert.throws(() => bundler.pack([{ key: 'r:req-1', json: '{}', partition }]), /r:req-1 names partition .*; the topic has 4/);
    }
  });

  test('a record written before bundles (one entry per record) still reads', () => {
    const value = { v: 1, status: 'DELIVERED', errorCategory: null };
    assert.deepEqual(unpackCorrelation('f:AGILE-1', Buffer.from(JSON.stringify(value))), [['f:AGILE-1', value]]);
    assert.deepEqual(unpackCorrelation('r:req-1', null), [['r:req-1', null]]);
  });

  test('an unknown bundle version is an error, not a silent skip', () => {
    assert.throws(() => unpackCorrelation('b:x:1', Buffer.from('{"v":2,"e":[]}')), /unknown correlation bundle format \(v=2\)/);
    assert.throws(() => unpackCorrelation('b:x:1', Buffer.from('not json')));
  });

  test('a partition count that is not a positive integer is refused', () => {
    assert.throws(() => new CorrelationBundler({ partitions: 0, origin: 'x' }), /positive integer/);
  });
});
