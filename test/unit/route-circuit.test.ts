// Invariant (issue 21 §3): a route's circuit is closed exactly while fewer than ROUTE_CIRCUIT_FAILURES
// SMSC-side failures (the status table's SMSC_TRANSIENT and TIMEOUT rows) came since the last accepted
// submit; once open it offers no trial before ROUTE_CIRCUIT_OPEN_MS, then one trial at a time; only a
// success closes it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { circuitOutcomeOf, RouteCircuit, type CircuitChange, type CircuitOutcome } from '../../src/pipeline/route-circuit.js';
import { SMSC_SIDE_CATEGORIES, SUBMIT_STATUS_TABLE, SUBMIT_TIMEOUT, submitStatus } from '../../src/smpp/protocol/status.js';

function circuitAt(failures: number, openMs: number): { circuit: RouteCircuit; clock: { now: number }; changes: CircuitChange[] } {
  const clock = { now: 1_000_000 };
  const circuit = new RouteCircuit({ failures, openMs, now: () => clock.now });
  const changes: CircuitChange[] = [];
  circuit.onChange((c) => changes.push(c));
  return { circuit, clock, changes };
}

describe('circuitOutcomeOf', () => {
  it('reads the status table: SMSC_TRANSIENT and TIMEOUT are failures, accepted is a success, any other answer says nothing', () => {
    const cases: Array<[string, CircuitOutcome]> = [
      ['0x08', circuitOutcomeOf(submitStatus(0x08))],
      ['0x14', circuitOutcomeOf(submitStatus(0x14))],
      ['0xFF', circuitOutcomeOf(submitStatus(0xff))],
      ['timeout', circuitOutcomeOf(SUBMIT_TIMEOUT)],
      ['0x58', circuitOutcomeOf(submitStatus(0x58))],
      ['0x103', circuitOutcomeOf(submitStatus(0x103))],
      ['0x0B', circuitOutcomeOf(submitStatus(0x0b))],
      ['0x04', circuitOutcomeOf(submitStatus(0x04))],
      ['unknown 0x99', circuitOutcomeOf(submitStatus(0x99))],
      ['accepted', circuitOutcomeOf(null)],
    ];
    assert.deepEqual(cases, [
      ['0x08', 'failure'],
      ['0x14', 'failure'],
      ['0xFF', 'failure'],
      ['timeout', 'failure'],
      ['0x58', 'neutral'],
      ['0x103', 'neutral'],
      ['0x0B', 'neutral'],
      ['0x04', 'neutral'],
      ['unknown 0x99', 'neutral'],
      ['accepted', 'success'],
    ]);
    for (const status of SUBMIT_STATUS_TABLE.values()) {
      assert.equal(circuitOutcomeOf(status) === 'failure', SMSC_SIDE_CATEGORIES.has(status.category), `${status.hex} follows its category`);
      // a failure the circuit counts is one the submit loop retries: it never hides a final rejection
      if (circuitOutcomeOf(status) === 'failure') assert.equal(status.action, 'retry', `${status.hex} is retried`);
    }
  });
});

describe('RouteCircuit', () => {
  it('opens on the N-th failure in a row; a success breaks the run, a neutral answer does not', () => {
    const { circuit, changes } = circuitAt(3, 1000);
    circuit.record('failure', '0x08 ESME_RSYSERR');
    circuit.record('failure', '0x08 ESME_RSYSERR');
    circuit.record('success');
    circuit.record('failure', '0x08 ESME_RSYSERR');
    circuit.record('neutral');
    circuit.record('failure', '0x08 ESME_RSYSERR');
    assert.equal(circuit.allowsTraffic(), true, 'two in a row since the success');
    circuit.record('failure', 'timeout SUBMIT_TIMEOUT');
    assert.deepEqual([circuit.allowsTraffic(), circuit.state(), circuit.lastFailure], [false, 'open', 'timeout SUBMIT_TIMEOUT']);
    assert.deepEqual(changes, [{ open: true, trial: false, failures: 3, lastFailure: 'timeout SUBMIT_TIMEOUT' }]);
  });

  it('open: no trial before the cooldown, failures of submits already sent do not extend it; then one trial at a time', () => {
    const { circuit, clock } = circuitAt(1, 1000);
    circuit.record('failure', '0x08 ESME_RSYSERR');
    clock.now += 999;
    circuit.record('failure', '0x14 ESME_RMSGQFUL');
    assert.deepEqual([circuit.state(), circuit.wantsTrial(), circuit.lastFailure], ['open', false, '0x08 ESME_RSYSERR']);
    clock.now += 1;
    assert.deepEqual([circuit.state(), circuit.wantsTrial()], ['half-open', true], 'the late failure did not restart the cooldown');
    circuit.trialStarted();
    assert.equal(circuit.wantsTrial(), false, 'its trial is on its way');
    assert.equal(circuit.allowsTraffic(), false, 'half-open is not closed');
  });

  it('a failed trial opens it for another cooldown; an accepted one closes it', () => {
    const { circuit, clock, changes } = circuitAt(2, 1000);
    circuit.record('failure', '0x08 ESME_RSYSERR');
    circuit.record('failure', '0x08 ESME_RSYSERR');
    clock.now += 1000;
    circuit.trialStarted();
    circuit.record('failure', 'timeout SUBMIT_TIMEOUT');
    assert.deepEqual([circuit.state(), circuit.wantsTrial()], ['open', false]);
    clock.now += 1000;
    assert.equal(circuit.wantsTrial(), true);
    circuit.trialStarted();
    clock.now += 20;
    circuit.record('success');
    assert.deepEqual([circuit.state(), circuit.allowsTraffic(), circuit.wantsTrial()], ['closed', true, false]);
    assert.deepEqual(changes, [
      { open: true, trial: false, failures: 2, lastFailure: '0x08 ESME_RSYSERR' },
      { open: true, trial: true, failures: 2, lastFailure: 'timeout SUBMIT_TIMEOUT' },
      { open: false, openForMs: 2020, lastFailure: 'timeout SUBMIT_TIMEOUT' },
    ]);
    circuit.record('failure', '0x08 ESME_RSYSERR');
    assert.equal(circuit.allowsTraffic(), true, 'closed again, a new run starts from zero');
  });

  it('a trial that never answers is given up after another cooldown: the circuit cannot stay half-open for good', () => {
    const { circuit, clock } = circuitAt(1, 1000);
    circuit.record('failure', '0x08 ESME_RSYSERR');
    clock.now += 1000;
    circuit.trialStarted();
    clock.now += 999;
    assert.equal(circuit.wantsTrial(), false);
    clock.now += 1;
    assert.equal(circuit.wantsTrial(), true, 'a new trial is offered');
  });

  it('refuses a threshold below one (0 means no circuit at all: app/routes.ts builds none)', () => {
    assert.throws(() => new RouteCircuit({ failures: 0, openMs: 1000, now: Date.now }), RangeError);
  });

  it('any answers, clock steps and trials: closed ⇔ fewer than N failures since the last success; trials come no sooner than the cooldown, one per cooldown', () => {
    const step = fc.oneof(
      fc.constantFrom<CircuitOutcome>('success', 'failure', 'neutral').map((outcome) => ({ kind: 'record' as const, outcome })),
      fc.integer({ min: 0, max: 3000 }).map((ms) => ({ kind: 'wait' as const, ms })),
      fc.constant({ kind: 'trial' as const }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 2000 }), fc.array(step, { maxLength: 200 }), (failures, openMs, steps) => {
        const { circuit, clock, changes } = circuitAt(failures, openMs);
        let sinceSuccess = 0;
        let openedAt: number | null = null; // when it last opened, from the changes it emitted
        let lastTrialAt: number | null = null;
        for (const s of steps) {
          if (s.kind === 'wait') clock.now += s.ms;
          else if (s.kind === 'record') {
            if (s.outcome === 'success') sinceSuccess = 0;
            if (s.outcome === 'failure') sinceSuccess += 1;
            const before = changes.length;
            circuit.record(s.outcome, 'f');
            const change = changes[before];
            if (change?.open) [openedAt, lastTrialAt] = [clock.now, null];
          } else if (circuit.wantsTrial()) {
            assert.ok(openedAt !== null && clock.now - openedAt >= openMs, 'no trial before the cooldown');
            assert.ok(lastTrialAt === null || clock.now - lastTrialAt >= openMs, 'one trial per cooldown');
            circuit.trialStarted();
            lastTrialAt = clock.now;
            assert.equal(circuit.wantsTrial(), false);
          }
          assert.equal(circuit.allowsTraffic(), sinceSuccess < failures, `closed iff fewer than ${failures} failures since the last success`);
          assert.equal(circuit.state() === 'closed', circuit.allowsTraffic());
        }
        // every change is a real transition: opens and closes alternate, trials re-open an open circuit
        let open = false;
        for (const c of changes) {
          if (c.open && !c.trial) assert.equal(open, false, 'opened from closed');
          if (c.open && c.trial) assert.equal(open, true, 'a failed trial re-opens an open circuit');
          if (!c.open) assert.equal(open, true, 'closed from open');
          open = c.open;
        }
      }),
      { numRuns: 500 },
    );
  });
});
