/**
 * The rules for a leased job that did not complete, shared by both engines (./jobs.ts on
 * SQLite, ./pg/jobs.ts on PostgreSQL): pure functions of the job's row and the store's
 * now, so the two engines record the same history, back off the same way, fail with the
 * same reasons and hand callbacks the same payloads. The engines only run the SQL.
 */
import { mergePayload } from './jobs.js';
import type { AttemptError, ChainState, JobSpec } from './types.js';
import { backoffSeconds } from './validate.js';

/** The columns of a leased job the rules read (either engine's row). */
export interface LeasedFacts {
  id: number;
  queue: string;
  name: string;
  attempts: number;
  max_attempts: number;
  backoff: string | null;
  retry_until: number | null;
  unique_key: string | null;
  tags: string | null;
  chain: string | null;
  errors: string | null;
  priority: number;
  timeout_ms: number | null;
  created_at: number;
}

/** An error as an attempt records it. */
interface AttemptErrorInfo {
  message: string;
  stack?: string;
}

/** The job's error history with this attempt's error appended: bounded to 25 entries, the first 5 kept (they and the latest tell the story). */
export function withError(row: Pick<LeasedFacts, 'errors' | 'attempts'>, error: AttemptErrorInfo, now: number): string {
  const list = row.errors ? (JSON.parse(row.errors) as AttemptError[]) : [];
  const entry: AttemptError = { attempt: row.attempts, at: now, message: error.message.slice(0, 4000) };
  if (error.stack) entry.stack = error.stack.slice(0, 8000);
  list.push(entry);
  if (list.length > 25) list.splice(5, list.length - 25);
  return JSON.stringify(list);
}

/**
 * What a retryable error does to a leased job: back at `at` after its backoff (the last value
 * repeats), or failed for good with `reason` when its tries are used up or its retry-until
 * deadline would pass.
 */
export function retryPlan(row: LeasedFacts, error: AttemptErrorInfo, now: number): { kind: 'retry'; at: number } | { kind: 'fail'; reason: string } {
  if (row.attempts >= row.max_attempts) return { kind: 'fail', reason: `${error.message} (attempt ${row.attempts} of ${row.max_attempts}: no tries left)` };
  const backoff = row.backoff ? (JSON.parse(row.backoff) as number[]) : [];
  const at = now + Math.round(backoffSeconds(backoff, row.attempts) * 1000);
  if (row.retry_until !== null && at >= row.retry_until) {
    return { kind: 'fail', reason: `${error.message} (retry-until deadline ${new Date(row.retry_until).toISOString()} reached)` };
  }
  return { kind: 'retry', at };
}

/**
 * What a wait until `until` does to a leased job: back at `at` with its attempt given back and
 * its retry-until moved back by the wait, or failed with `reason` when `until` is more than
 * `maxWaitMs` after its enqueue.
 */
export function delayPlan(row: LeasedFacts, until: number, reason: string, now: number, maxWaitMs: number):
  { kind: 'delay'; at: number; attempts: number; retryUntil: number | null } | { kind: 'fail'; reason: string } {
  if (until - row.created_at > maxWaitMs) {
    const bound = maxWaitMs % 3_600_000 === 0 ? `${maxWaitMs / 3_600_000} h` : `${Math.round(maxWaitMs / 1000)} s`;
    return { kind: 'fail', reason: `${reason} (would wait past its rate-limit bound of ${bound} after it was enqueued: maxRateLimitWaitHours)` };
  }
  const at = Math.max(until, now);
  // The wait is not a failure: the retry-until window moves back by it.
  return { kind: 'delay', at, attempts: Math.max(0, row.attempts - 1), retryUntil: row.retry_until === null ? null : row.retry_until + (at - now) };
}

/** The failed_jobs `options` column: what a retry of the failed job needs besides its row. */
export function failedOptions(row: LeasedFacts): string {
  return JSON.stringify({
    priority: row.priority, tries: row.max_attempts, backoff: row.backoff ? (JSON.parse(row.backoff) as number[]) : undefined,
    timeoutMs: row.timeout_ms ?? undefined, uniqueKey: row.unique_key ?? undefined,
    chain: row.chain ? (JSON.parse(row.chain) as ChainState) : undefined,
  });
}

/** The chain's catch job for a link that failed for good (its payload gets `failure`), or undefined when the chain has none. */
export function chainCatchJob(row: LeasedFacts, reason: string, failedUuid: string): JobSpec | undefined {
  const chain = row.chain ? (JSON.parse(row.chain) as ChainState) : null;
  if (!chain?.catch) return undefined;
  const failure = { jobId: row.id, name: row.name, queue: row.queue, message: reason.slice(0, 1000), failedUuid };
  return { ...chain.catch, payload: mergePayload(chain.catch.payload, { failure }) };
}
