/**
 * The slots of one worker (compare solid_queue's Pool): its supervisors' pools, which pool
 * each running job holds a slot of, the counts, and the pause flags. It claims for the free
 * slots pool by pool, and moves balancing pools' slots by load.
 */
import type { ClaimedJob, AnyStore, DaemonControl, SupervisorState, Take } from '../queue/index.js';
import { SupervisorPool, rebalancePools, type SupervisorSpec } from './supervisor.js';
import type { Logger } from './types.js';

export class Slots {
  readonly pools: SupervisorPool[];
  /** Every queue of every pool, in claim order. */
  readonly queues: readonly string[];
  /** Slots in all. */
  readonly concurrency: number;
  /** Jobs running now, and started since the worker started. */
  running = 0;
  started = 0;
  /** `daemon pause` holds every pool. */
  controlPaused = false;
  /** The pool each running job holds a slot of, by job id. */
  private readonly poolOf = new Map<number, SupervisorPool>();
  private idleWaiter: (() => void) | undefined;

  constructor(specs: readonly SupervisorSpec[], private readonly maxJobs: number | undefined) {
    if (specs.length === 0) throw new Error('at least one supervisor is needed');
    this.pools = specs.map((spec) => new SupervisorPool(spec));
    this.queues = [...new Set(specs.flatMap((spec) => spec.queues))];
    this.concurrency = this.pools.reduce((n, p) => n + p.maxProcesses, 0);
  }

  /** Slots a claim may fill now (none while paused, none past maxJobs). */
  free(): number {
    if (this.controlPaused) return 0;
    let free = 0;
    for (const p of this.pools) free += p.free();
    if (this.maxJobs !== undefined) free = Math.min(free, this.maxJobs - this.started);
    return free > 0 ? free : 0;
  }

  /** True when claiming is paused for every supervisor. */
  allPaused(): boolean {
    return this.controlPaused || this.pools.every((p) => p.paused);
  }

  /** The supervisors now, as recorded and shown. */
  states(): SupervisorState[] {
    return this.pools.map((p) => p.state());
  }

  /** A claimed job takes its slot; returns its pool. */
  take(job: ClaimedJob): SupervisorPool | undefined {
    this.running++;
    this.started++;
    const pool = this.poolOf.get(job.id);
    pool?.started(job.queue);
    return pool;
  }

  /** A job gives its slot back. */
  release(job: ClaimedJob): void {
    this.running--;
    const pool = this.poolOf.get(job.id);
    if (pool) {
      this.poolOf.delete(job.id);
      pool.released(job.queue);
    }
    if (this.running === 0) this.idleWaiter?.();
  }

  /** Resolve once no job runs, or after `ms`, whichever comes first (the grace period of a stop). */
  async idle(ms: number): Promise<void> {
    if (this.running === 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.idleWaiter = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.idleWaiter = undefined;
  }

  /**
   * Claim for each supervisor's free slots in turn (throttled), up to `free`; remember which
   * pool each job is in. Runs inside the store's commit. `retryAt`: a throttle's window ends.
   */
  claim(take: Take, free: number, retryAt: (at: number) => void): ClaimedJob[] {
    let out: ClaimedJob[] = [];
    for (const pool of this.pools) {
      if (out.length >= free) break;
      const got = pool.claim(free - out.length, take);
      if (got.retryAt !== undefined) retryAt(got.retryAt);
      for (const job of got.jobs) this.poolOf.set(job.id, pool);
      out = out.length === 0 ? got.jobs : out.concat(got.jobs);
    }
    return out;
  }

  /**
   * The safety poll's work: read the control flags (when `control`) and move the slots of
   * balancing pools by load, recording them at once when they moved. Returns whether a
   * pause flag changed, whether slots moved, and when a stop was requested (or null).
   */
  async poll(store: AnyStore, workerId: string, control: boolean, avgRuntime: (queue: string) => number | undefined, logger: Logger): Promise<{ paused: boolean; moved: boolean; stopRequestedAt: number | null }> {
    let paused = false;
    let stopRequestedAt: number | null = null;
    if (control) {
      const flags = await store.control();
      paused = this.applyControl(flags, logger);
      stopRequestedAt = flags.stopRequestedAt;
    }
    let moved = false;
    if (this.pools.some((p) => p.balancing) && rebalancePools(this.pools, await store.pendingByQueue(this.queues), avgRuntime, logger)) {
      moved = true;
      await store.recordSupervisors(workerId, this.states());
    }
    return { paused, moved, stopRequestedAt };
  }

  /** Apply the control flags; true when a pause flag changed. */
  private applyControl(control: DaemonControl, logger: Logger): boolean {
    let changed = false;
    if (control.paused !== this.controlPaused) {
      this.controlPaused = control.paused;
      logger.log('info', control.paused ? 'worker.paused' : 'worker.continued', { busy: this.running });
      changed = true;
    }
    for (const pool of this.pools) {
      const paused = control.paused || control.pausedSupervisors.includes(pool.name);
      if (paused === pool.paused) continue;
      pool.paused = paused;
      changed = true;
      if (!control.paused) logger.log('info', paused ? 'supervisor.paused' : 'supervisor.continued', { supervisor: pool.name, busy: pool.running });
    }
    return changed;
  }
}
