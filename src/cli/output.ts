import { safeLine } from '../util/terminal.js';

export { duration, plural } from '../util/format.js';

/** What a closed output pipe does: see handleClosedPipes. */
let closedPipe: 'exit' | 'ignore' = 'exit';

/**
 * Handle a reader that goes away (`gitroast list | head -1`: EPIPE on stdout or stderr) once,
 * for every command: the command stops writing and exits 0 at once, quietly, because the
 * reader took what it wanted; work already committed stays committed (a write transaction is
 * synchronous, so it is never cut in half). A command that must outlive its reader (the
 * daemon) calls keepRunningWhenOutputCloses. Other write errors are thrown as before.
 */
export function handleClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      if (closedPipe === 'exit') process.exit(0);
    });
  }
}

/** Keep running when stdout or stderr closes, dropping what is written to it (the daemon: logging must never stop work). */
export function keepRunningWhenOutputCloses(): void {
  closedPipe = 'ignore';
}

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
