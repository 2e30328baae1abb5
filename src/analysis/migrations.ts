import type { MigrationRoom } from '../queue/index.js';

/**
 * Schema of the analysis room. The n-th element has the ledger id `analysis/000n`; the app
 * opens its database with the queue's and these (docs/migrations.md). Append only.
 */
export const analysisMigrations: string[] = [
  // analyses: one row per review. JSON columns: report (the written review), snapshot
  // (trimmed GitHub data), signals (the scorecard: every signal with its evidence).
  // Times are ms since the epoch. Usernames are the canonical login GitHub returned,
  // compared case-insensitively through the lower(username) index.
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
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    completed_at INTEGER
  );
  CREATE INDEX analyses_username_created ON analyses (lower(username), created_at);
  CREATE INDEX analyses_status ON analyses (status);`,

  // http_cache: conditional-request cache for GitHub. The key holds a hash of the token
  // identity (ETags are bound to the token), never the token itself.
  `CREATE TABLE http_cache (
    key TEXT PRIMARY KEY,
    etag TEXT NOT NULL,
    body TEXT NOT NULL,
    fetched_at INTEGER NOT NULL
  );
  CREATE INDEX http_cache_fetched_at ON http_cache (fetched_at);`,

  // batch_id: the queue batch (`gitroast batch`) that created the analysis, so `batches
  // show` can list its analyses after the batch's job rows have been trimmed.
  `ALTER TABLE analyses ADD COLUMN batch_id TEXT;
  CREATE INDEX analyses_batch ON analyses (batch_id) WHERE batch_id IS NOT NULL;`,

  // The newest analyses, all or of one status (\`gitroast list\`, the monitor's analyses
  // view), read from an index instead of sorting the whole table.
  `CREATE INDEX analyses_created ON analyses (created_at);
  CREATE INDEX analyses_status_created ON analyses (status, created_at);
  DROP INDEX analyses_status;`,

  // What each analysis cost GitHub (REST requests, GraphQL points), and github_budget: the
  // rate-limit budget per token fingerprint (a hash, never the token) and resource ("core",
  // "graphql"), as the headers of the last answer told it (budget.ts).
  `ALTER TABLE analyses ADD COLUMN rest_requests INTEGER;
  ALTER TABLE analyses ADD COLUMN graphql_cost INTEGER;
  CREATE TABLE github_budget (
    fingerprint TEXT NOT NULL,
    resource TEXT NOT NULL,
    lim INTEGER NOT NULL,
    remaining INTEGER NOT NULL,
    reset_at INTEGER NOT NULL,
    used INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (fingerprint, resource)
  ) WITHOUT ROWID;`,
];

/** The analysis room's migrations, as openers take them. */
export const analysisRoom: MigrationRoom = { room: 'analysis', migrations: analysisMigrations };
