/**
 * Turns `produce`'s flags or input file into `SmsOutbound` requests.
 *
 * Files: `.csv` (header row; RFC 4180 via csv-parse, because SMS text routinely holds commas,
 * quotes and line breaks), `.json` (an array of objects) or `.jsonl` / `.ndjson` (one object a
 * line). Columns / fields: `to` and `text` required; `id`, `from`, `key`, `encoding`,
 * `requestDeliveryReport`, `validForMs`, `validUntil` (ISO or epoch ms), `scheduleAt`, `metadata`
 * (JSON object; in CSV a JSON string) optional — a missing one takes the flag's value.
 * An error names the file, the row and the field.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { SMS_ENCODINGS, type SmsEncoding, type SmsOutbound } from '../contracts.js';

/** A request and the Kafka key it is sent with. */
export interface KeyedRequest {
  key: string;
  value: SmsOutbound;
}

export interface RequestDefaults {
  from: string;
  text?: string;
  encoding: SmsEncoding;
  requestDeliveryReport: boolean;
  validForMs?: number;
  key?: string;
  metadata: Record<string, string>;
  /** The id of a single request; with several, `<idBase>-<n>` (1-based) unless a row gives one. */
  idBase: string;
}

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** `count` requests from the flags alone (text default: `Test message <id>`). */
export function requestsFromFlags(to: string, count: number, d: RequestDefaults, now = Date.now()): KeyedRequest[] {
  const out: KeyedRequest[] = [];
  for (let n = 1; n <= count; n++) {
    const id = count === 1 ? d.idBase : `${d.idBase}-${n}`;
    out.push(build({ to, text: d.text ?? `Test message ${id}` }, d, id, now, 'flags'));
  }
  return out;
}

export function requestsFromFile(path: string, d: RequestDefaults, now = Date.now()): KeyedRequest[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const rows = parseRows(path, text);
  if (rows.length === 0) throw new InputError(`${path}: no requests in the file`);
  return rows.map(({ row, where }, i) => build(row, d, `${d.idBase}-${i + 1}`, now, `${path}:${where}`));
}

type Row = Record<string, unknown>;

function parseRows(path: string, text: string): { row: Row; where: string }[] {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') {
    try {
      const rows = parseCsv<Row>(text, { columns: true, skip_empty_lines: true, trim: false, bom: true });
      return rows.map((row, i) => ({ row, where: `row ${i + 1}` }));
    } catch (err) {
      throw new InputError(`${path}: not valid CSV (${(err as Error).message})`);
    }
  }
  if (ext === '.json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new InputError(`${path}: not valid JSON (${(err as Error).message})`);
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    return list.map((row, i) => ({ row: asObject(row, `${path}: item ${i + 1}`), where: `item ${i + 1}` }));
  }
  if (ext === '.jsonl' || ext === '.ndjson') {
    const out: { row: Row; where: string }[] = [];
    text.split(/\r?\n/).forEach((line, i) => {
      if (line.trim() === '') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (err) {
        throw new InputError(`${path}:${i + 1}: not valid JSON (${(err as Error).message})`);
      }
      out.push({ row: asObject(parsed, `${path}:${i + 1}`), where: `line ${i + 1}` });
    });
    return out;
  }
  throw new InputError(`${path}: unknown file type (use .csv, .json, .jsonl or .ndjson)`);
}

function asObject(value: unknown, where: string): Row {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InputError(`${where}: expected an object`);
  return value as Row;
}

function build(row: Row, d: RequestDefaults, defaultId: string, now: number, where: string): KeyedRequest {
  const str = (field: string): string | undefined => {
    const v = row[field];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new InputError(`${where}: ${field} must be a string`);
  };
  const to = str('to');
  if (!to) throw new InputError(`${where}: to is required`);
  const text = str('text') ?? d.text;
  if (text === undefined) throw new InputError(`${where}: text is required (a column, or --text)`);
  const id = str('id') ?? defaultId;
  const validForMs = optionalInt(str('validForMs'), `${where}: validForMs`) ?? d.validForMs;
  const value: SmsOutbound = {
    id,
    from: str('from') ?? d.from,
    to,
    text,
    encoding: encodingOf(str('encoding'), `${where}: encoding`) ?? d.encoding,
    requestDeliveryReport: booleanOf(str('requestDeliveryReport'), `${where}: requestDeliveryReport`) ?? d.requestDeliveryReport,
    scheduleAt: timeOf(str('scheduleAt'), `${where}: scheduleAt`),
    validUntil: timeOf(str('validUntil'), `${where}: validUntil`) ?? (validForMs !== undefined ? now + validForMs : null),
    metadata: { ...d.metadata, ...metadataOf(row['metadata'], `${where}: metadata`) },
  };
  return { key: str('key') ?? d.key ?? to, value };
}

export function encodingOf(v: string | undefined, what: string): SmsEncoding | undefined {
  if (v === undefined) return undefined;
  const upper = v.toUpperCase();
  if (!(SMS_ENCODINGS as readonly string[]).includes(upper))
    throw new InputError(`${what} must be one of ${SMS_ENCODINGS.join(', ')} (got ${JSON.stringify(v)})`);
  return upper as SmsEncoding;
}

function booleanOf(v: string | undefined, what: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new InputError(`${what} must be true or false (got ${JSON.stringify(v)})`);
}

function optionalInt(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new InputError(`${what} must be a whole number of milliseconds (got ${JSON.stringify(v)})`);
  return Number(v);
}

function timeOf(v: string | undefined, what: string): number | null {
  if (v === undefined) return null;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new InputError(`${what} must be an ISO time or epoch milliseconds (got ${JSON.stringify(v)})`);
  return ms;
}

function metadataOf(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null || v === '') return {};
  let obj: unknown = v;
  if (typeof v === 'string') {
    try {
      obj = JSON.parse(v);
    } catch {
      throw new InputError(`${what} must be a JSON object of strings`);
    }
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new InputError(`${what} must be a JSON object of strings`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj)) out[k] = String(val);
  return out;
}
