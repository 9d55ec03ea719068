/**
 * Sender and destination rules of the provider (Agile Telecom SMPP page, "Sender ID
 * Requirements") turned into SMPP addresses (TON/NPI + address string).
 */

/** SMPP type of number. */
export const TON = { UNKNOWN: 0, INTERNATIONAL: 1, NATIONAL: 2, NETWORK_SPECIFIC: 3, ALPHANUMERIC: 5 } as const;
/** SMPP numbering plan indicator. */
export const NPI = { UNKNOWN: 0, ISDN: 1 } as const;

/** Numeric sender: at most 16 characters as written (the seed's example `+391234567890123`). */
export const MAX_NUMERIC_SENDER_CHARS = 16;
/** Alphanumeric sender: at most 11 characters (AGCOM 42/13/CIR). */
export const MAX_ALPHANUMERIC_SENDER_CHARS = 11;
/** Destination: E.164 allows at most 15 digits; fewer than 8 is no international number. */
export const MIN_DESTINATION_DIGITS = 8;
export const MAX_DESTINATION_DIGITS = 15;

export interface SmppAddress {
  readonly addr: string;
  readonly ton: number;
  readonly npi: number;
}

export type AddressResult = { readonly ok: true; readonly address: SmppAddress } | { readonly ok: false; readonly reason: string };

const NUMERIC_SENDER = /^\+?[0-9]+$/;
/**
 * Alphanumeric senders travel as a C-Octet String and are shown by handsets through the GSM
 * alphabet, so only printable ASCII that is also one GSM septet is accepted: letters, digits,
 * space and common punctuation — no `^{}[]~|\` (GSM escapes) and no backtick (not in GSM).
 */
const ALPHANUMERIC_SENDER = /^[A-Za-z0-9 !"#%&'()*+,\-./:;<=>?@_$]+$/;
const DESTINATION_SEPARATORS = /[\s\-.()]/g;

function fail(reason: string): AddressResult {
  return { ok: false, reason };
}

/** The first character a sender may not hold, as a code point: says what is wrong without echoing the sender. */
function firstDisallowed(sender: string): string {
  const bad = [...sender].find((c) => !ALPHANUMERIC_SENDER.test(c)) ?? '';
  return `U+${(bad.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Sender ID → SMPP source address. Reasons never repeat the sender: a numeric one is a person's
 * number, and reasons end up in events, logs and the operator's terminal.
 * Numeric (digits, optional leading `+`, ≤ 16 characters) → TON 1 / NPI 1 without the `+` or `00`;
 * alphanumeric (≤ 11 characters, at least one non-digit) → TON 5 / NPI 0.
 * Leading and trailing spaces are trimmed; inner spaces are kept (`COMPANY ABC` is valid).
 */
export function senderAddress(from: string): AddressResult {
  const sender = from.trim();
  if (sender === '') return fail('sender is empty');
  if (NUMERIC_SENDER.test(sender)) {
    if (sender.length > MAX_NUMERIC_SENDER_CHARS) {
      return fail(`numeric sender has ${sender.length} characters; at most ${MAX_NUMERIC_SENDER_CHARS} allowed`);
    }
    // TON 1 (international) means digits from the country code on: `+` and the `00` dialling prefix go.
    return { ok: true, address: { addr: sender.replace(/^(\+|00)/, ''), ton: TON.INTERNATIONAL, npi: NPI.ISDN } };
  }
  if (!ALPHANUMERIC_SENDER.test(sender)) {
    return fail(`sender contains ${firstDisallowed(sender)}, not allowed in an alphanumeric sender ID (ASCII letters, digits, space, basic punctuation)`);
  }
  if (sender.length > MAX_ALPHANUMERIC_SENDER_CHARS) {
    return fail(`alphanumeric sender has ${sender.length} characters; at most ${MAX_ALPHANUMERIC_SENDER_CHARS} allowed`);
  }
  return { ok: true, address: { addr: sender, ton: TON.ALPHANUMERIC, npi: NPI.UNKNOWN } };
}

/**
 * Destination → SMPP destination address (international, TON 1 / NPI 1, digits only).
 * Tolerated input decorations: spaces, `-`, `.`, parentheses, one leading `+` or `00`.
 * Reasons never repeat the number: they end up in logs, where phone numbers must be masked.
 */
export function destinationAddress(to: string): AddressResult {
  let digits = to.replace(DESTINATION_SEPARATORS, '');
  if (digits.startsWith('+')) digits = digits.slice(1);
  else if (digits.startsWith('00')) digits = digits.slice(2);
  if (digits === '') return fail('destination is empty');
  if (!/^[0-9]+$/.test(digits)) return fail(`destination is not a phone number (only digits, '+', spaces, '-', '.', parentheses allowed)`);
  if (digits.length < MIN_DESTINATION_DIGITS || digits.length > MAX_DESTINATION_DIGITS) {
    return fail(
      `destination has ${digits.length} digits; an international number has ${MIN_DESTINATION_DIGITS}-${MAX_DESTINATION_DIGITS} (country code included)`,
    );
  }
  return { ok: true, address: { addr: digits, ton: TON.INTERNATIONAL, npi: NPI.ISDN } };
}
