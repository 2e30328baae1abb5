import { randomUUID } from 'node:crypto';
import { immediate, stmt, type Db } from './db.js';
import { BATCHES_LIST_LIMIT } from './defaults.js';
import { ValidationError } from './errors.js';
import { cancelBatchInTx, dispatchBatchCallbacks, enqueueManyInTx, type Enqueued } from './jobs.js';
import { notifyEnqueued } from './notify.js';
import { retryFailed, type Retried } from './failed.js';
import { parseJson } from './jobs.js';
import type { AttemptError, Batch, Job, JobSpec } from './types.js';
import { toJobRow } from './validate.js';

export interface BatchSpec {
  /** The batch's id. Default a fresh UUID (a caller that records it on its own rows first passes one). */
  id?: string;
  name?: string;
  jobs: readonly JobSpec[];
  /** Enqueued once when every job has completed (none failed for good). */
  then?: JobSpec;
  /** Enqueued once at the first job that fails for good. */
  catch?: JobSpec;
  /** Enqueued once when every job has run to an end, failed or not. */
  finally?: JobSpec;
  /** When false (the default) the first failure cancels the jobs that have not started. */
  allowFailures?: boolean;
}

/**
 * Create a batch and enqueue its jobs in one transaction: all or none. Callback jobs get a
 * `batch: { id }` field in their payload. An empty batch runs its then and finally at once.
 */
export function createBatch(db: Db, spec: BatchSpec, now = Date.now()): { id: string; jobs: Enqueued[] } {
  const out = immediate(db, () => {
    let jobs: Enqueued[] = [];
    // The jobs are validated once, by enqueueManyInTx, before it writes any (and a bad one
    // rolls the whole transaction back, batch row included).
    const id = createBatchInTx(db, spec, now, (add) => {
      jobs = add(spec.jobs);
    });
    return { id, jobs };
  });
  notifyEnqueued(db);
  return out;
}

/** A batch without its jobs: what createBatchInTx takes. */
export type BatchHead = Omit<BatchSpec, 'jobs'>;

/** Throw a ValidationError unless the batch's name and callback jobs are valid. */
export function assertBatchHead(head: BatchHead): void {
  if (head.name !== undefined && (typeof head.name !== 'string' || head.name.length > 200)) {
    throw new ValidationError(`invalid batch name ${JSON.stringify(head.name)}: expected at most 200 characters`);
  }
  for (const cb of [head.then, head.catch, head.finally]) if (cb) toJobRow(cb);
}

/**
 * Create a batch inside the caller's transaction, its jobs added by `fill` in as many calls
 * to `add` as it likes (each call a run of multi-row INSERTs), so a batch of any size need
 * not be held in memory at once. `fill` gets `add` and the new batch's id (`head.id` when
 * given). The counts, and the callbacks of a batch left empty, are settled after `fill`
 * returns. The caller holds the transaction (immediate) and calls notifyEnqueued after it.
 */
export function createBatchInTx(db: Db, head: BatchHead, now: number, fill: (add: (jobs: readonly JobSpec[]) => Enqueued[], batchId: string) => void): string {
  assertBatchHead(head);
  const id = head.id ?? randomUUID();
  stmt(db, `INSERT INTO batches (id, name, total, pending, allow_failures, then_job, catch_job, finally_job, created_at)
            VALUES (?, ?, 0, 0, ?, ?, ?, ?, ?)`).run(
    id, head.name ?? null, head.allowFailures ? 1 : 0,
    head.then ? JSON.stringify(head.then) : null, head.catch ? JSON.stringify(head.catch) : null,
    head.finally ? JSON.stringify(head.finally) : null, now,
  );
  // A unique job that already existed is not part of this batch: it is not counted.
  let added = 0;
  fill((jobs) => {
    const out = enqueueManyInTx(db, jobs, { now, batchId: id });
    for (const e of out) if (!e.existing) added++;
    return out;
  }, id);
  stmt(db, `UPDATE batches SET total = ?, pending = ? WHERE id = ?`).run(added, added, id);
  // Nothing to wait for: the guarded dispatch sees pending = 0 and runs then and finally.
  if (added === 0) dispatchBatchCallbacks(db, id, now);
  return id;
}

/** A batches row as either engine returns it. */
export interface BatchRow {
  id: string;
  name: string | null;
  total: number;
  pending: number;
  processed: number;
  failed: number;
  cancelled: number;
  allow_failures: number;
  created_at: number;
  finished_at: number | null;
  cancelled_at: number | null;
  then_dispatched: number;
  catch_dispatched: number;
  finally_dispatched: number;
  then_job: string | null;
  catch_job: string | null;
  finally_job: string | null;
}

/** Turn a batches row into a Batch. */
export function toBatch(r: BatchRow): Batch {
  return {
    id: r.id, name: r.name, total: r.total, pending: r.pending, processed: r.processed, failed: r.failed, cancelled: r.cancelled,
    allowFailures: r.allow_failures === 1, createdAt: r.created_at, finishedAt: r.finished_at, cancelledAt: r.cancelled_at,
    thenDispatched: r.then_dispatched === 1, catchDispatched: r.catch_dispatched === 1, finallyDispatched: r.finally_dispatched === 1,
  };
}

/** Find a batch by id (or a unique id prefix of at least 6 characters), or undefined. */
export function getBatch(db: Db, id: string): Batch | undefined {
  const exact = stmt(db, `SELECT * FROM batches WHERE id = ?`).get(id) as BatchRow | undefined;
  if (exact) return toBatch(exact);
  if (id.length < 6 || /[%_]/.test(id)) return undefined;
  const rows = stmt(db, `SELECT * FROM batches WHERE id LIKE ? LIMIT 2`).all(`${id}%`) as BatchRow[];
  return rows.length === 1 ? toBatch(rows[0]!) : undefined;
}

/** One job of a batch, as its detail lists it. */
export interface BatchJob {
  id: number;
  name: string;
  queue: string;
  state: Job['state'];
  attempts: number;
  finishedAt: number | null;
}

/** A job of a batch that failed for good, with its last error. */
export interface BatchFailureRow {
  jobId: number;
  name: string;
  queue: string;
  attempts: number;
  error: string;
  failedAt: number | null;
}

/**
 * A batch callback's state: `none` (not set), `waiting` (its condition may still hold),
 * `dispatched` (its job was enqueued), `skipped` (the batch finished without it holding).
 */
export type CallbackState = 'none' | 'waiting' | 'dispatched' | 'skipped';

/** A batch with its jobs by state, its failures and its callbacks (`batches show`, the monitor's batch detail). */
export interface BatchDetail {
  batch: Batch;
  /** Jobs of the batch still in the jobs table, counted by state (finished ones are trimmed with the other jobs). */
  states: Record<Job['state'], number>;
  /** Up to `limit` of its jobs, newest first. */
  jobs: BatchJob[];
  failures: BatchFailureRow[];
  callbacks: { kind: 'then' | 'catch' | 'finally'; name: string | null; state: CallbackState }[];
}

/**
 * Read a batch's detail: one walk of its jobs on the jobs_batch index (at most `limit`,
 * default 500, newest first), failures from those jobs' last errors, and the callbacks'
 * states from the dispatch flags. Undefined when there is no such batch.
 */
export function batchDetail(db: Db, id: string, limit = 500): BatchDetail | undefined {
  const b = getBatch(db, id);
  if (!b) return undefined;
  const row = stmt(db, `SELECT then_job, catch_job, finally_job FROM batches WHERE id = ?`).get(b.id) as Pick<BatchRow, 'then_job' | 'catch_job' | 'finally_job'>;
  const rows = stmt(db, `SELECT id, name, queue, state, attempts, finished_at, errors FROM jobs WHERE batch_id = ? ORDER BY id DESC LIMIT ?`).all(b.id, limit) as BatchJobRow[];
  const counts = stmt(db, `SELECT state, COUNT(*) AS n FROM jobs WHERE batch_id = ? GROUP BY state`).all(b.id) as { state: Job['state']; n: number }[];
  return batchDetailFrom(b, row, rows, counts);
}

/** A job of a batch as batchDetail reads it (either engine). */
export interface BatchJobRow {
  id: number; name: string; queue: string; state: Job['state']; attempts: number; finished_at: number | null; errors: string | null;
}

/** Assemble a batch's detail from its row's callbacks, its newest jobs and its counts by state (both engines). */
export function batchDetailFrom(
  b: Batch, row: Pick<BatchRow, 'then_job' | 'catch_job' | 'finally_job'>, rows: readonly BatchJobRow[], counts: readonly { state: Job['state']; n: number }[],
): BatchDetail {
  const states: Record<Job['state'], number> = { pending: 0, delayed: 0, reserved: 0, completed: 0, failed: 0, cancelled: 0 };
  for (const r of counts) states[r.state] = r.n;
  const failures = rows.filter((r) => r.state === 'failed').map((r) => {
    const errors = parseJson<AttemptError[]>(r.errors, []);
    return { jobId: r.id, name: r.name, queue: r.queue, attempts: r.attempts, error: errors[errors.length - 1]?.message ?? 'unknown error', failedAt: r.finished_at };
  });
  const name = (json: string | null) => (json ? (parseJson<{ name?: string }>(json, {}).name ?? null) : null);
  const cb = (kind: 'then' | 'catch' | 'finally', json: string | null, dispatched: boolean): BatchDetail['callbacks'][number] => ({
    kind, name: name(json), state: !json ? 'none' : dispatched ? 'dispatched' : b.finishedAt !== null || b.cancelledAt !== null ? 'skipped' : 'waiting',
  });
  return {
    batch: b, states,
    jobs: rows.map((r) => ({ id: r.id, name: r.name, queue: r.queue, state: r.state, attempts: r.attempts, finishedAt: r.finished_at })),
    failures,
    callbacks: [cb('then', row.then_job, b.thenDispatched), cb('catch', row.catch_job, b.catchDispatched), cb('finally', row.finally_job, b.finallyDispatched)],
  };
}

/**
 * Delete batches that finished more than `hours` ago (Laravel's queue:prune-batches),
 * `chunk` per transaction, on the batches_finished index; returns how many.
 */
export function pruneBatches(db: Db, hours: number, now = Date.now(), chunk = 1000): number {
  let total = 0;
  for (;;) {
    const n = immediate(db, () =>
      stmt(db, `DELETE FROM batches WHERE id IN (SELECT id FROM batches WHERE finished_at IS NOT NULL AND finished_at < ? LIMIT ?)`).run(now - hours * 3_600_000, chunk).changes,
    );
    total += n;
    if (n < chunk) return total;
  }
}

/** List batches, newest first. */
export function listBatches(db: Db, limit = BATCHES_LIST_LIMIT): Batch[] {
  return (stmt(db, `SELECT * FROM batches ORDER BY created_at DESC LIMIT ?`).all(limit) as BatchRow[]).map(toBatch);
}

/** Cancel a batch: its jobs that have not started are cancelled; returns how many. */
export function cancelBatch(db: Db, id: string, now = Date.now()): number {
  const n = immediate(db, () => cancelBatchInTx(db, id, now));
  notifyEnqueued(db);
  return n;
}

/** Retry every failed job of a batch (reopening the batch). */
export function retryBatch(db: Db, id: string, now = Date.now()): Retried[] {
  return retryFailed(db, { batchId: id }, now);
}
