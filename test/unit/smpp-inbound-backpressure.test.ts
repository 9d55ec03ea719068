// Invariant (issue 17): a connection never holds more than maxUnanswered deliver_sm — reading
// pauses when the cap is reached and resumes only once half are answered; answers for a replaced
// connection neither write nor resume it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pino } from 'pino';
import { InboundRequests } from '../../src/smpp/session/inbound.js';
import type { LibrarySession, Pdu } from '../../src/smpp/session/library.js';

interface FakeLib {
  paused: boolean;
  pauses: number;
  resumes: number;
  sent: number;
  pause(): void;
  resume(): void;
  send(): boolean;
  socket: { cork(): void; uncork(): void };
}

function fakeLib(): FakeLib {
  return {
    paused: false,
    pauses: 0,
    resumes: 0,
    sent: 0,
    pause() {
      this.paused = true;
      this.pauses += 1;
    },
    resume() {
      this.paused = false;
      this.resumes += 1;
    },
    send() {
      this.sent += 1;
      return true;
    },
    socket: { cork: () => undefined, uncork: () => undefined },
  };
}

const deliverSm = (sequence: number) =>
  ({ command: 'deliver_sm', command_id: 5, command_status: 0, sequence_number: sequence, isResponse: () => false }) as unknown as Pdu;
const settle = () => new Promise((r) => setImmediate(r));

function setup(cap: number, current: () => FakeLib) {
  const releases: Array<() => void> = [];
  const pausedEvents: boolean[] = [];
  const inbound = new InboundRequests({
    sessionId: 't',
    log: pino({ level: 'silent' }),
    now: Date.now,
    isCurrent: (lib) => (lib as unknown) === current(),
    isBound: () => true,
    onUnbind: () => undefined,
    onDeliverSm: () => undefined,
    maxUnanswered: cap,
    onReadingPaused: (p) => pausedEvents.push(p),
  });
  inbound.setHandler(() => new Promise<number>((resolve) => releases.push(() => resolve(0))));
  return { inbound, releases, pausedEvents };
}

test('back-pressure: pauses exactly at the cap, resumes at half, and the unanswered count never exceeds the cap (random arrivals and answers)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 300 }), async (cap, steps) => {
      const lib = fakeLib();
      const { inbound, releases, pausedEvents } = setup(cap, () => lib);
      let seq = 0;
      let answered = 0;
      for (const arrive of steps) {
        const wasPaused = lib.paused;
        if (arrive && !lib.paused) {
          // the library delivers a PDU only while not paused
          inbound.handle(lib as unknown as LibrarySession, deliverSm(++seq), true);
          if (inbound.unanswered(lib as unknown as LibrarySession) === cap) assert.ok(lib.paused, 'paused at the cap');
        } else if (releases.length > answered) {
          releases[answered++]!();
          await settle();
        }
        const unanswered = inbound.unanswered(lib as unknown as LibrarySession);
        assert.equal(inbound.isPaused(lib as unknown as LibrarySession), lib.paused);
        assert.ok(unanswered <= cap, `${unanswered} unanswered, cap ${cap}`);
        assert.equal(unanswered, seq - answered);
        if (lib.paused) assert.ok(unanswered > Math.floor(cap / 2), 'paused only while more than half the cap are unanswered');
        if (wasPaused && !lib.paused) assert.equal(unanswered, Math.floor(cap / 2), 'resumed on reaching half the cap');
      }
      assert.equal(lib.sent, answered, 'each answer written once');
      assert.equal(lib.pauses, pausedEvents.filter((p) => p).length);
      assert.equal(lib.resumes, pausedEvents.filter((p) => !p).length);
      assert.ok(lib.pauses - lib.resumes === (lib.paused ? 1 : 0));
    }),
    { numRuns: 200 },
  );
});

test('back-pressure: answers that arrive after the connection was replaced are not written and do not resume the old socket', async () => {
  const old = fakeLib();
  let current = old;
  const { inbound, releases } = setup(2, () => current);
  inbound.handle(old as unknown as LibrarySession, deliverSm(1), true);
  inbound.handle(old as unknown as LibrarySession, deliverSm(2), true);
  assert.equal(old.paused, true);
  current = fakeLib();
  for (const release of releases) release();
  await settle();
  assert.equal(old.sent, 0);
  assert.equal(old.resumes, 0);
  assert.equal(inbound.unanswered(current as unknown as LibrarySession), 0, 'the new connection starts with none');
  assert.equal(inbound.isPaused(current as unknown as LibrarySession), false);
});
