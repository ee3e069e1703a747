// Device-supplied text shown to people: support's terminal and spreadsheet are attack surfaces
// (issue #16 item 3, docs/security.md). Control characters become visible escapes, never bytes a
// terminal acts on; CSV cells a spreadsheet would run as formulas are defused.

/**
 * C0 controls, DEL, C1 controls (U+0080–U+009F: U+009B is a one-character CSI on many terminals),
 * the bidirectional overrides and isolates (text that reads differently from what it is, "Trojan
 * Source"), and the line/paragraph separators some viewers break lines on.
 */
/* eslint-disable no-control-regex -- matching control characters is the point */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// As above, but a newline is kept (multi-line output).
const UNSAFE_BUT_NEWLINE =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/* eslint-enable no-control-regex */

const escape = (c: string): string => {
  const n = c.codePointAt(0) ?? 0;
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
};

/** One line of untrusted text, safe for a terminal: every control character shown as `\xHH` / `\uHHHH`. */
export function neutraliseControls(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** Multi-line output assembled by us (tables, reports): as {@link neutraliseControls}, newlines kept. */
export function neutraliseTerminalOutput(text: string): string {
  return text.replace(UNSAFE_BUT_NEWLINE, escape);
}

/**
 * JSON for a terminal. JSON.stringify already escapes C0 controls; C1 controls, bidi overrides and
 * the separators pass raw, so they are written as `\uHHHH` escapes (still the same JSON value).
 */
export function terminalJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    UNSAFE_BUT_NEWLINE,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * One CSV cell (RFC 4180) for a spreadsheet: controls neutralised, and a cell that starts with
 * `=`, `+`, `-`, `@` (or a tab / carriage return before one) is prefixed with `'` so Excel,
 * LibreOffice and Google Sheets show it as text instead of running it (OWASP "CSV Injection").
 */
export function csvCell(value: string): string {
  const raw = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  const text = neutraliseControls(raw);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** An RFC 4180 document (CRLF line ends) of header + rows, every cell through {@link csvCell}. */
export function toCsv(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
