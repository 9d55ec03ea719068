/**
 * Size bounds on the fields of an `SmsOutbound` request — pure, checked before anything else reads
 * the request (addresses, encoding, segmentation), so a huge field costs a length check, not a parse.
 *
 * Why bounds at all: `id`, `from`, `to` and `metadata` are echoed into every event of the request
 * and into its correlation entry. Unbounded, one ~400 KB record makes events larger than the
 * broker takes, and `text` was encoded and split before its segment count was checked.
 *
 * A request over a bound is REJECTED (VALIDATION, the field named). Its REJECTED and SUMMARY events
 * still echo the request, shortened so they fit (`echoFacts`): an over-long id is cut and ends with
 * a hash of the whole id, an over-long address is cut, metadata keeps the entries that fit in order.
 * Whenever something was shortened, two entries are added to the echoed metadata so analysts can
 * find the original: `connector.shortened` (the fields cut) and `connector.record`
 * (`<topic>/<partition>/<offset>` of the request on the outbound topic).
 */
import * as crypto from 'node:crypto';

export interface RequestBounds {
  /** REQUEST_MAX_ID_CHARS — `id` length in UTF-16 code units (≈ characters). Default 256. */
  readonly maxIdChars: number;
  /**
   * REQUEST_MAX_ADDRESS_CHARS — `from` and `to` as written (spaces, `+`, separators included).
   * Default 64: the SMPP address fields hold 20 characters; the rest is room for decoration.
   */
  readonly maxAddressChars: number;
  /** REQUEST_MAX_METADATA_ENTRIES — entries in `metadata`. Default 64. */
  readonly maxMetadataEntries: number;
  /** REQUEST_MAX_METADATA_BYTES — UTF-8 bytes of every metadata key and value together. Default 8192. */
  readonly maxMetadataBytes: number;
}

export const DEFAULT_REQUEST_BOUNDS: RequestBounds = {
  maxIdChars: 256,
  maxAddressChars: 64,
  maxMetadataEntries: 64,
  maxMetadataBytes: 8192,
};

/** The metadata keys the connector adds to a shortened echo. */
export const ECHO_KEY = { shortened: 'connector.shortened', record: 'connector.record' } as const;

export interface BoundedRequest {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly metadata: Readonly<Record<string, string>>;
}

export type BoundsResult = { readonly ok: true } | { readonly ok: false; readonly field: string; readonly reason: string };

/** The limits as data: field, what is measured, the bound and the variable that sets it. */
const RULES: ReadonlyArray<{
  field: keyof BoundedRequest;
  unit: string;
  measure: (r: BoundedRequest) => number;
  limit: (b: RequestBounds) => number;
  variable: string;
}> = [
  { field: 'id', unit: 'characters', measure: (r) => r.id.length, limit: (b) => b.maxIdChars, variable: 'REQUEST_MAX_ID_CHARS' },
  { field: 'from', unit: 'characters', measure: (r) => r.from.length, limit: (b) => b.maxAddressChars, variable: 'REQUEST_MAX_ADDRESS_CHARS' },
  { field: 'to', unit: 'characters', measure: (r) => r.to.length, limit: (b) => b.maxAddressChars, variable: 'REQUEST_MAX_ADDRESS_CHARS' },
  {
    field: 'metadata',
    unit: 'entries',
    measure: (r) => metadataEntries(r.metadata),
    limit: (b) => b.maxMetadataEntries,
    variable: 'REQUEST_MAX_METADATA_ENTRIES',
  },
  { field: 'metadata', unit: 'bytes', measure: (r) => metadataBytes(r.metadata), limit: (b) => b.maxMetadataBytes, variable: 'REQUEST_MAX_METADATA_BYTES' },
];

/** The first bound the request breaks (in RULES order), named; the reason never repeats the value. */
export function checkRequestBounds(request: BoundedRequest, bounds: RequestBounds): BoundsResult {
  for (const rule of RULES) {
    const size = rule.measure(request);
    const limit = rule.limit(bounds);
    if (size > limit) {
      return { ok: false, field: rule.field, reason: `${size} ${rule.unit}; at most ${limit} allowed (${rule.variable})` };
    }
  }
  return { ok: true };
}

function metadataEntries(metadata: Readonly<Record<string, string>>): number {
  let n = 0;
  for (const _ in metadata) n++;
  return n;
}

export function metadataBytes(metadata: Readonly<Record<string, string>>): number {
  let n = 0;
  for (const k in metadata) n += Buffer.byteLength(k) + Buffer.byteLength(metadata[k]!);
  return n;
}

/** Length of the `…#<hash>` tail of a cut id. */
const ID_HASH_CHARS = 22;
const CUT_MARK = '…';

/** `text` cut to at most `max` UTF-16 units, never between the halves of a surrogate pair. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end);
}

/**
 * An id over `maxChars` as `<prefix>…#<22 chars of base64url SHA-256 of the whole id>`, exactly
 * `maxChars` long: distinct long ids stay distinct, and whoever holds the original id can compute
 * the hash and find its events.
 */
export function shortenId(id: string, maxChars: number): string {
  if (id.length <= maxChars) return id;
  const hash = crypto.createHash('sha256').update(id).digest('base64url').slice(0, ID_HASH_CHARS);
  return `${cut(id, maxChars - ID_HASH_CHARS - 2)}${CUT_MARK}#${hash}`;
}

/**
 * The request's facts as its REJECTED events may echo them: each field within its bound. Fields
 * already within bounds are returned as they are (same object when nothing needed cutting).
 * `record` is where the request was read (`<topic>/<partition>/<offset>`).
 */
export function echoFacts<T extends BoundedRequest>(request: T, bounds: RequestBounds, record: string): BoundedRequest {
  const shortened: string[] = [];
  const id = request.id.length > bounds.maxIdChars ? (shortened.push('id'), shortenId(request.id, bounds.maxIdChars)) : request.id;
  const from = request.from.length > bounds.maxAddressChars ? (shortened.push('from'), cut(request.from, bounds.maxAddressChars - 1) + CUT_MARK) : request.from;
  const to = request.to.length > bounds.maxAddressChars ? (shortened.push('to'), cut(request.to, bounds.maxAddressChars - 1) + CUT_MARK) : request.to;
  const fits = metadataEntries(request.metadata) <= bounds.maxMetadataEntries && metadataBytes(request.metadata) <= bounds.maxMetadataBytes;
  if (shortened.length === 0 && fits) return request;
  const metadata = fits ? { ...request.metadata } : (shortened.push('metadata'), leadingEntries(request.metadata, bounds));
  metadata[ECHO_KEY.shortened] = shortened.join(',');
  metadata[ECHO_KEY.record] = cut(record, 512);
  return { id, from, to, metadata };
}

/** The metadata's entries in order while they fit in the bounds (whole entries; a too-large one is skipped). */
function leadingEntries(metadata: Readonly<Record<string, string>>, bounds: RequestBounds): Record<string, string> {
  const out: Record<string, string> = {};
  let entries = 0;
  let bytes = 0;
  for (const k in metadata) {
    if (entries >= bounds.maxMetadataEntries) break;
    const size = Buffer.byteLength(k) + Buffer.byteLength(metadata[k]!);
    if (bytes + size > bounds.maxMetadataBytes) continue;
    out[k] = metadata[k]!;
    entries++;
    bytes += size;
  }
  return out;
}

/**
 * The most UTF-8 bytes one event can spend echoing a request within `bounds` (3 bytes per UTF-16
 * unit at most; the two echo entries; Avro's length prefixes). `config.ts` checks that an event
 * of this size plus its fixed fields fits under KAFKA_MAX_RECORD_BYTES.
 */
export function maxEchoBytes(bounds: RequestBounds): number {
  const strings = 3 * (bounds.maxIdChars + 2 * bounds.maxAddressChars);
  const metadata = bounds.maxMetadataBytes + 10 * (bounds.maxMetadataEntries + 2) + 3 * 512 + 64;
  return strings + metadata;
}
