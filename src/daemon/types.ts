/**
 * The daemon's vocabulary (see src/queue/types.ts for job, queue, attempt, lease, worker):
 *
 * - handler: the code that runs jobs of one name, registered in a registry.
 * - slot: room for one running job; a worker has `concurrency` slots (async, one process).
 * - engine: the claim loop of one worker (startWorker); the daemon is an engine plus a
 *   scheduler, alerts, an HTTP endpoint and signal handling.
 * - schedule: a named cron expression whose ticks run once across every daemon on the
 *   database (a guarded UPDATE decides which daemon runs a tick).
 */
import type { AnyStore, Db, JobSpec, LeasedWrite } from '../queue/index.js';

/** Log levels, most verbose first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** A structured logger: one line per event. Field values are JSON-serialisable. */
export interface Logger {
  /** True when lines of this level are written (so callers can skip building fields). */
  enabled(level: Exclude<LogLevel, 'silent'>): boolean;
  log(level: Exclude<LogLevel, 'silent'>, event: string, fields?: Record<string, unknown>): void;
  /** Write anything buffered (the logger batches lines written in one tick). */
  flush(): void;
}

/**
 * What a handler gets besides the payload. `W` is the engine's handler write (see the queue's
 * Completion): a LeasedWrite on SQLite (a function of the Db), a PgLeasedWrite on PostgreSQL
 * (src/queue/pg/jobs.ts: an async function of the transaction's client).
 */
export interface JobContext<W = LeasedWrite> {
  readonly id: number;
  readonly name: string;
  readonly queue: string;
  /** This attempt's number, starting at 1. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /**
   * Fires at the job's timeout (reason: a TimeoutError), when the lease is lost, or when a
   * shutdown's grace period ends. Handlers should pass it to fetch() and friends.
   */
  readonly signal: AbortSignal;
  /** Logs with the job's id, queue and name attached. */
  readonly log: (level: 'debug' | 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>) => void;
  /** Extend the lease to now + `ms` (default the worker's lease length); false when the lease was lost. */
  extendLease(ms?: number): boolean;
  /**
   * Hand back database writes to commit with this attempt's result: they run in the
   * transaction that completes the job, only if that completion is accepted (the lease still
   * holds). A failed or rejected attempt's writes never run. Use it for everything a handler
   * records as its result, so a suspended worker that comes back late changes nothing.
   */
  commit(write: W): void;
  /**
   * Run a write now, in its own transaction, only while this attempt holds its lease (a
   * progress stage); resolves false, with nothing written, once the lease was lost or the
   * attempt was given up (timeout, shutdown).
   */
  write(write: W): Promise<boolean>;
}

/**
 * The code that runs jobs of one name. `handle` may return a value or a promise; throwing a
 * PermanentError fails the job now, a DelayError puts it back until its `until` without
 * spending an attempt, anything else is retried with the job's backoff. `W`: the handler
 * write its ctx takes (JobContext), so a handler registers only on a worker of its engine.
 */
export interface Handler<P = unknown, W = LeasedWrite> {
  handle(payload: P, ctx: JobContext<W>): unknown;
  /** Runs once, after the job failed for good (tries used up, permanent error, deadline). */
  failed?(payload: P, error: Error): unknown;
  /** Default timeout of this job name in ms, when neither the job nor the config sets one. */
  timeoutMs?: number;
}

/** What a schedule does on its tick: enqueue a job, or run a function in the daemon. */
export type ScheduleTarget = JobSpec | ((env: ScheduleEnv) => unknown);

/** What a scheduled function gets. */
export interface ScheduleEnv {
  /** The SQLite database, when the daemon runs on one; undefined on PostgreSQL (use `store`). */
  db?: Db;
  /** The queue's store (either engine). */
  store: AnyStore;
  /** The tick's time (ms epoch). */
  at: number;
  logger: Logger;
  /** True when the worker in this process has no job running. */
  idle: () => boolean;
}

/** A named cron schedule. */
export interface Schedule {
  name: string;
  /** node-cron expression (5 fields, or 6 with seconds first). */
  cron: string;
  target: ScheduleTarget;
  description: string;
}
