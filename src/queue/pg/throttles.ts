import type pg from 'pg';
import { hasThrottles, type ThrottledClaim, type ThrottleRule, type Throttles } from '../throttles.js';
import type { ClaimedJob } from '../types.js';
import { pgClaim, pgPromoteAndHoldsInTx } from './jobs.js';

/**
 * ../throttles.ts claimThrottledInTx on PostgreSQL, rule for rule: held job names are
 * skipped until their hold ends, a used-up queue is skipped, a used-up job name is left
 * pending while the queue's other names are claimed, and the starts are counted in the
 * throttles table (windows aligned to the epoch). On SQLite the claim's BEGIN IMMEDIATE
 * serialises the read and bump of a window; here the first throttled claim of a
 * transaction takes the installation's throttle lock (a transaction-scoped advisory lock),
 * so two daemons on two hosts cannot each allow `max`. One lock for every throttle: claims
 * that take several windows never wait on each other in opposite orders.
 */

/** Read a throttle's window. */
const READ = `SELECT window_start, count FROM throttles WHERE key = $1`;

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

interface Window {
  key: string;
  rule: ThrottleRule;
  windowStart: number;
  used: number;
  added: number;
}

/** Claim like pgClaim (queues in order, up to `limit`), honouring holds and throttles. Caller holds the transaction. */
export async function pgClaimThrottledInTx(c: pg.ClientBase, o: PgThrottledClaimOptions): Promise<ThrottledClaim> {
  const { throttles, queues, limit, now } = o;
  const base = { workerId: o.workerId, leaseMs: o.leaseMs, promoted: true };
  const holds = await pgPromoteAndHoldsInTx(c);
  const heldNames = holds.map((h) => h.name);
  const holdEnds = holds.reduce((a, h) => Math.min(a, h.until), Infinity);
  if (!hasThrottles(throttles)) {
    if (holds.length === 0) return { jobs: await pgClaim(c, { ...base, queues, limit }), throttledQueues: new Set(), retryAt: undefined };
    const jobs = await pgClaim(c, { ...base, queues, limit, exceptNames: heldNames });
    return { jobs, throttledQueues: new Set(), retryAt: holdEnds };
  }
  await c.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [o.lockKey]);
  const windows = new Map<string, Window>();
  const win = async (key: string, rule: ThrottleRule): Promise<Window> => {
    let w = windows.get(key);
    if (!w) {
      const windowStart = Math.floor(now / rule.perMs) * rule.perMs;
      const row = (await c.query<{ window_start: number; count: number }>(READ, [key])).rows[0];
      w = { key, rule, windowStart, used: row && row.window_start === windowStart ? row.count : 0, added: 0 };
      windows.set(key, w);
    }
    return w;
  };
  const left = (w: Window) => w.rule.max - w.used - w.added;
  const jobRules = Object.entries(throttles!.jobs ?? {});
  const out: ClaimedJob[] = [];
  const throttledQueues = new Set<string>();
  let retryAt = holdEnds;
  const held = (w: Window) => {
    retryAt = Math.min(retryAt, w.windowStart + w.rule.perMs);
  };
  for (const queue of queues) {
    if (out.length >= limit) break;
    const qRule = throttles!.queues?.[queue];
    const qw = qRule ? await win(`queue:${queue}`, qRule) : undefined;
    for (;;) {
      const room = limit - out.length;
      if (qw && left(qw) <= 0) {
        throttledQueues.add(queue);
        held(qw);
        break;
      }
      const except: string[] = [...heldNames];
      let nameLeft = Infinity;
      for (const [name, rule] of jobRules) {
        const w = await win(`job:${name}`, rule);
        if (left(w) <= 0) {
          except.push(name);
          held(w);
        } else nameLeft = Math.min(nameLeft, left(w));
      }
      const n = Math.min(room, qw ? left(qw) : Infinity, nameLeft);
      if (n <= 0) break;
      const got = await pgClaim(c, { ...base, queues: [queue], limit: n, exceptNames: except });
      for (const job of got) {
        out.push(job);
        if (qw) qw.added++;
        const rule = throttles!.jobs?.[job.name];
        if (rule) (await win(`job:${job.name}`, rule)).added++;
      }
      if (got.length < n) {
        if (except.length > heldNames.length) throttledQueues.add(queue);
        break;
      }
      if (out.length >= limit) break;
    }
  }
  for (const w of windows.values()) {
    if (w.added > 0) await c.query(BUMP, [w.key, w.rule.max, w.rule.perMs, w.windowStart, w.added]);
  }
  return { jobs: out, throttledQueues, retryAt: retryAt === Infinity ? undefined : retryAt };
}
