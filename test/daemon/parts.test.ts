/**
 * The worker's parts on their own: the SQLite store (its clock, its one-transaction
 * commit), the commit buffer, the lease keeper, the slots, and the typed events a worker
 * emits. Real SQLite files in temp dirs.
 */
import { describe, expect, it } from 'vitest';
import { CommitBuffer, type CommitHost, type Ended } from '../../src/daemon/commits.js';
import { LeaseKeeper, type LeaseHost } from '../../src/daemon/leases.js';
import { Hooks, WorkerEmitter, type Running } from '../../src/daemon/run.js';
import { Slots } from '../../src/daemon/slots.js';
import { WorkerStats } from '../../src/daemon/stats.js';
import { Registry, silentLogger, startWorker, type WorkerEvents } from '../../src/daemon/index.js';
import { DelayError, PermanentError, createSqliteStore, enqueue, getJob, type ClaimedJob, type Db, type Store } from '../../src/queue/index.js';
import { openTestDb, stopAfterTest } from '../support/db.js';
import { waitFor } from '../support/tmp.js';

function open(): Db {
  return openTestDb('queue');
}

/** A clock the test moves by hand. */
function manualClock(start: number): { now: () => number; set: (t: number) => void } {
  let t = start;
  return { now: () => t, set: (v) => (t = v) };
}

const takeAll = (queues: readonly string[], limit: number) => ({ free: limit, workerId: 'w_test', leaseMs: 1_000, plan: (take: (q: readonly string[], l: number) => { jobs: ClaimedJob[] }) => take(queues, limit).jobs });

describe('the SQLite store', () => {
  it('takes "now" from its own clock: availability, leases and heartbeats', async () => {
    const db = open();
    const clock = manualClock(1_000_000);
    const store = createSqliteStore(db, { clock: clock.now });
    await store.enqueue({ name: 'later', delayMs: 5_000 });
    expect((await store.commit({ claim: takeAll(['default'], 1) })).claimed).toEqual([]);
    expect(await store.readyToClaim(['default'])).toBe(false);
    clock.set(1_005_000);
    expect(await store.readyToClaim(['default'])).toBe(true);
    const { claimed, now } = await store.commit({ claim: takeAll(['default'], 1) });
    expect(now).toBe(1_005_000);
    expect(claimed.map((j) => j.name)).toEqual(['later']);
    expect(getJob(db, claimed[0]!.id)!.leaseExpiresAt).toBe(1_006_000);
    await store.registerWorker({ id: 'w_test', pid: 1, hostname: 'h', version: '0', queues: ['default'], concurrency: 1 });
    expect((await store.liveWorkers(30_000)).map((w) => w.heartbeatAt)).toEqual([1_005_000]);
  });

  it('serves the monitors\' views on its clock', async () => {
    const db = open();
    const clock = manualClock(3_000_000);
    const store = createSqliteStore(db, { clock: clock.now });
    await store.enqueue({ name: 'a', queue: 'low' });
    clock.set(3_004_000);
    const low = (await store.queueRows()).find((r) => r.queue === 'low')!;
    expect([low.pending, low.oldestWaitMs]).toEqual([1, 4_000]);
    const overview = await store.overview();
    expect(overview.queues.find((q) => q.queue === 'low')).toMatchObject({ pending: 1, oldestWaitMs: 4_000 });
    expect(overview.longestWait).toEqual({ queue: 'low', ms: 4_000 });
  });

  it('commits completions, settlements and the next claim in one transaction, fenced by the lease token', async () => {
    const db = open();
    const store = createSqliteStore(db);
    for (const name of ['a', 'b', 'c']) await store.enqueue({ name, tries: 3 });
    const { claimed } = await store.commit({ claim: takeAll(['default'], 2) });
    const [a, b] = claimed as [ClaimedJob, ClaimedJob];
    const stale = { ...a, token: a.token - 1 };
    const r = await store.commit({
      completions: [{ lease: stale }, { lease: b }],
      settlements: [{ kind: 'retry', lease: a, error: { message: 'try again' } }],
      claim: takeAll(['default'], 5),
    });
    expect(r.completions).toEqual([false, true]);
    expect(r.settlements.map((o) => o.kind)).toEqual(['released']);
    expect(r.claimed.map((j) => j.name).sort()).toEqual(['a', 'c']);
    expect(getJob(db, b.id)!.state).toBe('completed');
  });
});

function commitHost(store: Store, events = new WorkerEmitter()): CommitHost & { due: number[] } {
  const due: number[] = [];
  return { store, logger: silentLogger, events, hooks: new Hooks(silentLogger), logJobs: false, maxRateLimitWaitMs: undefined, dueAt: (at) => due.push(at), due };
}

describe('the commit buffer', () => {
  it('keeps one record per finished job and puts each into effect at the next flush', async () => {
    const db = open();
    const store = createSqliteStore(db);
    for (const name of ['ok', 'retry', 'fail', 'delay']) await store.enqueue({ name, tries: 3, backoff: [60] });
    const { claimed } = await store.commit({ claim: takeAll(['default'], 4) });
    const byName = new Map(claimed.map((j) => [j.name, j]));
    const stats = new WorkerStats();
    const events = new WorkerEmitter();
    const seen: string[] = [];
    for (const e of ['completed', 'released', 'failed', 'delayed'] as const) events.on(e, (x) => seen.push(`${e}:${x.job.name}`));
    const host = commitHost(store, events);
    const buffer = new CommitBuffer(host);
    const end = (kind: Ended['kind'], name: string, extra: { until?: number } = {}) =>
      buffer.add({ kind, job: byName.get(name)!, lease: byName.get(name)!, c: stats.counters('default', name), ms: 1, payload: null, handler: undefined, error: new Error(name), ...extra });
    end('done', 'ok');
    end('retry', 'retry');
    end('fail', 'fail');
    end('delay', 'delay', { until: Date.now() + 60_000 });
    expect(buffer.size).toBe(4);
    await buffer.flush(undefined);
    expect(buffer.size).toBe(0);
    expect(seen.sort()).toEqual(['completed:ok', 'delayed:delay', 'failed:fail', 'released:retry']);
    expect(['ok', 'retry', 'fail', 'delay'].map((n) => getJob(db, byName.get(n)!.id)!.state)).toEqual(['completed', 'delayed', 'failed', 'delayed']);
    expect(host.due.length).toBe(2);
  });

  it('keeps its records when the commit throws, and commits them at the next flush', async () => {
    const db = open();
    const real = createSqliteStore(db);
    await real.enqueue({ name: 'ok' });
    const [job] = (await real.commit({ claim: takeAll(['default'], 1) })).claimed;
    let fail = true;
    const store: Store = { ...real, commit: (b) => (fail ? Promise.reject(new Error('database is locked')) : real.commit(b)) };
    const buffer = new CommitBuffer(commitHost(store));
    buffer.add({ kind: 'done', job: job!, lease: job!, c: new WorkerStats().counters('default', 'ok'), ms: 1, payload: null, handler: undefined });
    await expect(buffer.flush(undefined)).rejects.toThrow('database is locked');
    expect(buffer.size).toBe(1);
    fail = false;
    await buffer.flush(undefined);
    expect(getJob(db, job!.id)!.state).toBe('completed');
  });
});

describe('the lease keeper', () => {
  it('extends leases past half their length and hands back the runs whose lease was lost', async () => {
    const db = open();
    const clock = manualClock(2_000_000);
    const store = createSqliteStore(db, { clock: clock.now });
    await store.enqueue({ name: 'a' });
    await store.enqueue({ name: 'b' });
    const [a, b] = (await store.commit({ claim: takeAll(['default'], 2) })).claimed as [ClaimedJob, ClaimedJob];
    const lost: Running[][] = [];
    const host: LeaseHost = {
      store, logger: silentLogger, registry: new Registry(), hooks: new Hooks(silentLogger), events: new WorkerEmitter(),
      registration: () => ({ id: 'w_test', pid: 1, hostname: 'h', version: '0', queues: ['default'], concurrency: 2 }),
      beatState: () => ({ busy: 2, status: 'running' }), lost: (runs) => lost.push([...runs]), wrote: () => {},
    };
    const keeper = new LeaseKeeper(host, { leaseMs: 1_000, heartbeatMs: 60_000, staleMs: 60_000 });
    await keeper.start();
    const runA = { job: a, leaseExpiresAt: 2_001_000 } as Running;
    const runB = { job: { ...b, token: b.token + 7 }, leaseExpiresAt: 2_001_000 } as Running;
    keeper.runs.add(runA).add(runB);
    clock.set(2_000_600);
    await keeper.beat();
    expect(runA.leaseExpiresAt).toBe(2_001_600);
    expect(getJob(db, a.id)!.leaseExpiresAt).toBe(2_001_600);
    expect(lost).toEqual([[runB]]);
    await keeper.stop();
    expect(await store.liveWorkers(60_000)).toEqual([]);
  });
});

describe('the slots', () => {
  it('counts running jobs per pool, stops offering slots past maxJobs, and resolves idle() on the last release', async () => {
    const slots = new Slots([{ name: 's', queues: ['default'], maxProcesses: 2 }], 3);
    expect(slots.free()).toBe(2);
    const job = (id: number) => ({ id, queue: 'default' }) as ClaimedJob;
    const asked: [readonly string[], number][] = [];
    const claimed = slots.claim((queues, limit) => {
      asked.push([queues, limit]);
      return { jobs: [job(1), job(2)].slice(0, limit), throttledQueues: new Set(), retryAt: undefined };
    }, slots.free(), () => {});
    expect(asked).toEqual([[['default'], 2]]);
    for (const j of claimed) slots.take(j);
    expect(slots.free()).toBe(0);
    const idle = slots.idle(60_000);
    slots.release(job(1));
    expect(slots.free()).toBe(1);
    slots.release(job(2));
    await idle;
    expect(slots.running).toBe(0);
    expect(slots.free()).toBe(1);
  });
});

describe('the worker\'s events', () => {
  it('emits claimed, completed, released, delayed, failed and timed-out with the job they concern', async () => {
    const db = open();
    const registry = new Registry();
    let flaky = 0;
    registry.register('ok', { handle: () => 'fine' });
    registry.register('flaky', { handle: () => { if (flaky++ === 0) throw new Error('once'); } });
    registry.register('wait', { handle: () => { throw new DelayError(Date.now() + 3_600_000, 'rate limited'); } });
    registry.register('bad', { handle: () => { throw new PermanentError('no such user'); } });
    registry.register('slow', { handle: () => new Promise(() => {}), timeoutMs: 50 });
    const seen: Partial<Record<keyof WorkerEvents, string[]>> = {};
    const ids = new Map<number, string>();
    for (const name of ['ok', 'flaky', 'wait', 'bad', 'slow']) ids.set(enqueue(db, { name, backoff: [0], tries: name === 'slow' ? 1 : 3 }).id, name);
    const worker = startWorker(db, registry, { concurrency: 5, watch: false });
    stopAfterTest(worker);
    for (const event of ['claimed', 'completed', 'released', 'delayed', 'failed', 'timed-out'] as const) {
      worker.on(event, (e) => (seen[event] ??= []).push(ids.get(e.job.id) ?? '?'));
    }
    worker.wake();
    await waitFor(() => (seen.failed?.length ?? 0) >= 2 && seen.completed?.includes('flaky'), 10_000, 'every event');
    expect(new Set(seen.claimed)).toEqual(new Set(['ok', 'flaky', 'wait', 'bad', 'slow']));
    expect(seen.completed!.sort()).toEqual(['flaky', 'ok']);
    expect(seen.released).toEqual(['flaky']);
    expect(seen.delayed).toEqual(['wait']);
    expect(seen['timed-out']).toEqual(['slow']);
    expect(seen.failed!.sort()).toEqual(['bad', 'slow']);
  });
});
