/**
 * Turns one SMS request into what goes on the wire: encoding, addresses, times and the
 * submit_sm segments (UDH included). Pure: the same request and options give the same plan.
 *
 * Segment sizes are about the air interface, where one SMS carries 140 octets of user data:
 *   GSM-7: 160 septets single; with the 6-octet UDH (48 bits + 1 fill bit = 7 septets) 153 per part.
 *   UCS-2: 140 octets single; with the UDH 134 octets (67 UTF-16 code units) per part.
 * GSM text travels unpacked over SMPP (one octet per septet, data_coding 0), so a GSM
 * short_message is up to 160 octets (UDH 6 + 153) — the SMSC packs it to 140 on the air.
 */
import { destinationAddress, senderAddress, type SmppAddress } from './address.js';
import { decodeGsm7, encodeGsm7, firstNonGsm7, isGsm7 } from './gsm7.js';
import { absoluteTimeProblem, optionalAbsoluteTime } from './smpp-time.js';

export type Encoding = 'GSM7' | 'UCS2';
export type RequestedEncoding = 'AUTO' | Encoding;

export const DATA_CODING: Readonly<Record<Encoding, number>> = { GSM7: 0x00, UCS2: 0x08 };
/** esm_class bit: short_message starts with a User Data Header. */
export const ESM_CLASS_UDHI = 0x40;
/** registered_delivery: receipt on final outcome, success or failure. */
export const REGISTERED_DELIVERY_RECEIPT = 0x01;
/** Concatenation with an 8-bit reference: UDHL 05, IEI 00, IEDL 03, ref, total, seq. */
const UDH_CONCAT_8BIT = { length: 6, iei: 0x00 } as const;
/** The 16-bit-reference variant (IEI 08), recognised when reading other clients' parts. */
const UDH_CONCAT_16BIT_IEI = 0x08;
/** The UDH's `total` is one octet. */
export const MAX_SEGMENTS_LIMIT = 255;

/** SMS_MAX_SEGMENTS when not set: the connector's default, and the client's when not told otherwise. */
export const DEFAULT_MAX_SEGMENTS = 10;
/**
 * No segment carries more than 160 characters (GSM-7 single part; every other case holds fewer),
 * so a text longer than maxSegments × 160 UTF-16 units can never fit: refused on its length alone,
 * before it is scanned, encoded or split (encoding and splitting a 5 MB text took ~5 s on a 2-core
 * machine — measured by test/unit/request-bounds.test.ts with BOUNDS_MEASURE=1; refused: < 1 ms).
 */
export const MAX_CHARS_PER_SEGMENT = 160;

/**
 * Capacity per segment in the encoding's own units (GSM: septets = unpacked octets; UCS-2: octets).
 * A reviewer can check these against TS 23.040 / the SMPP notes line by line.
 */
export const SEGMENT_CAPACITY: Readonly<Record<Encoding, { single: number; multipart: number }>> = {
  GSM7: { single: 160, multipart: 153 },
  UCS2: { single: 140, multipart: 134 },
};

export interface SmsRequest {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly text: string;
  readonly encoding: RequestedEncoding;
  readonly requestDeliveryReport: boolean;
  /** epoch ms; null = now */
  readonly scheduleAt: number | null;
  /** epoch ms; null = SMSC default */
  readonly validUntil: number | null;
}

export interface PlanOptions {
  /** More segments than this → validation error (SMS_MAX_SEGMENTS). 1..255. */
  readonly maxSegments: number;
  /** UDH concatenation reference, 0..255, chosen by the caller (e.g. a hash of the id). */
  readonly referenceNumber: number;
  /** Clock for "is scheduleAt already past"; default Date.now(). */
  readonly now?: number;
}

export interface Segment {
  /** 1-based */
  readonly seq: number;
  readonly total: number;
  /** UDH (when total > 1) followed by the encoded text of this part. */
  readonly shortMessage: Buffer;
  readonly esmClass: number;
}

export interface MessagePlan {
  readonly id: string;
  readonly encoding: Encoding;
  readonly dataCoding: number;
  readonly source: SmppAddress;
  readonly destination: SmppAddress;
  readonly registeredDelivery: number;
  /** SMPP absolute time or '' */
  readonly scheduleDeliveryTime: string;
  /** SMPP absolute time or '' */
  readonly validityPeriod: string;
  readonly referenceNumber: number;
  readonly segments: readonly Segment[];
}

/** Same names as the submit status categories, so events can use one vocabulary. */
export type PlanErrorCategory = 'SENDER' | 'DESTINATION' | 'MESSAGE' | 'ENCODING' | 'SCHEDULE' | 'VALIDITY';

export type PlanResult =
  | { readonly ok: true; readonly plan: MessagePlan }
  | { readonly ok: false; readonly reason: string; readonly field: string; readonly category: PlanErrorCategory };

/** UTF-16BE, as data_coding 0x08 wants (surrogate pairs kept: handsets render them). */
export function encodeUcs2(text: string): Buffer {
  return Buffer.from(text, 'utf16le').swap16();
}

/** UTF-16BE → string; a dangling odd octet is ignored. */
export function decodeUcs2(octets: Uint8Array): string {
  const even = Buffer.from(octets.subarray(0, octets.length - (octets.length % 2)));
  return even.swap16().toString('utf16le');
}

/**
 * The text encoded, and where each indivisible unit ends in it: a GSM character with its escape,
 * or a whole code point in UTF-16BE (surrogate pair together). Segments are cut between units only.
 * One buffer with offsets, not a buffer per character: this runs for every message (it was ~3 %
 * of the connector's CPU as a Buffer per character).
 */
interface EncodedText {
  readonly bytes: Buffer;
  /** Offset just past each unit, ascending; the last one is bytes.length. */
  readonly ends: readonly number[];
}

/** Where the units end are needed only to cut a text into parts; most texts fit in one. */
function encodeText(text: string, encoding: Encoding, withEnds: boolean): EncodedText {
  const ends: number[] = [];
  if (encoding === 'GSM7') return { bytes: withEnds ? encodeGsm7(text, ends) : encodeGsm7(text), ends };
  let at = 0;
  if (withEnds) for (const ch of text) ends.push((at += ch.length * 2)); // UTF-16BE: 2 octets per code unit
  return { bytes: encodeUcs2(text), ends };
}

/**
 * Greedy fill: each part takes units while they fit. With units of bounded size cut in order,
 * greedy gives the minimal part count (any other cut can be shifted to greedy's without adding parts).
 */
function packUnits({ bytes, ends }: EncodedText, capacity: number): Buffer[] {
  const parts: Buffer[] = [];
  let partStart = 0;
  let previousEnd = 0;
  for (const end of ends) {
    if (end - partStart > capacity) {
      parts.push(bytes.subarray(partStart, previousEnd));
      partStart = previousEnd;
    }
    previousEnd = end;
  }
  parts.push(bytes.subarray(partStart, previousEnd));
  return parts;
}

/** The text's payload per segment, without UDH. */
export function splitText(text: string, encoding: Encoding): Buffer[] {
  const { single, multipart } = SEGMENT_CAPACITY[encoding];
  const whole = encodeText(text, encoding, false);
  // Longer than one part: encoded again, this time noting where each unit ends (a rare path).
  return whole.bytes.length <= single ? [whole.bytes] : packUnits(encodeText(text, encoding, true), multipart);
}

function concatUdh(ref: number, total: number, seq: number): Buffer {
  return Buffer.from([UDH_CONCAT_8BIT.length - 1, UDH_CONCAT_8BIT.iei, 3, ref, total, seq]);
}

function buildSegments(payloads: readonly Buffer[], ref: number): Segment[] {
  const total = payloads.length;
  return payloads.map((payload, i) =>
    total === 1
      ? { seq: 1, total: 1, shortMessage: payload, esmClass: 0 }
      : { seq: i + 1, total, shortMessage: Buffer.concat([concatUdh(ref, total, i + 1), payload]), esmClass: ESM_CLASS_UDHI },
  );
}

function chooseEncoding(req: SmsRequest): { ok: true; encoding: Encoding } | { ok: false; reason: string } {
  if (req.encoding === 'UCS2') return { ok: true, encoding: 'UCS2' };
  if (isGsm7(req.text)) return { ok: true, encoding: 'GSM7' };
  if (req.encoding === 'AUTO') return { ok: true, encoding: 'UCS2' };
  const ch = firstNonGsm7(req.text) ?? '';
  const cp = (ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  return { ok: false, reason: `encoding GSM7 requested but character U+${cp} is not in GSM 03.38 (use AUTO or UCS2)` };
}

function checkOptions(opts: PlanOptions): void {
  if (!Number.isInteger(opts.maxSegments) || opts.maxSegments < 1 || opts.maxSegments > MAX_SEGMENTS_LIMIT) {
    throw new RangeError(`maxSegments must be 1..${MAX_SEGMENTS_LIMIT}, got ${opts.maxSegments}`);
  }
  if (!Number.isInteger(opts.referenceNumber) || opts.referenceNumber < 0 || opts.referenceNumber > 255) {
    throw new RangeError(`referenceNumber must be 0..255, got ${opts.referenceNumber}`);
  }
}

/**
 * Validates and plans one request. Bad input from producers is a result (`ok: false`, field
 * named); bad options from our own code throw RangeError.
 * A scheduleAt not after `now` is sent as '' (immediately) rather than risking 0x61 for a past
 * time. A validUntil already past is *not* an error here: the caller reports it as EXPIRED.
 */
export function planMessage(req: SmsRequest, opts: PlanOptions): PlanResult {
  checkOptions(opts);
  const source = senderAddress(req.from);
  if (!source.ok) return { ok: false, reason: source.reason, field: 'from', category: 'SENDER' };
  const destination = destinationAddress(req.to);
  if (!destination.ok) return { ok: false, reason: destination.reason, field: 'to', category: 'DESTINATION' };
  if (req.text === '') return { ok: false, reason: 'text is empty', field: 'text', category: 'MESSAGE' };
  const maxChars = opts.maxSegments * MAX_CHARS_PER_SEGMENT;
  if (req.text.length > maxChars) {
    return {
      ok: false,
      reason: `text has ${req.text.length} characters; at most ${maxChars} fit in ${opts.maxSegments} segments (SMS_MAX_SEGMENTS × ${MAX_CHARS_PER_SEGMENT})`,
      field: 'text',
      category: 'MESSAGE',
    };
  }
  const chosen = chooseEncoding(req);
  if (!chosen.ok) return { ok: false, reason: chosen.reason, field: 'encoding', category: 'ENCODING' };
  if (req.scheduleAt !== null && req.validUntil !== null && req.validUntil <= req.scheduleAt) {
    return { ok: false, reason: 'validUntil must be after scheduleAt', field: 'validUntil', category: 'VALIDITY' };
  }
  const payloads = splitText(req.text, chosen.encoding);
  if (payloads.length > opts.maxSegments) {
    return {
      ok: false,
      reason: `text needs ${payloads.length} segments in ${chosen.encoding}; at most ${opts.maxSegments} allowed`,
      field: 'text',
      category: 'MESSAGE',
    };
  }
  const now = opts.now ?? Date.now();
  const scheduleAt = req.scheduleAt !== null && req.scheduleAt > now ? req.scheduleAt : null;
  // A far-future time from a producer is bad input, not a crash: unhandled, it would fail the
  // record on every re-read and block its partition.
  const scheduleProblem = scheduleAt === null ? null : absoluteTimeProblem(scheduleAt);
  if (scheduleProblem) return { ok: false, reason: scheduleProblem, field: 'scheduleAt', category: 'SCHEDULE' };
  const validityProblem = req.validUntil === null ? null : absoluteTimeProblem(req.validUntil);
  if (validityProblem) return { ok: false, reason: validityProblem, field: 'validUntil', category: 'VALIDITY' };
  return {
    ok: true,
    plan: {
      id: req.id,
      encoding: chosen.encoding,
      dataCoding: DATA_CODING[chosen.encoding],
      source: source.address,
      destination: destination.address,
      registeredDelivery: req.requestDeliveryReport ? REGISTERED_DELIVERY_RECEIPT : 0,
      scheduleDeliveryTime: optionalAbsoluteTime(scheduleAt),
      validityPeriod: optionalAbsoluteTime(req.validUntil),
      referenceNumber: opts.referenceNumber,
      segments: buildSegments(payloads, opts.referenceNumber),
    },
  };
}

export interface ConcatInfo {
  readonly ref: number;
  readonly total: number;
  readonly seq: number;
}

/**
 * Splits a short_message that carries a UDH (esm_class & 0x40) into the concatenation info
 * (8- or 16-bit reference; null when the UDH has none) and the payload after the UDH.
 */
export function splitUdh(shortMessage: Uint8Array): { concat: ConcatInfo | null; payload: Uint8Array } {
  const udhl = shortMessage[0] ?? 0;
  const payload = shortMessage.subarray(1 + udhl);
  let i = 1;
  while (i + 1 < 1 + udhl) {
    const iei = shortMessage[i] ?? -1;
    const len = shortMessage[i + 1] ?? 0;
    const ie = shortMessage.subarray(i + 2, i + 2 + len);
    if (iei === UDH_CONCAT_8BIT.iei && len === 3) {
      return { concat: { ref: ie[0] ?? 0, total: ie[1] ?? 0, seq: ie[2] ?? 0 }, payload };
    }
    if (iei === UDH_CONCAT_16BIT_IEI && len === 4) {
      return { concat: { ref: ((ie[0] ?? 0) << 8) | (ie[1] ?? 0), total: ie[2] ?? 0, seq: ie[3] ?? 0 }, payload };
    }
    i += 2 + len;
  }
  return { concat: null, payload };
}

/**
 * Rebuilds the text from segments (any order when they carry a concatenation UDH), for tests
 * and the simulator. Payloads are joined before decoding, so a unit split across parts by some
 * other client still decodes.
 */
export function reassemble(segments: ReadonlyArray<{ readonly shortMessage: Uint8Array; readonly esmClass: number }>, encoding: Encoding): string {
  const parts = segments.map((s, index) => {
    if ((s.esmClass & ESM_CLASS_UDHI) === 0) return { order: index, payload: s.shortMessage };
    const { concat, payload } = splitUdh(s.shortMessage);
    return { order: concat?.seq ?? index, payload };
  });
  parts.sort((a, b) => a.order - b.order);
  const joined = Buffer.concat(parts.map((p) => p.payload));
  return encoding === 'GSM7' ? decodeGsm7(joined) : decodeUcs2(joined);
}
