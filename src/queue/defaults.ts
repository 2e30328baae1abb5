/**
 * The queue's defaults, in one place: every module, command and the config schema read
 * them here (or from the configuration, which defaults to them), so "alive", a lease or a
 * list length means the same thing everywhere.
 */

/** Lease of a claimed job (Laravel's retry_after), extended while the job runs: 90,000 ms. */
export const LEASE_MS = 90_000;

/** Interval of a worker's heartbeat, lease extension and stale-worker recovery: 5,000 ms. */
export const HEARTBEAT_MS = 5_000;

/**
 * A worker whose heartbeat is older than this is gone (not alive): its jobs are recovered,
 * `status`, the monitor, `doctor`, `/health` and `analyze` stop counting it: 30,000 ms.
 * The config's `staleSeconds` overrides it for every one of them.
 */
export const STALE_MS = 30_000;

/** Safety poll, control flags and rebalancing interval of a worker: 1,000 ms. */
export const POLL_MS = 1_000;

/** Timeout of a job that sets none (nor its config nor its handler): 60,000 ms. */
export const JOB_TIMEOUT_MS = 60_000;

/** Async slots of a worker (jobs running at once): 10. */
export const CONCURRENCY = 10;

/** The window of "completed" counts in `status` and the monitor's queue view: one hour. */
export const COMPLETED_WINDOW_MS = 3_600_000;

/** Rows of a job listing (`queue jobs`, listJobs) when no limit is given: 100. */
export const JOBS_LIST_LIMIT = 100;

/** Rows of `failed list` when no --limit is given: 100. */
export const FAILED_LIST_LIMIT = 100;

/** Rows of listFailed (and the monitor's failed view) when no limit is given: 1,000. */
export const FAILED_READ_LIMIT = 1000;

/** Rows of a batch listing when no limit is given: 100. */
export const BATCHES_LIST_LIMIT = 100;

/** Rows of the monitor's job, batch and analysis lists: 500. */
export const MONITOR_LIST_LIMIT = 500;

/** How many of a tag's newest jobs a tag read (the tag: filter, the Tags screen) walks at most, in job id order: 50,000. */
export const TAG_SCAN_LIMIT = 50_000;

/** How many of a state's newest rows a listing walks at most when silenced jobs are left out: 5,000. */
export const SILENCED_SCAN_LIMIT = 5000;

/** How long jobs carrying a monitored tag are kept (Horizon's `monitored` trim), unless the config says otherwise: 10,080 minutes (7 days). */
export const MONITORED_TRIM_MINUTES = 10_080;

/** Jobs a queue clear cancels per transaction, so the write lock is never held long. */
export const CLEAR_CHUNK = 1000;
