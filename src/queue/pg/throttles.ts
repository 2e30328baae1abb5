import type pg from 'pg';
import { hasThrottles, planThrottledClaim, throttleKeys } from '../throttle-rules.js';
import type { ThrottledClaim, Throttles } from '../throttles.js';
import { pgClaim, pgPromoteAndHoldsInTx } from './jobs.js';

/**
 * ../throttles.ts claimThrottledInTx on PostgreSQL: the same rule (../throttle-rules.ts
 * planThrottledClaim: holds, used-up queues and job names, windows aligned to the epoch),
 * with its claims run and its starts counted here. On SQLite the claim's BEGIN IMMEDIATE
 * serialises the read and bump of a window; here the first throttled claim of a
 * transaction takes the installation's throttle lock (a transaction-scoped advisory lock),
 * so two daemons on two hosts cannot each allow `max`. One lock for every throttle: claims
 * that take several windows never wait on each other in opposite orders.
 */

/** Read the stored windows of these keys. */
const READ = `SELECT key, window_start, count FROM throttles WHERE key = ANY($1::text[])`;

/** Add starts to a throttle's window (a new window restarts the count), as ../throttles.ts BUMP. */
const BUMP = `
  INSERT INTO throttles (key, max, per_ms, window_start, count) VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN throttles.window_start = excluded.window_start THEN throttles.count + excluded.count ELSE excluded.count END,
    window_start = excluded.window_start, max = excluded.max, per_ms = excluded.per_ms`;

/** What one claim asks for: the commit's worker, lease, time (database clock) and throttles, and this take's queues and limit. */
export interface PgThrottledClaimOptions {
  workerId: string;
  leaseMs: number;
  /** The commit's now, read from the database. */
  now: number;
  queues: readonly string[];
  limit: number;
  throttles?: Throttles;
  /** The advisory lock key of the installation's throttles (its schema). */
  lockKey: string;
}

/** Claim like pgClaim (queues in order, up to `limit`), honouring holds and throttles (../throttle-rules.ts planThrottledClaim). Caller holds the transaction. */
export async function pgClaimThrottledInTx(c: pg.ClientBase, o: PgThrottledClaimOptions): Promise<ThrottledClaim> {
  const { throttles, queues, now } = o;
  const holds = await pgPromoteAndHoldsInTx(c);
  const stored = new Map<string, { window_start: number; count: number }>();
  if (hasThrottles(throttles)) {
    await c.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [o.lockKey]);
    const rows = (await c.query<{ key: string; window_start: number; count: number }>(READ, [throttleKeys(throttles, queues)])).rows;
    for (const r of rows) stored.set(r.key, r);
  }
  const plan = planThrottledClaim({ queues, limit: o.limit, now, throttles, holds, stored });
  let step = plan.next();
  while (!step.done) step = plan.next(await pgClaim(c, { workerId: o.workerId, leaseMs: o.leaseMs, promoted: true, ...step.value }));
  for (const n of step.value.counts) await c.query(BUMP, [n.key, n.max, n.perMs, n.windowStart, n.n]);
  return step.value.claim;
}
