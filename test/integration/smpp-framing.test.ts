// Invariant (issue 17, SMPP framing): over real TCP, a command_length outside 16…72 KiB replaces the
// session at once (not after the enquire_link deadline); a legal deliver_sm up to SMPP's largest
// (a 64 KB message_payload) is answered on a link that stays up; an SMSC that floods deliver_sm
// never gets more than maxUnansweredDeliverSm of them unanswered, and the paused link is not
// mistaken for a dead one; a bind refused with 0x02 says which SMPP 3.4 limit is the likely cause.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_INBOUND_PDU_OCTETS } from '../../src/smpp/protocol/pdu-encode.js';
import { SmppSession } from '../../src/smpp/session/session.js';
import type { DeliverSm } from '../../src/smpp/protocol/types.js';
import { captureLogger } from '../helpers/faults.js';
import { CMD, deliverSmBody, HostileSmsc, pdu, tlv } from '../helpers/hostile-smsc.js';
import { fastSessionOptions, gsmSubmit, waitFor } from './smpp-helpers.js';

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

test('a command_length below 16 or over the limit replaces the session within 1 s (the enquire_link deadline is 5 s here), and a submit works after', async () => {
  const smsc = await HostileSmsc.start();
  // Lengths 0–4 left node-smpp's parser deaf (0 skipped, 1–4 waited forever); 15 is one short of a header.
  const lengths = [0, 1, 3, 4, 8, 15, MAX_INBOUND_PDU_OCTETS + 1, 0xf0000010];
  const replacedAfterMs: Record<string, number> = {};
  try {
    for (const length of lengths) {
      const session = new SmppSession(
        fastSessionOptions(smsc.port, { enquireLinkMs: 5_000, enquireLinkTimeoutMs: 5_000, reconnectMinMs: 20, reconnectMaxMs: 50 }),
      );
      try {
        session.start();
        await waitFor(() => session.state === 'bound' && smsc.bound() === 1, 3000, 'bound');
        const t0 = Date.now();
        await smsc.inject(Buffer.concat([u32(length), u32(CMD.enquire_link), u32(0), u32(7)]));
        await waitFor(() => (session.stats().reconnectsByReason['pdu-framing'] ?? 0) === 1, 4000, `length ${length}: replaced`);
        replacedAfterMs[length] = Date.now() - t0;
        assert.ok(replacedAfterMs[length] < 1000, `length ${length}: replaced after ${replacedAfterMs[length]} ms`);
        assert.match(session.lastError() ?? '', length < 16 ? /below the 16-octet SMPP header/ : /over the 73728-octet limit/);
        await waitFor(() => session.state === 'bound', 3000, `length ${length}: bound again`);
        const r = await session.submit(gsmSubmit('393471234567', 'after a bad length'));
        assert.ok(r.kind === 'response' && r.commandStatus === 0, `length ${length}: a submit works after`);
        assert.deepEqual(session.stats().reconnectsByReason, { 'pdu-framing': 1 }, `length ${length}: one replacement, no other reason`);
      } finally {
        await session.close(100);
        smsc.dropAll();
      }
    }
    console.log(`FRAMING ${JSON.stringify({ replacedAfterMs })}`);
  } finally {
    await smsc.close();
  }
});

test('a deliver_sm with a 60 KB message_payload (and one of exactly 16,385 octets, over node-smpp’s old limit) is handled whole, answered 0, and the link stays up', async () => {
  const smsc = await HostileSmsc.start();
  const session = new SmppSession(fastSessionOptions(smsc.port));
  const handled: DeliverSm[] = [];
  session.onDeliverSm(async (d) => {
    handled.push(d);
    return 0;
  });
  try {
    session.start();
    await waitFor(() => session.state === 'bound' && smsc.bound() === 1, 3000, 'bound');
    const payload = Buffer.alloc(60_000);
    for (let i = 0; i < payload.length; i++) payload[i] = 0x20 + (i % 90);
    const big = pdu(CMD.deliver_sm, 0, 41, deliverSmBody({ esmClass: 0x00, smLength: 0, tlvs: [tlv(0x0424, payload)] }));
    const justOver = (() => {
      const base = pdu(CMD.deliver_sm, 0, 42, deliverSmBody({ esmClass: 0x00, smLength: 0, tlvs: [tlv(0x0424, Buffer.alloc(1))] }));
      const fill = 16_385 - base.length + 1;
      return pdu(CMD.deliver_sm, 0, 42, deliverSmBody({ esmClass: 0x00, smLength: 0, tlvs: [tlv(0x0424, Buffer.alloc(fill, 0x41))] }));
    })();
    assert.equal(justOver.length, 16_385);
    // The big one in 7 writes, as TCP may cut it.
    await smsc.inject(big, [1, 3, 100, 16_384, 16_390, 40_000]);
    await smsc.inject(justOver);
    await waitFor(() => smsc.counters.deliverSmResps === 2, 3000, 'both answered');
    assert.deepEqual(smsc.counters.deliverSmRespsByStatus, { 0: 2 });
    assert.equal(handled.length, 2);
    assert.ok(handled[0]!.messagePayload?.equals(payload), 'the 60,000-octet payload arrived whole');
    assert.equal(handled[1]!.messagePayload?.length, 16_385 - (big.length - 60_000 - 4) - 4);
    assert.deepEqual(session.stats().reconnectsByReason, {}, 'no reconnect: the link stays up');
    assert.equal(session.state, 'bound');
    const r = await session.submit(gsmSubmit('393471234567', 'after a 60 KB deliver_sm'));
    assert.ok(r.kind === 'response' && r.commandStatus === 0);
    console.log(
      `BIG-DELIVER-SM ${JSON.stringify({ octets: [big.length, justOver.length], answered: smsc.counters.deliverSmRespsByStatus, reconnects: session.stats().reconnectsByReason })}`,
    );
  } finally {
    await session.close(100);
    await smsc.close();
  }
});

// Under CPU load this once failed: the enquire_link deadline fired in one of the short spells
// between two pauses, with its answer still queued behind the flood, and the link was recycled (the
// unread deliver_sm went with it). Deadlines now start again when reading paused at any moment of
// their wait (inbound.ts, readingHeldSince); 10 of 10 runs beside two busy loops pass.
test('a flood of 3,000 deliver_sm against slow receipt handling: never more than maxUnansweredDeliverSm (50) unanswered, reading paused and resumed, all answered, no reconnect though answers take longer than the enquire_link deadline', async () => {
  const smsc = await HostileSmsc.start();
  const cap = 50;
  const log = captureLogger('info');
  const session = new SmppSession(
    fastSessionOptions(smsc.port, { maxUnansweredDeliverSm: cap, enquireLinkMs: 200, enquireLinkTimeoutMs: 200, logger: log.logger }),
  );
  let inHandler = 0;
  let peakInHandler = 0;
  let peakGauge = 0;
  let release: (() => void) | undefined;
  let gate = new Promise<void>((resolve) => (release = resolve));
  session.onDeliverSm(async () => {
    inHandler += 1;
    peakInHandler = Math.max(peakInHandler, inHandler);
    peakGauge = Math.max(peakGauge, session.unansweredDeliverSm());
    await gate;
    inHandler -= 1;
    return 0;
  });
  const FLOOD = 3000;
  try {
    session.start();
    await waitFor(() => session.state === 'bound' && smsc.bound() === 1, 3000, 'bound');
    const flood = Buffer.concat(
      Array.from({ length: FLOOD }, (_, i) => pdu(CMD.deliver_sm, 0, 10_000 + i, deliverSmBody({ text: Buffer.from(`id:FLOOD-${i} stat:DELIVRD err:000`) }))),
    );
    await smsc.inject(flood);
    await waitFor(() => inHandler === cap, 3000, 'the cap reached');
    // Handlers held for 4 enquire_link deadlines: the replies sit unread behind the paused reader.
    const submit = session.submit(gsmSubmit('393471234567', 'while reading is paused'));
    const heldFrom = Date.now();
    while (Date.now() - heldFrom < 800) {
      assert.ok(inHandler <= cap, `${inHandler} unanswered`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(inHandler, cap, 'nothing more was read while paused');
    assert.deepEqual(session.stats().reconnectsByReason, {}, 'a paused link is not declared dead');
    // From now on each handler waits a few ms (a slow publisher): reading pauses and resumes many times.
    gate = new Promise<void>((resolve) => setTimeout(resolve, 2));
    const slow = setInterval(() => {
      gate = new Promise<void>((resolve) => setTimeout(resolve, 2));
    }, 5);
    release!();
    await waitFor(() => smsc.counters.deliverSmResps === FLOOD, 20_000, `all ${FLOOD} answered`);
    clearInterval(slow);
    const r = await submit;
    const bp = session.deliverSmBackpressure();
    console.log(
      `FLOOD ${JSON.stringify({ flood: FLOOD, cap, peakInHandler, peakGauge, ...bp, answered: smsc.counters.deliverSmRespsByStatus, reconnects: session.stats().reconnectsByReason, enquireLinks: smsc.counters.enquireLinks })}`,
    );
    assert.ok(peakInHandler <= cap, `peak ${peakInHandler} unanswered (cap ${cap})`);
    assert.ok(bp.peakUnanswered <= cap && peakGauge <= cap);
    assert.ok(bp.readPauses >= 2, 'reading paused more than once');
    assert.equal(log.count(/reading from the SMSC paused/), 1, `one warning for ${bp.readPauses} pauses, not a log flood`);
    assert.deepEqual(smsc.counters.deliverSmRespsByStatus, { 0: FLOOD });
    assert.ok(r.kind === 'response' && r.commandStatus === 0, 'the submit held during the pause went out after it');
    assert.deepEqual(session.stats().reconnectsByReason, {});
  } finally {
    await session.close(100);
    await smsc.close();
  }
});

test('a submit_sm_resp queued behind a deliver_sm flood while reading is paused is read after the pause: not AMBIGUOUS, no recycle, though the pause outlasts the response timeout', async () => {
  const smsc = await HostileSmsc.start();
  const cap = 20;
  const session = new SmppSession(fastSessionOptions(smsc.port, { maxUnansweredDeliverSm: cap, responseTimeoutMs: 300 }));
  let release: (() => void) | undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let inHandler = 0;
  session.onDeliverSm(async () => {
    inHandler += 1;
    await gate;
    return 0;
  });
  try {
    session.start();
    await waitFor(() => session.state === 'bound' && smsc.bound() === 1, 3000, 'bound');
    // The SMSC answers the submit only after 100 deliver_sm: the answer sits behind the paused reader.
    smsc.beforeNextSubmitResp = Buffer.concat(
      Array.from({ length: 100 }, (_, i) => pdu(CMD.deliver_sm, 0, 20_000 + i, deliverSmBody({ text: Buffer.from(`id:QUEUED-${i} stat:DELIVRD err:000`) }))),
    );
    const submit = session.submit(gsmSubmit('393471234567', 'answered behind a flood'));
    await waitFor(() => inHandler === cap, 3000, 'the cap reached');
    await new Promise((r) => setTimeout(r, 3 * 300)); // three response timeouts with reading paused
    assert.ok(session.deliverSmBackpressure().readPauses >= 1);
    release!();
    const r = await submit;
    assert.ok(r.kind === 'response' && r.commandStatus === 0, `the submit was answered, not ${JSON.stringify(r)}`);
    await waitFor(() => smsc.counters.deliverSmResps === 100, 5000, 'all 100 answered');
    assert.deepEqual(session.stats().reconnectsByReason, {}, 'no recycle for a timeout of our own making');
  } finally {
    await session.close(100);
    await smsc.close();
  }
});

test('a bind refused with 0x02 logs what it usually means — the SMPP 3.4 limits, and which credential is over — and waits the long backoff', async () => {
  const smsc = await HostileSmsc.start();
  smsc.bindStatus = 0x02;
  const log = captureLogger('info');
  const session = new SmppSession(fastSessionOptions(smsc.port, { password: 'longer-than-8', credentialBackoffMs: 60_000, logger: log.logger }));
  try {
    session.start();
    await waitFor(() => session.state === 'not-ready', 3000, 'not ready after the refusal');
    assert.equal(
      log.count(
        /SMPP bind refused 0x02: ESME_RINVCMDLEN.*system_id at most 15 characters, password at most 8.*here password is 13 characters \(SMPP 3\.4 allows 8\)/,
      ),
      1,
    );
    assert.equal(log.count(/longer-than-8/), 0, 'the password itself is never logged');
    assert.match(session.lastError() ?? '', /password is 13 characters/);
    assert.equal(smsc.counters.connections, 1, 'no tight reconnect loop');
  } finally {
    await session.close(100);
    await smsc.close();
  }
});
