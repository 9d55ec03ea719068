// The kafkajs fixes (src/kafka/kafkajs-fixes.ts). The RequestQueue's idle timer: no timer while
// nothing is pending; a request that has to wait still gets its check, as in kafkajs. The Encoder's
// growth: record batches come out byte for byte as kafkajs alone writes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fixEncoderBuffers, fixRequestQueueTimer } from '../../src/kafka/kafkajs-fixes.js';

interface Queue {
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
  push(request: { entry: { correlationId: number }; expectResponse: boolean; sendRequest: () => void }): void;
  destroy(): void;
}
const RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as new (options: object) => Queue;
const logger = { debug() {}, info() {}, warn() {}, error() {} };
const queue = (maxInFlightRequests: number | null): Queue =>
  new RequestQueue({ maxInFlightRequests, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 't', broker: 'b', logger });

test('kafkajs request queue: an idle connection arms no timer once the fix is installed (kafkajs alone re-arms a 1 ms one for ever)', () => {
  const before = queue(null);
  before.checkPendingRequests();
  const armedWithoutFix = before.throttleCheckTimeoutId !== null;
  before.destroy();
  assert.equal(fixRequestQueueTimer(), true);
  assert.equal(fixRequestQueueTimer(), true, 'installing twice is harmless');
  const after = queue(null);
  after.checkPendingRequests();
  assert.equal(after.throttleCheckTimeoutId, null);
  after.destroy();
  // If this fails, kafkajs fixed its queue: the patch can go.
  assert.ok(armedWithoutFix, 'kafkajs 2.2.4 alone arms a timer on an idle queue');
});

test('kafkajs request queue with the fix: a request held back by the in-flight limit is sent once a slot frees', async () => {
  fixRequestQueueTimer();
  const q = queue(1);
  const sent: number[] = [];
  const request = (correlationId: number) => ({ entry: { correlationId }, expectResponse: true, sendRequest: () => sent.push(correlationId) });
  q.push(request(1));
  q.push(request(2)); // over the limit: pending, its check scheduled
  assert.deepEqual(sent, [1]);
  assert.notEqual(q.throttleCheckTimeoutId, null, 'the pending request has its check');
  (q as unknown as { inflight: Map<number, unknown> }).inflight.delete(1); // the response of 1
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(sent, [1, 2]);
  q.destroy();
});

type RecordBatchFn = (batch: {
  records: unknown[];
  producerId?: unknown;
  firstSequence?: number;
  firstTimestamp?: number;
  maxTimestamp?: number;
}) => Promise<{ buffer: Buffer }>;
type RecordFn = (record: { key: Buffer; value: Buffer; headers?: Record<string, Buffer>; offsetDelta: number }) => unknown;

test('kafkajs encoder with the growth fix: record batches of every size are the bytes kafkajs alone writes, from buffers that held other bytes before', async () => {
  const require = createRequire(import.meta.url);
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: RecordBatchFn };
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as RecordFn;
  const Long = require('kafkajs/src/utils/long.js') as { fromInt(n: number): unknown };
  // From a 10-byte value (no growth past the first 512 bytes) to 20 KiB (growth past Node's pool).
  const sizes = [10, 300, 600, 1_500, 5_000, 20_000];
  const encodeAll = () =>
    Promise.all(
      sizes.map((size, i) =>
        RecordBatch({
          records: Array.from({ length: 3 }, (_, k) =>
            Record({ key: Buffer.from(`key-${i}-${k}`), value: Buffer.alloc(size, 97 + k), headers: { origin: Buffer.from('replica-a') }, offsetDelta: k }),
          ),
          producerId: Long.fromInt(7),
          firstSequence: i,
          firstTimestamp: 1_700_000_000_000,
          maxTimestamp: 1_700_000_000_000,
        }),
      ),
    );
  const before = await encodeAll();
  assert.equal(fixEncoderBuffers(), true);
  assert.equal(fixEncoderBuffers(), true, 'installing twice is harmless');
  // Every buffer the patch takes comes full of 0xee, so one that exposed a byte it never wrote differs.
  const allocUnsafe = Buffer.allocUnsafe;
  Buffer.allocUnsafe = (size: number) => allocUnsafe(size).fill(0xee);
  const after = await encodeAll().finally(() => (Buffer.allocUnsafe = allocUnsafe));
  for (let i = 0; i < sizes.length; i++) assert.ok(after[i]!.buffer.equals(before[i]!.buffer), `a batch of ${sizes[i]}-byte values`);
  // An Encoder given its own first size writes what it is given, nothing more.
  const Encoder = require('kafkajs/src/protocol/encoder.js') as new (size?: number) => {
    writeInt32(v: number): { writeString(s: string): { buffer: Buffer } };
  };
  assert.deepEqual([...new Encoder(2048).writeInt32(7).writeString('ok').buffer], [0, 0, 0, 7, 0, 2, 111, 107]);
});
