import fs from 'node:fs';
import Database from 'better-sqlite3';
import { describeOpenError, type Db } from './db.js';
import { STALE_MS } from './defaults.js';
import { DatabaseError } from './errors.js';

/**
 * Health checks of a queue database for `gitroast doctor`: read-only, never migrating or
 * repairing anything. Each check returns what it found; the caller decides how to say it.
 */

/**
 * Open `file` read-only for inspection, whatever its schema version, or throw a
 * DatabaseError saying why it cannot be read (missing, not SQLite, corrupt header).
 */
export function openForInspection(file: string): Db {
  if (!fs.existsSync(file)) throw new DatabaseError(`no database at ${file} (it is created by the first command that writes, such as \`gitroast analyze\`)`);
  let db: Db;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw describeOpenError(file, err, 'cannot open database');
  }
  try {
    db.pragma('busy_timeout = 5000');
    // Reading the header and the schema proves it is SQLite; a non-SQLite file fails here.
    db.pragma('user_version', { simple: true });
    db.prepare(`SELECT count(*) FROM sqlite_master`).get();
    return db;
  } catch (err) {
    db.close();
    throw describeOpenError(file, err, 'cannot read database');
  }
}

/** The result of an integrity check: `ok`, or SQLite's first complaints. */
export interface IntegrityResult {
  ok: boolean;
  /** `quick_check` (pages and indexes, O(N)) or `integrity_check` (also index contents). */
  pragma: 'quick_check' | 'integrity_check';
  /** Up to 20 messages; `['ok']` when ok. */
  messages: string[];
}

/**
 * Check the database's integrity with PRAGMA quick_check (default) or integrity_check
 * (`full`). A check that throws (SQLITE_CORRUPT) is a failed check, not an exception.
 */
export function checkIntegrity(db: Db, full = false): IntegrityResult {
  const pragma = full ? 'integrity_check' : 'quick_check';
  try {
    const rows = db.pragma(`${pragma}(20)`) as Record<string, string>[];
    const messages = rows.map((r) => String(Object.values(r)[0]));
    return { ok: messages.length === 1 && messages[0] === 'ok', pragma, messages };
  } catch (err) {
    return { ok: false, pragma, messages: [(err as Error).message] };
  }
}

/** A registered worker whose heartbeat is older than the stale limit. */
export interface StaleWorker {
  id: string;
  pid: number;
  hostname: string;
  heartbeatAt: number;
}

/** A reserved job no live worker is holding: its lease expired, or its worker is stale or gone. */
export interface StuckLease {
  id: number;
  queue: string;
  name: string;
  reservedBy: string | null;
  leaseExpiresAt: number | null;
  attempts: number;
  why: 'lease-expired' | 'worker-stale' | 'worker-gone';
}

function hasTable(db: Db, name: string): boolean {
  return Boolean(db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name));
}

/** List workers whose heartbeat is older than `staleMs` (default STALE_MS, 30 s); none when there is no workers table yet. */
export function staleWorkers(db: Db, staleMs = STALE_MS, now = Date.now()): StaleWorker[] {
  if (!hasTable(db, 'workers')) return [];
  return (db.prepare(`SELECT id, pid, hostname, heartbeat_at FROM workers WHERE heartbeat_at < ? ORDER BY heartbeat_at`).all(now - staleMs) as {
    id: string; pid: number; hostname: string; heartbeat_at: number;
  }[]).map((r) => ({ id: r.id, pid: r.pid, hostname: r.hostname, heartbeatAt: r.heartbeat_at }));
}

/**
 * List reserved jobs that no live worker holds (at most `limit`, default 100): the lease
 * expired, or the worker's heartbeat is older than `staleMs`, or the worker is not registered.
 * A running daemon recovers these on its next heartbeat; they stay stuck only while none runs.
 */
export function stuckLeases(db: Db, staleMs = STALE_MS, now = Date.now(), limit = 100): { total: number; jobs: StuckLease[] } {
  if (!hasTable(db, 'jobs') || !hasTable(db, 'workers')) return { total: 0, jobs: [] };
  const where = `
    FROM jobs j LEFT JOIN workers w ON w.id = j.reserved_by
   WHERE j.state = 'reserved'
     AND (j.lease_expires_at <= @now OR w.id IS NULL OR w.heartbeat_at < @now - @staleMs)`;
  const total = (db.prepare(`SELECT count(*) AS n ${where}`).get({ now, staleMs }) as { n: number }).n;
  const rows = db.prepare(`
    SELECT j.id, j.queue, j.name, j.reserved_by, j.lease_expires_at, j.attempts, w.id AS worker, w.heartbeat_at
    ${where} ORDER BY j.id LIMIT @limit`).all({ now, staleMs, limit }) as {
    id: number; queue: string; name: string; reserved_by: string | null; lease_expires_at: number | null; attempts: number;
    worker: string | null; heartbeat_at: number | null;
  }[];
  return {
    total,
    jobs: rows.map((r) => ({
      id: r.id, queue: r.queue, name: r.name, reservedBy: r.reserved_by, leaseExpiresAt: r.lease_expires_at, attempts: r.attempts,
      why: stuckWhy(r, now),
    })),
  };
}

/** Why a reserved job is stuck: its lease expired, else its worker is gone, else stale (both engines). */
export function stuckWhy(r: { lease_expires_at: number | null; worker: string | null }, now: number): StuckLease['why'] {
  return r.lease_expires_at !== null && r.lease_expires_at <= now ? 'lease-expired' : r.worker === null ? 'worker-gone' : 'worker-stale';
}
