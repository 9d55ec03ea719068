// Invariant (hostile-SMSC fuzz, docs/reliability.md §9): whatever bytes an SMSC writes — malformed,
// surprising, split anywhere — the process never crashes, the session is never left deaf (after
// the fuzz a submit succeeds), and memory stays flat. Issue 17 cases: command_length below 16 and
// over the 72 KiB limit replace the session (reason pdu-framing), a legal deliver_sm with a 64 KB
// message_payload is handled, and a flood of deliver_sm sent without waiting for answers never
// leaves more than maxUnansweredDeliverSm of them unanswered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng } from '../../src/util/prng.js';
import { MAX_INBOUND_PDU_OCTETS } from '../../src/smpp/protocol/pdu-encode.js';
import { SmppSession } from '../../src/smpp/session/session.js';
import { report } from '../helpers/fault-oracle.js';
import { envNumber, heapAfterGc } from '../helpers/faults.js';
import { CMD, cstr, deliverSmBody, HostileSmsc, pdu, tlv } from '../helpers/hostile-smsc.js';
import { fastSessionOptions, gsmSubmit, waitFor } from '../integration/smpp-helpers.js';

const PDUS = envNumber('KSC_FUZZ_PDUS', 2500);
const SEED = envNumber('KSC_FUZZ_SEED', 0x5eed1234 ^ (Date.now() & 0xffff));
/** Small, so that the floods below reach it while receipt handlers take a few ms each. */
const DELIVER_SM_CAP = 20;
/** A message_payload at least this long marks the 64 KB case among the handled deliver_sm. */
const BIG_PAYLOAD = 60_000;

type Case = { kind: string; bytes: Buffer; splits: number[]; weight?: number };

function generator(rand: () => number) {
  const int = (n: number) => Math.floor(rand() * n);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const receiptText = (id: string) =>
    Buffer.from(
      [
        `id:${id} sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:x`,
        `stat:UNDELIV id:${id} err:21b`,
        `id:${id}`,
        `\u00ff\u00fe garbage`,
        '',
      ][int(5)]!,
      'latin1',
    );
  const randomSplits = (len: number) => Array.from({ length: int(4) }, () => 1 + int(Math.max(1, len - 1)));
  const seq = () => 1 + int(0x7ffffff0);
  const cases: Array<{ w: number; make: () => Omit<Case, 'splits'> & { splits?: number[] } }> = [
    { w: 6, make: () => ({ kind: 'random-bytes', bytes: bytes(1 + int(64)) }) },
    { w: 4, make: () => ({ kind: 'length<16', bytes: Buffer.concat([u32(int(16)), bytes(12)]) }) },
    { w: 4, make: () => ({ kind: 'huge-length', bytes: Buffer.concat([u32(0xf0000010), u32(CMD.deliver_sm), u32(0), u32(seq())]) }) },
    {
      w: 3,
      make: () => ({
        kind: 'over-limit-length',
        bytes: Buffer.concat([u32(MAX_INBOUND_PDU_OCTETS + 1 + int(0x10000)), u32(CMD.deliver_sm), u32(0), u32(seq()), bytes(int(64))]),
      }),
    },
    {
      w: 2,
      make: () => ({
        kind: 'deliver_sm-64KB-message_payload',
        bytes: pdu(
          CMD.deliver_sm,
          0,
          seq(),
          deliverSmBody({ esmClass: [0x00, 0x04][int(2)], smLength: 0, tlvs: [tlv(0x0424, Buffer.alloc(BIG_PAYLOAD + int(0xffff - BIG_PAYLOAD + 1), 0x41))] }),
        ),
      }),
    },
    {
      w: 2,
      make: () => ({
        kind: 'deliver_sm-flood',
        bytes: Buffer.concat(
          Array.from({ length: 50 + int(250) }, () => pdu(CMD.deliver_sm, 0, seq(), deliverSmBody({ text: receiptText(`HOSTILE-${int(1000)}`) }))),
        ),
      }),
    },
    { w: 1, make: () => ({ kind: 'truncated-length', bytes: u32(2 + int(14)).subarray(0, 4) }) },
    { w: 10, make: () => ({ kind: 'unknown-command', bytes: pdu(0x00000200 + int(0x7000), 0, seq(), bytes(int(20))) }) },
    { w: 8, make: () => ({ kind: 'generic_nack', bytes: pdu(CMD.generic_nack, int(0x110), seq()) }) },
    {
      w: 8,
      make: () => ({
        kind: 'stray-response',
        bytes: pdu([CMD.submit_sm_resp, CMD.enquire_link_resp, CMD.unbind_resp, CMD.bind_transceiver_resp][int(4)]!, int(3), seq(), cstr('X')),
      }),
    },
    {
      w: 14,
      make: () => ({
        kind: 'deliver_sm',
        bytes: pdu(
          CMD.deliver_sm,
          0,
          seq(),
          deliverSmBody({
            esmClass: [0x04, 0x00, 0x20, 0x08][int(4)],
            text: receiptText(`HOSTILE-${int(1000)}`),
            tlvs: rand() < 0.5 ? [tlv(0x001e, cstr(`HOSTILE-${int(1000)}`)), tlv(0x0427, Buffer.from([2]))] : [],
          }),
        ),
      }),
    },
    { w: 6, make: () => ({ kind: 'deliver_sm-bad-sm_length', bytes: pdu(CMD.deliver_sm, 0, seq(), deliverSmBody({ text: bytes(5), smLength: 200 })) }) },
    {
      w: 6,
      make: () => ({
        kind: 'deliver_sm-bad-tlv',
        bytes: pdu(CMD.deliver_sm, 0, seq(), Buffer.concat([deliverSmBody({ text: Buffer.from('id:1') }), Buffer.from([0x04, 0x27, 0xff, 0xff, 1])])),
      }),
    },
    { w: 6, make: () => ({ kind: 'deliver_sm-random-body', bytes: pdu(CMD.deliver_sm, 0, seq(), bytes(int(80))) }) },
    { w: 8, make: () => ({ kind: 'enquire_link', bytes: pdu(CMD.enquire_link, 0, seq()) }) },
    { w: 4, make: () => ({ kind: 'no-response-requests', bytes: pdu([CMD.outbind, CMD.alert_notification, CMD.data_sm][int(3)]!, 0, seq(), bytes(int(30))) }) },
    { w: 2, make: () => ({ kind: 'unbind', bytes: pdu(CMD.unbind, 0, seq()) }) },
    {
      w: 10,
      make: () => {
        const b = pdu(CMD.deliver_sm, 0, seq(), deliverSmBody({ text: receiptText(`HOSTILE-${int(1000)}`) }));
        return { kind: 'split-valid', bytes: b, splits: randomSplits(b.length) };
      },
    },
    { w: 4, make: () => ({ kind: 'byte-by-byte', bytes: pdu(CMD.enquire_link, 0, seq()), splits: Array.from({ length: 15 }, (_, i) => i + 1) }) },
    {
      w: 6,
      make: () => ({
        kind: 'concatenated',
        bytes: Buffer.concat([
          pdu(CMD.enquire_link, 0, seq()),
          pdu(CMD.generic_nack, 3, seq()),
          pdu(CMD.deliver_sm, 0, seq(), deliverSmBody({ text: Buffer.from('id:abc stat:DELIVRD') })),
        ]),
      }),
    },
  ];
  const total = cases.reduce((n, c) => n + c.w, 0);
  return (): Case => {
    let roll = int(total);
    for (const c of cases) {
      if (roll < c.w) {
        const made = c.make();
        return { ...made, splits: made.splits ?? (rand() < 0.2 ? randomSplits(made.bytes.length) : []) };
      }
      roll -= c.w;
    }
    throw new Error('unreachable');
  };
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

test(`hostile-SMSC fuzz: ≥ 2,000 malformed or surprising PDUs and byte splits → no crash, no deaf session (a submit succeeds after), memory flat`, async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  const smsc = await HostileSmsc.start();
  const session = new SmppSession(
    fastSessionOptions(smsc.port, {
      reconnectMinMs: 10,
      reconnectMaxMs: 50,
      enquireLinkMs: 250,
      enquireLinkTimeoutMs: 250,
      responseTimeoutMs: 1000,
      stableAfterMs: 60_000,
      maxUnansweredDeliverSm: DELIVER_SM_CAP,
    }),
  );
  let deliverSmHandled = 0;
  let bigPayloadsHandled = 0;
  let inHandler = 0;
  let peakInHandler = 0;
  session.onDeliverSm(async (d) => {
    deliverSmHandled += 1;
    if ((d.messagePayload?.length ?? 0) >= BIG_PAYLOAD) bigPayloadsHandled += 1;
    inHandler += 1;
    peakInHandler = Math.max(peakInHandler, inHandler);
    // a publisher that takes 0–3 ms: a flood outruns it
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 4)));
    inHandler -= 1;
    return 0;
  });
  const rand = prng(SEED);
  const next = generator(rand);
  const byKind: Record<string, number> = {};
  let injected = 0;
  let deafWaits = 0;
  let heapEarly = 0;
  const t0 = Date.now();
  try {
    session.start();
    await waitFor(() => session.state === 'bound', 5000, 'bound');
    while (injected < PDUS) {
      if (session.state !== 'bound' || smsc.bound() === 0) {
        // a destroyed session must come back by itself within the backoff + enquire deadline
        await waitFor(() => session.state === 'bound' && smsc.bound() > 0, 5000, `session rebound after ${injected} PDUs`);
        deafWaits += 1;
      }
      const c = next();
      if ((await smsc.inject(c.bytes, c.splits)) === 0) continue;
      injected += 1;
      byKind[c.kind] = (byKind[c.kind] ?? 0) + 1;
      if (injected % 25 === 0) await new Promise<void>((r) => setImmediate(r));
      if (injected % 200 === 0) {
        // the session is not deaf: a submit gets its answer
        await waitFor(() => session.state === 'bound', 5000, 'bound for a probe submit');
        const probe = await session.submit(gsmSubmit('393471111111', 'probe'));
        void probe; // may be ambiguous if a fuzz PDU kills the link meanwhile; the final check is strict
      }
      if (injected === 300) heapEarly = heapAfterGc();
    }
    // final: not deaf — bound again and a submit is answered
    let ok = false;
    for (let attempt = 0; attempt < 5 && !ok; attempt++) {
      await waitFor(() => session.state === 'bound', 5000, 'bound after the fuzz');
      const r = await session.submit(gsmSubmit('393471111112', 'after the fuzz'));
      ok = r.kind === 'response' && r.commandStatus === 0;
    }
    const heapLate = heapAfterGc();
    const stats = session.stats();
    const growthMb = (heapLate - heapEarly) / 1024 / 1024;
    report('FUZZ', {
      seed: SEED,
      pdus: injected,
      kinds: Object.keys(byKind).length,
      reconnects: Object.values(stats.reconnectsByReason).reduce((a, b) => a + b, 0),
      reconnectsByReason: stats.reconnectsByReason,
      deliverSmHandled,
      bigPayloadsHandled,
      deliverSmRespsSeen: smsc.counters.deliverSmResps,
      deliverSmCap: DELIVER_SM_CAP,
      peakUnanswered: peakInHandler,
      readPauses: session.deliverSmBackpressure().readPauses,
      uncaught: uncaught.length,
      submitAfterFuzz: ok,
      heapGrowthMb: Number(growthMb.toFixed(2)),
      libraryPendingCallbacks: session.libraryPendingCallbacks(),
      elapsedMs: Date.now() - t0,
      rebindWaits: deafWaits,
    });
    assert.ok(injected >= 2000, 'at least 2,000 hostile PDUs');
    assert.ok(
      peakInHandler <= DELIVER_SM_CAP && session.deliverSmBackpressure().peakUnanswered <= DELIVER_SM_CAP,
      `at most ${DELIVER_SM_CAP} unanswered deliver_sm (peak ${peakInHandler})`,
    );
    if ((byKind['deliver_sm-flood'] ?? 0) >= 3) assert.ok(session.deliverSmBackpressure().readPauses > 0, 'a flood reached the cap and paused reading');
    if ((byKind['deliver_sm-64KB-message_payload'] ?? 0) >= 3) assert.ok(bigPayloadsHandled > 0, 'a 64 KB message_payload deliver_sm was handled');
    if ((byKind['over-limit-length'] ?? 0) + (byKind['length<16'] ?? 0) > 0)
      assert.ok((stats.reconnectsByReason['pdu-framing'] ?? 0) > 0, 'bad lengths replaced the session as framing errors');
    assert.equal(uncaught.length, 0, `no uncaught exception: ${String(uncaught[0])}`);
    assert.ok(ok, 'a submit succeeds after the fuzz (no deaf session)');
    assert.ok(growthMb < 8, `heap grew ${growthMb.toFixed(1)} MB`);
    assert.ok(session.libraryPendingCallbacks() <= 2, 'no leaked library callbacks');
    assert.equal(stats.inFlight, 0);
  } finally {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    await session.close(200);
    await smsc.close();
  }
});
