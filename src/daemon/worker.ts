import os from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  DEFAULT_QUEUES, TimeoutError, claimThrottledInTx, completeManyInTx, completeWithWritesInTx, daemonControl, delayInTx, deregisterWorker, extendLease, failInTx, getJob,
  heartbeat, immediate, newWorkerId, nextDueAt, onEnqueued, pendingByQueue, recordSupervisors, recoverLeases, registerWorker, releaseInTx, assertQueues, writeUnderLease, readyToClaim, completedUnder, checkpoint,
  type ClaimedJob, type Db, type LeasedWrite, type Outcome, type SupervisorState, type Throttles,
} from '../queue/index.js';
import { CONCURRENCY, HEARTBEAT_MS, JOB_TIMEOUT_MS, LEASE_MS, POLL_MS, STALE_MS } from '../queue/defaults.js';
import { classifyError } from './classify.js';
import { silentLogger } from './logger.js';
import type { Registry } from './registry.js';
import { WorkerStats, type JobCounters } from './stats.js';
import { SupervisorPool, legacySupervisor, rebalancePools, type SupervisorSpec } from './supervisor.js';
import type { Handler, JobContext, Logger } from './types.js';
import { WalWatcher } from './wake.js';

/** Options of startWorker. Every field has a default. */
export interface WorkerOptions {
  /** Queues in claim order. Default high, default, low. */
  queues?: readonly string[];
  /** Async slots: jobs running at once. Default 10. */
  concurrency?: number;
  /** `strict`: claim in queue order; `auto`: share slots by pending work × runtime. Default strict. */
  balance?: 'strict' | 'auto';
  /**
   * Named supervisors, each a pool of slots over its own queues with its own balance
   * (supervisor.ts); when set, `queues`, `concurrency` and `balance` are not used. Default
   * one supervisor made of those three.
   */
  supervisors?: readonly SupervisorSpec[];
  /** At most `max` starts per window per queue or job name, across every process on the database. Default none. */
  throttles?: Throttles;
  /** Lease length (Laravel's retry_after); extended while a job runs. Default 90,000 ms. */
  leaseMs?: number;
  /** Heartbeat, lease extension and stale-worker recovery interval. Default 5,000 ms. */
  heartbeatMs?: number;
  /** A worker whose heartbeat is older than this is pruned and its jobs recovered. Default 30,000 ms. */
  staleMs?: number;
  /** Safety poll, control flags and rebalancing interval. Default 1,000 ms. */
  pollMs?: number;
  /** Timeout of a job that sets none (nor its config nor its handler). Default 60,000 ms. */
  defaultTimeoutMs?: number;
  /** A per-job-name timeout from the config, in ms (overrides the handler's and the default). */
  timeoutFor?: (name: string) => number | undefined;
  /** Stop once nothing is ready and nothing runs. Default false. */
  stopWhenEmpty?: boolean;
  /** Stop after starting this many jobs (and finishing them). Default unlimited. */
  maxJobs?: number;
  /** Checked after every loop turn: stop (gracefully) once it returns true. */
  until?: () => boolean;
  /** Honour `gitroast daemon pause|continue|stop` (the settings flags). Default false; the daemon sets it. */
  control?: boolean;
  /** Called instead of stop() when `daemon stop` asks this worker to stop (the daemon uses it to stop everything). */
  onStopRequested?: () => void;
  /** Structured logger. Default silent. */
  logger?: Logger;
  /** Worker id. Default a fresh `w_…`. */
  workerId?: string;
  /** Version recorded in the workers table. Default 0.0.0. */
  version?: string;
  /** Watch the database's -wal file for other processes' enqueues. Default true (unless in memory). */
  watch?: boolean;
  /** Grace period of stop() when none is passed. Default the longest timeout known. */
  graceMs?: number;
  /**
   * When the worker goes idle with at least this many row changes since its last
   * checkpoint, run a PASSIVE checkpoint right then, so SQLite's auto-checkpoint (every
   * 1,000 pages, inside whichever commit crosses the line) rarely lands inside a claim or an
   * enqueue (docs/wake-up.md: a checkpoint inside a claim made it take 4-10 ms). A busy worker
   * leaves checkpoints to SQLite. 0 turns it off. Default 200.
   */
  checkpointEvery?: number;
  /** How long a job may wait for rate limits, from its enqueue (config maxRateLimitWaitHours). Default 24 h. */
  maxRateLimitWaitMs?: number;
}

/** A running worker. */
export interface WorkerHandle {
  readonly id: string;
  readonly stats: WorkerStats;
  /** Jobs running now. */
  busy(): number;
  /** `running`, `paused` (by `daemon pause`, or every supervisor paused), `stopping` or `stopped`. */
  status(): 'running' | 'paused' | 'stopping' | 'stopped';
  /** Its supervisors now: balance, slots and running jobs per queue, pause flag. */
  supervisors(): SupervisorState[];
  /** Why it stopped or is stopping (`stop`, `empty`, `max-jobs`, `until`, `control`…). */
  stopReason(): string | undefined;
  /**
   * Stop claiming, let running jobs finish for up to `graceMs` (default the worker's grace),
   * then abort the rest and put them back without spending an attempt; deregister.
   * Resolves when done. Calling it again returns the same promise.
   */
  stop(options?: { graceMs?: number; reason?: string }): Promise<void>;
  /** Resolves when the worker has stopped, for any reason. */
  readonly done: Promise<void>;
  /** Claim now if there is room (a hint, like a WAL event). */
  wake(): void;
}

type OutcomeKind = 'retry' | 'fail' | 'delay' | 'timeout' | 'shutdown' | 'lost';

interface Pending {
  job: ClaimedJob;
  kind: OutcomeKind;
  error: Error;
  until: number;
  payload: unknown;
  handler: Handler | undefined;
  c: JobCounters;
  ms: number;
}

/** One finished job waiting for its completion to be committed (the commit buffer's record). */
interface Done {
  job: ClaimedJob;
  c: JobCounters;
  ms: number;
  /** The handler's writes (ctx.commit), committed with the completion or not at all. */
  writes: LeasedWrite[] | undefined;
  /** For the failed hook, should the writes fail the job. */
  payload: unknown;
  handler: Handler;
}

/** One job whose handler returned a promise. */
class Running {
  timer: NodeJS.Timeout | undefined;
  /** The slot was given back (timeout, lost lease, shutdown): a late result is only logged and fenced. */
  abandoned = false;
  leaseExpiresAt: number;
  constructor(readonly job: ClaimedJob, readonly ctx: Ctx, readonly payload: unknown, readonly handler: Handler, readonly c: JobCounters, readonly t0: number, readonly timeoutMs: number, leaseExpiresAt: number) {
    this.leaseExpiresAt = leaseExpiresAt;
  }
}

class Ctx implements JobContext {
  private controller: AbortController | undefined;
  private abortedWith: unknown;
  private aborted = false;
  run: Running | undefined;
  /** Writes handed back with ctx.commit, in order. */
  writes: LeasedWrite[] | undefined;
  constructor(private readonly engine: Engine, private readonly job: ClaimedJob) {}
  get id(): number { return this.job.id; }
  get name(): string { return this.job.name; }
  get queue(): string { return this.job.queue; }
  get attempt(): number { return this.job.attempts; }
  get maxAttempts(): number { return this.job.maxAttempts; }
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortedWith);
    }
    return this.controller.signal;
  }
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortedWith = reason;
    this.controller?.abort(reason);
  }
  log(level: 'debug' | 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>): void {
    this.engine.logger.log(level, event, { job: this.job.id, queue: this.job.queue, name: this.job.name, ...fields });
  }
  extendLease(ms?: number): boolean {
    const len = ms ?? this.engine.leaseMs;
    const now = Date.now();
    const ok = extendLease(this.engine.db, this.job, len, now);
    if (ok && this.run) this.run.leaseExpiresAt = now + len;
    return ok;
  }
  commit(write: LeasedWrite): void {
    if (typeof write !== 'function') throw new Error('ctx.commit takes a function of the database');
    (this.writes ??= []).push(write);
  }
  write(write: LeasedWrite): Promise<boolean> {
    if (this.aborted || this.run?.abandoned) return Promise.resolve(false);
    try {
      return Promise.resolve(writeUnderLease(this.engine.db, this.job, write));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

/** What became of a finished job in a commit. */
const LOST = 0;
const ACCEPTED = 1;
const WRITE_FAILED = 2;

/** How long to keep re-reading after a WAL event found nothing visible yet. */
const RECHECK_MS = 1.5;
/** A -wal event this soon after our own commit is taken for its echo. */
const OWN_EVENT_MS = 3;


/**
 * Start a worker on `db`: register it, then claim and run jobs with `registry`'s handlers
 * until stopped. Claims are batched (up to the free slots), and the completions of jobs that
 * finished since the last turn are committed in the same transaction as the next claim
 * (group commit). Waits without polling: an enqueue through `db` starts at once, another
 * process's commit is seen through the -wal file, and a slow safety poll backs both up.
 * The `analyze` command uses it to process its own jobs when no daemon is alive.
 */
export function startWorker(db: Db, registry: Registry, options: WorkerOptions = {}): WorkerHandle {
  const engine = new Engine(db, registry, options);
  engine.start();
  return engine.handle;
}

class Engine {
  readonly id: string;
  readonly logger: Logger;
  readonly leaseMs: number;
  readonly stats = new WorkerStats();
  readonly handle: WorkerHandle;
  private readonly queues: readonly string[];
  private readonly queuesJson: string;
  private readonly concurrency: number;
  private readonly pools: SupervisorPool[];
  /** The pool each running job holds a slot of, by job id. */
  private readonly poolOf = new Map<number, SupervisorPool>();
  private readonly heartbeatMs: number;
  private readonly staleMs: number;
  private readonly pollMs: number;
  private readonly defaultTimeoutMs: number;
  private readonly graceMs: number;
  private readonly logJobs: boolean;

  private state: 'running' | 'stopping' | 'stopped' = 'running';
  private reason: string | undefined;
  private controlPaused = false;
  private readonly startedAt = Date.now();
  private running = 0;
  private started = 0;
  private readonly inflight = new Set<Running>();
  private done: Done[] = [];
  private outcomes: Pending[] = [];
  private late: Running[] = [];
  private readonly hooks = new Set<Promise<unknown>>();

  private inPump = false;
  private again = false;
  private pumpScheduled = false;
  private lastClaimEmpty = false;
  private recheckUntil = 0;
  private echoTimer: NodeJS.Timeout | undefined;
  private lastOwnWrite = -Infinity;
  private changesSinceCheckpoint = 0;
  private checkpointScheduled = false;
  private dueTimer: NodeJS.Timeout | undefined;
  private dueAt = Infinity;
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private watcher: WalWatcher | undefined;
  private unsubscribe: (() => void) | undefined;
  private idleWaiter: (() => void) | undefined;
  private stopping: Promise<void> | undefined;
  private resolveDone!: () => void;

  constructor(readonly db: Db, private readonly registry: Registry, private readonly options: WorkerOptions) {
    const specs = options.supervisors ?? [legacySupervisor(options.queues ?? DEFAULT_QUEUES, options.concurrency ?? CONCURRENCY, options.balance)];
    if (specs.length === 0) throw new Error('at least one supervisor is needed');
    for (const spec of specs) assertQueues(spec.queues);
    this.pools = specs.map((spec) => new SupervisorPool(spec));
    this.queues = [...new Set(specs.flatMap((spec) => spec.queues))];
    this.queuesJson = JSON.stringify(this.queues);
    this.concurrency = this.pools.reduce((n, p) => n + p.maxProcesses, 0);
    this.leaseMs = options.leaseMs ?? LEASE_MS;
    this.heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    this.staleMs = options.staleMs ?? STALE_MS;
    this.pollMs = options.pollMs ?? POLL_MS;
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? JOB_TIMEOUT_MS;
    this.graceMs = options.graceMs ?? this.defaultTimeoutMs;
    this.id = options.workerId ?? newWorkerId();
    this.logger = options.logger ?? silentLogger;
    this.logJobs = this.logger.enabled('info');
    const done = new Promise<void>((resolve) => (this.resolveDone = resolve));
    const self = this;
    this.handle = {
      id: this.id,
      stats: this.stats,
      busy: () => self.running,
      status: () => (self.state === 'running' ? (self.allPaused() ? 'paused' : 'running') : self.state),
      supervisors: () => self.pools.map((p) => p.state()),
      stopReason: () => self.reason,
      stop: (o) => self.stop(o?.graceMs ?? self.graceMs, o?.reason ?? 'stop'),
      done,
      wake: () => self.wake(),
    };
  }

  start(): void {
    this.register();
    this.recover();
    if (this.options.control) this.readControl();
    this.unsubscribe = onEnqueued(this.db, () => this.wake());
    if ((this.options.watch ?? true) && this.db.name && this.db.name !== ':memory:' && !this.db.memory) {
      this.watcher = new WalWatcher(this.db.name, () => this.onWalEvent()).start();
    }
    this.pollTimer = setInterval(() => this.tick(), this.pollMs);
    this.heartbeatTimer = setInterval(() => this.beat(), this.heartbeatMs);
    this.rebalance();
    this.pump(false);
  }

  // -------------------------------------------------------------------------------------
  // Waking up
  // -------------------------------------------------------------------------------------

  /** An enqueue in this process (or an explicit hint): claim now. */
  wake(): void {
    if (this.state !== 'running') return;
    this.pump(false);
  }

  /** Another process may have committed. Claim on every event (docs/wake-up.md: lost wake-ups). */
  private onWalEvent(): void {
    if (this.state !== 'running' || this.freeSlots() === 0) return;
    this.pump(true);
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump(false);
    });
  }

  private freeSlots(): number {
    if (this.state !== 'running' || this.controlPaused) return 0;
    let free = 0;
    for (const p of this.pools) free += p.free();
    if (this.options.maxJobs !== undefined) free = Math.min(free, this.options.maxJobs - this.started);
    return free > 0 ? free : 0;
  }

  private hasBuffered(): boolean {
    return this.done.length > 0 || this.outcomes.length > 0 || this.late.length > 0;
  }

  /** True when a claim could find something: a ready job in our queues or a due delayed one. */
  private readyCheck(now: number): boolean {
    return readyToClaim(this.db, this.queuesJson, now);
  }

  // -------------------------------------------------------------------------------------
  // The loop
  // -------------------------------------------------------------------------------------

  /**
   * One or more turns of: commit what finished + claim for the free slots (one
   * transaction), then start the claimed jobs. Jobs whose handler returns synchronously
   * finish inside the turn and are committed with the next claim. Yields to the event loop
   * every few turns. `check`: a hint from a WAL event or the safety poll; do a cheap read
   * first and only take the write lock when something looks ready.
   */
  private pump(check: boolean): void {
    // After stop, late results are dropped: the database would refuse them anyway.
    if (this.state === 'stopped') return;
    if (this.inPump) {
      this.again = true;
      return;
    }
    this.inPump = true;
    try {
      for (let turn = 0; ; turn++) {
        const free = this.freeSlots();
        const buffered = this.hasBuffered();
        if (free === 0 && !buffered) break;
        const now = Date.now();
        if (check && turn === 0 && !buffered && !this.readyCheck(now)) {
          // The event may have come a hair before the commit was visible: look once more soon.
          this.lastClaimEmpty = true;
          this.recheckSoon(performance.now() - this.lastOwnWrite < OWN_EVENT_MS);
          break;
        }
        let claimed: ClaimedJob[];
        try {
          claimed = this.commitAndClaim(free, now);
        } catch (err) {
          this.logger.log('error', 'worker.database_error', { error: err as Error });
          this.retryLater();
          break;
        }
        for (let i = 0; i < claimed.length; i++) this.startJob(claimed[i]!, now);
        if (free > 0) this.lastClaimEmpty = claimed.length === 0;
        if (claimed.length < free) this.armDue(now);
        if (claimed.length === 0 && !this.hasBuffered()) {
          if (this.running === 0) this.idleCheckpoint();
          break;
        }
        if (turn >= 15) {
          this.schedulePump();
          break;
        }
      }
    } finally {
      this.inPump = false;
    }
    if (this.again) {
      this.again = false;
      this.schedulePump();
    }
    this.checkEnd();
  }

  /**
   * After an event whose commit was not visible yet: re-read on the next few event-loop
   * turns for up to RECHECK_MS (a 1-2 ms timer overshoots by 4-10 ms on this VM, the
   * publish takes microseconds). Costs CPU only right after another process's event, never
   * while idle; the echo of our own commit (the -wal changes for our writes too) does not
   * spin, or a busy worker would burn a core re-reading after every commit.
   */
  private recheckSoon(ownWrite: boolean): void {
    if (this.recheckUntil > 0) return;
    if (ownWrite) {
      // Almost surely the echo of our own commit: one cheap look a little later covers the
      // rare foreign commit that landed at the same moment, without spinning.
      if (this.echoTimer === undefined) {
        this.echoTimer = setTimeout(() => {
          this.echoTimer = undefined;
          if (this.state === 'running' && this.freeSlots() > 0 && this.readyCheck(Date.now())) this.pump(false);
        }, 2);
      }
      return;
    }
    this.recheckUntil = performance.now() + RECHECK_MS;
    const again = () => {
      if (this.state !== 'running' || this.freeSlots() === 0) {
        this.recheckUntil = 0;
        return;
      }
      if (this.readyCheck(Date.now())) {
        this.recheckUntil = 0;
        this.pump(false);
        return;
      }
      if (performance.now() < this.recheckUntil) setImmediate(again);
      else this.recheckUntil = 0;
    };
    setImmediate(again);
  }

  /** Commit buffered completions and outcomes, then claim up to `free` jobs; all in one transaction. */
  private commitAndClaim(free: number, now: number): ClaimedJob[] {
    const done = this.done;
    const outcomes = this.outcomes;
    const late = this.late;
    // Per finished job: ACCEPTED, LOST (fenced out), or WRITE_FAILED (its writes threw).
    const status = done.length > 0 ? new Uint8Array(done.length) : undefined;
    let results: Outcome[] = [];
    let writeFailed: Pending[] = [];
    let writeResults: Outcome[] = [];
    let lateOk: boolean[] = [];
    const db = this.db;
    const claimed = immediate(db, () => {
      // Filled afresh on every try: a transaction that throws leaves the buffers as they were.
      results = [];
      writeFailed = [];
      writeResults = [];
      lateOk = [];
      if (done.length > 0) this.completeDone(done, status!, writeFailed, now);
      for (const o of outcomes) results.push(this.applyOutcome(o, now));
      for (const o of writeFailed) writeResults.push(this.applyOutcome(o, now));
      for (const r of late) lateOk.push(completeWithWritesInTx(db, r.job, r.ctx.writes ?? [], now) === true);
      return free > 0 ? this.claim(free, now) : [];
    });
    const changes = claimed.length + done.length + outcomes.length + late.length;
    if (changes > 0) {
      this.lastOwnWrite = performance.now();
      this.wrote(changes);
    }
    // Committed: now the buffers can go, and the side effects (logs, counters, hooks) happen.
    if (done.length > 0) {
      this.done = [];
      for (let i = 0; i < done.length; i++) {
        const { job, c, ms } = done[i]!;
        if (status![i] === ACCEPTED) {
          c.processed++;
          if (this.logJobs) this.logger.log('info', 'job.completed', { job: job.id, queue: job.queue, name: job.name, attempt: job.attempts, ms: round(ms) });
        } else if (status![i] === LOST) {
          this.logger.log('warn', 'job.result_rejected', { job: job.id, queue: job.queue, name: job.name, attempt: job.attempts, reason: 'the lease was lost (the job was recovered and may run elsewhere)' });
        }
      }
      for (let i = 0; i < writeFailed.length; i++) this.afterOutcome(writeFailed[i]!, writeResults[i]!, now);
    }
    if (outcomes.length > 0) {
      this.outcomes = [];
      for (let i = 0; i < outcomes.length; i++) this.afterOutcome(outcomes[i]!, results[i]!, now);
    }
    if (late.length > 0) {
      this.late = [];
      for (let i = 0; i < late.length; i++) {
        const r = late[i]!;
        const fields = { job: r.job.id, queue: r.job.queue, name: r.job.name, attempt: r.job.attempts, token: r.job.token };
        if (lateOk[i]) this.logger.log('warn', 'job.completed', { ...fields, late: true });
        else this.logger.log('warn', 'job.late_result_rejected', { ...fields, reason: 'its lease was given up (timeout, lost lease or shutdown); the fencing token no longer matches' });
      }
    }
    return claimed;
  }

  /**
   * Complete the finished jobs inside the open transaction. Jobs without writes go in one
   * statement; a job with writes completes in its own savepoint with them (both or neither).
   * Marks each in `status`; a job whose writes threw gets a retry outcome in `writeFailed`.
   */
  private completeDone(done: readonly Done[], status: Uint8Array, writeFailed: Pending[], now: number): void {
    let plain: ClaimedJob[] | undefined;
    let plainIdx: number[] | undefined;
    for (let i = 0; i < done.length; i++) {
      const d = done[i]!;
      if (d.writes === undefined) {
        (plain ??= []).push(d.job);
        (plainIdx ??= []).push(i);
        continue;
      }
      const r = completeWithWritesInTx(this.db, d.job, d.writes, now);
      if (r === true) status[i] = ACCEPTED;
      else if (r === false) status[i] = LOST;
      else {
        status[i] = WRITE_FAILED;
        const error = new Error(`its writes failed: ${r.message}`, { cause: r });
        writeFailed.push({ job: d.job, kind: classifyError(r).kind === 'fail' ? 'fail' : 'retry', error, until: 0, payload: d.payload, handler: d.handler, c: d.c, ms: d.ms });
      }
    }
    if (!plain) return;
    // One statement for the whole batch; in the rare case a lease was lost, find which.
    if (completeManyInTx(this.db, plain, now) === plain.length) for (const i of plainIdx!) status[i] = ACCEPTED;
    else for (let k = 0; k < plain.length; k++) status[plainIdx![k]!] = completedUnder(this.db, plain[k]!, now) ? ACCEPTED : LOST;
  }

  /** Count row changes for the idle checkpoint. */
  private wrote(changes: number): void {
    this.changesSinceCheckpoint += changes;
  }

  /** Idle now: checkpoint (after this turn) if enough was written since the last one. */
  private idleCheckpoint(): void {
    const every = this.options.checkpointEvery ?? 200;
    if (every <= 0 || this.changesSinceCheckpoint < every || this.checkpointScheduled || this.db.memory) return;
    this.checkpointScheduled = true;
    setImmediate(() => {
      this.checkpointScheduled = false;
      if (this.state !== 'running' || this.running > 0) return;
      this.changesSinceCheckpoint = 0;
      try {
        checkpoint(this.db, 'PASSIVE');
      } catch (err) {
        this.logger.log('warn', 'worker.checkpoint_failed', { error: err as Error });
      }
    });
  }

  private applyOutcome(o: Pending, now: number): Outcome {
    const info = { message: o.error.message, stack: o.error.stack };
    switch (o.kind) {
      case 'fail':
        return failInTx(this.db, o.job, info, now);
      case 'delay':
        return delayInTx(this.db, o.job, o.until, o.error.message, now, { maxWaitMs: this.options.maxRateLimitWaitMs });
      case 'shutdown':
        return delayInTx(this.db, o.job, now, o.error.message, now);
      case 'lost':
        return { kind: 'lost' };
      default:
        return releaseInTx(this.db, o.job, info, now);
    }
  }

  private afterOutcome(o: Pending, result: Outcome, now: number): void {
    const job = o.job;
    const base = { job: job.id, queue: job.queue, name: job.name, attempt: job.attempts };
    switch (result.kind) {
      case 'released':
        o.c.released++;
        this.logger.log('info', 'job.released', { ...base, error: o.error.message, availableAt: result.availableAt, ms: round(o.ms) });
        if (result.availableAt > now) this.armDueAt(result.availableAt);
        break;
      case 'delayed':
        if (o.kind !== 'shutdown') o.c.delayed++;
        this.logger.log('info', o.kind === 'shutdown' ? 'job.released' : 'job.delayed', { ...base, reason: o.error.message, availableAt: result.availableAt, attemptSpent: false });
        if (result.availableAt > now) this.armDueAt(result.availableAt);
        break;
      case 'failed':
        o.c.failed++;
        this.logger.log('error', 'job.failed', { ...base, error: result.reason, failedUuid: result.failedUuid });
        if (o.handler?.failed) this.runHook(o.handler, o.payload, new Error(result.reason, { cause: o.error }), job);
        break;
      case 'lost':
        if (o.kind !== 'lost') this.logger.log('warn', 'job.result_rejected', { ...base, reason: 'the lease was lost (the job was recovered and may run elsewhere)' });
        break;
      default:
        break;
    }
  }

  private runHook(handler: Handler, payload: unknown, error: Error, job: { id: number; name: string; queue: string }): void {
    const p = (async () => {
      try {
        await handler.failed!(payload as never, error);
      } catch (err) {
        this.logger.log('error', 'job.failed_hook_error', { job: job.id, queue: job.queue, name: job.name, error: err as Error });
      }
    })();
    this.hooks.add(p);
    void p.finally(() => this.hooks.delete(p));
  }

  /** Claim for each supervisor's free slots in turn (throttled); remember which pool each job is in. */
  private claim(free: number, now: number): ClaimedJob[] {
    const base = { workerId: this.id, leaseMs: this.leaseMs, now, throttles: this.options.throttles };
    const take = (queues: readonly string[], limit: number) => claimThrottledInTx(this.db, { ...base, queues, limit });
    let out: ClaimedJob[] = [];
    for (const pool of this.pools) {
      if (out.length >= free) break;
      const got = pool.claim(free - out.length, take);
      // A throttle's window ends: claim again then (the jobs it held back wait as pending).
      if (got.retryAt !== undefined) this.armDueAt(got.retryAt);
      for (const job of got.jobs) this.poolOf.set(job.id, pool);
      out = out.length === 0 ? got.jobs : out.concat(got.jobs);
    }
    return out;
  }

  // -------------------------------------------------------------------------------------
  // Running one job
  // -------------------------------------------------------------------------------------

  private startJob(job: ClaimedJob, now: number): void {
    this.running++;
    this.started++;
    const pool = this.poolOf.get(job.id);
    pool?.started(job.queue);
    const c = this.stats.counters(job.queue, job.name);
    if (this.logJobs) this.logger.log('info', 'job.claimed', { job: job.id, queue: job.queue, name: job.name, attempt: job.attempts, waitMs: now - job.availableAt });
    const handler = this.registry.get(job.name);
    if (!handler) {
      this.finishError(job, c, 0, undefined, undefined, { kind: 'fail', error: new Error(`no handler is registered for job name ${JSON.stringify(job.name)} (known: ${this.registry.names().join(', ') || 'none'})`) });
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(job.payload);
    } catch (err) {
      this.finishError(job, c, 0, undefined, handler, { kind: 'fail', error: new Error(`invalid payload: ${(err as Error).message}`) });
      return;
    }
    const ctx = new Ctx(this, job);
    const t0 = performance.now();
    let result: unknown;
    try {
      result = handler.handle(payload, ctx);
    } catch (err) {
      this.finishError(job, c, performance.now() - t0, payload, handler, classifyError(err));
      return;
    }
    if (result === null || typeof result !== 'object' || typeof (result as PromiseLike<unknown>).then !== 'function') {
      // Synchronous handler: done now; committed with the next claim.
      const ms = performance.now() - t0;
      this.stats.runtime(c, ms);
      this.release1(job);
      this.done.push({ job, c, ms, writes: ctx.writes, payload, handler });
      return;
    }
    const timeoutMs = job.timeoutMs ?? this.options.timeoutFor?.(job.name) ?? handler.timeoutMs ?? pool?.timeoutMs ?? this.defaultTimeoutMs;
    const run = new Running(job, ctx, payload, handler, c, t0, timeoutMs, now + this.leaseMs);
    ctx.run = run;
    this.inflight.add(run);
    run.timer = setTimeout(onTimeout, timeoutMs, this, run);
    (result as PromiseLike<unknown>).then(
      () => this.settle(run, undefined, false),
      (err: unknown) => this.settle(run, err, true),
    );
  }

  /** Give a slot back. */
  private release1(job: ClaimedJob): void {
    this.running--;
    const pool = this.poolOf.get(job.id);
    if (pool) {
      this.poolOf.delete(job.id);
      pool.released(job.queue);
    }
    if (this.running === 0 && this.idleWaiter) this.idleWaiter();
  }

  private finishError(job: ClaimedJob, c: JobCounters, ms: number, payload: unknown, handler: Handler | undefined, d: ReturnType<typeof classifyError> | { kind: 'fail'; error: Error }): void {
    this.stats.runtime(c, ms);
    this.release1(job);
    const kind: OutcomeKind = d.kind;
    this.outcomes.push({ job, kind, error: d.error, until: d.kind === 'delay' ? d.until : 0, payload, handler, c, ms });
  }

  private settle(run: Running, err: unknown, failed: boolean): void {
    if (run.abandoned) {
      // The slot was given back already; a late success is sent with its old token and the
      // database rejects it (fencing); a late error is only logged.
      if (!failed) this.late.push(run);
      else this.logger.log('warn', 'job.late_error', { job: run.job.id, queue: run.job.queue, name: run.job.name, attempt: run.job.attempts, error: err as Error });
      this.schedulePump();
      return;
    }
    clearTimeout(run.timer);
    this.inflight.delete(run);
    const ms = performance.now() - run.t0;
    if (failed) this.finishError(run.job, run.c, ms, run.payload, run.handler, classifyError(err));
    else {
      this.stats.runtime(run.c, ms);
      this.release1(run.job);
      this.done.push({ job: run.job, c: run.c, ms, writes: run.ctx.writes, payload: run.payload, handler: run.handler });
    }
    this.schedulePump();
  }

  /** The job ran past its timeout: free the slot, fire its signal, retry it (its late result is fenced). */
  timeout(run: Running): void {
    if (run.abandoned || !this.inflight.has(run)) return;
    run.abandoned = true;
    this.inflight.delete(run);
    const ms = performance.now() - run.t0;
    const error = new TimeoutError(`job ${run.job.id} (${run.job.name}) timed out after ${run.timeoutMs} ms`);
    run.ctx.abort(error);
    run.c.timedOut++;
    this.logger.log('warn', 'job.timed_out', { job: run.job.id, queue: run.job.queue, name: run.job.name, attempt: run.job.attempts, timeoutMs: run.timeoutMs });
    this.finishError(run.job, run.c, ms, run.payload, run.handler, { kind: 'retry', error });
    this.schedulePump();
  }

  // -------------------------------------------------------------------------------------
  // Timers: delayed jobs, safety poll, heartbeats
  // -------------------------------------------------------------------------------------

  /** Arm a timer for the next delayed job (ours or another process's), if earlier than the armed one. */
  private armDue(now: number): void {
    const at = nextDueAt(this.db);
    if (at !== undefined) this.armDueAt(Math.max(at, now));
  }

  private armDueAt(at: number): void {
    if (this.state !== 'running' || at >= this.dueAt) return;
    clearTimeout(this.dueTimer);
    this.dueAt = at;
    this.dueTimer = setTimeout(() => {
      this.dueTimer = undefined;
      this.dueAt = Infinity;
      this.pump(false);
    }, Math.min(2 ** 31 - 1, Math.max(0, at - Date.now()) + 1));
  }

  private retryLater(): void {
    if (this.retryTimer || this.state === 'stopped') return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump(false);
    }, Math.min(this.pollMs, 1000));
  }

  /** Safety poll: control flags, rebalancing, and a claim in case a wake-up was missed. */
  private tick(): void {
    if (this.state !== 'running') return;
    try {
      if (this.options.control) this.readControl();
      this.rebalance();
    } catch (err) {
      this.logger.log('error', 'worker.database_error', { error: err as Error });
    }
    if (this.state === 'running') this.pump(true);
  }

  private readControl(): void {
    const control = daemonControl(this.db);
    let changed = false;
    if (control.paused !== this.controlPaused) {
      this.controlPaused = control.paused;
      this.logger.log('info', control.paused ? 'worker.paused' : 'worker.continued', { busy: this.running });
      changed = true;
    }
    for (const pool of this.pools) {
      const paused = control.paused || control.pausedSupervisors.includes(pool.name);
      if (paused === pool.paused) continue;
      pool.paused = paused;
      changed = true;
      if (!control.paused) this.logger.log('info', paused ? 'supervisor.paused' : 'supervisor.continued', { supervisor: pool.name, busy: pool.running });
    }
    if (changed) {
      this.beat();
      this.pump(false);
    }
    if (control.stopRequestedAt !== null && control.stopRequestedAt >= this.startedAt && this.state === 'running') {
      this.logger.log('info', 'worker.stop_requested', { requestedAt: new Date(control.stopRequestedAt).toISOString() });
      if (this.options.onStopRequested) this.options.onStopRequested();
      else void this.stop(this.graceMs, 'control');
    }
  }

  /** Move the slots of balancing supervisors by load; record the new slots at once when they moved. */
  private rebalance(): void {
    if (!this.pools.some((p) => p.balancing)) return;
    if (rebalancePools(this.pools, pendingByQueue(this.db, this.queues), (q) => this.stats.avgRuntime(q), this.logger)) {
      this.lastOwnWrite = performance.now();
      recordSupervisors(this.db, this.id, this.pools.map((p) => p.state()));
      this.pump(false);
    }
  }

  /** True when claiming is paused for every supervisor. */
  private allPaused(): boolean {
    return this.controlPaused || this.pools.every((p) => p.paused);
  }

  private register(): void {
    registerWorker(this.db, {
      id: this.id, pid: process.pid, hostname: os.hostname(), version: this.options.version ?? '0.0.0', queues: this.queues, concurrency: this.concurrency,
      supervisors: this.pools.map((p) => p.state()),
    });
  }

  /** Heartbeat, extend the leases of running jobs, recover stale workers' jobs. */
  private beat(): void {
    if (this.state === 'stopped') return;
    try {
      const status = this.state === 'stopping' ? 'stopping' : this.allPaused() ? 'paused' : 'running';
      this.lastOwnWrite = performance.now();
      this.wrote(1);
      if (!heartbeat(this.db, this.id, this.running, status, Date.now(), this.pools.map((p) => p.state()))) {
        this.logger.log('warn', 'worker.reregistered', { reason: 'its registration was pruned as stale (was the process suspended?)' });
        this.register();
      }
      this.extendLeases();
      this.recover();
    } catch (err) {
      this.logger.log('error', 'worker.database_error', { error: err as Error });
    }
  }

  private extendLeases(): void {
    if (this.inflight.size === 0) return;
    const now = Date.now();
    const lost: Running[] = [];
    immediate(this.db, () => {
      for (const run of this.inflight) {
        if (run.leaseExpiresAt - now > this.leaseMs / 2) continue;
        if (extendLease(this.db, run.job, this.leaseMs, now)) run.leaseExpiresAt = now + this.leaseMs;
        else lost.push(run);
      }
    });
    for (const run of lost) {
      run.abandoned = true;
      clearTimeout(run.timer);
      this.inflight.delete(run);
      run.ctx.abort(new Error(`job ${run.job.id} lost its lease (it was recovered by another worker)`));
      this.logger.log('warn', 'job.lease_lost', { job: run.job.id, queue: run.job.queue, name: run.job.name, attempt: run.job.attempts });
      this.outcomes.push({ job: run.job, kind: 'lost', error: new Error('lease lost'), until: 0, payload: run.payload, handler: run.handler, c: run.c, ms: 0 });
      this.release1(run.job);
    }
    if (lost.length > 0) this.schedulePump();
  }

  private recover(): void {
    const result = recoverLeases(this.db, this.staleMs);
    if (result.prunedWorkers.length > 0) this.logger.log('warn', 'worker.pruned', { workers: result.prunedWorkers, reason: `no heartbeat for ${this.staleMs} ms` });
    if (result.requeued.length > 0) this.logger.log('warn', 'lease.recovered', { jobs: result.requeued });
    for (const id of result.failed) {
      const job = getJob(this.db, id);
      const reason = job?.errors.at(-1)?.message ?? 'its worker stopped and its tries are used up';
      this.logger.log('error', 'job.failed', { job: id, queue: job?.queue, name: job?.name, error: reason, recovered: true });
      const handler = job ? this.registry.get(job.name) : undefined;
      if (job && handler?.failed) this.runHook(handler, job.payload, new Error(reason), job);
    }
  }

  // -------------------------------------------------------------------------------------
  // Stopping
  // -------------------------------------------------------------------------------------

  private checkEnd(): void {
    if (this.state !== 'running') return;
    const o = this.options;
    if (o.until?.()) void this.stop(this.graceMs, 'until');
    else if (o.maxJobs !== undefined && this.started >= o.maxJobs && this.running === 0 && !this.hasBuffered()) void this.stop(this.graceMs, 'max-jobs');
    else if (o.stopWhenEmpty && this.lastClaimEmpty && this.running === 0 && !this.hasBuffered() && !this.controlPaused) void this.stop(this.graceMs, 'empty');
  }

  stop(graceMs: number, reason: string): Promise<void> {
    if (this.stopping) return this.stopping;
    this.state = 'stopping';
    this.reason = reason;
    this.stopping = this.shutdown(graceMs);
    return this.stopping;
  }

  private async shutdown(graceMs: number): Promise<void> {
    clearInterval(this.pollTimer);
    clearTimeout(this.dueTimer);
    clearTimeout(this.echoTimer);
    this.watcher?.close();
    this.unsubscribe?.();
    this.logger.log('info', 'worker.stopping', { reason: this.reason, busy: this.running, graceMs });
    this.beat();
    if (this.running > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        this.idleWaiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.idleWaiter = undefined;
    }
    // Whatever still runs is given up: abort it and put it back without spending an attempt.
    for (const run of [...this.inflight]) {
      run.abandoned = true;
      clearTimeout(run.timer);
      this.inflight.delete(run);
      const error = new Error(`released at shutdown after a ${graceMs} ms grace period`);
      run.ctx.abort(error);
      this.outcomes.push({ job: run.job, kind: 'shutdown', error, until: 0, payload: run.payload, handler: run.handler, c: run.c, ms: performance.now() - run.t0 });
      this.release1(run.job);
    }
    for (let i = 0; i < 3 && this.hasBuffered(); i++) {
      try {
        this.commitAndClaim(0, Date.now());
      } catch (err) {
        this.logger.log('error', 'worker.database_error', { error: err as Error });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (this.hooks.size > 0) await Promise.race([Promise.allSettled([...this.hooks]), new Promise((r) => setTimeout(r, Math.min(graceMs, 10_000)))]);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.retryTimer);
    try {
      deregisterWorker(this.db, this.id);
    } catch (err) {
      this.logger.log('error', 'worker.database_error', { error: err as Error });
    }
    this.state = 'stopped';
    this.logger.log('info', 'worker.stopped', { reason: this.reason, started: this.started });
    this.resolveDone();
  }
}

function onTimeout(engine: Engine, run: Running): void {
  engine.timeout(run);
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

