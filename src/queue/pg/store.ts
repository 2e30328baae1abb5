/**
 * The Store (../store.ts) on PostgreSQL: every operation of the interface, with the SQLite
 * store's semantics, on the database's clock. No decision here reads the host's clock:
 * leases, heartbeats, the alive threshold, availability, holds and throttle windows compare
 * against NOW_MS (or a now read from the server inside the same transaction), so hosts whose
 * clocks disagree agree. `now()` (synchronous in the interface) is the host clock corrected
 * by the offset to the server's, measured at every round trip that reads the server's now.
 *
 * A commit is one transaction, as on SQLite: completions (fenced), settlements, late
 * results, then the claim. The claim plan is synchronous (it runs inside SQLite's
 * synchronous transaction), while a PostgreSQL claim is awaited: the plan is replayed. It
 * runs with a `take` that answers the calls already answered from memory and, at the first
 * unanswered one, records what it asked and throws a private sentinel; the claim is then run
 * inside the open transaction, remembered, and the plan run again from the start. Plans are
 * deterministic given take's answers (src/daemon/slots.ts, supervisor.ts claim: their side
 * effects, poolOf.set and retryAt, are idempotent), so the replays end with the same calls
 * and the same jobs as a synchronous run.
 */
import type pg from 'pg';
import { batchDetailFrom, toBatch, type BatchJobRow, type BatchRow } from '../batches.js';
import { CONTROL_KEYS, controlFrom } from '../control.js';
import type { CheckpointResult } from '../db.js';
import { BATCHES_LIST_LIMIT, CLEAR_CHUNK, COMPLETED_WINDOW_MS, FAILED_READ_LIMIT, JOBS_LIST_LIMIT, SILENCED_SCAN_LIMIT, STALE_MS, TAG_SCAN_LIMIT } from '../defaults.js';
import { ValidationError } from '../errors.js';
import { retrySpec, toFailed, type FailedFilter, type FailedRow, type Retried } from '../failed.js';
import { LEDGER_TABLE } from '../ledger.js';
import { FIRST_SNAPSHOT_WINDOW_MS, metricsOf, seriesFrom, toSnapshot, trimBounds, type FinishedRow, type SeriesJobRow, type SeriesSnapshotRow, type SnapshotRow, type TrimOptions } from '../metrics.js';
import { isSilenced, queueStatsTable, silencedOf, toJob, type JobFilter, type JobRow, type QueueStats, type Silenced } from '../queues.js';
import { aggregateSnapshotList, CHART_BUCKETS, headerFrom, HOUR, METRICS_WINDOW_MS, overviewFrom, queueRowsFrom, sortMetrics, TAIL, type HeaderData, type JobEvent, type MetricsWindow } from '../read-model.js';
import type { ClaimPlan, CommitBatch, CommitResult, Completion, Settlement, Store, Take } from '../store.js';
import { hasThrottles, throttleStates, type StoredThrottle } from '../throttle-rules.js';
import type { ThrottledClaim } from '../throttles.js';
import { assertTag, tagSummaryFrom, type TagSummary } from '../tags.js';
import type { Cancelled } from '../cancel.js';
import { JOB_STATES, type Batch, type ClaimedJob, type JobState, type Outcome } from '../types.js';
import { parseJson } from '../jobs.js';
import { assertQueueName } from '../validate.js';
import { isAlive } from '../workers.js';
import { NOW_MS, alive, connectOwned, pgTx, type PgDb } from './connect.js';
import {
  notifyInTx, pgAfterCompleteInTx, pgCancelBatchInTx, pgCancelJobInTx, pgClaim, pgClaimedOf, pgClaimQuery, pgCompleteAnyQuery, pgCompletePlainQuery, pgCompleteWithWritesInTx, pgDelayInTx,
  pgEnqueue, pgEnqueueInTx, pgCreateBatchInTx, pgEnqueueMany, pgFailInTx, pgHoldsOf, pgNextDueAt, pgNextDueOf, pgNextDueQuery, pgNotifyStatement, pgPromoteAndHoldsQuery,
  pgReleaseInTx, pgWriteUnderLease, PG_GENERIC_PLANS, PG_NEXT_DUE, type PgEnqueued, type PgHolds, type PgLeasedWrite,
} from './jobs.js';
import { pgClaimThrottledInTx } from './throttles.js';
import { pgDeregisterWorker, pgHeartbeat, pgListWorkers, pgLiveWorkers, pgRecoverLeases, pgRegisterWorker } from './workers.js';

type Q = pg.ClientBase;

/** A read view: one consistent snapshot, like the SQLite store's deferred read transaction. */
const VIEW = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY';

/** Thrown by a replayed plan's `take` at its first unanswered call. */
const UNANSWERED = Symbol('claim not answered yet');

async function nowIn(c: Q | pg.Pool): Promise<number> {
  return (await c.query<{ now: number }>(`SELECT ${NOW_MS} AS now`)).rows[0]!.now;
}

/** Put a job's settlement into effect inside the open transaction (as ../store.ts settleInTx). */
async function settleInTx(c: Q, s: Settlement, now: number): Promise<Outcome> {
  switch (s.kind) {
    case 'fail':
      return pgFailInTx(c, s.lease, s.error);
    case 'retry':
      return pgReleaseInTx(c, s.lease, s.error);
    case 'delay':
      return pgDelayInTx(c, s.lease, s.until, s.reason, { maxWaitMs: s.maxWaitMs });
    case 'return':
      return pgDelayInTx(c, s.lease, now, s.reason);
    case 'lost':
      return { kind: 'lost' };
  }
}

/** A claim plan's first take (its queues and limit), or undefined when the plan takes nothing (no room). */
function firstAsk(claim: ClaimPlan): Ask | undefined {
  let ask: Ask | undefined;
  try {
    claim.plan((queues, limit) => {
      ask = { queues: [...queues], limit };
      throw UNANSWERED;
    });
  } catch (err) {
    if (err !== UNANSWERED) throw err;
  }
  return ask;
}

interface Ask {
  queues: readonly string[];
  limit: number;
}

/** The first take of a plan, answered in the commit's first round trip, and the holds read with it. */
interface Answered {
  ask: Ask;
  holds: PgHolds;
  jobs: ClaimedJob[];
}

/**
 * Run a claim plan inside the open transaction by replay (see the module comment). A replay
 * that asks something else than the run before it (a plan that is not deterministic) throws.
 * `answered`: its first take, claimed already (a claim without throttles); the later takes of
 * such a plan claim with the same holds, promoted already.
 */
async function runPlan(c: Q, claim: ClaimPlan, now: number, lockKey: string, answered?: Answered): Promise<ClaimedJob[]> {
  const asked: Ask[] = [];
  const answers: ThrottledClaim[] = [];
  const holdEnds = answered?.holds.reduce<number | undefined>((a, h) => Math.min(a ?? Infinity, h.until), undefined);
  if (answered) {
    asked.push(answered.ask);
    answers.push({ jobs: answered.jobs, throttledQueues: new Set(), retryAt: holdEnds });
  }
  for (;;) {
    let i = 0;
    let ask: Ask | undefined;
    const take: Take = (queues, limit) => {
      if (i < answers.length) {
        const before = asked[i]!;
        if (before.limit !== limit || before.queues.length !== queues.length || before.queues.some((q, k) => q !== queues[k])) {
          throw new Error(`a claim plan asked for ${limit} of ${queues.join(',')} where its previous run asked for ${before.limit} of ${before.queues.join(',')}: plans must be deterministic`);
        }
        return answers[i++]!;
      }
      ask = { queues: [...queues], limit };
      throw UNANSWERED;
    };
    try {
      return claim.plan(take);
    } catch (err) {
      if (err !== UNANSWERED || ask === undefined) throw err;
    }
    asked.push(ask);
    answers.push(answered
      ? { jobs: await pgClaim(c, { workerId: claim.workerId, leaseMs: claim.leaseMs, queues: ask.queues, limit: ask.limit, promoted: true, exceptNames: answered.holds.map((h) => h.name) }), throttledQueues: new Set(), retryAt: holdEnds }
      : await pgClaimThrottledInTx(c, { workerId: claim.workerId, leaseMs: claim.leaseMs, now, queues: ask.queues, limit: ask.limit, throttles: claim.throttles, lockKey }));
  }
}

/** True when both hold the same names. */
function sameNames(a: PgHolds, b: PgHolds): boolean {
  if (a.length !== b.length) return false;
  const names = new Set(a.map((h) => h.name));
  return b.every((h) => names.has(h.name));
}

/**
 * A claim on its own, without throttles, in one round trip: BEGIN (its COMMIT not waiting
 * for the WAL flush) with the clock, the promotion with the holds, the plan's first take,
 * the next due time and COMMIT, sent at once. The take leaves out the names held at the
 * store's last look (`known.holds`); the claim statement itself never takes a held job
 * (./jobs.ts claimText). When the holds read in this flight differ, the take may have left
 * jobs that are claimable: the result asks for another claim at once (nextDueAt = now).
 * A statement that fails leaves the transaction aborted, so that COMMIT rolls it back, and
 * its error is thrown. A plan's later takes (several pools) claim after it, one statement
 * each (a claim without throttles needs no transaction around it: SKIP LOCKED keeps
 * claimers apart).
 */
async function claimAlone(c: Q, claim: ClaimPlan, first: Ask, seen: (serverNow: number) => number, lockKey: string, known: { holds: PgHolds }): Promise<CommitResult> {
  const asked = known.holds;
  const flight = await Promise.allSettled([
    c.query(`BEGIN; SET LOCAL synchronous_commit = off; ${PG_GENERIC_PLANS}; SELECT ${NOW_MS} AS now`),
    c.query(pgPromoteAndHoldsQuery()),
    c.query(pgClaimQuery({ workerId: claim.workerId, leaseMs: claim.leaseMs, queues: first.queues, limit: first.limit, exceptNames: asked.map((h) => h.name) })),
    c.query(pgNextDueQuery()),
    c.query('COMMIT'),
  ]);
  for (const r of flight) if (r.status === 'rejected') throw r.reason;
  const [opened, promoted, claimed, due] = flight as PromiseFulfilledResult<pg.QueryResult>[];
  const t = seen(Number((opened!.value as unknown as pg.QueryResult<{ now: number }>[]).at(-1)!.rows[0]!.now));
  const holds = pgHoldsOf(promoted!.value);
  known.holds = holds;
  const jobs = await runPlan(c, claim, t, lockKey, { ask: first, holds, jobs: pgClaimedOf(claimed!.value as pg.QueryArrayResult, first.queues) });
  const result: CommitResult = { now: t, completions: [], settlements: [], late: [], claimed: jobs };
  if (jobs.length < claim.free) {
    const at = sameNames(asked, holds) ? pgNextDueOf(due!.value) : t;
    if (at !== undefined) result.nextDueAt = at;
  }
  return result;
}

/** Complete one finished job with its handler's writes, in a savepoint (a write that throws settles the job as onWriteError says). */
async function completeWithWritesInTx(
  c: Q, comp: Completion<PgLeasedWrite>, now: number, onWriteError: CommitBatch<PgLeasedWrite>['onWriteError'],
): Promise<{ result: CommitResult['completions'][number]; wake: boolean }> {
  const r = await pgCompleteWithWritesInTx(c, comp.lease, comp.writes ?? []);
  if (typeof r === 'boolean') return { result: r, wake: r };
  const settle = onWriteError?.(comp, r) ?? { kind: 'retry', lease: comp.lease, error: { message: r.message, stack: r.stack } };
  const outcome = await settleInTx(c, settle, now);
  return { result: { error: r, outcome }, wake: outcome.kind !== 'lost' };
}

/** Which failed jobs a filter names, as a WHERE clause from parameter `$first` on (as ../failed.ts where). */
function failedWhere(filter: FailedFilter): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (filter.uuids && filter.uuids.length > 0) clauses.push(`uuid = ANY(${p([...filter.uuids])}::text[])`);
  else if (!filter.all && !filter.queue && !filter.name && !filter.tag && !filter.batchId) clauses.push('false');
  if (filter.queue) clauses.push(`queue = ${p(filter.queue)}`);
  if (filter.name) clauses.push(`name = ${p(filter.name)}`);
  if (filter.tag) clauses.push(`EXISTS (SELECT 1 FROM json_array_elements_text(failed_jobs.tags::json) AS t(value) WHERE t.value = ${p(filter.tag)})`);
  if (filter.batchId) clauses.push(`batch_id = ${p(filter.batchId)}`);
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/** ../queues.ts queueStats on PostgreSQL, at `now` (the server's). */
async function queueStatsIn(c: Q, now: number, options: { since?: number; configured?: readonly string[]; completed?: boolean } = {}): Promise<QueueStats[]> {
  const since = options.since ?? now - COMPLETED_WINDOW_MS;
  const { get, has, done } = queueStatsTable(options.configured);
  // The backlog per queue, and the earliest availability among the next 100 jobs in claim order.
  const pending = await c.query<{ queue: string; n: number; at: number | null }>(`
    SELECT q.queue, q.n, o.at FROM (SELECT queue, COUNT(*) AS n FROM jobs WHERE state = 'pending' GROUP BY queue) AS q
     CROSS JOIN LATERAL (SELECT MIN(available_at) AS at FROM (
       SELECT available_at FROM jobs WHERE state = 'pending' AND queue = q.queue ORDER BY priority DESC, id LIMIT 100) AS t) AS o`);
  for (const r of pending.rows) {
    const s = get(r.queue);
    s.pending = r.n;
    s.oldestWaitMs = r.at === null ? 0 : Math.max(0, now - r.at);
  }
  for (const r of (await c.query<{ queue: string; n: number }>(`SELECT queue, COUNT(*) AS n FROM jobs WHERE state = 'delayed' GROUP BY queue`)).rows) get(r.queue).delayed = r.n;
  for (const r of (await c.query<{ queue: string; n: number }>(`SELECT queue, COUNT(*) AS n FROM jobs WHERE state = 'reserved' GROUP BY queue`)).rows) get(r.queue).reserved = r.n;
  if (options.completed !== false) {
    const rows = (await c.query<{ queue: string; n: number }>(`SELECT queue, COUNT(*) AS n FROM jobs WHERE state = 'completed' AND finished_at >= $1 GROUP BY queue`, [since])).rows;
    for (const r of rows) get(r.queue).completed = r.n;
  }
  for (const r of (await c.query<{ queue: string; n: number }>(`SELECT queue, n FROM failed_counts WHERE n > 0`)).rows) get(r.queue).failed = r.n;
  for (const r of (await c.query<{ name: string; paused: number }>(`SELECT name, paused FROM queues`)).rows) {
    if (r.paused || has(r.name)) get(r.name).paused = r.paused === 1;
  }
  return done();
}

/** The finished jobs of [from, to] as the metrics read them. */
async function finishedBetween(c: Q, from: number, to: number): Promise<FinishedRow[]> {
  return (await c.query<FinishedRow>(`
    SELECT queue, name, state, finished_at - reserved_at AS runtime, reserved_at - available_at AS wait
      FROM jobs WHERE state = 'completed' AND finished_at >= $1 AND finished_at <= $2
    UNION ALL
    SELECT queue, name, state, finished_at - reserved_at AS runtime, reserved_at - available_at AS wait
      FROM jobs WHERE state = 'failed' AND finished_at >= $1 AND finished_at <= $2`, [from, to])).rows;
}

/** Run a chunked DELETE (its last parameter is the chunk) until it deletes fewer than a chunk; rows deleted. */
async function deleteChunked(q: pg.Pool, sql: string, params: unknown[], chunk: number): Promise<number> {
  let total = 0;
  for (;;) {
    const n = (await q.query(sql, [...params, chunk])).rowCount ?? 0;
    total += n;
    if (n < chunk) return total;
  }
}

/** ../metrics.ts trimJobs on PostgreSQL, on the server's clock (the same bounds, the same monitored-tag rule and `trim:examined:<state>` marks). */
async function trimJobsIn(q: pg.Pool, options: TrimOptions): Promise<number> {
  const now = await nowIn(q);
  const { chunk, completedBefore, failedBefore, monitoredBefore, snapshotsBefore } = trimBounds(options, now);
  const monitored = ((await q.query(`SELECT 1 FROM monitored_tags LIMIT 1`)).rowCount ?? 0) > 0;
  let total = 0;
  for (const [state, before] of [['completed', completedBefore], ['cancelled', completedBefore], ['failed', failedBefore]] as const) {
    const older = `DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = '${state}' AND finished_at < $1 LIMIT $2)`;
    if (!monitored || before <= monitoredBefore) total += await deleteChunked(q, older, [before], chunk);
    else {
      total += await deleteChunked(q, older, [monitoredBefore], chunk);
      const examined = Number((await q.query<{ value: string }>(`SELECT value FROM settings WHERE key = $1`, [`trim:examined:${state}`])).rows[0]?.value ?? 0);
      const from = Math.max(monitoredBefore, Number.isFinite(examined) ? examined : 0);
      total += await deleteChunked(q, `DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = '${state}' AND finished_at >= $1 AND finished_at < $2
        AND NOT EXISTS (SELECT 1 FROM json_array_elements_text(COALESCE(jobs.tags, '[]')::json) AS t(value) WHERE t.value IN (SELECT tag FROM monitored_tags)) LIMIT $3)`, [from, before], chunk);
    }
    await q.query(`INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [`trim:examined:${state}`, String(before)]);
  }
  total += (await q.query(`DELETE FROM metrics_snapshots WHERE taken_at < $1`, [snapshotsBefore])).rowCount ?? 0;
  return total;
}

/** ../metrics.ts snapshotMetrics on PostgreSQL, on the server's clock, in one transaction. */
async function snapshotMetricsIn(c: Q): Promise<number> {
  // One snapshot at a time per schema: two daemons' ticks never write overlapping windows.
  await c.query(`SELECT pg_advisory_xact_lock(hashtext('gitroast-snapshot:' || current_schema()))`);
  const now = await nowIn(c);
  const last = (await c.query<{ at: number | null }>(`SELECT MAX(taken_at) AS at FROM metrics_snapshots`)).rows[0]!.at ?? undefined;
  if (last !== undefined && last >= now) return 0;
  const windowMs = last === undefined ? FIRST_SNAPSHOT_WINDOW_MS : now - last;
  // After a snapshot its taken_at is exclusive (as on SQLite): a job is never counted twice.
  const metrics = metricsOf(await finishedBetween(c, last === undefined ? now - windowMs : last + 1, now), windowMs);
  for (const m of metrics) {
    await c.query(`INSERT INTO metrics_snapshots (taken_at, window_ms, kind, key, processed, failed, runtime_avg, runtime_p95, wait_avg, wait_p95)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [now, windowMs, m.kind, m.key, m.processed, m.failed, m.runtimeAvg, m.runtimeP95, m.waitAvg, m.waitP95]);
  }
  return metrics.length;
}

async function controlIn(c: Q | pg.Pool) {
  const rows = (await c.query<{ key: string; value: string }>(`SELECT key, value FROM settings WHERE key IN ($1, $2) OR starts_with(key, $3)`,
    [CONTROL_KEYS.paused, CONTROL_KEYS.stop, CONTROL_KEYS.supervisorPrefix])).rows;
  return controlFrom(rows);
}

async function headerIn(c: Q, now: number, aliveMs = STALE_MS): Promise<HeaderData> {
  const { workers } = await pgListWorkers(c);
  return headerFrom(workers.filter((w) => isAlive(w, aliveMs, now)), (await controlIn(c)).paused);
}

/** A batch by id, or by a unique prefix of at least 6 characters (as ../batches.ts getBatch; SQLite's LIKE ignores ASCII case, so ILIKE). */
async function getBatchIn(c: Q | pg.Pool, id: string): Promise<Batch | undefined> {
  const exact = (await c.query<BatchRow>(`SELECT * FROM batches WHERE id = $1`, [id])).rows[0];
  if (exact) return toBatch(exact);
  if (id.length < 6 || /[%_\\]/.test(id)) return undefined;
  const rows = (await c.query<BatchRow>(`SELECT * FROM batches WHERE id ILIKE $1 LIMIT 2`, [`${id}%`])).rows;
  return rows.length === 1 ? toBatch(rows[0]!) : undefined;
}

/**
 * The newest events of each kind for the overview's tail (as ../read-model.ts tail):
 * silenced jobs are left out of all but the failures, among the newest SILENCED_SCAN_LIMIT rows.
 */
async function eventsIn(c: Q, silenced: Silenced): Promise<JobEvent[]> {
  const quiet = silenced.names.length > 0 || silenced.tags.length > 0;
  const pick = async (sql: string, event: JobEvent['event']) => {
    const filter = quiet && event !== 'failed';
    const rows = (await c.query<{ id: number; queue: string; name: string; at: number; tags: string | null }>(sql, [filter ? SILENCED_SCAN_LIMIT : TAIL])).rows;
    return rows.filter((r) => !filter || !isSilenced(silenced, r.name, parseJson<string[]>(r.tags, []))).slice(0, TAIL)
      .map((r) => ({ at: r.at, event, id: r.id, queue: r.queue, name: r.name }));
  };
  return [
    ...(await pick(`SELECT id, queue, name, created_at AS at, tags FROM jobs ORDER BY id DESC LIMIT $1`, 'enqueued')),
    ...(await pick(`SELECT id, queue, name, reserved_at AS at, tags FROM jobs WHERE state = 'reserved' ORDER BY reserved_at DESC LIMIT $1`, 'started')),
    ...(await pick(`SELECT id, queue, name, finished_at AS at, tags FROM jobs WHERE state = 'completed' ORDER BY finished_at DESC LIMIT $1`, 'completed')),
    ...(await pick(`SELECT id, queue, name, finished_at AS at, tags FROM jobs WHERE state = 'failed' ORDER BY finished_at DESC LIMIT $1`, 'failed')),
  ];
}

/** ../queues.ts listJobs on PostgreSQL (binary order of queue names, as SQLite sorts them). */
async function listJobsIn(q: pg.Pool, filter: JobFilter) {
  if (!JOB_STATES.includes(filter.state)) throw new ValidationError(`invalid job state ${JSON.stringify(filter.state)}: expected one of ${JOB_STATES.join(', ')}`);
  const clauses = [`jobs.state = '${filter.state}'`];
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (filter.queue) clauses.push(`queue = ${p(filter.queue)}`);
  if (filter.name) clauses.push(`name = ${p(filter.name)}`);
  if (filter.text) {
    const t = p(filter.text);
    clauses.push(`(strpos(name, ${t}) > 0 OR strpos(queue, ${t}) > 0 OR strpos(COALESCE(tags, ''), ${t}) > 0 OR strpos(payload, ${t}) > 0)`);
  }
  const silenced = filter.exclude && (filter.exclude.names.length > 0 || filter.exclude.tags.length > 0) ? filter.exclude : undefined;
  if (silenced) {
    clauses.push(`NOT (name = ANY(${p([...silenced.names])}::text[]) OR EXISTS (SELECT 1 FROM json_array_elements_text(jobs.tags::json) AS jt(value) WHERE jt.value = ANY(${p([...silenced.tags])}::text[])))`);
  }
  const limit = filter.limit ?? JOBS_LIST_LIMIT;
  if (filter.tag) {
    const tag = p(filter.tag);
    const sql = `SELECT jobs.* FROM (SELECT job_id FROM job_tags WHERE tag = ${tag} ORDER BY job_id DESC LIMIT ${TAG_SCAN_LIMIT}) AS t
      JOIN jobs ON jobs.id = t.job_id WHERE ${clauses.join(' AND ')} ORDER BY t.job_id DESC LIMIT ${p(limit)}`;
    return (await q.query<JobRow>(sql, params)).rows.map(toJob);
  }
  const order =
    filter.state === 'pending' ? 'queue COLLATE "C", priority DESC, id' :
    filter.state === 'delayed' ? 'available_at' :
    filter.state === 'reserved' ? 'reserved_at DESC' : 'finished_at DESC';
  if (silenced) {
    const [stateClause, ...rest] = clauses;
    const inner = `SELECT * FROM jobs WHERE ${[stateClause, ...rest.slice(0, -1)].join(' AND ')} ORDER BY ${order} LIMIT ${SILENCED_SCAN_LIMIT}`;
    return (await q.query<JobRow>(`SELECT * FROM (${inner}) AS jobs WHERE ${clauses.at(-1)!} LIMIT ${p(limit)}`, params)).rows.map(toJob);
  }
  return (await q.query<JobRow>(`SELECT * FROM jobs WHERE ${clauses.join(' AND ')} ORDER BY ${order} LIMIT ${p(limit)}`, params)).rows.map(toJob);
}

/** Options of createPgStore. */
export interface PgStoreOptions {
  /**
   * The host's clock, ms epoch. Default Date.now. No decision reads it (the server's clock
   * decides); `now()` is it corrected by the measured offset. Tests skew it to show that.
   */
  hostClock?: () => number;
}

/**
 * Make the PostgreSQL store over `db` (an open PgDb: ./connect.ts openPg). Handler writes
 * are PgLeasedWrite: they run on the transaction's client.
 */
export function createPgStore(db: PgDb, options: PgStoreOptions = {}): Store<PgLeasedWrite> {
  const host = options.hostClock ?? Date.now;
  // The server's clock minus the host's, from the latest round trip that read the server's now.
  let offset = 0;
  const seen = (serverNow: number) => {
    offset = serverNow - host();
    return serverNow;
  };
  const now = () => host() + offset;
  void nowIn(db.pool).then(seen, () => {});
  const listeners = new Set<() => void>();
  const notifyLocal = () => {
    if (listeners.size === 0) return;
    queueMicrotask(() => {
      for (const l of listeners) l();
    });
  };
  const lockKey = `gitroast-throttles:${db.schema}`;
  // The job holds in force at the last claim: the next one leaves their names out (claimAlone).
  const known = { holds: [] as PgHolds };
  const tx = <T>(fn: (c: Q) => Promise<T>) => pgTx(db, fn);
  const view = <T>(fn: (c: Q, now: number) => Promise<T>) => pgTx(db, async (c) => fn(c, seen(await nowIn(c))), VIEW);
  const q = db.pool;

  // One transaction in three round trips when nothing needs a follow-up (./connect.ts
  // pipelines each connection's statements): BEGIN with the clock, the plain completions
  // and the promotion with the holds, all sent at once; the plan's first take (the held
  // names left out); then the notification, the next due time and COMMIT in one
  // simple-protocol query. Chains, batches, handler writes, settlements and further takes
  // go before the take. A claim alone is one round trip (claimAlone).
  const commitInTx = async (batch: CommitBatch<PgLeasedWrite>): Promise<CommitResult> => {
    const c = await connectOwned(db);
    let broken = false;
    try {
      const completions = batch.completions ?? [];
      const settlements = batch.settlements ?? [];
      const late = batch.late ?? [];
      // A claim on its own need not be durable (as on SQLite, ../store.ts relaxedSync): after a
      // crash of the server the job is simply pending again. It commits without waiting for
      // the WAL flush; results, failures and enqueues keep synchronous_commit.
      const claimOnly = batch.claim !== undefined && !completions.length && !settlements.length && !late.length;
      const plain = completions.filter((x) => x.writes === undefined);
      // A throttled claim reads and bumps its windows take by take (./throttles.ts).
      const first = batch.claim && !hasThrottles(batch.claim.throttles) ? firstAsk(batch.claim) : undefined;
      if (claimOnly && first) {
        try {
          return await claimAlone(c, batch.claim!, first, seen, lockKey, known);
        } catch (err) {
          await c.query('ROLLBACK').catch(() => (broken = true));
          throw err;
        }
      }
      const flight = await Promise.allSettled([
        c.query(claimOnly ? `BEGIN; SET LOCAL synchronous_commit = off; SELECT ${NOW_MS} AS now` : `BEGIN; SELECT ${NOW_MS} AS now`),
        plain.length > 0 ? c.query(pgCompleteAnyQuery(plain.map((x) => x.lease))) : undefined,
        first ? c.query(pgPromoteAndHoldsQuery()) : undefined,
      ]);
      const [opened, completed, promoted] = flight;
      if (opened.status === 'rejected') {
        broken = !(await alive(c));
        throw opened.reason;
      }
      try {
        for (const r of flight) if (r.status === 'rejected') throw r.reason;
        const clock = (opened.value as unknown as pg.QueryResult<{ now: number }>[]).at(-1)!;
        const t = seen(Number(clock.rows[0]!.now));
        let wake = false;
        const done: CommitResult['completions'] = new Array(completions.length);
        if (plain.length > 0) {
          const after = await pgAfterCompleteInTx(c, (completed as PromiseFulfilledResult<pg.QueryResult>).value);
          wake ||= after.followUp;
          const accepted = new Set(after.ids);
          for (let i = 0; i < completions.length; i++) {
            const l = completions[i]!.lease;
            if (completions[i]!.writes === undefined) done[i] = accepted.has(`${l.id}:${l.token}`);
          }
        }
        for (let i = 0; i < completions.length; i++) {
          if (completions[i]!.writes === undefined) continue;
          const r = await completeWithWritesInTx(c, completions[i]!, t, batch.onWriteError);
          wake ||= r.wake;
          done[i] = r.result;
        }
        const settled: Outcome[] = [];
        for (const st of settlements) {
          const o = await settleInTx(c, st, t);
          wake ||= o.kind !== 'lost';
          settled.push(o);
        }
        const lateOk: boolean[] = [];
        for (const l of late) {
          const ok = (await pgCompleteWithWritesInTx(c, l.lease, l.writes ?? [])) === true;
          wake ||= ok;
          lateOk.push(ok);
        }
        const result: CommitResult = { now: t, completions: done, settlements: settled, late: lateOk, claimed: [] };
        if (batch.claim) {
          let answered: Answered | undefined;
          const generic = c.query(PG_GENERIC_PLANS);
          if (first) {
            const holds = pgHoldsOf((promoted as PromiseFulfilledResult<pg.QueryResult<{ name: string; until: number }>>).value);
            known.holds = holds;
            const q = pgClaimQuery({ workerId: batch.claim.workerId, leaseMs: batch.claim.leaseMs, queues: first.queues, limit: first.limit, exceptNames: holds.map((h) => h.name) });
            const [, claimed] = await Promise.all([generic, c.query(q)]);
            answered = { ask: first, holds, jobs: pgClaimedOf(claimed, first.queues) };
          } else await generic;
          result.claimed = await runPlan(c, batch.claim, t, lockKey, answered);
        }
        // Chains, batches, retries and failure callbacks may have made jobs ready for other hosts.
        const due = batch.claim !== undefined && result.claimed.length < batch.claim.free;
        const last = (await c.query(`${wake ? `${pgNotifyStatement(db)}; ` : ''}${due ? `${PG_NEXT_DUE}; ` : ''}COMMIT`)) as unknown as pg.QueryResult<{ at: number | string | null }> | pg.QueryResult<{ at: number | string | null }>[];
        if (due) {
          const at = pgNextDueOf((last as pg.QueryResult<{ at: number | string | null }>[]).at(-2)!);
          if (at !== undefined) result.nextDueAt = at;
        }
        return result;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => (broken = true));
        throw err;
      }
    } finally {
      // A connection that cannot roll back (the server went away) is not given back.
      c.release(broken);
    }
  };

  return {
    now,
    onEnqueued: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    // Completions alone, none with handler writes (a worker that claims apart, ../../daemon/worker.ts):
    // those of jobs without chain or batch in one statement, its own transaction, one round
    // trip; the rest (chains, batches, lost leases) in a transaction of their own.
    commit: async (batch) => {
      const completions = batch.completions ?? [];
      const plainOnly = !batch.claim && completions.length > 0 && !batch.settlements?.length && !batch.late?.length && completions.every((x) => x.writes === undefined);
      if (!plainOnly) return commitInTx(batch);
      const taken = new Set((await q.query<{ id: number }>(pgCompletePlainQuery(completions.map((x) => x.lease)))).rows.map((r) => r.id));
      const result: CommitResult = { now: now(), completions: completions.map((x) => taken.has(x.lease.id)), settlements: [], late: [], claimed: [] };
      const rest = completions.filter((x) => !taken.has(x.lease.id));
      if (rest.length === 0) return result;
      const more = await commitInTx({ ...batch, completions: rest });
      let k = 0;
      for (let i = 0; i < completions.length; i++) if (!taken.has(completions[i]!.lease.id)) result.completions[i] = more.completions[k++]!;
      return result;
    },
    readyToClaim: async (queues) => {
      const r = await q.query<{ ready: boolean }>(`
        SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'pending' AND queue = ANY($1::text[]))
            OR EXISTS (SELECT 1 FROM jobs WHERE state = 'delayed' AND available_at <= ${NOW_MS}) AS ready`, [[...queues]]);
      return r.rows[0]!.ready;
    },
    nextDueAt: () => pgNextDueAt(q),
    writeUnderLease: (lease, write) => pgWriteUnderLease(db, lease, write),

    extendLeases: async (leases, leaseMs) => {
      if (leases.length === 0) return [];
      const r = await q.query<{ id: number; token: number }>(`
        UPDATE jobs SET lease_expires_at = c.now + $3::bigint
          FROM unnest($1::bigint[], $2::bigint[]) AS l(id, tok), (SELECT ${NOW_MS} AS now) AS c
         WHERE jobs.id = l.id AND jobs.lease_token = l.tok AND jobs.state = 'reserved'
        RETURNING jobs.id, jobs.lease_token AS token`, [leases.map((l) => l.id), leases.map((l) => l.token), leaseMs]);
      const held = new Set(r.rows.map((x) => `${x.id}:${x.token}`));
      return leases.map((l) => held.has(`${l.id}:${l.token}`));
    },
    registerWorker: (w) => pgRegisterWorker(db, w),
    heartbeat: (id, busy, status, supervisors) => pgHeartbeat(db, id, busy, status, supervisors),
    recordSupervisors: async (id, supervisors) => (await q.query(`UPDATE workers SET supervisors = $2 WHERE id = $1`, [id, JSON.stringify(supervisors)])).rowCount === 1,
    deregisterWorker: (id) => pgDeregisterWorker(db, id),
    recoverLeases: async (staleMs) => {
      const r = await pgRecoverLeases(db, staleMs);
      if (r.requeued.length > 0 || r.failed.length > 0) notifyLocal();
      return r;
    },
    liveWorkers: (aliveMs) => pgLiveWorkers(db, aliveMs),
    control: () => controlIn(q),
    pendingByQueue: async (queues) => {
      const r = await q.query<{ queue: string; n: number }>(`SELECT queue, COUNT(*) AS n FROM jobs WHERE state = 'pending' AND queue = ANY($1::text[]) GROUP BY queue`, [[...queues]]);
      return new Map(r.rows.map((x) => [x.queue, x.n]));
    },
    probe: async () => {
      const r = await q.query<{ n: number; now: number }>(`SELECT COUNT(*) AS n, ${NOW_MS} AS now FROM ${LEDGER_TABLE}`);
      seen(r.rows[0]!.now);
      return r.rows[0]!.n;
    },
    checkpoint: async (): Promise<CheckpointResult> => ({ busy: false, log: 0, checkpointed: 0 }),

    enqueue: async (spec, ctx = {}) => {
      const out = await pgEnqueue(db, spec, { batchId: ctx.batchId, chain: ctx.chain });
      notifyLocal();
      return out;
    },
    enqueueMany: async (specs, ctx = {}) => {
      const out = await pgEnqueueMany(db, specs, { batchId: ctx.batchId, chain: ctx.chain });
      notifyLocal();
      return out;
    },
    getJob: async (id) => {
      const r = (await q.query<JobRow>(`SELECT * FROM jobs WHERE id = $1`, [id])).rows[0];
      return r ? toJob(r) : undefined;
    },
    listJobs: (filter) => listJobsIn(q, filter),
    queueStats: (o = {}) => view((c, t) => queueStatsIn(c, t, o)),
    holds: () => view(async (c, t) => {
      const rows = (await c.query<{ name: string; until: number; reason: string; set_at: number; waiting: number }>(`
        SELECT h.name, h.until, h.reason, h.set_at, (SELECT COUNT(*) FROM jobs WHERE state = 'pending' AND name = h.name) AS waiting
          FROM job_holds AS h WHERE h.until > $1 ORDER BY h.until, h.name COLLATE "C"`, [t])).rows;
      return rows.map((r) => ({ name: r.name, until: r.until, reason: r.reason, setAt: r.set_at, waiting: r.waiting }));
    }),

    header: (aliveMs) => view((c, t) => headerIn(c, t, aliveMs)),
    overview: (o = {}) => view(async (c, t) => {
      const since = t - HOUR;
      const throughput: number[] = new Array(60).fill(0);
      const buckets = await c.query<{ b: number; n: number }>(`
        SELECT ($1::bigint - finished_at) / 60000 AS b, COUNT(*) AS n FROM jobs
         WHERE state = 'completed' AND finished_at > $1::bigint - 3600000 AND finished_at <= $1::bigint GROUP BY 1`, [t]);
      for (const r of buckets.rows) throughput[59 - r.b] = r.n;
      const failedHour = (await c.query<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE state = 'failed' AND finished_at >= $1 AND finished_at <= $2`, [since, t])).rows[0]!.n;
      const queues = (await queueStatsIn(c, t, { configured: o.configured, completed: false })).map(({ completed: _completed, ...x }) => x);
      const doneRows = await c.query<{ queue: string; n: number }>(`SELECT queue, COUNT(*) AS n FROM jobs WHERE state = 'completed' AND finished_at > $1 AND finished_at <= $2 GROUP BY queue`, [since, t]);
      const longest = (await c.query<{ id: number; name: string; ms: number }>(`
        SELECT id, name, ms FROM (
          SELECT id, name, finished_at - reserved_at AS ms FROM jobs
           WHERE state = 'completed' AND finished_at >= $1 AND finished_at <= $2 AND reserved_at IS NOT NULL
           ORDER BY finished_at DESC LIMIT 1000) AS t
         ORDER BY ms DESC LIMIT 1`, [since, t])).rows[0];
      const failedTotal = (await c.query<{ n: number }>(`SELECT COALESCE(SUM(n), 0)::bigint AS n FROM failed_counts`)).rows[0]!.n;
      return overviewFrom({
        header: await headerIn(c, t, o.aliveMs), throughput, failedHour, failedTotal, queues,
        doneByQueue: new Map(doneRows.rows.map((r) => [r.queue, r.n])), longest, events: await eventsIn(c, silencedOf(o.silenced ?? [])),
      });
    }),
    queueRows: (configured) => view(async (c, t) => queueRowsFrom(await queueStatsIn(c, t, { since: t - HOUR, configured }), metricsOf(await finishedBetween(c, t - HOUR, t), HOUR))),
    metricRows: (window: MetricsWindow) => view(async (c, t) => {
      if (window === '1h') return sortMetrics(metricsOf(await finishedBetween(c, t - HOUR, t), HOUR));
      const ms = METRICS_WINDOW_MS[window];
      const rows = (await c.query<SnapshotRow>(`SELECT * FROM metrics_snapshots WHERE taken_at >= $1 ORDER BY taken_at`, [t - ms])).rows;
      return sortMetrics(aggregateSnapshotList(rows.map(toSnapshot), ms));
    }),
    listBatches: async (limit = BATCHES_LIST_LIMIT) => (await q.query<BatchRow>(`SELECT * FROM batches ORDER BY created_at DESC LIMIT $1`, [limit])).rows.map(toBatch),
    batchDetail: (id, limit = 500) => view(async (c) => {
      const b = await getBatchIn(c, id);
      if (!b) return undefined;
      const row = (await c.query<Pick<BatchRow, 'then_job' | 'catch_job' | 'finally_job'>>(`SELECT then_job, catch_job, finally_job FROM batches WHERE id = $1`, [b.id])).rows[0]!;
      const rows = (await c.query<BatchJobRow>(`SELECT id, name, queue, state, attempts, finished_at, errors FROM jobs WHERE batch_id = $1 ORDER BY id DESC LIMIT $2`, [b.id, limit])).rows;
      const counts = (await c.query<{ state: BatchJobRow['state']; n: number }>(`SELECT state, COUNT(*) AS n FROM jobs WHERE batch_id = $1 GROUP BY state`, [b.id])).rows;
      return batchDetailFrom(b, row, rows, counts);
    }),

    pausedQueues: async () => new Set((await q.query<{ name: string }>(`SELECT name FROM queues WHERE paused = 1`)).rows.map((r) => r.name)),
    pauseQueue: async (queue) => {
      assertQueueName(queue);
      await q.query(`INSERT INTO queues (name, paused, paused_at) VALUES ($1, 1, ${NOW_MS}) ON CONFLICT (name) DO UPDATE SET paused = 1, paused_at = excluded.paused_at`, [queue]);
    },
    continueQueue: async (queue) => {
      assertQueueName(queue);
      await q.query(`INSERT INTO queues (name, paused) VALUES ($1, 0) ON CONFLICT (name) DO UPDATE SET paused = 0, paused_at = NULL`, [queue]);
    },
    listFailed: async (filter = {}) => {
      const w = failedWhere({ ...filter, all: true });
      const limit = filter.limit ?? FAILED_READ_LIMIT;
      const rows = (await q.query<FailedRow>(`SELECT * FROM failed_jobs ${w.sql} ORDER BY failed_at DESC, id DESC LIMIT $${w.params.length + 1}`, [...w.params, limit])).rows;
      return rows.map(toFailed);
    },
    retryFailed: async (filter) => {
      const out = await tx(async (c) => {
        const w = failedWhere(filter);
        // Locked: a concurrent retry of the same rows waits, then finds them gone.
        const rows = (await c.query<FailedRow>(`SELECT * FROM failed_jobs ${w.sql} ORDER BY id FOR UPDATE`, w.params)).rows;
        const retried: Retried[] = [];
        for (const r of rows) {
          const { spec, chain } = retrySpec(r);
          const job = await pgEnqueueInTx(c, spec, { batchId: r.batch_id, chain });
          if (r.batch_id !== null && !job.existing) {
            await c.query(`UPDATE batches SET failed = GREATEST(0, failed - 1), pending = pending + 1, finished_at = NULL WHERE id = $1`, [r.batch_id]);
          }
          await c.query(`DELETE FROM failed_jobs WHERE uuid = $1`, [r.uuid]);
          retried.push({ uuid: r.uuid, jobId: job.id });
        }
        if (retried.length > 0) await notifyInTx(c, db);
        return retried;
      });
      if (out.length > 0) notifyLocal();
      return out;
    },
    forgetFailed: async (filter) => {
      const w = failedWhere(filter);
      return (await q.query(`DELETE FROM failed_jobs ${w.sql}`, w.params)).rowCount ?? 0;
    },
    getFailed: async (uuid) => {
      const r = (await q.query<FailedRow>(`SELECT * FROM failed_jobs WHERE uuid = $1`, [uuid])).rows[0];
      return r ? toFailed(r) : undefined;
    },
    createBatch: async (spec) => {
      const out = await tx(async (c) => {
        let jobs: PgEnqueued[] = [];
        const id = await pgCreateBatchInTx(c, spec, await nowIn(c), async (add) => {
          jobs = await add(spec.jobs);
        });
        await notifyInTx(c, db);
        return { id, jobs };
      });
      notifyLocal();
      return out;
    },
    getBatch: (id) => getBatchIn(q, id),
    cancelBatch: async (id) => {
      const n = await tx(async (c) => {
        const cancelled = await pgCancelBatchInTx(c, id, await nowIn(c));
        if (cancelled > 0) await notifyInTx(c, db);
        return cancelled;
      });
      notifyLocal();
      return n;
    },

    cancelJobs: async (ids) => {
      const out: Cancelled = { ids: [], catches: 0 };
      await tx(async (c) => {
        const t = await nowIn(c);
        for (const id of ids) await pgCancelJobInTx(c, id, t, out);
        if (out.catches > 0) await notifyInTx(c, db);
      });
      if (out.catches > 0) notifyLocal();
      return out;
    },
    countClearable: async (queue) => {
      assertQueueName(queue);
      return (await q.query<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE state IN ('pending','delayed') AND queue = $1`, [queue])).rows[0]!.n;
    },
    clearQueue: async (queue) => {
      assertQueueName(queue);
      const out: Cancelled = { ids: [], catches: 0 };
      // Only jobs that existed when the clear began (as ../cancel.ts clearQueue), CLEAR_CHUNK per transaction.
      const upTo = (await q.query<{ id: number | null }>(`SELECT MAX(id) AS id FROM jobs`)).rows[0]!.id ?? 0;
      for (const state of ['pending', 'delayed'] as const) {
        for (;;) {
          const n = await tx(async (c) => {
            const t = await nowIn(c);
            const ids = (await c.query<{ id: number }>(`SELECT id FROM jobs WHERE state = $1 AND queue = $2 AND id <= $3 ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED`,
              [state, queue, upTo, CLEAR_CHUNK])).rows.map((r) => r.id);
            const before = out.catches;
            for (const id of ids) await pgCancelJobInTx(c, id, t, out);
            if (out.catches > before) await notifyInTx(c, db);
            return ids.length;
          });
          if (n < CLEAR_CHUNK) break;
        }
      }
      if (out.catches > 0) notifyLocal();
      return out;
    },
    monitorTag: async (tag) => {
      assertTag(tag);
      return (await q.query(`INSERT INTO monitored_tags (tag, created_at) VALUES ($1, ${NOW_MS}) ON CONFLICT (tag) DO NOTHING`, [tag])).rowCount === 1;
    },
    unmonitorTag: async (tag) => {
      assertTag(tag);
      return (await q.query(`DELETE FROM monitored_tags WHERE tag = $1`, [tag])).rowCount === 1;
    },
    tagSummaries: (limit) => view(async (c) => {
      const tags = (await c.query<{ tag: string; created_at: number }>(`SELECT tag, created_at FROM monitored_tags ORDER BY tag COLLATE "C"`)).rows;
      const newest = `SELECT job_id FROM job_tags WHERE tag = $1 ORDER BY job_id DESC LIMIT ${TAG_SCAN_LIMIT}`;
      const jobs = async (tag: string, state?: string) => (await c.query<JobRow>(`SELECT jobs.* FROM (${newest}) AS t JOIN jobs ON jobs.id = t.job_id
        ${state ? `WHERE jobs.state = $3` : ''} ORDER BY t.job_id DESC LIMIT $2`, state ? [tag, limit, state] : [tag, limit])).rows.map(toJob);
      const out: TagSummary[] = [];
      for (const m of tags) {
        const byState = (await c.query<{ state: JobState; n: number }>(`SELECT jobs.state AS state, COUNT(*) AS n FROM (${newest}) AS t JOIN jobs ON jobs.id = t.job_id GROUP BY jobs.state`, [m.tag])).rows;
        out.push(tagSummaryFrom({ tag: m.tag, since: m.created_at }, byState, await jobs(m.tag), await jobs(m.tag, 'failed')));
      }
      return out;
    }),
    workers: async () => (await pgListWorkers(q)).workers,
    chart: (kind, key, window) => view(async (c, t) => {
      const windowMs = METRICS_WINDOW_MS[window];
      const from = t - windowMs;
      if (window !== '1h') {
        const rows = (await c.query<SeriesSnapshotRow>(`SELECT taken_at, processed, failed, runtime_avg FROM metrics_snapshots WHERE taken_at > $1 AND taken_at <= $2 AND kind = $3 AND key = $4`, [from, t, kind, key])).rows;
        return seriesFrom({ snapshots: rows }, windowMs, CHART_BUCKETS[window], t);
      }
      const col = kind === 'queue' ? 'queue' : 'name';
      const rows = (await c.query<SeriesJobRow>(`
        SELECT finished_at AS at, finished_at - reserved_at AS rt FROM jobs WHERE state = 'completed' AND finished_at > $1 AND finished_at <= $2 AND ${col} = $3
        UNION ALL
        SELECT finished_at AS at, finished_at - reserved_at AS rt FROM jobs WHERE state = 'failed' AND finished_at > $1 AND finished_at <= $2 AND ${col} = $3`, [from, t, key])).rows;
      return seriesFrom({ jobs: rows }, windowMs, CHART_BUCKETS[window], t);
    }),
    setDaemonsPaused: async (paused) => {
      await q.query(`INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [CONTROL_KEYS.paused, paused ? '1' : '0']);
    },
    requestDaemonStop: async () => {
      await q.query(`INSERT INTO settings (key, value) VALUES ($1, (${NOW_MS})::text) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [CONTROL_KEYS.stop]);
    },
    throttles: () => view(async (c, t) => {
      const rows = (await c.query<StoredThrottle>(`SELECT key, max, per_ms, window_start, count FROM throttles ORDER BY key COLLATE "C"`)).rows;
      const states = throttleStates(rows, t, undefined, () => 0);
      for (const st of states.filter((x) => x.throttled)) {
        st.waiting = (await c.query<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE state = 'pending' AND ${st.kind === 'queue' ? 'queue' : 'name'} = $1`, [st.name])).rows[0]!.n;
      }
      return states;
    }),

    claimTick: async (name, at) => {
      // Moves the recorded tick forward only (as integers): of several daemons firing one tick, one sees a change.
      const r = await q.query(`
        INSERT INTO settings (key, value) VALUES ($1, $2)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value
         WHERE (CASE WHEN settings.value ~ '^-?[0-9]{1,18}$' THEN settings.value::bigint ELSE 0 END) < excluded.value::bigint`, [`schedule:${name}:tick`, String(at)]);
      return r.rowCount === 1;
    },
    getSetting: async (key) => (await q.query<{ value: string }>(`SELECT value FROM settings WHERE key = $1`, [key])).rows[0]?.value,
    setSetting: async (key, value) => {
      await q.query(`INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [key, value]);
    },
    oldestPendingByQueue: async () => {
      const r = await q.query<{ queue: string; oldest: number }>(`SELECT queue, MIN(available_at) AS oldest FROM jobs WHERE state = 'pending' GROUP BY queue`);
      return new Map(r.rows.map((x) => [x.queue, x.oldest]));
    },
    raisedAlerts: async (kind) => {
      const prefix = `alert:${kind}:`;
      const r = await q.query<{ queue: string }>(`SELECT substr(key, $1) AS queue FROM settings WHERE starts_with(key, $2) AND value = '1'`, [prefix.length + 1, prefix]);
      return r.rows.map((x) => x.queue);
    },
    raiseAlert: async (kind, queue) =>
      (await q.query(`INSERT INTO settings (key, value) VALUES ($1, '1') ON CONFLICT (key) DO UPDATE SET value = '1' WHERE settings.value <> '1'`, [`alert:${kind}:${queue}`])).rowCount === 1,
    resolveAlert: async (kind, queue) => (await q.query(`UPDATE settings SET value = '0' WHERE key = $1 AND value = '1'`, [`alert:${kind}:${queue}`])).rowCount === 1,

    trimJobs: (o) => trimJobsIn(q, o),
    pruneBatches: async (hours) => deleteChunked(q, `DELETE FROM batches WHERE id IN (SELECT id FROM batches WHERE finished_at IS NOT NULL AND finished_at < ${NOW_MS} - $1::bigint LIMIT $2)`, [hours * 3_600_000], 1000),
    flushFailed: async (hours) => (await q.query(`DELETE FROM failed_jobs WHERE failed_at < ${NOW_MS} - $1::bigint`, [hours * 3_600_000])).rowCount ?? 0,
    snapshotMetrics: () => tx(snapshotMetricsIn),
  };
}
