import { immediate, stmt, type Db } from './db.js';
import { CLEAR_CHUNK } from './defaults.js';
import { enqueueInTx, mergePayload, recordBatchOutcome } from './jobs.js';
import { notifyEnqueued } from './notify.js';
import type { ChainState, JobSpec } from './types.js';
import { assertQueueName } from './validate.js';

// ---------------------------------------------------------------------------------------
// Cancelling jobs that have not started (Horizon's horizon:clear, and one job at a time).
// ---------------------------------------------------------------------------------------

/** Cancel one pending or delayed job by id (a primary-key lookup). Returns what chains and batches need. */
const CANCEL_ONE = `
  UPDATE jobs SET state = 'cancelled', finished_at = ?, reserved_by = NULL, lease_expires_at = NULL
   WHERE id = ? AND state IN ('pending','delayed')
  RETURNING id, queue, name, chain, batch_id`;

/**
 * Up to ? pending job ids of one queue enqueued up to id ?, in claim order on the
 * jobs_ready partial index (queue, priority DESC, id); newer ids (the catch jobs a clear
 * enqueues) sort after the older ones of their priority, so they are walked past once.
 */
const PENDING_IDS = `SELECT id FROM jobs WHERE state = 'pending' AND queue = ? AND id <= ? ORDER BY priority DESC, id LIMIT ?`;
/** Up to ? delayed job ids of one queue enqueued up to id ?, on the jobs_delayed_queue partial index. */
const DELAYED_IDS = `SELECT id FROM jobs WHERE state = 'delayed' AND queue = ? AND id <= ? LIMIT ?`;
/** The newest job id (the primary key's last entry). */
const MAX_ID = `SELECT MAX(id) AS id FROM jobs`;
/** Pending and delayed jobs of one queue, counted from the same two indexes. */
const COUNT_PENDING = `SELECT COUNT(*) AS n FROM jobs WHERE state = 'pending' AND queue = ?`;
const COUNT_DELAYED = `SELECT COUNT(*) AS n FROM jobs WHERE state = 'delayed' AND queue = ?`;

/** The reason a cancelled link's chain catch job gets. */
export const CANCELLED_REASON = 'cancelled';

/** What cancelling did. */
export interface Cancelled {
  /** Ids of the jobs moved to `cancelled`. */
  ids: number[];
  /** Chain catch jobs enqueued because a link was cancelled. */
  catches: number;
}

/**
 * Cancel one job whose id is given, if it is pending or delayed; the caller holds the
 * transaction. The rest of its chain is never enqueued, and the chain's catch job runs
 * with `failure.message` "cancelled"; a batch counts it as cancelled (its finally still
 * runs once nothing is pending). Returns false when the job was not pending or delayed.
 */
export function cancelJobInTx(db: Db, id: number, now: number, out: Cancelled = { ids: [], catches: 0 }): boolean {
  const row = stmt(db, CANCEL_ONE).get(now, id) as { id: number; queue: string; name: string; chain: string | null; batch_id: string | null } | undefined;
  if (!row) return false;
  out.ids.push(row.id);
  const catchJob = cancelledCatch(row);
  if (catchJob) {
    enqueueInTx(db, catchJob, { now });
    out.catches++;
  }
  if (row.batch_id !== null) recordBatchOutcome(db, row.batch_id, 'cancelled', now);
  return true;
}

/** The chain catch job a cancelled link enqueues (its failure says "cancelled"), or undefined (both engines). */
export function cancelledCatch(row: { id: number; queue: string; name: string; chain: string | null }): JobSpec | undefined {
  if (row.chain === null) return undefined;
  const chain = JSON.parse(row.chain) as ChainState;
  if (!chain.catch) return undefined;
  const failure = { jobId: row.id, name: row.name, queue: row.queue, message: CANCELLED_REASON, reason: CANCELLED_REASON };
  return { ...chain.catch, payload: mergePayload(chain.catch.payload, { failure }) };
}

/**
 * Cancel the jobs with these ids that are pending or delayed (reserved and finished ones
 * are left alone), in one transaction. See cancelJobInTx for chains and batches.
 */
export function cancelJobs(db: Db, ids: readonly number[], now = Date.now()): Cancelled {
  const out: Cancelled = { ids: [], catches: 0 };
  immediate(db, () => {
    for (const id of ids) cancelJobInTx(db, id, now, out);
  });
  if (out.catches > 0) notifyEnqueued(db);
  return out;
}

/** How many jobs of a queue `clearQueue` would cancel now (pending and delayed). */
export function countClearable(db: Db, queue: string): number {
  assertQueueName(queue);
  return (stmt(db, COUNT_PENDING).get(queue) as { n: number }).n + (stmt(db, COUNT_DELAYED).get(queue) as { n: number }).n;
}

/**
 * Cancel every pending and delayed job of a queue (Horizon's horizon:clear), `chunk` jobs
 * per transaction (default 1,000) so the write lock is never held long. Chain catch jobs
 * this enqueues are not cancelled by the same clear. Returns what was cancelled.
 */
export function clearQueue(db: Db, queue: string, now = Date.now(), chunk = CLEAR_CHUNK): Cancelled {
  assertQueueName(queue);
  const out: Cancelled = { ids: [], catches: 0 };
  // Only jobs that existed when the clear began: a catch job it enqueues is the chain's answer to the cancel.
  const upTo = (stmt(db, MAX_ID).get() as { id: number | null }).id ?? 0;
  for (const sql of [PENDING_IDS, DELAYED_IDS]) {
    for (;;) {
      const n = immediate(db, () => {
        const ids = (stmt(db, sql).all(queue, upTo, chunk) as { id: number }[]).map((r) => r.id);
        for (const id of ids) cancelJobInTx(db, id, now, out);
        return ids.length;
      });
      if (n < chunk) break;
    }
  }
  if (out.catches > 0) notifyEnqueued(db);
  return out;
}
