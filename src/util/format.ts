/** Plain formatting shared by the CLI and the monitor. Leaf module: imports nothing. */

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
 * wrong (`plural(2, 'analysis', 'analyses')`).
 */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
