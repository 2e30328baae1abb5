import { describe, expect, it, vi } from 'vitest';
import { analysisMigrations } from '../../src/analysis/migrations.js';
import { pgAnalysisMigrations, pgAnalysisRoom } from '../../src/analysis/pg-migrations.js';
import { queueMigrations, queueRoom, migrationsOf, openDatabase, claim as sqliteClaim, registerWorker, recoverLeases, enqueue as sqliteEnqueue } from '../../src/queue/index.js';
import { LEDGER_TABLE } from '../../src/queue/ledger.js';
import { pgTx, type PgDb } from '../../src/queue/pg/connect.js';
import {
  pgClaim, pgComplete, pgCompleteMany, pgCompleteWithWrites, pgCreateBatch, pgDelay, pgEnqueue, pgEnqueueMany, pgExtendLease, pgFail, pgNextDueAt, pgNow,
  pgRelease, pgWriteUnderLease, setPgFailureHook,
} from '../../src/queue/pg/jobs.js';
import { PgListener } from '../../src/queue/pg/listen.js';
import { pgQueueMigrations, pgQueueRoom } from '../../src/queue/pg/migrations.js';
import { pgDeregisterWorker, pgHeartbeat, pgLiveWorkers, pgRecoverLeases, pgRegisterWorker } from '../../src/queue/pg/workers.js';
import { adminQuery, pgSchemas } from '../support/pg.js';
import { tempDbPath, waitFor } from '../support/tmp.js';

const pgs = pgSchemas('queue');
const W = 'w_pgtest';

async function fresh(): Promise<PgDb> {
  return pgs.open(pgs.name(), { rooms: [pgQueueRoom, pgAnalysisRoom] });
}

async function one<T extends Record<string, unknown>>(db: PgDb, sql: string, values: unknown[] = []): Promise<T> {
  return (await db.pool.query<T>(sql, values)).rows[0]!;
}

const worker = (id: string, hostname = 'host-a') => ({ id, pid: 1, hostname, version: 't', queues: ['default'], concurrency: 4 });

describe('PostgreSQL schema', () => {
  it('has the same migration ids as the SQLite lists, room by room', () => {
    expect(pgQueueMigrations.length).toBe(queueMigrations.length);
    expect(pgAnalysisMigrations.length).toBe(analysisMigrations.length);
    expect(migrationsOf([pgQueueRoom, pgAnalysisRoom]).map((m) => m.id)).toEqual(migrationsOf([queueRoom, { room: 'analysis', migrations: analysisMigrations }]).map((m) => m.id));
  });

  it('creates the schema, records every id once, and has the same tables and columns as SQLite', async () => {
    const db = await fresh();
    const ids = (await db.pool.query<{ id: string }>(`SELECT id FROM ${LEDGER_TABLE} ORDER BY id`)).rows.map((r) => r.id);
    expect(ids).toEqual(migrationsOf([pgAnalysisRoom, pgQueueRoom]).map((m) => m.id).sort());
    const lite = openDatabase(tempDbPath(), { rooms: [queueRoom, { room: 'analysis', migrations: analysisMigrations }] });
    const liteTables = (lite.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
    const pgTables = (await db.pool.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [db.schema])).rows.map((r) => r.t);
    expect(pgTables).toEqual(liteTables);
    for (const t of liteTables) {
      const lc = (lite.prepare(`SELECT name FROM pragma_table_info(?) ORDER BY cid`).all(t) as { name: string }[]).map((r) => r.name);
      const pc = (await db.pool.query<{ c: string }>(`SELECT column_name AS c FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, [db.schema, t])).rows.map((r) => r.c);
      expect(pc, t).toEqual(lc);
    }
    lite.close();
  });
});

describe('PostgreSQL queue operations', () => {
  it('enqueues, claims in priority order with a lease on the database clock, and completes fenced', async () => {
    const db = await fresh();
    const a = await pgEnqueue(db, { name: 'a', payload: { n: 1 } });
    const b = await pgEnqueue(db, { name: 'b', priority: 5 });
    const before = await pgNow(db.pool);
    const jobs = await pgClaim(db.pool, { workerId: W, queues: ['default'], limit: 2, leaseMs: 60_000 });
    expect(jobs.map((j) => j.id)).toEqual([b.id, a.id]);
    expect(jobs[1]!.payload).toBe('{"n":1}');
    const row = await one<{ reserved_at: number; lease_expires_at: number; reserved_by: string }>(db, `SELECT reserved_at, lease_expires_at, reserved_by FROM jobs WHERE id = $1`, [a.id]);
    expect(row.reserved_at).toBeGreaterThanOrEqual(before);
    expect(row.lease_expires_at - row.reserved_at).toBe(60_000);
    expect(row.reserved_by).toBe(W);
    // A stale token is rejected.
    expect(await pgComplete(db, { id: a.id, token: jobs[1]!.token + 1 })).toBe(false);
    expect(await pgCompleteMany(db, jobs.map((j) => ({ id: j.id, token: j.token })))).toBe(2);
    expect(await pgCompleteMany(db, jobs.map((j) => ({ id: j.id, token: j.token })))).toBe(0);
    expect((await one<{ n: number }>(db, `SELECT count(*)::int AS n FROM jobs WHERE state = 'completed'`)).n).toBe(2);
  });

  it('returns the holder of a unique key instead of a second job, and enqueueMany keeps order', async () => {
    const db = await fresh();
    const first = await pgEnqueue(db, { name: 'u', uniqueKey: 'k1' });
    const again = await pgEnqueue(db, { name: 'u', uniqueKey: 'k1' });
    expect(again).toEqual({ id: first.id, existing: true });
    const specs = Array.from({ length: 2500 }, (_, i) => ({ name: 'm', payload: { i }, ...(i === 1200 ? { uniqueKey: 'k1' } : {}) }));
    const out = await pgEnqueueMany(db, specs);
    expect(out[1200]).toEqual({ id: first.id, existing: true });
    for (const i of [0, 999, 1000, 1199, 1201, 2499]) {
      const r = await one<{ payload: string }>(db, `SELECT payload FROM jobs WHERE id = $1`, [out[i]!.id]);
      expect(JSON.parse(r.payload)).toEqual({ i });
    }
    // Concurrent enqueues of one key still make one job.
    const keyed = await Promise.all(Array.from({ length: 8 }, () => pgEnqueue(db, { name: 'u', uniqueKey: 'race' })));
    expect(new Set(keyed.map((k) => k.id)).size).toBe(1);
    expect(keyed.filter((k) => !k.existing)).toHaveLength(1);
  });

  it('claims at most limit jobs', async () => {
    const db = await fresh();
    await pgEnqueueMany(db, Array.from({ length: 10 }, () => ({ name: 'x' })));
    expect(await pgClaim(db.pool, { workerId: W, queues: ['default'] })).toHaveLength(1);
    expect(await pgClaim(db.pool, { workerId: W, queues: ['default'], limit: 4 })).toHaveLength(4);
    expect((await one<{ n: number }>(db, `SELECT count(*)::int AS n FROM jobs WHERE state = 'reserved'`)).n).toBe(5);
  });

  it('claims over several queues in one statement: in the queues\' order, a paused one skipped, held names left, and a later queue untouched once an earlier one had enough', async () => {
    const db = await fresh();
    await pgEnqueueMany(db, [
      { name: 'x', queue: 'b' }, { name: 'x', queue: 'b', priority: 9 }, { name: 'held', queue: 'b', priority: 20 },
      { name: 'x', queue: 'a' }, { name: 'x', queue: 'p' }, { name: 'x', queue: 'c' }, { name: 'x', queue: 'c' }, { name: 'x', queue: 'd' },
    ]);
    await db.pool.query(`INSERT INTO queues (name, paused, paused_at) VALUES ('p', 1, 0)`);
    await db.pool.query(`INSERT INTO job_holds (name, until, reason, set_at) VALUES ('held', ${Number.MAX_SAFE_INTEGER}, 'test', 0)`);
    // p is paused, 'held' is held: a (1), then b by priority (2), then c (1 of 2) for a limit of 4.
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const jobs = await pgClaim(client, { workerId: W, queues: ['p', 'a', 'b', 'c', 'd'], limit: 4 });
      expect(jobs.map((j) => [j.queue, j.priority])).toEqual([['a', 0], ['b', 9], ['b', 0], ['c', 0]]);
      // While that claim's transaction is open, the rows it did not need are not locked: the
      // second job of c, and every job of a queue after the limit was reached.
      const free = (q: string) => adminQuery(`SELECT id FROM "${db.schema}".jobs WHERE queue = $1 AND id <> ALL($2::bigint[]) FOR UPDATE NOWAIT`, [q, jobs.map((j) => j.id)]);
      await expect(free('c')).resolves.toMatchObject({ rowCount: 1 });
      await expect(free('d')).resolves.toMatchObject({ rowCount: 1 });
      const more = await pgClaim(client, { workerId: W, queues: ['a', 'c'], limit: 1 });
      expect(more.map((j) => j.queue)).toEqual(['c']);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect((await one<{ n: number }>(db, `SELECT count(*)::int AS n FROM jobs WHERE state = 'pending'`)).n).toBe(3);
  });

  it('never hands one job to two concurrent claimers (SKIP LOCKED)', async () => {
    const db = await fresh();
    await pgEnqueueMany(db, Array.from({ length: 400 }, () => ({ name: 'x' })));
    const rounds = await Promise.all(Array.from({ length: 4 }, async (_, k) => {
      const got: number[] = [];
      for (;;) {
        const jobs = await pgClaim(db.pool, { workerId: `w_${k}`, queues: ['default'], limit: 32 });
        if (jobs.length === 0) return got;
        got.push(...jobs.map((j) => j.id));
        await pgCompleteMany(db, jobs);
      }
    }));
    const all = rounds.flat();
    expect(all).toHaveLength(400);
    expect(new Set(all).size).toBe(400);
  });

  it('skips paused queues and promotes due delayed jobs', async () => {
    const db = await fresh();
    await pgEnqueue(db, { name: 'p', queue: 'slow' });
    await db.pool.query(`INSERT INTO queues (name, paused, paused_at) VALUES ('slow', 1, 0)`);
    expect(await pgClaim(db.pool, { workerId: W, queues: ['slow'] })).toEqual([]);
    await db.pool.query(`UPDATE queues SET paused = 0`);
    expect(await pgClaim(db.pool, { workerId: W, queues: ['slow'] })).toHaveLength(1);
    const d = await pgEnqueue(db, { name: 'd', delayMs: 60_000 });
    expect(await pgClaim(db.pool, { workerId: W, queues: ['default'] })).toEqual([]);
    const due = await pgNextDueAt(db.pool);
    expect(due).toBeGreaterThan(await pgNow(db.pool));
    await db.pool.query(`UPDATE jobs SET available_at = available_at - 61000 WHERE id = $1`, [d.id]);
    const [j] = await pgClaim(db.pool, { workerId: W, queues: ['default'] });
    expect(j?.id).toBe(d.id);
  });

  it('releases with backoff, fails when the tries are used up, and writes failed_jobs and failed_counts', async () => {
    const db = await fresh();
    const { id } = await pgEnqueue(db, { name: 'r', tries: 2, backoff: [30] });
    const [j1] = await pgClaim(db.pool, { workerId: W, queues: ['default'] });
    const o1 = await pgRelease(db, j1!, { message: 'boom' });
    expect(o1.kind).toBe('released');
    const row = await one<{ state: string; available_at: number; errors: string }>(db, `SELECT state, available_at, errors FROM jobs WHERE id = $1`, [id]);
    expect(row.state).toBe('delayed');
    expect(row.available_at - JSON.parse(row.errors)[0].at).toBe(30_000);
    await db.pool.query(`UPDATE jobs SET available_at = 0 WHERE id = $1`, [id]);
    const [j2] = await pgClaim(db.pool, { workerId: W, queues: ['default'] });
    expect(j2!.attempts).toBe(2);
    const o2 = await pgRelease(db, j2!, { message: 'boom again' });
    expect(o2).toMatchObject({ kind: 'failed', reason: 'boom again (attempt 2 of 2: no tries left)' });
    expect(await one(db, `SELECT job_id, attempts FROM failed_jobs`)).toEqual({ job_id: id, attempts: 2 });
    expect(await one(db, `SELECT queue, n FROM failed_counts`)).toEqual({ queue: 'default', n: 1 });
    expect((await pgRelease(db, j2!, { message: 'late' })).kind).toBe('lost');
  });

  it('fails at the retry-until deadline, and delay gives the attempt back and moves the deadline', async () => {
    const db = await fresh();
    const { id } = await pgEnqueue(db, { name: 'd', tries: 5, backoff: [120], retryForMs: 60_000 });
    const [j] = await pgClaim(db.pool, { workerId: W, queues: ['default'] });
    const before = await one<{ retry_until: number }>(db, `SELECT retry_until FROM jobs WHERE id = $1`, [id]);
    const now = await pgNow(db.pool);
    const o = await pgDelay(db, j!, now + 10_000, 'rate limited');
    expect(o.kind).toBe('delayed');
    const after = await one<{ retry_until: number; attempts: number; state: string }>(db, `SELECT retry_until, attempts, state FROM jobs WHERE id = $1`, [id]);
    expect(after.attempts).toBe(0);
    expect(after.state).toBe('delayed');
    expect(after.retry_until - before.retry_until).toBeGreaterThanOrEqual(9_000);
    await db.pool.query(`UPDATE jobs SET available_at = 0 WHERE id = $1`, [id]);
    const [j2] = await pgClaim(db.pool, { workerId: W, queues: ['default'] });
    const o2 = await pgRelease(db, j2!, { message: 'x' });
    expect(o2.kind === 'failed' && o2.reason.includes('retry-until deadline')).toBe(true);
  });

  it('runs a chain: the next link on completion, the catch job on failure, and the failure hook in the same transaction', async () => {
    const db = await fresh();
    setPgFailureHook(db, (f) => ({ name: 'notify', payload: { job: f.jobId, chain: f.handledByChain } }));
    const { id } = await pgEnqueue(db, { name: 'one', chain: [{ name: 'two' }, { name: 'three' }], catch: { name: 'oops', payload: { k: 1 } } });
    const [a] = await pgClaim(db.pool, { workerId: W, queues: ['default'] });
    expect(await pgComplete(db, a!)).toBe(true);
    const [b] = await pgClaim(db.pool, { workerId: W, queues: ['default'] });
    expect(b!.name).toBe('two');
    const o = await pgFail(db, b!, { message: 'no' });
    expect(o.kind).toBe('failed');
    const jobs = await pgClaim(db.pool, { workerId: W, queues: ['default'], limit: 5 });
    const byName = Object.fromEntries(jobs.map((j) => [j.name, JSON.parse(j.payload)]));
    expect(byName.oops).toMatchObject({ k: 1, failure: { jobId: b!.id, name: 'two', message: 'no' } });
    expect(byName.notify).toEqual({ job: b!.id, chain: true });
    expect(byName.three).toBeUndefined();
    expect(id).toBe(a!.id);
  });

  it('counts a batch and dispatches each callback exactly once when its last jobs finish concurrently', async () => {
    const db = await fresh();
    await pgCreateBatch(db, { id: 'b1', jobs: Array.from({ length: 20 }, () => ({ name: 'bj' })), then: { name: 'then' }, finally: { name: 'fin' } });
    const jobs = await pgClaim(db.pool, { workerId: W, queues: ['default'], limit: 20 });
    expect(jobs).toHaveLength(20);
    // Twenty completions at once on four connections: the last one decides, once.
    await Promise.all(jobs.map((j) => pgComplete(db, j)));
    const b = await one<{ pending: number; processed: number; then_dispatched: number; finally_dispatched: number; finished_at: number | null }>(
      db, `SELECT pending, processed, then_dispatched, finally_dispatched, finished_at FROM batches WHERE id = 'b1'`);
    expect(b).toMatchObject({ pending: 0, processed: 20, then_dispatched: 1, finally_dispatched: 1 });
    expect(b.finished_at).not.toBeNull();
    const cb = (await db.pool.query<{ name: string; payload: string }>(`SELECT name, payload FROM jobs WHERE name IN ('then', 'fin') ORDER BY name`)).rows;
    expect(cb.map((r) => r.name)).toEqual(['fin', 'then']);
    expect(JSON.parse(cb[0]!.payload)).toEqual({ value: null, batch: { id: 'b1' } });
  });

  it('a failed batch job runs catch once and cancels the rest (no allowFailures)', async () => {
    const db = await fresh();
    await pgCreateBatch(db, { id: 'b2', jobs: [{ name: 'x', tries: 1 }, { name: 'y' }, { name: 'z' }], catch: { name: 'caught' }, finally: { name: 'fin' } });
    const [x] = await pgClaim(db.pool, { workerId: W, queues: ['default'] });
    await pgFail(db, x!, { message: 'bad' });
    const b = await one(db, `SELECT pending, failed, cancelled, catch_dispatched, finally_dispatched, then_dispatched FROM batches WHERE id = 'b2'`);
    expect(b).toEqual({ pending: 0, failed: 1, cancelled: 2, catch_dispatched: 1, finally_dispatched: 1, then_dispatched: 0 });
    const names = (await db.pool.query<{ name: string; state: string }>(`SELECT name, state FROM jobs ORDER BY id`)).rows.map((r) => `${r.name}:${r.state}`);
    expect(names).toEqual(['x:failed', 'y:cancelled', 'z:cancelled', 'caught:pending', 'fin:pending']);
  });

  it('extends a held lease and refuses a lost one', async () => {
    const db = await fresh();
    await pgEnqueue(db, { name: 'e' });
    const [j] = await pgClaim(db.pool, { workerId: W, queues: ['default'], leaseMs: 1000 });
    expect(await pgExtendLease(db.pool, j!, 500_000)).toBe(true);
    const r = await one<{ d: number }>(db, `SELECT lease_expires_at - reserved_at AS d FROM jobs WHERE id = $1`, [j!.id]);
    expect(r.d).toBeGreaterThan(499_000);
    expect(await pgExtendLease(db.pool, { id: j!.id, token: j!.token - 1 }, 1000)).toBe(false);
  });

  it('commits a handler\'s writes with its completion only under its lease', async () => {
    const db = await fresh();
    await pgEnqueue(db, { name: 'w' });
    const [j] = await pgClaim(db.pool, { workerId: W, queues: ['default'] });
    const write = (v: string) => async (c: { query: (s: string, v: unknown[]) => Promise<unknown> }) => {
      await c.query(`INSERT INTO settings (key, value) VALUES ($1, $2)`, [v, v]);
    };
    // Lost lease: nothing written.
    expect(await pgCompleteWithWrites(db, { id: j!.id, token: j!.token + 7 }, [write('lost')])).toBe(false);
    // A write that throws: nothing written, the lease still held.
    const err = await pgCompleteWithWrites(db, j!, [write('half'), async () => { throw new Error('disk'); }]);
    expect(err).toBeInstanceOf(Error);
    expect((await one<{ state: string }>(db, `SELECT state FROM jobs WHERE id = $1`, [j!.id])).state).toBe('reserved');
    expect(await pgWriteUnderLease(db, j!, write('stage'))).toBe(true);
    expect(await pgWriteUnderLease(db, { id: j!.id, token: 0 }, write('stale'))).toBe(false);
    expect(await pgCompleteWithWrites(db, j!, [write('kept')])).toBe(true);
    const keys = (await db.pool.query<{ key: string }>(`SELECT key FROM settings ORDER BY key`)).rows.map((r) => r.key);
    expect(keys).toEqual(['kept', 'stage']);
  });

  it('keeps job_tags by trigger', async () => {
    const db = await fresh();
    const { id } = await pgEnqueue(db, { name: 't', tags: ['user:1', 'vip'] });
    expect((await db.pool.query(`SELECT tag, job_id FROM job_tags ORDER BY tag`)).rows).toEqual([{ tag: 'user:1', job_id: id }, { tag: 'vip', job_id: id }]);
    await db.pool.query(`DELETE FROM jobs WHERE id = $1`, [id]);
    expect((await db.pool.query(`SELECT * FROM job_tags`)).rowCount).toBe(0);
  });
});

describe('PostgreSQL workers and recovery', () => {
  it('prunes a stale worker and requeues its job with a bumped token; a live worker keeps its lease', async () => {
    const db = await fresh();
    await pgRegisterWorker(db, worker('w_live'));
    await pgRegisterWorker(db, worker('w_dead'));
    await pgEnqueueMany(db, [{ name: 'a' }, { name: 'b' }]);
    const [live] = await pgClaim(db.pool, { workerId: 'w_live', queues: ['default'] });
    const [dead] = await pgClaim(db.pool, { workerId: 'w_dead', queues: ['default'] });
    await db.pool.query(`UPDATE workers SET heartbeat_at = heartbeat_at - 120000 WHERE id = 'w_dead'`);
    const r = await pgRecoverLeases(db, 60_000);
    expect(r).toEqual({ prunedWorkers: ['w_dead'], requeued: [dead!.id], failed: [] });
    expect(await pgComplete(db, dead!)).toBe(false);
    expect(await pgComplete(db, live!)).toBe(true);
    expect(await pgHeartbeat(db, 'w_dead', 0)).toBe(false);
    expect((await pgLiveWorkers(db, 60_000)).map((w) => w.id)).toEqual(['w_live']);
    await pgDeregisterWorker(db, 'w_live');
    expect(await pgLiveWorkers(db, 60_000)).toEqual([]);
  });

  it('fails a recovered job whose tries are used up', async () => {
    const db = await fresh();
    const { id } = await pgEnqueue(db, { name: 'once', tries: 1 });
    await pgClaim(db.pool, { workerId: 'w_gone', queues: ['default'] });
    const r = await pgRecoverLeases(db, 60_000);
    expect(r.failed).toEqual([id]);
    expect((await one<{ error: string }>(db, `SELECT error FROM failed_jobs`)).error).toMatch(/attempted too many times.*no longer registered/);
  });

  // The host clock is skewed two minutes either way (Date only: pg's timers keep working).
  // On SQLite the host clock decides, so a +2 min host steals a live 90 s lease (shown first);
  // on PostgreSQL the database's clock decides, so neither skew steals or prunes anything.
  it.each([120_000, -120_000])('a host clock %i ms off neither steals a live lease nor prunes a live daemon', async (offset) => {
    const lite = openDatabase(tempDbPath());
    registerWorker(lite, worker('w_a'));
    sqliteEnqueue(lite, { name: 'j' });
    sqliteClaim(lite, { workerId: 'w_a', leaseMs: 90_000 });
    if (offset > 0) expect(recoverLeases(lite, 60_000, Date.now() + offset).requeued).toHaveLength(1);
    lite.close();

    const db = await fresh();
    await pgRegisterWorker(db, worker('w_a', 'host-a'));
    await pgEnqueue(db, { name: 'j' });
    const [j] = await pgClaim(db.pool, { workerId: 'w_a', queues: ['default'], leaseMs: 90_000 });
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + offset });
    try {
      // Host B, skewed: registers, heartbeats, recovers, claims.
      await pgRegisterWorker(db, worker('w_b', 'host-b'));
      const r = await pgRecoverLeases(db, 60_000);
      expect(r).toEqual({ prunedWorkers: [], requeued: [], failed: [] });
      expect(await pgClaim(db.pool, { workerId: 'w_b', queues: ['default'] })).toEqual([]);
      expect((await pgLiveWorkers(db, 60_000)).map((w) => w.id).sort()).toEqual(['w_a', 'w_b']);
      // Host B's own heartbeat is stamped by the server, so host A's recovery keeps it too.
      expect(await pgHeartbeat(db, 'w_b', 1)).toBe(true);
      const hb = await one<{ skew: number }>(db, `SELECT abs(heartbeat_at - (extract(epoch from clock_timestamp()) * 1000)::bigint) AS skew FROM workers WHERE id = 'w_b'`);
      expect(hb.skew).toBeLessThan(30_000);
    } finally {
      vi.useRealTimers();
    }
    expect((await pgRecoverLeases(db, 60_000)).prunedWorkers).toEqual([]);
    expect(await pgComplete(db, j!)).toBe(true);
  });
});

describe('PostgreSQL wake-up', () => {
  it('wakes on an enqueue, and after its connection is terminated it reconnects and wakes again', async () => {
    const db = await fresh();
    let wakes = 0;
    const states: string[] = [];
    const l = new PgListener(db, () => wakes++, { minBackoffMs: 20, onState: (s) => states.push(s) });
    await l.start();
    try {
      await pgEnqueue(db, { name: 'w1' });
      await waitFor(() => wakes >= 1, 10_000, 'the first wake-up');
      const pid = l.backendPid;
      expect(pid).toBeGreaterThan(0);
      await adminQuery(`SELECT pg_terminate_backend($1)`, [pid]);
      await waitFor(() => states.includes('down'), 10_000, 'the drop to be noticed');
      // An enqueue while nobody listens: caught by the re-check after reconnecting.
      const missed = wakes;
      await pgEnqueue(db, { name: 'w2' });
      await waitFor(() => l.listening && l.backendPid !== pid, 10_000, 'the reconnect');
      await waitFor(() => wakes > missed, 10_000, 'the re-check wake-up');
      expect(l.reconnects).toBe(1);
      const before = wakes;
      await pgEnqueue(db, { name: 'w3' });
      await waitFor(() => wakes > before, 10_000, 'a wake-up on the new connection');
      expect(states).toEqual(['down', 'up']);
    } finally {
      await l.stop();
    }
  });

  it('a NOTIFY is sent only when the enqueue commits', async () => {
    const db = await fresh();
    let wakes = 0;
    const l = new PgListener(db, () => wakes++);
    await l.start();
    try {
      await expect(pgTx(db, async (c) => {
        await c.query(`SELECT pg_notify($1, '')`, [db.channel]);
        throw new Error('rolled back');
      })).rejects.toThrow('rolled back');
      await pgEnqueue(db, { name: 'after' });
      await waitFor(() => wakes >= 1, 10_000, 'a wake-up');
      await new Promise((r) => setTimeout(r, 100));
      expect(wakes).toBe(1);
    } finally {
      await l.stop();
    }
  });
});
