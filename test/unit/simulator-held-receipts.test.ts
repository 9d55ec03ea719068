/**
 * Invariant: with `holdReceipts` the simulator sends no receipt until `releaseHeldReceipts()`, then
 * every held receipt exactly once — in submit order for `fifo`, shuffled for `random` — and never
 * more than `maxInFlight` unacknowledged; the packed store gives back every field as it was held.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, test } from 'node:test';
import { HeldReceiptStore, releaseOrder, type HeldFacts } from '../../src/simulator/held-receipts.js';
import { startSimulator, type Simulator } from '../../src/simulator/simulator.js';
import type { DeliverSm } from '../../src/smpp/protocol/types.js';
import { SmppPool } from '../../src/smpp/session/pool.js';
import { fastSessionOptions, gsmSubmit, waitFor } from '../integration/smpp-helpers.js';

const COUNT = 200;

describe('simulator: held receipts over a real socket', () => {
  let sim: Simulator;
  let pool: SmppPool;
  const received: DeliverSm[] = [];
  // Acknowledgements wait this long, so that receipts pile up in flight when the release lets them.
  let ackDelayMs = 0;
  let inHandler = 0;
  let maxInHandler = 0;

  before(async () => {
    sim = await startSimulator({ plainPort: 0, behaviour: { throughputPerSecond: 1_000_000, receiptDelayMs: 0, holdReceipts: true } });
    // One trx bind: one TCP connection keeps the order in which the simulator sends.
    pool = new SmppPool({ spec: 'trx:1', maxBinds: 4, session: fastSessionOptions(sim.plainPort as number, { rateLimit: 100_000 }) });
    pool.onDeliverSm(async (deliverSm) => {
      received.push(deliverSm);
      inHandler += 1;
      maxInHandler = Math.max(maxInHandler, inHandler);
      if (ackDelayMs > 0) await new Promise((r) => setTimeout(r, ackDelayMs));
      inHandler -= 1;
      return 0;
    });
    pool.start();
    await waitFor(() => pool.boundCount() === 1, 3_000, 'trx bound');
  });

  after(async () => {
    await pool.close();
    await sim.close();
  });

  /** Submits `COUNT` messages with receipts requested; their message ids in submit order. */
  async function submitAll(tag: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      const result = await pool.submit(`k${i}`, gsmSubmit(`39333${String(i).padStart(7, '0')}`, `${tag} ${i}`, 1));
      assert.ok(result.kind === 'response' && result.commandStatus === 0 && result.messageId, `submit ${i} accepted`);
      ids.push(result.messageId);
    }
    return ids;
  }

  const receivedIds = (from: number): string[] => received.slice(from).map((d) => d.receiptedMessageId ?? '');

  it('held receipts are not sent, even after a later receipt that was not held has arrived', async () => {
    const ids = await submitAll('held');
    assert.equal(sim.stats().receiptsHeld, COUNT);
    // Not a sleep: a receipt sent after the held ones were accepted (delay 0) arriving first shows
    // that none of those was on its way.
    sim.setBehaviour({ holdReceipts: false });
    const control = await pool.submit('control', gsmSubmit('393330000999', 'control', 1));
    assert.ok(control.kind === 'response' && control.messageId);
    await waitFor(() => received.some((d) => d.receiptedMessageId === control.messageId), 3_000, 'the control receipt');
    assert.deepEqual(receivedIds(0), [control.messageId]);
    assert.equal(sim.stats().receiptsHeld, COUNT);
    sim.setBehaviour({ holdReceipts: true });

    // Then released in submit order: all of them, each once, in that order.
    const from = received.length;
    assert.equal(sim.releaseHeldReceipts({ order: 'fifo' }), COUNT);
    await waitFor(() => sim.stats().receiptsPending === 0 && received.length - from === COUNT, 5_000, 'every released receipt acknowledged');
    assert.deepEqual(receivedIds(from), ids);
    assert.equal(sim.stats().receiptsHeld, 0);
  });

  it('a random release sends every held receipt once, in an order other than the submit order, at most maxInFlight at a time', async () => {
    const ids = await submitAll('random');
    const from = received.length;
    const acked0 = sim.stats().receiptsAcked;
    ackDelayMs = 20;
    maxInHandler = 0;
    assert.equal(sim.releaseHeldReceipts({ order: 'random', maxInFlight: 4 }), COUNT);
    await waitFor(() => sim.stats().receiptsAcked - acked0 === COUNT, 10_000, 'every released receipt acknowledged');
    ackDelayMs = 0;
    const got = receivedIds(from);
    assert.deepEqual([...got].sort(), [...ids].sort(), 'the same receipts, each once');
    // A uniform shuffle of 200 equals the identity with probability 1/200!: this cannot flake.
    assert.notDeepEqual(got, ids);
    assert.ok(maxInHandler >= 2 && maxInHandler <= 4, `in flight at most 4 (saw ${maxInHandler})`);
  });

  it('a release with nothing held sends nothing', () => {
    assert.equal(sim.releaseHeldReceipts(), 0);
    assert.equal(sim.stats().receiptsHeld, 0);
  });
});

test('the same seed gives the same shuffle, and a shuffle is a permutation', () => {
  const a = releaseOrder(1000, 'random', 42);
  assert.deepEqual(a, releaseOrder(1000, 'random', 42));
  assert.notDeepEqual(a, releaseOrder(1000, 'random', 43));
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    [...releaseOrder(1000, 'fifo', 0)],
  );
});

test('the packed store gives back every field of every held receipt, across its 4 MiB chunks', () => {
  const store = new HeldReceiptStore();
  const facts = (i: number): HeldFacts => ({
    messageId: `AGILE-${String(i).padStart(8, '0')}-ABCDEF-012345-6789AB`,
    sourceAddr: i % 2 ? 'ACME' : '+393471234567',
    sourceAddrTon: i % 7,
    sourceAddrNpi: 1,
    destinationAddr: `+3934${String(i).padStart(8, '0')}`,
    destAddrTon: 1,
    destAddrNpi: i % 3,
    submittedAt: 1_700_000_000_000 + i,
    stat: i % 5 ? 'DELIVRD' : 'UNDELIV',
    err: i % 5 ? 0 : 201,
    textSample: Buffer.from(`Your code is ${i}`.slice(0, 20), 'ascii'),
  });
  const n = 60_000; // ~100 bytes each: more than one chunk
  for (let i = 0; i < n; i++) store.add(i % 2 ? 'test' : 'other', facts(i));
  assert.equal(store.size(), n);
  for (const i of [0, 1, 2, 41_000, 41_943, 41_944, n - 1]) {
    assert.deepEqual(store.get(i), { systemId: i % 2 ? 'test' : 'other', facts: facts(i) }, `record ${i}`);
  }
});
