/**
 * The monitor's data model: what a screen shows, and the DataSource that fetches it.
 * Components never touch the database; they get a DataSource and a Clock as props, so tests
 * drive them with a fake source and a fixed clock.
 */
import type { Batch, BatchDetail, DaemonControl, FailedJob, Job, Metric, QueueStats, ThrottleState, Worker } from '../queue/index.js';

/** The time, ms since the epoch. Passed as a prop; tests fix it. */
export interface Clock {
  now(): number;
}

/** Whether daemons are working: `active` (claiming), `paused` (alive, not claiming), `inactive` (none alive). */
export type DaemonStatus = 'active' | 'paused' | 'inactive';

/** What the header shows on every screen. */
export interface HeaderData {
  status: DaemonStatus;
  daemons: number;
  busy: number;
  slots: number;
}

/** One line of the overview's live tail. */
export interface JobEvent {
  at: number;
  event: 'enqueued' | 'started' | 'completed' | 'failed';
  id: number;
  queue: string;
  name: string;
}

/** A queue's line on the overview: sizes, the oldest wait and the pause flag. */
export type OverviewQueue = Omit<QueueStats, 'completed'>;

/** Everything the overview draws, fetched in one short read transaction. */
export interface OverviewData {
  header: HeaderData;
  /** Jobs completed in the past minute. */
  jobsPerMinute: number;
  /** Jobs completed or failed in the past hour. */
  jobsPastHour: number;
  /** failed_jobs rows from the past 7 days. */
  failedPast7d: number;
  longestWait: { queue: string; ms: number } | null;
  /** The job that ran longest among those finished in the past hour. */
  longestRuntime: { name: string; id: number; ms: number } | null;
  /** Completed jobs per minute over the past 60 minutes, oldest first. */
  throughput: number[];
  queues: OverviewQueue[];
  events: JobEvent[];
}

/** A queue with its sizes and its past hour's throughput and error rate. */
export interface QueueRow extends QueueStats {
  perMinute: number;
  processed: number;
  failedHour: number;
  /** failed / (processed + failed) over the past hour, 0..1; null when nothing ran. */
  errorRate: number | null;
}

export type MetricsWindow = '1h' | '24h' | '7d';

/** A metric as shown: per queue or per job name. p50 is null where only snapshots exist. */
export type MetricRow = Metric & { approximate?: boolean };

/** One row of the analyses table (filled only when src/cli supplies it). */
export interface AnalysisRow {
  id: string;
  username: string;
  status: string;
  stage: string;
  overall: number | null;
  createdAt: number;
  updatedAt: number;
  error: string | null;
}

export type JobsTab = 'pending' | 'delayed' | 'reserved' | 'completed' | 'failed';

/** A parsed `/` filter: `queue:x`, `name:x`, `tag:x`, and free text. */
export interface JobQuery {
  queue?: string;
  name?: string;
  tag?: string;
  text?: string;
}

/** What an action did, as one line for the footer. */
export type ActionResult = string;

/** The writes the monitor can make; absent when the monitor is read-only. */
export interface Actions {
  retryFailed(uuids: readonly string[]): ActionResult;
  forgetFailed(uuids: readonly string[]): ActionResult;
  pauseQueue(queue: string): ActionResult;
  continueQueue(queue: string): ActionResult;
  pauseDaemons(paused: boolean): ActionResult;
  stopDaemons(): ActionResult;
  retryBatch(id: string): ActionResult;
  cancelBatch(id: string): ActionResult;
  /** Cancel every pending and delayed job of a queue (horizon:clear). */
  clearQueue(queue: string): ActionResult;
  /** Cancel one pending or delayed job. */
  cancelJob(id: number): ActionResult;
}

/**
 * Where the monitor gets its data. Every function is a short, bounded read; `now` comes
 * from the monitor's clock. `analyses` is optional: the monitor does not know the analysis
 * room, the CLI fills it when that table exists.
 */
export interface DataSource {
  header(now: number): HeaderData;
  overview(now: number): OverviewData;
  jobs(tab: JobsTab, query: JobQuery, limit: number, now: number): Job[];
  job(id: number): Job | undefined;
  failed(limit: number): FailedJob[];
  queues(now: number): QueueRow[];
  metrics(window: MetricsWindow, now: number): MetricRow[];
  /** The daemons, the control flags, the alive threshold (ms; default STALE_MS) the header also uses, and the throttles' state. */
  workers(now: number): { workers: Worker[]; control: DaemonControl; aliveMs?: number; throttles?: ThrottleState[] };
  batches(limit: number): Batch[];
  /** One batch with its jobs by state, failures and callbacks; undefined when it is gone. */
  batch?(id: string): BatchDetail | undefined;
  analyses?(limit: number): AnalysisRow[];
  /** Undefined when the monitor is read-only. */
  actions?: Actions;
}
