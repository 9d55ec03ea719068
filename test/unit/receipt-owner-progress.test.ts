/**
 * ReceiptOwner without a broker (issue 20, step 7b): a fake kafkajs consumer whose batches the test
 * hands in, a fake admin, a real CorrelationIndex on a temporary store. What it must keep: the
 * progress of a partition (the store's checkpoint and the `o:` record for the next owner) never
 * passes a record not handled yet; a record that fails is tried again and holds the progress back
 * meanwhile, but not the records after it; an unreadable one is skipped; a released partition's
 * progress is written at once, at the lowest record still unhandled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import pino from 'pino';
import { ReceiptOwner } from '../../src/kafka/receipt-owner.js';
import type { ReceiptProgress } from '../../src/pipeline/correlation-index.js';
import type { CorrelationWrite } from '../../src/pipeline/outbound-processor.js';
import { loggedReceiptOf, type LoggedReceipt } from '../../src/pipeline/receipt-log.js';
import { UnreadableReceiptError } from '../../src/pipeline/receipt-processor.js';
import { receiptDeliverSm } from '../helpers/deliver-sm.js';
import { tempIndex } from '../helpers/temp-store.js';

const TOPIC = 'sms.receipts';
type EachBatch = (payload: { batch: { partition: number; messages: KafkaMessage[] }; heartbeat: () => Promise<void> }) => Promise<void>;

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
async function until(what: string, condition: () => boolean, turns = 2000): Promise<void> {
  for (let i = 0; i < turns && !condition(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(condition(), `timed out waiting for: ${what}`);
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

function record(offset: number, id: string): KafkaMessage {
  return {
    offset: String(offset),
    key: Buffer.from(id),
    value: Buffer.from(JSON.stringify(loggedReceiptOf(receiptDeliverSm(id), 'default'))),
    headers: {},
  } as unknown as KafkaMessage;
}

function harness(handle: (receipt: LoggedReceipt) => Promise<void>) {
  const index = tempIndex();
  let eachBatch!: EachBatch;
  const seeks: Array<{ partition: number; offset: string }> = [];
  const kafka = {
    consumer: () => ({
      events: { GROUP_JOIN: 'join', CRASH: 'crash' },
      connect: async () => undefined,
      subscribe: async () => undefined,
      on: () => () => undefined,
      pause: () => undefined,
      resume: () => undefined,
      seek: ({ partition, offset }: { partition: number; offset: string }) => void seeks.push({ partition, offset }),
      disconnect: async () => undefined,
      run: async (config: { eachBatch: EachBatch }) => void (eachBatch = config.eachBatch),
    }),
  } as unknown as Kafka;
  const admin = {
    fetchTopicOffsets: async () => [{ partition: 0, low: '0', high: '100' }],
    fetchTopicOffsetsByTimestamp: async () => [{ partition: 0, offset: '0' }],
  } as unknown as Admin;
  const progress: CorrelationWrite[] = [];
  const owner = new ReceiptOwner(
    {
      kafka,
      admin,
      index,
      handle: (receipt) => handle(receipt),
      caughtUp: async () => true,
      writeProgress: async (writes) => void progress.push(...writes),
      logger: pino({ level: 'silent' }),
    },
    { topic: TOPIC, groupPrefix: 'test', lookbackMs: 60_000 },
  );
  const batch = (partition: number, messages: KafkaMessage[]) => eachBatch({ batch: { partition, messages }, heartbeat: async () => undefined });
  const lastProgress = () => (progress.at(-1)?.value as ReceiptProgress | undefined)?.offset;
  return { index, owner, batch, seeks, progress, lastProgress };
}

test('the progress of a partition stays at its lowest unhandled record; a batch does not wait for it; release writes it at once', async () => {
  const slow = deferred();
  const handled: string[] = [];
  const h = harness(async (r) => {
    const id = r.receiptedMessageId ?? r.shortMessage;
    if (Buffer.from(r.shortMessage, 'base64').toString('latin1').includes('id:m2 ')) await slow.promise;
    handled.push(id);
  });
  await h.owner.start();
  await h.owner.follow([0]);
  assert.deepEqual(h.seeks, [{ partition: 0, offset: '0' }], 'no checkpoint, no progress: from the records of the lookback (offset 0 here)');
  // The batch returns while m2 waits: kafkajs can fetch again for every partition.
  await h.batch(
    0,
    [0, 1, 2, 3, 4].map((o) => record(o, `m${o}`)),
  );
  await until('the others handled', () => handled.length === 4);
  await h.index.written();
  assert.equal(h.index.checkpoints(TOPIC).get(0), '2', 'the checkpoint stops below m2');
  // Released while m2 still waits: its progress goes out at once, at m2.
  await h.owner.follow([]);
  assert.equal(h.lastProgress(), '2');
  assert.equal(h.progress.at(-1)?.partition, 0, 'in correlation partition 0');
  slow.resolve();
  await turn();
  await h.index.written();
  assert.equal(h.index.checkpoints(TOPIC).get(0), '2', 'a record finished after the release moves nothing: the next owner redoes it');
  await h.owner.stop();
});

test('a record that fails is tried again and holds the progress back until it is handled; an unreadable one is skipped', async () => {
  let failures = 1;
  const h = harness(async (r) => {
    const text = Buffer.from(r.shortMessage, 'base64').toString('latin1');
    if (text.includes('id:bad ')) throw new UnreadableReceiptError('not a deliver_sm');
    if (text.includes('id:flaky ') && failures-- > 0) throw new Error('delivery topic not writable');
  });
  await h.owner.start();
  h.index.checkpoint(TOPIC, 0, '10');
  await h.index.written();
  await h.owner.follow([0]);
  assert.deepEqual(h.seeks, [{ partition: 0, offset: '10' }], 'resumes from its checkpoint');
  await h.batch(0, [record(9, 'seen-before'), record(10, 'flaky'), record(11, 'bad'), record(12, 'fine')]);
  await turn();
  await h.index.written();
  assert.equal(h.index.checkpoints(TOPIC).get(0), '10', 'held at the failed record');
  await until('the retry', () => h.index.checkpoints(TOPIC).get(0) === '13', 1500);
  await h.owner.stop();
  assert.equal(h.lastProgress(), '13', 'and stop writes it for the next owner');
});
