/**
 * Named operations on the settings table for the daemon's coordination between processes:
 * schedule ticks (one daemon runs each tick) and alert flags (one daemon sends each alert).
 * The daemon calls these; it holds no SQL of its own.
 */
import { immediate, stmt, type Db } from './db.js';

/** Move the recorded tick forward only (compared as integers); a change means this caller won. */
const CLAIM_TICK = `
  INSERT INTO settings (key, value) VALUES (?, ?)
  ON CONFLICT(key) DO UPDATE SET value = excluded.value
   WHERE CAST(settings.value AS INTEGER) < CAST(excluded.value AS INTEGER)`;

/** Raise a flag: a change only when it was not raised already. */
const RAISE_FLAG = `
  INSERT INTO settings (key, value) VALUES (?, '1')
  ON CONFLICT(key) DO UPDATE SET value = '1' WHERE settings.value <> '1'`;

/** Lower a raised flag: a change only when it was raised. */
const LOWER_FLAG = `UPDATE settings SET value = '0' WHERE key = ? AND value = '1'`;

/** The queues of every raised flag of one kind (keys `alert:<kind>:<queue>`). */
const RAISED_FLAGS = `SELECT substr(key, ?) AS queue FROM settings WHERE key LIKE ? AND value = '1'`;

/** The oldest ready job's availability per queue that has one. */
const OLDEST_PENDING = `SELECT queue, MIN(available_at) AS oldest FROM jobs WHERE state = 'pending' GROUP BY queue`;

/**
 * Take the tick `at` of schedule `name` for this process: a guarded UPSERT on the settings
 * table that only moves the recorded tick forward. Of several daemons firing the same tick,
 * exactly one sees a change and runs it. Returns true when this caller won.
 */
export function claimTick(db: Db, name: string, at: number): boolean {
  return immediate(db, () => stmt(db, CLAIM_TICK).run(`schedule:${name}:tick`, String(at)).changes === 1);
}

/** Raise alert `kind` of `queue`; true when this caller raised it (it was not raised). */
export function raiseAlert(db: Db, kind: string, queue: string): boolean {
  return immediate(db, () => stmt(db, RAISE_FLAG).run(`alert:${kind}:${queue}`).changes === 1);
}

/** Resolve alert `kind` of `queue`; true when this caller resolved it (it was raised). */
export function resolveAlert(db: Db, kind: string, queue: string): boolean {
  return immediate(db, () => stmt(db, LOWER_FLAG).run(`alert:${kind}:${queue}`).changes === 1);
}

/** The queues whose alert `kind` is raised now. */
export function raisedAlerts(db: Db, kind: string): string[] {
  const prefix = `alert:${kind}:`;
  return (stmt(db, RAISED_FLAGS).all(prefix.length + 1, `${prefix}%`) as { queue: string }[]).map((r) => r.queue);
}

/** The availability time (ms epoch) of the oldest ready job, per queue that has one. */
export function oldestPendingByQueue(db: Db): Map<string, number> {
  return new Map((stmt(db, OLDEST_PENDING).all() as { queue: string; oldest: number }[]).map((r) => [r.queue, r.oldest]));
}
