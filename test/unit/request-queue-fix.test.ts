// kafkajs' RequestQueue with the idle-timer fix (src/kafka/request-queue-fix.ts): no timer while
// nothing is pending; a request that has to wait still gets its check, as in kafkajs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fixRequestQueueTimer } from '../../src/kafka/request-queue-fix.js';

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
