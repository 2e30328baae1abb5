/** What startWorker takes, and the handle it returns. */
import type { LeasedWrite, Store, SupervisorState, Throttles } from '../queue/index.js';
import type { WorkerEventName, WorkerEvents } from './run.js';
import type { WorkerStats } from './stats.js';
import type { SupervisorSpec } from './supervisor.js';
import type { Logger } from './types.js';

/** Options of startWorker. Every field has a default. `W`: the handler write of the store's engine. */
export interface WorkerOptions<W = LeasedWrite> {
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
  /** The host name this worker registers under (several hosts on one PostgreSQL database tell their daemons apart by it). Default the OS host name. */
  hostname?: string;
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
  /** The store the worker claims from and commits to. Default the SQLite store over `db`, on the process clock. */
  store?: Store<W>;
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
  /** Call `listener` on every `event` (claimed, completed, released, delayed, failed, timed-out); returns the function that removes it. */
  on<E extends WorkerEventName>(event: E, listener: (e: WorkerEvents[E]) => void): () => void;
}
