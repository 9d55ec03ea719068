import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SmsDeliveryEvent, SmsOutbound } from '../../src/contracts.js';
import { collectDelivery, committedVsEnd, outbound, produce, readDlq, startPipeline, waitUntil } from '../helpers/pipeline.js';
import { acceptedByDigest, byRequest, distinct, planned, summarised, type PlannedRequest } from '../helpers/oracle.js';

/*
 * ~2,000 mixed records through real Kafka, the real registry and the simulator over sockets
 * (trx:4, the provider's default 100 submit_sm/s per connection — not raised: ~2,700 segments
 * take ~7 s at 4 × 98/s).
 */
const COUNT = 2000;
const KEYS = 97;
const FAILING_PREFIX = '39333000';
const LONG_GSM = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. ';
const CYRILLIC = 'Привет, это сообщение не в алфавите GSM';

type Kind = 'gsm' | 'ucs2' | 'long-gsm' | 'long-ucs2' | 'numeric-sender' | 'failing' | 'invalid';

function mixedRecord(i: number): { kind: Kind; value: SmsOutbound } {
  const id = `mix-${i}`;
  const to = `+39347${String(1000000 + i).slice(-7)}`;
  switch (i % 20) {
    case 8:
    case 9:
      return { kind: 'ucs2', value: outbound(id, { to, text: `Ciao 😀🎉 ${id} àèìòù €` }) };
    case 10:
    case 11: {
      // 3 or 4 GSM segments (153 septets each), `{` and `€` are escaped (2 septets)
      const parts = i % 2 === 0 ? 3 : 4;
      const text = `${id} {€} ` + LONG_GSM.repeat(8).slice(0, 153 * (parts - 1) + 40);
      return { kind: 'long-gsm', value: outbound(id, { to, text }) };
    }
    case 12:
      // UCS-2 multipart: 67 UTF-16 units per part → 3 parts; emoji never split across parts
      return { kind: 'long-ucs2', value: outbound(id, { to, text: `${id} ` + '😀ж'.repeat(60) }) };
    case 13:
      return { kind: 'numeric-sender', value: outbound(id, { to, from: '+393331234567', text: `numeric sender ${id}` }) };
    case 14:
      return { kind: 'failing', value: outbound(id, { to: `+${FAILING_PREFIX}${String(i).padStart(4, '0')}`, text: `absent ${id}` }) };
    case 15: {
      const variant = Math.floor(i / 20) % 5;
      const bad: Partial<SmsOutbound>[] = [
        { to: '12345' }, // too few digits
        { text: '' }, // empty text
        { text: 'x'.repeat(153 * 10 + 1) }, // 11 segments > SMS_MAX_SEGMENTS 10
        { text: CYRILLIC, encoding: 'GSM7' }, // GSM7 forced on non-GSM text
        { from: 'SENDERTOOLONG1' }, // alphanumeric sender over 11
      ];
      return { kind: 'invalid', value: outbound(id, { to, ...bad[variant] }) };
    }
    default:
      return { kind: 'gsm', value: outbound(id, { to, from: i % 2 ? 'ACME' : 'Shop 24', text: `Your code is ${i}. ${id} @£$¥` }) };
  }
}

test('mixed load: every valid record is SUBMITTED + receipt per segment + SUMMARY, invalid → REJECTED/VALIDATION, poison → exactly one DLQ record; offsets reach the end; throttled retried, each segment accepted once', async (t) => {
  const fx = await startPipeline('mixed', {
    env: { SMPP_SESSIONS: 'trx:4', SMPP_RESPONSE_TIMEOUT_MS: '5000' },
    behaviour: {
      outcomesByDestination: [{ pattern: `^${FAILING_PREFIX}`, outcome: { kind: 'failed', err: 201 } }],
    },
    simulator: { recordAccepted: true },
  });
  const delivery = await collectDelivery(fx);
  const t0 = Date.now();
  try {
    const records: Array<{ key: string | null; value: SmsOutbound | Buffer | null }> = [];
    const kinds = new Map<string, Kind>();
    const plans = new Map<string, PlannedRequest>();
    const invalid = new Set<string>();
    const poisonExpected = new Map<string, string>(); // key → error code
    const valid = fx.codec.encodeOutbound(outbound('poison-template'));
    const poison: Array<[string, Buffer | null]> = [
      ['BAD_MAGIC_BYTE', Buffer.concat([Buffer.from([1]), valid.subarray(1)])],
      ['AVRO_DECODE', valid.subarray(0, 12)],
      ['UNKNOWN_SCHEMA_ID', Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0x0f]), valid.subarray(5)])],
      ['NULL_VALUE', null],
    ];
    for (let i = 0; i < COUNT; i++) {
      const { kind, value } = mixedRecord(i);
      kinds.set(value.id, kind);
      const plan = planned(value);
      if (kind === 'invalid') {
        assert.equal(plan, null, `${value.id} should fail validation`);
        invalid.add(value.id);
      } else {
        assert.ok(plan, `${value.id} (${kind}) should plan`);
        if (kind === 'long-gsm') assert.ok(plan.digests.length >= 3 && plan.digests.length <= 4, `${value.id}: ${plan.digests.length} segments`);
        if (kind === 'long-ucs2') assert.equal(plan.digests.length, 3);
        plans.set(value.id, plan);
      }
      records.push({ key: `k${i % KEYS}`, value });
      if (i % 250 === 125) {
        const [code, bytes] = poison[((i / 250) % poison.length) | 0]!;
        const key = `poison-${i}`;
        poisonExpected.set(key, code);
        records.push({ key, value: bytes });
      }
    }
    assert.equal(poisonExpected.size, 8);
    const segmentsPlanned = [...plans.values()].reduce((n, p) => n + p.digests.length, 0);
    await produce(fx.stack, fx.topics.outbound, fx.codec, records);

    const allIds = [...plans.keys(), ...invalid];
    await waitUntil(
      () =>
        summarised(
          delivery.records.map((r) => r.value),
          allIds,
        ).done === allIds.length,
      90000,
      'a SUMMARY for every request',
    );
    const elapsedMs = Date.now() - t0;
    const dlq = await readDlq(fx, (rs) => rs.length >= poisonExpected.size, 30000);
    await waitUntil(
      async () => {
        const { committed, end } = await committedVsEnd(fx);
        return committed === end;
      },
      30000,
      'offsets committed to the end',
    );

    const events = distinct(delivery.records.map((r) => r.value));
    const perRequest = byRequest(events);
    for (const [id, plan] of plans) {
      const es = perRequest.get(id) ?? [];
      const kind = kinds.get(id)!;
      const n = plan.digests.length;
      const submitted = es.filter((e) => e.source === 'SUBMIT' && e.status === 'SUBMITTED');
      const receipts = es.filter((e) => e.source === 'RECEIPT');
      const summaries = es.filter((e) => e.source === 'SUMMARY');
      if (submitted.length !== n) t.diagnostic(`${id}: ${JSON.stringify(es.map((e) => [e.source, e.status, e.segment, e.errorCategory, e.errorDescription]))}`);
      assert.deepEqual(
        submitted.map((e) => e.segment).sort((a, b) => a - b),
        range(n),
        `${id}: one SUBMITTED per segment`,
      );
      assert.deepEqual(
        receipts.map((e) => e.segment).sort((a, b) => a - b),
        range(n),
        `${id}: one receipt per segment`,
      );
      assert.equal(summaries.length, 1, `${id}: one SUMMARY`);
      for (const r of receipts)
        checkReceipt(
          r,
          kind,
          submitted.find((s) => s.segment === r.segment)!,
        );
      assert.equal(summaries[0]!.status, kind === 'failing' ? 'UNDELIVERED' : 'DELIVERED', `${id}: summary`);
      assert.ok(
        es.every((e) => e.segments === n),
        `${id}: segments=${n} on every event`,
      );
    }
    for (const id of invalid) {
      const es = perRequest.get(id) ?? [];
      const rejected = es.filter((e) => e.status === 'REJECTED' && e.source === 'CONNECTOR');
      assert.equal(rejected.length, 1, `${id}: one REJECTED event`);
      assert.equal(rejected[0]!.errorCategory, 'VALIDATION');
      assert.equal(rejected[0]!.retryable, false);
      assert.ok(!es.some((e) => e.source === 'SUBMIT'), `${id}: never submitted`);
    }
    assert.ok(!events.some((e) => e.id.startsWith('unknown:')), 'every receipt correlated');

    // DLQ: exactly one record per poison record, with the Kafka Connect headers
    assert.equal(dlq.length, poisonExpected.size, 'one DLQ record per poison record');
    for (const [key, code] of poisonExpected) {
      const hits = dlq.filter((d) => d.key === key);
      assert.equal(hits.length, 1, `${key}: exactly one DLQ record`);
      const h = hits[0]!.headers;
      assert.equal(h['__connect.errors.topic'], fx.topics.outbound);
      assert.equal(h['__connect.errors.exception.class.name'], code, `${key}: error code`);
      assert.match(h['__connect.errors.partition'] ?? '', /^\d+$/);
      assert.match(h['__connect.errors.offset'] ?? '', /^\d+$/);
      assert.ok((h['__connect.errors.exception.message'] ?? '').length > 0);
    }

    // SMSC side: each planned segment accepted exactly once; throttling rare and fully retried
    const accepted = acceptedByDigest(fx.sim.acceptedSubmits());
    const stats = fx.sim.stats();
    const missing = [...plans.values()].flatMap((p) => p.digests).filter((d) => !accepted.has(d));
    const duplicates = [...accepted.values()].filter((n) => n > 1).length;
    t.diagnostic(
      `mixed: ${COUNT} records, ${segmentsPlanned} segments in ${elapsedMs} ms; accepted ${stats.acceptedSubmits}, ` +
        `throttled ${stats.throttled}, duplicates ${duplicates}, DLQ ${dlq.length}`,
    );
    assert.equal(missing.length, 0, 'every planned segment accepted by the SMSC');
    assert.equal(duplicates, 0, 'no segment accepted twice');
    assert.equal(stats.acceptedSubmits, segmentsPlanned, 'simulator accepted == segments planned');
    assert.ok(stats.throttled < stats.acceptedSubmits * 0.01, `throttled ${stats.throttled} < 1 % of ${stats.acceptedSubmits}`);
  } finally {
    await delivery.stop();
    await fx.stop();
  }
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

function checkReceipt(r: SmsDeliveryEvent, kind: Kind, submitted: SmsDeliveryEvent): void {
  assert.equal(r.messageId, submitted.messageId, `${r.id}/${r.segment}: receipt for the submitted message id`);
  assert.ok(r.doneAt !== null, `${r.id}: doneAt`);
  // doneAt has whole seconds (yyMMddHHmmss, UTC)
  assert.ok(r.doneAt >= Math.floor((submitted.submittedAt ?? 0) / 1000) * 1000 - 1000 && r.doneAt <= Date.now(), `${r.id}: doneAt plausible`);
  if (kind === 'failing') {
    assert.equal(r.status, 'UNDELIVERED');
    assert.equal(r.errorCategory, 'HLR ERROR');
    assert.equal(r.errorDescription, 'Absent subscriber');
    assert.equal(r.errorCode, 201);
  } else {
    assert.equal(r.status, 'DELIVERED', `${r.id}/${r.segment}: delivered`);
    assert.equal(r.errorCategory, null);
  }
}
