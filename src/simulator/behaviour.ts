/**
 * What the simulated SMSC does: the Agile Telecom profile by default, every knob switchable at
 * runtime (`simulator.setBehaviour({...})`) so tests and load runs can inject faults mid-run.
 */

/** A receipt's final `stat:` word and its message_state TLV value (SMPP 3.4 §5.2.28). */
export const RECEIPT_STATES = {
  DELIVRD: 2,
  EXPIRED: 3,
  DELETED: 4,
  UNDELIV: 5,
  ACCEPTD: 6,
  UNKNOWN: 7,
  REJECTD: 8,
} as const;
export type ReceiptStat = keyof typeof RECEIPT_STATES;

/**
 * The fate of one submit_sm.
 * - `delivered`: accepted, receipt stat DELIVRD err:000.
 * - `failed`: accepted, receipt with `stat` (default UNDELIV) and delivery error `err`
 *   (the provider's codes, e.g. 201 HLR absent subscriber), plus the network_error_code TLV.
 * - `submit-error`: refused in submit_sm_resp with `status` (e.g. 0x0B), no receipt.
 */
export type Outcome = { kind: 'delivered' } | { kind: 'failed'; err: number; stat?: ReceiptStat } | { kind: 'submit-error'; status: number };

export interface OutcomeRule {
  /** Regular expression matched against destination_addr. */
  pattern: string;
  outcome: Outcome;
}

export interface OutcomeRatio {
  /** Share of submits (0..1) — ratios are cumulative in order; the rest is delivered. */
  ratio: number;
  outcome: Outcome;
}

export interface Behaviour {
  /** Accepted submit_sm per connection in any 1000 ms window; more → 0x58 (default 100). */
  throughputPerSecond: number;
  /** Binds per system_id across all modes; one more → 0x05 (default 4). */
  maxBindsPerSystemId: number;
  /** A connection that sends nothing for this long is closed (default 300000). */
  idleTimeoutMs: number;
  /** Delay before every submit_sm_resp (default 0). */
  responseLatencyMs: number;
  /** Delay between an accepted submit and its receipt (default 20). */
  receiptDelayMs: number;
  /** Wait before re-sending a receipt that was refused (non-zero deliver_sm_resp) or unanswered (default 1000). */
  receiptRetryMs: number;
  /** How long to wait for deliver_sm_resp before re-sending (default 5000). */
  receiptResponseTimeoutMs: number;
  /**
   * Keep the receipt of every accepted submit instead of sending it, until
   * `releaseHeldReceipts()` (default false). A receipt already scheduled is still sent; turning
   * this off does not release the held ones.
   */
  holdReceipts: boolean;
  /** Never answer submit_sm (enquire_link still answered) (default false). */
  blackHole: boolean;
  /** Close a connection when it sends its N-th submit_sm, without answering it (default null = never). */
  dropAfterSubmits: number | null;
  /** Answer every submit 0x103 (insufficient credit) (default false). */
  creditExhausted: boolean;
  /** Share of submits answered 0x58 regardless of rate (default 0). */
  throttleRatio: number;
  /** First matching rule wins; checked before the ratios. */
  outcomesByDestination: OutcomeRule[];
  outcomeRatios: OutcomeRatio[];
}

export const DEFAULT_BEHAVIOUR: Readonly<Behaviour> = Object.freeze({
  throughputPerSecond: 100,
  maxBindsPerSystemId: 4,
  idleTimeoutMs: 300_000,
  responseLatencyMs: 0,
  receiptDelayMs: 20,
  receiptRetryMs: 1_000,
  receiptResponseTimeoutMs: 5_000,
  holdReceipts: false,
  blackHole: false,
  dropAfterSubmits: null,
  creditExhausted: false,
  throttleRatio: 0,
  outcomesByDestination: [],
  outcomeRatios: [],
});

/** Picks the outcome for a destination: rules first, then cumulative ratios, else delivered. */
export function chooseOutcome(behaviour: Behaviour, destination: string, random: () => number): Outcome {
  for (const rule of behaviour.outcomesByDestination) {
    if (safeRegex(rule.pattern)?.test(destination)) return rule.outcome;
  }
  let threshold = 0;
  const roll = random();
  for (const entry of behaviour.outcomeRatios) {
    threshold += entry.ratio;
    if (roll < threshold) return entry.outcome;
  }
  return { kind: 'delivered' };
}

const regexCache = new Map<string, RegExp | undefined>();
function safeRegex(pattern: string): RegExp | undefined {
  if (!regexCache.has(pattern)) {
    try {
      regexCache.set(pattern, new RegExp(pattern));
    } catch {
      regexCache.set(pattern, undefined);
    }
  }
  return regexCache.get(pattern);
}

/**
 * The provider's sender rule: numeric up to 16 characters (a leading `+` allowed) or
 * alphanumeric up to 11 printable ASCII characters; anything else → 0x0A.
 */
export function isValidSender(sourceAddr: string): boolean {
  if (/^\+?[0-9]+$/.test(sourceAddr)) return sourceAddr.length <= 16;
  return /^[\x20-\x7e]{1,11}$/.test(sourceAddr);
}

/** The provider's destination rule: international number, 8–15 digits (`+` tolerated); else 0x0B. */
export function isValidDestination(destinationAddr: string): boolean {
  return /^\+?[0-9]{8,15}$/.test(destinationAddr);
}

/** Validates a partial behaviour update; throws naming the field. */
export function mergeBehaviour(current: Behaviour, update: Partial<Behaviour>): Behaviour {
  const next: Behaviour = { ...current, ...update };
  const positive: Array<keyof Behaviour> = ['throughputPerSecond', 'maxBindsPerSystemId', 'idleTimeoutMs'];
  for (const key of positive) {
    const value = next[key];
    if (typeof value !== 'number' || !(value > 0)) throw new RangeError(`simulator behaviour ${key} must be > 0`);
  }
  if (!(next.throttleRatio >= 0 && next.throttleRatio <= 1)) throw new RangeError('simulator behaviour throttleRatio must be in [0, 1]');
  if (typeof next.holdReceipts !== 'boolean') throw new RangeError('simulator behaviour holdReceipts must be true or false');
  for (const rule of next.outcomesByDestination) {
    if (!safeRegex(rule.pattern)) throw new RangeError(`simulator outcome pattern is not a valid regex: ${rule.pattern}`);
  }
  return next;
}
