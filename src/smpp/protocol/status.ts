/**
 * submit_sm_resp (and bind_resp) command_status → what it means and what the connector does.
 * Pure data, keyed by the numeric code; one row per line so a reviewer can check it against
 * the provider's "Bind & Authentication Errors" table and the SMPP 3.4 spec (§5.1.3).
 *
 * Provider rows keep the provider's wording in `description` (the bold title) and `advice`
 * (the rest). Two slips in the provider's table are resolved here:
 *  - their credentials row reads "13 | 0x0E": the table is keyed by hex, 0x0E (14) carries their
 *    description, and 0x0D (13, bind failed), 0x0E and 0x0F are all credential errors.
 *  - their 0x61 says "Format must be YYYYMMDDHHMMSS"; we keep their words, but on the wire SMPP
 *    uses `YYMMDDhhmmsstnnp` (see sms/smpp-time.ts), which is what we send.
 */

// prettier-ignore
export const SUBMIT_CATEGORIES = [
  'VALIDATION', 'SESSION', 'BIND_LIMIT', 'CREDENTIALS', 'CONFIG', 'SMSC_TRANSIENT', 'THROTTLING', 'CREDIT',
  'SENDER', 'DESTINATION', 'MESSAGE', 'ENCODING', 'SCHEDULE', 'VALIDITY', 'PROTOCOL', 'TIMEOUT',
] as const;
export type SubmitCategory = (typeof SUBMIT_CATEGORIES)[number];

/**
 * The categories that are the SMSC's own trouble, not the request's, the account's or our pace: a
 * system error, a full queue, a temporary application error, an unknown error (SMSC_TRANSIENT rows:
 * 0x08, 0x14, 0x64, 0xFF) and no answer at all (TIMEOUT). A run of these with no success between
 * opens the route's circuit (pipeline/route-circuit.ts) so routing fails over. Not here: THROTTLING
 * (the SMSC works, we are fast: pacing answers it), CREDIT and CREDENTIALS (the account gate),
 * SESSION and BIND_LIMIT (one session's state), and every category of a refused request.
 */
export const SMSC_SIDE_CATEGORIES: ReadonlySet<SubmitCategory> = new Set<SubmitCategory>(['SMSC_TRANSIENT', 'TIMEOUT']);

/**
 * - retry: submit again after `retryDelayMs` (backoff, bounded by validity / RETRY_MAX_AGE_MS,
 *   and by `maxAttempts` when set)
 * - permanent: REJECTED, never retried
 * - slow-down: lower this session's pace, then retry (0x58)
 * - rebind: the session is not bound; rebind it, then retry (0x04)
 * - pause-account: stop intake, keep the records, alert, probe every `retryDelayMs`, resume by itself
 */
export const SUBMIT_ACTIONS = ['retry', 'permanent', 'slow-down', 'rebind', 'pause-account'] as const;
export type SubmitAction = (typeof SUBMIT_ACTIONS)[number];

export interface SubmitStatus {
  readonly code: number;
  /** `0x58` form: how the code is shown in events (errorCodeRaw) and logs. */
  readonly hex: string;
  readonly name: string;
  readonly category: SubmitCategory;
  readonly description: string;
  /** The provider's advice, when their table gives one. */
  readonly advice?: string;
  readonly action: SubmitAction;
  /** Wait before the next attempt (retry, slow-down, rebind) or probe (pause-account). */
  readonly retryDelayMs?: number;
  /** Attempts in total for codes that deserve only a limited retry (0x45, 0xFF). */
  readonly maxAttempts?: number;
  /** Every action except `permanent` keeps the record to submit again. */
  readonly retryable: boolean;
  /** True only for the synthetic timeout: the SMSC may have accepted the message. */
  readonly ambiguous: boolean;
}

export function formatHex(code: number): string {
  return '0x' + code.toString(16).toUpperCase().padStart(2, '0');
}

type Row = [
  code: number,
  name: string,
  category: SubmitCategory,
  action: SubmitAction,
  description: string,
  extra?: { advice?: string; retryDelayMs?: number; maxAttempts?: number },
];

/** Delays are data too: first-attempt waits; the caller's backoff grows them. */
const SECONDS = 1000;
const PROBE_MS = 60 * SECONDS;

// prettier-ignore
const ROWS: readonly Row[] = [
  [0x01, 'ESME_RINVMSGLEN', 'MESSAGE', 'permanent', 'Invalid message length', { advice: 'Message is too long. SMS limited to 160 characters (or 70 for unicode)' }],
  [0x02, 'ESME_RINVCMDLEN', 'PROTOCOL', 'permanent', 'Command length is invalid'],
  [0x03, 'ESME_RINVCMDID', 'PROTOCOL', 'permanent', 'Invalid command ID'],
  [0x04, 'ESME_RINVBNDSTS', 'SESSION', 'rebind', 'Bind not yet completed', { advice: 'Send bind request first before submitting messages', retryDelayMs: 0 }],
  [0x05, 'ESME_RALYBND', 'BIND_LIMIT', 'retry', 'User already bound', { advice: "You've reached your connection limit (default: 4). Close unused connections or request higher limits", retryDelayMs: 30 * SECONDS }],
  [0x06, 'ESME_RINVPRTFLG', 'VALIDATION', 'permanent', 'Invalid priority flag'],
  [0x07, 'ESME_RINVREGDLVFLG', 'VALIDATION', 'permanent', 'Invalid registered delivery flag'],
  [0x08, 'ESME_RSYSERR', 'SMSC_TRANSIENT', 'retry', 'System error', { advice: 'Try again after a few seconds', retryDelayMs: 3 * SECONDS }],
  [0x0a, 'ESME_RINVSRCADR', 'SENDER', 'permanent', 'Invalid source address', { advice: 'The sender ID must be numeric (max 16 chars) or alphanumeric (max 11 chars). See sender ID rules below' }],
  [0x0b, 'ESME_RINVDSTADR', 'DESTINATION', 'permanent', 'Invalid destination address', { advice: 'Use a valid international phone number (e.g., +391234567890)' }],
  [0x0c, 'ESME_RINVMSGID', 'PROTOCOL', 'permanent', 'Message ID is invalid'],
  [0x0d, 'ESME_RBINDFAIL', 'CREDENTIALS', 'pause-account', 'Bind failed', { retryDelayMs: PROBE_MS }],
  [0x0e, 'ESME_RINVPASWD', 'CREDENTIALS', 'pause-account', 'Invalid credentials', { advice: 'Check your SYSTEM ID and password', retryDelayMs: PROBE_MS }],
  [0x0f, 'ESME_RINVSYSID', 'CREDENTIALS', 'pause-account', 'Invalid system ID', { retryDelayMs: PROBE_MS }],
  [0x11, 'ESME_RCANCELFAIL', 'PROTOCOL', 'permanent', 'cancel_sm failed'],
  [0x13, 'ESME_RREPLACEFAIL', 'PROTOCOL', 'permanent', 'replace_sm failed'],
  [0x14, 'ESME_RMSGQFUL', 'SMSC_TRANSIENT', 'retry', 'Message queue full', { retryDelayMs: 5 * SECONDS }],
  // Standard name is "invalid service_type"; the provider calls it SYSTEM_TYPE — their words kept.
  [0x15, 'ESME_RINVSERTYP', 'CONFIG', 'permanent', 'Invalid SYSTEM_TYPE', { advice: 'Leave this field empty' }],
  [0x33, 'ESME_RINVNUMDESTS', 'PROTOCOL', 'permanent', 'Invalid number of destinations'],
  [0x34, 'ESME_RINVDLNAME', 'PROTOCOL', 'permanent', 'Invalid distribution list name'],
  [0x40, 'ESME_RINVDESTFLAG', 'PROTOCOL', 'permanent', 'Destination flag is invalid'],
  [0x42, 'ESME_RINVSUBREP', 'PROTOCOL', 'permanent', "Invalid 'submit with replace' request"],
  [0x43, 'ESME_RINVESMCLASS', 'PROTOCOL', 'permanent', 'Invalid esm_class field data'],
  [0x44, 'ESME_RCNTSUBDL', 'PROTOCOL', 'permanent', 'Cannot submit to distribution list'],
  // One more try: the provider says "try again", but the same bytes usually fail the same way.
  [0x45, 'ESME_RSUBMITFAIL', 'ENCODING', 'retry', 'Text decoding failed', { advice: 'Message encoding issue. Check character set and try again', retryDelayMs: 2 * SECONDS, maxAttempts: 2 }],
  [0x48, 'ESME_RINVSRCTON', 'SENDER', 'permanent', 'Invalid source address TON'],
  [0x49, 'ESME_RINVSRCNPI', 'SENDER', 'permanent', 'Invalid source address NPI'],
  [0x50, 'ESME_RINVDSTTON', 'DESTINATION', 'permanent', 'Invalid destination address TON'],
  [0x51, 'ESME_RINVDSTNPI', 'DESTINATION', 'permanent', 'Invalid destination address NPI'],
  [0x53, 'ESME_RINVSYSTYP', 'CONFIG', 'permanent', 'Invalid system_type field'],
  [0x54, 'ESME_RINVREPFLAG', 'PROTOCOL', 'permanent', 'Invalid replace_if_present flag'],
  [0x55, 'ESME_RINVNUMMSGS', 'PROTOCOL', 'permanent', 'Invalid number of messages'],
  [0x58, 'ESME_RTHROTTLED', 'THROTTLING', 'slow-down', 'Throughput limit exceeded', { advice: "You're sending too fast. Slow down and implement backoff retry logic", retryDelayMs: 1 * SECONDS }],
  [0x61, 'ESME_RINVSCHED', 'SCHEDULE', 'permanent', 'Invalid scheduled delivery time', { advice: 'Format must be YYYYMMDDHHMMSS' }],
  [0x62, 'ESME_RINVEXPIRY', 'VALIDITY', 'permanent', 'Invalid validity period', { advice: 'Expiry time must be after current time' }],
  [0x63, 'ESME_RINVDFTMSGID', 'MESSAGE', 'permanent', 'Predefined message invalid or not found'],
  [0x64, 'ESME_RX_T_APPN', 'SMSC_TRANSIENT', 'retry', 'Receiver temporary application error', { retryDelayMs: 5 * SECONDS }],
  [0x65, 'ESME_RX_P_APPN', 'MESSAGE', 'permanent', 'Receiver permanent application error'],
  [0x66, 'ESME_RX_R_APPN', 'MESSAGE', 'permanent', 'Receiver rejected the message'],
  [0x67, 'ESME_RQUERYFAIL', 'PROTOCOL', 'permanent', 'query_sm failed'],
  [0xc0, 'ESME_RINVOPTPARSTREAM', 'PROTOCOL', 'permanent', 'Error in the optional part of the PDU body'],
  [0xc1, 'ESME_ROPTPARNOTALLWD', 'PROTOCOL', 'permanent', 'Optional parameter not allowed'],
  [0xc2, 'ESME_RINVPARLEN', 'PROTOCOL', 'permanent', 'Invalid parameter length'],
  [0xc3, 'ESME_RMISSINGOPTPARAM', 'PROTOCOL', 'permanent', 'Expected optional parameter missing'],
  [0xc4, 'ESME_RINVOPTPARAMVAL', 'PROTOCOL', 'permanent', 'Invalid optional parameter value'],
  [0xfe, 'ESME_RDELIVERYFAILURE', 'DESTINATION', 'permanent', 'Delivery failure'],
  [0xff, 'ESME_RUNKNOWNERR', 'SMSC_TRANSIENT', 'retry', 'Unknown error', { retryDelayMs: 5 * SECONDS, maxAttempts: 3 }],
  // Provider-specific codes (outside the SMPP 3.4 reserved range meanings).
  [0x103, 'AGILE_INSUFFICIENT_CREDIT', 'CREDIT', 'pause-account', 'Insufficient credit', { advice: 'Your account balance is too low. Top up your credit', retryDelayMs: PROBE_MS }],
  [0x402, 'AGILE_SENDER_NOT_ALLOWED', 'SENDER', 'permanent', 'Sender ID not allowed', { advice: 'The sender ID is blocked or not approved. Check your registered aliases or request approval' }],
];

function toStatus([code, name, category, action, description, extra]: Row): SubmitStatus {
  return Object.freeze({
    code,
    hex: formatHex(code),
    name,
    category,
    description,
    action,
    ...extra,
    retryable: action !== 'permanent',
    ambiguous: false,
  });
}

/** The submit status table, keyed by command_status. ESME_ROK (0) is success and not in it. */
export const SUBMIT_STATUS_TABLE: ReadonlyMap<number, SubmitStatus> = new Map(ROWS.map((row) => [row[0], toStatus(row)]));

/**
 * No response within SMPP_RESPONSE_TIMEOUT_MS (or the session died with the submit in flight).
 * Ambiguous: the SMSC may have accepted it, so a retry risks a duplicate — the caller decides,
 * within the same bounds as any retry. Not a command_status: code -1 never comes off the wire.
 */
export const SUBMIT_TIMEOUT: SubmitStatus = Object.freeze({
  code: -1,
  hex: 'timeout',
  name: 'SUBMIT_TIMEOUT',
  category: 'TIMEOUT',
  description: 'No response from the SMSC within the response timeout',
  action: 'retry',
  retryDelayMs: 5 * SECONDS,
  retryable: true,
  ambiguous: true,
});

function unknownStatus(code: number): SubmitStatus {
  return Object.freeze({
    code,
    hex: formatHex(code),
    name: 'UNKNOWN',
    category: 'PROTOCOL',
    description: `Unknown status ${formatHex(code)}`,
    action: 'permanent',
    retryable: false,
    ambiguous: false,
  });
}

/**
 * What a non-zero command_status means. Unknown codes are permanent PROTOCOL errors: retrying
 * something we do not understand risks a loop. Throws on 0 (success is not an error status;
 * looking it up is a caller bug that should fail loudly in tests).
 */
export function submitStatus(code: number): SubmitStatus {
  if (code === 0) throw new RangeError('command_status 0x00 is ESME_ROK (success), not an error status');
  return SUBMIT_STATUS_TABLE.get(code) ?? unknownStatus(code);
}
