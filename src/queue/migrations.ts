import type { MigrationRoom } from './ledger.js';

/**
 * The queue's schema as numbered migrations: the n-th element has the ledger id
 * `queue/000n` and runs in its own BEGIN IMMEDIATE transaction (docs/migrations.md).
 * Never edit a shipped migration: append a new one.
 *
 * Index design (why the claim is cheap):
 * - jobs_ready is a partial index holding only `pending` rows, ordered as they are
 *   claimed. Delayed and backed-off jobs are `delayed` and live in jobs_delayed instead,
 *   so a queue with a million scheduled jobs still claims with one short index seek.
 * - jobs_reserved holds only leased rows, by lease expiry, for the reaper.
 * - jobs_completed / jobs_failed / jobs_cancelled hold finished rows by finish time, for
 *   trimming and metrics. One partial index per state, because SQLite only uses a partial
 *   index whose WHERE the query's WHERE implies, and `state = 'completed'` does not imply
 *   `state IN (…)` to its planner; queries name one state each.
 * - jobs_unique enforces "one pending/delayed/reserved job per unique key" in the schema.
 */
export const queueMigrations: string[] = [
  /* 1 */ `
  CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    queue            TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('pending','delayed','reserved','completed','failed','cancelled')),
    priority         INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 3,
    backoff          TEXT,
    timeout_ms       INTEGER,
    retry_until      INTEGER,
    available_at     INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    reserved_at      INTEGER,
    finished_at      INTEGER,
    reserved_by      TEXT,
    lease_expires_at INTEGER,
    lease_token      INTEGER NOT NULL DEFAULT 0,
    unique_key       TEXT,
    tags             TEXT,
    chain            TEXT,
    batch_id         TEXT,
    errors           TEXT
  );
  CREATE INDEX jobs_ready    ON jobs (queue, priority DESC, id) WHERE state = 'pending';
  CREATE INDEX jobs_delayed  ON jobs (available_at) WHERE state = 'delayed';
  CREATE INDEX jobs_reserved ON jobs (lease_expires_at) WHERE state = 'reserved';
  CREATE INDEX jobs_completed ON jobs (finished_at, queue) WHERE state = 'completed';
  CREATE INDEX jobs_failed    ON jobs (finished_at) WHERE state = 'failed';
  CREATE INDEX jobs_cancelled ON jobs (finished_at) WHERE state = 'cancelled';
  CREATE INDEX jobs_batch    ON jobs (batch_id) WHERE batch_id IS NOT NULL;
  CREATE UNIQUE INDEX jobs_unique ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('pending','delayed','reserved');

  CREATE TABLE failed_jobs (
    id         INTEGER PRIMARY KEY,
    uuid       TEXT    NOT NULL UNIQUE,
    job_id     INTEGER,
    queue      TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    options    TEXT    NOT NULL,
    tags       TEXT,
    batch_id   TEXT,
    attempts   INTEGER NOT NULL,
    error      TEXT    NOT NULL,
    stack      TEXT,
    failed_at  INTEGER NOT NULL
  );
  CREATE INDEX failed_jobs_failed_at ON failed_jobs (failed_at);

  CREATE TABLE batches (
    id                 TEXT    PRIMARY KEY,
    name               TEXT,
    total              INTEGER NOT NULL DEFAULT 0,
    pending            INTEGER NOT NULL DEFAULT 0,
    processed          INTEGER NOT NULL DEFAULT 0,
    failed             INTEGER NOT NULL DEFAULT 0,
    allow_failures     INTEGER NOT NULL DEFAULT 0,
    then_job           TEXT,
    catch_job          TEXT,
    finally_job        TEXT,
    then_dispatched    INTEGER NOT NULL DEFAULT 0,
    catch_dispatched   INTEGER NOT NULL DEFAULT 0,
    finally_dispatched INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    finished_at        INTEGER,
    cancelled_at       INTEGER
  );

  CREATE TABLE queues (
    name       TEXT PRIMARY KEY,
    paused     INTEGER NOT NULL DEFAULT 0,
    paused_at  INTEGER
  );

  CREATE TABLE workers (
    id           TEXT    PRIMARY KEY,
    pid          INTEGER NOT NULL,
    hostname     TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    queues       TEXT    NOT NULL,
    concurrency  INTEGER NOT NULL,
    busy         INTEGER NOT NULL DEFAULT 0,
    status       TEXT    NOT NULL DEFAULT 'running',
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
  );

  CREATE TABLE metrics_snapshots (
    id          INTEGER PRIMARY KEY,
    taken_at    INTEGER NOT NULL,
    window_ms   INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('queue','job')),
    key         TEXT    NOT NULL,
    processed   INTEGER NOT NULL,
    failed      INTEGER NOT NULL,
    runtime_avg REAL,
    runtime_p95 REAL,
    wait_avg    REAL,
    wait_p95    REAL
  );
  CREATE INDEX metrics_snapshots_taken ON metrics_snapshots (taken_at);

  CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  /* 2 */ `
  -- Count delayed jobs per queue from the index alone (the monitor's overview at 1M jobs).
  CREATE INDEX jobs_delayed_queue ON jobs (queue) WHERE state = 'delayed';
  `,
  /* 3 */ `
  -- failed_counts: rows of failed_jobs per queue, kept by triggers in the transaction that
  -- inserts or deletes them, so status, /health and the monitor read the failed list's
  -- size without counting it (it holds a week of failures: history, not backlog).
  CREATE TABLE failed_counts (
    queue TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO failed_counts (queue, n) SELECT queue, COUNT(*) FROM failed_jobs GROUP BY queue;
  CREATE TRIGGER failed_jobs_count_insert AFTER INSERT ON failed_jobs BEGIN
    INSERT INTO failed_counts (queue, n) VALUES (new.queue, 1) ON CONFLICT (queue) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER failed_jobs_count_delete AFTER DELETE ON failed_jobs BEGIN
    UPDATE failed_counts SET n = n - 1 WHERE queue = old.queue;
  END;
  `,
  /* 4 */ `
  -- A batch counts its cancelled jobs apart from processed and failed ones (queue clear, jobs cancel).
  ALTER TABLE batches ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0;
  -- Finished batches by finish time, for pruning them (Laravel's queue:prune-batches).
  CREATE INDEX batches_finished ON batches (finished_at) WHERE finished_at IS NOT NULL;
  `,
  /* 5 */ `
  -- A daemon's supervisors (name, balance, slots per queue) as JSON, written with its heartbeat.
  ALTER TABLE workers ADD COLUMN supervisors TEXT;
  -- Throttle counters: starts in the current fixed window of one queue or job name, shared
  -- by every daemon on the database and updated inside the claim's transaction.
  CREATE TABLE throttles (
    key          TEXT    PRIMARY KEY,
    max          INTEGER NOT NULL,
    per_ms       INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
  );
  `,
  /* 6 */ `
  -- job_tags: one row per (tag, job), kept by triggers in the transaction that inserts or
  -- deletes the job, so the tag: filter and the Tags screen seek a tag instead of reading
  -- every job's JSON tags (they walk a tag's newest jobs in id order, with a LIMIT).
  CREATE TABLE job_tags (
    tag    TEXT    NOT NULL,
    job_id INTEGER NOT NULL,
    PRIMARY KEY (tag, job_id)
  ) WITHOUT ROWID;
  INSERT OR IGNORE INTO job_tags (tag, job_id) SELECT j.value, jobs.id FROM jobs, json_each(jobs.tags) AS j WHERE jobs.tags IS NOT NULL;
  CREATE TRIGGER jobs_tags_insert AFTER INSERT ON jobs WHEN new.tags IS NOT NULL BEGIN
    INSERT OR IGNORE INTO job_tags (tag, job_id) SELECT value, new.id FROM json_each(new.tags);
  END;
  CREATE TRIGGER jobs_tags_delete AFTER DELETE ON jobs WHEN old.tags IS NOT NULL BEGIN
    DELETE FROM job_tags WHERE job_id = old.id AND tag IN (SELECT value FROM json_each(old.tags));
  END;
  -- Monitored tags (Horizon's): their jobs are kept past the normal trim, for trim.monitoredMinutes.
  CREATE TABLE monitored_tags (
    tag        TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL
  );
  `,
  /* 7 */ `
  -- Holds: jobs of one name stay pending until a time, with a reason (a handler that knows
  -- its outside budget is spent sets one; see holds.ts). The claim skips held names.
  CREATE TABLE job_holds (
    name   TEXT    PRIMARY KEY,
    until  INTEGER NOT NULL,
    reason TEXT    NOT NULL,
    set_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
];

/** The queue room's migrations, as openers take them. */
export const queueRoom: MigrationRoom = { room: 'queue', migrations: queueMigrations };
