import { stmt, type Db } from './db.js';
import { activeHoldsInTx } from './holds.js';
import { claimInTx, type ClaimOptions } from './jobs.js';
import { hasThrottles, planThrottledClaim, throttleKeys, throttleStates, type StoredThrottle } from './throttle-rules.js';
import { DEFAULT_QUEUES, type ClaimedJob } from './types.js';

/**
 * Throttles (BullMQ's limiter, Laravel's RateLimited middleware): at most `max` jobs of a
 * queue, or of a job name, start per fixed window of `perMs`, across every process on the
 * database. Windows are aligned to the epoch (a window starts at a multiple of `perMs`).
 * The count lives in the throttles table and is read and bumped inside the claim's
 * BEGIN IMMEDIATE transaction, so two daemons cannot each allow `max`. A throttled job is
 * simply not claimed: it stays pending and spends no attempt.
 */
export interface ThrottleRule {
  /** Starts allowed per window (at least 1). */
  max: number;
  /** Window length, ms. */
  perMs: number;
}

/** The throttles in force: per queue name and per job name. */
export interface Throttles {
  queues?: Readonly<Record<string, ThrottleRule>>;
  jobs?: Readonly<Record<string, ThrottleRule>>;
}

/** What a throttled claim got, and what held it back. */
export interface ThrottledClaim {
  jobs: ClaimedJob[];
  /** Queues whose claim a throttle cut short (their room may go to other work). */
  throttledQueues: Set<string>;
  /** The earliest end of a window that held something back (ms epoch), or undefined. */
  retryAt: number | undefined;
}

/** A throttle as `status` and the monitor show it. */
export interface ThrottleState {
  kind: 'queue' | 'job';
  name: string;
  max: number;
  perSeconds: number;
  /** Starts in the current window. */
  used: number;
  /** When the current window ends (ms epoch). */
  windowEndsAt: number;
  /** True when the window is used up: matching jobs wait as pending until windowEndsAt. */
  throttled: boolean;
  /** Pending jobs held back (counted only while throttled, else 0). */
  waiting: number;
}

/** Read a throttle's stored window. */
const READ = `SELECT window_start, count FROM throttles WHERE key = ?`;

/** Add starts to a throttle's window (a new window restarts the count). */
const BUMP = `
  INSERT INTO throttles (key, max, per_ms, window_start, count) VALUES (@key, @max, @perMs, @windowStart, @n)
  ON CONFLICT(key) DO UPDATE SET
    count = CASE WHEN throttles.window_start = excluded.window_start THEN throttles.count + excluded.count ELSE excluded.count END,
    window_start = excluded.window_start, max = excluded.max, per_ms = excluded.per_ms`;

/**
 * Claim like claimInTx (queues in order, up to `limit`), never starting more jobs of a
 * throttled queue or job name than its window has left, and count the starts: the rule is
 * throttle-rules.ts planThrottledClaim; this runs its claims and writes its counts. Held job
 * names (holds.ts) stay pending. Caller holds the transaction.
 */
export function claimThrottledInTx(db: Db, options: Omit<ClaimOptions, 'exceptNames'> & { throttles?: Throttles }): ThrottledClaim {
  const throttles = options.throttles;
  const queues = options.queues ?? DEFAULT_QUEUES;
  const now = options.now ?? Date.now();
  const stored = new Map<string, { window_start: number; count: number }>();
  if (hasThrottles(throttles)) {
    for (const key of throttleKeys(throttles, queues)) {
      const row = stmt(db, READ).get(key) as { window_start: number; count: number } | undefined;
      if (row) stored.set(key, row);
    }
  }
  const plan = planThrottledClaim({ queues, limit: options.limit ?? 1, now, throttles, holds: activeHoldsInTx(db, now), stored });
  let step = plan.next();
  while (!step.done) step = plan.next(claimInTx(db, { workerId: options.workerId, leaseMs: options.leaseMs, now, ...step.value }));
  for (const count of step.value.counts) stmt(db, BUMP).run(count);
  return step.value.claim;
}

/**
 * List the throttles in force (`throttles`, from the config) with their current window, or
 * when none is given, every throttle the daemons have counted (as stored with its last
 * rule). Throttled ones carry how many pending jobs they hold back.
 */
export function listThrottles(db: Db, now = Date.now(), throttles?: Throttles): ThrottleState[] {
  const rows = stmt(db, `SELECT key, max, per_ms, window_start, count FROM throttles ORDER BY key`).all() as StoredThrottle[];
  return throttleStates(rows, now, throttles, (kind, name) => {
    const sql = kind === 'queue' ? `SELECT COUNT(*) AS n FROM jobs WHERE state = 'pending' AND queue = ?` : `SELECT COUNT(*) AS n FROM jobs WHERE state = 'pending' AND name = ?`;
    return (stmt(db, sql).get(name) as { n: number }).n;
  });
}
