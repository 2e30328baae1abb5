/**
 * Terminal safety for untrusted text (anything from GitHub, a model, a job payload or an
 * error message). Leaf module: imports nothing, so every room may use it.
 */

// CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC (ESC P|X|^|_ ... ST),
// two-byte escapes (ESC + one char), and their 8-bit C1 forms (U+009B CSI, U+009D OSC, ...).
// A string sequence without its terminator loses only its introducer (below, as a two-byte
// escape or a C1 control): the text after it stays visible, with no control left in it.
const ANSI_SEQUENCE =
  // eslint-disable-next-line no-control-regex
  /(?:\u001b\[|\u009b)[\u0020-\u003f]*[\u0020-\u002f]*[\u0040-\u007e]?|(?:\u001b[\]PX^_]|[\u009d\u0090\u0098\u009e\u009f])[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)|\u001b[\u0020-\u002f]*[\u0030-\u007e]?/g;
// Every remaining C0 control but tab and newline, DEL, and every C1 control.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
// Bidi overrides/isolates and zero-width characters that can disguise what is shown.
const INVISIBLE = /[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/** Strip terminal control sequences and controls from untrusted text; keeps \n and \t. */
export function safeText(value: unknown): string {
  const text = typeof value === 'string' ? value : value == null ? '' : String(value);
  return text.replace(/\r\n?/g, '\n').replace(ANSI_SEQUENCE, '').replace(CONTROL, '').replace(INVISIBLE, '');
}

/** Like safeText, but folds newlines and tabs to spaces: for one-line cells. */
export function safeLine(value: unknown): string {
  return safeText(value).replace(/[\n\t]+/g, ' ');
}

/** True when colour may be used on this stream: a TTY and NO_COLOR unset or empty. */
export function colorEnabled(stream: { isTTY?: boolean } = process.stdout): boolean {
  const noColor = process.env.NO_COLOR;
  return Boolean(stream.isTTY) && (noColor === undefined || noColor === '');
}

/**
 * Quote untrusted text for an error message: JSON-style quotes with every control,
 * bidi and zero-width character shown as a `\uXXXX` escape, so the bad value is visible
 * and harmless (`"ada\u001b[31m"`), cut to `max` characters.
 */
export function quoteUntrusted(value: string, max = 60): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(cut).replace(/[\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
