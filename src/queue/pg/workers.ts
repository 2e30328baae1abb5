import type pg from 'pg';
import type { SupervisorState, Worker } from '../types.js';
import type { WorkerRegistration } from '../workers.js';
import { NOW_MS, pgTx, type PgDb } from './connect.js';
import { notifyInTx, pgFailReservedInTx } from './jobs.js';

/**
 * Worker registration, heartbeats and recovery on PostgreSQL, mirroring ../workers.ts.
 * Every time is the database's clock: a heartbeat is stamped by the server, and "alive"
 * compares it with the server's now, so a host whose clock is minutes off is neither
 * pruned while alive nor lets a live lease be taken.
 */

/** Register a worker (or refresh it) with a heartbeat at the database's now. */
export async function pgRegisterWorker(db: PgDb, w: WorkerRegistration): Promise<void> {
  await db.pool.query(`
    INSERT INTO workers (id, pid, hostname, version, queues, concurrency, busy, status, started_at, heartbeat_at, supervisors)
    SELECT $1, $2, $3, $4, $5, $6, 0, 'running', c.now, c.now, $7 FROM (SELECT ${NOW_MS} AS now) AS c
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, status = 'running', supervisors = excluded.supervisors`,
  [w.id, w.pid, w.hostname, w.version, JSON.stringify(w.queues), w.concurrency, w.supervisors ? JSON.stringify(w.supervisors) : null]);
}

/** Record a heartbeat (database clock); false when the registration is gone (pruned), so the caller registers again. */
export async function pgHeartbeat(db: PgDb, id: string, busy: number, status = 'running', supervisors?: readonly SupervisorState[]): Promise<boolean> {
  const r = supervisors === undefined
    ? await db.pool.query(`UPDATE workers SET heartbeat_at = ${NOW_MS}, busy = $2, status = $3 WHERE id = $1`, [id, busy, status])
    : await db.pool.query(`UPDATE workers SET heartbeat_at = ${NOW_MS}, busy = $2, status = $3, supervisors = $4 WHERE id = $1`, [id, busy, status, JSON.stringify(supervisors)]);
  return r.rowCount === 1;
}

/** Remove a worker's registration (graceful exit). */
export async function pgDeregisterWorker(db: PgDb, id: string): Promise<void> {
  await db.pool.query(`DELETE FROM workers WHERE id = $1`, [id]);
}

interface WorkerRow {
  id: string; pid: number; hostname: string; version: string; queues: string; concurrency: number; busy: number;
  status: string; started_at: number; heartbeat_at: number; supervisors: string | null;
}

/** The registered workers, newest first, with the database's now (to judge "alive" on the same clock). */
export async function pgListWorkers(q: pg.Pool | pg.ClientBase): Promise<{ now: number; workers: Worker[] }> {
  const r = await q.query<WorkerRow & { now: number }>(`SELECT *, ${NOW_MS} AS now FROM workers ORDER BY started_at DESC`);
  const now = r.rows[0]?.now ?? (await q.query<{ now: number }>(`SELECT ${NOW_MS} AS now`)).rows[0]!.now;
  return {
    now,
    workers: r.rows.map((w) => ({
      id: w.id, pid: w.pid, hostname: w.hostname, version: w.version, queues: JSON.parse(w.queues) as string[], concurrency: w.concurrency,
      busy: w.busy, status: w.status, startedAt: w.started_at, heartbeatAt: w.heartbeat_at, supervisors: w.supervisors ? (JSON.parse(w.supervisors) as SupervisorState[]) : [],
    })),
  };
}

/** The workers whose heartbeat is within `staleMs` of the database's now. */
export async function pgLiveWorkers(db: PgDb, staleMs: number): Promise<Worker[]> {
  const { now, workers } = await pgListWorkers(db.pool);
  return workers.filter((w) => now - w.heartbeatAt <= staleMs);
}

/** What a recovery did (as ../workers.ts RecoveryResult). */
export interface PgRecoveryResult {
  prunedWorkers: string[];
  requeued: number[];
  failed: number[];
}

/**
 * Recover lost leases in one transaction, on the database's clock: prune workers whose
 * heartbeat is older than `staleMs`, then every reserved job whose lease expired or whose
 * worker is stale or gone goes back to pending (token bumped: the old worker's late result
 * is rejected) or fails when its tries are used up. Rows another recoverer holds are skipped.
 */
export async function pgRecoverLeases(db: PgDb, staleMs: number): Promise<PgRecoveryResult> {
  return pgTx(db, async (c) => {
    const now = (await c.query<{ now: number }>(`SELECT ${NOW_MS} AS now`)).rows[0]!.now;
    const stale = (await c.query<{ id: string; heartbeat_at: number }>(`DELETE FROM workers WHERE heartbeat_at < $1 RETURNING id, heartbeat_at`, [now - staleMs])).rows;
    const staleAt = new Map(stale.map((w) => [w.id, w.heartbeat_at]));
    const rows = (await c.query<{ id: number; reserved_by: string | null; lease_expires_at: number | null; attempts: number; max_attempts: number; retry_until: number | null; errors: string | null }>(`
      SELECT id, reserved_by, lease_expires_at, attempts, max_attempts, retry_until, errors FROM jobs
       WHERE state = 'reserved'
         AND (lease_expires_at <= $1 OR reserved_by IS NULL OR NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = jobs.reserved_by))
       FOR UPDATE SKIP LOCKED`, [now])).rows;
    const out: PgRecoveryResult = { prunedWorkers: stale.map((w) => w.id), requeued: [], failed: [] };
    for (const r of rows) {
      const hb = r.reserved_by ? staleAt.get(r.reserved_by) : undefined;
      const why = hb !== undefined
        ? `worker ${r.reserved_by} stopped heartbeating at ${new Date(hb).toISOString()}`
        : r.lease_expires_at !== null && r.lease_expires_at <= now
          ? `its lease expired at ${new Date(r.lease_expires_at).toISOString()}`
          : `worker ${r.reserved_by ?? '(none)'} is no longer registered`;
      const exhausted = r.attempts >= r.max_attempts || (r.retry_until !== null && now >= r.retry_until);
      if (exhausted) {
        await pgFailReservedInTx(c, r.id, `job ${r.id} has been attempted too many times or ran too long (${why}); it may have timed out or its worker crashed`);
        out.failed.push(r.id);
      } else {
        const errors = r.errors ? (JSON.parse(r.errors) as unknown[]) : [];
        errors.push({ attempt: r.attempts, at: now, message: `lease lost: ${why}` });
        await c.query(`UPDATE jobs SET state = 'pending', available_at = $2, reserved_by = NULL, lease_expires_at = NULL, lease_token = lease_token + 1, errors = $3 WHERE id = $1`,
          [r.id, now, JSON.stringify(errors)]);
        out.requeued.push(r.id);
      }
    }
    if (out.requeued.length > 0 || out.failed.length > 0) await notifyInTx(c, db);
    return out;
  });
}

