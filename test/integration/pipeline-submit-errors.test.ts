/**
 * The provider's submit error table end to end: the simulator answers submit_sm with the
 * provider's codes, and the delivery topic must carry each one with the table's category and
 * wording, tried as often as the table says; an SMSC that forgets its binds (0x04) costs a rebind,
 * not a message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SmsDeliveryEvent } from '../../src/contracts.js';
import { collectDelivery, outbound, produce, startPipeline, waitUntil } from '../helpers/pipeline.js';
import { byRequest, distinct, summarised } from '../helpers/oracle.js';
import { metricSum } from '../helpers/faults.js';

interface Case {
  id: string;
  prefix: string;
  status: number;
  hex: string;
  category: string;
  description: RegExp;
  attempts: number;
  validForMs?: number;
  summary: 'REJECTED' | 'EXPIRED';
}

const CASES: Case[] = [
  {
    id: 'sender-not-allowed',
    prefix: '39300000010',
    status: 0x402,
    hex: '0x402',
    category: 'SENDER',
    description: /^Sender ID not allowed/,
    attempts: 1,
    summary: 'REJECTED',
  },
  {
    id: 'bad-destination',
    prefix: '39300000020',
    status: 0x0b,
    hex: '0x0B',
    category: 'DESTINATION',
    description: /^Invalid destination address/,
    attempts: 1,
    summary: 'REJECTED',
  },
  {
    id: 'text-decoding',
    prefix: '39300000030',
    status: 0x45,
    hex: '0x45',
    category: 'ENCODING',
    description: /^Text decoding failed/,
    attempts: 2,
    summary: 'REJECTED',
  },
  {
    id: 'bad-schedule',
    prefix: '39300000040',
    status: 0x61,
    hex: '0x61',
    category: 'SCHEDULE',
    description: /^Invalid scheduled delivery time/,
    attempts: 1,
    summary: 'REJECTED',
  },
  // validUntil 30 s ahead, and the SMSC says it is already past: its clock is ahead of ours.
  {
    id: 'expiry-near',
    prefix: '39300000050',
    status: 0x62,
    hex: '0x62',
    category: 'VALIDITY',
    description: /./,
    attempts: 1,
    validForMs: 30_000,
    summary: 'EXPIRED',
  },
];

test('submit errors: each provider code ends with its category and wording, retried only as the table says', async () => {
  const fx = await startPipeline('submit-errors', {
    behaviour: {
      outcomesByDestination: CASES.map((c) => ({ pattern: `^${c.prefix}`, outcome: { kind: 'submit-error' as const, status: c.status } })),
    },
  });
  const delivery = await collectDelivery(fx);
  try {
    const now = Date.now();
    await produce(
      fx.stack,
      fx.topics.outbound,
      fx.codec,
      CASES.map((c) => ({ key: c.id, value: outbound(c.id, { to: `+${c.prefix}1`, ...(c.validForMs ? { validUntil: now + c.validForMs } : {}) }) })),
    );
    const ids = CASES.map((c) => c.id);
    const events = (): SmsDeliveryEvent[] => distinct(delivery.records.map((r) => r.value));
    await waitUntil(() => summarised(events(), ids).done === ids.length, 30_000, 'a SUMMARY for every request');
    const perRequest = byRequest(events());
    for (const c of CASES) {
      const es = perRequest.get(c.id) ?? [];
      const summary = es.find((e) => e.source === 'SUMMARY');
      assert.equal(summary?.status, c.summary, `${c.id}: ${JSON.stringify(es.map((e) => [e.source, e.status, e.errorCodeRaw]))}`);
      if (c.summary === 'EXPIRED') {
        assert.ok(!es.some((e) => e.status === 'REJECTED'), `${c.id}: expired in transit is not a rejection`);
        assert.equal(summary?.route, 'default', `${c.id}: the route it waited on`);
        continue;
      }
      const rejected = es.filter((e) => e.source === 'SUBMIT' && e.status === 'REJECTED');
      assert.equal(rejected.length, 1, `${c.id}: one SUBMIT/REJECTED`);
      const r = rejected[0]!;
      assert.equal(r.errorCode, c.status);
      assert.equal(r.errorCodeRaw, c.hex);
      assert.equal(r.errorCategory, c.category, c.id);
      assert.equal(r.route, 'default', `${c.id}: the route that refused it`);
      assert.match(r.errorDescription ?? '', c.description, c.id);
      assert.equal(r.attempts, c.attempts, `${c.id}: attempts`);
      assert.equal(summary?.errorCategory, c.category, `${c.id}: the summary keeps the category`);
    }
    const received = fx.sim.stats().submitsReceived;
    assert.equal(
      received,
      CASES.reduce((n, c) => n + c.attempts, 0),
      'the SMSC saw each attempt once, no more',
    );
  } finally {
    await delivery.stop();
    await fx.stop();
  }
});

test('0x04: the SMSC forgets every bind mid-run; sessions rebind and every request is still delivered once', async () => {
  const fx = await startPipeline('forgotten-binds', { simulator: { recordAccepted: true } });
  const delivery = await collectDelivery(fx);
  try {
    const ids = Array.from({ length: 40 }, (_, i) => `fb-${i}`);
    const first = ids.slice(0, 20);
    const rest = ids.slice(20);
    const events = (): SmsDeliveryEvent[] => distinct(delivery.records.map((r) => r.value));
    await produce(
      fx.stack,
      fx.topics.outbound,
      fx.codec,
      first.map((id) => ({ key: id, value: outbound(id, { to: `+39347${id.slice(3).padStart(7, '0')}` }) })),
    );
    await waitUntil(() => summarised(events(), first).done === first.length, 30_000, 'first half delivered');
    fx.sim.forgetBinds();
    await produce(
      fx.stack,
      fx.topics.outbound,
      fx.codec,
      rest.map((id) => ({ key: id, value: outbound(id, { to: `+39347${id.slice(3).padStart(7, '0')}` }) })),
    );
    await waitUntil(() => summarised(events(), ids).done === ids.length, 60_000, 'every request summarised after the SMSC forgot its binds');
    const perRequest = byRequest(events());
    for (const id of ids) assert.equal(perRequest.get(id)?.find((e) => e.source === 'SUMMARY')?.status, 'DELIVERED', id);
    assert.equal(fx.sim.acceptedSubmits().length, ids.length, 'each message accepted exactly once');
    assert.ok((await metricSum(fx.app, 'sms_connector_reconnects_total', { reason: 'smsc-not-bound' })) >= 1, 'rebound because of 0x04');
  } finally {
    await delivery.stop();
    await fx.stop();
  }
});
