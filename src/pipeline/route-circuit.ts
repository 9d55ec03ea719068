/**
 * A route's circuit breaker (issue 21 §3): the third reason routing leaves a route, beside its
 * account gate and its sessions. An SMSC that stays bound but answers every submit with a system
 * error, or stops answering, would otherwise keep its traffic there, retrying.
 *
 *   closed ── ROUTE_CIRCUIT_FAILURES SMSC-side failures in a row, no success between ──▶ open
 *   open ── ROUTE_CIRCUIT_OPEN_MS later ──▶ half-open: routing sends ONE trial (its probe path)
 *   half-open ── a success ──▶ closed        half-open ── a failure ──▶ open again
 *
 * What counts is the status table's, not a list of our own: a failure is an answer of a category
 * in SMSC_SIDE_CATEGORIES (system errors and timeouts); a success is an accepted submit. Every other
 * answer (a refused number, 0x58, an account refusal) says nothing about whether the SMSC works, so
 * it neither counts nor breaks a run.
 *
 * Consecutive, not a rate: an SMSC that accepts one submit in ten still delivers, and its failures are
 * retried there; only one that accepts nothing is worth leaving — and a count needs no window, no
 * timer and no tuning by traffic volume. A success closes the circuit from any state: it is proof the
 * route works. Failures in the cooldown are not counted: they answer submits that were on the wire
 * when it opened (as the account gate ignores refusals that were not its probe's).
 *
 * A trial that never answers (its segment found no session) is given up after another cooldown and
 * a new one offered, so the circuit cannot stay half-open for good.
 */
import { SMSC_SIDE_CATEGORIES, type SubmitStatus } from '../smpp/protocol/status.js';
import type { SubmitLoopObserver } from './submit-loop.js';

/** What one answer tells the circuit. */
export type CircuitOutcome = 'success' | 'failure' | 'neutral';

/** The submit loop's view of an answer (`null`: accepted) as the circuit counts it. */
export function circuitOutcomeOf(status: SubmitStatus | null): CircuitOutcome {
  if (status === null) return 'success';
  return SMSC_SIDE_CATEGORIES.has(status.category) ? 'failure' : 'neutral';
}

export interface CircuitOptions {
  /** SMSC-side failures in a row that open it (ROUTE_CIRCUIT_FAILURES, ≥ 1). */
  failures: number;
  /** How long it stays open before a trial (ROUTE_CIRCUIT_OPEN_MS). */
  openMs: number;
  now: () => number;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * A change worth a log line: opened (`trial`: by a failed trial, not by a run), or closed by a
 * success after `openForMs`.
 */
export type CircuitChange = { open: true; trial: boolean; failures: number; lastFailure: string } | { open: false; openForMs: number; lastFailure: string };

export class RouteCircuit {
  /** SMSC-side failures since the last success, while closed. */
  private run = 0;
  /** When it opened (or a trial failed); null while closed. */
  private openedAt: number | null = null;
  /** When it opened from closed: how long the route was left, for the log. */
  private openSince = 0;
  /** When the half-open trial was given; null: none given since it (re)opened. */
  private trialAt: number | null = null;
  private last = '';
  private readonly listeners = new Set<(change: CircuitChange) => void>();

  constructor(private readonly options: CircuitOptions) {
    if (!(options.failures >= 1)) throw new RangeError('a circuit opens after at least one failure');
  }

  onChange(listener: (change: CircuitChange) => void): void {
    this.listeners.add(listener);
  }

  /** The last SMSC-side failure counted (`0x08 ESME_RSYSERR`, `timeout SUBMIT_TIMEOUT`). */
  get lastFailure(): string {
    return this.last;
  }

  /** Closed: routing may choose the route. */
  allowsTraffic(): boolean {
    return this.openedAt === null;
  }

  state(): CircuitState {
    if (this.openedAt === null) return 'closed';
    return this.options.now() - this.openedAt < this.options.openMs ? 'open' : 'half-open';
  }

  /** Half-open with no trial on its way (or the last one given up): the next segment may be it. */
  wantsTrial(): boolean {
    if (this.state() !== 'half-open') return false;
    return this.trialAt === null || this.options.now() - this.trialAt >= this.options.openMs;
  }

  /** Routing made a segment the trial (routed-submit.ts, a probe): no other one until it answers. */
  trialStarted(): void {
    if (this.wantsTrial()) this.trialAt = this.options.now();
  }

  /** One answer of the route's SMSC; `failure` names it (`0x08 ESME_RSYSERR`) for the log. */
  record(outcome: CircuitOutcome, failure = ''): void {
    if (outcome === 'neutral') return;
    if (outcome === 'success') {
      this.close();
      return;
    }
    const state = this.state();
    if (state === 'open') return; // an answer to a submit sent before it opened
    this.last = failure;
    if (state === 'half-open') {
      this.open(true);
      return;
    }
    this.run += 1;
    if (this.run >= this.options.failures) this.open(false);
  }

  private open(trial: boolean): void {
    this.openedAt = this.options.now();
    if (!trial) this.openSince = this.openedAt;
    this.trialAt = null;
    this.emit({ open: true, trial, failures: this.run, lastFailure: this.last });
  }

  private close(): void {
    this.run = 0;
    if (this.openedAt === null) return;
    const openForMs = this.options.now() - this.openSince;
    this.openedAt = null;
    this.trialAt = null;
    this.emit({ open: false, openForMs, lastFailure: this.last });
  }

  private emit(change: CircuitChange): void {
    for (const l of this.listeners) l(change);
  }
}

/** The submit loop's observer, with every answer also counted by the route's circuit. */
export function observedByCircuit(observer: SubmitLoopObserver, circuit: RouteCircuit): SubmitLoopObserver {
  return {
    ...observer,
    onResult(result, status) {
      observer.onResult?.(result, status);
      circuit.record(circuitOutcomeOf(status), status ? `${status.hex} ${status.name}` : '');
    },
  };
}
