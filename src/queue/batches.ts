import { randomUUID } from 'node:crypto';
import { immediate, stmt, type Db } from './db.js';
import { ValidationError } from './errors.js';
import { cancelBatchInTx, dispatchBatchCallbacks, enqueueInTx, type Enqueued } from './jobs.js';
import { notifyEnqueued } from './notify.js';
import { retryFailed, type Retried } from './failed.js';
import type { Batch, JobSpec } from './types.js';
import { assertChain, toJobRow } from './validate.js';

export interface BatchSpec {
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
  assertBatchHead(spec);
  for (const job of spec.jobs) {
    toJobRow(job);
    assertChain(job);
  }
  const out = immediate(db, () => {
    const jobs: Enqueued[] = [];
    const id = createBatchInTx(db, spec, now, (add) => {
      for (const job of spec.jobs) jobs.push(add(job));
    });
    return { id, jobs };
  });
  notifyEnqueued(db);
  return out;
}

/** A batch without its jobs: what createBatchInTx takes. */
export type BatchHead = Omit<BatchSpec, 'jobs'>;

/** Throw a ValidationError unless the batch's name and callback jobs are valid. */
function assertBatchHead(head: BatchHead): void {
  if (head.name !== undefined && (typeof head.name !== 'string' || head.name.length > 200)) {
    throw new ValidationError(`invalid batch name ${JSON.stringify(head.name)}: expected at most 200 characters`);
  }
  for (const cb of [head.then, head.catch, head.finally]) if (cb) toJobRow(cb);
}

/**
 * Create a batch inside the caller's transaction, its jobs added one at a time by `fill`
 * (it gets `add` and the new batch's id), so a batch of any size need not be held in
 * memory. The counts, and the callbacks of a batch left empty, are settled after `fill`
 * returns. The caller holds the transaction (immediate) and calls notifyEnqueued after it.
 */
export function createBatchInTx(db: Db, head: BatchHead, now: number, fill: (add: (job: JobSpec) => Enqueued, batchId: string) => void): string {
  assertBatchHead(head);
  const id = randomUUID();
  stmt(db, `INSERT INTO batches (id, name, total, pending, allow_failures, then_job, catch_job, finally_job, created_at)
            VALUES (?, ?, 0, 0, ?, ?, ?, ?, ?)`).run(
    id, head.name ?? null, head.allowFailures ? 1 : 0,
    head.then ? JSON.stringify(head.then) : null, head.catch ? JSON.stringify(head.catch) : null,
    head.finally ? JSON.stringify(head.finally) : null, now,
  );
  // A unique job that already existed is not part of this batch: it is not counted.
  let added = 0;
  fill((job) => {
    assertChain(job);
    const e = enqueueInTx(db, job, { now, batchId: id });
    if (!e.existing) added++;
    return e;
  }, id);
  stmt(db, `UPDATE batches SET total = ?, pending = ? WHERE id = ?`).run(added, added, id);
  // Nothing to wait for: the guarded dispatch sees pending = 0 and runs then and finally.
  if (added === 0) dispatchBatchCallbacks(db, id, now);
  return id;
}

interface BatchRow {
  id: string;
  name: string | null;
  total: number;
  pending: number;
  processed: number;
  failed: number;
  allow_failures: number;
  created_at: number;
  finished_at: number | null;
  cancelled_at: number | null;
  then_dispatched: number;
  catch_dispatched: number;
  finally_dispatched: number;
}

function toBatch(r: BatchRow): Batch {
  return {
    id: r.id, name: r.name, total: r.total, pending: r.pending, processed: r.processed, failed: r.failed,
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

/** List batches, newest first. */
export function listBatches(db: Db, limit = 100): Batch[] {
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
