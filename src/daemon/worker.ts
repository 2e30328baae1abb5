import os from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  DEFAULT_QUEUES, TimeoutError, assertQueues, createSqliteStore, extendLease, newWorkerId,
  type ClaimPlan, type ClaimedJob, type Db, type Store, type WorkerRegistration,
} from '../queue/index.js';
import { CONCURRENCY, HEARTBEAT_MS, JOB_TIMEOUT_MS, LEASE_MS, POLL_MS, STALE_MS } from '../queue/defaults.js';
import { classifyError, type Disposition } from './classify.js';
import { CommitBuffer, type EndKind } from './commits.js';
import { LeaseKeeper } from './leases.js';
import { silentLogger } from './logger.js';
import type { Registry } from './registry.js';
import { Ctx, Hooks, Running, WorkerEmitter, eventJob } from './run.js';
import { WorkerStats, type JobCounters } from './stats.js';
import { Slots } from './slots.js';
import { legacySupervisor } from './supervisor.js';
import type { Handler, Logger } from './types.js';
import { IdleCheckpoint } from './checkpoint.js';
import { Waker } from './waker.js';
import type { WorkerHandle, WorkerOptions } from './worker-options.js';

export type { WorkerHandle, WorkerOptions } from './worker-options.js';

/**
 * Start a worker on `db`: register it, then claim and run jobs with `registry`'s handlers
 * until stopped. Claims are batched (up to the free slots), and the completions of jobs that
 * finished since the last turn are committed in the same transaction as the next claim
 * (group commit). Waits without polling: an enqueue through `db` starts at once, another
 * process's commit is seen through the -wal file, and a slow safety poll backs both up.
 * The `analyze` command uses it to process its own jobs when no daemon is alive. Without
 * `db` (PostgreSQL), `options.store` is the queue: no -wal watch, no idle checkpoint, and
 * ctx.extendLease extends through the store in the background. The registry's handlers take
 * the store's handler write (a registry of SQLite handlers on a PostgreSQL store does not
 * compile).
 */
export function startWorker<W>(db: undefined, registry: Registry<W>, options: WorkerOptions<W> & { store: Store<W> }): WorkerHandle;
export function startWorker(db: Db, registry: Registry, options?: WorkerOptions): WorkerHandle;
export function startWorker<W>(...[db, registry, options]: [Db, Registry, WorkerOptions?] | [undefined, Registry<W>, WorkerOptions<W> & { store: Store<W> }]): WorkerHandle {
  if (db !== undefined) return startWorkerOn(db, registry, options ?? {}, options?.store ?? createSqliteStore(db));
  if (!options?.store) throw new Error('startWorker needs a SQLite database or options.store');
  return startWorkerOn(undefined, registry, options, options.store);
}

/** Like startWorker, with the store resolved: `db` is the SQLite database under `store`, or undefined on PostgreSQL. */
export function startWorkerOn<W>(db: Db | undefined, registry: Registry<W>, options: WorkerOptions<W>, store: Store<W>): WorkerHandle {
  const engine = new Engine(db, registry, options, store);
  engine.start();
  return engine.handle;
}

/**
 * One run at a time: `run` while one is in flight asks for another pump once it ends (on
 * the next turn of the event loop); `done` follows every run.
 */
class Lane {
  busy = false;
  private again = false;

  constructor(private readonly logger: Logger, private readonly soon: () => void, private readonly done: () => void) {}

  run(work: () => Promise<void>): void {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    void work().catch((err: unknown) => this.logger.log('error', 'worker.error', { error: err as Error })).then(() => {
      this.busy = false;
      if (this.again) {
        this.again = false;
        this.soon();
      }
      this.done();
    });
  }
}

/**
 * The slot loop. Its parts: the lease keeper (leases.ts: heartbeat, lease extension,
 * recovery), the waker (waker.ts: when to claim), the commit buffer (commits.ts: one record
 * per finished job), the supervisors' pools (supervisor.ts: which queues get the slots).
 * `W`: the handler write of the store's engine.
 */
class Engine<W> {
  readonly id: string;
  readonly logger: Logger;
  readonly leaseMs: number;
  readonly stats = new WorkerStats();
  readonly events = new WorkerEmitter();
  readonly hooks: Hooks;
  readonly store: Store<W>;
  readonly handle: WorkerHandle;
  readonly logJobs: boolean;
  readonly queues: readonly string[];
  readonly maxRateLimitWaitMs: number | undefined;
  private readonly slots: Slots;
  private readonly defaultTimeoutMs: number;
  private readonly graceMs: number;
  private readonly keeper: LeaseKeeper<W>;
  private readonly waker: Waker;
  private readonly buffer: CommitBuffer<W>;
  private readonly claimPlan: ClaimPlan;
  private readonly checkpoint: IdleCheckpoint;

  private state: 'running' | 'stopping' | 'stopped' = 'running';
  private reason: string | undefined;
  private readonly startedAt = Date.now();
  /** The turns of commit + claim (SQLite: one writer, so a commit carries both: group commit). */
  private readonly turnLane: Lane;
  /**
   * Claims apart from results (PostgreSQL, a store without a Db): a claim goes in its own
   * transaction, on its own connection, beside the commit of finished jobs, and never waits
   * for that commit's WAL flush (a job enqueued while the previous one's result commits
   * starts at once). Each lane runs one transaction at a time.
   */
  private readonly apart: boolean;
  private readonly claimLane: Lane;
  private readonly resultLane: Lane;
  /** Claims apart: finished jobs in the results commit in flight. */
  private committing = 0;
  /** Claims apart: a claim was left out for slots whose results were not committed yet (claim once they are). */
  private starved = false;
  private lastClaimEmpty = false;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private resolveDone!: () => void;

  constructor(private readonly db: Db | undefined, readonly registry: Registry<W>, private readonly options: WorkerOptions<W>, store: Store<W>) {
    const specs = options.supervisors ?? [legacySupervisor(options.queues ?? DEFAULT_QUEUES, options.concurrency ?? CONCURRENCY, options.balance)];
    for (const spec of specs) assertQueues(spec.queues);
    this.slots = new Slots(specs, options.maxJobs);
    this.queues = this.slots.queues;
    this.leaseMs = options.leaseMs ?? LEASE_MS;
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? JOB_TIMEOUT_MS;
    this.graceMs = options.graceMs ?? this.defaultTimeoutMs;
    this.maxRateLimitWaitMs = options.maxRateLimitWaitMs;
    this.id = options.workerId ?? newWorkerId();
    this.logger = options.logger ?? silentLogger;
    this.logJobs = this.logger.enabled('info');
    this.hooks = new Hooks(this.logger);
    this.store = store;
    this.apart = db === undefined;
    const soon = () => this.waker.soon();
    const lanesIdle = () => {
      if (!this.claimLane.busy && !this.resultLane.busy) this.checkEnd();
    };
    this.turnLane = new Lane(this.logger, soon, () => this.checkEnd());
    this.claimLane = new Lane(this.logger, soon, lanesIdle);
    this.resultLane = new Lane(this.logger, soon, lanesIdle);
    this.keeper = new LeaseKeeper(this, { leaseMs: this.leaseMs, heartbeatMs: options.heartbeatMs ?? HEARTBEAT_MS, staleMs: options.staleMs ?? STALE_MS });
    const watch = (options.watch ?? true) && db && db.name && db.name !== ':memory:' && !db.memory;
    this.waker = new Waker(this, { pollMs: options.pollMs ?? POLL_MS, watchFile: watch ? db.name : undefined });
    this.buffer = new CommitBuffer(this);
    const checkpoints = options.checkpointEvery ?? 200;
    this.checkpoint = new IdleCheckpoint(this.store, this.logger, !db || db.memory ? 0 : checkpoints, () => this.state === 'running' && this.slots.running === 0);
    this.claimPlan = { free: 0, workerId: this.id, leaseMs: this.leaseMs, throttles: options.throttles, plan: (take) => this.slots.claim(take, this.claimPlan.free, (at) => this.waker.dueAt(at)) };
    const done = new Promise<void>((resolve) => (this.resolveDone = resolve));
    this.handle = {
      id: this.id, stats: this.stats, done, busy: () => this.slots.running, supervisors: () => this.slots.states(), stopReason: () => this.reason,
      status: () => (this.state === 'running' ? (this.slots.allPaused() ? 'paused' : 'running') : this.state),
      stop: (o) => this.stop(o?.graceMs ?? this.graceMs, o?.reason ?? 'stop'),
      wake: () => this.running() && this.pump(false),
      on: (event, listener) => this.events.on(event, listener),
    };
  }

  start(): void {
    // The SQLite store's operations run synchronously when called: the worker is registered on return.
    this.starting = this.keeper.start().catch((err: unknown) => this.logger.log('error', 'worker.database_error', { error: err as Error })).then(() => this.tick()).then(() => {
      if (this.state !== 'running') return;
      this.waker.start();
      this.pump(false);
    });
  }

  /** True while the worker claims (running, not stopping). */
  running(): boolean {
    return this.state === 'running';
  }

  /** True while the worker is running and has a free slot. */
  hasRoom(): boolean {
    return this.state === 'running' && this.slots.free() > 0;
  }

  /** Jobs running and the status, for the heartbeat. */
  beatState(): { busy: number; status: string } {
    return { busy: this.slots.running, status: this.state === 'stopping' ? 'stopping' : this.slots.allPaused() ? 'paused' : 'running' };
  }

  /** A claim put a job back for later (or a throttle's window ends): claim again then. */
  dueAt(at: number): void {
    this.waker.dueAt(at);
  }

  /**
   * Extend a lease for ctx.extendLease, which returns a boolean and so cannot wait for the
   * store: on SQLite synchronously; without a Db (PostgreSQL) it answers from what the
   * worker knows (the attempt still runs here and its lease had not expired) and extends
   * through the store in the background; a lease found lost there is given up as the
   * heartbeat's extension would.
   */
  extendLeaseNow(job: ClaimedJob, ms: number, run?: Running<W>): boolean {
    if (this.db) return extendLease(this.db, job, ms, this.store.now());
    // Given up (timeout, lost lease, shutdown): no extension. Before its run exists, the
    // handler is still in its first synchronous turn, right after the claim.
    if (run && (run.abandoned || !this.keeper.runs.has(run))) return false;
    this.store.extendLeases([job], ms).then(([ok]) => {
      if (!ok && run && this.keeper.runs.has(run)) this.lost([run]);
    }, (err: unknown) => this.logger.log('error', 'worker.database_error', { error: err as Error }));
    return run === undefined || run.leaseExpiresAt > this.store.now();
  }

  registration(): WorkerRegistration {
    return {
      id: this.id, pid: process.pid, hostname: this.options.hostname ?? os.hostname(), version: this.options.version ?? '0.0.0', queues: this.queues, concurrency: this.slots.concurrency,
      supervisors: this.slots.states(),
    };
  }

  /**
   * One or more turns of: commit what finished + claim for the free slots (one store
   * transaction), then start the claimed jobs. Jobs whose handler returns synchronously
   * finish inside the turn and are committed with the next claim. Yields to the event loop
   * every few turns. `check`: a hint from a WAL event or the safety poll; do a cheap read
   * first and only take the write lock when something looks ready.
   */
  pump(check: boolean): void {
    // After stop, late results are dropped: the database would refuse them anyway.
    if (this.state === 'stopped') return;
    if (this.apart) {
      this.pumpResults();
      this.pumpClaims(check);
      return;
    }
    this.turnLane.run(() => this.turns(check));
  }

  private async turns(check: boolean): Promise<void> {
    for (let turn = 0; ; turn++) {
      let free = this.running() ? this.slots.free() : 0;
      if (free === 0 && this.buffer.size === 0) return;
      let turnResult;
      try {
        if (check && turn === 0 && this.buffer.size === 0) {
          if (!(await this.store.readyToClaim(this.queues))) {
            // The event may have come a hair before the commit was visible: look once more soon.
            this.lastClaimEmpty = true;
            this.waker.nothingVisible();
            return;
          }
          free = this.running() ? this.slots.free() : 0;
          if (free === 0) return;
        }
        this.claimPlan.free = free;
        turnResult = await this.buffer.flush(free > 0 ? this.claimPlan : undefined);
      } catch (err) {
        this.logger.log('error', 'worker.database_error', { error: err as Error });
        this.waker.retryLater();
        return;
      }
      const { claimed, now, changes, nextDueAt } = turnResult;
      if (changes > 0) this.wrote(changes);
      for (let i = 0; i < claimed.length; i++) this.startJob(claimed[i]!, now);
      if (free > 0) this.lastClaimEmpty = claimed.length === 0;
      if (nextDueAt !== undefined) this.waker.dueAt(Math.max(nextDueAt, now));
      if (claimed.length === 0 && this.buffer.size === 0) {
        if (this.slots.running === 0) this.checkpoint.idleNow();
        return;
      }
      if (turn >= 15) {
        this.waker.soon();
        return;
      }
    }
  }

  /** Claims apart: commit what finished, one commit at a time, until nothing waits. */
  private pumpResults(): void {
    if (this.buffer.size > 0) this.resultLane.run(() => this.resultTurns());
  }

  private async resultTurns(): Promise<void> {
    for (let turn = 0; this.buffer.size > 0; turn++) {
      let r;
      this.committing = this.buffer.size;
      try {
        r = await this.buffer.flush(undefined);
      } catch (err) {
        this.logger.log('error', 'worker.database_error', { error: err as Error });
        this.waker.retryLater();
        return;
      } finally {
        this.committing = 0;
      }
      if (r.changes > 0) this.wrote(r.changes);
      // Their slots are claimable again: claim if a claim went without them.
      if (this.starved) {
        this.starved = false;
        this.pumpClaims(false);
      }
      if (turn >= 15) {
        this.waker.soon();
        return;
      }
    }
  }

  /**
   * Claims apart: the slots a claim may fill. A finished job keeps its slot until its result
   * is committed: so a worker never holds more leases than slots, however far its results
   * commits fall behind (its jobs would all be run again if it died).
   */
  private claimable(): number {
    if (!this.running()) return 0;
    const free = this.slots.free();
    const n = Math.max(0, free - this.buffer.size - this.committing);
    if (n < free) this.starved = true;
    return n;
  }

  /** Claims apart: claim for the free slots, one claim at a time, while claims find jobs. `check`: as pump's. */
  private pumpClaims(check: boolean): void {
    if (this.claimable() > 0) this.claimLane.run(() => this.claimTurns(check));
  }

  private async claimTurns(check: boolean): Promise<void> {
    for (let turn = 0; ; turn++) {
      let free = this.claimable();
      if (free === 0) return;
      let r;
      try {
        if (check && turn === 0) {
          if (!(await this.store.readyToClaim(this.queues))) {
            this.lastClaimEmpty = true;
            this.waker.nothingVisible();
            return;
          }
          free = this.claimable();
          if (free === 0) return;
        }
        this.claimPlan.free = free;
        r = await this.store.commit({ claim: this.claimPlan });
      } catch (err) {
        this.logger.log('error', 'worker.database_error', { error: err as Error });
        this.waker.retryLater();
        return;
      }
      const { claimed, now, nextDueAt } = r;
      if (claimed.length > 0) this.wrote(claimed.length);
      for (let i = 0; i < claimed.length; i++) this.startJob(claimed[i]!, now);
      this.lastClaimEmpty = claimed.length === 0;
      if (nextDueAt !== undefined) this.waker.dueAt(Math.max(nextDueAt, now));
      // Jobs whose handler returned at once are done: commit them beside the next claim.
      this.pumpResults();
      if (claimed.length === 0 && this.slots.running === 0 && this.buffer.size === 0) this.checkpoint.idleNow();
      // Fewer than asked: nothing more was ready. A job enqueued since wakes the worker again
      // (the lane runs again), so an empty claim to make sure would only hold the lane.
      if (claimed.length < free) return;
      if (turn >= 15) {
        this.waker.soon();
        return;
      }
    }
  }

  /** Count row changes (for the idle checkpoint). */
  wrote(changes: number): void {
    this.checkpoint.wrote(changes);
  }

  private startJob(job: ClaimedJob, now: number): void {
    const pool = this.slots.take(job);
    const c = this.stats.counters(job.queue, job.name);
    if (this.logJobs) this.logger.log('info', 'job.claimed', { job: job.id, queue: job.queue, name: job.name, attempt: job.attempts, waitMs: now - job.availableAt });
    if (this.events.wants('claimed')) this.events.emit('claimed', { job: eventJob(job), waitMs: now - job.availableAt });
    const handler = this.registry.get(job.name);
    if (!handler) {
      const error = new Error(`no handler is registered for job name ${JSON.stringify(job.name)} (known: ${this.registry.names().join(', ') || 'none'})`);
      this.ended(job, c, 0, undefined, undefined, { kind: 'fail', error });
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(job.payload);
    } catch (err) {
      this.ended(job, c, 0, undefined, handler, { kind: 'fail', error: new Error(`invalid payload: ${(err as Error).message}`) });
      return;
    }
    const ctx = new Ctx(this, job);
    const t0 = performance.now();
    let result: unknown;
    try {
      result = handler.handle(payload, ctx);
    } catch (err) {
      this.ended(job, c, performance.now() - t0, payload, handler, classifyError(err));
      return;
    }
    if (result === null || typeof result !== 'object' || typeof (result as PromiseLike<unknown>).then !== 'function') {
      // Synchronous handler: done now; committed with the next claim.
      this.ended(job, c, performance.now() - t0, payload, handler, undefined, ctx.writes);
      return;
    }
    const timeoutMs = job.timeoutMs ?? this.options.timeoutFor?.(job.name) ?? handler.timeoutMs ?? pool?.timeoutMs ?? this.defaultTimeoutMs;
    const run = new Running(job, ctx, payload, handler, c, t0, timeoutMs, now + this.leaseMs);
    ctx.run = run;
    this.keeper.runs.add(run);
    run.timer = setTimeout(onTimeout, timeoutMs, this, run);
    (result as PromiseLike<unknown>).then(
      () => this.settle(run, undefined, false),
      (err: unknown) => this.settle(run, err, true),
    );
  }

  /** An attempt ended in its slot: count its runtime, give the slot back, buffer its commit (done when `d` is undefined). */
  private ended(job: ClaimedJob, c: JobCounters, ms: number, payload: unknown, handler: Handler<unknown, W> | undefined, d: Disposition | undefined, writes?: W[]): void {
    this.stats.runtime(c, ms);
    this.slots.release(job);
    if (d === undefined) this.buffer.add({ kind: 'done', job, lease: job, c, ms, payload, handler, writes });
    else this.buffer.add({ kind: d.kind, job, lease: job, c, ms, payload, handler, error: d.error, until: d.kind === 'delay' ? d.until : undefined });
  }

  private settle(run: Running<W>, err: unknown, failed: boolean): void {
    if (run.abandoned) {
      // The slot was given back already; a late success is sent with its old token and the
      // database rejects it (fencing); a late error is only logged.
      if (!failed) this.buffer.add({ kind: 'late', job: run.job, lease: run.job, c: run.c, ms: performance.now() - run.t0, payload: run.payload, handler: run.handler, writes: run.ctx.writes });
      else this.logger.log('warn', 'job.late_error', { job: run.job.id, queue: run.job.queue, name: run.job.name, attempt: run.job.attempts, error: err as Error });
      this.waker.soon();
      return;
    }
    clearTimeout(run.timer);
    this.keeper.runs.delete(run);
    const ms = performance.now() - run.t0;
    this.ended(run.job, run.c, ms, run.payload, run.handler, failed ? classifyError(err) : undefined, run.ctx.writes);
    this.waker.soon();
  }

  /**
   * Give up a running attempt: free its slot, fire its signal, and buffer what becomes of
   * the job (`retry` after a timeout, `lost` when its lease was lost, `return` at
   * shutdown). Its late result is fenced out by the lease token. The one copy of this.
   */
  private abandon(run: Running<W>, kind: Extract<EndKind, 'retry' | 'lost' | 'return'>, error: Error): void {
    run.abandoned = true;
    clearTimeout(run.timer);
    this.keeper.runs.delete(run);
    run.ctx.abort(error);
    const ms = kind === 'lost' ? 0 : performance.now() - run.t0;
    if (kind === 'retry') this.stats.runtime(run.c, ms);
    this.slots.release(run.job);
    this.buffer.add({ kind, job: run.job, lease: run.job, c: run.c, ms, payload: run.payload, handler: run.handler, error });
  }

  /** The job ran past its timeout: free the slot, fire its signal, retry it (its late result is fenced). */
  timeout(run: Running<W>): void {
    if (run.abandoned || !this.keeper.runs.has(run)) return;
    const job = run.job;
    run.c.timedOut++;
    this.logger.log('warn', 'job.timed_out', { job: job.id, queue: job.queue, name: job.name, attempt: job.attempts, timeoutMs: run.timeoutMs });
    this.events.emit('timed-out', { job: eventJob(job), timeoutMs: run.timeoutMs });
    this.abandon(run, 'retry', new TimeoutError(`job ${job.id} (${job.name}) timed out after ${run.timeoutMs} ms`));
    this.waker.soon();
  }

  /** The lease keeper found these runs' leases lost (another worker recovered their jobs). */
  lost(runs: readonly Running<W>[]): void {
    for (const run of runs) {
      const job = run.job;
      this.logger.log('warn', 'job.lease_lost', { job: job.id, queue: job.queue, name: job.name, attempt: job.attempts });
      this.abandon(run, 'lost', new Error(`job ${job.id} lost its lease (it was recovered by another worker)`));
    }
    this.waker.soon();
  }

  // -------------------------------------------------------------------------------------
  // Control flags and balancing (on the safety poll)
  // -------------------------------------------------------------------------------------

  /** Read the control flags and rebalance; act on a pause, moved slots, or a stop request. */
  async tick(): Promise<void> {
    let r;
    try {
      r = await this.slots.poll(this.store, this.id, this.options.control ?? false, (q) => this.stats.avgRuntime(q), this.logger);
    } catch (err) {
      this.logger.log('error', 'worker.database_error', { error: err as Error });
      return;
    }
    if (r.paused) void this.keeper.beat();
    if (r.paused || r.moved) this.pump(false);
    if (r.stopRequestedAt !== null && r.stopRequestedAt >= this.startedAt && this.state === 'running') {
      this.logger.log('info', 'worker.stop_requested', { requestedAt: new Date(r.stopRequestedAt).toISOString() });
      if (this.options.onStopRequested) this.options.onStopRequested();
      else void this.stop(this.graceMs, 'control');
    }
  }

  // -------------------------------------------------------------------------------------
  // Stopping
  // -------------------------------------------------------------------------------------

  private checkEnd(): void {
    if (this.state !== 'running') return;
    const o = this.options;
    const idle = this.slots.running === 0 && this.buffer.size === 0;
    if (o.until?.()) void this.stop(this.graceMs, 'until');
    else if (o.maxJobs !== undefined && this.slots.started >= o.maxJobs && idle) void this.stop(this.graceMs, 'max-jobs');
    else if (o.stopWhenEmpty && this.lastClaimEmpty && idle && !this.slots.controlPaused) void this.stop(this.graceMs, 'empty');
  }

  stop(graceMs: number, reason: string): Promise<void> {
    if (this.stopping) return this.stopping;
    this.state = 'stopping';
    this.reason = reason;
    this.stopping = this.shutdown(graceMs);
    return this.stopping;
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.waker.close();
    await this.starting;
    this.logger.log('info', 'worker.stopping', { reason: this.reason, busy: this.slots.running, graceMs });
    await this.keeper.beat();
    await this.slots.idle(graceMs);
    // Whatever still runs is given up: abort it and put it back without spending an attempt.
    for (const run of [...this.keeper.runs]) this.abandon(run, 'return', new Error(`released at shutdown after a ${graceMs} ms grace period`));
    for (let i = 0; i < 3 && this.buffer.size > 0; i++) {
      try {
        await this.buffer.flush(undefined);
      } catch (err) {
        this.logger.log('error', 'worker.database_error', { error: err as Error });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await this.hooks.drain(Math.min(graceMs, 10_000));
    this.waker.closeAll();
    try {
      await this.keeper.stop();
    } catch (err) {
      this.logger.log('error', 'worker.database_error', { error: err as Error });
    }
    this.state = 'stopped';
    this.logger.log('info', 'worker.stopped', { reason: this.reason, started: this.slots.started });
    this.resolveDone();
  }
}

function onTimeout<W>(engine: Engine<W>, run: Running<W>): void {
  engine.timeout(run);
}
