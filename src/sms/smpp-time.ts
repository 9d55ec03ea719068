/**
 * SMPP 3.4 time format (§7.1.1): 16 characters `YYMMDDhhmmsstnnp`.
 *   absolute: t = tenths of a second, nn = offset from UTC in quarter hours, p = '+' | '-'
 *   relative: `YYMMDDhhmmss000R` — a duration from the SMSC's current time
 * An empty string means "not set" (immediate delivery / SMSC default validity).
 *
 * The provider's table describes 0x61 as "Format must be YYYYMMDDHHMMSS"; that is their prose,
 * not the wire format — on the wire SMPP uses the 16-character form above, which is what we send.
 */

const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60 * MS_PER_SECOND;
const MS_PER_HOUR = 60 * MS_PER_MINUTE;
const MS_PER_DAY = 24 * MS_PER_HOUR;
const MS_PER_QUARTER_HOUR = 15 * MS_PER_MINUTE;
/** Largest UTC offset the format allows: 48 quarter hours = ±12 h. */
const MAX_OFFSET_QUARTERS = 48;
/** Two-digit years are taken as 20YY: SMPP carries no century and nothing we schedule is before 2000. */
const CENTURY = 2000;

export interface RelativeSmppTime {
  readonly years: number;
  readonly months: number;
  readonly days: number;
  readonly hours: number;
  readonly minutes: number;
  readonly seconds: number;
}

export type ParsedSmppTime = { readonly kind: 'absolute'; readonly epochMs: number } | { readonly kind: 'relative'; readonly relative: RelativeSmppTime };

export type SmppTimeResult = { readonly ok: true; readonly time: ParsedSmppTime | null } | { readonly ok: false; readonly reason: string };

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** Absolute time in UTC (`nn` = 00, `p` = '+'), e.g. 2026-11-25T12:00:00.300Z → `261125120000300+`. */
export function formatAbsoluteTime(at: Date | number): string {
  const d = typeof at === 'number' ? new Date(at) : at;
  if (Number.isNaN(d.getTime())) throw new RangeError('invalid date');
  const year = d.getUTCFullYear();
  if (year < CENTURY || year > CENTURY + 99) throw new RangeError(`year ${year} cannot be written as YY`);
  const tenths = Math.floor(d.getUTCMilliseconds() / 100);
  return (
    pad2(year - CENTURY) +
    pad2(d.getUTCMonth() + 1) +
    pad2(d.getUTCDate()) +
    pad2(d.getUTCHours()) +
    pad2(d.getUTCMinutes()) +
    pad2(d.getUTCSeconds()) +
    String(tenths) +
    '00+'
  );
}

/**
 * Relative time for a duration, written in days/hours/minutes/seconds (years and months are
 * left 00 because their length depends on the calendar). Sub-second parts are dropped.
 * Throws RangeError beyond 99 days, which the 2-digit DD field cannot hold.
 */
export function formatRelativeTime(durationMs: number): string {
  if (!Number.isFinite(durationMs) || durationMs < 0) throw new RangeError(`invalid duration ${durationMs}`);
  const days = Math.floor(durationMs / MS_PER_DAY);
  if (days > 99) throw new RangeError(`duration of ${days} days exceeds the 99 days a relative SMPP time can hold`);
  const hours = Math.floor((durationMs % MS_PER_DAY) / MS_PER_HOUR);
  const minutes = Math.floor((durationMs % MS_PER_HOUR) / MS_PER_MINUTE);
  const seconds = Math.floor((durationMs % MS_PER_MINUTE) / MS_PER_SECOND);
  return '0000' + pad2(days) + pad2(hours) + pad2(minutes) + pad2(seconds) + '000R';
}

/** Optional epoch ms → SMPP absolute time, or '' when not set. */
/** Why `at` (epoch ms) cannot be sent as an absolute SMPP time, or null when it can (years 2000–2099). */
export function absoluteTimeProblem(at: number): string | null {
  const year = new Date(at).getUTCFullYear();
  if (Number.isNaN(year)) return `${at} is not a valid time`;
  if (year < CENTURY || year > CENTURY + 99) return `year ${year} cannot be sent: SMPP writes the year in two digits (${CENTURY}–${CENTURY + 99})`;
  return null;
}

export function optionalAbsoluteTime(at: number | null): string {
  return at === null ? '' : formatAbsoluteTime(at);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Splits the 12 date/time digits into numbers; shared by both forms. */
function fields(s: string): [number, number, number, number, number, number] {
  const n = (i: number): number => Number(s.slice(i, i + 2));
  return [n(0), n(2), n(4), n(6), n(8), n(10)];
}

function parseAbsolute(s: string): SmppTimeResult {
  const [yy, month, day, hour, minute, second] = fields(s);
  const tenths = Number(s[12]);
  const quarters = Number(s.slice(13, 15));
  const year = CENTURY + yy;
  if (month < 1 || month > 12) return { ok: false, reason: `month ${month} out of range` };
  if (day < 1 || day > daysInMonth(year, month)) return { ok: false, reason: `day ${day} out of range` };
  if (hour > 23 || minute > 59 || second > 59) return { ok: false, reason: 'time of day out of range' };
  if (quarters > MAX_OFFSET_QUARTERS) return { ok: false, reason: `UTC offset of ${quarters} quarter hours out of range` };
  const local = Date.UTC(year, month - 1, day, hour, minute, second, tenths * 100);
  // '+' means the written local time is ahead of UTC, so UTC = local − offset.
  const sign = s[15] === '+' ? 1 : -1;
  return { ok: true, time: { kind: 'absolute', epochMs: local - sign * quarters * MS_PER_QUARTER_HOUR } };
}

function parseRelative(s: string): SmppTimeResult {
  if (s.slice(12, 15) !== '000') return { ok: false, reason: "relative time must have '000' before 'R'" };
  const [years, months, days, hours, minutes, seconds] = fields(s);
  return { ok: true, time: { kind: 'relative', relative: { years, months, days, hours, minutes, seconds } } };
}

/** Parses an SMPP time field; '' → `time: null` (not set). Used by tests and the simulator (0x61/0x62). */
export function parseSmppTime(s: string): SmppTimeResult {
  if (s === '') return { ok: true, time: null };
  if (!/^[0-9]{15}[+\-R]$/.test(s)) {
    return { ok: false, reason: `'${s}' is not YYMMDDhhmmsstnnp (16 characters, ending in '+', '-' or 'R')` };
  }
  return s.endsWith('R') ? parseRelative(s) : parseAbsolute(s);
}

/** Adds a relative SMPP time to `baseMs` with calendar arithmetic (months/years vary in length). */
export function addRelativeTime(baseMs: number, rel: RelativeSmppTime): number {
  const d = new Date(baseMs);
  d.setUTCFullYear(d.getUTCFullYear() + rel.years, d.getUTCMonth() + rel.months);
  return d.getTime() + rel.days * MS_PER_DAY + rel.hours * MS_PER_HOUR + rel.minutes * MS_PER_MINUTE + rel.seconds * MS_PER_SECOND;
}

/** Epoch ms a parsed time stands for, relative ones resolved against `nowMs`; null when not set. */
export function resolveSmppTime(time: ParsedSmppTime | null, nowMs: number): number | null {
  if (time === null) return null;
  return time.kind === 'absolute' ? time.epochMs : addRelativeTime(nowMs, time.relative);
}

/**
 * How a provider wants `schedule_delivery_time` / `validity_period` written: SMPP 3.4's 16-character
 * form (`smpp34`, what the specification says), or the 14 digits `YYYYMMDDhhmmss` in UTC that
 * Agile's 0x61 text names. Which one Agile's SMSC takes cannot be tested from here, so it is a
 * per-route setting an operator can switch without a release (issue 21 §1).
 */
export type SmppTimeFormat = 'smpp34' | 'yyyymmddhhmmss';

export const SMPP_TIME_FORMATS: readonly SmppTimeFormat[] = ['smpp34', 'yyyymmddhhmmss'];

/** A time field written by `optionalAbsoluteTime`, rewritten in `format` (empty stays empty). */
export function inTimeFormat(value: string, format: SmppTimeFormat): string {
  if (format === 'smpp34' || value === '') return value;
  const parsed = parseSmppTime(value);
  if (!parsed.ok || parsed.time?.kind !== 'absolute') throw new RangeError(`not an absolute SMPP time: '${value}'`);
  return new Date(parsed.time.epochMs).toISOString().slice(0, 19).replace(/[-T:]/g, '');
}
