import { coerceError } from '../queue/index.js';

/** What to do with a job whose handler threw. */
export type Disposition =
  | { kind: 'retry'; error: Error }
  | { kind: 'fail'; error: Error }
  | { kind: 'delay'; error: Error; until: number };

/**
 * Classify a handler's error by its stable `code` (not instanceof, so an error class from a
 * second copy of the queue module still counts): E_PERMANENT fails now, E_DELAY with a
 * numeric `until` comes back at that time without spending an attempt, anything else
 * (E_TIMEOUT included) is retried with backoff.
 */
export function classifyError(thrown: unknown): Disposition {
  const error = coerceError(thrown);
  const code = (error as { code?: unknown }).code;
  if (code === 'E_PERMANENT') return { kind: 'fail', error };
  if (code === 'E_DELAY') {
    const until = Number((error as { until?: unknown }).until);
    if (Number.isFinite(until)) return { kind: 'delay', error, until };
  }
  return { kind: 'retry', error };
}
