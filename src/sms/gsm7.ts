/**
 * GSM 03.38 (3GPP TS 23.038) default alphabet, as data.
 *
 * SMPP short_message with data_coding 0x00 carries GSM text *unpacked*: one octet per septet,
 * no 7-bit packing. Characters of the extension table cost two septets (escape 0x1B + code),
 * which matters for segment sizes: 160 septets is not always 160 characters.
 */

/** Escape septet that introduces a character of the extension table. */
export const GSM7_ESCAPE = 0x1b;

/**
 * Basic table: index = septet value. Index 0x1B is the escape, not a character, so it holds
 * a placeholder that is never mapped (a literal U+001B in text is not GSM-encodable).
 */
// prettier-ignore
const BASIC_TABLE: readonly string[] = [
  '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
  'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u001b', 'Æ', 'æ', 'ß', 'É',
  ' ', '!', '"', '#', '¤', '%', '&', "'", '(', ')', '*', '+', ',', '-', '.', '/',
  '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
  '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
  'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
  '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
  'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
];

/** Extension table: character → code that follows the escape septet. */
const EXTENSION_TABLE: ReadonlyArray<readonly [string, number]> = [
  ['\f', 0x0a],
  ['^', 0x14],
  ['{', 0x28],
  ['}', 0x29],
  ['\\', 0x2f],
  ['[', 0x3c],
  ['~', 0x3d],
  [']', 0x3e],
  ['|', 0x40],
  ['€', 0x65],
];

const BASIC_BY_CHAR: ReadonlyMap<string, number> = new Map(
  BASIC_TABLE.map((ch, septet) => [ch, septet] as const).filter(([, septet]) => septet !== GSM7_ESCAPE),
);
const EXTENSION_BY_CHAR: ReadonlyMap<string, number> = new Map(EXTENSION_TABLE);
const EXTENSION_BY_CODE: ReadonlyMap<number, string> = new Map(EXTENSION_TABLE.map(([ch, code]) => [code, ch]));

/** Every character of the basic table (escape excluded), for tests and generators. */
export const GSM7_BASIC_CHARS: readonly string[] = [...BASIC_BY_CHAR.keys()];
/** Every character of the extension table (each costs two septets). */
export const GSM7_EXTENSION_CHARS: readonly string[] = EXTENSION_TABLE.map(([ch]) => ch);

/**
 * Septets by UTF-16 code unit, built once from the tables above: the basic septet, or the
 * extension code with EXTENDED set (an escape goes before it), or NOT_GSM. Every GSM character is
 * one code unit, so a surrogate (half of an emoji, say) is NOT_GSM by construction. Indexed by
 * code unit, not a Map of one-character strings: encoding and checking run per character of every
 * message, and iterating a string by code point allocated an iterator result per character —
 * 11 % of all the connector's allocations in the end-to-end run (sampling heap profile).
 */
const NOT_GSM = -1;
const EXTENDED = 0x100;
const SEPTET_BY_UNIT: Int16Array = (() => {
  const table = new Int16Array(0x10000).fill(NOT_GSM);
  for (const [ch, septet] of BASIC_BY_CHAR) table[ch.charCodeAt(0)] = septet;
  for (const [ch, code] of EXTENSION_BY_CHAR) table[ch.charCodeAt(0)] = EXTENDED | code;
  return table;
})();

function septetAt(text: string, i: number): number {
  return SEPTET_BY_UNIT[text.charCodeAt(i)]!;
}

/** Index of the first code unit outside GSM 03.38, or -1. */
function firstNonGsm7Index(text: string): number {
  for (let i = 0; i < text.length; i++) if (septetAt(text, i) === NOT_GSM) return i;
  return -1;
}

/**
 * Septets one character (one code point) costs: 1 (basic table), 2 (extension table),
 * or null when GSM 03.38 cannot represent it.
 */
export function gsm7Septets(char: string): 1 | 2 | null {
  if (char.length !== 1) return null;
  const septet = septetAt(char, 0);
  return septet === NOT_GSM ? null : septet & EXTENDED ? 2 : 1;
}

/** True when every character of `text` is in the basic or extension table. */
export function isGsm7(text: string): boolean {
  return firstNonGsm7Index(text) < 0;
}

/** Total septets `text` costs, or null when some character is not representable. */
export function gsm7Length(text: string): number | null {
  let total = 0;
  for (let i = 0; i < text.length; i++) {
    const septet = septetAt(text, i);
    if (septet === NOT_GSM) return null;
    total += septet & EXTENDED ? 2 : 1;
  }
  return total;
}

/** First character of `text` outside GSM 03.38 (a whole code point, for error messages), or null. */
export function firstNonGsm7(text: string): string | null {
  const i = firstNonGsm7Index(text);
  return i < 0 ? null : String.fromCodePoint(text.codePointAt(i)!);
}

/**
 * Encodes to unpacked septets (one octet each), as SMPP short_message with data_coding 0 wants.
 * Throws RangeError on a character outside GSM 03.38: there is no silent substitution —
 * callers check with {@link isGsm7} first. `unitEnds`, when given, receives the offset just past
 * each character (its escape included), where a segment may be cut.
 */
export function encodeGsm7(text: string, unitEnds?: number[]): Buffer {
  // At most two septets per UTF-16 code unit (an escape and its code); one buffer, written in place.
  const out = Buffer.allocUnsafe(text.length * 2);
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    const septet = septetAt(text, i);
    if (septet === NOT_GSM) {
      const cp = text.codePointAt(i)!;
      throw new RangeError(`character U+${cp.toString(16).toUpperCase().padStart(4, '0')} is not in GSM 03.38`);
    }
    if (septet & EXTENDED) out[at++] = GSM7_ESCAPE;
    out[at++] = septet & 0x7f;
    unitEnds?.push(at);
  }
  return out.subarray(0, at);
}

/**
 * Decodes unpacked septets. Following TS 23.038, an escape followed by a code the extension
 * table does not define shows the basic-table character of that code; a trailing lone escape
 * is dropped. Lenient on purpose: the simulator decodes what clients send. Octets above 0x7F are masked to 7 bits (they cannot occur in valid GSM text).
 */
export function decodeGsm7(septets: Uint8Array): string {
  let text = '';
  for (let i = 0; i < septets.length; i++) {
    const septet = (septets[i] ?? 0) & 0x7f;
    if (septet !== GSM7_ESCAPE) {
      text += BASIC_TABLE[septet];
      continue;
    }
    i++;
    if (i >= septets.length) break;
    const code = (septets[i] ?? 0) & 0x7f;
    // Escape-escape is reserved for a future table; TS 23.038 says to show a space meanwhile.
    text += EXTENSION_BY_CODE.get(code) ?? (code === GSM7_ESCAPE ? ' ' : BASIC_TABLE[code]);
  }
  return text;
}
