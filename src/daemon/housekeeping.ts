import { checkpoint, flushFailed, pruneBatches, snapshotMetrics, trimJobs } from '../queue/index.js';
import type { Registry } from './registry.js';

/** Ages for the housekeeping schedules. */
export interface HousekeepingOptions {
  /** Delete completed (and cancelled) job rows older than this. Default 60. */
  completedMinutes?: number;
  /** Delete failed job rows (history) older than this. Default 10,080 (7 days). */
  failedRowsMinutes?: number;
  /** Delete failed_jobs entries (the actionable list) older than this. Default 168 (7 days). */
  failedJobsHours?: number;
  /** Delete metrics snapshots older than this. Default 10,080. */
  snapshotsMinutes?: number;
  /** Delete batches that finished more than this many hours ago (Laravel's queue:prune-batches). Default 48. */
  batchesHours?: number;
  /** Keep jobs carrying a monitored tag until they are this old. Default MONITORED_TRIM_MINUTES (10,080: 7 days). */
  monitoredMinutes?: number;
}

/** The built-in schedules and their default cron expressions. */
export const HOUSEKEEPING_CRONS: Readonly<Record<string, string>> = {
  'trim-jobs': '*/5 * * * *',
  'flush-failed': '15 * * * *',
  'snapshot-metrics': '*/5 * * * *',
  checkpoint: '* * * * *',
};

/**
 * Add the housekeeping Laravel put in cron: trim completed jobs, flush old failed jobs,
 * snapshot metrics every five minutes, and checkpoint the WAL (TRUNCATE when this daemon
 * is idle, PASSIVE otherwise, so a busy queue never waits on it). Either engine's registry:
 * the schedules work through the store.
 */
export function addHousekeeping<W>(registry: Registry<W>, options: HousekeepingOptions = {}): void {
  const trim = { completedMinutes: options.completedMinutes ?? 60, failedMinutes: options.failedRowsMinutes ?? 10_080, snapshotMinutes: options.snapshotsMinutes ?? 10_080, monitoredMinutes: options.monitoredMinutes };
  const batchesHours = options.batchesHours ?? 48;
  const failedHours = options.failedJobsHours ?? 168;
  // On SQLite the work runs synchronously on the daemon's connection at the tick's time (as
  // the tests drive it); on PostgreSQL through the store, on the server's clock.
  registry.schedule('trim-jobs', HOUSEKEEPING_CRONS['trim-jobs']!, async ({ db, store, at }) => {
    const n = db ? trimJobs(db, trim, at) : await store.trimJobs(trim);
    const b = db ? pruneBatches(db, batchesHours, at) : await store.pruneBatches(batchesHours);
    return `trimmed ${n} rows, pruned ${b} finished batches`;
  }, `trim completed jobs older than ${trim.completedMinutes} min, prune batches finished more than ${batchesHours} h ago`);
  registry.schedule('flush-failed', HOUSEKEEPING_CRONS['flush-failed']!, async ({ db, store, at }) => `flushed ${db ? flushFailed(db, failedHours, at) : await store.flushFailed(failedHours)} failed jobs`,
    `flush failed jobs older than ${failedHours} h`);
  registry.schedule('snapshot-metrics', HOUSEKEEPING_CRONS['snapshot-metrics']!, async ({ db, store, at }) => `wrote ${db ? snapshotMetrics(db, undefined, at) : await store.snapshotMetrics()} snapshot rows`,
    'snapshot throughput, runtime and wait per queue and job since the previous snapshot');
  registry.schedule('checkpoint', HOUSEKEEPING_CRONS.checkpoint!, ({ db, idle }) => {
    if (!db) return 'no write-ahead log of ours to checkpoint (PostgreSQL)';
    const mode = idle() ? 'TRUNCATE' : 'PASSIVE';
    const r = checkpoint(db, mode);
    return `${mode} checkpoint: ${r.checkpointed}/${r.log} frames${r.busy ? ' (busy)' : ''}`;
  }, 'checkpoint the WAL (TRUNCATE when idle)');
}
