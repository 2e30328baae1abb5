/**
 * The PostgreSQL statements a worker runs on every commit, on a jobs table that has grown
 * (100,000 finished jobs, a backlog of 30,000 of one name, as a big batch leaves it, 2,000
 * delayed): each must read a few rows through an index, never the table or the whole
 * backlog. They run under EXPLAIN ANALYZE on a connection of gitroast's own pool, inside a
 * transaction that is rolled back. The claim runs on its generic plan, as a commit runs it
 * (./jobs.ts claimText): the plan made once for every execution, blind to the parameters'
 * values.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { pgClaimQuery, pgCompleteAnyQuery, pgNextDueQuery, pgPromoteAndHoldsQuery } from '../../src/queue/pg/jobs.js';
import { createPgStore } from '../../src/queue/pg/store.js';
import { pgQueueRoom } from '../../src/queue/pg/migrations.js';
import { pgSchemas } from '../support/pg.js';

const pgs = pgSchemas('plans');

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/** The most rows any one node of the plan read from jobs or one of its indexes (kept or filtered out). */
function mostRead(node: PlanNode): { rows: number; node: string } {
  const onJobs = node['Relation Name'] === 'jobs' || node['Index Name']?.startsWith('jobs');
  const rows = onJobs ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) * node['Actual Loops'] : 0;
  let most = { rows, node: `${node['Node Type']} ${node['Index Name'] ?? node['Relation Name'] ?? ''}`.trim() };
  for (const child of node.Plans ?? []) {
    const m = mostRead(child);
    if (m.rows > most.rows) most = m;
  }
  return most;
}

/** Run a statement under EXPLAIN (ANALYZE) in a transaction that is rolled back; the plan's root. */
async function analyze(c: pg.PoolClient, q: { text: string; values?: unknown[] }): Promise<PlanNode> {
  await c.query('BEGIN');
  try {
    const r = await c.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>({ text: `EXPLAIN (ANALYZE, FORMAT JSON) ${q.text}`, values: q.values ?? [] });
    return r.rows[0]!['QUERY PLAN'][0]!.Plan;
  } finally {
    await c.query('ROLLBACK');
  }
}

/** A value as an SQL expression, for EXECUTE's arguments. */
function literal(v: unknown): string {
  if (Array.isArray(v)) return `ARRAY[${v.map(literal).join(', ')}]::text[]`;
  return typeof v === 'number' ? String(v) : `'${String(v).replaceAll("'", "''")}'`;
}

let prepared = 0;

/** Run a statement on its generic plan (PREPAREd, plan_cache_mode = force_generic_plan) under EXPLAIN ANALYZE, rolled back; the plan's root. */
async function analyzeGeneric(c: pg.PoolClient, q: { text: string; values?: unknown[] }, types: readonly string[]): Promise<PlanNode> {
  const name = `plan_${prepared++}`;
  await c.query('BEGIN');
  try {
    await c.query('SET LOCAL plan_cache_mode = force_generic_plan');
    await c.query(`PREPARE ${name} (${types.join(', ')}) AS ${q.text}`);
    const r = await c.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE ${name} (${(q.values ?? []).map(literal).join(', ')})`);
    return r.rows[0]!['QUERY PLAN'][0]!.Plan;
  } finally {
    await c.query('ROLLBACK');
    await c.query(`DEALLOCATE ${name}`);
  }
}

/** The parameter types of a claim statement (./jobs.ts claimText). */
const CLAIM_TYPES = ['text[]', 'text', 'bigint', 'int'];

describe('PostgreSQL hot statements on a grown jobs table', () => {
  it('claim, promotion with holds, completion and the next due time read a few rows through indexes, never the backlog', async () => {
    const db = await pgs.open(pgs.name(), { rooms: [pgQueueRoom] });
    // Two job names in the table: a generic plan of `name <> ALL($n)` then guesses that one
    // row in a thousand is kept (the control below).
    await db.pool.query(`INSERT INTO jobs (queue, name, payload, state, available_at, created_at, finished_at)
                         SELECT 'default', 'noop', '{}', 'completed', 0, 0, g FROM generate_series(1, 100000) AS g`);
    await db.pool.query(`INSERT INTO jobs (queue, name, payload, state, available_at, created_at)
                         SELECT (ARRAY['high','default','low'])[1 + g % 3], 'fetch-github', '{}', 'pending', 0, 0
                           FROM generate_series(1, 30000) AS g`);
    await db.pool.query(`INSERT INTO jobs (queue, name, payload, state, available_at, created_at)
                         SELECT 'default', 'noop', '{}', 'delayed', 9000000000000 + g, 0 FROM generate_series(1, 2000) AS g`);
    await db.pool.query(`ANALYZE jobs`);
    const reserved = (await db.pool.query<{ id: number }>(`UPDATE jobs SET state = 'reserved', lease_token = 1 WHERE id IN (100001, 100002) RETURNING id`)).rows;
    expect(reserved).toHaveLength(2);
    const c = await db.pool.connect();
    try {
      // The pool's connections plan each execution for its parameters (./connect.ts); the
      // claim, on its generic plan, is the exception its transaction makes.
      expect((await c.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode')).rows[0]!.plan_cache_mode).toBe('force_custom_plan');
      const queues = ['high', 'default', 'low'];
      const read: Record<string, number> = {};
      const where: Record<string, string> = {};
      const note = (name: string, plan: PlanNode) => {
        const m = mostRead(plan);
        read[name] = m.rows;
        where[name] = m.node;
      };
      for (const limit of [1, 16, 100]) {
        note(`claim${limit}`, await analyzeGeneric(c, pgClaimQuery({ workerId: 'w_plan', leaseMs: 60_000, queues, limit }), CLAIM_TYPES));
      }
      // A held name left out: a statement of its own, with the name as a literal.
      const held = pgClaimQuery({ workerId: 'w_plan', leaseMs: 60_000, queues, limit: 16, exceptNames: ['held', "o'dd"] });
      expect(held.name).toBeUndefined();
      note('claimHeld', await analyzeGeneric(c, held, CLAIM_TYPES));
      note('promote', await analyze(c, pgPromoteAndHoldsQuery()));
      note('complete', await analyze(c, pgCompleteAnyQuery([{ id: 100_001, token: 1 }, { id: 100_002, token: 1 }])));
      note('nextDue', await analyze(c, pgNextDueQuery()));
      // A claim of n reads its n rows (and as many again at most), not a queue's 10,000.
      expect(read.claim1, where.claim1).toBeLessThanOrEqual(2);
      expect(read.claim16, where.claim16).toBeLessThanOrEqual(32);
      expect(read.claim100, where.claim100).toBeLessThanOrEqual(200);
      expect(read.claimHeld, where.claimHeld).toBeLessThanOrEqual(32);
      expect(read.promote, where.promote).toBeLessThanOrEqual(1);
      expect(read.complete, where.complete).toBeLessThanOrEqual(2);
      expect(read.nextDue, where.nextDue).toBeLessThanOrEqual(1);
      // The checks can fail. A filter no index serves reads the whole table; and the claim
      // with the names left out as a parameter, on its generic plan, sorts a queue's backlog.
      const scan = mostRead(await analyze(c, { text: `SELECT id FROM jobs WHERE payload = $1 LIMIT 1`, values: ['{"x":1}'] }));
      expect(scan.rows).toBeGreaterThan(100_000);
      const claim16 = pgClaimQuery({ workerId: 'w_plan', leaseMs: 60_000, queues, limit: 16 });
      const asParameter = { ...claim16, text: claim16.text.replace(`j.queue = q.queue`, `j.queue = q.queue AND j.name <> ALL($5::text[])`), values: [...claim16.values!, ['held']] };
      expect(mostRead(await analyzeGeneric(c, asParameter, [...CLAIM_TYPES, 'text[]'])).rows).toBeGreaterThanOrEqual(10_000);
    } finally {
      c.release();
    }
  }, 60_000);

  it("a commit's claim runs on the generic plan of one prepared statement per limit, however often it claims", async () => {
    const db = await pgs.open(pgs.name(), { rooms: [pgQueueRoom], max: 1 });
    await db.pool.query(`INSERT INTO jobs (queue, name, payload, state, available_at, created_at)
                         SELECT 'default', 'noop', '{}', 'pending', 0, 0 FROM generate_series(1, 300) AS g`);
    const store = createPgStore(db);
    let claimed = 0;
    for (let i = 0; i < 20; i++) {
      const r = await store.commit({ claim: { free: 9 + (i % 4), workerId: 'w_plan', leaseMs: 60_000, plan: (take) => take(['default'], 9 + (i % 4)).jobs } });
      claimed += r.claimed.length;
    }
    expect(claimed).toBe(9 * 5 + 10 * 5 + 11 * 5 + 12 * 5);
    // The pool's one connection: limits 9 to 12 share the statement of 16, planned generically every time.
    const rows = (await db.pool.query<{ name: string; generic_plans: number; custom_plans: number }>(
      `SELECT name, generic_plans, custom_plans FROM pg_prepared_statements WHERE name LIKE 'gitroast_claim%'`)).rows;
    expect(rows).toEqual([{ name: 'gitroast_claim_16', generic_plans: 20, custom_plans: 0 }]);
  }, 60_000);
});
