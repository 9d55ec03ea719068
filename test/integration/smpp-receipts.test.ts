// Invariant: receipts may arrive on any rx/trx bind of the account; each is handed to the handler with
// its raw bytes and TLVs, and is answered only when the handler settles (0x64 → the SMSC re-sends).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SmppPool } from '../../src/smpp/session/pool.js';
import type { DeliverSm } from '../../src/smpp/protocol/types.js';
import { startSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { fastSessionOptions, gsmSubmit, waitFor } from './smpp-helpers.js';

describe('SMPP receipts', () => {
  let sim: Simulator;
  let pool: SmppPool;
  const received: DeliverSm[] = [];
  let refuseOnce = new Set<string>(); // destinations whose first receipt is answered 0x64

  before(async () => {
    sim = await startSimulator({
      plainPort: 0,
      behaviour: {
        receiptDelayMs: 20,
        receiptRetryMs: 200,
        outcomesByDestination: [{ pattern: '^4400000000\\d\\d$', outcome: { kind: 'failed', err: 201 } }],
      },
    });
    pool = new SmppPool({ spec: 'tx:1,rx:1', maxBinds: 4, session: fastSessionOptions(sim.plainPort as number) });
    pool.onDeliverSm(async (deliverSm) => {
      // The receipt's source is the original destination.
      if (refuseOnce.has(deliverSm.sourceAddr)) {
        refuseOnce.delete(deliverSm.sourceAddr);
        return 0x64;
      }
      received.push(deliverSm);
      return 0;
    });
    pool.start();
    await waitFor(() => pool.boundCount() === 2, 3_000, 'tx and rx bound');
  });

  after(async () => {
    await pool.close();
    await sim.close();
  });

  it('a delivered receipt arrives on the rx session (not the submitting tx) with raw bytes and TLVs', async () => {
    const text = 'hi_there @ $ ok';
    const result = await pool.submit('key-1', gsmSubmit('393331234567', text, 1));
    assert.ok(result.kind === 'response' && result.commandStatus === 0 && result.messageId);
    assert.match(result.messageId, /^AGILE-[0-9A-F]{8}-[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$/);
    assert.equal(result.sessionId, 'tx-0');
    await waitFor(() => received.some((d) => d.receiptedMessageId === result.messageId), 3_000, 'receipt');
    const receipt = received.find((d) => d.receiptedMessageId === result.messageId)!;
    assert.equal(receipt.sessionId, 'rx-1', 'delivered on a different session than the submit');
    assert.equal(receipt.esmClass & 0x3c, 0x04);
    assert.equal(receipt.messageState, 2);
    const raw = receipt.shortMessage.toString('latin1');
    assert.match(raw, /^id:AGILE-\S+ sub:001 dlvrd:001 submit date:\d{12} done date:\d{12} stat:DELIVRD err:000 text:/);
    assert.ok(raw.endsWith(`text:${text}`), `raw bytes kept: ${raw}`); // node-smpp would have turned _ @ $ into § ¡ ¤
    assert.equal(receipt.networkErrorCode, undefined);
  });

  it('a failed delivery carries stat UNDELIV, err:201 and network_error_code', async () => {
    const result = await pool.submit('key-2', gsmSubmit('440000000001', 'absent', 1));
    assert.ok(result.kind === 'response' && result.commandStatus === 0 && result.messageId);
    await waitFor(() => received.some((d) => d.receiptedMessageId === result.messageId), 3_000, 'receipt');
    const receipt = received.find((d) => d.receiptedMessageId === result.messageId)!;
    assert.equal(receipt.messageState, 5);
    assert.match(receipt.shortMessage.toString('latin1'), /dlvrd:000 .* stat:UNDELIV err:201 /);
    assert.deepEqual([...(receipt.networkErrorCode ?? [])], [3, 0, 201]);
  });

  it('a receipt answered 0x64 is re-sent by the SMSC and then acknowledged', async () => {
    const base = sim.stats();
    refuseOnce = new Set(['393339876543']);
    const result = await pool.submit('key-3', gsmSubmit('393339876543', 'retry me', 1));
    assert.ok(result.kind === 'response' && result.messageId);
    await waitFor(() => received.some((d) => d.receiptedMessageId === result.messageId), 3_000, 're-sent receipt');
    await waitFor(() => sim.stats().receiptsPending === 0, 2_000, 'every receipt acknowledged');
    assert.equal(sim.stats().receiptsRefused - base.receiptsRefused, 1);
    assert.equal(received.filter((d) => d.receiptedMessageId === result.messageId).length, 1);
  });
});
