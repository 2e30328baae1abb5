import { randomBytes } from 'node:crypto';
import { immediate, stmt, type Db } from './db.js';
import { failReservedInTx } from './jobs.js';
import { notifyEnqueued } from './notify.js';
import type { SupervisorState, Worker } from './types.js';

/** Make a fresh worker id, `w_` and 12 hex digits. */
export function newWorkerId(): string {
  return `w_${randomBytes(6).toString('hex')}`;
}

export interface WorkerRegistration {
  id: string;
  pid: number;
  hostname: string;
  version: string;
  queues: readonly string[];
  concurrency: number;
  /** Its supervisors (recorded as JSON; refreshed by heartbeat). */
  supervisors?: readonly SupervisorState[];
}

/** Register a worker (or refresh its registration) with a heartbeat at `now`. */
export function registerWorker(db: Db, w: WorkerRegistration, now = Date.now()): void {
  immediate(db, () =>
    stmt(db, `INSERT INTO workers (id, pid, hostname, version, queues, concurrency, busy, status, started_at, heartbeat_at, supervisors)
              VALUES (?, ?, ?, ?, ?, ?, 0, 'running', ?, ?, ?)
              ON CONFLICT(id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, status = 'running', supervisors = excluded.supervisors`).run(
      w.id, w.pid, w.hostname, w.version, JSON.stringify(w.queues), w.concurrency, now, now, w.supervisors ? JSON.stringify(w.supervisors) : null,
    ),
  );
}

/**
 * Record a heartbeat with the worker's busy slots and status; false when the registration
 * is gone (another process pruned it as stale), so the caller can register again.
 */
export function heartbeat(db: Db, id: string, busy: number, status = 'running', now = Date.now(), supervisors?: readonly SupervisorState[]): boolean {
  if (supervisors === undefined) return immediate(db, () => stmt(db, `UPDATE workers SET heartbeat_at = ?, busy = ?, status = ? WHERE id = ?`).run(now, busy, status, id).changes === 1);
  return immediate(db, () => stmt(db, `UPDATE workers SET heartbeat_at = ?, busy = ?, status = ?, supervisors = ? WHERE id = ?`).run(now, busy, status, JSON.stringify(supervisors), id).changes === 1);
}

/** Record a worker's supervisors now (their slots moved), without a heartbeat. False when it is not registered. */
export function recordSupervisors(db: Db, id: string, supervisors: readonly SupervisorState[]): boolean {
  return immediate(db, () => stmt(db, `UPDATE workers SET supervisors = ? WHERE id = ?`).run(JSON.stringify(supervisors), id).changes === 1);
}

/** Remove a worker's registration (graceful exit). */
export function deregisterWorker(db: Db, id: string): void {
  immediate(db, () => stmt(db, `DELETE FROM workers WHERE id = ?`).run(id));
}

interface WorkerRow {
  id: string;
  pid: number;
  hostname: string;
  version: string;
  queues: string;
  concurrency: number;
  busy: number;
  status: string;
  started_at: number;
  heartbeat_at: number;
  supervisors: string | null;
}

/** List registered workers, newest first. */
export function listWorkers(db: Db): Worker[] {
  return (stmt(db, `SELECT * FROM workers ORDER BY started_at DESC`).all() as WorkerRow[]).map((r) => ({
    id: r.id, pid: r.pid, hostname: r.hostname, version: r.version, queues: JSON.parse(r.queues) as string[],
    concurrency: r.concurrency, busy: r.busy, status: r.status, startedAt: r.started_at, heartbeatAt: r.heartbeat_at,
    supervisors: r.supervisors ? (JSON.parse(r.supervisors) as SupervisorState[]) : [],
  }));
}

/**
 * Tell whether a worker is alive: its last heartbeat is at most `staleMs` old (STALE_MS
 * unless the config's staleSeconds says otherwise). The one definition of "alive".
 */
export function isAlive(w: Pick<Worker, 'heartbeatAt'>, staleMs: number, now = Date.now()): boolean {
  return now - w.heartbeatAt <= staleMs;
}

/** List the workers whose last heartbeat is within `staleMs` of now (see isAlive). */
export function liveWorkers(db: Db, staleMs: number, now = Date.now()): Worker[] {
  return listWorkers(db).filter((w) => isAlive(w, staleMs, now));
}

export interface RecoveryResult {
  /** Workers pruned for a stale heartbeat. */
  prunedWorkers: string[];
  /** Jobs made claimable again. */
  requeued: number[];
  /** Jobs failed because their tries were used up. */
  failed: number[];
}

interface ReservedRow {
  id: number;
  reserved_by: string | null;
  lease_expires_at: number | null;
  attempts: number;
  max_attempts: number;
  retry_until: number | null;
}

/**
 * Recover jobs whose lease was lost: prune workers whose heartbeat is older than `staleMs`,
 * then every reserved job whose lease expired, or whose worker is stale or gone, becomes
 * claimable again (its token bumped, so the old worker's late result is rejected), or fails
 * with "attempted too many times or ran too long" when its tries are used up.
 */
export function recoverLeases(db: Db, staleMs: number, now = Date.now()): RecoveryResult {
  const result = immediate(db, () => {
    const stale = stmt(db, `DELETE FROM workers WHERE heartbeat_at < ? RETURNING id, heartbeat_at`).all(now - staleMs) as { id: string; heartbeat_at: number }[];
    const staleAt = new Map(stale.map((w) => [w.id, w.heartbeat_at]));
    const rows = stmt(db, `
      SELECT id, reserved_by, lease_expires_at, attempts, max_attempts, retry_until FROM jobs
       WHERE state = 'reserved'
         AND (lease_expires_at <= ? OR reserved_by IS NULL OR reserved_by NOT IN (SELECT id FROM workers))`).all(now) as ReservedRow[];
    const out: RecoveryResult = { prunedWorkers: stale.map((w) => w.id), requeued: [], failed: [] };
    for (const r of rows) {
      const hb = r.reserved_by ? staleAt.get(r.reserved_by) : undefined;
      const why =
        hb !== undefined
          ? `worker ${r.reserved_by} stopped heartbeating at ${new Date(hb).toISOString()}`
          : r.lease_expires_at !== null && r.lease_expires_at <= now
            ? `its lease expired at ${new Date(r.lease_expires_at).toISOString()}`
            : `worker ${r.reserved_by ?? '(none)'} is no longer registered`;
      const exhausted = r.attempts >= r.max_attempts || (r.retry_until !== null && now >= r.retry_until);
      if (exhausted) {
        failReservedInTx(db, r.id, `job ${r.id} has been attempted too many times or ran too long (${why}); it may have timed out or its worker crashed`, now);
        out.failed.push(r.id);
      } else {
        stmt(db, `
          UPDATE jobs SET state = 'pending', available_at = ?, reserved_by = NULL, lease_expires_at = NULL,
                 lease_token = lease_token + 1,
                 errors = json_insert(COALESCE(errors, '[]'), '$[#]', json_object('attempt', attempts, 'at', ?, 'message', ?))
           WHERE id = ?`).run(now, now, `lease lost: ${why}`, r.id);
        out.requeued.push(r.id);
      }
    }
    return out;
  });
  if (result.requeued.length > 0 || result.failed.length > 0) notifyEnqueued(db);
  return result;
}
