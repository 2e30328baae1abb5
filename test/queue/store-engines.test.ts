/**
 * The Store interface (src/queue/store.ts) on both engines: the same test bodies run against
 * a SQLite file (createSqliteStore) and a PostgreSQL schema (createPgStore). Real databases
 * only. Each engine gives the suite a fresh database, a second store on it (another daemon),
 * and the two engine-specific things the interface does not cover: a handler write of its
 * own kind, and a hold (holds are set by handlers through holds.ts, outside the Store).
 */
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createSqliteStore, holdJobs, openDatabase, type ClaimPlan, type Db, type Store, type Take, type Throttles } from '../../src/queue/index.js';
import { pgQueueRoom } from '../../src/queue/pg/migrations.js';
import { createPgStore } from '../../src/queue/pg/store.js';
import { openTestDb } from '../support/db.js';
import { pgSchemas } from '../support/pg.js';

/** The host's true clock, kept before any test moves Date.now. */
const hostNow = Date.now.bind(Date);

type AnyStore = Store<unknown>;

interface Fixture {
  store: AnyStore;
  /** Another store on the same database (another daemon). `clock`: the SQLite store's clock (PostgreSQL takes none: its time is the server's). */
  second(clock?: () => number): Promise<AnyStore>;
  /** A handler write that sets a setting, of the engine's kind. */
  writeSetting(key: string, value: string): unknown;
  /** A handler write that throws. */
  failingWrite(message: string): unknown;
  /** Hold jobs named `name` until `until` (holds.ts; on PostgreSQL the same row). */
  hold(name: string, until: number, reason: string): Promise<void>;
}

interface Engine {
  name: 'sqlite' | 'postgres';
  open(): Promise<Fixture>;
}

const extraSqlite: Db[] = [];
afterEach(() => {
  for (const d of extraSqlite.splice(0)) d.close();
  vi.restoreAllMocks();
});

const sqlite: Engine = {
  name: 'sqlite',
  open: async () => {
    const db = openTestDb('queue');
    return {
      store: createSqliteStore(db) as AnyStore,
      second: async (clock) => {
        const other = openDatabase(db.name);
        extraSqlite.push(other);
        return createSqliteStore(other, clock ? { clock } : {}) as AnyStore;
      },
      writeSetting: (key: string, value: string) => (d: Db) => {
        d.prepare(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(key, value);
      },
      failingWrite: (message: string) => () => {
        throw new Error(message);
      },
      hold: async (name, until, reason) => holdJobs(db, name, until, reason),
    };
  },
};

const pgs = pgSchemas('store');
const postgres: Engine = {
  name: 'postgres',
  open: async () => {
    const schema = pgs.name();
    const db = await pgs.open(schema, { rooms: [pgQueueRoom] });
    return {
      store: createPgStore(db) as AnyStore,
      second: async () => createPgStore(await pgs.open(schema, { rooms: [pgQueueRoom] })) as AnyStore,
      writeSetting: (key: string, value: string) => async (c: { query: (sql: string, values: unknown[]) => Promise<unknown> }) => {
        await c.query(`INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [key, value]);
      },
      failingWrite: (message: string) => async () => {
        throw new Error(message);
      },
      hold: async (name, until, reason) => {
        await db.pool.query(`INSERT INTO job_holds (name, until, reason, set_at) VALUES ($1, $2, $3, $4)`, [name, until, reason, until - 60_000]);
      },
    };
  },
};

const W = 'w_store_a';
const worker = (id: string) => ({ id, pid: 1, hostname: 'host-a', version: 't', queues: ['high', 'default', 'low'], concurrency: 4 });

/** A claim plan of one take over `queues`. */
function plan(queues: readonly string[], free = 10, o: { throttles?: Throttles; leaseMs?: number; workerId?: string; seen?: { retryAt?: number } } = {}): ClaimPlan {
  return {
    free, workerId: o.workerId ?? W, leaseMs: o.leaseMs ?? 60_000, throttles: o.throttles,
    plan: (take: Take) => {
      const got = take(queues, free);
      if (o.seen) o.seen.retryAt = got.retryAt;
      return got.jobs;
    },
  };
}

async function claim(store: AnyStore, queues: readonly string[] = ['default'], free = 10, o: Parameters<typeof plan>[2] = {}) {
  return (await store.commit({ claim: plan(queues, free, o) })).claimed;
}

/** Read-model views of each engine, with times and ids blanked, compared after both ran. */
const views = new Map<string, unknown>();
const TIMEY = /(^|[a-z])(at|At|ms|Ms|id|Id|runtime\w*|wait\w*|Wait\w*|uuid)$/;
function blank(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return v.map((x) => blank(x));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, blank(x, k)]));
  if (typeof v === 'number' && TIMEY.test(key)) return 'n';
  if (typeof v === 'string' && /^(id|uuid|batchId)$/.test(key)) return 's';
  return v;
}

describe.each([sqlite, postgres])('Store on $name', (engine) => {
  it('enqueues, claims in priority order and completes; a lost lease is rejected (fencing)', async () => {
    const { store, second } = await engine.open();
    const low = await store.enqueue({ name: 'j', priority: 0 });
    const high = await store.enqueue({ name: 'j', priority: 5 });
    const got = await claim(store, ['default'], 1, { leaseMs: 50 });
    expect(got.map((j) => j.id)).toEqual([high.id]);
    expect(got[0]!.attempts).toBe(1);
    await store.registerWorker(worker(W));
    await new Promise((r) => setTimeout(r, 120));
    // The lease expired: another daemon's recovery takes the job back, its token bumped.
    const other = await second();
    const rec = await other.recoverLeases(30_000);
    expect(rec.prunedWorkers).toEqual([]);
    expect(rec.requeued).toEqual([high.id]);
    const r = await store.commit({ completions: [{ lease: got[0]! }], late: [{ lease: got[0]! }] });
    expect(r.completions).toEqual([false]);
    expect(r.late).toEqual([false]);
    const again = await claim(other, ['default'], 5);
    expect(again.map((j) => j.id)).toEqual([high.id, low.id]);
    expect(again[0]!.token).toBeGreaterThan(got[0]!.token);
    const done = await other.commit({ completions: again.map((lease) => ({ lease })) });
    expect(done.completions).toEqual([true, true]);
    expect((await store.getJob(high.id))!.state).toBe('completed');
    expect((await store.getJob(high.id))!.errors[0]!.message).toMatch(/^lease lost: its lease expired/);
    // The stale lease stays rejected once the job is completed under the new one.
    expect((await store.commit({ completions: [{ lease: got[0]! }] })).completions).toEqual([false]);
  });

  it('commits handler writes with the completion only: kept when accepted, dropped when the lease is lost, rolled back and retried when one throws', async () => {
    const fx = await engine.open();
    const { store } = fx;
    const ids = await store.enqueueMany([{ name: 'w' }, { name: 'w' }, { name: 'w' }]);
    const [a, b, c] = await claim(store, ['default'], 3);
    const stale = { ...c!, token: c!.token - 1 };
    const r = await store.commit({
      completions: [
        { lease: a!, writes: [fx.writeSetting('w.a', '1')] },
        { lease: b!, writes: [fx.writeSetting('w.b', '1'), fx.failingWrite('disk full')] },
        { lease: stale, writes: [fx.writeSetting('w.c', '1')] },
      ],
    });
    expect(r.completions[0]).toBe(true);
    expect(r.completions[1]).toMatchObject({ error: { message: 'disk full' }, outcome: { kind: 'released' } });
    expect(r.completions[2]).toBe(false);
    expect(await store.getSetting('w.a')).toBe('1');
    expect(await store.getSetting('w.b')).toBeUndefined();
    expect(await store.getSetting('w.c')).toBeUndefined();
    expect((await store.getJob(ids[1]!.id))!.state).toBe('pending');
    expect((await store.getJob(ids[2]!.id))!.state).toBe('reserved');
    // ctx.write: only under the lease.
    expect(await store.writeUnderLease(c!, fx.writeSetting('w.now', 'yes'))).toBe(true);
    expect(await store.writeUnderLease(stale, fx.writeSetting('w.stale', 'yes'))).toBe(false);
    expect(await store.getSetting('w.now')).toBe('yes');
    expect(await store.getSetting('w.stale')).toBeUndefined();
    expect(await store.extendLeases([c!, stale], 60_000)).toEqual([true, false]);
  });

  it('retries with backoff, then fails into the failed list; listFailed, retryFailed and forgetFailed', async () => {
    const { store } = await engine.open();
    const backed = await store.enqueue({ name: 'b', tries: 3, backoff: [5] });
    const [j] = await claim(store);
    const r = await store.commit({ settlements: [{ kind: 'retry', lease: j!, error: { message: 'flaky' } }] });
    expect(r.settlements[0]!.kind).toBe('released');
    const job = (await store.getJob(backed.id))!;
    expect(job.state).toBe('delayed');
    expect(job.availableAt - job.errors[0]!.at).toBe(5000);
    expect(job.attempts).toBe(1);

    const f = await store.enqueue({ name: 'f', queue: 'q2', tries: 2, tags: ['t1'] });
    const [f1] = await claim(store, ['q2']);
    expect((await store.commit({ settlements: [{ kind: 'retry', lease: f1!, error: { message: 'boom' } }] })).settlements[0]).toMatchObject({ kind: 'released' });
    const [f2] = await claim(store, ['q2']);
    expect(f2!.attempts).toBe(2);
    const out = (await store.commit({ settlements: [{ kind: 'retry', lease: f2!, error: { message: 'boom' } }] })).settlements[0]!;
    expect(out).toMatchObject({ kind: 'failed', reason: 'boom (attempt 2 of 2: no tries left)' });
    const failed = await store.listFailed();
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ jobId: f.id, name: 'f', queue: 'q2', attempts: 2, tags: ['t1'], error: 'boom (attempt 2 of 2: no tries left)' });
    expect(await store.listFailed({ tag: 't1' })).toHaveLength(1);
    expect(await store.listFailed({ tag: 'nope' })).toHaveLength(0);
    expect((await store.queueStats()).find((q) => q.queue === 'q2')!.failed).toBe(1);
    // A filter naming nothing retries nothing.
    expect(await store.retryFailed({})).toEqual([]);
    const retried = await store.retryFailed({ uuids: [failed[0]!.uuid] });
    expect(retried).toHaveLength(1);
    const fresh = (await store.getJob(retried[0]!.jobId))!;
    expect(fresh).toMatchObject({ name: 'f', queue: 'q2', state: 'pending', attempts: 0, maxAttempts: 2, tags: ['t1'] });
    expect(await store.listFailed()).toEqual([]);
    // Fail it for good again and forget it.
    const [f3] = await claim(store, ['q2']);
    await store.commit({ settlements: [{ kind: 'fail', lease: f3!, error: { message: 'fatal' } }] });
    expect(await store.forgetFailed({ queue: 'nope' })).toBe(0);
    expect(await store.forgetFailed({ queue: 'q2' })).toBe(1);
    expect(await store.listFailed()).toEqual([]);
  });

  it('delays: a delayed job is not claimed before it is due; delay and return settlements give the attempt back', async () => {
    const { store } = await engine.open();
    const d = await store.enqueue({ name: 'later', delayMs: 60_000 });
    const job = (await store.getJob(d.id))!;
    expect(job.state).toBe('delayed');
    expect(await store.readyToClaim(['default'])).toBe(false);
    const r = await store.commit({ claim: plan(['default'], 4) });
    expect(r.claimed).toEqual([]);
    expect(r.nextDueAt).toBe(job.availableAt);
    expect(await store.nextDueAt()).toBe(job.availableAt);
    const now = await store.enqueue({ name: 'now' });
    expect(await store.readyToClaim(['default'])).toBe(true);
    expect(await store.readyToClaim(['other'])).toBe(false);
    const [j] = await claim(store);
    expect(j!.id).toBe(now.id);
    const until = store.now() + 30_000;
    const s = await store.commit({ settlements: [{ kind: 'delay', lease: j!, until, reason: 'rate limited' }] });
    expect(s.settlements[0]).toEqual({ kind: 'delayed', availableAt: until });
    expect((await store.getJob(now.id))!).toMatchObject({ state: 'delayed', attempts: 0, availableAt: until });
    const n3 = await store.enqueue({ name: 'back' });
    const [k] = await claim(store);
    const back = await store.commit({ settlements: [{ kind: 'return', lease: k!, reason: 'shutdown' }, { kind: 'lost', lease: k! }] });
    expect(back.settlements.map((o) => o.kind)).toEqual(['delayed', 'lost']);
    expect((await store.getJob(n3.id))!).toMatchObject({ state: 'pending', attempts: 0 });
    // Past the rate-limit bound the job fails instead.
    const [k2] = await claim(store);
    const past = await store.commit({ settlements: [{ kind: 'delay', lease: k2!, until: store.now() + 120_000, reason: 'rate limited', maxWaitMs: 60_000 }] });
    expect(past.settlements[0]).toMatchObject({ kind: 'failed' });
    expect((past.settlements[0] as { reason: string }).reason).toMatch(/rate-limit bound of 60 s/);
  });

  it('runs chains link by link, and the catch job with the failure when a link fails', async () => {
    const { store } = await engine.open();
    await store.enqueue({ name: 'c1', payload: { n: 1 }, chain: [{ name: 'c2', payload: { n: 2 } }, { name: 'c3' }], catch: { name: 'oops', payload: { keep: true } } });
    const [c1] = await claim(store);
    await store.commit({ completions: [{ lease: c1! }] });
    const [c2] = await claim(store);
    expect(c2).toMatchObject({ name: 'c2' });
    expect(JSON.parse(c2!.payload)).toEqual({ n: 2 });
    const r = await store.commit({ settlements: [{ kind: 'fail', lease: c2!, error: { message: 'broke' } }] });
    expect(r.settlements[0]!.kind).toBe('failed');
    const next = await claim(store);
    expect(next.map((j) => j.name)).toEqual(['oops']);
    expect(JSON.parse(next[0]!.payload)).toMatchObject({ keep: true, failure: { name: 'c2', message: 'broke' } });
  });

  it('batches: then and finally run once when every job completed; a failure runs catch and cancels the rest; batch views', async () => {
    const { store } = await engine.open();
    const b = await store.createBatch({ name: 'ok', jobs: [{ name: 'bj' }, { name: 'bj' }], then: { name: 'then', payload: { x: 1 } }, finally: { name: 'fin' } });
    expect(b.jobs).toHaveLength(2);
    const jobs = await claim(store, ['default'], 2);
    expect(jobs.map((j) => j.name)).toEqual(['bj', 'bj']);
    // Two commits finish the two jobs; the callbacks are enqueued once.
    await store.commit({ completions: [{ lease: jobs[0]! }] });
    await store.commit({ completions: [{ lease: jobs[1]! }] });
    const cbs = await claim(store, ['default'], 10);
    expect(cbs.map((j) => j.name).sort()).toEqual(['fin', 'then']);
    expect(JSON.parse(cbs.find((j) => j.name === 'then')!.payload)).toEqual({ x: 1, batch: { id: b.id } });
    const batch = (await store.getBatch(b.id.slice(0, 8)))!;
    expect(batch).toMatchObject({ id: b.id, total: 2, pending: 0, processed: 2, failed: 0, thenDispatched: true, finallyDispatched: true, catchDispatched: false });
    expect(batch.finishedAt).not.toBeNull();

    const bad = await store.createBatch({ name: 'bad', jobs: [{ name: 'x', queue: 'bq' }, { name: 'y', queue: 'bq' }, { name: 'z', queue: 'bq' }], catch: { name: 'caught', queue: 'cq' }, finally: { name: 'fin2', queue: 'cq' } });
    const [x] = await claim(store, ['bq'], 1);
    await store.commit({ settlements: [{ kind: 'fail', lease: x!, error: { message: 'bad input' } }] });
    const after = (await store.getBatch(bad.id))!;
    expect(after).toMatchObject({ total: 3, pending: 0, failed: 1, cancelled: 2, catchDispatched: true, thenDispatched: false, finallyDispatched: true });
    expect((await claim(store, ['cq'], 5)).map((j) => j.name).sort()).toEqual(['caught', 'fin2']);
    const detail = (await store.batchDetail(bad.id))!;
    expect(detail.states).toEqual({ pending: 0, delayed: 0, reserved: 0, completed: 0, failed: 1, cancelled: 2 });
    expect(detail.failures).toMatchObject([{ name: 'x', error: 'bad input' }]);
    expect(detail.callbacks).toEqual([{ kind: 'then', name: null, state: 'none' }, { kind: 'catch', name: 'caught', state: 'dispatched' }, { kind: 'finally', name: 'fin2', state: 'dispatched' }]);
    const list = await store.listBatches();
    expect(list.map((l) => l.name).sort()).toEqual(['bad', 'ok']);
    expect(await store.batchDetail('nope-nope')).toBeUndefined();

    const c = await store.createBatch({ jobs: [{ name: 'k', queue: 'kq' }, { name: 'k', queue: 'kq' }], allowFailures: true, finally: { name: 'fin3', queue: 'kq2' } });
    expect(await store.cancelBatch(c.id)).toBe(2);
    expect(await store.cancelBatch(c.id)).toBe(0);
    expect((await claim(store, ['kq', 'kq2'])).map((j) => j.name)).toEqual(['fin3']);
    // An empty batch runs its callbacks at once.
    const e = await store.createBatch({ jobs: [], then: { name: 'empty-then', queue: 'eq' } });
    expect((await store.getBatch(e.id))!.thenDispatched).toBe(true);
    views.set(`${engine.name}:batch`, blank({ detail: { ...detail, batch: { ...detail.batch, id: 's' } } }));
  });

  it('unique jobs: a held key returns its holder; once it finished the key is free', async () => {
    const { store } = await engine.open();
    const a = await store.enqueue({ name: 'u', uniqueKey: 'k1' });
    const b = await store.enqueue({ name: 'u', uniqueKey: 'k1' });
    expect(a.existing).toBe(false);
    expect(b).toEqual({ id: a.id, existing: true });
    const many = await store.enqueueMany([{ name: 'u', uniqueKey: 'k1' }, { name: 'u', uniqueKey: 'k2' }, { name: 'plain' }]);
    expect(many[0]).toEqual({ id: a.id, existing: true });
    expect(many[1]!.existing).toBe(false);
    const [j] = await claim(store, ['default'], 1);
    expect(j!.id).toBe(a.id);
    expect(await store.enqueue({ name: 'u', uniqueKey: 'k1' })).toEqual({ id: a.id, existing: true });
    await store.commit({ completions: [{ lease: j! }] });
    const c = await store.enqueue({ name: 'u', uniqueKey: 'k1' });
    expect(c.existing).toBe(false);
    expect(c.id).not.toBe(a.id);
  });

  it('pause and continue a queue; the daemons control flags', async () => {
    const { store } = await engine.open();
    await store.enqueue({ name: 'p' });
    await store.enqueue({ name: 'p', queue: 'other' });
    await store.pauseQueue('default');
    expect(await store.pausedQueues()).toEqual(new Set(['default']));
    expect((await claim(store, ['default', 'other'])).map((j) => j.queue)).toEqual(['other']);
    expect((await store.queueStats()).find((q) => q.queue === 'default')).toMatchObject({ pending: 1, paused: true });
    await store.continueQueue('default');
    expect(await store.pausedQueues()).toEqual(new Set());
    expect((await claim(store, ['default', 'other'])).map((j) => j.queue)).toEqual(['default']);
    await expect(store.pauseQueue('bad queue!')).rejects.toThrow(/queue/);

    expect(await store.control()).toEqual({ paused: false, stopRequestedAt: null, pausedSupervisors: [] });
    await store.setSetting('daemons.paused', '1');
    await store.setSetting('daemons.stop_requested_at', '1234');
    await store.setSetting('supervisors.paused.web', '1');
    await store.setSetting('supervisors.pausedx', '1');
    expect(await store.control()).toEqual({ paused: true, stopRequestedAt: 1234, pausedSupervisors: ['web'] });
  });

  it('holds: held names stay pending, the claim says when the hold ends, holds() lists them with what they hold back', async () => {
    const fx = await engine.open();
    const { store } = fx;
    const until = store.now() + 60_000;
    await fx.hold('held', until, 'budget spent');
    await store.enqueue({ name: 'held' });
    await store.enqueue({ name: 'held' });
    const free = await store.enqueue({ name: 'free' });
    const seen: { retryAt?: number } = {};
    const got = await claim(store, ['default'], 10, { seen });
    expect(got.map((j) => j.id)).toEqual([free.id]);
    expect(seen.retryAt).toBe(until);
    expect(await store.holds()).toEqual([{ name: 'held', until, reason: 'budget spent', setAt: expect.any(Number), waiting: 2 }]);
    // An ended hold holds nothing.
    await fx.hold('gone', store.now() - 1000, 'past');
    expect((await store.holds()).map((h) => h.name)).toEqual(['held']);
  });

  it('throttles: a job name and a queue start at most max per window, counted across two daemons', async () => {
    const { store, second } = await engine.open();
    const other = await second();
    const throttles: Throttles = { jobs: { t: { max: 2, perMs: 3_600_000 } }, queues: { tq: { max: 1, perMs: 3_600_000 } } };
    await store.enqueueMany([{ name: 't' }, { name: 't' }, { name: 't' }, { name: 'u' }, { name: 'x', queue: 'tq' }, { name: 'x', queue: 'tq' }]);
    const seen: { retryAt?: number } = {};
    const first = await claim(store, ['tq', 'default'], 10, { throttles, seen });
    expect(first.map((j) => j.name).sort()).toEqual(['t', 't', 'u', 'x']);
    const windowEnd = Math.floor(store.now() / 3_600_000) * 3_600_000 + 3_600_000;
    expect(seen.retryAt).toBe(windowEnd);
    // The other daemon finds the windows used up: nothing more of t or of tq.
    const seen2: { retryAt?: number } = {};
    expect(await claim(other, ['tq', 'default'], 10, { throttles, seen: seen2, workerId: 'w_store_b' })).toEqual([]);
    expect(seen2.retryAt).toBe(windowEnd);
    // Without the throttles they are claimable.
    expect((await claim(other, ['tq', 'default'], 10, { workerId: 'w_store_b' })).map((j) => j.name).sort()).toEqual(['t', 'x']);
    // Claims racing on two daemons at once still start at most max in the window.
    const race: Throttles = { jobs: { v: { max: 3, perMs: 3_600_000 } } };
    await store.enqueueMany(Array.from({ length: 12 }, () => ({ name: 'v', queue: 'vq' })));
    const rounds = await Promise.all([store, other, store, other, store, other].map((s, i) => claim(s, ['vq'], 2, { throttles: race, workerId: `w_race_${i}` })));
    expect(rounds.flat()).toHaveLength(3);
  });

  it('a claim plan of several takes, each depending on the one before, gets what a single pass gets', async () => {
    const { store } = await engine.open();
    const h = await store.enqueue({ name: 'h', queue: 'high' });
    const d = await store.enqueueMany([{ name: 'd' }, { name: 'd' }, { name: 'd' }]);
    const calls: string[] = [];
    const r = await store.commit({
      claim: {
        free: 3, workerId: W, leaseMs: 60_000,
        plan: (take) => {
          const a = take(['high'], 2);
          calls.push(`high:${a.jobs.length}`);
          const b = take(['default'], 3 - a.jobs.length);
          calls.push(`default:${b.jobs.length}`);
          return [...a.jobs, ...b.jobs];
        },
      },
    });
    expect(r.claimed.map((j) => j.id)).toEqual([h.id, d[0]!.id, d[1]!.id]);
    // The last pass saw both answers (a replay may run the plan more than once, never with other answers).
    expect(calls.slice(-2)).toEqual(['high:1', 'default:2']);
    expect(r.nextDueAt).toBeUndefined();
  });

  it('concurrent commits on two daemons never hand one job to both', async () => {
    const { store, second } = await engine.open();
    const other = await second();
    await store.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ name: 'c', payload: { i } })));
    const rounds = await Promise.all([store, other, store, other, store, other].map((s, i) => claim(s, ['default'], 5, { workerId: `w_c_${i}` })));
    const ids = rounds.flat().map((j) => j.id);
    expect(ids).toHaveLength(20);
    expect(new Set(ids).size).toBe(20);
  });

  it('claimTick: each tick once across two daemons, only forward', async () => {
    const { store, second } = await engine.open();
    const other = await second();
    const both = await Promise.all([store.claimTick('s', 1000), other.claimTick('s', 1000)]);
    expect(both.filter(Boolean)).toHaveLength(1);
    expect(await store.claimTick('s', 1000)).toBe(false);
    expect(await other.claimTick('s', 2000)).toBe(true);
    expect(await store.claimTick('s', 1500)).toBe(false);
    expect(await store.claimTick('other', 1500)).toBe(true);
    expect(await store.getSetting('schedule:s:tick')).toBe('2000');
  });

  it('alerts: raised once, resolved once, across two daemons', async () => {
    const { store, second } = await engine.open();
    const other = await second();
    expect(await store.raiseAlert('wait', 'default')).toBe(true);
    expect(await other.raiseAlert('wait', 'default')).toBe(false);
    expect(await other.raiseAlert('wait', 'high')).toBe(true);
    expect((await store.raisedAlerts('wait')).sort()).toEqual(['default', 'high']);
    expect(await store.raisedAlerts('other')).toEqual([]);
    expect(await other.resolveAlert('wait', 'default')).toBe(true);
    expect(await store.resolveAlert('wait', 'default')).toBe(false);
    expect(await store.raisedAlerts('wait')).toEqual(['high']);
    expect(await store.raiseAlert('wait', 'default')).toBe(true);
  });

  it('workers: register, heartbeat, supervisors, live workers, deregister; recovery prunes a silent worker and requeues its jobs', async () => {
    const { store, second } = await engine.open();
    await store.registerWorker(worker(W));
    expect(await store.heartbeat(W, 2, 'running')).toBe(true);
    expect(await store.recordSupervisors(W, [])).toBe(true);
    expect((await store.liveWorkers(30_000)).map((w) => ({ id: w.id, busy: w.busy }))).toEqual([{ id: W, busy: 2 }]);
    await store.enqueue({ name: 'j' });
    const [j] = await claim(store);
    // Silent for longer than a tiny stale threshold: pruned and its job requeued.
    await new Promise((r) => setTimeout(r, 60));
    const other = await second();
    const rec = await other.recoverLeases(20);
    expect(rec).toEqual({ prunedWorkers: [W], requeued: [j!.id], failed: [] });
    expect(await store.heartbeat(W, 0, 'running')).toBe(false);
    expect(await store.liveWorkers(30_000)).toEqual([]);
    await store.registerWorker(worker(W));
    await store.deregisterWorker(W);
    expect(await store.liveWorkers(30_000)).toEqual([]);
    expect(await store.pendingByQueue(['default', 'high'])).toEqual(new Map([['default', 1]]));
    expect((await store.oldestPendingByQueue()).has('default')).toBe(true);
    expect(await store.probe()).toBeGreaterThan(0);
    expect(await store.checkpoint('PASSIVE')).toMatchObject({ busy: false });
  });

  it('time is the store\'s, not the host\'s: a daemon whose host clock is 2 minutes ahead neither steals a live lease nor prunes a live worker', async () => {
    const fx = await engine.open();
    const a = fx.store;
    await a.registerWorker(worker(W));
    const job = await a.enqueue({ name: 'long' });
    const [lease] = await claim(a, ['default'], 1, { leaseMs: 60_000 });
    // From here on this host's clock runs 2 minutes ahead. SQLite's store takes its clock as
    // an option (one host: the true one); PostgreSQL's takes none: it asks the server.
    vi.spyOn(Date, 'now').mockImplementation(() => hostNow() + 120_000);
    const b = await fx.second(engine.name === 'sqlite' ? hostNow : undefined);
    const rec = await b.recoverLeases(30_000);
    expect(rec).toEqual({ prunedWorkers: [], requeued: [], failed: [] });
    expect((await b.liveWorkers(30_000)).map((w) => w.id)).toEqual([W]);
    expect((await a.getJob(job.id))!).toMatchObject({ state: 'reserved', leaseToken: lease!.token });
    // Its own claims lease on the store's clock, and its now() is the store's.
    await b.enqueue({ name: 'short' });
    const [mine] = await claim(b, ['default'], 1, { leaseMs: 60_000, workerId: 'w_store_b' });
    const exp = (await b.getJob(mine!.id))!.leaseExpiresAt!;
    expect(Math.abs(exp - (hostNow() + 60_000))).toBeLessThan(5_000);
    await b.probe();
    expect(Math.abs(b.now() - hostNow())).toBeLessThan(5_000);
    vi.restoreAllMocks();
    expect((await a.commit({ completions: [{ lease: lease! }] })).completions).toEqual([true]);
  });

  it('the CLI\'s operations: getFailed, flushFailed, cancelJobs, countClearable and clearQueue (chains and batches), tags, throttles', async () => {
    const { store } = await engine.open();
    // getFailed and flushFailed: a fresh failure is kept by any positive age, flushed by 0.
    await store.enqueue({ name: 'f', queue: 'fq', tries: 1 });
    const [f] = await claim(store, ['fq']);
    await store.commit({ settlements: [{ kind: 'fail', lease: f!, error: { message: 'bad' } }] });
    const [row] = await store.listFailed();
    expect(await store.getFailed(row!.uuid)).toEqual(row);
    expect(await store.getFailed('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    expect(await store.flushFailed(1)).toBe(0);
    // "Older than 0 hours": failed before now, so let the clock move past the failure's millisecond.
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await store.flushFailed(0)).toBe(1);
    expect(await store.listFailed()).toEqual([]);

    // cancelJobs: pending and delayed only; a chain's catch runs with "cancelled"; a batch counts it.
    const p = await store.enqueue({ name: 'p', queue: 'cq' });
    const d = await store.enqueue({ name: 'd', queue: 'cq', delayMs: 60_000 });
    const ch = await store.enqueue({ name: 'c1', queue: 'cq', chain: [{ name: 'c2' }], catch: { name: 'caught', queue: 'catches', payload: { k: 1 } } });
    const r = await store.enqueue({ name: 'r', queue: 'rq' });
    const [running] = await claim(store, ['rq']);
    expect(running!.id).toBe(r.id);
    const out = await store.cancelJobs([p.id, d.id, ch.id, r.id, 999_999]);
    expect(out.ids.sort((a, b) => a - b)).toEqual([p.id, d.id, ch.id].sort((a, b) => a - b));
    expect(out.catches).toBe(1);
    expect((await store.getJob(p.id))!.state).toBe('cancelled');
    expect((await store.getJob(r.id))!.state).toBe('reserved');
    const [caught] = await claim(store, ['catches']);
    expect(JSON.parse(caught!.payload)).toMatchObject({ k: 1, failure: { jobId: ch.id, name: 'c1', queue: 'cq', message: 'cancelled', reason: 'cancelled' } });

    // countClearable and clearQueue: pending and delayed of one queue; a batch counts them cancelled and finishes.
    const b = await store.createBatch({ name: 'clr', jobs: [{ name: 'x', queue: 'clr' }, { name: 'x', queue: 'clr' }], finally: { name: 'fin', queue: 'fins' } });
    await store.enqueueMany([{ name: 'y', queue: 'clr', delayMs: 60_000 }, { name: 'z', queue: 'other' }]);
    expect(await store.countClearable('clr')).toBe(3);
    await expect(store.countClearable('bad queue!')).rejects.toThrow(/invalid queue/);
    const cleared = await store.clearQueue('clr');
    expect(cleared).toMatchObject({ catches: 0 });
    expect(cleared.ids).toHaveLength(3);
    expect(await store.countClearable('clr')).toBe(0);
    expect(await store.countClearable('other')).toBe(1);
    expect(await store.getBatch(b.id)).toMatchObject({ total: 2, pending: 0, cancelled: 2 });
    expect((await claim(store, ['fins'])).map((j) => j.name)).toEqual(['fin']);

    // Monitored tags.
    await store.enqueueMany([{ name: 't', tags: ['red'] }, { name: 't', tags: ['red', 'blue'] }]);
    expect(await store.monitorTag('red')).toBe(true);
    expect(await store.monitorTag('red')).toBe(false);
    expect(await store.monitorTag('blue')).toBe(true);
    await expect(store.monitorTag('')).rejects.toThrow(/invalid tag/);
    const tags = await store.tagSummaries(1);
    expect(tags.map((t) => [t.tag, t.counts.pending, t.total, t.recent.length, t.failed.length])).toEqual([['blue', 1, 1, 1, 0], ['red', 2, 2, 1, 0]]);
    expect(await store.unmonitorTag('blue')).toBe(true);
    expect(await store.unmonitorTag('blue')).toBe(false);
    expect((await store.tagSummaries(0)).map((t) => t.tag)).toEqual(['red']);

    // Throttles as the daemons counted them: used up, with the pending jobs they hold back.
    expect(await store.throttles()).toEqual([]);
    const throttles: Throttles = { jobs: { th: { max: 1, perMs: 3_600_000 } } };
    await store.enqueueMany([{ name: 'th', queue: 'thq' }, { name: 'th', queue: 'thq' }, { name: 'th', queue: 'thq' }]);
    expect(await claim(store, ['thq'], 10, { throttles })).toHaveLength(1);
    const windowEnd = Math.floor(store.now() / 3_600_000) * 3_600_000 + 3_600_000;
    expect(await store.throttles()).toEqual([{ kind: 'job', name: 'th', max: 1, perSeconds: 3600, used: 1, windowEndsAt: windowEnd, throttled: true, waiting: 2 }]);
  });

  it('the monitors\' remaining views and actions: every worker, charts, daemon pause and stop, a silenced overview', async () => {
    const { store } = await engine.open();
    await store.registerWorker(worker(W));
    await store.registerWorker(worker('w_store_z'));
    expect((await store.workers()).map((w) => w.id).sort()).toEqual([W, 'w_store_z']);
    await store.enqueueMany([{ name: 'a' }, { name: 'a' }, { name: 'quiet', tags: ['hush'] }]);
    const got = await claim(store, ['default'], 3);
    await store.commit({ completions: got.map((lease) => ({ lease })) });
    const chart = await store.chart('job', 'a', '1h');
    expect(chart).toHaveLength(60);
    expect(chart.reduce((n, p) => n + p.perMinute, 0)).toBe(2);
    expect(chart.at(-1)!.runtimeAvg).not.toBeNull();
    expect((await store.chart('queue', 'default', '24h')).every((p) => p.perMinute === 0)).toBe(true);
    expect(await store.chart('queue', 'default', '7d')).toHaveLength(56);
    // The silenced are left out of the tail's enqueued and completed events, by name or by tag.
    const names = async (silenced: string[]) => (await store.overview({ silenced })).events.filter((e) => e.event === 'completed').map((e) => e.name).sort();
    expect(await names([])).toEqual(['a', 'a', 'quiet']);
    expect(await names(['quiet'])).toEqual(['a', 'a']);
    expect(await names(['tag:hush'])).toEqual(['a', 'a']);
    expect((await store.control()).paused).toBe(false);
    await store.setDaemonsPaused(true);
    expect((await store.control()).paused).toBe(true);
    await store.setDaemonsPaused(false);
    expect((await store.control()).paused).toBe(false);
    const before = store.now();
    await store.requestDaemonStop();
    const stop = (await store.control()).stopRequestedAt!;
    expect(stop).toBeGreaterThanOrEqual(before - 1000);
    expect(stop).toBeLessThanOrEqual(store.now() + 1000);
  });

  it('read-model views: header, overview, queue rows and metrics give the same shapes and numbers', async () => {
    const { store } = await engine.open();
    await store.registerWorker(worker(W));
    await store.heartbeat(W, 1, 'running');
    await store.enqueueMany([{ name: 'a' }, { name: 'a' }, { name: 'a' }, { name: 'b', queue: 'high' }, { name: 'later', queue: 'low', delayMs: 600_000 }]);
    const got = await claim(store, ['high', 'default', 'low'], 10);
    expect(got.map((j) => j.name)).toEqual(['b', 'a', 'a', 'a']);
    await store.commit({
      completions: [{ lease: got[0]! }, { lease: got[1]! }],
      settlements: [{ kind: 'fail', lease: got[2]!, error: { message: 'no' } }],
    });
    expect(await store.header()).toEqual({ status: 'active', daemons: 1, busy: 1, slots: 4 });
    const o = await store.overview();
    expect(o).toMatchObject({ jobsPerMinute: 2, jobsPastHour: 3, failedPast7d: 1, maxThroughput: { queue: 'high', perMinute: 1 / 60 }, longestWait: null });
    expect(o.throughput).toHaveLength(60);
    expect(o.throughput.reduce((s, n) => s + n, 0)).toBe(2);
    expect(o.longestRuntime).not.toBeNull();
    expect(o.queues.map((q) => [q.queue, q.pending, q.delayed, q.reserved, q.failed])).toEqual([['high', 0, 0, 0, 0], ['default', 0, 0, 1, 1], ['low', 0, 1, 0, 0]]);
    expect(o.events.map((e) => e.event).sort()).toEqual(['completed', 'completed', 'enqueued', 'enqueued', 'enqueued', 'enqueued', 'enqueued', 'failed', 'started']);
    const rows = await store.queueRows();
    expect(rows.map((r) => [r.queue, r.processed, r.failedHour, r.errorRate, r.completed])).toEqual([['high', 1, 0, 0, 1], ['default', 1, 1, 0.5, 1], ['low', 0, 0, null, 0]]);
    const metrics = await store.metricRows('1h');
    expect(metrics.map((m) => [m.kind, m.key, m.processed, m.failed])).toEqual([['queue', 'default', 1, 1], ['queue', 'high', 1, 0], ['job', 'a', 1, 1], ['job', 'b', 1, 0]]);
    expect(await store.metricRows('24h')).toEqual([]);
    const stats = await store.queueStats({ configured: ['default'] });
    expect(stats.map((s) => s.queue)).toEqual(['default', 'high', 'low']);
    const listed = await store.listJobs({ state: 'reserved' });
    expect(listed.map((j) => j.name)).toEqual(['a']);
    expect((await store.listJobs({ state: 'completed', text: 'b' })).map((j) => j.name)).toEqual(['b']);
    await expect(store.listJobs({ state: 'bogus' as never })).rejects.toThrow(/invalid job state/);
    views.set(`${engine.name}:views`, blank({ header: await store.header(), overview: o, rows, metrics }));
  });
});

describe('both engines', () => {
  afterAll(() => {
    views.clear();
  });
  it('gave the same read-model views (times and ids aside)', () => {
    for (const k of ['views', 'batch']) {
      expect(views.has(`sqlite:${k}`) && views.has(`postgres:${k}`), `both engines ran the ${k} test`).toBe(true);
      expect(views.get(`postgres:${k}`)).toEqual(views.get(`sqlite:${k}`));
    }
  });
});
