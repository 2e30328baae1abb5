/**
 * HTML building blocks of the dashboard. Every string that reaches a page goes through
 * `esc` (trusted text) or `text` (untrusted: from GitHub, a model, a payload or an error),
 * so no markup, attribute or URL can be injected. Charts are inline SVG drawn here with
 * presentation attributes only (the page's CSP allows no inline style).
 */
import { duration } from '../util/format.js';

/** Escape text for an HTML text node or a double- or single-quoted attribute value. */
export function esc(value: unknown): string {
  const s = typeof value === 'string' ? value : value === null || value === undefined ? '' : String(value);
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

// C0 controls but tab and newline, DEL, C1 controls, and the bidi overrides, isolates and
// zero-width characters that could make text show something other than what it says.
// eslint-disable-next-line no-control-regex
const DISGUISE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/**
 * Escape untrusted text and show its control, bidi and zero-width characters as visible
 * `\uXXXX` escapes, so a stranger's text reads exactly as it was written.
 */
export function text(value: unknown): string {
  const s = typeof value === 'string' ? value : value === null || value === undefined ? '' : String(value);
  return esc(s.replace(/\r\n?/g, '\n').replace(DISGUISE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/** A link to `href` only when it is an http(s) URL; any other scheme (javascript:, data:) shows as plain text. */
export function externalLink(href: string | null | undefined, label?: string): string {
  if (!href) return '';
  let ok: boolean;
  try {
    const u = new URL(href);
    // eslint-disable-next-line no-control-regex -- control characters are what it looks for: they disguise a URL
    ok = (u.protocol === 'https:' || u.protocol === 'http:') && !/[\s\u0000-\u001f]/.test(href);
  } catch {
    ok = false;
  }
  const shown = text(label ?? href);
  return ok ? `<a href="${esc(href)}" rel="noopener noreferrer nofollow" target="_blank">${shown}</a>` : `<span class="untrusted-url">${shown}</span>`;
}

/** Format a count with thousands separators. */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Format a rate with one decimal below 10. */
export function rate(n: number): string {
  return n < 10 ? (Math.round(n * 10) / 10).toString() : count(n);
}

/** An ISO time (UTC, seconds). */
export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `12s ago` with the exact time on hover; `-` when `at` is null. */
export function ago(at: number | null | undefined, now: number): string {
  if (at === null || at === undefined) return '-';
  return `<time datetime="${iso(at)}" title="${iso(at)}">${esc(duration(now - at))} ago</time>`;
}

export { duration };

/** One column of a table: its title, how a row fills it, and whether it is numeric. */
export interface Column<T> {
  title: string;
  cell(row: T): string;
  num?: boolean;
  /** A data-k attribute on the cell, for tests and scripts reading values. */
  key?: string;
}

/** A table of rows (cells are HTML already escaped by the column functions). */
export function table<T>(columns: readonly Column<T>[], rows: readonly T[], options: { empty?: string; rowAttrs?: (row: T) => string } = {}): string {
  if (rows.length === 0) return `<p class="empty">${esc(options.empty ?? 'Nothing here.')}</p>`;
  const head = columns.map((c) => `<th${c.num ? ' class="num"' : ''}>${esc(c.title)}</th>`).join('');
  const body = rows
    .map((r) => `<tr${options.rowAttrs ? ` ${options.rowAttrs(r)}` : ''}>${columns.map((c) => `<td${c.num ? ' class="num"' : ''}${c.key ? ` data-k="${esc(c.key)}"` : ''}>${c.cell(r)}</td>`).join('')}</tr>`)
    .join('');
  return `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

/**
 * A column chart of `values` (oldest first) as inline SVG: one bar per value with its
 * label as a tooltip, the largest value written at the top left.
 */
export function columnChart(values: readonly number[], options: { label: string; width?: number; height?: number; tip?: (i: number, v: number) => string }): string {
  const width = options.width ?? 600;
  const height = options.height ?? 120;
  const max = Math.max(1, ...values);
  const step = width / Math.max(1, values.length);
  const bars = values
    .map((v, i) => {
      if (v <= 0) return '';
      const h = v > 0 ? Math.max(1, (v / max) * (height - 16)) : 0;
      const tip = options.tip ? options.tip(i, v) : String(v);
      return `<rect x="${(i * step + 1).toFixed(1)}" y="${(height - h).toFixed(1)}" width="${Math.max(1, step - 2).toFixed(1)}" height="${h.toFixed(1)}" class="bar"><title>${esc(tip)}</title></rect>`;
    })
    .join('');
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" width="100%" height="${height}" preserveAspectRatio="none" role="img" aria-label="${esc(options.label)}">`
    + `<line x1="0" y1="${height - 0.5}" x2="${width}" y2="${height - 0.5}" class="axis"/>${bars}`
    + `<text x="4" y="12" class="chart-max">${esc(count(max))}</text></svg>`;
}

/** A horizontal bar for `value` out of `max` as inline SVG, with the value as text next to it. */
export function meter(value: number, max: number, label: string, tone: 'ok' | 'warn' | 'bad' | 'plain' = 'plain'): string {
  const w = 120;
  const filled = max > 0 ? Math.max(0, Math.min(1, value / max)) * w : 0;
  return `<svg class="meter" viewBox="0 0 ${w} 10" width="${w}" height="10" role="img" aria-label="${esc(label)}">`
    + `<rect x="0" y="0" width="${w}" height="10" class="meter-bg"/><rect x="0" y="0" width="${filled.toFixed(1)}" height="10" class="meter-${tone}"/></svg>`;
}
