import { immediate, stmt, type Db } from './db.js';
import { FAILED_READ_LIMIT } from './defaults.js';
import { enqueueInTx, parseJson } from './jobs.js';
import { notifyEnqueued } from './notify.js';
import type { ChainState, FailedJob, JobSpec } from './types.js';

/** Which failed jobs an operation applies to. Fields combine with AND; `all` ignores the rest. */
export interface FailedFilter {
  uuids?: readonly string[];
  queue?: string;
  name?: string;
  tag?: string;
  /** Every failed job (still narrowed by queue / name / tag when given). */
  all?: boolean;
  batchId?: string;
  limit?: number;
}

/** A failed_jobs row as either engine returns it. */
export interface FailedRow {
  uuid: string;
  job_id: number | null;
  queue: string;
  name: string;
  payload: string;
  options: string;
  tags: string | null;
  batch_id: string | null;
  attempts: number;
  error: string;
  stack: string | null;
  failed_at: number;
}

function where(filter: FailedFilter): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (filter.uuids && filter.uuids.length > 0) {
    clauses.push(`uuid IN (${filter.uuids.map(() => '?').join(',')})`);
    params.push(...filter.uuids);
  } else if (!filter.all && !filter.queue && !filter.name && !filter.tag && !filter.batchId) {
    clauses.push('0');
  }
  if (filter.queue) {
    clauses.push('queue = ?');
    params.push(filter.queue);
  }
  if (filter.name) {
    clauses.push('name = ?');
    params.push(filter.name);
  }
  if (filter.tag) {
    clauses.push('EXISTS (SELECT 1 FROM json_each(failed_jobs.tags) WHERE value = ?)');
    params.push(filter.tag);
  }
  if (filter.batchId) {
    clauses.push('batch_id = ?');
    params.push(filter.batchId);
  }
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/** Turn a failed_jobs row into a FailedJob. */
export function toFailed(r: FailedRow): FailedJob {
  return {
    uuid: r.uuid, jobId: r.job_id, queue: r.queue, name: r.name, payload: parseJson(r.payload, r.payload as unknown),
    tags: parseJson<string[]>(r.tags, []), batchId: r.batch_id, attempts: r.attempts, error: r.error, stack: r.stack, failedAt: r.failed_at,
  };
}

/** List failed jobs, newest first (all of them when the filter names none). */
export function listFailed(db: Db, filter: Omit<FailedFilter, 'all'> = {}): FailedJob[] {
  const w = where({ ...filter, all: true });
  const limit = filter.limit ?? FAILED_READ_LIMIT;
  // A handful of shapes (which filters are set), each prepared once per connection.
  return (stmt(db, `SELECT * FROM failed_jobs ${w.sql} ORDER BY failed_at DESC, id DESC LIMIT ?`).all(...w.params, limit) as FailedRow[]).map(toFailed);
}

/** Find one failed job by uuid, or undefined. */
export function getFailed(db: Db, uuid: string): FailedJob | undefined {
  const r = stmt(db, `SELECT * FROM failed_jobs WHERE uuid = ?`).get(uuid) as FailedRow | undefined;
  return r ? toFailed(r) : undefined;
}

/** The number of failed jobs in the list, from the failed_counts counters (no scan). */
export function failedTotal(db: Db): number {
  return (stmt(db, `SELECT COALESCE(SUM(n), 0) AS n FROM failed_counts`).get() as { n: number }).n;
}

/** Count failed jobs that failed at or after `since` (a range of failed_jobs_failed_at: as long as that range). */
export function countFailed(db: Db, since = 0): number {
  return (stmt(db, `SELECT COUNT(*) AS n FROM failed_jobs WHERE failed_at >= ?`).get(since) as { n: number }).n;
}

/** What a retry did to each failed job. */
export interface Retried {
  uuid: string;
  jobId: number;
}

/**
 * Retry failed jobs: each gets a fresh pending copy with its attempts reset (same queue,
 * name, payload, tags, tries, backoff, timeout, chain and batch; no retry-until deadline)
 * and its failed row is removed, in one transaction. A batch job reopens its batch.
 */
export function retryFailed(db: Db, filter: FailedFilter, now = Date.now()): Retried[] {
  const out = immediate(db, () => {
    const w = where(filter);
    const rows = db.prepare(`SELECT * FROM failed_jobs ${w.sql} ORDER BY id`).all(...w.params) as FailedRow[];
    const retried: Retried[] = [];
    for (const r of rows) {
      const { spec, chain } = retrySpec(r);
      const job = enqueueInTx(db, spec, { now, batchId: r.batch_id, chain });
      if (r.batch_id !== null && !job.existing) {
        stmt(db, `UPDATE batches SET failed = MAX(0, failed - 1), pending = pending + 1, finished_at = NULL WHERE id = ?`).run(r.batch_id);
      }
      stmt(db, `DELETE FROM failed_jobs WHERE uuid = ?`).run(r.uuid);
      retried.push({ uuid: r.uuid, jobId: job.id });
    }
    return retried;
  });
  if (out.length > 0) notifyEnqueued(db);
  return out;
}

/** The fresh job a retry of a failed row enqueues, and the chain it carries (both engines). */
export function retrySpec(r: FailedRow): { spec: JobSpec; chain: ChainState | null } {
  const options = parseJson<{ priority?: number; tries?: number; backoff?: number[]; timeoutMs?: number; uniqueKey?: string; chain?: ChainState }>(r.options, {});
  const spec: JobSpec = {
    name: r.name, queue: r.queue, payload: parseJson(r.payload, {}), priority: options.priority, tries: options.tries,
    backoff: options.backoff, timeoutMs: options.timeoutMs, uniqueKey: options.uniqueKey, tags: parseJson<string[] | undefined>(r.tags, undefined),
  };
  return { spec, chain: options.chain ?? null };
}

/** Delete failed jobs matching the filter; returns how many. */
export function forgetFailed(db: Db, filter: FailedFilter): number {
  const w = where(filter);
  return immediate(db, () => db.prepare(`DELETE FROM failed_jobs ${w.sql}`).run(...w.params).changes);
}

/** Delete failed jobs that failed more than `hours` ago; returns how many. */
export function flushFailed(db: Db, hours: number, now = Date.now()): number {
  return immediate(db, () => stmt(db, `DELETE FROM failed_jobs WHERE failed_at < ?`).run(now - hours * 3_600_000).changes);
}
