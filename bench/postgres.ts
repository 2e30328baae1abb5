/**
 * PostgreSQL benchmarks (`npm run bench postgres`), against GITROAST_BENCH_PG or
 * GITROAST_TEST_PG (default postgres://root@127.0.0.1:5432/postgres), each run in its own
 * schema, dropped after:
 * - the raw floor, straight through `pg`: a SKIP LOCKED claim of 32 plus one batched
 *   completion per cycle, at 1 and at 4 connections (each connection drains its own share);
 * - the queue's own functions (src/queue/pg/jobs.ts) on one connection: pgClaim of 32 +
 *   pgCompleteMany, as a ratio to the 1-connection floor;
 * - single and bulk enqueue through pgEnqueue / pgEnqueueMany;
 * - the worker engine on the PostgreSQL store (startWorker, a pool of 4 as the daemon has):
 *   a drain at 16 and at 128 slots, as ratios to the 1-connection floor (the engine commits
 *   one batch at a time, so it uses one connection at a time);
 * - cross-process enqueue→start latency: a producer process enqueues one job at a time,
 *   1–2 ms apart; the worker here is woken by LISTEN/NOTIFY; next to it, the p50 of one
 *   durable commit (the disk's floor under the enqueue), and the raw wake-up floor: the
 *   same producer and pacing straight through `pg`, a durable INSERT with its NOTIFY, heard
 *   here and taken by one SKIP LOCKED UPDATE;
 * - idle CPU of a spawned `gitroast daemon` on a PostgreSQL schema, over 30 s.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { Registry, startWorker } from '../src/daemon/index.js';
import { PgListener } from '../src/queue/pg/listen.js';
import { createPgStore } from '../src/queue/pg/store.js';
import { closePg, openPg, type PgDb } from '../src/queue/pg/connect.js';
import { pgClaim, pgCompleteMany, pgEnqueue, pgEnqueueMany, type PgLeasedWrite } from '../src/queue/pg/jobs.js';
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

/** The worker engine on the PostgreSQL store: drain JOBS no-op jobs with `slots` slots; jobs/s. */
async function engineDrain(db: PgDb, slots: number): Promise<number> {
  await seed(db, JOBS);
  const store = createPgStore(db);
  const registry = new Registry<PgLeasedWrite>().register('noop', { handle: () => undefined });
  const t0 = performance.now();
  const w = startWorker(undefined, registry, { store, queues: ['default'], concurrency: slots, stopWhenEmpty: true });
  await w.done;
  const s = (performance.now() - t0) / 1000;
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE state = 'completed'`);
  if (rows[0].n !== JOBS) throw new Error(`engine drain completed ${rows[0].n} of ${JOBS}`);
  return JOBS / s;
}

const hr = () => Number(process.hrtime.bigint()) / 1e6;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Enqueue→handler-start latency, the producer in another process, the worker woken by NOTIFY; sorted ms. */
async function latency(db: PgDb, schemaUrl: string, n = 1000): Promise<number[]> {
  await db.pool.query(`TRUNCATE jobs`);
  const store = createPgStore(db);
  const lat: number[] = [];
  let all!: () => void;
  const finished = new Promise<void>((r) => (all = r));
  const registry = new Registry<PgLeasedWrite>().register('ping', {
    handle(p: { t: number }) {
      lat.push(hr() - p.t);
      if (lat.length === n) all();
    },
  });
  const w = startWorker(undefined, registry, { store, queues: ['default'], concurrency: 10 });
  const listener = new PgListener(db, () => w.wake());
  await listener.start();
  const here = import.meta.dirname;
  const lib = (f: string) => JSON.stringify(pathToFileURL(path.resolve(here, '..', 'src', 'queue', 'pg', f)).href);
  const producer = `
    const { openPg, closePg } = await import(${lib('connect.js')});
    const { pgEnqueue } = await import(${lib('jobs.js')});
    const { parsePgUrl } = await import(${lib('url.js')});
    const db = await openPg(parsePgUrl(${JSON.stringify(schemaUrl)}), { max: 1 });
    const hr = () => Number(process.hrtime.bigint()) / 1e6;
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    for (let i = 0; i < ${n}; i++) {
      await pgEnqueue(db, { name: 'ping', payload: { t: hr() } });
      await sleep(1 + (i % 2));
    }
    await closePg(db);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', producer], { stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    await Promise.race([finished, new Promise((_, rej) => setTimeout(() => rej(new Error(`postgres latency: only ${lat.length} of ${n} started in 60 s`)), 60_000))]);
  } finally {
    child.kill();
    await w.stop();
    await listener.stop();
  }
  return lat.sort((a, b) => a - b);
}

/**
 * The raw floor under the cross-process latency, straight through `pg`, paced as the
 * producer above: a child process commits one row at a time (a durable INSERT that NOTIFYs
 * in the same statement, as an enqueue does); here a LISTEN connection hears it and a second
 * connection takes the row with one SKIP LOCKED UPDATE (no WAL flush, as a claim). Sorted ms
 * from before the INSERT to the row in hand.
 */
async function rawWake(db: PgDb, schemaUrl: string, n = 1000): Promise<number[]> {
  await db.pool.query(`CREATE TABLE wake_floor (id bigserial PRIMARY KEY, t double precision NOT NULL, taken boolean NOT NULL DEFAULT false)`);
  const listen = new db.driver.Client(db.config);
  const claimer = new db.driver.Client(db.config);
  await listen.connect();
  await claimer.connect();
  await claimer.query(`SET synchronous_commit = off`);
  const lat: number[] = [];
  let all!: () => void;
  const finished = new Promise<void>((r) => (all = r));
  let busy = false;
  let again = false;
  const take = async (): Promise<void> => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    do {
      again = false;
      const r = await claimer.query<{ t: number }>(`UPDATE wake_floor SET taken = true
        WHERE id = (SELECT id FROM wake_floor WHERE NOT taken ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING t`);
      const at = hr();
      for (const row of r.rows) lat.push(at - row.t);
      if (r.rows.length > 0) again = true;
    } while (again);
    busy = false;
    if (lat.length >= n) all();
  };
  listen.on('notification', () => void take().catch(() => {}));
  await listen.query(`LISTEN wake_floor`);
  const target = parsePgUrl(schemaUrl);
  const producer = `
    const { default: pg } = await import(${JSON.stringify(import.meta.resolve('pg'))});
    const c = new pg.Client({ connectionString: ${JSON.stringify(target.connectionString)}, options: ${JSON.stringify(`-c search_path=${target.schema}`)} });
    await c.connect();
    const hr = () => Number(process.hrtime.bigint()) / 1e6;
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    for (let i = 0; i < ${n}; i++) {
      await c.query({ name: 'w', text: "WITH i AS (INSERT INTO wake_floor (t) VALUES ($1)) SELECT pg_notify('wake_floor', '')", values: [hr()] });
      await sleep(1 + (i % 2));
    }
    await c.end();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', producer], { stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    await Promise.race([finished, new Promise((_, rej) => setTimeout(() => rej(new Error(`postgres raw wake: only ${lat.length} of ${n} taken in 60 s`)), 60_000))]);
  } finally {
    child.kill();
    await listen.end();
    await claimer.end();
    await db.pool.query(`DROP TABLE wake_floor`);
  }
  return lat.sort((a, b) => a - b);
}

/**
 * The disk's floor under every durable commit: p50 ms of a one-row INSERT committed with
 * synchronous_commit on (its WAL flush), on one connection. An enqueue must pay it before a
 * worker can see the job, so the cross-process latency cannot be lower.
 */
async function durableCommitMs(db: PgDb, n = 500): Promise<number> {
  const c = await db.pool.connect();
  try {
    await c.query(`CREATE TABLE commit_floor (x int)`);
    const t: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await c.query(`INSERT INTO commit_floor VALUES (1)`);
      t.push(performance.now() - t0);
    }
    await c.query(`DROP TABLE commit_floor`);
    return percentile(t.sort((a, b) => a - b), 50);
  } finally {
    c.release();
  }
}

/** CPU % of a spawned idle `gitroast daemon` on the schema, over `seconds` after start-up settles. */
async function idleDaemonCpu(schemaUrl: string, seconds = 30): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitroast-bench-'));
  const bin = path.resolve(import.meta.dirname, '..', 'bin', 'gitroast.js');
  const child = spawn(process.execPath, [bin, '--db', schemaUrl, 'daemon', '--log-format', 'json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GITROAST_CONFIG: '', XDG_CONFIG_HOME: dir },
  });
  let err = '';
  // The log goes to stdout or stderr by format; read both (and keep the pipes drained).
  child.stdout!.on('data', (d: Buffer) => (err += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const ticks = () => {
    const stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  try {
    const deadline = Date.now() + 15_000;
    while (!err.includes('daemon.started')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the PostgreSQL daemon did not start: ${err.slice(-500)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 3000));
    const before = ticks();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    return ((ticks() - before) / 100 / ((performance.now() - t0) / 1000)) * 100;
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Run the PostgreSQL benchmarks; figures are keyed `pg_…`. */
export async function benchPostgres(log: (line: string) => void = () => {}): Promise<Figures> {
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const target = parsePgUrl(url(schema));
  let one = await openPg(target, { rooms: [pgQueueRoom], max: 1 });
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
    await closePg(one);
    one = await openPg(target, { rooms: [pgQueueRoom], max: 4 });
    log('postgres: engine drain, 16 and 128 slots…');
    figures.pg_engine_drain_c16_s = await engineDrain(one, 16);
    figures.pg_engine_drain_c128_s = await engineDrain(one, 128);
    figures.pg_ratio_engine_drain_c16_to_floor = figures.pg_engine_drain_c16_s / figures.pg_floor_c1_s;
    figures.pg_ratio_engine_drain_c128_to_floor = figures.pg_engine_drain_c128_s / figures.pg_floor_c1_s;
    log('postgres: cross-process latency…');
    const lat = await latency(one, url(schema));
    figures.pg_latency_cross_p50_ms = percentile(lat, 50);
    figures.pg_latency_cross_p99_ms = percentile(lat, 99);
    figures.pg_commit_durable_p50_ms = await durableCommitMs(one);
    log('postgres: raw wake-up floor…');
    const raw = await rawWake(one, url(schema));
    figures.pg_raw_wake_p50_ms = percentile(raw, 50);
    figures.pg_raw_wake_p99_ms = percentile(raw, 99);
    figures.pg_ratio_latency_cross_p50_to_raw_wake = figures.pg_latency_cross_p50_ms / figures.pg_raw_wake_p50_ms;
    figures.pg_ratio_latency_cross_p99_to_raw_wake = figures.pg_latency_cross_p99_ms / figures.pg_raw_wake_p99_ms;
    log('postgres: idle daemon CPU (30 s)…');
    figures.pg_idle_cpu_pct = await idleDaemonCpu(url(schema));
  } finally {
    await one.pool.query(`DROP SCHEMA "${schema}" CASCADE`).catch(() => {});
    await closePg(one);
  }
  return figures;
}
