// Invariant (F13): a wrong password is retried with backoff (never a tight loop) with one clear
// log line per attempt and readiness false; every hostile PDU either is answered or destroys and
// re-binds the session — never a process crash or a deaf session; PDUs sliced one byte per write
// parse exactly like whole ones (same events, no reconnect).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmppSession } from '../../src/smpp/session/session.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { LoadGenerator, report, verdict } from '../helpers/fault-oracle.js';
import { captureLogger, startFaultPipeline } from '../helpers/faults.js';
import { CMD, deliverSmBody, HostileSmsc, pdu } from '../helpers/hostile-smsc.js';
import { produce, waitUntil } from '../helpers/pipeline.js';
import { fastSessionOptions, gsmSubmit, waitFor } from '../integration/smpp-helpers.js';

test('F13a: wrong password → bind retried with backoff, not ready, one clear log line per attempt', async () => {
  const sim = await startSimulator({ plainPort: 0 });
  const log = captureLogger('info');
  const backoffMs = 600;
  const session = new SmppSession(fastSessionOptions(sim.plainPort!, { password: 'wrong', credentialBackoffMs: backoffMs, logger: log.logger }));
  try {
    const t0 = Date.now();
    session.start();
    await waitUntil(() => Date.now() - t0 >= 4000, 5000, '4 s of refused binds');
    const attempts = sim.stats().bindAttempts;
    const lines = log.count(/invalid credentials/);
    const state = session.state;
    report('F13a', { windowMs: 4000, backoffMs, bindAttempts: attempts, refused: sim.stats().bindsRefused, logLines: lines, state, ready: session.isReady() });
    assert.ok(attempts >= 3 && attempts <= Math.ceil(4000 / (backoffMs * 0.8)) + 1, `${attempts} bind attempts in 4 s: backoff, not a tight loop`);
    assert.equal(lines, attempts, 'one clear log line per refused bind');
    assert.equal(session.isReady(), false);
    assert.ok(state === 'not-ready' || state === 'connecting' || state === 'binding');
  } finally {
    await session.close(100);
    await sim.close();
  }
});

const HOSTILE: Array<{ name: string; bytes: () => Buffer; expect: 'replaced' | 'kept' }> = [
  { name: 'length < 16', bytes: () => Buffer.from('0000000800000015', 'hex'), expect: 'replaced' },
  { name: 'length 0xF0000010', bytes: () => Buffer.from('f00000100000001500000000000000ff', 'hex'), expect: 'replaced' },
  { name: 'unknown command', bytes: () => pdu(0x00000999, 0, 77), expect: 'kept' },
  { name: 'generic_nack', bytes: () => pdu(CMD.generic_nack, 0x03, 12345), expect: 'kept' },
];

test('F13b: hostile PDUs (length < 16, 0xF0000010, unknown command, generic_nack, deliver_sm before bind) → answered or session destroyed and re-bound; a submit works after each', async () => {
  const smsc = await HostileSmsc.start();
  const results: Record<string, unknown> = {};
  try {
    for (const h of HOSTILE) {
      const session = new SmppSession(fastSessionOptions(smsc.port, { reconnectMinMs: 50, reconnectMaxMs: 200 }));
      session.start();
      await waitFor(() => session.state === 'bound' && smsc.bound() === 1, 3000, 'bound');
      const nacksBefore = smsc.counters.genericNacksReceived;
      await smsc.inject(h.bytes());
      if (h.expect === 'replaced') await waitFor(() => (session.stats().reconnectsByReason['pdu-framing'] ?? 0) === 1, 3000, `${h.name}: replaced`);
      else await waitFor(() => h.name !== 'unknown command' || smsc.counters.genericNacksReceived > nacksBefore, 2000, `${h.name}: answered with generic_nack`);
      await waitFor(() => session.state === 'bound', 3000, `${h.name}: bound`);
      const r = await session.submit(gsmSubmit('393471234567', 'after hostile'));
      results[h.name] = { reconnects: session.stats().reconnectsByReason, submitOk: r.kind === 'response' && r.commandStatus === 0 };
      assert.ok(r.kind === 'response' && r.commandStatus === 0, `${h.name}: submit works after`);
      if (h.expect === 'kept') assert.deepEqual(session.stats().reconnectsByReason, {}, `${h.name}: session kept`);
      await session.close(100);
      smsc.dropAll();
    }
    // deliver_sm before the bind response: answered 0x04 (not bound) or ignored, then bound normally
    smsc.onConnect = pdu(CMD.deliver_sm, 0, 5, deliverSmBody({ text: Buffer.from('id:X stat:DELIVRD') }));
    const session = new SmppSession(fastSessionOptions(smsc.port));
    let handled = 0;
    session.onDeliverSm(async () => {
      handled += 1;
      return 0;
    });
    session.start();
    await waitFor(() => session.state === 'bound', 3000, 'bound after deliver_sm before bind');
    const r = await session.submit(gsmSubmit('393471234567', 'after early deliver_sm'));
    results['deliver_sm before bind'] = {
      handledAsReceipt: handled,
      reconnects: session.stats().reconnectsByReason,
      submitOk: r.kind === 'response' && r.commandStatus === 0,
    };
    assert.equal(handled, 0, 'a deliver_sm before bind is not treated as a receipt');
    assert.ok(r.kind === 'response' && r.commandStatus === 0);
    await session.close(100);
    report('F13b', results);
  } finally {
    await smsc.close();
  }
});

test('F13c: PDUs sliced into 1-byte writes (both directions, through the fault proxy) parse identically: every record SUBMITTED and its receipt correlated, no reconnect', async () => {
  let proxy: FaultProxy | undefined;
  const fx = await startFaultPipeline('f13-sliced', {
    env: { SMPP_SESSIONS: 'trx:1', SMPP_RESPONSE_TIMEOUT_MS: '10000' },
    smppPort: async (simPort) => {
      proxy = await FaultProxy.start({ targetPort: simPort });
      proxy.setSlice('both');
      return proxy.port;
    },
  });
  try {
    await waitUntil(() => fx.sim.stats().bindsBySystemId['test'] === 1, 30000, 'bound through the slicing proxy');
    const gen = new LoadGenerator(`f13c-${Date.now()}`, { keys: 10, multipartEvery: 4 });
    const records = gen.next(100);
    await produce(
      fx.stack,
      fx.topics.outbound,
      fx.codec,
      records.map((r) => ({ key: r.key, value: r.value })),
    );
    const ids = new Set(records.map((r) => r.value.id));
    // Counted by request: a summary published twice (same eventId) must not stand for a missing one.
    const summarised = () =>
      new Set(
        fx
          .events()
          .filter((e) => e.source === 'SUMMARY' && ids.has(e.id))
          .map((e) => e.id),
      ).size;
    await waitUntil(() => summarised() >= ids.size, 120000, 'every record summarised');
    const events = fx.events();
    const v = verdict({ records, accepted: fx.sim.acceptedSubmits(), events });
    const notDelivered = records.filter((r) => !events.some((e) => e.id === r.value.id && e.source === 'SUMMARY' && e.status === 'DELIVERED')).length;
    const unknown = events.filter((e) => e.id.startsWith('unknown:')).length;
    const st = proxy!.stats();
    report('F13c', {
      records: records.length,
      segments: v.segments,
      bytesUp: st.bytesUp,
      bytesDown: st.bytesDown,
      writes: st.writes,
      missing: v.missing,
      duplicates: v.duplicates,
      notDelivered,
      unknownReceipts: unknown,
      bindAttempts: fx.sim.stats().bindAttempts,
    });
    assert.ok(st.writes >= st.bytesUp + st.bytesDown, 'every byte went in its own write');
    assert.equal(v.missing, 0);
    assert.equal(v.duplicates, 0, 'each segment accepted once, byte-identical to the plan (digest match)');
    assert.equal(v.missingEvents, 0);
    assert.equal(notDelivered, 0, 'every receipt parsed and correlated');
    assert.equal(unknown, 0);
    assert.equal(fx.sim.stats().bindAttempts, 1, 'no reconnect');
  } finally {
    await fx.stop();
    await proxy?.close();
  }
});
