/** Plain formatting and constants shared by every room (CLI, monitor, daemon, analysis). Leaf module: imports nothing. */

/** One day in ms. */
export const DAY_MS = 86_400_000;

/** Format a duration in ms as a short string (`850ms`, `12s`, `3m 4s`, `2h 5m`, `3d 4h`); `-` for null. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/**
 * Say a count with its noun: `1 job`, `2 jobs`; `many` is the plural when adding `s` is
 * wrong (`plural(2, 'analysis', 'analyses')`); `show` formats the number (default as is).
 */
export function plural(n: number, one: string, many = `${one}s`, show: (n: number) => string = String): string {
  return `${show(n)} ${n === 1 ? one : many}`;
}

/** Show a webhook URL without its secrets (Slack and Discord put them in the path): the origin, and `/…` when it has a path or query. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    const rest = u.pathname !== '/' || u.search !== '' ? '/…' : '';
    return `${u.protocol}//${u.host}${rest}`;
  } catch {
    return '(invalid url)';
  }
}
