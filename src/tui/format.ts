/** Pure formatting helpers for the monitor: durations, sparklines, bars, fitted tables. */
import { duration } from '../util/format.js';
import { safeLine } from '../util/terminal.js';

export { duration };
import type { JobQuery } from './types.js';

/** `12s ago` from two times; `-` when `at` is null. */
export function ago(at: number | null | undefined, now: number): string {
  return at === null || at === undefined ? '-' : `${duration(now - at)} ago`;
}

/** Format a count with thousands separators (`1,234`). */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Format a rate with one decimal below 10 (`0.5`, `12`). */
export function rate(n: number): string {
  return n < 10 ? (Math.round(n * 10) / 10).toString() : Math.round(n).toLocaleString('en-US');
}

const SPARKS = '▁▂▃▄▅▆▇█';

/** Draw `series` as a sparkline of block characters, scaled to its maximum; blanks become `▁`. */
export function sparkline(series: readonly number[], width = series.length): string {
  const values = series.length > width ? series.slice(series.length - width) : series;
  const max = Math.max(0, ...values);
  return values.map((v) => (max === 0 || v <= 0 ? SPARKS[0] : SPARKS[Math.min(7, Math.max(1, Math.ceil((v / max) * 7)))])).join('');
}

/**
 * Draw `series` as a block chart `height` rows tall, scaled to its maximum, top row first:
 * each column is one value, each row holds eight steps (` ▁▂▃▄▅▆▇█`). At most `width`
 * values, the newest kept.
 */
export function blockChart(series: readonly number[], width: number, height: number): string[] {
  const values = series.length > width ? series.slice(series.length - width) : series;
  const max = Math.max(0, ...values);
  const steps = ' ▁▂▃▄▅▆▇█';
  const rows: string[] = [];
  for (let row = height - 1; row >= 0; row--) {
    rows.push(values.map((v) => {
      if (max === 0 || v <= 0) return row === 0 ? '▁' : ' ';
      const eighths = Math.max(1, Math.round((v / max) * height * 8)) - row * 8;
      return eighths <= 0 ? ' ' : steps[Math.min(8, eighths)]!;
    }).join(''));
  }
  return rows;
}

/** A progress bar of `width` cells: `█` done, `▓` failed, `░` left. */
export function bar(done: number, failed: number, total: number, width: number): string {
  if (width <= 0) return '';
  if (total <= 0) return '░'.repeat(width);
  const f = Math.min(width, Math.round((failed / total) * width));
  const d = Math.min(width - f, Math.round((done / total) * width));
  return '█'.repeat(d) + '▓'.repeat(f) + '░'.repeat(width - d - f);
}

// Fingerprints group failed jobs in both monitors: the rule lives in src/queue's read model.
export { fingerprint } from '../queue/index.js';

/**
 * Parse a `/` filter: `queue:high name:fetch-github tag:user:octocat some text`. Words with a
 * known prefix set that field; the rest is free text matched against name, queue, tags and payload.
 */
export function parseQuery(input: string): JobQuery {
  const q: JobQuery = {};
  const text: string[] = [];
  for (const word of input.trim().split(/\s+/).filter(Boolean)) {
    const m = /^(queue|name|tag):(.+)$/.exec(word);
    if (m) q[m[1] as 'queue' | 'name' | 'tag'] = m[2]!;
    else text.push(word);
  }
  if (text.length) q.text = text.join(' ');
  return q;
}

/** One column of a fitted table. */
export interface Column {
  header: string;
  /** Preferred width; the column grows to its content up to `max`. */
  min: number;
  max?: number;
  align?: 'left' | 'right';
  /** Lower numbers are dropped last when the terminal is narrow. Default 1. */
  priority?: number;
  /** The one column that absorbs spare width (and is truncated first). */
  flex?: boolean;
}

/** A laid-out table: which columns survived, their widths, and a function to draw a row. */
export interface Layout {
  columns: Column[];
  widths: number[];
  line(cells: readonly unknown[]): string;
  header: string;
}

/**
 * Lay out columns to fit `width` characters: each cell is made single-line and safe, columns
 * grow to their content (up to max), and when the total is too wide the columns with the
 * highest priority number are dropped (never wrapped); the flex column is truncated with `…`.
 */
export function layout(columns: readonly Column[], rows: readonly (readonly unknown[])[], width: number): Layout {
  const want = columns.map((c, i) => {
    let w = Math.max(c.min, c.header.length);
    for (const r of rows) w = Math.max(w, safeLine(r[i]).length);
    return Math.min(w, c.max ?? 60);
  });
  let keep = columns.map((_, i) => i);
  const total = (idx: number[]) => idx.reduce((s, i) => s + (columns[i]!.flex ? Math.max(columns[i]!.min, columns[i]!.header.length) : want[i]!) + 1, -1);
  while (keep.length > 1 && total(keep) > width) {
    let drop = -1;
    for (const i of keep) if (drop === -1 || (columns[i]!.priority ?? 1) >= (columns[drop]!.priority ?? 1)) drop = i;
    if ((columns[drop]!.priority ?? 1) <= 0) break;
    keep = keep.filter((i) => i !== drop);
  }
  const widths = keep.map((i) => want[i]!);
  const flexAt = keep.findIndex((i) => columns[i]!.flex);
  const used = widths.reduce((s, w) => s + w + 1, -1);
  if (flexAt >= 0) widths[flexAt] = Math.max(columns[keep[flexAt]!]!.min, widths[flexAt]! + (width - used));
  const kept = keep.map((i) => columns[i]!);
  const line = (cells: readonly unknown[]): string => {
    const out = keep.map((i, k) => fit(safeLine(cells[i]), widths[k]!, columns[i]!.align ?? 'left'));
    return truncate(out.join(' ').trimEnd(), width);
  };
  return { columns: kept, widths, line, header: line(columns.map((c) => c.header)) };
}

/** Pad or truncate `text` to exactly `width` characters. */
function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  if (text.length > width) return width === 1 ? '…' : `${text.slice(0, width - 1)}…`;
  return align === 'right' ? text.padStart(width) : text.padEnd(width);
}

/** Cut `text` to at most `width` characters, ending with `…` when cut. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  return text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
}
