/** The durable SQLite queue. Knows nothing of GitHub, terminals or processes. */
export * from './types.js';
export * from './errors.js';
export { openDatabase, immediate, schemaVersion, stmt, type Db, type Durability, type OpenOptions } from './db.js';
export { queueMigrations } from './migrations.js';
export { MAX_PAYLOAD_BYTES, assertJobName, assertQueueName, backoffSeconds } from './validate.js';
export {
  enqueue, enqueueInTx, enqueueMany, claim, claimInTx, nextDueAt, complete, completeInTx, completeMany, completeManyInTx,
  release, releaseInTx, delay, delayInTx, fail, failInTx, extendLease, assertQueues, parseJson,
  type Enqueued, type EnqueueContext, type ClaimOptions, type ErrorInfo,
} from './jobs.js';
export { onEnqueued, notifyEnqueued } from './notify.js';
export {
  newWorkerId, registerWorker, heartbeat, deregisterWorker, listWorkers, liveWorkers, recoverLeases,
  type WorkerRegistration, type RecoveryResult,
} from './workers.js';
export { listFailed, getFailed, countFailed, retryFailed, forgetFailed, flushFailed, type FailedFilter, type Retried } from './failed.js';
export { createBatch, createBatchInTx, getBatch, listBatches, cancelBatch, retryBatch, type BatchHead, type BatchSpec } from './batches.js';
export {
  pauseQueue, continueQueue, pausedQueues, getSetting, setSetting, queueStats, getJob, listJobs,
  type QueueStats, type JobFilter,
} from './queues.js';
export { computeMetrics, throughputSeries, snapshotMetrics, listSnapshots, trimJobs, type Metric, type Snapshot, type TrimOptions } from './metrics.js';
export { daemonControl, setDaemonsPaused, requestDaemonStop, type DaemonControl } from './control.js';
