/**
 * PostgreSQL benchmarks (`npm run bench postgres`), against GITROAST_BENCH_PG or
 * GITROAST_TEST_PG (default postgres://root@127.0.0.1:5432/postgres), each run in its own
 * schema, dropped after:
 * - the raw floor, straight through `pg`: a SKIP LOCKED claim of 32 plus one batched
 *   completion per cycle, at 1 and at 4 connections (each connection drains its own share);
 * - the queue's own functions (src/queue/pg/jobs.ts) on one connection: pgClaim of 32 +
 *   pgCompleteMany, as a ratio to the 1-connection floor;
 * - single and bulk enqueue through pgEnqueue / pgEnqueueMany.
 * The daemon-level drain (16 and 128 slots) comes when the daemon runs on the PostgreSQL store.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { closePg, openPg, type PgDb } from '../src/queue/pg/connect.js';
import { pgClaim, pgCompleteMany, pgEnqueue, pgEnqueueMany } from '../src/queue/pg/jobs.js';
import { pgQueueRoom } from '../src/queue/pg/migrations.js';
import { parsePgUrl } from '../src/queue/pg/url.js';
import type { Figures } from './queue.js';

const SERVER = process.env.GITROAST_BENCH_PG ?? process.env.GITROAST_TEST_PG ?? 'postgres://root@127.0.0.1:5432/postgres';
const JOBS = 50_000;

function url(schema: string): string {
  const u = new URL(SERVER);
  u.searchParams.set('schema', schema);
  return u.toString();
}

const FLOOR_CLAIM = `
  UPDATE jobs SET state = 'reserved', attempts = attempts + 1, lease_token = lease_token + 1, reserved_by = $1,
         reserved_at = (extract(epoch from clock_timestamp()) * 1000)::bigint
   WHERE id = ANY (ARRAY(SELECT id FROM jobs WHERE state = 'pending' AND queue = 'default' ORDER BY priority DESC, id LIMIT 32 FOR UPDATE SKIP LOCKED))
  RETURNING id, lease_token`;
const FLOOR_COMPLETE = `
  UPDATE jobs SET state = 'completed', finished_at = (extract(epoch from clock_timestamp()) * 1000)::bigint
   WHERE id = ANY ($1::bigint[]) AND state = 'reserved'`;

/** Seed `n` pending no-op jobs in one statement. */
async function seed(db: PgDb, n: number): Promise<void> {
  await db.pool.query(`TRUNCATE jobs`);
  await db.pool.query(`INSERT INTO jobs (queue, name, payload, state, available_at, created_at)
                       SELECT 'default', 'noop', '{}', 'pending', 0, 0 FROM generate_series(1, $1)`, [n]);
  await db.pool.query(`VACUUM ANALYZE jobs`);
}

/** The floor: `connections` clients each looping claim-32 + batched completion until nothing is left. */
async function floor(db: PgDb, connections: number): Promise<number> {
  await seed(db, JOBS);
  const clients = await Promise.all(Array.from({ length: connections }, async () => {
    const c = new pg.Client({ ...db.config });
    await c.connect();
    return c;
  }));
  const t0 = performance.now();
  let done = 0;
  await Promise.all(clients.map(async (c, k) => {
    for (;;) {
      const r = await c.query(FLOOR_CLAIM, [`w_${k}`]);
      if (r.rowCount === 0) return;
      await c.query(FLOOR_COMPLETE, [r.rows.map((x: { id: number }) => x.id)]);
      done += r.rowCount ?? 0;
    }
  }));
  const s = (performance.now() - t0) / 1000;
  await Promise.all(clients.map((c) => c.end()));
  if (done !== JOBS) throw new Error(`floor drained ${done} of ${JOBS}`);
  return JOBS / s;
}

/** The queue's functions on one connection: pgClaim(32) + pgCompleteMany until empty. */
async function library(db: PgDb): Promise<number> {
  await seed(db, JOBS);
  const t0 = performance.now();
  let done = 0;
  for (;;) {
    const jobs = await pgClaim(db.pool, { workerId: 'w_lib', queues: ['default'], limit: 32 });
    if (jobs.length === 0) break;
    done += await pgCompleteMany(db, jobs);
  }
  const s = (performance.now() - t0) / 1000;
  if (done !== JOBS) throw new Error(`library drained ${done} of ${JOBS}`);
  return JOBS / s;
}

/** Run the PostgreSQL benchmarks; figures are keyed `pg_…`. */
export async function benchPostgres(log: (line: string) => void = () => {}): Promise<Figures> {
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const target = parsePgUrl(url(schema));
  const one = await openPg(target, { rooms: [pgQueueRoom], max: 1 });
  const figures: Figures = {};
  try {
    log('postgres: floor, 1 connection…');
    figures.pg_floor_c1_s = await floor(one, 1);
    log('postgres: floor, 4 connections…');
    figures.pg_floor_c4_s = await floor(one, 4);
    log('postgres: library drain, 1 connection…');
    figures.pg_drain_c1_s = await library(one);
    figures.pg_ratio_drain_c1_to_floor = figures.pg_drain_c1_s / figures.pg_floor_c1_s;
    await one.pool.query(`TRUNCATE jobs`);
    log('postgres: enqueue…');
    let t0 = performance.now();
    for (let i = 0; i < 2000; i++) await pgEnqueue(one, { name: 'noop' });
    figures.pg_enqueue_one_s = 2000 / ((performance.now() - t0) / 1000);
    const specs = Array.from({ length: JOBS }, () => ({ name: 'noop' }));
    t0 = performance.now();
    for (let i = 0; i < JOBS; i += 5000) await pgEnqueueMany(one, specs.slice(i, i + 5000));
    figures.pg_enqueue_bulk_s = JOBS / ((performance.now() - t0) / 1000);
  } finally {
    await one.pool.query(`DROP SCHEMA "${schema}" CASCADE`).catch(() => {});
    await closePg(one);
  }
  return figures;
}
