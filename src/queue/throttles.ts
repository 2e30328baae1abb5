import { stmt, type Db } from './db.js';
import { activeHoldsInTx } from './holds.js';
import { claimInTx, type ClaimOptions } from './jobs.js';
import type { ClaimedJob } from './types.js';

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

/** Read a throttle's starts in the window holding `now`. */
const READ = `SELECT window_start, count FROM throttles WHERE key = ?`;

/** Add starts to a throttle's window (a new window restarts the count). */
const BUMP = `
  INSERT INTO throttles (key, max, per_ms, window_start, count) VALUES (@key, @max, @perMs, @windowStart, @n)
  ON CONFLICT(key) DO UPDATE SET
    count = CASE WHEN throttles.window_start = excluded.window_start THEN throttles.count + excluded.count ELSE excluded.count END,
    window_start = excluded.window_start, max = excluded.max, per_ms = excluded.per_ms`;

interface Window {
  key: string;
  rule: ThrottleRule;
  windowStart: number;
  used: number;
  added: number;
}

/** True when `t` limits any queue or job name. */
export function hasThrottles(t: Throttles | undefined): boolean {
  return t !== undefined && (Object.keys(t.queues ?? {}).length > 0 || Object.keys(t.jobs ?? {}).length > 0);
}

/**
 * Claim like claimInTx (queues in order, up to `limit`), never starting more jobs of a
 * throttled queue or job name than its window has left, and count the starts. Jobs of a
 * used-up job name are skipped (other names of the queue are claimed); a used-up queue is
 * skipped (the next queues are claimed). Caller holds the transaction.
 */
export function claimThrottledInTx(db: Db, options: ClaimOptions & { throttles?: Throttles }): ThrottledClaim {
  const throttles = options.throttles;
  const queues = options.queues ?? ['high', 'default', 'low'];
  const limit = options.limit ?? 1;
  const now = options.now ?? Date.now();
  // Held job names (holds.ts) are skipped like a used-up throttle, until their hold ends.
  const holds = activeHoldsInTx(db, now);
  const heldNames = holds.map((h) => h.name);
  const holdEnds = holds.reduce((a, h) => Math.min(a, h.until), Infinity);
  if (!hasThrottles(throttles)) {
    if (holds.length === 0) return { jobs: claimInTx(db, options), throttledQueues: new Set(), retryAt: undefined };
    const jobs = claimInTx(db, { ...options, now, exceptNames: [...(options.exceptNames ?? []), ...heldNames] });
    return { jobs, throttledQueues: new Set(), retryAt: holdEnds };
  }
  const windows = new Map<string, Window>();
  const win = (key: string, rule: ThrottleRule): Window => {
    let w = windows.get(key);
    if (!w) {
      const windowStart = Math.floor(now / rule.perMs) * rule.perMs;
      const row = stmt(db, READ).get(key) as { window_start: number; count: number } | undefined;
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
    const qw = qRule ? win(`queue:${queue}`, qRule) : undefined;
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
        const w = win(`job:${name}`, rule);
        if (left(w) <= 0) {
          except.push(name);
          held(w);
        } else nameLeft = Math.min(nameLeft, left(w));
      }
      const n = Math.min(room, qw ? left(qw) : Infinity, nameLeft);
      if (n <= 0) break;
      const got = claimInTx(db, { ...options, queues: [queue], limit: n, now, exceptNames: except });
      for (const job of got) {
        out.push(job);
        if (qw) qw.added++;
        const rule = throttles!.jobs?.[job.name];
        if (rule) win(`job:${job.name}`, rule).added++;
      }
      if (got.length < n) {
        if (except.length > heldNames.length) throttledQueues.add(queue);
        break;
      }
      if (out.length >= limit) break;
    }
  }
  for (const w of windows.values()) {
    if (w.added > 0) stmt(db, BUMP).run({ key: w.key, max: w.rule.max, perMs: w.rule.perMs, windowStart: w.windowStart, n: w.added });
  }
  return { jobs: out, throttledQueues, retryAt: retryAt === Infinity ? undefined : retryAt };
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

/** A row of the throttles table. */
export interface StoredThrottle {
  key: string;
  max: number;
  per_ms: number;
  window_start: number;
  count: number;
}

/**
 * The throttle states from the stored rows (ordered by key) at `now` (both engines): the
 * rules of `throttles`, or the stored ones when none is given; `waiting` counts a throttled
 * one's pending jobs (engine-specific, synchronous here; the PostgreSQL store fills it after).
 */
export function throttleStates(rows: readonly StoredThrottle[], now: number, throttles: Throttles | undefined, waiting: (kind: 'queue' | 'job', name: string) => number): ThrottleState[] {
  const stored = new Map(rows.map((r) => [r.key, r]));
  const rules = new Map<string, ThrottleRule>();
  if (throttles) {
    for (const [name, rule] of Object.entries(throttles.queues ?? {})) rules.set(`queue:${name}`, rule);
    for (const [name, rule] of Object.entries(throttles.jobs ?? {})) rules.set(`job:${name}`, rule);
  } else {
    for (const r of rows) rules.set(r.key, { max: r.max, perMs: r.per_ms });
  }
  const out: ThrottleState[] = [];
  for (const [key, rule] of rules) {
    const kind = key.startsWith('queue:') ? 'queue' : 'job';
    const name = key.slice(kind.length + 1);
    const windowStart = Math.floor(now / rule.perMs) * rule.perMs;
    const r = stored.get(key);
    const used = r && r.window_start === windowStart ? r.count : 0;
    const throttled = used >= rule.max;
    out.push({ kind, name, max: rule.max, perSeconds: rule.perMs / 1000, used, windowEndsAt: windowStart + rule.perMs, throttled, waiting: throttled ? waiting(kind, name) : 0 });
  }
  return out;
}
