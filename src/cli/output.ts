import { safeLine } from '../util/terminal.js';

export { duration, plural } from '../util/format.js';

/** Write one JSON value as a line to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Write lines to stdout. */
export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Write a diagnostic line to stderr. */
export function info(text: string): void {
  process.stderr.write(`${text}\n`);
}

/**
 * Render rows as an aligned text table. Cells are made single-line and stripped of control
 * sequences; columns that do not fit `width` are dropped from the right.
 */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[], width = process.stdout.columns || 120): string {
  const cells = rows.map((r) => r.map((c) => safeLine(c)));
  const widths = headers.map((h, i) => Math.min(60, Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length))));
  let cols = headers.length;
  while (cols > 1 && widths.slice(0, cols).reduce((s, w) => s + w + 2, -2) > width) cols--;
  const line = (r: readonly string[]) => r.slice(0, cols).map((c, i) => (c.length > widths[i]! ? `${c.slice(0, widths[i]! - 1)}…` : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}
