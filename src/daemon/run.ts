/**
 * One attempt of a job as the worker sees it: its context (what the handler gets), its
 * record while it runs, the worker's typed events, and the failed hooks under way.
 */
import type { ClaimedJob, LeasedWrite, Store } from '../queue/index.js';
import type { JobCounters } from './stats.js';
import type { Handler, JobContext, Logger } from './types.js';

/** What a context needs from its worker (`W`: its store's handler write). */
export interface RunHost<W = LeasedWrite> {
  readonly logger: Logger;
  readonly leaseMs: number;
  readonly store: Store<W>;
  /** Extend a lease now (ctx.extendLease returns a boolean); false when it was lost. `run`: the attempt, once it runs asynchronously. */
  extendLeaseNow(job: ClaimedJob, ms: number, run?: Running<W>): boolean;
}

/** One job whose handler returned a promise. */
export class Running<W = LeasedWrite> {
  timer: NodeJS.Timeout | undefined;
  /** The slot was given back (timeout, lost lease, shutdown): a late result is only logged and fenced. */
  abandoned = false;
  leaseExpiresAt: number;
  constructor(
    readonly job: ClaimedJob, readonly ctx: Ctx<W>, readonly payload: unknown, readonly handler: Handler<unknown, W>, readonly c: JobCounters,
    readonly t0: number, readonly timeoutMs: number, leaseExpiresAt: number,
  ) {
    this.leaseExpiresAt = leaseExpiresAt;
  }
}

/** The JobContext of one attempt. */
export class Ctx<W = LeasedWrite> implements JobContext<W> {
  private controller: AbortController | undefined;
  private abortedWith: unknown;
  private aborted = false;
  run: Running<W> | undefined;
  /** Writes handed back with ctx.commit, in order. */
  writes: W[] | undefined;
  constructor(private readonly host: RunHost<W>, private readonly job: ClaimedJob) {}
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
    this.host.logger.log(level, event, { job: this.job.id, queue: this.job.queue, name: this.job.name, ...fields });
  }
  extendLease(ms?: number): boolean {
    const len = ms ?? this.host.leaseMs;
    const ok = this.host.extendLeaseNow(this.job, len, this.run);
    if (ok && this.run) this.run.leaseExpiresAt = this.host.store.now() + len;
    return ok;
  }
  commit(write: W): void {
    if (typeof write !== 'function') throw new Error('ctx.commit takes a function of the database');
    (this.writes ??= []).push(write);
  }
  write(write: W): Promise<boolean> {
    if (this.aborted || this.run?.abandoned) return Promise.resolve(false);
    return this.host.store.writeUnderLease(this.job, write);
  }
}

/** A job as the worker's events name it. */
export interface EventJob {
  id: number;
  queue: string;
  name: string;
  attempt: number;
}

/** What a worker's events carry, by event name. */
export interface WorkerEvents {
  /** A job was claimed and is starting; `waitMs` since it became available. */
  claimed: { job: EventJob; waitMs: number };
  /** A completion was committed; `late` when its attempt had been given up but nobody else took the job. */
  completed: { job: EventJob; ms: number; late: boolean };
  /** A job went back to its queue: after an error (spending the attempt), or at shutdown (not spending it). */
  released: { job: EventJob; reason: string; availableAt: number; attemptSpent: boolean };
  /** A job was put back until `availableAt` without spending its attempt (a rate limit). */
  delayed: { job: EventJob; reason: string; availableAt: number };
  /** A job failed for good. */
  failed: { job: Pick<EventJob, 'id' | 'queue' | 'name'>; reason: string; failedUuid?: string; recovered: boolean };
  /** A job ran past its timeout: its slot was given back and it will be retried. */
  'timed-out': { job: EventJob; timeoutMs: number };
}

export type WorkerEventName = keyof WorkerEvents;

/** Typed listeners of a worker's events; emitting with no listener costs one map lookup. */
export class WorkerEmitter {
  private readonly listeners = new Map<WorkerEventName, Set<(e: never) => void>>();

  /** Call `listener` on every `event`; returns the function that removes it. */
  on<E extends WorkerEventName>(event: E, listener: (e: WorkerEvents[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (e: never) => void);
    return () => set.delete(listener as (e: never) => void);
  }

  /** True when someone listens to `event` (so callers can skip building it). */
  wants(event: WorkerEventName): boolean {
    return (this.listeners.get(event)?.size ?? 0) > 0;
  }

  emit<E extends WorkerEventName>(event: E, e: WorkerEvents[E]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const l of set) (l as (e: WorkerEvents[E]) => void)(e);
  }
}

/** The name a job goes by in events. */
export function eventJob(job: ClaimedJob): EventJob {
  return { id: job.id, queue: job.queue, name: job.name, attempt: job.attempts };
}

/** Failed hooks under way: each runs once, its error logged, and shutdown waits for them. */
export class Hooks {
  private readonly running = new Set<Promise<unknown>>();
  constructor(private readonly logger: Logger) {}

  /** Run `handler.failed` for a job that failed for good. */
  run<W>(handler: Handler<unknown, W>, payload: unknown, error: Error, job: { id: number; name: string; queue: string }): void {
    if (!handler.failed) return;
    const p = (async () => {
      try {
        await handler.failed!(payload as never, error);
      } catch (err) {
        this.logger.log('error', 'job.failed_hook_error', { job: job.id, queue: job.queue, name: job.name, error: err as Error });
      }
    })();
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** Wait for the hooks under way, for at most `ms`. */
  async drain(ms: number): Promise<void> {
    if (this.running.size > 0) await Promise.race([Promise.allSettled([...this.running]), new Promise((r) => setTimeout(r, ms))]);
  }
}
