/**
 * The monitor's data model: what a screen shows, and the DataSource that fetches it.
 * Components never touch the database; they get a DataSource and a Clock as props, so tests
 * drive them with a fake source and a fixed clock.
 */
import type { Actions, Batch, BatchDetail, DaemonControl, FailedJob, HeaderData, Hold, Job, JobQuery, JobsTab, MetricRow, MetricsWindow, OverviewData, QueueRow, SeriesPoint, TagSummary, ThrottleState, Worker } from '../queue/index.js';

/** The time, ms since the epoch. Passed as a prop; tests fix it. */
export interface Clock {
  now(): number;
}

// The screens' data types live in src/queue's read model, which the web dashboard shares.
export type { HeaderData, JobEvent, OverviewData, QueueRow, MetricsWindow, MetricRow } from '../queue/index.js';

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

export type { JobsTab, JobQuery, Actions } from '../queue/index.js';

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
  workers(now: number): { workers: Worker[]; control: DaemonControl; aliveMs?: number; throttles?: ThrottleState[]; holds?: Hold[]; notes?: string[] };
  batches(limit: number): Batch[];
  /** One batch with its jobs by state, failures and callbacks; undefined when it is gone. */
  batch?(id: string): BatchDetail | undefined;
  analyses?(limit: number): AnalysisRow[];
  /** Each monitored tag with its counts, its `limit` newest jobs and newest failed jobs. */
  tags?(limit: number): TagSummary[];
  /** The chart of one queue or job name over a window. */
  chart?(kind: 'queue' | 'job', key: string, window: MetricsWindow, now: number): SeriesPoint[];
  /** Undefined when the monitor is read-only. */
  actions?: Actions;
}
