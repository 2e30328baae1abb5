/**
 * The queue's vocabulary, defined once and used everywhere (code, CLI output, README):
 *
 * - job: one unit of work: a `name` (which handler runs it), a JSON `payload`, and the
 *   bookkeeping below. A row in `jobs`.
 * - queue: a named line of jobs (`high`, `default`, `low`, or any valid name). Daemons
 *   drain queues in a configured order; a paused queue is skipped.
 * - attempt: one run of a job by a worker. Attempts are counted when a job is claimed;
 *   a rate-limit delay gives its attempt back.
 * - lease: a claim's time-limited right to finish a job, identified by a fencing token
 *   (`lease_token`). Only the holder of the current token can complete, release, delay,
 *   fail or extend the job; a lease that expires makes the job claimable again.
 * - worker: a registered process that claims jobs (a row in `workers`, with heartbeats).
 * - daemon: the long-running `gitroast daemon` process; each daemon is one worker.
 * - chain: jobs that run one after another; the next link is enqueued when a link
 *   completes, and the chain's catch job when a link fails for good.
 * - batch: a group of jobs with counters; its then / catch / finally jobs are enqueued
 *   exactly once when the counters say so.
 */

/** Where a job is in its life. `delayed` jobs wait for `available_at`; `pending` are ready. */
export type JobState = 'pending' | 'delayed' | 'reserved' | 'completed' | 'failed' | 'cancelled';

export const JOB_STATES: readonly JobState[] = ['pending', 'delayed', 'reserved', 'completed', 'failed', 'cancelled'];

/** The queues every installation has, in their default claim order. */
export const DEFAULT_QUEUES: readonly string[] = ['high', 'default', 'low'];

/** What to enqueue. Every field but `name` has a default. */
export interface JobSpec {
  /** Handler key, e.g. `fetch-github`. */
  name: string;
  /** JSON-serialisable data for the handler; at most `MAX_PAYLOAD_BYTES` as JSON. Default `{}`. */
  payload?: unknown;
  /** Queue name. Default `default`. */
  queue?: string;
  /** Order inside the queue: higher runs first. Default 0. */
  priority?: number;
  /** Milliseconds before the job becomes ready. Default 0. */
  delayMs?: number;
  /** How many attempts before the job fails for good. Default 3. */
  tries?: number;
  /** Seconds to wait before each retry; the last value repeats. Default [] (retry at once). */
  backoff?: number[];
  /** Milliseconds an attempt may run. Default none (the daemon's default applies). */
  timeoutMs?: number;
  /**
   * Ms epoch after which a failed job is not retried any more (Laravel's retryUntil). A
   * rate-limit delay is not a failure: it pushes the deadline back by the time waited.
   */
  retryUntil?: number;
  /** Like retryUntil, counted from when the job is enqueued (so each chain link gets its own window). */
  retryForMs?: number;
  /** While a pending, delayed or reserved job holds this key, enqueueing it returns that job. */
  uniqueKey?: string;
  /** Labels to find the job by (`analysis`, `username:octocat`). */
  tags?: string[];
  /** Jobs to run after this one, in order, each when the one before completes. */
  chain?: JobSpec[];
  /** Job enqueued when any link of the chain fails for good; its payload gets `failure`. */
  catch?: JobSpec;
}

/** What a chain carries from link to link (stored as JSON on each link). */
export interface ChainState {
  next: JobSpec[];
  catch?: JobSpec;
}

/** One recorded failed attempt. */
export interface AttemptError {
  attempt: number;
  at: number;
  message: string;
  stack?: string;
}

/** A job row as read back. Times are ms since the epoch. */
export interface Job {
  id: number;
  queue: string;
  name: string;
  payload: unknown;
  state: JobState;
  priority: number;
  attempts: number;
  maxAttempts: number;
  backoff: number[];
  timeoutMs: number | null;
  retryUntil: number | null;
  availableAt: number;
  createdAt: number;
  reservedAt: number | null;
  finishedAt: number | null;
  reservedBy: string | null;
  leaseExpiresAt: number | null;
  leaseToken: number;
  uniqueKey: string | null;
  tags: string[];
  chain: ChainState | null;
  batchId: string | null;
  errors: AttemptError[];
}

/** A job handed to a worker by a claim: what a handler needs, plus the lease's token. */
export interface ClaimedJob {
  id: number;
  queue: string;
  name: string;
  /** The payload as stored (JSON text); parse it with JSON.parse. */
  payload: string;
  priority: number;
  /** This attempt's number, starting at 1. */
  attempts: number;
  maxAttempts: number;
  timeoutMs: number | null;
  /** Available since (ms epoch): wait = reservedAt - availableAt. */
  availableAt: number;
  /** The fencing token of this lease. */
  token: number;
}

/** Identifies one lease on one job: the job and the fencing token its claim returned. */
export interface Lease {
  id: number;
  token: number;
}

/** What happened to a job whose attempt ended without completing (a completion answers true or false). */
export type Outcome =
  | { kind: 'released'; availableAt: number }
  | { kind: 'delayed'; availableAt: number }
  | { kind: 'failed'; failedUuid: string; reason: string }
  /** The lease was lost (expired and reclaimed): the result was rejected. */
  | { kind: 'lost' };

/** A row of `failed_jobs`. */
export interface FailedJob {
  uuid: string;
  jobId: number | null;
  queue: string;
  name: string;
  payload: unknown;
  tags: string[];
  batchId: string | null;
  attempts: number;
  error: string;
  stack: string | null;
  failedAt: number;
}

/** A batch row with its counters. */
export interface Batch {
  id: string;
  name: string | null;
  total: number;
  pending: number;
  processed: number;
  failed: number;
  /** Jobs cancelled before they ran (batch cancel, queue clear, jobs cancel). */
  cancelled: number;
  allowFailures: boolean;
  createdAt: number;
  finishedAt: number | null;
  cancelledAt: number | null;
  thenDispatched: boolean;
  catchDispatched: boolean;
  finallyDispatched: boolean;
}

/** A worker registration (one per daemon process). */
export interface Worker {
  id: string;
  pid: number;
  hostname: string;
  version: string;
  queues: string[];
  concurrency: number;
  busy: number;
  status: string;
  startedAt: number;
  heartbeatAt: number;
  /** Its supervisors as of its last heartbeat (empty for a worker that records none). */
  supervisors: SupervisorState[];
}

/**
 * One supervisor of a daemon, as recorded in its workers row: a named pool of slots over
 * some queues with a balance mode (Horizon's supervisor, with slots for processes).
 */
export interface SupervisorState {
  name: string;
  queues: string[];
  /** `false`: claim in queue order; `simple`: even caps; `auto`: caps moved by load. */
  balance: false | 'simple' | 'auto';
  autoScalingStrategy: 'time' | 'size';
  /** Total slots, never exceeded. */
  maxProcesses: number;
  /** Minimum cap per queue (auto). */
  minProcesses: number;
  balanceMaxShift: number;
  /** Seconds between auto rebalances. */
  balanceCooldown: number;
  /** True while `daemon pause` (all or this supervisor) holds it. */
  paused: boolean;
  /** Jobs running now. */
  busy: number;
  /** Per queue: the slots the loop may fill now (its cap). */
  slots: Record<string, number>;
  /** Per queue: jobs running now. */
  busyByQueue: Record<string, number>;
  /** When its slots last moved (ms epoch; its start when they never did). */
  scaledAt: number;
}
