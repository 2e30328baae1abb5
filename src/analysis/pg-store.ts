/**
 * The analysis room's writes on PostgreSQL: what the handlers write under their lease
 * (PgLeasedWrite, run on the transaction's client by the PostgreSQL store), the HTTP cache
 * and the budget rows of the collector, and the enqueueing of analyses and batches (the
 * analysis rows and their jobs in one transaction). Loaded only for a postgres:// database,
 * so SQLite users never load `pg`. The SQLite side is ./store.ts and ./jobs.ts; the rules
 * (which analysis is returned instead of a new one, the chain of jobs) are theirs.
 *
 * Its SQL texts are the analysis store's (./store.ts PG_SQL), the one place that knows the
 * analysis tables; this module runs them. Creating analyses takes one transaction-scoped advisory lock per schema, as SQLite's write
 * lock serialises them there: two `analyze` of the same login at once make one analysis.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { assertQueueName, type Staging } from '../queue/index.js';
import { pgTx, type PgDb } from '../queue/pg/connect.js';
import { notifyInTx, pgCreateBatchInTx, pgEnqueueInTx, pgHoldJobs, pgNow, type PgLeasedWrite } from '../queue/pg/jobs.js';
import { budgetsFrom } from './budget.js';
import type { EnqueueBatchOptions } from './batch.js';
import { analysisChain, checkLogin, existingOf, type AnalysisEngine, type EnqueueAnalysisOptions, type EnqueuedAnalysis } from './jobs.js';
import { ERROR_LIMIT, PG_SQL, pgAnalyses, toAnalysis, type Analysis, type Row } from './store.js';

type Q = pg.ClientBase;

/** Serialise the creation of analyses in this schema (held to the transaction's end). */

async function one(c: Q, sql: string, params: unknown[]): Promise<Analysis | undefined> {
  const r = (await c.query<Row>(sql, params)).rows[0];
  return r && toAnalysis(r);
}

async function changed(c: Q, sql: string, params: unknown[]): Promise<boolean> {
  return ((await c.query(sql, params)).rowCount ?? 0) > 0;
}

/** As ./store.ts setStage. */
function setStage(c: Q, id: string, stage: string, now: number): Promise<boolean> {
  return changed(c, PG_SQL.setStage, [stage, now, id]);
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
      if (a.status === 'failed') await changed(c, PG_SQL.reopen, [now, a.id]);
      await setStage(c, a.id, stage, now);
    },
    saveCollected: (id, { snapshot, scorecard }, now, missing) => async (c) => {
      const k = scorecard.categories;
      const ok = await changed(c, PG_SQL.saveCollected, [
        id, snapshot.user.login, scorecard.overall, k.profile.score, k.projects.score, k.consistency.score, k.technical.score, k.community.score,
        scorecard.formulaVersion, JSON.stringify(snapshot), JSON.stringify(scorecard), now, snapshot.restRequests ?? snapshot.requests, snapshot.graphqlCost ?? null,
      ]);
      if (!ok) missing();
    },
    complete: (id, review, usage, model, now, missing) => async (c) => {
      const ok = await changed(c, PG_SQL.complete, [id, JSON.stringify(review), usage?.promptTokens ?? null, usage?.completionTokens ?? null, model, now]);
      if (!ok) missing();
    },
    fail: (id, reason, now, notify) => async (c) => {
      const ok = await changed(c, PG_SQL.fail, [id, reason.slice(0, ERROR_LIMIT), now]);
      if (ok) await pgEnqueueInTx(c, notify);
    },
    prune: (now, days, hours, done) => async (c) => {
      const analyses = (await c.query(PG_SQL.pruneAnalyses, [now - days * 86_400_000])).rowCount ?? 0;
      const cached = (await c.query(PG_SQL.pruneCache, [now - hours * 3_600_000])).rowCount ?? 0;
      done(analyses, cached);
    },
    collector: async () => ({
      cache: {
        get: async (key) => (await db().pool.query<{ etag: string; body: string }>(PG_SQL.cacheGet, [key])).rows[0],
        put: async (key, etag, body, now) => {
          await db().pool.query(PG_SQL.cachePut, [key, etag, body, now]);
        },
      },
      budget: {
        record: async (fingerprint, readings, now) => {
          if (readings.length === 0) return;
          await db().pool.query(PG_SQL.budgetRecord, [fingerprint, readings.map((r) => r.resource), readings.map((r) => r.limit), readings.map((r) => r.remaining), readings.map((r) => r.resetAt), readings.map((r) => r.used), now]);
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
    const rows = (await c.query<Row>(PG_SQL.newestByLogin, [lowered, status.split(',')])).rows;
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
    await c.query(PG_SQL.createLock);
    const now = opts.now ?? (await pgNow(c));
    const { active, done } = await existingIn(c, [login], opts.force ?? false);
    const existing = existingOf(active.get(login.toLowerCase()), opts.force ?? false, now, () => done.get(login.toLowerCase()));
    if (existing) return existing;
    const analysis = (await one(c, PG_SQL.create, [randomUUID(), login, now]))!;
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
    await c.query(PG_SQL.createLock);
    const now = opts.now ?? (await pgNow(c));
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
        await c.query(PG_SQL.createMany, [ids, names, batch, now]);
        await add(ids.map((aid, i) => analysisChain(aid, names[i]!, queue, opts.jobOptions)));
      }
    });
    await notifyInTx(c, db);
    return id;
  });
  return { batchId, created, existing };
}
