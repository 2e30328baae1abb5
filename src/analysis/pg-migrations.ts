import type { MigrationRoom } from '../queue/index.js';

/**
 * The analysis room's schema on PostgreSQL: element for element the SQLite list in
 * ./migrations.ts (same ledger ids `analysis/000n`, same columns and meaning; times are
 * BIGINT ms, JSON is TEXT, so rows copy between engines unchanged). Append to both together.
 */
export const pgAnalysisMigrations: string[] = [
  `CREATE TABLE analyses (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
      CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    stage TEXT NOT NULL DEFAULT 'queued'
      CHECK (stage IN ('queued', 'fetching', 'writing', 'done')),
    overall INTEGER,
    score_profile INTEGER,
    score_projects INTEGER,
    score_consistency INTEGER,
    score_technical INTEGER,
    score_community INTEGER,
    formula_version TEXT,
    report TEXT,
    snapshot TEXT,
    signals TEXT,
    error TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    model TEXT,
    kept INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    completed_at BIGINT
  );
  CREATE INDEX analyses_username_created ON analyses (lower(username), created_at);
  CREATE INDEX analyses_status ON analyses (status);`,

  `CREATE TABLE http_cache (
    key TEXT PRIMARY KEY,
    etag TEXT NOT NULL,
    body TEXT NOT NULL,
    fetched_at BIGINT NOT NULL
  );
  CREATE INDEX http_cache_fetched_at ON http_cache (fetched_at);`,

  `ALTER TABLE analyses ADD COLUMN batch_id TEXT;
  CREATE INDEX analyses_batch ON analyses (batch_id) WHERE batch_id IS NOT NULL;`,

  `CREATE INDEX analyses_created ON analyses (created_at);
  CREATE INDEX analyses_status_created ON analyses (status, created_at);
  DROP INDEX analyses_status;`,

  `ALTER TABLE analyses ADD COLUMN rest_requests INTEGER;
  ALTER TABLE analyses ADD COLUMN graphql_cost INTEGER;
  CREATE TABLE github_budget (
    fingerprint TEXT NOT NULL,
    resource TEXT NOT NULL,
    lim BIGINT NOT NULL,
    remaining BIGINT NOT NULL,
    reset_at BIGINT NOT NULL,
    used BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (fingerprint, resource)
  );`,
];

/** The analysis room's PostgreSQL migrations, as the PostgreSQL opener takes them. */
export const pgAnalysisRoom: MigrationRoom = { room: 'analysis', migrations: pgAnalysisMigrations };
