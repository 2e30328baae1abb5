/**
 * The analyses table: one row per review, read and written through these functions. Every
 * write is one short BEGIN IMMEDIATE transaction, never held across an await. Usernames
 * are compared case-insensitively (GitHub logins are). Every statement is prepared once per
 * connection (stmt) and reads an index: a lookup by login is a seek on
 * analyses_username_created, never a scan of the table (test/queue/plans.test.ts checks it).
 */
import { randomUUID } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import type { PgDb } from '../queue/pg/connect.js';
import { immediate, stmt } from '../queue/index.js';
import { DAY_MS } from '../util/format.js';
import type { Review } from './prompt.js';
import type { Scorecard } from './score.js';
import type { ProfileSnapshot } from './snapshot.js';

export type AnalysisStatus = 'pending' | 'processing' | 'completed' | 'failed';
export type AnalysisStage = 'queued' | 'fetching' | 'writing' | 'done';

/** Token usage of the model calls behind one review. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/** One analysis row, typed. */
export interface Analysis {
  id: string;
  username: string;
  status: AnalysisStatus;
  stage: AnalysisStage;
  overall: number | null;
  scores: Record<'profile' | 'projects' | 'consistency' | 'technical' | 'community', number> | null;
  formulaVersion: string | null;
  report: Review | null;
  snapshot: ProfileSnapshot | null;
  scorecard: Scorecard | null;
  error: string | null;
  usage: Usage | null;
  model: string | null;
  kept: boolean;
  /** The queue batch that created it (`gitroast batch`), or null. */
  batchId: string | null;
  /** What collecting it cost GitHub: REST requests and GraphQL points (null before it was collected). */
  githubCost: { restRequests: number; graphqlPoints: number | null } | null;
  createdAt: number;
  updatedAt: number;
  completedAt: number | null;
}

/** An analyses row as either engine returns it. */
export interface Row {
  id: string;
  username: string;
  status: AnalysisStatus;
  stage: AnalysisStage;
  overall: number | null;
  score_profile: number | null;
  score_projects: number | null;
  score_consistency: number | null;
  score_technical: number | null;
  score_community: number | null;
  formula_version: string | null;
  report: string | null;
  snapshot: string | null;
  signals: string | null;
  error: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  model: string | null;
  kept: number;
  batch_id?: string | null;
  rest_requests?: number | null;
  graphql_cost?: number | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
}

/** Longest failure reason kept on a row. */
export const ERROR_LIMIT = 2000;

function parseJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** Map a row to an Analysis. */
export function toAnalysis(row: Row): Analysis {
  const scored = row.overall !== null;
  return {
    id: row.id,
    username: row.username,
    status: row.status,
    stage: row.stage,
    overall: row.overall,
    scores: scored
      ? {
          profile: row.score_profile ?? 0,
          projects: row.score_projects ?? 0,
          consistency: row.score_consistency ?? 0,
          technical: row.score_technical ?? 0,
          community: row.score_community ?? 0,
        }
      : null,
    formulaVersion: row.formula_version,
    report: parseJson<Review>(row.report),
    snapshot: parseJson<ProfileSnapshot>(row.snapshot),
    scorecard: parseJson<Scorecard>(row.signals),
    error: row.error,
    usage:
      row.prompt_tokens === null || row.completion_tokens === null
        ? null
        : { promptTokens: row.prompt_tokens, completionTokens: row.completion_tokens },
    model: row.model,
    kept: row.kept === 1,
    batchId: row.batch_id ?? null,
    githubCost: row.rest_requests === null || row.rest_requests === undefined ? null : { restRequests: row.rest_requests, graphqlPoints: row.graphql_cost ?? null },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    completedAt: row.completed_at,
  };
}

/** Create a pending analysis for `username` (the canonical login when known), of queue batch `batchId` if given. */
export function createAnalysis(
  db: Database,
  opts: { username: string; id?: string; now?: number; batchId?: string },
): Analysis {
  const id = opts.id ?? randomUUID();
  const now = opts.now ?? Date.now();
  immediate(db, () =>
    stmt(db, `INSERT INTO analyses (id, username, status, stage, created_at, updated_at, batch_id)
              VALUES (?, ?, 'pending', 'queued', ?, ?, ?)`).run(id, opts.username, now, now, opts.batchId ?? null),
  );
  // The row as inserted (the columns not named above take their defaults): no read-back.
  return {
    id, username: opts.username, status: 'pending', stage: 'queued', overall: null, scores: null, formulaVersion: null, report: null,
    snapshot: null, scorecard: null, error: null, usage: null, model: null, kept: false, batchId: opts.batchId ?? null, githubCost: null, createdAt: now, updatedAt: now, completedAt: null,
  };
}

/** Return the analysis with this id, or undefined. */
export function getAnalysis(db: Database, id: string): Analysis | undefined {
  const row = stmt(db, 'SELECT * FROM analyses WHERE id = ?').get(id) as Row | undefined;
  return row && toAnalysis(row);
}

/** Return the newest analysis of `username` (any case, any status), or undefined. */
export function findLatestByUsername(db: Database, username: string): Analysis | undefined {
  const row = stmt(db, `SELECT * FROM analyses WHERE lower(username) = lower(?) ORDER BY created_at DESC, rowid DESC LIMIT 1`)
    .get(username) as Row | undefined;
  return row && toAnalysis(row);
}

/** Return the newest pending or processing analysis of `username`, or undefined. */
export function findActive(db: Database, username: string): Analysis | undefined {
  // `+status`: the status index must not be chosen over the login's own rows (a million
  // completed rows and a 200,000-login batch of pending ones would make it a long walk).
  const row = stmt(db, `SELECT * FROM analyses WHERE lower(username) = lower(?) AND +status IN ('pending', 'processing')
                        ORDER BY created_at DESC, rowid DESC LIMIT 1`).get(username) as Row | undefined;
  return row && toAnalysis(row);
}

/** Return the newest completed analysis of `username`, or undefined. */
export function findLatestCompleted(db: Database, username: string): Analysis | undefined {
  const row = stmt(db, `SELECT * FROM analyses WHERE lower(username) = lower(?) AND +status = 'completed'
                        ORDER BY created_at DESC, rowid DESC LIMIT 1`).get(username) as Row | undefined;
  return row && toAnalysis(row);
}

/**
 * The statements of listAnalyses, one per filter combination, so each can use its index
 * (an `(@x IS NULL OR …)` filter cannot: it made every enqueue read the whole table).
 */
const LIST = {
  all: `SELECT * FROM analyses ORDER BY created_at DESC, rowid DESC LIMIT ?`,
  status: `SELECT * FROM analyses WHERE status = ? ORDER BY created_at DESC, rowid DESC LIMIT ?`,
  username: `SELECT * FROM analyses WHERE lower(username) = lower(?) ORDER BY created_at DESC, rowid DESC LIMIT ?`,
  both: `SELECT * FROM analyses WHERE lower(username) = lower(?) AND +status = ? ORDER BY created_at DESC, rowid DESC LIMIT ?`,
} as const;

/** List analyses newest first; `status` and `username` filter, `limit` defaults to 20. */
export function listAnalyses(
  db: Database,
  opts: { status?: AnalysisStatus; username?: string; limit?: number } = {},
): Analysis[] {
  const limit = opts.limit ?? 20;
  const { status, username } = opts;
  const rows = (
    username !== undefined && status !== undefined ? stmt(db, LIST.both).all(username, status, limit) :
    username !== undefined ? stmt(db, LIST.username).all(username, limit) :
    status !== undefined ? stmt(db, LIST.status).all(status, limit) :
    stmt(db, LIST.all).all(limit)
  ) as Row[];
  return rows.map(toAnalysis);
}

/** Move an analysis to `stage` (processing unless done); false when there is no such row. */
export function setStage(db: Database, id: string, stage: AnalysisStage, now = Date.now()): boolean {
  return immediate(db, () =>
    stmt(db, `UPDATE analyses SET stage = ?, status = CASE WHEN ? = 'queued' THEN status ELSE 'processing' END,
         updated_at = ? WHERE id = ? AND status NOT IN ('completed', 'failed')`).run(stage, stage, now, id),
  ).changes > 0;
}

/**
 * Store what was collected and scored, set the canonical username GitHub returned, and
 * move the analysis to the writing stage; false when there is no such active row.
 */
export function saveCollected(
  db: Database,
  id: string,
  data: { snapshot: ProfileSnapshot; scorecard: Scorecard },
  now = Date.now(),
): boolean {
  const { snapshot, scorecard } = data;
  const c = scorecard.categories;
  return immediate(db, () =>
    stmt(db, `UPDATE analyses SET username = @username, status = 'processing', stage = 'writing',
           overall = @overall, score_profile = @profile, score_projects = @projects,
           score_consistency = @consistency, score_technical = @technical, score_community = @community,
           formula_version = @formula, snapshot = @snapshot, signals = @signals, updated_at = @now,
           rest_requests = @restRequests, graphql_cost = @graphqlCost
         WHERE id = @id AND status NOT IN ('completed', 'failed')`).run({
        id,
        username: snapshot.user.login,
        overall: scorecard.overall,
        profile: c.profile.score,
        projects: c.projects.score,
        consistency: c.consistency.score,
        technical: c.technical.score,
        community: c.community.score,
        formula: scorecard.formulaVersion,
        snapshot: JSON.stringify(snapshot),
        signals: JSON.stringify(scorecard),
        now,
        restRequests: snapshot.restRequests ?? snapshot.requests,
        graphqlCost: snapshot.graphqlCost ?? null,
      }),
  ).changes > 0;
}

/** Complete an analysis with its review; `usage` is null when the writer reported none. */
export function completeAnalysis(
  db: Database,
  id: string,
  report: Review,
  usage: Usage | null,
  model: string,
  now = Date.now(),
): boolean {
  return immediate(db, () =>
    stmt(db, `UPDATE analyses SET status = 'completed', stage = 'done', report = ?, prompt_tokens = ?,
           completion_tokens = ?, model = ?, error = NULL, completed_at = ?, updated_at = ?
         WHERE id = ?`).run(JSON.stringify(report), usage?.promptTokens ?? null, usage?.completionTokens ?? null, model, now, now, id),
  ).changes > 0;
}

/** Mark an analysis failed with a reason (truncated to 2,000 characters). */
export function failAnalysis(db: Database, id: string, reason: string, now = Date.now()): boolean {
  return immediate(db, () =>
    stmt(db, `UPDATE analyses SET status = 'failed', error = ?, completed_at = ?, updated_at = ? WHERE id = ?`).run(reason.slice(0, ERROR_LIMIT), now, now, id),
  ).changes > 0;
}

/** Keep an analysis forever (pruning skips it); `kept` defaults to true. */
export function keepAnalysis(db: Database, id: string, kept = true, now = Date.now()): boolean {
  return immediate(db, () =>
    stmt(db, 'UPDATE analyses SET kept = ?, updated_at = ? WHERE id = ?').run(kept ? 1 : 0, now, id),
  ).changes > 0;
}

/**
 * Delete finished (completed or failed), non-kept analyses created more than
 * `olderThanDays` (default 90) days before `now`; return how many went. Pending and
 * processing rows stay: a job may still be working on them.
 */
export function pruneAnalyses(db: Database, now: number, opts: { olderThanDays?: number } = {}): number {
  const cutoff = now - (opts.olderThanDays ?? 90) * DAY_MS;
  return immediate(db, () =>
    stmt(db, `DELETE FROM analyses WHERE kept = 0 AND status IN ('completed', 'failed') AND created_at < ?`).run(cutoff),
  ).changes;
}

/** Delete cached GitHub answers fetched more than `olderThanHours` (default 24) ago. */
export function pruneHttpCache(db: Database, now: number, olderThanHours = 24): number {
  return immediate(db, () =>
    stmt(db, 'DELETE FROM http_cache WHERE fetched_at < ?').run(now - olderThanHours * 3_600_000),
  ).changes;
}

/**
 * Put a failed analysis back in the pending state (its jobs were retried from the failed
 * list); false when there is no such failed row.
 */
export function reopenAnalysis(db: Database, id: string, now = Date.now()): boolean {
  return immediate(db, () => stmt(db, REOPEN).run(now, id)).changes > 0;
}

/** Put a failed analysis back to pending ($1 or ? the time, then the id): on both engines. */
export const REOPEN = `UPDATE analyses SET status = 'pending', stage = CASE WHEN overall IS NULL THEN 'queued' ELSE 'writing' END,
           error = NULL, completed_at = NULL, updated_at = ? WHERE id = ? AND status = 'failed'`;


/** Record the queue batch that created these analyses. */
export function setBatch(db: Database, ids: readonly string[], batchId: string): void {
  const update = stmt(db, 'UPDATE analyses SET batch_id = ? WHERE id = ?');
  immediate(db, () => {
    for (const id of ids) update.run(batchId, id);
  });
}

/** List the analyses a batch created, oldest first. */
export function listBatchAnalyses(db: Database, batchId: string): Analysis[] {
  const rows = stmt(db, 'SELECT * FROM analyses WHERE batch_id = ? ORDER BY created_at, rowid').all(batchId) as Row[];
  return rows.map(toAnalysis);
}

/**
 * Create one pending analysis of a batch, `batchId` set, and return its id. For batches of
 * any size: the statement is prepared once per connection and nothing is read back.
 * Caller holds the transaction.
 */
export function createBatchAnalysisInTx(db: Database, username: string, batchId: string, now: number): string {
  const id = randomUUID();
  stmt(db, `INSERT INTO analyses (id, username, status, stage, batch_id, created_at, updated_at)
            VALUES (?, ?, 'pending', 'queued', ?, ?, ?)`).run(id, username, batchId, now, now);
  return id;
}

// ---------------------------------------------------------------------------------------
// The monitors' list, and the HTTP cache (the collector's conditional requests)
// ---------------------------------------------------------------------------------------

/** One line of the monitors' analyses list: no report, snapshot or signals. */
export interface AnalysisHead {
  id: string;
  username: string;
  status: string;
  stage: string;
  overall: number | null;
  createdAt: number;
  updatedAt: number;
  error: string | null;
}

/** Return true once the analyses table exists (a database another room made may lack it). */
export function hasAnalysesTable(db: Database): boolean {
  return stmt(db, `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'analyses'`).get() !== undefined;
}

/** The columns of an AnalysisHead, on both engines. */
const HEAD_COLUMNS = 'id, username, status, stage, overall, created_at, updated_at, error';

/** An AnalysisHead's row as either engine returns it. */
type HeadRow = Pick<Row, 'id' | 'username' | 'status' | 'stage' | 'overall' | 'created_at' | 'updated_at' | 'error'>;

function toHead(r: HeadRow): AnalysisHead {
  return { id: String(r.id), username: r.username, status: r.status, stage: r.stage, overall: r.overall, createdAt: r.created_at, updatedAt: r.updated_at, error: r.error };
}

/**
 * Return the newest `limit` analyses, light, read backwards on analyses_created (ties newest
 * row first, as listAnalyses); none before the table exists.
 */
export function listAnalysisHeads(db: Database, limit: number): AnalysisHead[] {
  if (!hasAnalysesTable(db)) return [];
  const rows = stmt(db, `SELECT ${HEAD_COLUMNS} FROM analyses ORDER BY created_at DESC, rowid DESC LIMIT ?`).all(limit) as HeadRow[];
  return rows.map(toHead);
}

/**
 * What the analyses screens read (the Ink monitor's list; the web dashboard's list and
 * report), synchronously, whatever the engine: over SQLite by analysisViews, over any
 * AnalysisStore (PostgreSQL) by replaying analysisStoreViews (src/queue/store-model.ts
 * replayModel). The screens are the same on both.
 */
export interface AnalysisViews {
  /** The newest `limit` analyses, light (no report, snapshot or signals); none before the analyses table exists. */
  analyses(limit: number): AnalysisHead[];
  /** One analysis with its report; undefined when there is none (or no analyses table). */
  analysis(id: string): Analysis | undefined;
}

/** The AnalysisViews over SQLite, each run by `read` (a read model's: one short read transaction on its connection). */
export function analysisViews(read: <T>(fn: (db: Database) => T) => T): AnalysisViews {
  return {
    analyses: (limit) => read((db) => listAnalysisHeads(db, limit)),
    analysis: (id) => read((db) => (hasAnalysesTable(db) ? getAnalysis(db, id) : undefined)),
  };
}

/** The AnalysisViews over an AnalysisStore, each returning a promise: to be replayed (either engine; PostgreSQL's use). */
export function analysisStoreViews(store: AnalysisStore): { analyses(limit: number): Promise<AnalysisHead[]>; analysis(id: string): Promise<Analysis | undefined> } {
  return {
    analyses: (limit) => store.heads(limit),
    analysis: (id) => store.get(id),
  };
}

/** Return the cached ETag and body of an HTTP request key, or undefined. */
export function cachedResponse(db: Database, key: string): { etag: string; body: string } | undefined {
  return stmt(db, 'SELECT etag, body FROM http_cache WHERE key = ?').get(key) as { etag: string; body: string } | undefined;
}

/** Store or replace the cached ETag and body of an HTTP request key, in one short transaction. */
export function cacheResponse(db: Database, key: string, etag: string, body: string, now: number): void {
  const upsert = stmt(db, `INSERT INTO http_cache (key, etag, body, fetched_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET etag = excluded.etag, body = excluded.body, fetched_at = excluded.fetched_at`);
  immediate(db, () => upsert.run(key, etag, body, now));
}

// ---------------------------------------------------------------------------------------
// GitHub's rate-limit budget per token fingerprint (budget.ts reads and words it)

/** One resource's reading for recordBudget. */
export interface BudgetRowInput {
  resource: string;
  lim: number;
  remaining: number;
  resetAt: number;
  used: number;
}

/** Store the latest reading of each resource for `fingerprint`, in one short transaction. */
export function recordBudget(db: Database, fingerprint: string, readings: readonly BudgetRowInput[], now: number): void {
  const upsert = stmt(db, `INSERT INTO github_budget (fingerprint, resource, lim, remaining, reset_at, used, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (fingerprint, resource) DO UPDATE SET lim = excluded.lim, remaining = excluded.remaining,
      reset_at = excluded.reset_at, used = excluded.used, updated_at = excluded.updated_at`);
  immediate(db, () => {
    for (const r of readings) upsert.run(fingerprint, r.resource, r.lim, r.remaining, r.resetAt, r.used, now);
  });
}

/** Every budget row, freshest first (a handful: one per token and resource); none on a queue-only database. */
export function budgetRows(db: Database): { fingerprint: string; resource: string; lim: number; remaining: number; reset_at: number; used: number; updated_at: number }[] {
  try {
    return stmt(db, 'SELECT * FROM github_budget ORDER BY updated_at DESC').all() as ReturnType<typeof budgetRows>;
  } catch {
    return []; // a queue-only database has no analysis tables
  }
}



/**
 * The analysis room's operations the CLI's commands need, on either engine, each returning
 * a promise: SQLite (analysesOn, over the functions above) or PostgreSQL (pgAnalyses).
 * Times are the caller's `now` (the queue store's clock).
 */
export interface AnalysisStore {
  get(id: string): Promise<Analysis | undefined>;
  /** The newest analysis of a login (any case, any status). */
  latestByUsername(username: string): Promise<Analysis | undefined>;
  list(opts: { status?: AnalysisStatus; limit?: number }): Promise<Analysis[]>;
  /** The newest `limit` analyses, light (as listAnalysisHeads). */
  heads(limit: number): Promise<AnalysisHead[]>;
  /** A batch's analyses in creation order. */
  listBatch(batchId: string): Promise<Analysis[]>;
  keep(id: string, kept: boolean, now: number): Promise<boolean>;
  fail(id: string, reason: string, now: number): Promise<boolean>;
  reopen(id: string, now: number): Promise<boolean>;
  /** GitHub's budget rows (budget.ts budgetsFrom reads them). */
  budgetRows(): Promise<ReturnType<typeof budgetRows>>;
}

/** The AnalysisStore over a SQLite database. */
export function analysesOn(db: Database): AnalysisStore {
  return {
    get: async (id) => getAnalysis(db, id),
    latestByUsername: async (username) => findLatestByUsername(db, username),
    list: async (opts) => listAnalyses(db, opts),
    heads: async (limit) => listAnalysisHeads(db, limit),
    listBatch: async (batchId) => listBatchAnalyses(db, batchId),
    keep: async (id, kept, now) => keepAnalysis(db, id, kept, now),
    fail: async (id, reason, now) => failAnalysis(db, id, reason, now),
    reopen: async (id, now) => reopenAnalysis(db, id, now),
    budgetRows: async () => budgetRows(db),
  };
}

/**
 * The analysis room's statements on PostgreSQL, as texts: ./pg-store.ts runs them (it is
 * loaded only for a postgres:// database). Kept here so that this file stays the one place
 * that knows the analysis tables, on both engines.
 */
export const PG_SQL = {
  /** Serialise the creation of analyses in this schema (held to the transaction's end). */
  createLock: `SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':gitroast-analyses'))`,
  setStage: `UPDATE analyses SET stage = $1, status = CASE WHEN $1 = 'queued' THEN status ELSE 'processing' END,
    updated_at = $2 WHERE id = $3 AND status NOT IN ('completed', 'failed')`,
  reopen: REOPEN.replace('updated_at = ? WHERE id = ?', 'updated_at = $1 WHERE id = $2'),
  saveCollected: `UPDATE analyses SET username = $2, status = 'processing', stage = 'writing',
      overall = $3, score_profile = $4, score_projects = $5, score_consistency = $6, score_technical = $7, score_community = $8,
      formula_version = $9, snapshot = $10, signals = $11, updated_at = $12, rest_requests = $13, graphql_cost = $14
    WHERE id = $1 AND status NOT IN ('completed', 'failed')`,
  complete: `UPDATE analyses SET status = 'completed', stage = 'done', report = $2, prompt_tokens = $3,
      completion_tokens = $4, model = $5, error = NULL, completed_at = $6, updated_at = $6 WHERE id = $1`,
  fail: `UPDATE analyses SET status = 'failed', error = $2, completed_at = $3, updated_at = $3 WHERE id = $1`,
  pruneAnalyses: `DELETE FROM analyses WHERE kept = 0 AND status IN ('completed', 'failed') AND created_at < $1`,
  pruneCache: 'DELETE FROM http_cache WHERE fetched_at < $1',
  cacheGet: 'SELECT etag, body FROM http_cache WHERE key = $1',
  cachePut: `INSERT INTO http_cache (key, etag, body, fetched_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (key) DO UPDATE SET etag = excluded.etag, body = excluded.body, fetched_at = excluded.fetched_at`,
  budgetRecord: `INSERT INTO github_budget (fingerprint, resource, lim, remaining, reset_at, used, updated_at)
    SELECT $1, r, l, rem, rs, u, $7 FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) AS t(r, l, rem, rs, u)
    ON CONFLICT (fingerprint, resource) DO UPDATE SET lim = excluded.lim, remaining = excluded.remaining,
      reset_at = excluded.reset_at, used = excluded.used, updated_at = excluded.updated_at`,
  /** The newest analysis of each of a list of lower-cased logins, among the statuses of a list. */
  newestByLogin: `SELECT DISTINCT ON (lower(username)) * FROM analyses WHERE lower(username) = ANY($1::text[]) AND status = ANY($2::text[])
    ORDER BY lower(username), created_at DESC, id DESC`,
  create: `INSERT INTO analyses (id, username, status, stage, created_at, updated_at) VALUES ($1, $2, 'pending', 'queued', $3, $3) RETURNING *`,
  /** As listAnalysisHeads: ties by id, PostgreSQL having no rowid. */
  heads: `SELECT ${HEAD_COLUMNS} FROM analyses ORDER BY created_at DESC, id DESC LIMIT $1`,
  createMany: `INSERT INTO analyses (id, username, status, stage, batch_id, created_at, updated_at)
    SELECT i, u, 'pending', 'queued', $3, $4, $4 FROM unnest($1::text[], $2::text[]) AS t(i, u)`,
} as const;

/**
 * The AnalysisStore over a PostgreSQL database (the analysis room's tables there,
 * ./pg-migrations.ts). PostgreSQL has no rowid: rows created in the same millisecond are
 * ordered by id where SQLite orders them by insertion.
 */
export function pgAnalyses(db: PgDb): AnalysisStore {
  const rows = async (sql: string, params: unknown[]) => (await db.pool.query<Row>(sql, params)).rows.map(toAnalysis);
  const changed = async (sql: string, params: unknown[]) => ((await db.pool.query(sql, params)).rowCount ?? 0) > 0;
  const newest = 'ORDER BY created_at DESC, id DESC';
  return {
    get: async (id) => (await rows('SELECT * FROM analyses WHERE id = $1', [id]))[0],
    latestByUsername: async (username) => (await rows(`SELECT * FROM analyses WHERE lower(username) = lower($1) ${newest} LIMIT 1`, [username]))[0],
    list: async ({ status, limit = 20 }) => status === undefined
      ? rows(`SELECT * FROM analyses ${newest} LIMIT $1`, [limit])
      : rows(`SELECT * FROM analyses WHERE status = $1 ${newest} LIMIT $2`, [status, limit]),
    heads: async (limit) => (await db.pool.query<HeadRow>(PG_SQL.heads, [limit])).rows.map(toHead),
    listBatch: (batchId) => rows('SELECT * FROM analyses WHERE batch_id = $1 ORDER BY created_at, id', [batchId]),
    keep: (id, kept, now) => changed('UPDATE analyses SET kept = $1, updated_at = $2 WHERE id = $3', [kept ? 1 : 0, now, id]),
    fail: (id, reason, now) => changed(`UPDATE analyses SET status = 'failed', error = $1, completed_at = $2, updated_at = $2 WHERE id = $3`, [reason.slice(0, ERROR_LIMIT), now, id]),
    reopen: (id, now) => changed(REOPEN.replace('updated_at = ? WHERE id = ?', 'updated_at = $1 WHERE id = $2'), [now, id]),
    budgetRows: async () => (await db.pool.query<ReturnType<typeof budgetRows>[number]>('SELECT * FROM github_budget ORDER BY updated_at DESC')).rows,
  };
}
