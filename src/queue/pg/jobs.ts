import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { LEASE_MS } from '../defaults.js';
import { ValidationError } from '../errors.js';
import { cancelledCatch, type Cancelled } from '../cancel.js';
import { assertBatchHead, type BatchHead } from '../batches.js';
import { DEFAULT_MAX_RATE_LIMIT_WAIT_MS, mergePayload, type FinalFailure } from '../jobs.js';
import { chainCatchJob, delayPlan, failedOptions, retryPlan, withError, type LeasedFacts } from '../rules.js';
import type { ChainState, ClaimedJob, JobSpec, Lease, Outcome } from '../types.js';
import { assertChain, assertJobName, toJobRow, type JobRow } from '../validate.js';
import { REASON_LIMIT } from '../holds.js';
import { connectOwned, NOW_MS, ownerOf, pgTx, type PgDb } from './connect.js';

/**
 * The queue's operations on PostgreSQL, mirroring ../jobs.ts (same rows, same outcomes,
 * same fencing), as async functions over a PgDb. Differences that follow from the engine:
 * - every "now" is the database's clock (NOW_MS), never the host's: no function here reads
 *   Date.now(), so hosts with skewed clocks agree on availability and leases;
 * - a claim is one statement, UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n),
 *   so concurrent claimers on many hosts skip each other's rows instead of waiting;
 * - an enqueue's transaction ends with NOTIFY on the installation's channel (./listen.ts).
 * The `…InTx` functions take a client inside the caller's transaction.
 */

type Q = pg.ClientBase;

/** The job columns written by an enqueue, in order. */
const INSERT_COLUMNS = `queue, name, payload, state, priority, max_attempts, backoff, timeout_ms, retry_until, available_at, created_at, unique_key, tags, chain, batch_id`;

/** Insert one job at the database's now: $9 a retry-until or null, $10 the delay, $11 a retry-for window (ms) or null. */
const INSERT_ONE = `
  INSERT INTO jobs (${INSERT_COLUMNS})
  SELECT $1, $2, $3, CASE WHEN $10::bigint > 0 THEN 'delayed' ELSE 'pending' END, $4, $5, $6, $7,
         COALESCE($9::bigint, c.now + $11::bigint), c.now + $10::bigint, c.now, $8, $12, $13, $14
    FROM (SELECT ${NOW_MS} AS now) AS c
  ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('pending','delayed','reserved') DO NOTHING
  RETURNING id`;

/** INSERT_ONE for a job without a unique key, and the installation's NOTIFY ($15, its channel), in one statement. */
const INSERT_NOTIFY = `WITH j AS (${INSERT_ONE}) SELECT j.id, pg_notify($15, '') FROM j`;

/** Insert many jobs (none with a unique key) from parallel arrays, in order. */
const INSERT_MANY = `
  INSERT INTO jobs (${INSERT_COLUMNS})
  SELECT u.queue, u.name, u.payload, CASE WHEN u.delay > 0 THEN 'delayed' ELSE 'pending' END, u.priority, u.max_attempts, u.backoff, u.timeout_ms,
         COALESCE(u.retry_until, c.now + u.retry_for), c.now + u.delay, c.now, NULL, u.tags, u.chain, $13
    FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::text[])
         WITH ORDINALITY AS u(queue, name, payload, priority, max_attempts, backoff, timeout_ms, retry_until, retry_for, delay, tags, chain, ord),
         (SELECT ${NOW_MS} AS now) AS c
   ORDER BY u.ord
  RETURNING id`;

const FIND_UNIQUE = `SELECT id FROM jobs WHERE unique_key = $1 AND state IN ('pending','delayed','reserved')`;

/** Promote due delayed jobs to pending (rows another claimer is promoting are skipped). */
const PROMOTE_DUE = `
  UPDATE jobs SET state = 'pending'
   WHERE id = ANY (ARRAY(SELECT id FROM jobs WHERE state = 'delayed' AND available_at <= ${NOW_MS} FOR UPDATE SKIP LOCKED))`;

/**
 * Claim up to $4 ready jobs of the queues $1, tried in their order (a paused queue is
 * skipped), each in priority order, skipping rows another claimer holds and jobs whose name
 * is left out (held or throttled): one statement, on the jobs_ready partial index, for any
 * number of queues. Counts the attempt, takes a lease on the database clock and bumps the
 * fencing token.
 * - The queues are a LATERAL nested loop over `unnest … WITH ORDINALITY`, and the executor
 *   pulls rows on demand: the outer LIMIT stops it once $4 rows are locked, so a later
 *   queue is not read (nor its rows locked) when an earlier one had enough.
 * - The picked ids are an ARRAY(…) sub-select, an init plan run once: written as a plain
 *   `IN (SELECT … LIMIT n)` joined with the clock, the planner rescanned the sub-select and
 *   a claim of 1 took every pending row (test: "never hands one job …", "claims at most limit").
 * - The statement is prepared once and run on its generic plan (pgClaimQuery), since
 *   planning it cost more than running it. So nothing that decides the plan may be a
 *   parameter (test/queue/pg-plans.test.ts holds each case):
 *   - the per-queue LIMIT is a constant, the limit rounded up to a power of two (a generic
 *     plan of `LIMIT $n` guesses a tenth of the rows); the outer LIMIT $4 is exact;
 *   - names left out are literals in a statement of their own, planned for them: as a
 *     parameter, a generic plan guessed that `name <> ALL($5)` keeps one row in a thousand
 *     when a table holds two job names, and sorted the queue's whole backlog for a claim
 *     of 16. Likewise read from job_holds inside the statement.
 * - A job whose name is held (job_holds) is never taken, whatever names the caller left
 *   out: the last filter checks each picked row (a few, by primary key; the plan of the
 *   pick does not change). So a claim may leave out the names held when it last looked,
 *   and be sent in the same flight as the read of the holds in force (../store.ts
 *   claimAlone); the picked rows of a name held since are locked until COMMIT, not taken.
 * - RETURNING's order is not the claim order: pgClaimedOf sorts the rows.
 */
function claimText(perQueue: number, except: string): string {
  return `
  WITH c AS MATERIALIZED (SELECT ${NOW_MS} AS now)
  UPDATE jobs
     SET state = 'reserved', attempts = attempts + 1, reserved_at = c.now, reserved_by = $2,
         lease_expires_at = c.now + $3::bigint, lease_token = lease_token + 1
    FROM c
   WHERE jobs.id = ANY (ARRAY(
           SELECT p.id FROM unnest($1::text[]) WITH ORDINALITY AS q(queue, ord)
           CROSS JOIN LATERAL (
             SELECT j.id FROM jobs AS j
              WHERE j.state = 'pending' AND j.queue = q.queue${except}
                AND NOT EXISTS (SELECT 1 FROM queues WHERE queues.name = q.queue AND queues.paused = 1)
              ORDER BY j.priority DESC, j.id LIMIT ${perQueue} FOR UPDATE SKIP LOCKED) AS p
           LIMIT $4::int))
     AND jobs.state = 'pending'
     AND NOT EXISTS (SELECT 1 FROM job_holds AS h WHERE h.name = jobs.name AND h.until > c.now)
  RETURNING jobs.id, jobs.queue, jobs.name, jobs.payload, jobs.priority, jobs.attempts, jobs.max_attempts, jobs.timeout_ms, jobs.available_at, jobs.lease_token`;
}

/** Past this, a claim's per-queue limit is its own (a claim this large is rare, and plans once per connection). */
const CLAIM_BUCKET_MAX = 1024;

/** A claim's per-queue limit: `limit` rounded up to a power of two, so a few prepared statements serve every limit. */
function claimBucket(limit: number): number {
  if (limit > CLAIM_BUCKET_MAX) return limit;
  let b = 1;
  while (b < limit) b *= 2;
  return b;
}

/** A string as an SQL literal, whatever standard_conforming_strings says (as pg's escapeLiteral). */
function sqlLiteral(s: string): string {
  const quoted = `'${s.replaceAll("'", "''")}'`;
  return s.includes('\\') ? ` E${quoted.replaceAll('\\', '\\\\')}` : quoted;
}

/** Sent in the flight of a claim: the claim's transaction runs its prepared statements on their generic plans (see claimText). */
export const PG_GENERIC_PLANS = 'SET LOCAL plan_cache_mode = force_generic_plan';

/**
 * The statements a worker runs on every commit are prepared once per connection (a named
 * statement): planning the claim cost more than running it (0.39 against 0.07 ms, measured
 * on an empty queue). Each name belongs to one text.
 */
const PREPARED = { claim: 'gitroast_claim_', promote: 'gitroast_promote_holds', completeAny: 'gitroast_complete_any', completePlain: 'gitroast_complete_plain', nextDue: 'gitroast_next_due' } as const;

/**
 * Complete leases ($1 ids, $2 tokens) of jobs without chain or batch: nothing else to do, no
 * transaction needed. The clock is read once (a materialised CTE), so one statement's rows
 * share one time, as one SQLite commit's do; likewise in COMPLETE_ANY and CLAIM.
 */
const COMPLETE_PLAIN = `
  WITH c AS MATERIALIZED (SELECT ${NOW_MS} AS now)
  UPDATE jobs SET state = 'completed', finished_at = c.now, reserved_by = NULL, lease_expires_at = NULL
    FROM unnest($1::bigint[], $2::bigint[]) AS l(id, tok), c
   WHERE jobs.id = l.id AND jobs.lease_token = l.tok AND jobs.state = 'reserved' AND jobs.chain IS NULL AND jobs.batch_id IS NULL
  RETURNING jobs.id`;

/** The statement completing leases of jobs without chain or batch (send it; its rows are the ids it completed). */
export function pgCompletePlainQuery(leases: readonly Lease[]): pg.QueryConfig {
  return { name: PREPARED.completePlain, text: COMPLETE_PLAIN, values: [leases.map((l) => l.id), leases.map((l) => l.token)] };
}

/** Complete leases whatever their chain and batch; returns what chains and batches need. */
const COMPLETE_ANY = `
  WITH c AS MATERIALIZED (SELECT ${NOW_MS} AS now)
  UPDATE jobs SET state = 'completed', finished_at = c.now, reserved_by = NULL, lease_expires_at = NULL
    FROM unnest($1::bigint[], $2::bigint[]) AS l(id, tok), c
   WHERE jobs.id = l.id AND jobs.lease_token = l.tok AND jobs.state = 'reserved'
  RETURNING jobs.id, jobs.lease_token AS token, jobs.chain, jobs.batch_id, c.now`;

const LEASED_COLUMNS = `id, queue, name, payload, attempts, max_attempts, backoff, retry_until, unique_key, tags,
         chain, batch_id, errors, priority, timeout_ms, created_at, ${NOW_MS} AS now`;

/** Read and lock a leased job (fenced), with the database's now. */
const READ_LEASED = `SELECT ${LEASED_COLUMNS} FROM jobs WHERE id = $1 AND lease_token = $2 AND state = 'reserved' FOR UPDATE`;

/** Read and lock a reserved job whatever its token (recovery). */
const READ_RESERVED = `SELECT ${LEASED_COLUMNS} FROM jobs WHERE id = $1 AND state = 'reserved' FOR UPDATE`;

// ---------------------------------------------------------------------------------------
// Enqueue
// ---------------------------------------------------------------------------------------

/** What enqueue returns: the job's id, and whether an existing unique job was returned instead. */
export interface PgEnqueued {
  id: number;
  existing: boolean;
}

/** Where an enqueued job belongs (set by batches and chains). */
export interface PgEnqueueContext {
  batchId?: string | null;
  chain?: ChainState | null;
}

/** Send the installation's wake-up inside the caller's transaction (delivered at COMMIT). */
export async function notifyInTx(c: Q, db: PgDb): Promise<void> {
  await c.query(pgNotifyStatement(db));
}

/** The statement that notifies the installation's channel (its name written as a literal, so it can go in a multi-statement query). */
export function pgNotifyStatement(db: PgDb): string {
  return `SELECT pg_notify(${db.driver.escapeLiteral(db.channel)}, '')`;
}

/**
 * Enqueue one job in its own transaction (NOTIFY included) and return its id. A unique key
 * held by a pending, delayed or reserved job returns that job (existing: true). Throws a
 * ValidationError naming any bad value before anything is written.
 */
export async function pgEnqueue(db: PgDb, spec: JobSpec, ctx: PgEnqueueContext = {}): Promise<PgEnqueued> {
  const row = validate(spec);
  if (row.uniqueKey === null) {
    // Nothing to look up: one statement (its own transaction), the NOTIFY delivered at its commit.
    const r = await db.pool.query<{ id: number }>({ name: 'gitroast_enqueue_notify', text: INSERT_NOTIFY, values: [...insertParams(row, spec, ctx), db.channel] });
    return { id: r.rows[0]!.id, existing: false };
  }
  return pgTx(db, async (c) => {
    const out = await insertJob(c, row, spec, ctx);
    if (!out.existing) await notifyInTx(c, db);
    return out;
  });
}

/** Like pgEnqueue, inside the caller's transaction (the caller notifies). */
export async function pgEnqueueInTx(c: Q, spec: JobSpec, ctx: PgEnqueueContext = {}): Promise<PgEnqueued> {
  return insertJob(c, validate(spec), spec, ctx);
}

/**
 * Enqueue many jobs in one transaction: all or none, every spec validated first. Runs of
 * jobs without a unique key go in one INSERT … SELECT FROM unnest(…) each; a unique one is
 * inserted alone. Returns one PgEnqueued per spec, in order.
 */
export async function pgEnqueueMany(db: PgDb, specs: readonly JobSpec[], ctx: PgEnqueueContext = {}): Promise<PgEnqueued[]> {
  const rows = specs.map(validate);
  if (rows.length === 0) return [];
  return pgTx(db, async (c) => {
    const out = await insertAll(c, rows, specs, ctx);
    await notifyInTx(c, db);
    return out;
  });
}

/** Like pgEnqueueMany, inside the caller's transaction (the caller notifies). */
async function pgEnqueueManyInTx(c: Q, specs: readonly JobSpec[], ctx: PgEnqueueContext = {}): Promise<PgEnqueued[]> {
  return insertAll(c, specs.map(validate), specs, ctx);
}

function validate(spec: JobSpec): JobRow {
  const row = toJobRow(spec);
  if (spec.chain !== undefined || spec.catch !== undefined) assertChain(spec);
  return row;
}

function chainJson(spec: JobSpec, ctx: PgEnqueueContext): string | null {
  if (ctx.chain) return JSON.stringify(ctx.chain);
  if ((spec.chain && spec.chain.length > 0) || spec.catch) return JSON.stringify({ next: spec.chain ?? [], catch: spec.catch });
  return null;
}

/** INSERT_ONE's parameters for a job. */
function insertParams(row: JobRow, spec: JobSpec, ctx: PgEnqueueContext): unknown[] {
  return [row.queue, row.name, row.payload, row.priority, row.maxAttempts, row.backoff, row.timeoutMs, row.uniqueKey,
    row.retryUntil, row.delayMs, row.retryForMs, row.tags, chainJson(spec, ctx), ctx.batchId ?? null];
}

async function insertJob(c: Q, row: JobRow, spec: JobSpec, ctx: PgEnqueueContext): Promise<PgEnqueued> {
  const params = insertParams(row, spec, ctx);
  for (let i = 0; i < 3; i++) {
    const r = await c.query<{ id: number }>(INSERT_ONE, params);
    if (r.rows[0]) return { id: r.rows[0].id, existing: false };
    // The unique key is held: return its holder (it may finish meanwhile: then insert again).
    const held = await c.query<{ id: number }>(FIND_UNIQUE, [row.uniqueKey]);
    if (held.rows[0]) return { id: held.rows[0].id, existing: true };
  }
  throw new Error(`unique key ${JSON.stringify(row.uniqueKey)} kept changing hands while enqueueing`);
}

/** Rows per INSERT … unnest: bounded so one statement's arrays stay small. */
const ROWS_PER_INSERT = 1000;

async function insertAll(c: Q, rows: readonly JobRow[], specs: readonly JobSpec[], ctx: PgEnqueueContext): Promise<PgEnqueued[]> {
  const out: PgEnqueued[] = new Array(rows.length);
  let start = 0;
  for (let i = 0; i <= rows.length; i++) {
    if (i < rows.length && rows[i]!.uniqueKey === null && i - start < ROWS_PER_INSERT) continue;
    if (i > start) await insertRun(c, rows, specs, start, i, ctx, out);
    if (i < rows.length && rows[i]!.uniqueKey !== null) {
      out[i] = await insertJob(c, rows[i]!, specs[i]!, ctx);
      start = i + 1;
    } else {
      start = i;
    }
  }
  return out;
}

async function insertRun(c: Q, rows: readonly JobRow[], specs: readonly JobSpec[], from: number, to: number, ctx: PgEnqueueContext, out: PgEnqueued[]): Promise<void> {
  const cols: unknown[][] = Array.from({ length: 12 }, () => []);
  for (let i = from; i < to; i++) {
    const r = rows[i]!;
    const v = [r.queue, r.name, r.payload, r.priority, r.maxAttempts, r.backoff, r.timeoutMs, r.retryUntil, r.retryForMs, r.delayMs, r.tags, chainJson(specs[i]!, ctx)];
    for (let k = 0; k < 12; k++) cols[k]!.push(v[k]);
  }
  const res = await c.query<{ id: number }>(INSERT_MANY, [...cols, ctx.batchId ?? null]);
  // Identity values are drawn in the order the rows are inserted (ORDER BY ord).
  const ids = res.rows.map((r) => r.id).sort((a, b) => a - b);
  for (let i = from; i < to; i++) out[i] = { id: ids[i - from]!, existing: false };
}

// ---------------------------------------------------------------------------------------
// Claim
// ---------------------------------------------------------------------------------------

/** Options of pgClaim (as ../jobs.ts ClaimOptions, without a host clock). */
export interface PgClaimOptions {
  /** Queues in the order they are tried. Default high, default, low. */
  queues?: readonly string[];
  workerId: string;
  /** How many jobs at most, over all queues. Default 1. */
  limit?: number;
  /** Lease length in ms. Default LEASE_MS. */
  leaseMs?: number;
  /** Job names to leave pending (a throttle holds them back). Default none. */
  exceptNames?: readonly string[];
  /** Due delayed jobs were promoted already in this transaction (pgPromoteAndHoldsInTx). */
  promoted?: boolean;
}

/** Promote due delayed jobs and read the job holds in force, in one statement on the database's clock. */
const PROMOTE_HOLDS = `WITH promoted AS (${PROMOTE_DUE}) SELECT name, until FROM job_holds WHERE until > ${NOW_MS}`;

/** The job holds a claim honours: what PROMOTE_HOLDS returned. */
export type PgHolds = { name: string; until: number }[];

/** The query that promotes due delayed jobs and reads the holds in force (send it, then read it with pgHoldsOf). */
export function pgPromoteAndHoldsQuery(): pg.QueryConfig {
  return { name: PREPARED.promote, text: PROMOTE_HOLDS };
}

/** The holds in a PROMOTE_HOLDS result. */
export function pgHoldsOf(r: pg.QueryResult<{ name: string; until: string | number }>): PgHolds {
  return r.rows.map((h) => ({ name: h.name, until: Number(h.until) }));
}

/**
 * Promote due delayed jobs and read the job holds in force, in one statement (one round
 * trip of a claim fewer); returns the holds.
 */
export async function pgPromoteAndHoldsInTx(c: Q): Promise<PgHolds> {
  return pgHoldsOf(await c.query(pgPromoteAndHoldsQuery()));
}

/**
 * The claim statement for `options` (send it, then read it with pgClaimedOf): prepared, one
 * per per-queue limit, when no name is left out; otherwise a statement of its own, planned
 * for its names (see claimText).
 */
export function pgClaimQuery(options: PgClaimOptions & { limit: number; queues: readonly string[] }): pg.QueryArrayConfig {
  const perQueue = claimBucket(options.limit);
  const values = [[...options.queues], options.workerId, options.leaseMs ?? LEASE_MS, options.limit];
  const except = options.exceptNames ?? [];
  if (except.length === 0) return { name: `${PREPARED.claim}${perQueue}`, text: claimText(perQueue, ''), values, rowMode: 'array' };
  return { text: claimText(perQueue, ` AND j.name NOT IN (${except.map(sqlLiteral).join(', ')})`), values, rowMode: 'array' };
}

type ClaimRow = [number, string, string, string, number, number, number, number | null, number, number];

/** The jobs of a CLAIM result, in claim order: the queues' order, then priority, then id. */
export function pgClaimedOf(r: pg.QueryArrayResult, queues: readonly string[]): ClaimedJob[] {
  const rows = r.rows as ClaimRow[];
  if (rows.length > 1) {
    const rank = new Map(queues.map((q, i) => [q, i]));
    rows.sort((a, b) => rank.get(a[1])! - rank.get(b[1])! || b[4] - a[4] || a[0] - b[0]);
  }
  return rows.map((x) => ({ id: x[0], queue: x[1], name: x[2], payload: x[3], priority: x[4], attempts: x[5], maxAttempts: x[6], timeoutMs: x[7], availableAt: x[8], token: x[9] }));
}

/**
 * Claim the next ready jobs of these queues (tried in order, paused ones skipped), in
 * priority order: due delayed jobs are promoted first (held names are then left pending),
 * then one claim statement for every queue. No transaction is held: each statement commits on its own, and SKIP LOCKED keeps
 * concurrent claimers off each other's rows.
 */
export async function pgClaim(q: pg.Pool | Q, options: PgClaimOptions): Promise<ClaimedJob[]> {
  const limit = options.limit ?? 1;
  if (limit < 1) return [];
  let exceptNames = options.exceptNames;
  if (!options.promoted) {
    const held = pgHoldsOf(await q.query(pgPromoteAndHoldsQuery())).map((h) => h.name);
    if (held.length > 0) exceptNames = [...(exceptNames ?? []), ...held];
  }
  const queues = options.queues ?? ['high', 'default', 'low'];
  return pgClaimedOf(await q.query(pgClaimQuery({ ...options, limit, queues, exceptNames })), queues);
}

/** The earliest time a delayed job becomes due (database clock, ms), or undefined. */
export async function pgNextDueAt(q: pg.Pool | Q): Promise<number | undefined> {
  return pgNextDueOf(await q.query(pgNextDueQuery()));
}

/** The earliest due time of a delayed job, on the jobs_delayed index. */
export const PG_NEXT_DUE = `SELECT MIN(available_at) AS at FROM jobs WHERE state = 'delayed'`;

/** The statement reading the earliest due time of a delayed job (send it, then read it with pgNextDueOf). */
export function pgNextDueQuery(): pg.QueryConfig {
  return { name: PREPARED.nextDue, text: PG_NEXT_DUE };
}

/** The due time in a pgNextDueQuery result, or undefined. */
export function pgNextDueOf(r: pg.QueryResult<{ at: number | string | null }>): number | undefined {
  const at = r.rows[0]?.at;
  return at === null || at === undefined ? undefined : Number(at);
}

/** The database's clock, ms since the epoch. */
export async function pgNow(q: pg.Pool | Q): Promise<number> {
  return (await q.query<{ now: number }>(`SELECT ${NOW_MS} AS now`)).rows[0]!.now;
}

// ---------------------------------------------------------------------------------------
// Complete (group commit)
// ---------------------------------------------------------------------------------------

/**
 * Complete many leases (fenced by their tokens); returns how many were accepted. Jobs with
 * neither chain nor batch are completed by one autocommit statement; the rest (and leases
 * that statement did not take) go through one transaction that also enqueues next links,
 * counts batches and notifies.
 */
export async function pgCompleteMany(db: PgDb, leases: readonly Lease[]): Promise<number> {
  if (leases.length === 0) return 0;
  const plain = await db.pool.query<{ id: number }>(pgCompletePlainQuery(leases));
  if (plain.rows.length === leases.length) return leases.length;
  const done = new Set(plain.rows.map((r) => r.id));
  const rest = leases.filter((l) => !done.has(l.id));
  const n = await pgTx(db, async (c) => {
    const m = (await pgCompleteLeasesInTx(c, rest)).ids.length;
    if (m > 0) await notifyInTx(c, db);
    return m;
  });
  return plain.rows.length + n;
}

/** Complete one lease; false when the lease was lost (the late result is rejected). */
export async function pgComplete(db: PgDb, lease: Lease): Promise<boolean> {
  return (await pgCompleteMany(db, [lease])) === 1;
}

/**
 * Complete leases inside the caller's transaction, with chains and batches: the leases
 * accepted (as `id:token`), and whether a chain or batch enqueued anything (the caller notifies).
 */
async function pgCompleteLeasesInTx(c: Q, leases: readonly Lease[]): Promise<{ ids: string[]; followUp: boolean }> {
  if (leases.length === 0) return { ids: [], followUp: false };
  return pgAfterCompleteInTx(c, await c.query(pgCompleteAnyQuery(leases)));
}

/** The statement that completes `leases` whatever their chain and batch (send it, then finish with pgAfterCompleteInTx). */
export function pgCompleteAnyQuery(leases: readonly Lease[]): pg.QueryConfig {
  return { name: PREPARED.completeAny, text: COMPLETE_ANY, values: [leases.map((l) => l.id), leases.map((l) => l.token)] };
}

/** Enqueue the chains' next links and count the batches of what a COMPLETE_ANY completed; the accepted `id:token`s, and whether any had a follow-up. */
export async function pgAfterCompleteInTx(c: Q, res: pg.QueryResult<{ id: number; token: number; chain: string | null; batch_id: string | null; now: number }>): Promise<{ ids: string[]; followUp: boolean }> {
  let followUp = false;
  for (const r of res.rows) {
    if (r.chain !== null || r.batch_id !== null) {
      followUp = true;
      await afterComplete(c, r.chain, r.batch_id, r.now);
    }
  }
  return { ids: res.rows.map((r) => `${r.id}:${r.token}`), followUp };
}

async function afterComplete(c: Q, chainText: string | null, batchId: string | null, now: number): Promise<void> {
  if (chainText !== null) {
    const chain = JSON.parse(chainText) as ChainState;
    const [next, ...rest] = chain.next;
    if (next) {
      const carry = rest.length > 0 || chain.catch ? { next: rest, catch: chain.catch } : null;
      await pgEnqueueInTx(c, next, { batchId, chain: carry });
      return;
    }
  }
  if (batchId !== null) await pgRecordBatchOutcome(c, batchId, 'processed', now);
}

// ---------------------------------------------------------------------------------------
// Fenced handler writes
// ---------------------------------------------------------------------------------------

/** A handler's database writes, run in the transaction that completes its job (PostgreSQL). */
export type PgLeasedWrite = (c: pg.ClientBase) => Promise<void>;

/**
 * Complete a lease and run `writes` after it, in one transaction: both or neither. True
 * when completed; false when the lease was lost (nothing written); or the error a write
 * threw (nothing written, the lease still held, so the caller can release or fail the job).
 */
export async function pgCompleteWithWrites(db: PgDb, lease: Lease, writes: readonly PgLeasedWrite[]): Promise<boolean | Error> {
  const client = await connectOwned(db);
  try {
    await client.query('BEGIN');
    try {
      const r = await pgCompleteWithWritesInTx(client, lease, writes);
      if (r === true) {
        await notifyInTx(client, db);
        await client.query('COMMIT');
      } else {
        await client.query('ROLLBACK');
      }
      return r;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  } finally {
    client.release();
  }
}

/** Like pgCompleteWithWrites inside the caller's transaction, in a savepoint: a failing write undoes only this job. */
export async function pgCompleteWithWritesInTx(c: Q, lease: Lease, writes: readonly PgLeasedWrite[]): Promise<boolean | Error> {
  await c.query('SAVEPOINT gitroast_lease');
  try {
    if ((await pgCompleteLeasesInTx(c, [lease])).ids.length !== 1) {
      await c.query('ROLLBACK TO SAVEPOINT gitroast_lease');
      return false;
    }
    for (const w of writes) await w(c);
    await c.query('RELEASE SAVEPOINT gitroast_lease');
    return true;
  } catch (err) {
    await c.query('ROLLBACK TO SAVEPOINT gitroast_lease');
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * Run `write` in its own transaction only while `lease` is held: the job row is locked
 * first, so recovery cannot take the lease in between; false, nothing written, when lost.
 */
export async function pgWriteUnderLease(db: PgDb, lease: Lease, write: PgLeasedWrite): Promise<boolean> {
  return pgTx(db, async (c) => {
    const held = await c.query(`SELECT 1 FROM jobs WHERE id = $1 AND lease_token = $2 AND state = 'reserved' FOR NO KEY UPDATE`, [lease.id, lease.token]);
    if (held.rowCount !== 1) return false;
    await write(c);
    return true;
  });
}

/** Extend a lease to the database's now + `leaseMs`; false when the lease was lost. */
export async function pgExtendLease(q: pg.Pool | Q, lease: Lease, leaseMs: number): Promise<boolean> {
  const r = await q.query(`UPDATE jobs SET lease_expires_at = ${NOW_MS} + $3::bigint WHERE id = $1 AND lease_token = $2 AND state = 'reserved'`, [lease.id, lease.token, leaseMs]);
  return r.rowCount === 1;
}

// ---------------------------------------------------------------------------------------
// Release, delay, fail
// ---------------------------------------------------------------------------------------

/** A leased job's row as the rules read it (../rules.ts), with what the engine needs besides. */
interface LeasedRow extends LeasedFacts {
  payload: string;
  batch_id: string | null;
  now: number;
}

/** An error as recorded on an attempt. */
export interface PgErrorInfo {
  message: string;
  stack?: string;
}

/** Run an outcome-returning step in a transaction and notify when a job went back or a callback was enqueued. */
async function outcomeTx(db: PgDb, fn: (c: Q) => Promise<Outcome>): Promise<Outcome> {
  return pgTx(db, async (c) => {
    const o = await fn(c);
    if (o.kind !== 'lost') await notifyInTx(c, db);
    return o;
  });
}

/**
 * Release a leased job after a retryable error: back after its backoff (database clock),
 * or failed for good when its tries are used up or its retry-until deadline would pass.
 */
export async function pgRelease(db: PgDb, lease: Lease, error: PgErrorInfo): Promise<Outcome> {
  return outcomeTx(db, (c) => pgReleaseInTx(c, lease, error));
}

/** Like pgRelease inside the caller's transaction. */
export async function pgReleaseInTx(c: Q, lease: Lease, error: PgErrorInfo): Promise<Outcome> {
  const row = (await c.query<LeasedRow>(READ_LEASED, [lease.id, lease.token])).rows[0];
  if (!row) return { kind: 'lost' };
  const now = row.now;
  const errors = withError(row, error, now);
  const plan = retryPlan(row, error, now);
  if (plan.kind === 'fail') return failRow(c, row, errors, plan.reason, error.stack);
  await c.query(`UPDATE jobs SET state = $1, available_at = $2, attempts = $3, errors = $4, reserved_by = NULL, lease_expires_at = NULL WHERE id = $5`,
    [plan.at > now ? 'delayed' : 'pending', plan.at, row.attempts, errors, row.id]);
  return { kind: 'released', availableAt: plan.at };
}

/**
 * Put a leased job back until `until` (ms, database clock) without spending its attempt;
 * its retry-until moves back by the wait. Fails it when `until` is more than `maxWaitMs`
 * (default 24 h) after its enqueue.
 */
export async function pgDelay(db: PgDb, lease: Lease, until: number, reason: string, options: { maxWaitMs?: number } = {}): Promise<Outcome> {
  return outcomeTx(db, (c) => pgDelayInTx(c, lease, until, reason, options));
}

/** Like pgDelay inside the caller's transaction. */
export async function pgDelayInTx(c: Q, lease: Lease, until: number, reason: string, options: { maxWaitMs?: number } = {}): Promise<Outcome> {
  const row = (await c.query<LeasedRow>(READ_LEASED, [lease.id, lease.token])).rows[0];
  if (!row) return { kind: 'lost' };
  const now = row.now;
  const plan = delayPlan(row, until, reason, now, options.maxWaitMs ?? DEFAULT_MAX_RATE_LIMIT_WAIT_MS);
  if (plan.kind === 'fail') return failRow(c, row, withError(row, { message: reason }, now), plan.reason, undefined);
  await c.query(`UPDATE jobs SET state = $1, available_at = $2, attempts = $3, retry_until = $4, reserved_by = NULL, lease_expires_at = NULL WHERE id = $5`,
    [plan.at > now ? 'delayed' : 'pending', plan.at, plan.attempts, plan.retryUntil, row.id]);
  return { kind: 'delayed', availableAt: plan.at };
}

/** Fail a leased job for good (a final or not-retryable error). */
export async function pgFail(db: PgDb, lease: Lease, error: PgErrorInfo): Promise<Outcome> {
  return outcomeTx(db, (c) => pgFailInTx(c, lease, error));
}

/** Like pgFail inside the caller's transaction. */
export async function pgFailInTx(c: Q, lease: Lease, error: PgErrorInfo): Promise<Outcome> {
  const row = (await c.query<LeasedRow>(READ_LEASED, [lease.id, lease.token])).rows[0];
  if (!row) return { kind: 'lost' };
  return failRow(c, row, withError(row, error, row.now), error.message, error.stack);
}

/** Fail a reserved job whatever its lease (recovery). Caller holds the transaction. False when it is not reserved. */
export async function pgFailReservedInTx(c: Q, id: number, reason: string): Promise<boolean> {
  const row = (await c.query<LeasedRow>(READ_RESERVED, [id])).rows[0];
  if (!row) return false;
  await failRow(c, row, withError(row, { message: reason }, row.now), reason, undefined);
  return true;
}

const failureHooks = new WeakMap<PgDb, (f: FinalFailure) => JobSpec | undefined>();

/**
 * Enqueue the job `hook` returns whenever a job fails for good in a transaction of `db`
 * (pgTx), in that transaction (as ../jobs.ts setFailureHook). `undefined` removes it.
 */
export function setPgFailureHook(db: PgDb, hook: ((f: FinalFailure) => JobSpec | undefined) | undefined): void {
  if (hook) failureHooks.set(db, hook);
  else failureHooks.delete(db);
}

async function failRow(c: Q, row: LeasedRow, errors: string, reason: string, stack: string | undefined): Promise<Outcome> {
  const now = row.now;
  await c.query(`UPDATE jobs SET state = 'failed', finished_at = $1, errors = $2, reserved_by = NULL, lease_expires_at = NULL WHERE id = $3`, [now, errors, row.id]);
  const uuid = randomUUID();
  await c.query(`INSERT INTO failed_jobs (uuid, job_id, queue, name, payload, options, tags, batch_id, attempts, error, stack, failed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
  [uuid, row.id, row.queue, row.name, row.payload, failedOptions(row), row.tags, row.batch_id, row.attempts, reason.slice(0, 4000), stack?.slice(0, 8000) ?? null, now]);
  const catchJob = chainCatchJob(row, reason, uuid);
  if (catchJob) await pgEnqueueInTx(c, catchJob);
  const chain = row.chain ? (JSON.parse(row.chain) as ChainState) : null;
  if (row.batch_id !== null) {
    await pgRecordBatchOutcome(c, row.batch_id, 'failed', now, { jobId: row.id, name: row.name, queue: row.queue, error: reason.slice(0, 1000), attempt: row.attempts, failedUuid: uuid });
  }
  const owner = ownerOf(c);
  const hook = owner ? failureHooks.get(owner) : undefined;
  if (hook) {
    const spec = hook({
      jobId: row.id, name: row.name, queue: row.queue, tags: row.tags ? (JSON.parse(row.tags) as string[]) : [], error: reason.slice(0, 1000),
      attempt: row.attempts, failedUuid: uuid, failedAt: now, handledByChain: Boolean(chain?.catch),
    });
    if (spec) {
      try {
        await pgEnqueueInTx(c, spec);
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
      }
    }
  }
  return { kind: 'failed', failedUuid: uuid, reason };
}

// ---------------------------------------------------------------------------------------
// Batches: counters and exactly-once callbacks
// ---------------------------------------------------------------------------------------

/** What a batch's catch job gets as `failure`. */
interface PgBatchFailure {
  jobId: number;
  name: string;
  queue: string;
  error: string;
  attempt: number;
  failedUuid: string;
}

/**
 * Count one job of a batch as processed, failed or cancelled and enqueue the callbacks now
 * due. The counter UPDATE locks the batch row until the transaction ends, so two hosts
 * finishing the last two jobs serialise on it, and each dispatch flag flips 0 → 1 in a
 * guarded UPDATE: each callback is enqueued exactly once.
 */
async function pgRecordBatchOutcome(c: Q, batchId: string, outcome: 'processed' | 'failed' | 'cancelled', now: number, failure?: PgBatchFailure): Promise<void> {
  await c.query(`UPDATE batches SET pending = GREATEST(0, pending - 1), ${outcome} = ${outcome} + 1 WHERE id = $1`, [batchId]);
  await pgDispatchBatchCallbacks(c, batchId, now, failure);
}

/** Enqueue whichever of the batch's callbacks are due and not yet dispatched. Caller holds the transaction. */
async function pgDispatchBatchCallbacks(c: Q, batchId: string, now: number, failure?: PgBatchFailure): Promise<void> {
  const enqueueCallback = async (json: string | null, withFailure?: PgBatchFailure) => {
    if (!json) return;
    const spec = JSON.parse(json) as JobSpec;
    const base = spec.payload;
    const batch = { id: batchId };
    const extra = withFailure ? { batch, failure: withFailure } : { batch };
    const payload = mergePayload(base, extra);
    await pgEnqueueInTx(c, { ...spec, payload });
  };
  const cr = (await c.query<{ catch_job: string | null; allow_failures: number }>(
    `UPDATE batches SET catch_dispatched = 1 WHERE id = $1 AND catch_dispatched = 0 AND failed > 0 RETURNING catch_job, allow_failures`, [batchId])).rows[0];
  if (cr) {
    await enqueueCallback(cr.catch_job, failure);
    if (!cr.allow_failures) await pgCancelBatchInTx(c, batchId, now);
  }
  const t = (await c.query<{ then_job: string | null }>(
    `UPDATE batches SET then_dispatched = 1 WHERE id = $1 AND then_dispatched = 0 AND pending = 0 AND failed = 0 AND cancelled = 0 AND cancelled_at IS NULL RETURNING then_job`, [batchId])).rows[0];
  if (t) await enqueueCallback(t.then_job);
  const f = (await c.query<{ finally_job: string | null }>(
    `UPDATE batches SET finally_dispatched = 1, finished_at = $2 WHERE id = $1 AND finally_dispatched = 0 AND pending = 0 RETURNING finally_job`, [batchId, now])).rows[0];
  if (f) await enqueueCallback(f.finally_job);
  else await c.query(`UPDATE batches SET finished_at = $2 WHERE id = $1 AND pending = 0 AND finished_at IS NULL`, [batchId, now]);
}

/** Cancel a batch's jobs that have not started; counts them out of pending. Caller holds the transaction. */
export async function pgCancelBatchInTx(c: Q, batchId: string, now: number): Promise<number> {
  const changed = (await c.query(`UPDATE batches SET cancelled_at = $2 WHERE id = $1 AND cancelled_at IS NULL`, [batchId, now])).rowCount;
  if (changed === 0) return 0;
  const n = (await c.query(`UPDATE jobs SET state = 'cancelled', finished_at = $2 WHERE batch_id = $1 AND state IN ('pending','delayed')`, [batchId, now])).rowCount ?? 0;
  if (n > 0) {
    await c.query(`UPDATE batches SET pending = GREATEST(0, pending - $2), cancelled = cancelled + $2 WHERE id = $1`, [batchId, n]);
    await pgDispatchBatchCallbacks(c, batchId, now);
  }
  return n;
}

/**
 * Create a batch inside the caller's transaction (as ../batches.ts createBatchInTx): its jobs
 * are added by `fill` in as many calls to `add` as it likes; the counts, and the callbacks of
 * a batch left empty, are settled after `fill` returns. `now` is the database's. The caller
 * holds the transaction and notifies.
 */
export async function pgCreateBatchInTx(c: Q, head: BatchHead, now: number,
  fill: (add: (jobs: readonly JobSpec[]) => Promise<PgEnqueued[]>, batchId: string) => Promise<void>): Promise<string> {
  assertBatchHead(head);
  const id = head.id ?? randomUUID();
  await c.query(`INSERT INTO batches (id, name, total, pending, allow_failures, then_job, catch_job, finally_job, created_at) VALUES ($1, $2, 0, 0, $3, $4, $5, $6, $7)`,
    [id, head.name ?? null, head.allowFailures ? 1 : 0, head.then ? JSON.stringify(head.then) : null, head.catch ? JSON.stringify(head.catch) : null,
      head.finally ? JSON.stringify(head.finally) : null, now]);
  // A unique job that already existed is not part of this batch: it is not counted.
  let added = 0;
  await fill(async (jobs) => {
    const out = await pgEnqueueManyInTx(c, jobs, { batchId: id });
    for (const e of out) if (!e.existing) added++;
    return out;
  }, id);
  await c.query(`UPDATE batches SET total = $1, pending = $1 WHERE id = $2`, [added, id]);
  if (added === 0) await pgDispatchBatchCallbacks(c, id, now);
  return id;
}

/**
 * Create a batch and enqueue its jobs in one transaction (the minimum the batch tests need;
 * ../batches.ts createBatch is the full operation, to be mirrored by the Store).
 */
export async function pgCreateBatch(db: PgDb, b: { id: string; name?: string; jobs: readonly JobSpec[]; allowFailures?: boolean; then?: JobSpec; catch?: JobSpec; finally?: JobSpec }): Promise<PgEnqueued[]> {
  for (const s of [b.then, b.catch, b.finally]) if (s) validate(s);
  return pgTx(db, async (c) => {
    await c.query(`INSERT INTO batches (id, name, total, pending, allow_failures, then_job, catch_job, finally_job, created_at) VALUES ($1, $2, $3, $3, $4, $5, $6, $7, ${NOW_MS})`,
      [b.id, b.name ?? null, b.jobs.length, b.allowFailures ? 1 : 0, b.then ? JSON.stringify(b.then) : null, b.catch ? JSON.stringify(b.catch) : null, b.finally ? JSON.stringify(b.finally) : null]);
    const out = await pgEnqueueManyInTx(c, b.jobs, { batchId: b.id });
    await notifyInTx(c, db);
    return out;
  });
}

// ---------------------------------------------------------------------------------------
// Cancelling jobs that have not started (as ../cancel.ts)
// ---------------------------------------------------------------------------------------

/**
 * Cancel one job by id if it is pending or delayed; the caller holds the transaction. The
 * chain's catch job is enqueued with the reason "cancelled", a batch counts it as cancelled
 * (as ../cancel.ts cancelJobInTx). False when the job was not pending or delayed.
 */
export async function pgCancelJobInTx(c: Q, id: number, now: number, out: Cancelled): Promise<boolean> {
  const row = (await c.query<{ id: number; queue: string; name: string; chain: string | null; batch_id: string | null }>(`
    UPDATE jobs SET state = 'cancelled', finished_at = $1, reserved_by = NULL, lease_expires_at = NULL
     WHERE id = $2 AND state IN ('pending','delayed')
    RETURNING id, queue, name, chain, batch_id`, [now, id])).rows[0];
  if (!row) return false;
  out.ids.push(row.id);
  const catchJob = cancelledCatch(row);
  if (catchJob) {
    await pgEnqueueInTx(c, catchJob);
    out.catches++;
  }
  if (row.batch_id !== null) await pgRecordBatchOutcome(c, row.batch_id, 'cancelled', now);
  return true;
}

// ---------------------------------------------------------------------------------------
// Holds (as ../holds.ts holdJobs)
// ---------------------------------------------------------------------------------------

/**
 * Hold jobs named `name` until `until` with `reason`, set at the database's now; a hold
 * already in force that ends later is kept (its reason too). One statement.
 */
export async function pgHoldJobs(q: pg.Pool | Q, name: string, until: number, reason: string): Promise<void> {
  assertJobName(name);
  await q.query(`INSERT INTO job_holds (name, until, reason, set_at) VALUES ($1, $2, $3, ${NOW_MS})
    ON CONFLICT (name) DO UPDATE SET until = excluded.until, reason = excluded.reason, set_at = excluded.set_at
    WHERE excluded.until > job_holds.until OR job_holds.until <= excluded.set_at`, [name, until, reason.slice(0, REASON_LIMIT)]);
}
