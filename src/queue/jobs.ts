import { randomUUID } from 'node:crypto';
import { immediate, stmt, type Db } from './db.js';
import { LEASE_MS } from './defaults.js';
import { ValidationError } from './errors.js';
import { notifyEnqueued } from './notify.js';
import type { ChainState, ClaimedJob, JobSpec, Lease, Outcome } from './types.js';
import { chainCatchJob, delayPlan, failedOptions, retryPlan, withError } from './rules.js';
import { assertChain, assertQueueName, toJobRow, type JobRow } from './validate.js';

// ---------------------------------------------------------------------------------------
// The statements that matter, kept here as visible SQL.
// ---------------------------------------------------------------------------------------

/** Insert one job. Takes 15 positional values; returns nothing (lastInsertRowid is the id). */
const INSERT_JOB = `
  INSERT INTO jobs (queue, name, payload, state, priority, max_attempts, backoff, timeout_ms,
                    retry_until, available_at, created_at, unique_key, tags, chain, batch_id)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** The job holding a unique key, if a pending, delayed or reserved one does. */
const FIND_UNIQUE = `
  SELECT id FROM jobs WHERE unique_key = ? AND state IN ('pending','delayed','reserved')`;

/** Move delayed jobs that are due into the ready index. Takes now. */
const PROMOTE_DUE = `
  UPDATE jobs SET state = 'pending' WHERE state = 'delayed' AND available_at <= ?`;

/**
 * Claim up to `limit` ready jobs of one queue in priority order, unless the queue is
 * paused: two statements inside the caller's write transaction. NEXT walks the jobs_ready
 * partial index for the ids; TAKE updates those rows by rowid, counting the attempt,
 * taking a lease and bumping the fencing token. One `UPDATE … WHERE id IN (SELECT … LIMIT
 * n)` does the same, but SQLite then runs the UPDATE in two passes over an ephemeral table,
 * which costs about 17 µs more per statement: most of a one-job claim (bench: one slot).
 */
const NEXT = `
  SELECT id FROM jobs WHERE state = 'pending' AND queue = @queue
     AND NOT EXISTS (SELECT 1 FROM queues WHERE name = @queue AND paused = 1)
   ORDER BY priority DESC, id LIMIT @limit`;

/** NEXT, skipping the job names of a JSON list (@except): names held back by a throttle or a hold. */
const NEXT_EXCEPT = NEXT.replace('AND queue = @queue', 'AND queue = @queue AND name NOT IN (SELECT value FROM json_each(@except))');

/** Take the jobs NEXT found (a JSON list of ids): still pending, as the caller holds the write lock. */
const TAKE = `
  UPDATE jobs
     SET state = 'reserved', attempts = attempts + 1, reserved_at = @now, reserved_by = @worker,
         lease_expires_at = @now + @leaseMs, lease_token = lease_token + 1
   WHERE id IN (SELECT value FROM json_each(@ids)) AND state = 'pending'
  RETURNING id, queue, name, payload, priority, attempts, max_attempts, timeout_ms, available_at, lease_token`;

/** Complete one leased job (fenced). Returns what chains and batches need. */
const COMPLETE = `
  UPDATE jobs SET state = 'completed', finished_at = ?, reserved_by = NULL, lease_expires_at = NULL
   WHERE id = ? AND lease_token = ? AND state = 'reserved'
  RETURNING chain, batch_id`;

const LEASED_COLUMNS = `id, queue, name, payload, attempts, max_attempts, backoff, retry_until, unique_key, tags,
         chain, batch_id, errors, priority, timeout_ms, created_at`;

/** Complete a JSON list of [id, token] leases in one statement (fenced). */
const COMPLETE_MANY = `
  UPDATE jobs SET state = 'completed', finished_at = ?, reserved_by = NULL, lease_expires_at = NULL
    FROM (SELECT value ->> 0 AS lease_id, value ->> 1 AS lease_tok FROM json_each(?)) AS l
   WHERE jobs.id = l.lease_id AND jobs.lease_token = l.lease_tok AND jobs.state = 'reserved'
  RETURNING jobs.id, jobs.chain, jobs.batch_id`;

/** Read a leased job for a release, delay or failure (fenced). */
const READ_LEASED = `SELECT ${LEASED_COLUMNS} FROM jobs WHERE id = ? AND lease_token = ? AND state = 'reserved'`;

/** Read a reserved job whatever its token (recovery). */
const READ_RESERVED = `SELECT ${LEASED_COLUMNS} FROM jobs WHERE id = ? AND state = 'reserved'`;

/** Put a leased job back: pending now, or delayed until available_at. */
const PUT_BACK = `
  UPDATE jobs SET state = ?, available_at = ?, attempts = ?, errors = ?, reserved_by = NULL,
                  lease_expires_at = NULL
   WHERE id = ?`;

/** Put a leased job back after a delay, with its attempt given back and its retry-until moved. */
const PUT_BACK_DELAYED = `
  UPDATE jobs SET state = ?, available_at = ?, attempts = ?, retry_until = ?, reserved_by = NULL, lease_expires_at = NULL
   WHERE id = ?`;

/** Mark a job failed for good. */
const MARK_FAILED = `
  UPDATE jobs SET state = 'failed', finished_at = ?, errors = ?, reserved_by = NULL, lease_expires_at = NULL
   WHERE id = ?`;

const INSERT_FAILED = `
  INSERT INTO failed_jobs (uuid, job_id, queue, name, payload, options, tags, batch_id, attempts, error, stack, failed_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Whether a lease is still held: the job is reserved under this token. */
const HOLDS_LEASE = `SELECT 1 FROM jobs WHERE id = ? AND lease_token = ? AND state = 'reserved'`;

/** Extend a lease (fenced). */
const EXTEND = `
  UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND lease_token = ? AND state = 'reserved'`;

// ---------------------------------------------------------------------------------------
// Enqueue
// ---------------------------------------------------------------------------------------

/** What enqueue returns: the job's id, and whether an existing unique job was returned instead. */
export interface Enqueued {
  id: number;
  existing: boolean;
}

export interface EnqueueContext {
  /** Clock, ms epoch. Default Date.now(). */
  now?: number;
  /** Batch the job belongs to. */
  batchId?: string | null;
  /** Chain state to carry (set by chains; callers use spec.chain / spec.catch). */
  chain?: ChainState | null;
}

/**
 * Enqueue one job in its own BEGIN IMMEDIATE transaction and return its id. A unique key
 * held by a pending, delayed or reserved job returns that job instead (existing: true).
 * Throws a ValidationError naming any bad value; nothing is written then.
 */
export function enqueue(db: Db, spec: JobSpec, ctx: EnqueueContext = {}): Enqueued {
  const result = immediate(db, () => enqueueInTx(db, spec, ctx));
  notifyEnqueued(db);
  return result;
}

/** Like enqueue, but inside an existing transaction (the caller commits and notifies). */
export function enqueueInTx(db: Db, spec: JobSpec, ctx: EnqueueContext = {}): Enqueued {
  const row = toJobRow(spec);
  if (spec.chain !== undefined || spec.catch !== undefined) assertChain(spec);
  return insertJob(db, row, spec, ctx, ctx.now ?? Date.now());
}

/** Insert a validated row (or return the job holding its unique key). Caller holds the transaction. */
function insertJob(db: Db, row: JobRow, spec: JobSpec, ctx: EnqueueContext, now: number): Enqueued {
  if (row.uniqueKey !== null) {
    const held = stmt(db, FIND_UNIQUE).get(row.uniqueKey) as { id: number } | undefined;
    if (held) return { id: held.id, existing: true };
  }
  const info = stmt(db, INSERT_JOB).run(
    row.queue, row.name, row.payload, row.delayMs > 0 ? 'delayed' : 'pending', row.priority, row.maxAttempts,
    row.backoff, row.timeoutMs, retryUntilOf(row, now), now + row.delayMs, now, row.uniqueKey, row.tags, chainJson(spec, ctx), ctx.batchId ?? null,
  );
  return { id: Number(info.lastInsertRowid), existing: false };
}

/** The retry_until column: the spec's deadline, or its retry-for window from `now`. */
function retryUntilOf(row: JobRow, now: number): number | null {
  return row.retryUntil ?? (row.retryForMs !== null ? now + row.retryForMs : null);
}

/**
 * Enqueue many jobs in one transaction: all or none. Validates every spec before writing
 * anything. Returns one Enqueued per spec, in order.
 */
export function enqueueMany(db: Db, specs: readonly JobSpec[], ctx: EnqueueContext = {}): Enqueued[] {
  const rows = validateAll(specs);
  const out = immediate(db, () => insertAll(db, rows, specs, ctx));
  notifyEnqueued(db);
  return out;
}

/**
 * Like enqueueMany, but inside an existing transaction (the caller commits and notifies).
 * Every spec is validated before anything is written.
 */
export function enqueueManyInTx(db: Db, specs: readonly JobSpec[], ctx: EnqueueContext = {}): Enqueued[] {
  return insertAll(db, validateAll(specs), specs, ctx);
}

/** Validate every spec (and its chain) once; throws a ValidationError naming the first bad value. */
function validateAll(specs: readonly JobSpec[]): JobRow[] {
  return specs.map((spec) => {
    const row = toJobRow(spec);
    if (spec.chain !== undefined || spec.catch !== undefined) assertChain(spec);
    return row;
  });
}

/** Insert validated rows; caller holds the transaction. */
function insertAll(db: Db, rows: readonly JobRow[], specs: readonly JobSpec[], ctx: EnqueueContext): Enqueued[] {
  const now = ctx.now ?? Date.now();
  const result: Enqueued[] = new Array(rows.length);
  let start = 0;
  // Runs of rows without a unique key go in multi-row INSERTs; a unique row is checked alone.
  for (let i = 0; i <= rows.length; i++) {
    if (i < rows.length && rows[i]!.uniqueKey === null) continue;
    insertRun(db, rows, specs, start, i, ctx, now, result);
    if (i < rows.length) result[i] = insertJob(db, rows[i]!, specs[i]!, ctx, now);
    start = i + 1;
  }
  return result;
}

/** Rows per multi-row INSERT: one statement per 50 rows measured 1.6x the throughput of one per row. */
const ROWS_PER_INSERT = 50;
const COLUMNS_PER_ROW = 15;
const INSERT_MANY = `${INSERT_JOB.slice(0, INSERT_JOB.indexOf('VALUES'))} VALUES ${Array(ROWS_PER_INSERT).fill(`(${Array(COLUMNS_PER_ROW).fill('?').join(', ')})`).join(', ')}`;

/** Insert rows[from, to) (none with a unique key), 50 per statement, filling `out` with their ids. */
function insertRun(db: Db, rows: readonly JobRow[], specs: readonly JobSpec[], from: number, to: number, ctx: EnqueueContext, now: number, out: Enqueued[]): void {
  let i = from;
  if (to - from >= ROWS_PER_INSERT) {
    const many = stmt(db, INSERT_MANY);
    const args: unknown[] = new Array(ROWS_PER_INSERT * COLUMNS_PER_ROW);
    for (; i + ROWS_PER_INSERT <= to; i += ROWS_PER_INSERT) {
      for (let k = 0; k < ROWS_PER_INSERT; k++) {
        const r = rows[i + k]!;
        const o = k * COLUMNS_PER_ROW;
        args[o] = r.queue; args[o + 1] = r.name; args[o + 2] = r.payload; args[o + 3] = r.delayMs > 0 ? 'delayed' : 'pending';
        args[o + 4] = r.priority; args[o + 5] = r.maxAttempts; args[o + 6] = r.backoff; args[o + 7] = r.timeoutMs;
        args[o + 8] = retryUntilOf(r, now); args[o + 9] = now + r.delayMs; args[o + 10] = now; args[o + 11] = null; args[o + 12] = r.tags;
        args[o + 13] = chainJson(specs[i + k]!, ctx); args[o + 14] = ctx.batchId ?? null;
      }
      // Rowids of one INSERT are consecutive: the table has no AUTOINCREMENT and the write lock is ours.
      const last = Number(many.run(...args).lastInsertRowid);
      for (let k = 0; k < ROWS_PER_INSERT; k++) out[i + k] = { id: last - ROWS_PER_INSERT + 1 + k, existing: false };
    }
  }
  for (; i < to; i++) out[i] = insertJob(db, rows[i]!, specs[i]!, ctx, now);
}

/** The chain column of a job: the carried chain state, or the spec's own chain and catch. */
function chainJson(spec: JobSpec, ctx: EnqueueContext): string | null {
  if (ctx.chain) return JSON.stringify(ctx.chain);
  if ((spec.chain && spec.chain.length > 0) || spec.catch) return JSON.stringify({ next: spec.chain ?? [], catch: spec.catch });
  return null;
}

// ---------------------------------------------------------------------------------------
// Claim
// ---------------------------------------------------------------------------------------

export interface ClaimOptions {
  /** Queues in the order they are tried. Default high, default, low. */
  queues?: readonly string[];
  /** The claiming worker's id. */
  workerId: string;
  /** How many jobs at most, over all queues. Default 1. */
  limit?: number;
  /** Lease length in ms. Default LEASE_MS (90,000: Laravel's retry_after). */
  leaseMs?: number;
  now?: number;
  /** Job names to leave pending (a throttle holds them back). Default none. */
  exceptNames?: readonly string[];
}

/** A TAKE row in raw mode, in RETURNING's column order. */
type ClaimTuple = [id: number, queue: string, name: string, payload: string, priority: number, attempts: number,
  maxAttempts: number, timeoutMs: number | null, availableAt: number, token: number];

/**
 * Claim the next ready jobs of these queues (tried in order, paused ones skipped), in
 * priority order, in one BEGIN IMMEDIATE transaction; an empty array when none is ready.
 * Delayed jobs that are due are promoted first.
 */
export function claim(db: Db, options: ClaimOptions): ClaimedJob[] {
  return immediate(db, () => claimInTx(db, options));
}

/** Like claim, but inside an existing transaction (group commit with completions). */
export function claimInTx(db: Db, options: ClaimOptions): ClaimedJob[] {
  const now = options.now ?? Date.now();
  const limit = options.limit ?? 1;
  if (limit < 1) return [];
  stmt(db, PROMOTE_DUE).run(now);
  const out: ClaimedJob[] = [];
  const except = options.exceptNames !== undefined && options.exceptNames.length > 0 ? JSON.stringify(options.exceptNames) : undefined;
  const next = stmt(db, except === undefined ? NEXT : NEXT_EXCEPT).pluck(true);
  // Raw mode (arrays, not objects): measurably cheaper per row on the hot path.
  const take = stmt(db, TAKE).raw(true);
  const find: Record<string, unknown> = { queue: '', limit: 0 };
  if (except !== undefined) find.except = except;
  const params = { now, worker: options.workerId, leaseMs: options.leaseMs ?? LEASE_MS, ids: '' };
  for (const queue of options.queues ?? ['high', 'default', 'low']) {
    find.queue = queue;
    find.limit = limit - out.length;
    const ids = next.all(find) as number[];
    if (ids.length > 0) {
      params.ids = ids.length === 1 ? `[${ids[0]}]` : JSON.stringify(ids);
      const rows = take.all(params) as ClaimTuple[];
      // RETURNING does not promise NEXT's order.
      if (rows.length > 1) rows.sort((a, b) => b[4] - a[4] || a[0] - b[0]);
      for (const r of rows) {
        out.push({ id: r[0], queue: r[1], name: r[2], payload: r[3], priority: r[4], attempts: r[5], maxAttempts: r[6], timeoutMs: r[7], availableAt: r[8], token: r[9] });
      }
    }
    if (out.length >= limit) break;
  }
  return out;
}

/** Whether a claim could find work: a pending job of a JSON list of queues, or a delayed job due by now. */
const READY = `
  SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'pending' AND queue IN (SELECT value FROM json_each(?)))
      OR EXISTS (SELECT 1 FROM jobs WHERE state = 'delayed' AND available_at <= ?) AS ready`;

/**
 * Return true when a claim of these queues (a JSON list, so the statement is prepared once)
 * could find something: a pending job, or a delayed one due by `now`. A cheap read that
 * takes no write lock, for a worker woken by a hint.
 */
export function readyToClaim(db: Db, queuesJson: string, now = Date.now()): boolean {
  return (stmt(db, READY).get(queuesJson, now) as { ready: number }).ready === 1;
}

/** Return true when `lease`'s job was completed under that lease at `now` (inside the completing transaction). */
export function completedUnder(db: Db, lease: Lease, now: number): boolean {
  const row = stmt(db, `SELECT state, lease_token, finished_at FROM jobs WHERE id = ?`).get(lease.id) as { state: string; lease_token: number; finished_at: number | null } | undefined;
  return row !== undefined && row.state === 'completed' && row.lease_token === lease.token && row.finished_at === now;
}

/** The earliest time a delayed job becomes due, or undefined when none is delayed. */
export function nextDueAt(db: Db): number | undefined {
  const row = stmt(db, `SELECT MIN(available_at) AS at FROM jobs WHERE state = 'delayed'`).get() as { at: number | null };
  return row.at ?? undefined;
}

// ---------------------------------------------------------------------------------------
// Finish a claimed job (every operation is fenced by the lease's token)
// ---------------------------------------------------------------------------------------

/**
 * Complete a leased job: marks it completed, enqueues the next link of its chain and counts
 * it in its batch, all in one transaction. Returns false when the lease was lost (the job
 * was reclaimed: the late result is rejected).
 */
export function complete(db: Db, lease: Lease, now = Date.now()): boolean {
  const ok = immediate(db, () => completeInTx(db, lease, now));
  if (ok) notifyEnqueued(db);
  return ok;
}

/** Like complete, but inside an existing transaction. */
export function completeInTx(db: Db, lease: Lease, now = Date.now()): boolean {
  const row = stmt(db, COMPLETE).get(now, lease.id, lease.token) as { chain: string | null; batch_id: string | null } | undefined;
  if (!row) return false;
  if (row.chain !== null || row.batch_id !== null) afterComplete(db, row.chain, row.batch_id, now);
  return true;
}

/** Enqueue a completed link's next link, or count the end of its chain in its batch. */
function afterComplete(db: Db, chainJson: string | null, batchId: string | null, now: number): void {
  if (chainJson !== null) {
    const chain = JSON.parse(chainJson) as ChainState;
    const [next, ...rest] = chain.next;
    if (next) {
      const carry = rest.length > 0 || chain.catch ? { next: rest, catch: chain.catch } : null;
      enqueueInTx(db, next, { now, batchId, chain: carry });
      return;
    }
  }
  if (batchId !== null) recordBatchOutcome(db, batchId, 'processed', now);
}

/** Complete many leased jobs in one transaction; returns how many were accepted. */
export function completeMany(db: Db, leases: readonly Lease[], now = Date.now()): number {
  const n = immediate(db, () => completeManyInTx(db, leases, now));
  if (n > 0) notifyEnqueued(db);
  return n;
}

/**
 * Like completeMany, but inside an existing transaction. One statement completes every
 * lease (fenced by its token): per-row statements cost ~20% more of a drain's time.
 */
export function completeManyInTx(db: Db, leases: readonly Lease[], now = Date.now()): number {
  if (leases.length === 0) return 0;
  if (leases.length === 1) return completeInTx(db, leases[0]!, now) ? 1 : 0;
  let list = '[';
  for (let i = 0; i < leases.length; i++) list += `${i ? ',' : ''}[${leases[i]!.id},${leases[i]!.token}]`;
  const rows = stmt(db, COMPLETE_MANY).raw(true).all(now, `${list}]`) as [number, string | null, string | null][];
  for (const [, chain, batchId] of rows) if (chain !== null || batchId !== null) afterComplete(db, chain, batchId, now);
  return rows.length;
}

// ---------------------------------------------------------------------------------------
// Fenced handler writes: a handler's own database writes commit only under its lease
// ---------------------------------------------------------------------------------------

/**
 * Database writes a handler hands back with its result (an analysis row, say). They run
 * inside the transaction that completes the job, and only when that completion is accepted:
 * a worker that lost its lease (suspended, pruned, its job recovered and finished elsewhere)
 * changes nothing. Synchronous, like every write transaction here.
 */
export type LeasedWrite = (db: Db) => void;

/** Marks a savepoint rolled back because the lease was lost. */
const LEASE_LOST = Symbol('lease lost');

/**
 * Complete a leased job and run `writes` after it, in one savepoint of the caller's
 * transaction: both or neither. Returns true when completed, false when the lease was lost
 * (nothing written), or the error a write threw (nothing written, the lease still held, so
 * the caller can release or fail the job). Caller holds the transaction.
 */
export function completeWithWritesInTx(db: Db, lease: Lease, writes: readonly LeasedWrite[], now = Date.now()): boolean | Error {
  try {
    // A nested better-sqlite3 transaction is a SAVEPOINT: a throw rolls back only this job.
    savepoint(db, () => {
      if (!completeInTx(db, lease, now)) throw LEASE_LOST;
      for (const write of writes) write(db);
    });
    return true;
  } catch (err) {
    if (err === LEASE_LOST) return false;
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * Run `write` now in its own transaction, only while `lease` is held (the job is reserved
 * under its token); false, with nothing written, when the lease was lost. For a handler's
 * writes that cannot wait for its completion (a progress stage).
 */
export function writeUnderLease(db: Db, lease: Lease, write: LeasedWrite): boolean {
  return immediate(db, () => {
    if (!stmt(db, HOLDS_LEASE).get(lease.id, lease.token)) return false;
    write(db);
    return true;
  });
}

const savepoints = new WeakMap<Db, (fn: () => void) => void>();

/** Run `fn` in a savepoint of the open transaction: a throw undoes only what `fn` wrote. */
function savepoint(db: Db, fn: () => void): void {
  let run = savepoints.get(db);
  if (!run) {
    const tx = db.transaction((f: () => void) => f());
    run = (f) => tx(f);
    savepoints.set(db, run);
  }
  run(fn);
}

interface LeasedRow {
  id: number;
  queue: string;
  name: string;
  payload: string;
  attempts: number;
  max_attempts: number;
  backoff: string | null;
  retry_until: number | null;
  unique_key: string | null;
  tags: string | null;
  chain: string | null;
  batch_id: string | null;
  errors: string | null;
  priority: number;
  timeout_ms: number | null;
  created_at: number;
}

/** An error as recorded on an attempt. */
export interface ErrorInfo {
  message: string;
  stack?: string;
}

/**
 * Release a leased job after a retryable error: back to the queue after its backoff (the
 * last value repeats), or failed for good when its tries are used up or its retry-until
 * deadline would pass. Returns the outcome; `lost` when the lease was lost.
 */
export function release(db: Db, lease: Lease, error: ErrorInfo, now = Date.now()): Outcome {
  const outcome = immediate(db, () => releaseInTx(db, lease, error, now));
  if (outcome.kind === 'released' || outcome.kind === 'failed') notifyEnqueued(db);
  return outcome;
}

/** Like release, but inside an existing transaction. */
export function releaseInTx(db: Db, lease: Lease, error: ErrorInfo, now = Date.now()): Outcome {
  const row = stmt(db, READ_LEASED).get(lease.id, lease.token) as LeasedRow | undefined;
  if (!row) return { kind: 'lost' };
  const errors = withError(row, error, now);
  const plan = retryPlan(row, error, now);
  if (plan.kind === 'fail') return failRow(db, row, errors, plan.reason, error.stack, now);
  stmt(db, PUT_BACK).run(plan.at > now ? 'delayed' : 'pending', plan.at, row.attempts, errors, row.id);
  return { kind: 'released', availableAt: plan.at };
}

/** How long a job may wait for rate limits, counted from its enqueue, unless told otherwise: 24 hours. */
export const DEFAULT_MAX_RATE_LIMIT_WAIT_MS = 24 * 3_600_000;

/** Options of delay. */
export interface DelayOptions {
  /**
   * Fail the job instead when `until` is more than this many ms after it was enqueued
   * (config `maxRateLimitWaitHours`). Default DEFAULT_MAX_RATE_LIMIT_WAIT_MS (24 h).
   */
  maxWaitMs?: number;
}

/**
 * Put a leased job back until `until` without spending its attempt (a rate limit said
 * "come back at T"). Waiting is not a failure: the retry-until deadline moves back by the
 * time waited, so the job keeps its window of retries. Rate-limit waits have their own
 * bound instead: the job fails when `until` is more than `maxWaitMs` after its enqueue.
 */
export function delay(db: Db, lease: Lease, until: number, reason: string, now = Date.now(), options: DelayOptions = {}): Outcome {
  const outcome = immediate(db, () => delayInTx(db, lease, until, reason, now, options));
  if (outcome.kind === 'delayed' || outcome.kind === 'failed') notifyEnqueued(db);
  return outcome;
}

/** Like delay, but inside an existing transaction. */
export function delayInTx(db: Db, lease: Lease, until: number, reason: string, now = Date.now(), options: DelayOptions = {}): Outcome {
  const row = stmt(db, READ_LEASED).get(lease.id, lease.token) as LeasedRow | undefined;
  if (!row) return { kind: 'lost' };
  const plan = delayPlan(row, until, reason, now, options.maxWaitMs ?? DEFAULT_MAX_RATE_LIMIT_WAIT_MS);
  if (plan.kind === 'fail') return failRow(db, row, withError(row, { message: reason }, now), plan.reason, undefined, now);
  stmt(db, PUT_BACK_DELAYED).run(plan.at > now ? 'delayed' : 'pending', plan.at, plan.attempts, plan.retryUntil, row.id);
  return { kind: 'delayed', availableAt: plan.at };
}

/** Fail a leased job for good (a final or not-retryable error). */
export function fail(db: Db, lease: Lease, error: ErrorInfo, now = Date.now()): Outcome {
  const outcome = immediate(db, () => failInTx(db, lease, error, now));
  if (outcome.kind === 'failed') notifyEnqueued(db);
  return outcome;
}

/** Like fail, but inside an existing transaction. */
export function failInTx(db: Db, lease: Lease, error: ErrorInfo, now = Date.now()): Outcome {
  const row = stmt(db, READ_LEASED).get(lease.id, lease.token) as LeasedRow | undefined;
  if (!row) return { kind: 'lost' };
  return failRow(db, row, withError(row, error, now), error.message, error.stack, now);
}

/**
 * Fail a reserved job whatever its lease (recovery: its worker is gone). Caller holds the
 * transaction. Returns false when the job is not reserved.
 */
export function failReservedInTx(db: Db, id: number, reason: string, now = Date.now()): boolean {
  const row = stmt(db, READ_RESERVED).get(id) as LeasedRow | undefined;
  if (!row) return false;
  failRow(db, row, withError(row, { message: reason }, now), reason, undefined, now);
  return true;
}

/** Extend a lease to `now + leaseMs`; false when the lease was lost. */
export function extendLease(db: Db, lease: Lease, leaseMs: number, now = Date.now()): boolean {
  return immediate(db, () => stmt(db, EXTEND).run(now + leaseMs, lease.id, lease.token).changes === 1);
}

/**
 * Mark the job failed, write its failed_jobs row, enqueue its chain's catch job and count it
 * in its batch. Caller holds the transaction.
 */
function failRow(db: Db, row: LeasedRow, errors: string, reason: string, stack: string | undefined, now: number): Outcome {
  stmt(db, MARK_FAILED).run(now, errors, row.id);
  const uuid = randomUUID();
  stmt(db, INSERT_FAILED).run(uuid, row.id, row.queue, row.name, row.payload, failedOptions(row), row.tags, row.batch_id,
    row.attempts, reason.slice(0, 4000), stack?.slice(0, 8000) ?? null, now);
  const catchJob = chainCatchJob(row, reason, uuid);
  if (catchJob) enqueueInTx(db, catchJob, { now });
  if (row.batch_id !== null) {
    recordBatchOutcome(db, row.batch_id, 'failed', now, { jobId: row.id, name: row.name, queue: row.queue, error: reason.slice(0, 1000), attempt: row.attempts, failedUuid: uuid });
  }
  const hook = failureHooks.get(db);
  if (hook) {
    const chain = row.chain ? (JSON.parse(row.chain) as ChainState) : null;
    const spec = hook({
      jobId: row.id, name: row.name, queue: row.queue, tags: parseJson<string[]>(row.tags, []), error: reason.slice(0, 1000), attempt: row.attempts,
      failedUuid: uuid, failedAt: now, handledByChain: Boolean(chain?.catch),
    });
    if (spec) {
      try {
        enqueueInTx(db, spec, { now });
      } catch (err) {
        // A bad spec from the hook must not undo the failure itself (validation throws before any write).
        if (!(err instanceof ValidationError)) throw err;
      }
    }
  }
  return { kind: 'failed', failedUuid: uuid, reason };
}

/** What a failure hook learns about a job that failed for good. */
export interface FinalFailure {
  jobId: number;
  name: string;
  queue: string;
  tags: string[];
  /** The reason it failed (up to 1,000 characters). */
  error: string;
  /** The attempt that failed. */
  attempt: number;
  /** Its failed_jobs entry. */
  failedUuid: string;
  failedAt: number;
  /** True when its chain has a catch job, which handles the failure (an analysis's analysis-failed). */
  handledByChain: boolean;
}

/** Decide what to enqueue when a job fails for good: a job spec (a notification, say), or undefined for nothing. */
export type FailureHook = (failure: FinalFailure) => JobSpec | undefined;

const failureHooks = new WeakMap<Db, FailureHook>();

/**
 * Enqueue the job `hook` returns whenever a job fails for good through this connection, in
 * the transaction that fails it: both commit, or neither. The queue never learns what the
 * job does (src/daemon's failure notifications post a webhook). `undefined` removes the hook.
 * A spec that does not validate is dropped; the failure still commits.
 */
export function setFailureHook(db: Db, hook: FailureHook | undefined): void {
  if (hook) failureHooks.set(db, hook);
  else failureHooks.delete(db);
}

// ---------------------------------------------------------------------------------------
// Batches: counters and exactly-once callbacks
// ---------------------------------------------------------------------------------------

/** What a batch's catch job gets in its payload's `failure`: the job that failed for good, its error and attempt. */
export interface BatchFailure {
  jobId: number;
  name: string;
  queue: string;
  error: string;
  attempt: number;
  failedUuid: string;
}

/**
 * Count one job of a batch as processed, failed or cancelled and enqueue the batch's then /
 * catch / finally jobs whose condition now holds. Each dispatch flag flips from 0 to 1 in a
 * guarded UPDATE inside the caller's write transaction, so two processes finishing the last
 * two jobs at the same moment still enqueue each callback exactly once. A failure is handed
 * to the catch job (the first failure's, as the catch runs once).
 */
export function recordBatchOutcome(db: Db, batchId: string, outcome: 'processed' | 'failed' | 'cancelled', now: number, failure?: BatchFailure): void {
  const col = outcome;
  stmt(db, `UPDATE batches SET pending = MAX(0, pending - 1), ${col} = ${col} + 1 WHERE id = ?`).run(batchId);
  dispatchBatchCallbacks(db, batchId, now, failure);
}

/** Enqueue whichever of the batch's callbacks are due and not yet dispatched. Caller holds the transaction. */
export function dispatchBatchCallbacks(db: Db, batchId: string, now: number, failure?: BatchFailure): void {
  const enqueueCallback = (json: string | null, withFailure?: BatchFailure) => {
    if (!json) return;
    const spec = JSON.parse(json) as JobSpec;
    const base = spec.payload;
    const batch = { id: batchId };
    const extra = withFailure ? { batch, failure: withFailure } : { batch };
    const payload = mergePayload(base, extra);
    enqueueInTx(db, { ...spec, payload }, { now });
  };
  // catch: the first failure.
  const c = stmt(db, `UPDATE batches SET catch_dispatched = 1 WHERE id = ? AND catch_dispatched = 0 AND failed > 0 RETURNING catch_job, allow_failures`).get(batchId) as
    | { catch_job: string | null; allow_failures: number }
    | undefined;
  if (c) {
    enqueueCallback(c.catch_job, failure);
    if (!c.allow_failures) cancelBatchInTx(db, batchId, now);
  }
  // then: every job succeeded (possibly after retries from the failed list).
  const t = stmt(db, `UPDATE batches SET then_dispatched = 1 WHERE id = ? AND then_dispatched = 0 AND pending = 0 AND failed = 0 AND cancelled = 0 AND cancelled_at IS NULL RETURNING then_job`).get(batchId) as
    | { then_job: string | null }
    | undefined;
  if (t) enqueueCallback(t.then_job);
  // finally: every job has run to an end (or was cancelled).
  const f = stmt(db, `UPDATE batches SET finally_dispatched = 1, finished_at = ? WHERE id = ? AND finally_dispatched = 0 AND pending = 0 RETURNING finally_job`).get(now, batchId) as
    | { finally_job: string | null }
    | undefined;
  if (f) enqueueCallback(f.finally_job);
  else stmt(db, `UPDATE batches SET finished_at = ? WHERE id = ? AND pending = 0 AND finished_at IS NULL`).run(now, batchId);
}

/** Cancel a batch's jobs that have not started; counts them out of pending. Caller holds the transaction. */
export function cancelBatchInTx(db: Db, batchId: string, now: number): number {
  const changed = stmt(db, `UPDATE batches SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL`).run(now, batchId).changes;
  if (changed === 0) return 0;
  const n = stmt(db, `UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE batch_id = ? AND state IN ('pending','delayed')`).run(now, batchId).changes;
  if (n > 0) {
    stmt(db, `UPDATE batches SET pending = MAX(0, pending - ?), cancelled = cancelled + ? WHERE id = ?`).run(n, n, batchId);
    dispatchBatchCallbacks(db, batchId, now);
  }
  return n;
}

/**
 * Add `fields` to a callback job's payload (a catch job's `failure`, a batch callback's
 * `batch`): beside an object's own fields, or beside `value` when the payload is not an object.
 */
export function mergePayload(base: unknown, fields: Record<string, unknown>): Record<string, unknown> {
  return base !== null && typeof base === 'object' && !Array.isArray(base) ? { ...base, ...fields } : { value: base ?? null, ...fields };
}

/** Parse a stored JSON column, or return the fallback for NULL. */
export function parseJson<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** Throw unless every name is a valid queue name. */
export function assertQueues(queues: readonly string[]): void {
  if (queues.length === 0) throw new ValidationError('at least one queue is needed');
  for (const q of queues) assertQueueName(q);
}
