/**
 * The store: the operations the daemon, its scheduler and its alerts ask of the queue,
 * shaped so that a second engine (PostgreSQL, whose driver is asynchronous) can implement
 * them. Every operation returns a promise; the SQLite store runs each one synchronously
 * inside (one transaction, as before) and resolves it, so the cost of the boundary is one
 * await per batch: claims and completions travel together in one `commit`.
 *
 * The store owns time. Operations that compare against "now" (claims, leases, heartbeats,
 * the alive threshold, schedules, availability) read the store's clock, never a caller's:
 * on SQLite that is the process clock; on PostgreSQL it would be the database's, so hosts
 * whose clocks differ agree. Tests inject a clock: `createSqliteStore(db, { clock })`.
 */
import { performance } from 'node:perf_hooks';
import { checkpoint, immediate, ping, schemaVersion, stmt, type CheckpointResult, type Db } from './db.js';
import { daemonControl, requestDaemonStop, setDaemonsPaused, type DaemonControl } from './control.js';
import { retryFailed, flushFailed, forgetFailed, listFailed, getFailed, type FailedFilter, type Retried } from './failed.js';
import { snapshotMetrics, trimJobs, type TrimOptions } from './metrics.js';
import { cancelJobs, clearQueue, countClearable, type Cancelled } from './cancel.js';
import { monitorTag, tagSummaries, unmonitorTag, type TagSummary } from './tags.js';
import {
  completeManyInTx, completeWithWritesInTx, completedUnder, delayInTx, enqueue, enqueueMany, extendLease, failInTx, nextDueAt, readyToClaim,
  releaseInTx, writeUnderLease, type EnqueueContext, type Enqueued, type ErrorInfo, type LeasedWrite,
} from './jobs.js';
import { onEnqueued } from './notify.js';
import { listHolds, type Hold } from './holds.js';
import { continueQueue, getJob, getSetting, listJobs, pauseQueue, pausedQueues, pendingByQueue, queueStats, setSetting, type JobFilter, type QueueStats } from './queues.js';
import { claimTick, oldestPendingByQueue, raiseAlert, raisedAlerts, resolveAlert } from './signals.js';
import { claimThrottledInTx, listThrottles, type ThrottledClaim, type Throttles, type ThrottleState } from './throttles.js';
import type { SeriesPoint } from './metrics.js';
import type { Batch, ClaimedJob, FailedJob, Job, JobSpec, Lease, Outcome, SupervisorState, Worker } from './types.js';
import { deregisterWorker, heartbeat, listWorkers, liveWorkers, recordSupervisors, recoverLeases, registerWorker, type RecoveryResult, type WorkerRegistration } from './workers.js';
import { batchDetail, cancelBatch, createBatch, getBatch, listBatches, pruneBatches, type BatchDetail, type BatchSpec } from './batches.js';
import { chartData, headerData, metricRows, overviewData, queueRows, type HeaderData, type MetricRow, type MetricsWindow, type OverviewData, type QueueRow } from './read-model.js';

/** Claim from `queues` in order, up to `limit` jobs, honouring the throttles (inside the commit). */
export type Take = (queues: readonly string[], limit: number) => ThrottledClaim;

/**
 * How a worker fills its free slots: a plan that calls `take` for each of its pools in turn
 * (supervisor.ts decides the queues and limits from what earlier takes returned). It runs
 * inside the commit and must not await; it reads no clock (the store's `now` is used).
 */
export interface ClaimPlan {
  /** Free slots: at most this many jobs. When fewer are claimed, the commit reports the next due time. */
  free: number;
  workerId: string;
  leaseMs: number;
  throttles?: Throttles;
  plan: (take: Take) => ClaimedJob[];
}

/**
 * A finished job to complete, with the handler's fenced writes (ctx.commit), if any. `W` is
 * the engine's write: a LeasedWrite on SQLite (synchronous, on the Db), a PgLeasedWrite on
 * PostgreSQL (pg/jobs.ts: async, on the transaction's client).
 */
export interface Completion<W = LeasedWrite> {
  readonly lease: Lease;
  readonly writes?: readonly W[];
}

/**
 * What becomes of a job that did not complete: `retry` spends the attempt and backs off
 * (or fails when none is left), `fail` fails for good, `delay` puts it back until `until`
 * without spending the attempt (bounded by `maxWaitMs` from its enqueue), `return` puts
 * it back now without spending the attempt (shutdown), `lost` records nothing.
 */
export type Settlement =
  | { kind: 'retry' | 'fail'; lease: Lease; error: ErrorInfo }
  | { kind: 'delay'; lease: Lease; until: number; reason: string; maxWaitMs?: number }
  | { kind: 'return'; lease: Lease; reason: string }
  | { kind: 'lost'; lease: Lease };

/** What one commit wrote: per completion true, false (the lease was lost), or the error its writes threw and the outcome applied then. */
export interface CommitResult {
  /** The store's time of the commit, ms epoch. */
  now: number;
  completions: (true | false | { error: Error; outcome: Outcome })[];
  settlements: Outcome[];
  /** Results handed back after their attempt was given up: true when still accepted (nobody else took the job). */
  late: boolean[];
  claimed: ClaimedJob[];
  /** When the claim found fewer jobs than free slots: the next delayed job's due time, if any. */
  nextDueAt?: number;
}

/** One batch for `commit`: finished jobs, settled ones, late ones, and the claim for the free slots. */
export interface CommitBatch<W = LeasedWrite> {
  completions?: readonly Completion<W>[];
  /**
   * What to do with a completed job instead when its writes throw (they are rolled back, the
   * lease is kept): runs inside the commit, so it must not await. Default retry.
   */
  onWriteError?: (completion: Completion<W>, error: Error) => Settlement;
  settlements?: readonly Settlement[];
  late?: readonly Completion<W>[];
  claim?: ClaimPlan;
}

/** The queue's operations as the daemon uses them; see the module comment. `W`: the engine's handler write (see Completion). */
export interface Store<W = LeasedWrite> {
  /** The store's clock, ms epoch. */
  now(): number;
  /** Call `listener` after jobs were enqueued through this store's connection (this process only). */
  onEnqueued(listener: () => void): () => void;

  // The worker's hot path.
  /** Commit a batch in one transaction: completions (fenced), settlements, late results, then the claim. */
  commit(batch: CommitBatch<W>): Promise<CommitResult>;
  /** True when a claim of these queues could find something now (a cheap read). */
  readyToClaim(queues: readonly string[]): Promise<boolean>;
  /** When the next delayed job becomes due, or undefined. */
  nextDueAt(): Promise<number | undefined>;
  /** Run `write` now, only while `lease` is held (ctx.write). */
  writeUnderLease(lease: Lease, write: W): Promise<boolean>;

  // Leases and workers.
  /** Extend each lease to now + leaseMs in one transaction; false for a lease that was lost. */
  extendLeases(leases: readonly Lease[], leaseMs: number): Promise<boolean[]>;
  registerWorker(w: WorkerRegistration): Promise<void>;
  /** Record a heartbeat; false when the registration is gone (pruned as stale). */
  heartbeat(id: string, busy: number, status: string, supervisors?: readonly SupervisorState[]): Promise<boolean>;
  recordSupervisors(id: string, supervisors: readonly SupervisorState[]): Promise<boolean>;
  deregisterWorker(id: string): Promise<void>;
  /** Prune workers silent for `staleMs` and recover their jobs and expired leases. */
  recoverLeases(staleMs: number): Promise<RecoveryResult>;
  /** Workers whose heartbeat is at most `aliveMs` old. */
  liveWorkers(aliveMs: number): Promise<Worker[]>;
  /** The daemons' control flags. */
  control(): Promise<DaemonControl>;
  pendingByQueue(queues: readonly string[]): Promise<Map<string, number>>;
  /** Read the database (throws when it cannot) and return its schema version: the health probe. */
  probe(): Promise<number>;
  /**
   * How many rows this connection has written so far (SQLite's total_changes), for a waker
   * that watches the database file: an event after our own write is most likely its echo.
   * Absent on an engine that wakes another way.
   */
  ownWrites?(): number;
  /** Checkpoint the write-ahead log (a no-op on an engine without one). */
  checkpoint(mode: 'PASSIVE' | 'TRUNCATE'): Promise<CheckpointResult>;

  // Enqueueing and reading.
  enqueue(spec: JobSpec, ctx?: Omit<EnqueueContext, 'now'>): Promise<Enqueued>;
  enqueueMany(specs: readonly JobSpec[], ctx?: Omit<EnqueueContext, 'now'>): Promise<Enqueued[]>;
  getJob(id: number): Promise<Job | undefined>;
  listJobs(filter: JobFilter): Promise<Job[]>;
  queueStats(options?: { since?: number; configured?: readonly string[]; completed?: boolean }): Promise<QueueStats[]>;
  /** The job names held back until a time (holds.ts), with how many jobs each holds. */
  holds(): Promise<Hold[]>;

  // The monitors' read model (read-model.ts), each view one consistent read on the store's clock.
  header(aliveMs?: number): Promise<HeaderData>;
  overview(options?: { configured?: readonly string[]; aliveMs?: number; silenced?: readonly string[] }): Promise<OverviewData>;
  queueRows(configured?: readonly string[]): Promise<QueueRow[]>;
  metricRows(window: MetricsWindow): Promise<MetricRow[]>;
  listBatches(limit?: number): Promise<Batch[]>;
  batchDetail(id: string, limit?: number): Promise<BatchDetail | undefined>;

  // Pause flags, failed jobs, batches.
  pausedQueues(): Promise<Set<string>>;
  pauseQueue(queue: string): Promise<void>;
  continueQueue(queue: string): Promise<void>;
  listFailed(filter?: Omit<FailedFilter, 'all'>): Promise<FailedJob[]>;
  retryFailed(filter: FailedFilter): Promise<Retried[]>;
  forgetFailed(filter: FailedFilter): Promise<number>;
  /** One failed job by uuid. */
  getFailed(uuid: string): Promise<FailedJob | undefined>;
  createBatch(spec: BatchSpec): Promise<{ id: string; jobs: Enqueued[] }>;
  getBatch(id: string): Promise<ReturnType<typeof getBatch>>;
  cancelBatch(id: string): Promise<number>;

  // Cancelling jobs that have not started (cancel.ts), monitored tags (tags.ts), throttles.
  /** Cancel these jobs where pending or delayed; chains' catch jobs run, batches count them. */
  cancelJobs(ids: readonly number[]): Promise<Cancelled>;
  /** How many jobs of a queue clearQueue would cancel now. */
  countClearable(queue: string): Promise<number>;
  /** Cancel every pending and delayed job of a queue (those that existed when it began). */
  clearQueue(queue: string): Promise<Cancelled>;
  /** Monitor a tag; true when it was not monitored yet. */
  monitorTag(tag: string): Promise<boolean>;
  /** Stop monitoring a tag; true when it was monitored. */
  unmonitorTag(tag: string): Promise<boolean>;
  /** Each monitored tag with its counts by state and its `limit` newest (and newest failed) jobs. */
  tagSummaries(limit: number): Promise<TagSummary[]>;
  /** The throttles the daemons counted, with their current window (listThrottles without rules). */
  throttles(): Promise<ThrottleState[]>;

  // The monitors' remaining views and actions.
  /** Every registered worker, alive or not (the Workers screen). */
  workers(): Promise<Worker[]>;
  /** The chart of one queue or job name over a window, on the store's clock (read-model.ts chartData). */
  chart(kind: 'queue' | 'job', key: string, window: MetricsWindow): Promise<SeriesPoint[]>;
  /** Pause (or continue) every daemon's claiming. */
  setDaemonsPaused(paused: boolean): Promise<void>;
  /** Ask every daemon running now to shut down gracefully. */
  requestDaemonStop(): Promise<void>;

  // The scheduler's and the alerts' coordination between daemons.
  /** Take tick `at` of schedule `name`; true for exactly one caller. */
  claimTick(name: string, at: number): Promise<boolean>;
  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string): Promise<void>;
  /** The availability time of the oldest ready job per queue. */
  oldestPendingByQueue(): Promise<Map<string, number>>;
  raisedAlerts(kind: string): Promise<string[]>;
  raiseAlert(kind: string, queue: string): Promise<boolean>;
  resolveAlert(kind: string, queue: string): Promise<boolean>;

  // Housekeeping (the daemon's schedules), on the store's clock (`at`: a tick's time, used by the SQLite store; PostgreSQL uses the server's).
  /** Trim finished jobs and old snapshots (metrics.ts trimJobs); rows deleted. */
  trimJobs(options: TrimOptions, at?: number): Promise<number>;
  /** Delete batches finished more than `hours` ago; how many. */
  pruneBatches(hours: number, at?: number): Promise<number>;
  /** Delete failed-list entries older than `hours`; how many. */
  flushFailed(hours: number, at?: number): Promise<number>;
  /** Write one metrics snapshot since the previous one (metrics.ts snapshotMetrics); rows written. */
  snapshotMetrics(at?: number): Promise<number>;
}

/**
 * A store of either engine, for code that never hands it a handler write: every operation
 * but the two whose argument is the engine's write (commit, writeUnderLease). A Store<W> of
 * any W is one; the monitors, the commands, the scheduler and the alerts take this.
 */
export type AnyStore = Omit<Store<never>, 'commit' | 'writeUnderLease'>;

/** Options of createSqliteStore. */
export interface SqliteStoreOptions {
  /** The store's clock, ms epoch. Default Date.now. */
  clock?: () => number;
}

/** Put a job's settlement into effect inside the open transaction. */
function settleInTx(db: Db, s: Settlement, now: number): Outcome {
  switch (s.kind) {
    case 'fail':
      return failInTx(db, s.lease, s.error, now);
    case 'retry':
      return releaseInTx(db, s.lease, s.error, now);
    case 'delay':
      return delayInTx(db, s.lease, s.until, s.reason, now, { maxWaitMs: s.maxWaitMs });
    case 'return':
      return delayInTx(db, s.lease, now, s.reason, now);
    case 'lost':
      return { kind: 'lost' };
  }
}

/** Complete the finished jobs inside the open transaction: one statement for those without writes, a savepoint each for the rest. */
function completeInTx(db: Db, completions: readonly Completion[], now: number, onWriteError: CommitBatch['onWriteError']): CommitResult['completions'] {
  const out: CommitResult['completions'] = new Array(completions.length);
  let plain: Lease[] | undefined;
  let plainIdx: number[] | undefined;
  for (let i = 0; i < completions.length; i++) {
    const c = completions[i]!;
    if (c.writes === undefined) {
      (plain ??= []).push(c.lease);
      (plainIdx ??= []).push(i);
      continue;
    }
    const r = completeWithWritesInTx(db, c.lease, c.writes, now);
    if (typeof r === 'boolean') out[i] = r;
    else {
      const settle = onWriteError?.(c, r) ?? { kind: 'retry', lease: c.lease, error: { message: r.message, stack: r.stack } };
      out[i] = { error: r, outcome: settleInTx(db, settle, now) };
    }
  }
  if (plain) {
    // One statement for the whole batch; in the rare case a lease was lost, find which.
    if (completeManyInTx(db, plain, now) === plain.length) for (const i of plainIdx!) out[i] = true;
    else for (let k = 0; k < plain.length; k++) out[plainIdx![k]!] = completedUnder(db, plain[k]!, now);
  }
  return out;
}

/**
 * Run a claim-only commit with synchronous=NORMAL on a connection opened with durability
 * `full`: the commit skips its fsync (~0.3 ms, the most of a job's start-up latency in
 * durable mode). Nothing is lost by it: what a claim writes (a lease, an attempt, a
 * promoted delayed job, a throttle count) only matters while the machine is up; after a
 * power loss the job is simply pending again, its claimer gone with the machine. Every
 * later durable commit syncs the WAL up to and including these frames, and results,
 * failures and enqueues keep synchronous=FULL.
 */
function relaxedSync<T>(db: Db, fn: () => T): T {
  stmt(db, 'PRAGMA synchronous = NORMAL').run();
  try {
    return fn();
  } finally {
    stmt(db, 'PRAGMA synchronous = FULL').run();
  }
}

/** How long a commit that found the write lock taken keeps napping and retrying before it waits in SQLite's busy handler. */
const BUSY_SPIN_MS = 5;
/** One nap between those tries, ms (Atomics.wait takes fractions). */
const BUSY_NAP_MS = 0.05;
const NAP = new Int32Array(new SharedArrayBuffer(4));

const NONE: readonly never[] = [];
const NONE_CLAIMED: ClaimedJob[] = [];

/**
 * Make the SQLite store over `db`: each operation runs synchronously in its own
 * transaction (or the commit's) and resolves its promise.
 */
export function createSqliteStore(db: Db, options: SqliteStoreOptions = {}): Store {
  const clock = options.clock ?? Date.now;
  const durable = !db.memory && (db.pragma('synchronous', { simple: true }) as number) >= 2;
  const queuesJson = new WeakMap<readonly string[], string>();
  const json = (queues: readonly string[]) => {
    let s = queuesJson.get(queues);
    if (s === undefined) queuesJson.set(queues, (s = JSON.stringify(queues)));
    return s;
  };
  // One deferred read transaction per view (a consistent snapshot), or the caller's open one.
  const view = <T>(fn: () => T): T => (db.inTransaction ? fn() : db.transaction(fn)());
  // Commits first try without SQLite's busy handler, which sleeps 1 ms, then 2, 5… on a
  // collision: another process's commit holds the write lock for microseconds, or for its
  // fsync (~0.3 ms) in durable mode, and a claim that slept 1 ms was most of a job's
  // start-up latency. A busy BEGIN naps BUSY_NAP_MS and tries again, for up to
  // BUSY_SPIN_MS, and only then waits through the connection's busy timeout. Napping (not
  // spinning on the event loop) leaves the CPU to the process that holds the lock.
  const busyMs = db.memory ? 0 : (db.pragma('busy_timeout', { simple: true }) as number);
  let began = false;
  const commitSync = (batch: CommitBatch): CommitResult => {
    const now = clock();
    const completions = batch.completions ?? NONE;
    const settlements = batch.settlements ?? NONE;
    const late = batch.late ?? NONE;
    const claim = batch.claim;
    // A claim alone need not be durable (see relaxedSync): it commits without the fsync.
    if (durable && claim && completions.length === 0 && settlements.length === 0 && late.length === 0) return relaxedSync(db, () => run(now, completions, settlements, late, claim, batch));
    return run(now, completions, settlements, late, claim, batch);
  };
  const run = (now: number, completions: readonly Completion[], settlements: readonly Settlement[], late: readonly Completion[], claim: ClaimPlan | undefined, batch: CommitBatch): CommitResult => {
    return immediate(db, () => {
      began = true;
      const done = completions.length > 0 ? completeInTx(db, completions, now, batch.onWriteError) : [];
      const settled = settlements.length > 0 ? settlements.map((s) => settleInTx(db, s, now)) : [];
      const lateOk = late.length > 0 ? late.map((c) => completeWithWritesInTx(db, c.lease, c.writes ?? [], now) === true) : [];
      if (!claim) return { now, completions: done, settlements: settled, late: lateOk, claimed: NONE_CLAIMED };
      const base = { workerId: claim.workerId, leaseMs: claim.leaseMs, now };
      // Always through claimThrottledInTx: besides throttles it honours job holds (holds.ts),
      // and without either it is one read of the (tiny) holds table plus the plain claim.
      const claimed = claim.plan((queues, limit) => claimThrottledInTx(db, { ...base, queues, limit, throttles: claim.throttles }));
      const result: CommitResult = { now, completions: done, settlements: settled, late: lateOk, claimed };
      if (claimed.length < claim.free) result.nextDueAt = nextDueAt(db);
      return result;
    });
  };
  return {
    now: clock,
    onEnqueued: (listener) => onEnqueued(db, listener),
    commit: async (batch) => {
      if (busyMs === 0 || db.inTransaction) return commitSync(batch);
      const until = performance.now() + BUSY_SPIN_MS;
      for (;;) {
        began = false;
        stmt(db, 'PRAGMA busy_timeout = 0').get();
        try {
          return commitSync(batch);
        } catch (err) {
          if (began || (err as { code?: unknown }).code !== 'SQLITE_BUSY') throw err;
        } finally {
          stmt(db, `PRAGMA busy_timeout = ${busyMs}`).get();
        }
        if (performance.now() >= until) return commitSync(batch);
        Atomics.wait(NAP, 0, 0, BUSY_NAP_MS);
      }
    },
    readyToClaim: async (queues) => readyToClaim(db, json(queues), clock()),
    nextDueAt: async () => nextDueAt(db),
    writeUnderLease: async (lease, write) => writeUnderLease(db, lease, write),
    extendLeases: async (leases, leaseMs) => {
      const now = clock();
      return immediate(db, () => leases.map((l) => extendLease(db, l, leaseMs, now)));
    },
    registerWorker: async (w) => registerWorker(db, w, clock()),
    heartbeat: async (id, busy, status, supervisors) => heartbeat(db, id, busy, status, clock(), supervisors),
    recordSupervisors: async (id, supervisors) => recordSupervisors(db, id, supervisors),
    deregisterWorker: async (id) => deregisterWorker(db, id),
    recoverLeases: async (staleMs) => recoverLeases(db, staleMs, clock()),
    liveWorkers: async (aliveMs) => liveWorkers(db, aliveMs, clock()),
    control: async () => daemonControl(db),
    pendingByQueue: async (queues) => pendingByQueue(db, queues),
    probe: async () => {
      ping(db);
      return schemaVersion(db);
    },
    ownWrites: () => stmt(db, 'SELECT total_changes()').pluck(true).get() as number,
    checkpoint: async (mode) => checkpoint(db, mode),
    enqueue: async (spec, ctx = {}) => enqueue(db, spec, { ...ctx, now: clock() }),
    enqueueMany: async (specs, ctx = {}) => enqueueMany(db, specs, { ...ctx, now: clock() }),
    getJob: async (id) => getJob(db, id),
    header: async (aliveMs) => view(() => headerData(db, clock(), aliveMs)),
    overview: async (o) => view(() => overviewData(db, clock(), o)),
    queueRows: async (configured) => view(() => queueRows(db, clock(), configured)),
    metricRows: async (window) => view(() => metricRows(db, window, clock())),
    listBatches: async (limit) => listBatches(db, limit),
    batchDetail: async (id, limit) => view(() => batchDetail(db, id, limit)),
    listJobs: async (filter) => listJobs(db, filter),
    queueStats: async (o = {}) => queueStats(db, { ...o, now: clock() }),
    holds: async () => listHolds(db, clock()),
    pausedQueues: async () => pausedQueues(db),
    pauseQueue: async (queue) => pauseQueue(db, queue, clock()),
    continueQueue: async (queue) => continueQueue(db, queue),
    listFailed: async (filter) => listFailed(db, filter),
    retryFailed: async (filter) => retryFailed(db, filter, clock()),
    forgetFailed: async (filter) => forgetFailed(db, filter),
    getFailed: async (uuid) => getFailed(db, uuid),
    createBatch: async (spec) => createBatch(db, spec, clock()),
    getBatch: async (id) => getBatch(db, id),
    cancelBatch: async (id) => cancelBatch(db, id, clock()),
    cancelJobs: async (ids) => cancelJobs(db, ids, clock()),
    countClearable: async (queue) => countClearable(db, queue),
    clearQueue: async (queue) => clearQueue(db, queue, clock()),
    monitorTag: async (tag) => monitorTag(db, tag, clock()),
    unmonitorTag: async (tag) => unmonitorTag(db, tag),
    tagSummaries: async (limit) => view(() => tagSummaries(db, limit)),
    throttles: async () => view(() => listThrottles(db, clock())),
    workers: async () => listWorkers(db),
    chart: async (kind, key, window) => view(() => chartData(db, kind, key, window, clock())),
    setDaemonsPaused: async (paused) => setDaemonsPaused(db, paused),
    requestDaemonStop: async () => requestDaemonStop(db, clock()),
    claimTick: async (name, at) => claimTick(db, name, at),
    getSetting: async (key) => getSetting(db, key),
    setSetting: async (key, value) => setSetting(db, key, value),
    oldestPendingByQueue: async () => oldestPendingByQueue(db),
    raisedAlerts: async (kind) => raisedAlerts(db, kind),
    raiseAlert: async (kind, queue) => raiseAlert(db, kind, queue),
    resolveAlert: async (kind, queue) => resolveAlert(db, kind, queue),
    trimJobs: async (o, at) => trimJobs(db, o, at ?? clock()),
    pruneBatches: async (hours, at) => pruneBatches(db, hours, at ?? clock()),
    flushFailed: async (hours, at) => flushFailed(db, hours, at ?? clock()),
    snapshotMetrics: async (at) => snapshotMetrics(db, undefined, at ?? clock()),
  };
}
