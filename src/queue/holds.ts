import { immediate, stmt, type Db } from './db.js';
import { assertJobName } from './validate.js';

/**
 * Holds: "leave jobs named X pending until T, because R". A handler that learns an outside
 * budget is spent (a rate limit until its reset) sets one, so the claim stops taking jobs
 * that would only wait: they stay pending, spend no attempt and hold no lease, and other
 * work goes on. The claim (claimThrottledInTx) skips held names and tells the worker when
 * the earliest hold ends, so it claims again then. A hold ends by itself at T.
 */
export interface Hold {
  name: string;
  /** When the hold ends (ms epoch). */
  until: number;
  reason: string;
  setAt: number;
  /** Pending jobs of that name it holds back. */
  waiting: number;
}

/** The longest reason kept (both engines). */
export const REASON_LIMIT = 500;

/**
 * Hold jobs named `name` until `until` with `reason`; a hold already in force that ends
 * later is kept (its reason too). One short transaction.
 */
export function holdJobs(db: Db, name: string, until: number, reason: string, now = Date.now()): void {
  assertJobName(name);
  immediate(db, () =>
    stmt(db, `INSERT INTO job_holds (name, until, reason, set_at) VALUES (?, ?, ?, ?)
              ON CONFLICT (name) DO UPDATE SET until = excluded.until, reason = excluded.reason, set_at = excluded.set_at
              WHERE excluded.until > job_holds.until OR job_holds.until <= excluded.set_at`).run(name, until, reason.slice(0, REASON_LIMIT), now),
  );
}

/** End the hold on `name` now; false when there was none. */
export function releaseHold(db: Db, name: string): boolean {
  return immediate(db, () => stmt(db, 'DELETE FROM job_holds WHERE name = ?').run(name)).changes > 0;
}

/** The holds in force at `now`, name and end only (read by every claim: a scan of a table of a few rows). */
export function activeHoldsInTx(db: Db, now: number): { name: string; until: number }[] {
  return stmt(db, 'SELECT name, until FROM job_holds WHERE until > ?').all(now) as { name: string; until: number }[];
}

/** List the holds in force at `now` with the pending jobs each holds back (`status`, /health, the monitor). */
export function listHolds(db: Db, now = Date.now()): Hold[] {
  const rows = stmt(db, 'SELECT name, until, reason, set_at FROM job_holds WHERE until > ? ORDER BY until, name').all(now) as { name: string; until: number; reason: string; set_at: number }[];
  // Counted only while a hold is in force (like a throttled throttle): a walk of the pending jobs.
  const waiting = (name: string) => (stmt(db, `SELECT COUNT(*) AS n FROM jobs WHERE state = 'pending' AND name = ?`).get(name) as { n: number }).n;
  return rows.map((r) => ({ name: r.name, until: r.until, reason: r.reason, setAt: r.set_at, waiting: waiting(r.name) }));
}
