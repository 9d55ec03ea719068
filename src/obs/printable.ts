/**
 * Text from producers, the SMSC or the DLQ made safe for an operator's terminal.
 *
 * A request id, a message id or a DLQ header can hold escape sequences (move the cursor, rewrite the
 * window title, hide text, or with some terminals write files or the clipboard), C0/C1 controls
 * (a carriage return overwrites the line before it) and bidirectional overrides (text shown in
 * another order than it is). Everything the command line prints goes through `printable` (text) or
 * `printableJson` (JSON lines, where a control character is escaped instead so the value survives).
 * No library: `strip-ansi` and friends remove ANSI sequences only, not the other controls.
 */

/**
 * ECMA-48 sequences, 7-bit (`ESC …`) and 8-bit (C1 introducers): CSI (`ESC [` / 0x9B … final byte),
 * OSC, DCS, SOS, PM, APC (`ESC ] P X ^ _` / 0x9D 0x90 0x98 0x9E 0x9F … terminated by BEL or ST),
 * and two-byte escapes (`ESC` + intermediates + final).
 */
const ESCAPE_SEQUENCE =
  // eslint-disable-next-line no-control-regex -- matching terminal control sequences is this module's job
  /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[ -/]*[0-~]/g;

/** C0 (tab and newline included: one printed line is one line), DEL, C1, and the bidirectional controls. */
// eslint-disable-next-line no-control-regex -- the control characters are what it finds
const CONTROL = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Characters JSON.stringify leaves raw that a terminal still acts on (it escapes C0 itself). */
const JSON_RAW_CONTROL = /[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

/** `text` without escape sequences and control characters. */
export function printable(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, '').replace(CONTROL, '');
}

/** `value` as one JSON line whose every control character is a `\uXXXX` escape: the data intact, the terminal safe. */
export function printableJson(value: unknown): string {
  return JSON.stringify(value).replace(JSON_RAW_CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Wraps a line printer so every line it is given is `printable` first. */
export function printableLines(print: (line: string) => void): (line: string) => void {
  return (line) => print(printable(line));
}
