/**
 * The lease keeper (compare BullMQ's LockManager): registers the worker, heartbeats,
 * extends the leases of the jobs it runs before they expire, hands back the runs whose
 * lease was lost, and recovers the jobs of workers that stopped heartbeating.
 */
import type { AnyStore, LeasedWrite, WorkerRegistration } from '../queue/index.js';
import type { Registry } from './registry.js';
import type { Hooks, Running, WorkerEmitter } from './run.js';
import type { Logger } from './types.js';

/** What the keeper needs from its worker (`W`: its store's handler write). */
export interface LeaseHost<W = LeasedWrite> {
  readonly store: AnyStore;
  readonly logger: Logger;
  readonly registry: Registry<W>;
  readonly hooks: Hooks;
  readonly events: WorkerEmitter;
  /** The registration, as of now (its supervisors move). */
  registration(): WorkerRegistration;
  /** Jobs running and the worker's status, for the heartbeat. */
  beatState(): { busy: number; status: string };
  /** The runs whose lease was lost: give them up. */
  lost(runs: readonly Running<W>[]): void;
  /** The worker wrote to the database (for the idle checkpoint and the WAL echo). */
  wrote(changes: number): void;
}

/** Options of the keeper, with the worker's defaults already applied. */
export interface LeaseOptions {
  leaseMs: number;
  heartbeatMs: number;
  staleMs: number;
}

export class LeaseKeeper<W = LeasedWrite> {
  /** The runs whose leases this keeper extends. */
  readonly runs = new Set<Running<W>>();
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;

  constructor(private readonly host: LeaseHost<W>, private readonly options: LeaseOptions) {}

  /** Register the worker, recover stale workers' jobs, then beat every heartbeatMs. */
  async start(): Promise<void> {
    await this.host.store.registerWorker(this.host.registration());
    await this.recover();
    this.timer = setInterval(() => void this.beat(), this.options.heartbeatMs);
  }

  /** Stop beating (after the last beat under way) and deregister. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    await this.host.store.deregisterWorker(this.host.registration().id);
  }

  /** Heartbeat, extend the leases of running jobs, recover stale workers' jobs. One beat at a time. */
  beat(): Promise<void> {
    if (this.beating) return this.beating;
    this.beating = this.beatOnce().finally(() => (this.beating = undefined));
    return this.beating;
  }

  private async beatOnce(): Promise<void> {
    const { store, logger } = this.host;
    try {
      const { busy, status } = this.host.beatState();
      const reg = this.host.registration();
      this.host.wrote(1);
      if (!(await store.heartbeat(reg.id, busy, status, reg.supervisors))) {
        logger.log('warn', 'worker.reregistered', { reason: 'its registration was pruned as stale (was the process suspended?)' });
        await store.registerWorker(this.host.registration());
      }
      await this.extend();
      await this.recover();
    } catch (err) {
      logger.log('error', 'worker.database_error', { error: err as Error });
    }
  }

  /** Extend the leases past half their length, in one transaction; give up the runs whose lease was lost. */
  private async extend(): Promise<void> {
    if (this.runs.size === 0) return;
    const { leaseMs } = this.options;
    const now = this.host.store.now();
    const due = [...this.runs].filter((r) => r.leaseExpiresAt - now <= leaseMs / 2);
    if (due.length === 0) return;
    const ok = await this.host.store.extendLeases(due.map((r) => r.job), leaseMs);
    const lost: Running<W>[] = [];
    due.forEach((run, i) => {
      if (ok[i]) run.leaseExpiresAt = now + leaseMs;
      else if (this.runs.has(run)) lost.push(run);
    });
    if (lost.length > 0) this.host.lost(lost);
  }

  /** Prune stale workers and take their jobs back; run the failed hooks of the jobs that had no tries left. */
  private async recover(): Promise<void> {
    const { store, logger, registry, hooks, events } = this.host;
    const { staleMs } = this.options;
    const result = await store.recoverLeases(staleMs);
    if (result.prunedWorkers.length > 0) logger.log('warn', 'worker.pruned', { workers: result.prunedWorkers, reason: `no heartbeat for ${staleMs} ms` });
    if (result.requeued.length > 0) logger.log('warn', 'lease.recovered', { jobs: result.requeued });
    for (const id of result.failed) {
      const job = await store.getJob(id);
      const reason = job?.errors.at(-1)?.message ?? 'its worker stopped and its tries are used up';
      logger.log('error', 'job.failed', { job: id, queue: job?.queue, name: job?.name, error: reason, recovered: true });
      if (job) events.emit('failed', { job: { id, queue: job.queue, name: job.name }, reason, recovered: true });
      const handler = job ? registry.get(job.name) : undefined;
      if (job && handler) hooks.run(handler, job.payload, new Error(reason), job);
    }
  }
}
