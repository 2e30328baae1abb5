/** The durable SQLite queue. Knows nothing of GitHub, terminals or processes. */
export * from './types.js';
export * from './errors.js';
export { openDatabase, immediate, schemaVersion, stmt, checkpoint, ping, type CheckpointResult, type Db, type Durability, type OpenOptions } from './db.js';
export { queueMigrations, queueRoom } from './migrations.js';
export { LEDGER_TABLE, migrationId, migrationsOf, inspectSchema, type Migration, type MigrationRoom, type SchemaReport } from './ledger.js';
export * from './defaults.js';
export { MAX_PAYLOAD_BYTES, assertJobName, assertQueueName, backoffSeconds } from './validate.js';
export {
  enqueue, enqueueInTx, enqueueMany, enqueueManyInTx, claim, claimInTx, nextDueAt, readyToClaim, completedUnder, complete, completeInTx, completeMany, completeManyInTx,
  release, releaseInTx, delay, delayInTx, fail, failInTx, extendLease, assertQueues, parseJson,
  completeWithWritesInTx, writeUnderLease, setFailureHook, type FailureHook, type FinalFailure, type BatchFailure, DEFAULT_MAX_RATE_LIMIT_WAIT_MS, type LeasedWrite, type DelayOptions,
  type Enqueued, type EnqueueContext, type ClaimOptions, type ErrorInfo,
} from './jobs.js';
export { onEnqueued, notifyEnqueued } from './notify.js';
export {
  newWorkerId, registerWorker, heartbeat, recordSupervisors, deregisterWorker, listWorkers, liveWorkers, isAlive, recoverLeases,
  type WorkerRegistration, type RecoveryResult,
} from './workers.js';
export { listFailed, getFailed, countFailed, failedTotal, retryFailed, forgetFailed, flushFailed, type FailedFilter, type Retried } from './failed.js';
export {
  createBatch, createBatchInTx, getBatch, listBatches, cancelBatch, retryBatch, batchDetail, pruneBatches,
  type BatchHead, type BatchSpec, type BatchDetail, type BatchJob, type BatchFailureRow, type CallbackState,
} from './batches.js';
export {
  pauseQueue, continueQueue, pausedQueues, getSetting, setSetting, queueStats, pendingByQueue, getJob, listJobs, silencedOf, isSilenced,
  type QueueStats, type JobFilter, type Silenced,
} from './queues.js';
export { computeMetrics, throughputSeries, metricSeries, snapshotMetrics, listSnapshots, trimJobs, type Metric, type SeriesPoint, type Snapshot, type TrimOptions } from './metrics.js';
export { daemonControl, setDaemonsPaused, setSupervisorPaused, requestDaemonStop, type DaemonControl } from './control.js';
export { cancelJobs, cancelJobInTx, clearQueue, countClearable, CANCELLED_REASON, type Cancelled } from './cancel.js';
export { holdJobs, releaseHold, listHolds, type Hold } from './holds.js';
export { claimThrottledInTx, listThrottles, type ThrottleRule, type Throttles, type ThrottledClaim, type ThrottleState } from './throttles.js';
export {
  createReadModel, chartData, CHART_BUCKETS, headerData, overviewQueues, overviewData, aggregateSnapshots, metricRows, queueRows, fingerprint, groupFailed, METRICS_WINDOW_MS,
  type ReadModel, type ReadModelOptions, type DaemonStatus, type HeaderData, type JobEvent, type OverviewQueue, type OverviewData, type QueueRow,
  type MetricsWindow, type MetricRow, type JobsTab, type JobQuery, type ActionResult, type Actions, type FailedGroup,
} from './read-model.js';
export { monitorTag, unmonitorTag, listMonitoredTags, jobsByTag, tagSummaries, assertTag, type MonitoredTag, type TagSummary } from './tags.js';
export { claimTick, raiseAlert, resolveAlert, raisedAlerts, oldestPendingByQueue } from './signals.js';
export { createSqliteStore, type Store, type AnyStore, type SqliteStoreOptions, type ClaimPlan, type Take, type Completion, type Settlement, type CommitBatch, type CommitResult } from './store.js';
export { Staging, type Staged } from './staging.js';
