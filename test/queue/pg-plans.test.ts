/**
 * The PostgreSQL statements a worker runs on every commit, on a jobs table that has grown
 * (100,000 finished jobs, a backlog of 30,000 of one name, as a big batch leaves it, 2,000
 * delayed): each must read a few rows
 * through an index, never the table or the whole backlog. They run under EXPLAIN ANALYZE on
 * a connection of gitroast's own pool (so with its settings: plans made for each
 * execution's parameters, ./connect.ts), inside a transaction that is rolled back.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { pgClaimQuery, pgCompleteAnyQuery, pgNextDueQuery, pgPromoteAndHoldsQuery } from '../../src/queue/pg/jobs.js';
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

describe('PostgreSQL hot statements on a grown jobs table', () => {
  it('claim, promotion with holds, completion and the next due time read a few rows through indexes, never the backlog', async () => {
    const db = await pgs.open(pgs.name(), { rooms: [pgQueueRoom] });
    await db.pool.query(`INSERT INTO jobs (queue, name, payload, state, available_at, created_at, finished_at)
                         SELECT 'default', 'noop', '{}', 'completed', 0, 0, g FROM generate_series(1, 100000) AS g`);
    await db.pool.query(`INSERT INTO jobs (queue, name, payload, state, available_at, created_at)
                         SELECT (ARRAY['high','default','low'])[1 + g % 3], 'fetch-github', '{}', 'pending', 0, 0
                           FROM generate_series(1, 30000) AS g`);
    await db.pool.query(`INSERT INTO jobs (queue, name, payload, state, available_at, created_at)
                         SELECT 'default', 'later', '{}', 'delayed', 9000000000000 + g, 0 FROM generate_series(1, 2000) AS g`);
    await db.pool.query(`ANALYZE jobs`);
    const reserved = (await db.pool.query<{ id: number }>(`UPDATE jobs SET state = 'reserved', lease_token = 1 WHERE id IN (100001, 100002) RETURNING id`)).rows;
    expect(reserved).toHaveLength(2);
    const c = await db.pool.connect();
    try {
      // The pool's connections plan each execution for its parameters: a generic plan of a
      // prepared claim cannot see its LIMIT (./connect.ts).
      expect((await c.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode')).rows[0]!.plan_cache_mode).toBe('force_custom_plan');
      const statements = {
        // A held name left out, as a commit passes it (an empty list would be folded away).
        claim: pgClaimQuery({ workerId: 'w_plan', leaseMs: 60_000, queues: ['high', 'default', 'low'], limit: 16, exceptNames: ['held'] }),
        promote: pgPromoteAndHoldsQuery(),
        complete: pgCompleteAnyQuery([{ id: 100_001, token: 1 }, { id: 100_002, token: 1 }]),
        nextDue: pgNextDueQuery(),
      };
      const read: Record<string, number> = {};
      const where: Record<string, string> = {};
      for (const [name, q] of Object.entries(statements)) {
        const m = mostRead(await analyze(c, q as { text: string; values?: unknown[] }));
        read[name] = m.rows;
        where[name] = m.node;
      }
      // A claim of 16 reads its 16 rows (and as many again at most), not a queue's 10,000.
      expect(read.claim, where.claim).toBeLessThanOrEqual(32);
      expect(read.promote, where.promote).toBeLessThanOrEqual(1);
      expect(read.complete, where.complete).toBeLessThanOrEqual(2);
      expect(read.nextDue, where.nextDue).toBeLessThanOrEqual(1);
      // The check can fail: a filter no index serves reads the whole table.
      const scan = mostRead(await analyze(c, { text: `SELECT id FROM jobs WHERE payload = $1 LIMIT 1`, values: ['{"x":1}'] }));
      expect(scan.rows).toBeGreaterThan(100_000);
    } finally {
      c.release();
    }
  }, 60_000);
});
