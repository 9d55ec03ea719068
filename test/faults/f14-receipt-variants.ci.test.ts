// Invariant (F14, contract 5): whatever shape a receipt takes (a 60 KB message_payload included), every deliver_sm is answered, each
// distinct receipt is published exactly once and correlated to its request, and an unparseable one
// goes to the DLQ with its raw bytes — never dropped, never a stuck SMSC retry loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoadGenerator, report } from '../helpers/fault-oracle.js';
import { startFaultPipeline } from '../helpers/faults.js';
import { produce, readDlq, waitUntil } from '../helpers/pipeline.js';

type Variant = 'tlv-only' | 'text-only-10' | 'text-only-12' | 'out-of-order' | 'Text-capital' | 'duplicate' | 'payload-60KB' | 'unparseable';
const VARIANTS: Variant[] = ['tlv-only', 'text-only-10', 'text-only-12', 'out-of-order', 'Text-capital', 'duplicate', 'payload-60KB', 'unparseable'];
const PER_VARIANT = 5;
const BEFORE_RESP = 20;

function deliverSm(to: string, text: string, tlvs: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    service_type: '',
    source_addr_ton: 1,
    source_addr_npi: 1,
    source_addr: to.replace(/^\+/, ''),
    dest_addr_ton: 5,
    dest_addr_npi: 0,
    destination_addr: 'ACME',
    esm_class: 0x04,
    protocol_id: 0,
    priority_flag: 0,
    schedule_delivery_time: '',
    validity_period: '',
    registered_delivery: 0,
    replace_if_present_flag: 0,
    data_coding: 0,
    sm_default_msg_id: 0,
    short_message: Buffer.from(text, 'latin1'),
    ...tlvs,
  };
}

function variantFields(v: Variant, id: string, to: string): Record<string, unknown> {
  switch (v) {
    case 'tlv-only':
      return deliverSm(to, '', { receipted_message_id: id, message_state: 2 });
    case 'text-only-10':
      return deliverSm(to, `id:${id} sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:hello`);
    case 'text-only-12':
      return deliverSm(to, `id:${id} sub:001 dlvrd:001 submit date:250101120000 done date:250101120105 stat:DELIVRD err:000 text:hello`);
    case 'out-of-order':
      return deliverSm(to, `stat:UNDELIV err:201 done date:250101120105 id:${id} submit date:250101120000 dlvrd:000 sub:001 text:x`);
    case 'Text-capital':
      return deliverSm(to, `id:${id} sub:001 dlvrd:001 submit date:250101120000 done date:250101120105 stat:DELIVRD err:000 Text:Hello _@$`);
    case 'duplicate':
      return deliverSm(to, `id:${id} sub:001 dlvrd:001 submit date:250101120000 done date:250101120105 stat:DELIVRD err:000 text:dup`, {
        receipted_message_id: id,
        message_state: 2,
      });
    case 'payload-60KB':
      // The receipt in message_payload (sm_length 0) with a 60,000-character text: a ~60 KB PDU, over
      // node-smpp's 16 KiB read limit, that once dropped the link and came back in a reconnect loop.
      return deliverSm(to, '', {
        message_payload: Buffer.from(
          `id:${id} sub:001 dlvrd:001 submit date:250101120000 done date:250101120105 stat:DELIVRD err:000 text:${'x'.repeat(60_000)}`,
          'latin1',
        ),
      });
    case 'unparseable':
      return deliverSm(to, `garbage receipt for nobody ${id.slice(-6)} ###`);
  }
}

test('F14: receipt variants (before submit_sm_resp, TLV-only, text-only, 10/12-digit dates, out of order, Text:, duplicate, unparseable) → every deliver_sm answered, each distinct receipt published once, unparseable → DLQ with raw bytes', async () => {
  // phase 1: the SMSC sends each receipt BEFORE its submit_sm_resp
  const fx = await startFaultPipeline('f14', {
    env: { SMPP_SESSIONS: 'trx:2', SMPP_RESPONSE_TIMEOUT_MS: '5000' },
    behaviour: { receiptDelayMs: 0, responseLatencyMs: 600 },
  });
  try {
    await waitUntil(() => fx.sim.stats().bindsBySystemId['test'] === 2, 30000, 'sessions bound');
    const gen = new LoadGenerator(`f14-${Date.now()}`, { keys: 10 });
    const early = gen.next(BEFORE_RESP);
    await produce(
      fx.stack,
      fx.topics.outbound,
      fx.codec,
      early.map((r) => ({ key: r.key, value: r.value })),
    );
    const summaryOf = (id: string) => fx.events().find((e) => e.id === id && e.source === 'SUMMARY');
    await waitUntil(() => early.every((r) => summaryOf(r.value.id)), 60000, 'receipts-before-response requests summarised');
    const earlyReceipts = early.map((r) => fx.events().filter((e) => e.id === r.value.id && e.source === 'RECEIPT').length);

    // phase 2: the simulator's own receipts held back; hand-made variants injected
    fx.sim.setBehaviour({ receiptDelayMs: 600_000, responseLatencyMs: 0 });
    const late = gen.next(VARIANTS.length * PER_VARIANT);
    await produce(
      fx.stack,
      fx.topics.outbound,
      fx.codec,
      late.map((r) => ({ key: r.key, value: r.value })),
    );
    const submittedOf = (id: string) => fx.events().find((e) => e.id === id && e.status === 'SUBMITTED');
    await waitUntil(() => late.every((r) => submittedOf(r.value.id)), 60000, 'variant requests submitted');
    const statuses: Array<number | undefined> = [];
    const expectDlq: Buffer[] = [];
    for (let i = 0; i < late.length; i++) {
      const v = VARIANTS[i % VARIANTS.length]!;
      const r = late[i]!;
      const messageId = submittedOf(r.value.id)!.messageId!;
      const fields = variantFields(v, messageId, r.value.to);
      statuses.push(await fx.sim.sendDeliverSm('test', fields));
      if (v === 'duplicate') statuses.push(await fx.sim.sendDeliverSm('test', fields));
      if (v === 'unparseable') expectDlq.push(fields['short_message'] as Buffer);
    }
    const parseable = late.filter((_, i) => VARIANTS[i % VARIANTS.length] !== 'unparseable');
    await waitUntil(() => parseable.every((r) => summaryOf(r.value.id)), 30000, 'variant receipts published and summarised');
    const dlq = await readDlq(fx, (rs) => rs.length >= expectDlq.length, 20000);
    await new Promise((r) => setTimeout(r, 1000));
    const events = fx.events();
    const receiptsPer = (id: string) => events.filter((e) => e.id === id && e.source === 'RECEIPT');
    const perVariant: Record<string, number[]> = {};
    late.forEach((r, i) => {
      const v = VARIANTS[i % VARIANTS.length]!;
      (perVariant[v] ??= []).push(receiptsPer(r.value.id).length);
    });
    const unknown = events.filter((e) => e.id.startsWith('unknown:')).length;
    const dlqRawMatches = expectDlq.filter((raw) =>
      dlq.some((d) => d.value !== null && Buffer.compare(d.value, raw) === 0 && d.headers['__connect.errors.topic'] === 'smpp'),
    ).length;
    report('F14', {
      beforeResp: { requests: early.length, receiptsPublished: earlyReceipts.reduce((a, b) => a + b, 0) },
      injected: statuses.length,
      answered: statuses.filter((s) => s !== undefined).length,
      answeredNonZero: statuses.filter((s) => s !== 0).length,
      receiptsPerVariant: Object.fromEntries(Object.entries(perVariant).map(([k, v]) => [k, v.reduce((a, b) => a + b, 0)])),
      unknownIds: unknown,
      dlqUnparseable: `${dlqRawMatches}/${expectDlq.length}`,
      receiptsAckedAtSmsc: fx.sim.stats().receiptsAcked,
    });
    assert.deepEqual(
      earlyReceipts,
      early.map(() => 1),
      'receipt before submit_sm_resp: correlated and published once',
    );
    assert.ok(
      statuses.every((s) => s === 0),
      `every deliver_sm answered 0: ${JSON.stringify(statuses)}`,
    );
    for (const v of VARIANTS.filter((x) => x !== 'unparseable')) assert.deepEqual(perVariant[v], Array(PER_VARIANT).fill(1), `${v}: one receipt event each`);
    assert.deepEqual(perVariant['unparseable'], Array(PER_VARIANT).fill(0));
    const states = (id: string) => receiptsPer(id).map((e) => e.status);
    late.forEach((r, i) => {
      const v = VARIANTS[i % VARIANTS.length]!;
      if (v === 'out-of-order') assert.deepEqual(states(r.value.id), ['UNDELIVERED'], `${v}: status from text`);
      else if (v !== 'unparseable') assert.deepEqual(states(r.value.id), ['DELIVERED'], `${v}: status`);
    });
    assert.equal(unknown, 0, 'every parseable receipt correlated');
    assert.equal(dlqRawMatches, expectDlq.length, 'each unparseable receipt in the DLQ with its raw bytes');
    assert.equal(dlq.length, expectDlq.length, 'nothing else in the DLQ');
  } finally {
    await fx.stop();
  }
});
