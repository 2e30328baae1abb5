/**
 * The analysis room's writes on PostgreSQL: what the handlers write under their lease
 * (PgLeasedWrite, run on the transaction's client by the PostgreSQL store), the HTTP cache
 * and the budget rows of the collector, and the enqueueing of analyses and batches (the
 * analysis rows and their jobs in one transaction). Loaded only for a postgres:// database,
 * so SQLite users never load `pg`. The SQLite side is ./store.ts and ./jobs.ts; the rules
 * (which analysis is returned instead of a new one, the chain of jobs) are theirs.
 *
 * Creating analyses takes one transaction-scoped advisory lock per schema, as SQLite's write
 * lock serialises them there: two `analyze` of the same login at once make one analysis.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { assertQueueName, type Staging } from '../queue/index.js';
import { NOW_MS, pgTx, type PgDb } from '../queue/pg/connect.js';
import { notifyInTx, pgCreateBatchInTx, pgEnqueueInTx, pgHoldJobs, type PgLeasedWrite } from '../queue/pg/jobs.js';
import { budgetsFrom } from './budget.js';
import type { EnqueueBatchOptions } from './batch.js';
import { analysisChain, checkLogin, existingOf, type AnalysisEngine, type EnqueueAnalysisOptions, type EnqueuedAnalysis } from './jobs.js';
import { ERROR_LIMIT, pgAnalyses, REOPEN, toAnalysis, type Analysis, type Row } from './store.js';

type Q = pg.ClientBase;

/** Serialise the creation of analyses in this schema (held to the transaction's end). */
const CREATE_LOCK = `SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':gitroast-analyses'))`;

async function one(c: Q, sql: string, params: unknown[]): Promise<Analysis | undefined> {
  const r = (await c.query<Row>(sql, params)).rows[0];
  return r && toAnalysis(r);
}

async function changed(c: Q, sql: string, params: unknown[]): Promise<boolean> {
  return ((await c.query(sql, params)).rowCount ?? 0) > 0;
}

/** As ./store.ts setStage. */
function setStage(c: Q, id: string, stage: string, now: number): Promise<boolean> {
  return changed(c, `UPDATE analyses SET stage = $1, status = CASE WHEN $1 = 'queued' THEN status ELSE 'processing' END,
    updated_at = $2 WHERE id = $3 AND status NOT IN ('completed', 'failed')`, [stage, now, id]);
}

/**
 * The AnalysisEngine (./jobs.ts) over a PostgreSQL database (or a getter for one opened
 * later, as the daemon registers its handlers before it connects): the handlers' writes are
 * PgLeasedWrites.
 */
export function pgAnalysisEngine(database: PgDb | (() => PgDb)): AnalysisEngine<PgLeasedWrite> {
  const db = typeof database === 'function' ? database : () => database;
  const reads = () => pgAnalyses(db());
  return {
    get: (id) => reads().get(id),
    toStage: (a, stage, now) => async (c) => {
      if (a.status === 'failed') await changed(c, REOPEN.replace('updated_at = ? WHERE id = ?', 'updated_at = $1 WHERE id = $2'), [now, a.id]);
      await setStage(c, a.id, stage, now);
    },
    saveCollected: (id, { snapshot, scorecard }, now, missing) => async (c) => {
      const k = scorecard.categories;
      const ok = await changed(c, `UPDATE analyses SET username = $2, status = 'processing', stage = 'writing',
          overall = $3, score_profile = $4, score_projects = $5, score_consistency = $6, score_technical = $7, score_community = $8,
          formula_version = $9, snapshot = $10, signals = $11, updated_at = $12, rest_requests = $13, graphql_cost = $14
        WHERE id = $1 AND status NOT IN ('completed', 'failed')`, [
        id, snapshot.user.login, scorecard.overall, k.profile.score, k.projects.score, k.consistency.score, k.technical.score, k.community.score,
        scorecard.formulaVersion, JSON.stringify(snapshot), JSON.stringify(scorecard), now, snapshot.restRequests ?? snapshot.requests, snapshot.graphqlCost ?? null,
      ]);
      if (!ok) missing();
    },
    complete: (id, review, usage, model, now, missing) => async (c) => {
      const ok = await changed(c, `UPDATE analyses SET status = 'completed', stage = 'done', report = $2, prompt_tokens = $3,
          completion_tokens = $4, model = $5, error = NULL, completed_at = $6, updated_at = $6 WHERE id = $1`,
      [id, JSON.stringify(review), usage?.promptTokens ?? null, usage?.completionTokens ?? null, model, now]);
      if (!ok) missing();
    },
    fail: (id, reason, now, notify) => async (c) => {
      const ok = await changed(c, `UPDATE analyses SET status = 'failed', error = $2, completed_at = $3, updated_at = $3 WHERE id = $1`, [id, reason.slice(0, ERROR_LIMIT), now]);
      if (ok) await pgEnqueueInTx(c, notify);
    },
    prune: (now, days, hours, done) => async (c) => {
      const analyses = (await c.query(`DELETE FROM analyses WHERE kept = 0 AND status IN ('completed', 'failed') AND created_at < $1`, [now - days * 86_400_000])).rowCount ?? 0;
      const cached = (await c.query('DELETE FROM http_cache WHERE fetched_at < $1', [now - hours * 3_600_000])).rowCount ?? 0;
      done(analyses, cached);
    },
    collector: async () => ({
      cache: {
        get: async (key) => (await db().pool.query<{ etag: string; body: string }>('SELECT etag, body FROM http_cache WHERE key = $1', [key])).rows[0],
        put: async (key, etag, body, now) => {
          await db().pool.query(`INSERT INTO http_cache (key, etag, body, fetched_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (key) DO UPDATE SET etag = excluded.etag, body = excluded.body, fetched_at = excluded.fetched_at`, [key, etag, body, now]);
        },
      },
      budget: {
        record: async (fingerprint, readings, now) => {
          if (readings.length === 0) return;
          await db().pool.query(`INSERT INTO github_budget (fingerprint, resource, lim, remaining, reset_at, used, updated_at)
            SELECT $1, r, l, rem, rs, u, $7 FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) AS t(r, l, rem, rs, u)
            ON CONFLICT (fingerprint, resource) DO UPDATE SET lim = excluded.lim, remaining = excluded.remaining,
              reset_at = excluded.reset_at, used = excluded.used, updated_at = excluded.updated_at`,
          [fingerprint, readings.map((r) => r.resource), readings.map((r) => r.limit), readings.map((r) => r.remaining), readings.map((r) => r.resetAt), readings.map((r) => r.used), now]);
        },
      },
    }),
    budgets: async (now) => budgetsFrom(await reads().budgetRows(), now),
    hold: (name, until, reason) => pgHoldJobs(db().pool, name, until, reason),
  };
}

/** The newest active and (unless `force`) completed analysis of each login (lower-cased keys). Caller holds the transaction. */
async function existingIn(c: Q, logins: readonly string[], force: boolean): Promise<{ active: Map<string, Analysis>; done: Map<string, Analysis> }> {
  const lowered = logins.map((l) => l.toLowerCase());
  const newestOf = async (status: string) => {
    const rows = (await c.query<Row>(`SELECT DISTINCT ON (lower(username)) * FROM analyses WHERE lower(username) = ANY($1::text[]) AND status = ANY($2::text[])
      ORDER BY lower(username), created_at DESC, id DESC`, [lowered, status.split(',')])).rows;
    return new Map(rows.map((r) => [r.username.toLowerCase(), toAnalysis(r)]));
  };
  return { active: await newestOf('pending,processing'), done: force ? new Map() : await newestOf('completed') };
}

/** As ./jobs.ts enqueueAnalysis, on PostgreSQL: the analysis row and its chain in one transaction, on the database's clock. */
export async function pgEnqueueAnalysis(db: PgDb, login: string, opts: EnqueueAnalysisOptions): Promise<EnqueuedAnalysis> {
  const queue = opts.queue ?? 'default';
  assertQueueName(queue);
  checkLogin(login, opts.denyList);
  return pgTx(db, async (c) => {
    await c.query(CREATE_LOCK);
    const now = opts.now ?? Number((await c.query<{ t: string }>(`SELECT ${NOW_MS} AS t`)).rows[0]!.t);
    const { active, done } = await existingIn(c, [login], opts.force ?? false);
    const existing = existingOf(active.get(login.toLowerCase()), opts.force ?? false, now, () => done.get(login.toLowerCase()));
    if (existing) return existing;
    const analysis = (await one(c, `INSERT INTO analyses (id, username, status, stage, created_at, updated_at) VALUES ($1, $2, 'pending', 'queued', $3, $3) RETURNING *`,
      [randomUUID(), login, now]))!;
    await pgEnqueueInTx(c, analysisChain(analysis.id, login, queue, opts.jobOptions));
    await notifyInTx(c, db);
    return { analysis, created: true };
  });
}

/** As ./batch.ts enqueueStagedBatch, on PostgreSQL: the analyses, their jobs and the batch in one transaction, a chunk of logins at a time. */
export async function pgEnqueueStagedBatch(db: PgDb, staging: Staging, opts: EnqueueBatchOptions): Promise<{ batchId: string; created: number; existing: number }> {
  const queue = opts.queue ?? 'default';
  assertQueueName(queue);
  const force = opts.force ?? false;
  let created = 0;
  let existing = 0;
  const batchId = await pgTx(db, async (c) => {
    await c.query(CREATE_LOCK);
    const now = opts.now ?? Number((await c.query<{ t: string }>(`SELECT ${NOW_MS} AS t`)).rows[0]!.t);
    const id = await pgCreateBatchInTx(c, { name: opts.name, allowFailures: true }, now, async (add, batch) => {
      for (const chunk of staging.chunks()) {
        const found = await existingIn(c, chunk.map((s) => s.value), force);
        const ids: string[] = [];
        const names: string[] = [];
        for (const s of chunk) {
          const key = s.value.toLowerCase();
          const item = existingOf(found.active.get(key), force, now, () => found.done.get(key));
          if (item) {
            existing++;
            staging.record(s.seq, item.analysis.id, false, item.reason ?? null);
            continue;
          }
          const analysisId = randomUUID();
          ids.push(analysisId);
          names.push(s.value);
          staging.record(s.seq, analysisId, true, null);
          created++;
        }
        if (ids.length === 0) continue;
        await c.query(`INSERT INTO analyses (id, username, status, stage, batch_id, created_at, updated_at)
          SELECT i, u, 'pending', 'queued', $3, $4, $4 FROM unnest($1::text[], $2::text[]) AS t(i, u)`, [ids, names, batch, now]);
        await add(ids.map((aid, i) => analysisChain(aid, names[i]!, queue, opts.jobOptions)));
      }
    });
    await notifyInTx(c, db);
    return id;
  });
  return { batchId, created, existing };
}
