/**
 * Delivery receipts (deliver_sm with esm_class type 0x04 / 0x20) → a typed receipt. Pure.
 *
 * TLVs win over text: receipted_message_id (0x001E) and message_state (0x0427) are typed, the
 * text `id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…` is only a convention
 * (SMPP 3.4 Appendix B) that SMSCs bend. The text is parsed leniently: any order, any key case,
 * missing fields, 10/12/14-digit dates. The bytes are read as latin1, never GSM-decoded:
 * receipt text is ASCII, and GSM decoding would turn `_ @ $` into other characters.
 */

export type DeliverSmClass = 'receipt' | 'intermediate' | 'mobile-originated' | 'other';

/** esm_class bits 2–5 hold the message type. */
const ESM_TYPE_MASK = 0x3c;
const ESM_TYPE_CLASSES: ReadonlyMap<number, DeliverSmClass> = new Map([
  [0x00, 'mobile-originated'],
  [0x04, 'receipt'],
  [0x20, 'intermediate'],
]);

export function classifyDeliverSm(esmClass: number): DeliverSmClass {
  return ESM_TYPE_CLASSES.get(esmClass & ESM_TYPE_MASK) ?? 'other';
}

export type ReceiptState = 'DELIVERED' | 'EXPIRED' | 'DELETED' | 'UNDELIVERED' | 'ACCEPTED' | 'UNKNOWN' | 'REJECTED' | 'ENROUTE';

/** message_state TLV values (SMPP 3.4 §5.2.28). */
// prettier-ignore
const STATE_BY_TLV: ReadonlyMap<number, ReceiptState> = new Map([
  [1, 'ENROUTE'], [2, 'DELIVERED'], [3, 'EXPIRED'], [4, 'DELETED'],
  [5, 'UNDELIVERED'], [6, 'ACCEPTED'], [7, 'UNKNOWN'], [8, 'REJECTED'],
]);

/** `stat:` words: the standard 7-letter forms first, then spellings some SMSCs use. */
// prettier-ignore
const STATE_BY_STAT: ReadonlyMap<string, ReceiptState> = new Map([
  ['ENROUTE', 'ENROUTE'], ['DELIVRD', 'DELIVERED'], ['EXPIRED', 'EXPIRED'], ['DELETED', 'DELETED'],
  ['UNDELIV', 'UNDELIVERED'], ['ACCEPTD', 'ACCEPTED'], ['UNKNOWN', 'UNKNOWN'], ['REJECTD', 'REJECTED'],
  ['DELIVERED', 'DELIVERED'], ['UNDELIVERED', 'UNDELIVERED'], ['UNDELIVERABLE', 'UNDELIVERED'],
  ['ACCEPTED', 'ACCEPTED'], ['REJECTED', 'REJECTED'], ['EXPIRD', 'EXPIRED'],
]);

/** SMPP message_id is a C-Octet String of at most 65 octets: 64 characters. */
export const MAX_MESSAGE_ID_LENGTH = 64;

export interface NetworkErrorCode {
  readonly networkType: number;
  readonly errorCode: number;
}

export interface DeliverSmInput {
  readonly esmClass: number;
  /** Exactly the bytes on the wire. */
  readonly shortMessage: Uint8Array;
  readonly tlvs?: {
    readonly receipted_message_id?: string;
    readonly message_state?: number;
    /** Raw TLV 0x0423 (network type, 2-octet error code) or already split. */
    readonly network_error_code?: Uint8Array | NetworkErrorCode;
    /** Some SMSCs put the receipt text here with an empty short_message. */
    readonly message_payload?: Uint8Array;
  };
}

export interface Receipt {
  readonly messageId: string;
  readonly state: ReceiptState;
  /** ENROUTE and intermediate notifications are not final; everything else is. */
  readonly final: boolean;
  /** `err:` as received, else the network_error_code's code as 3 digits; null when neither. */
  readonly errRaw: string | null;
  /** Numeric, non-zero `errRaw`; null for `000` and for non-numeric codes like `21b`. */
  readonly errCode: number | null;
  readonly networkErrorCode: NetworkErrorCode | null;
  /** epoch ms, read as UTC */
  readonly submitDate: number | null;
  readonly doneDate: number | null;
  readonly sub: string | null;
  readonly dlvrd: string | null;
  readonly text: string | null;
}

export type ReceiptResult = { readonly ok: true; readonly receipt: Receipt } | { readonly ok: false; readonly reason: string };

type TextKey = 'id' | 'sub' | 'dlvrd' | 'submitdate' | 'donedate' | 'stat' | 'err' | 'text';
/** Every key spelling the text parser accepts (compared lower-cased) → the field it names. */
// prettier-ignore
const KEY_BY_SPELLING: ReadonlyMap<string, TextKey> = new Map([
  ['id', 'id'], ['sub', 'sub'], ['dlvrd', 'dlvrd'], ['stat', 'stat'], ['err', 'err'], ['text', 'text'],
  ['submit date', 'submitdate'], ['submit_date', 'submitdate'], ['submitdate', 'submitdate'],
  ['done date', 'donedate'], ['done_date', 'donedate'], ['donedate', 'donedate'],
]);
/** A key at the start or after whitespace, then a colon: built from the spellings above. */
const KEY_PATTERN = new RegExp(`(?:^|\\s)(${[...KEY_BY_SPELLING.keys()].join('|')}):`, 'gi');

/**
 * Splits receipt text into fields. A key ends the previous value only the first time it
 * appears: `text:` carries message content, and a later `stat:` inside it stays text.
 */
export function receiptTextFields(text: string): Partial<Record<TextKey, string>> {
  // One pass with exec() on the global pattern, not matchAll(): no iterator, no array of
  // boundaries — this runs for every receipt. A key's value runs to the next new key; a key
  // seen before is part of the value it appears in (the first occurrence wins).
  const fields: Partial<Record<TextKey, string>> = {};
  let open: TextKey | undefined;
  let valueStart = 0;
  KEY_PATTERN.lastIndex = 0;
  for (let m = KEY_PATTERN.exec(text); m !== null; m = KEY_PATTERN.exec(text)) {
    const key = KEY_BY_SPELLING.get((m[1] ?? '').toLowerCase());
    if (key === undefined || key === open || fields[key] !== undefined) continue;
    if (open !== undefined) fields[open] = text.slice(valueStart, m.index).trim();
    open = key;
    valueStart = m.index + m[0].length;
  }
  if (open !== undefined) fields[open] = text.slice(valueStart).trim();
  return fields;
}

/** First whitespace-separated token of a field, or null when absent or empty. */
function token(value: string | undefined): string | null {
  return value === undefined ? null : (FIRST_TOKEN.exec(value)?.[0] ?? null);
}
const FIRST_TOKEN = /\S+/;

/** Receipt date layouts by digit count; all read as UTC (Agile writes yyMMddHHmmss in UTC). */
const DATE_LAYOUTS: ReadonlyMap<number, { yearDigits: number; hasSeconds: boolean }> = new Map([
  [10, { yearDigits: 2, hasSeconds: false }],
  [12, { yearDigits: 2, hasSeconds: true }],
  [14, { yearDigits: 4, hasSeconds: true }],
]);

function twoDigits(value: string, at: number): number {
  return Number(value.slice(at, at + 2));
}

/** Receipt date → epoch ms; null when absent or not a valid date (a bad date does not void a receipt). */
export function parseReceiptDate(value: string | null): number | null {
  if (value === null || !/^[0-9]+$/.test(value)) return null;
  const layout = DATE_LAYOUTS.get(value.length);
  if (!layout) return null;
  const y = layout.yearDigits;
  const year = Number(value.slice(0, y)) + (y === 2 ? 2000 : 0);
  const month = twoDigits(value, y);
  const day = twoDigits(value, y + 2);
  const hour = twoDigits(value, y + 4);
  const minute = twoDigits(value, y + 6);
  const second = layout.hasSeconds ? twoDigits(value, y + 8) : 0;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const d = new Date(ms);
  // Date.UTC rolls 31 Feb over into March; a round trip catches such values.
  const valid = d.getUTCMonth() === month - 1 && d.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
  return valid ? ms : null;
}

function networkError(tlv: Uint8Array | NetworkErrorCode | undefined): NetworkErrorCode | null {
  if (tlv === undefined) return null;
  if (!(tlv instanceof Uint8Array)) return tlv;
  if (tlv.length < 3) return null;
  return { networkType: tlv[0] ?? 0, errorCode: ((tlv[1] ?? 0) << 8) | (tlv[2] ?? 0) };
}

function stateFrom(tlvState: number | undefined, stat: string | null): ReceiptState | null {
  const fromTlv = tlvState === undefined ? undefined : STATE_BY_TLV.get(tlvState);
  if (fromTlv) return fromTlv;
  return stat === null ? null : (STATE_BY_STAT.get(stat.toUpperCase()) ?? null);
}

function errCodeOf(errRaw: string | null): number | null {
  if (errRaw === null || !/^[0-9]+$/.test(errRaw)) return null;
  const n = Number(errRaw);
  return n === 0 ? null : n;
}

function bodyText(input: DeliverSmInput): string {
  const bytes = input.shortMessage.length > 0 ? input.shortMessage : (input.tlvs?.message_payload ?? new Uint8Array());
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1'); // a view, not a copy
}

/** deliver_sm → receipt. `ok: false` (with the reason) for anything that is not a usable receipt. */
export function parseReceipt(input: DeliverSmInput): ReceiptResult {
  const kind = classifyDeliverSm(input.esmClass);
  if (kind !== 'receipt' && kind !== 'intermediate') return { ok: false, reason: `not a receipt (esm_class type: ${kind})` };
  const fields = receiptTextFields(bodyText(input));
  const messageId = input.tlvs?.receipted_message_id?.trim() || token(fields.id);
  if (!messageId) return { ok: false, reason: 'no message id (no receipted_message_id TLV, no id: in text)' };
  if (messageId.length > MAX_MESSAGE_ID_LENGTH) return { ok: false, reason: `message id longer than ${MAX_MESSAGE_ID_LENGTH} characters` };
  const stat = token(fields.stat);
  const state = stateFrom(input.tlvs?.message_state, stat);
  if (!state) return { ok: false, reason: stat === null ? 'no state (no message_state TLV, no stat: in text)' : `unrecognised stat '${stat}'` };
  const network = networkError(input.tlvs?.network_error_code);
  const errRaw = token(fields.err) ?? (network ? String(network.errorCode).padStart(3, '0') : null);
  return {
    ok: true,
    receipt: {
      messageId,
      state,
      final: state !== 'ENROUTE' && kind !== 'intermediate',
      errRaw,
      errCode: errCodeOf(errRaw),
      networkErrorCode: network,
      submitDate: parseReceiptDate(token(fields.submitdate)),
      doneDate: parseReceiptDate(token(fields.donedate)),
      sub: token(fields.sub),
      dlvrd: token(fields.dlvrd),
      text: fields.text ?? null,
    },
  };
}
