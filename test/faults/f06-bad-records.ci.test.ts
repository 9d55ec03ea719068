// Invariant (F6, docs/reliability.md §4): poison never blocks — each undecodable record gives
// exactly one DLQ record, each decodable-but-invalid record exactly one REJECTED/VALIDATION event,
// good records around them are unaffected, and the connector never restarts.
// CI volume: 1,000 records with 1 % bad (10 poison + 10 invalid) — the full-size mix (docs/reliability.md §9), scaled down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SmsOutbound } from '../../src/contracts.js';
import { LoadGenerator, report, verdict } from '../helpers/fault-oracle.js';
import { envNumber, startFaultPipeline } from '../helpers/faults.js';
import { committedVsEnd, produce, readDlq, waitUntil } from '../helpers/pipeline.js';

const GOOD = envNumber('KSC_F6_RECORDS', 1000);

test('F6: 1 % bad records → exactly one DLQ record or one REJECTED/VALIDATION event each; good records unaffected; no restart', async () => {
  const fx = await startFaultPipeline('f6', { env: { SMPP_SESSIONS: 'trx:2' } });
  try {
    await waitUntil(() => fx.sim.stats().bindsBySystemId['test'] === 2, 30000, 'sessions bound');
    const gen = new LoadGenerator(`f6-${Date.now()}`, { keys: 40, multipartEvery: 10 });
    const good = gen.next(GOOD);
    const template = fx.codec.encodeOutbound(good[0]!.value);
    const poison: Array<[string, Buffer | null]> = [
      ['BAD_MAGIC_BYTE', Buffer.concat([Buffer.from([1]), template.subarray(1)])],
      ['AVRO_DECODE', template.subarray(0, 12)],
      ['UNKNOWN_SCHEMA_ID', Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0x0e]), template.subarray(5)])],
      ['NULL_VALUE', null],
    ];
    const invalid: Array<[string, Partial<SmsOutbound>]> = [
      ['bad MSISDN', { to: '12345' }],
      ['empty text', { text: '' }],
      ['over the segment cap', { text: 'x'.repeat(153 * 10 + 1) }],
      ['sender too long', { from: 'SENDERTOOLONG1' }],
    ];
    const bad = Math.max(8, Math.round(GOOD / 100) * 2);
    const all: Array<{ key: string | null; value: SmsOutbound | Buffer | null }> = [];
    const poisonKeys = new Map<string, string>();
    const invalidIds = new Map<string, string>();
    const step = Math.floor(GOOD / bad);
    let b = 0;
    good.forEach((r, i) => {
      all.push({ key: r.key, value: r.value });
      if (i % step === step - 1 && b < bad) {
        if (b % 2 === 0) {
          const [code, bytes] = poison[(b / 2) % poison.length]!;
          const key = `f6-poison-${b}`;
          poisonKeys.set(key, code);
          all.push({ key, value: bytes });
        } else {
          const [what, o] = invalid[((b - 1) / 2) % invalid.length]!;
          const id = `f6-invalid-${b}`;
          invalidIds.set(id, what);
          all.push({ key: r.key, value: { ...r.value, id, ...o } });
        }
        b += 1;
      }
    });
    const t0 = Date.now();
    await produce(fx.stack, fx.topics.outbound, fx.codec, all);
    const goodIds = new Set(good.map((r) => r.value.id));
    const summarisedIds = () =>
      new Set(
        fx
          .events()
          .filter((e) => e.source === 'SUMMARY')
          .map((e) => e.id),
      );
    await waitUntil(
      () => {
        const s = summarisedIds();
        return [...goodIds, ...invalidIds.keys()].every((id) => s.has(id));
      },
      120000,
      'every good and invalid record summarised',
    );
    const elapsedMs = Date.now() - t0;
    const dlq = await readDlq(fx, (rs) => rs.length >= poisonKeys.size, 30000);
    await waitUntil(
      async () => {
        const { committed, end } = await committedVsEnd(fx);
        return committed === end;
      },
      30000,
      'offsets committed to the end',
    );
    await new Promise((r) => setTimeout(r, 1000)); // a late extra DLQ/REJECTED record would show now
    const dlq2 = await readDlq(fx, (rs) => rs.length > poisonKeys.size, 1500);

    const events = fx.events();
    const v = verdict({ records: good, accepted: fx.sim.acceptedSubmits(), events });
    const rejectedPerInvalid = [...invalidIds.keys()].map(
      (id) =>
        events.filter((e) => e.id === id && e.status === 'REJECTED' && e.source === 'CONNECTOR' && e.errorCategory === 'VALIDATION' && !e.retryable).length,
    );
    const dlqPerPoison = [...poisonKeys].map(
      ([key, code]) => dlq2.filter((d) => d.key === key && d.headers['__connect.errors.exception.class.name'] === code).length,
    );
    const restarts = fx.log.count('restarting the consumer') + fx.log.count('consumer crashed');
    const goodRejected = events.filter((e) => goodIds.has(e.id) && e.status === 'REJECTED').length;
    report('F6', {
      volume: `${GOOD} good + ${bad} bad (CI scale of the full-size 1 %)`,
      poison: poisonKeys.size,
      invalid: invalidIds.size,
      dlqRecords: dlq2.length,
      dlqExactlyOnce: dlqPerPoison.every((n) => n === 1),
      rejectedExactlyOnce: rejectedPerInvalid.every((n) => n === 1),
      goodRejected,
      missing: v.missing,
      duplicates: v.duplicates,
      orderViolations: v.orderViolations,
      restarts,
      bindAttempts: fx.sim.stats().bindAttempts,
      elapsedMs,
    });
    assert.ok(v.sent >= 500, 'minimum volume');
    assert.equal(dlq.length, poisonKeys.size);
    assert.deepEqual(
      dlqPerPoison,
      [...poisonKeys].map(() => 1),
      'exactly one DLQ record per poison record, with its error code',
    );
    assert.deepEqual(
      rejectedPerInvalid,
      [...invalidIds].map(() => 1),
      'exactly one REJECTED/VALIDATION event per invalid record',
    );
    for (const id of invalidIds.keys()) assert.ok(!events.some((e) => e.id === id && e.source === 'SUBMIT'), `${id}: never submitted`);
    assert.equal(v.missing, 0, `missing ${JSON.stringify(v.missingIds)}`);
    assert.equal(v.missingEvents, 0, `missing events ${JSON.stringify(v.missingEventIds)}`);
    assert.equal(v.duplicates, 0);
    assert.equal(v.orderViolations, 0);
    assert.equal(goodRejected, 0, 'good records unaffected');
    assert.equal(restarts, 0, 'no consumer restart');
    assert.equal(fx.sim.stats().bindAttempts, 2, 'no session restart');
  } finally {
    await fx.stop();
  }
});
