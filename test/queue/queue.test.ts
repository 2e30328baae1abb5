import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DatabaseError, LEDGER_TABLE, ValidationError, backoffSeconds, claim, complete, completeMany, createBatch, delay, enqueue, enqueueMany, extendLease,
  fail, getBatch, getJob, listFailed, openDatabase, queueMigrations, recoverLeases, registerWorker, release, schemaVersion,
  pauseQueue, continueQueue, queueStats, cancelBatch, retryBatch, heartbeat, listJobs, nextDueAt,
  computeMetrics, throughputSeries, snapshotMetrics, listSnapshots, trimJobs,
  type Db,
} from '../../src/queue/index.js';
import { tempDbPath } from '../support/tmp.js';

const W = 'w_test';

function open(): Db {
  return openDatabase(tempDbPath());
}

function claimOne(db: Db, now?: number, queues?: string[]) {
  const [job] = claim(db, { workerId: W, now, queues });
  return job;
}

describe('opening a database', () => {
  it('creates the folder and a 0600 file in WAL mode with the schema version recorded', () => {
    const file = tempDbPath();
    const db = openDatabase(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(`${file}-wal`).mode & 0o777).toBe(0o600);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('busy_timeout', { simple: true })).toBeGreaterThanOrEqual(5000);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(schemaVersion(db)).toBe(queueMigrations.length);
    db.close();
  });

  it('refuses a database written by a newer gitroast and leaves it byte-for-byte unchanged', () => {
    const file = tempDbPath();
    const db = openDatabase(file);
    db.prepare(`INSERT INTO ${LEDGER_TABLE} (id, applied_at) VALUES ('queue/0099', 0)`).run();
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.pragma('journal_mode = DELETE');
    db.close();
    const before = fs.readFileSync(file);
    expect(() => openDatabase(file)).toThrow(DatabaseError);
    expect(() => openDatabase(file)).toThrow(/newer than this gitroast understands/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('refuses a file that is not SQLite with a DatabaseError and leaves it untouched', () => {
    const file = tempDbPath();
    fs.mkdirSync(file.replace(/\/[^/]+$/, ''), { recursive: true });
    fs.writeFileSync(file, 'this is not a database, just text that is long enough to have a header '.repeat(20));
    const before = fs.readFileSync(file);
    expect(() => openDatabase(file)).toThrow(/not a gitroast database/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });
});

describe('enqueue', () => {
  it('validates queue and job names and names the bad value', () => {
    const db = open();
    expect(() => enqueue(db, { name: 'ok', queue: 'Bad Queue' })).toThrow(/invalid queue name "Bad Queue"/);
    expect(() => enqueue(db, { name: 'no spaces' })).toThrow(ValidationError);
    expect(() => enqueue(db, { name: 'x', tries: 0 })).toThrow(/invalid tries 0/);
    expect(() => enqueue(db, { name: 'x', backoff: [-1] })).toThrow(/invalid backoff/);
    expect(() => enqueue(db, { name: 'x', payload: { big: 'x'.repeat(70_000) } })).toThrow(/at most 65536/);
    expect((db.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n).toBe(0);
  });

  it('enqueues many in one transaction: a bad spec anywhere writes nothing', () => {
    const db = open();
    expect(() => enqueueMany(db, [{ name: 'a' }, { name: 'b' }, { name: 'c', queue: '../etc' }])).toThrow(/\.\.\/etc/);
    expect((db.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n).toBe(0);
    const ids = enqueueMany(db, [{ name: 'a' }, { name: 'b', queue: 'high' }]);
    expect(ids.map((j) => getJob(db, j.id)?.name)).toEqual(['a', 'b']);
  });

  it('returns each job\'s own id from a large enqueueMany, around unique jobs in the middle', () => {
    const db = open();
    const held = enqueue(db, { name: 'u', uniqueKey: 'held' });
    const specs = Array.from({ length: 137 }, (_, i) => ({ name: 'a', payload: { i }, ...(i === 60 ? { uniqueKey: 'held' } : i === 61 ? { uniqueKey: 'new' } : {}), ...(i === 100 ? { delayMs: 5000, tags: ['t'] } : {}) }));
    const out = enqueueMany(db, specs);
    expect(out).toHaveLength(137);
    expect(out[60]).toEqual({ id: held.id, existing: true });
    for (const [i, e] of out.entries()) {
      if (i === 60) continue;
      expect(e.existing).toBe(false);
      expect(getJob(db, e.id)?.payload).toEqual({ i });
    }
    expect(getJob(db, out[100]!.id)).toMatchObject({ state: 'delayed', tags: ['t'] });
    expect(new Set(out.map((e) => e.id)).size).toBe(137);
  });

  it('returns the job holding a unique key instead of making a second one, until it finishes', () => {
    const db = open();
    const first = enqueue(db, { name: 'a', uniqueKey: 'k' });
    const second = enqueue(db, { name: 'a', uniqueKey: 'k' });
    expect(second).toEqual({ id: first.id, existing: true });
    const job = claimOne(db)!;
    expect(enqueue(db, { name: 'a', uniqueKey: 'k' }).id).toBe(first.id);
    complete(db, job);
    const third = enqueue(db, { name: 'a', uniqueKey: 'k' });
    expect(third.existing).toBe(false);
    expect(third.id).not.toBe(first.id);
  });
});

describe('claim', () => {
  it('claims in queue order, then priority, then age, and counts the attempt', () => {
    const db = open();
    const low = enqueue(db, { name: 'a', queue: 'low' }).id;
    const def1 = enqueue(db, { name: 'a' }).id;
    const def2 = enqueue(db, { name: 'a', priority: 5 }).id;
    const high = enqueue(db, { name: 'a', queue: 'high' }).id;
    const order = [1, 2, 3, 4].map(() => claimOne(db)!);
    expect(order.map((j) => j.id)).toEqual([high, def2, def1, low]);
    expect(order.every((j) => j.attempts === 1)).toBe(true);
    expect(claimOne(db)).toBeUndefined();
  });

  it('claims several at once up to the limit across queues', () => {
    const db = open();
    enqueueMany(db, Array.from({ length: 5 }, () => ({ name: 'a', queue: 'high' })));
    enqueueMany(db, Array.from({ length: 5 }, () => ({ name: 'a' })));
    const jobs = claim(db, { workerId: W, limit: 7 });
    expect(jobs.map((j) => j.queue)).toEqual(['high', 'high', 'high', 'high', 'high', 'default', 'default']);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(7);
  });

  it('skips a paused queue until it is continued, and remembers a pause on a queue with no jobs', () => {
    const db = open();
    pauseQueue(db, 'low');
    enqueue(db, { name: 'a', queue: 'low' });
    expect(claimOne(db)).toBeUndefined();
    expect(queueStats(db).find((q) => q.queue === 'low')).toMatchObject({ paused: true, pending: 1 });
    continueQueue(db, 'low');
    expect(claimOne(db)?.queue).toBe('low');
  });

  it('keeps a delayed job out of claims until it is due', () => {
    const db = open();
    const now = Date.now();
    enqueue(db, { name: 'a', delayMs: 10_000 }, { now });
    expect(claimOne(db, now + 9_999)).toBeUndefined();
    expect(nextDueAt(db)).toBe(now + 10_000);
    expect(claimOne(db, now + 10_000)?.name).toBe('a');
  });
});

describe('finishing a claimed job', () => {
  it('completes only with the current lease token', () => {
    const db = open();
    enqueue(db, { name: 'a' });
    const job = claimOne(db)!;
    expect(complete(db, { id: job.id, token: job.token + 1 })).toBe(false);
    expect(complete(db, job)).toBe(true);
    expect(getJob(db, job.id)?.state).toBe('completed');
    expect(complete(db, job)).toBe(false);
  });

  it('claims a job again when its lease expires and rejects the first worker\'s late completion', () => {
    const db = open();
    const now = Date.now();
    registerWorker(db, { id: W, pid: 1, hostname: 'h', version: 't', queues: ['default'], concurrency: 1 }, now);
    enqueue(db, { name: 'a' }, { now });
    const first = claim(db, { workerId: W, leaseMs: 1000, now })[0]!;
    heartbeat(db, W, 1, 'running', now + 2000);
    const rec = recoverLeases(db, 60_000, now + 2000);
    expect(rec.requeued).toEqual([first.id]);
    const second = claim(db, { workerId: 'w_other', now: now + 2001 })[0]!;
    expect(second.id).toBe(first.id);
    expect(second.attempts).toBe(2);
    expect(complete(db, first)).toBe(false);
    expect(complete(db, second)).toBe(true);
    expect(getJob(db, first.id)?.errors[0]?.message).toMatch(/lease lost: its lease expired/);
  });

  it('recovers the jobs of a worker whose heartbeat is stale at once, naming the worker', () => {
    const db = open();
    const now = Date.now();
    registerWorker(db, { id: W, pid: 1, hostname: 'h', version: 't', queues: ['default'], concurrency: 1 }, now);
    enqueue(db, { name: 'a' }, { now });
    const job = claim(db, { workerId: W, leaseMs: 90_000, now })[0]!;
    const rec = recoverLeases(db, 10_000, now + 10_001);
    expect(rec.prunedWorkers).toEqual([W]);
    expect(rec.requeued).toEqual([job.id]);
    expect(getJob(db, job.id)?.errors[0]?.message).toMatch(new RegExp(`worker ${W} stopped heartbeating`));
  });

  it('fails a recovered job whose tries are used up, saying it was attempted too many times', () => {
    const db = open();
    const now = Date.now();
    enqueue(db, { name: 'a', tries: 1 }, { now });
    claim(db, { workerId: W, leaseMs: 1000, now });
    const rec = recoverLeases(db, 60_000, now + 5000);
    expect(rec.failed.length).toBe(1);
    const [failed] = listFailed(db);
    expect(failed?.error).toMatch(/attempted too many times or ran too long/);
  });

  it('extends a lease only for the current holder', () => {
    const db = open();
    const now = Date.now();
    enqueue(db, { name: 'a' }, { now });
    const job = claim(db, { workerId: W, leaseMs: 1000, now })[0]!;
    expect(extendLease(db, job, 60_000, now + 500)).toBe(true);
    expect(getJob(db, job.id)?.leaseExpiresAt).toBe(now + 60_500);
    expect(extendLease(db, { id: job.id, token: 99 }, 60_000, now + 500)).toBe(false);
  });

  it('releases with backoff where the last value repeats, then fails when tries run out', () => {
    const db = open();
    let now = 1_000_000;
    enqueue(db, { name: 'a', tries: 4, backoff: [10, 30] }, { now });
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const job = claim(db, { workerId: W, now })[0]!;
      const out = release(db, job, { message: `boom ${i}` }, now);
      expect(out.kind).toBe('released');
      if (out.kind === 'released') {
        waits.push((out.availableAt - now) / 1000);
        now = out.availableAt;
      }
    }
    expect(waits).toEqual([10, 30, 30]);
    const last = claim(db, { workerId: W, now })[0]!;
    expect(last.attempts).toBe(4);
    const out = release(db, last, { message: 'boom 3', stack: 'Error: boom 3\n    at x' }, now);
    expect(out.kind).toBe('failed');
    const [failed] = listFailed(db);
    expect(failed).toMatchObject({ name: 'a', attempts: 4, stack: 'Error: boom 3\n    at x' });
    expect(failed?.error).toMatch(/boom 3.*no tries left/);
    expect(getJob(db, last.id)?.errors.map((e) => e.attempt)).toEqual([1, 2, 3, 4]);
    expect(backoffSeconds([1, 2, 3], 10)).toBe(3);
  });

  it('stops retrying at the retry-until deadline', () => {
    const db = open();
    const now = 1_000_000;
    enqueue(db, { name: 'a', tries: 100, backoff: [60], retryUntil: now + 90_000 }, { now });
    const j1 = claim(db, { workerId: W, now })[0]!;
    expect(release(db, j1, { message: 'x' }, now).kind).toBe('released');
    const j2 = claim(db, { workerId: W, now: now + 60_000 })[0]!;
    const out = release(db, j2, { message: 'y' }, now + 60_000);
    expect(out.kind).toBe('failed');
    expect(listFailed(db)[0]?.error).toMatch(/retry-until deadline/);
  });

  it('delays for a rate limit without spending an attempt, bounded by the rate-limit wait bound (not retry-until)', () => {
    const db = open();
    const now = 1_000_000;
    enqueue(db, { name: 'a', tries: 1 }, { now });
    for (let i = 0; i < 3; i++) {
      const job = claim(db, { workerId: W, now: now + i * 5000 })[0]!;
      expect(job.attempts).toBe(1);
      expect(delay(db, job, now + (i + 1) * 5000, 'rate limited', now + i * 5000)).toEqual({ kind: 'delayed', availableAt: now + (i + 1) * 5000 });
    }
    expect(getJob(db, 1)?.attempts).toBe(0);
    const job = claim(db, { workerId: W, now: now + 15_000 })[0]!;
    expect(complete(db, job, now + 15_000)).toBe(true);

    enqueue(db, { name: 'b', retryUntil: now + 10_000 }, { now });
    const b = claim(db, { workerId: W, now })[0]!;
    expect(delay(db, b, now + 20_000, 'rate limited', now).kind).toBe('delayed');
    const b2 = claim(db, { workerId: W, now: now + 20_000 })[0]!;
    expect(delay(db, b2, now + 30_000, 'rate limited', now + 20_000, { maxWaitMs: 25_000 }).kind).toBe('failed');
  });

  it('fails a job at once with fail(), whatever tries are left', () => {
    const db = open();
    enqueue(db, { name: 'a', tries: 5, tags: ['t1'] });
    const job = claimOne(db)!;
    const out = fail(db, job, { message: 'no GitHub user named x' });
    expect(out.kind).toBe('failed');
    expect(listFailed(db, { tag: 't1' })[0]?.error).toBe('no GitHub user named x');
  });
});

describe('chains', () => {
  it('enqueues the next link when a link completes, carrying the rest of the chain', () => {
    const db = open();
    enqueue(db, { name: 'one', chain: [{ name: 'two' }, { name: 'three', queue: 'low' }], catch: { name: 'oops' } });
    const seen: string[] = [];
    for (let job = claimOne(db); job; job = claimOne(db)) {
      seen.push(job.name);
      complete(db, job);
    }
    expect(seen).toEqual(['one', 'two', 'three']);
    expect(listJobs(db, { state: 'pending' })).toEqual([]);
  });

  it('runs the catch job once when a link fails for good, and never the later links', () => {
    const db = open();
    enqueue(db, { name: 'one', chain: [{ name: 'two', tries: 1 }, { name: 'three' }], catch: { name: 'oops', payload: { analysisId: 'a1' } } });
    complete(db, claimOne(db)!);
    const two = claimOne(db)!;
    expect(two.name).toBe('two');
    release(db, two, { message: 'model down' });
    const names: string[] = [];
    for (let job = claimOne(db); job; job = claimOne(db)) {
      names.push(job.name);
      const full = getJob(db, job.id)!;
      expect(full.payload).toMatchObject({ analysisId: 'a1', failure: { name: 'two' } });
      complete(db, job);
    }
    expect(names).toEqual(['oops']);
  });
});

describe('batches', () => {
  function drain(db: Db, failNames: string[] = []): string[] {
    const ran: string[] = [];
    for (let job = claimOne(db); job; job = claimOne(db)) {
      ran.push(job.name);
      if (failNames.includes(job.name)) fail(db, job, { message: 'no' });
      else complete(db, job);
    }
    return ran;
  }

  it('runs then and finally once when every job completes', () => {
    const db = open();
    const { id } = createBatch(db, { name: 'b', jobs: [{ name: 'a' }, { name: 'b' }], then: { name: 'then' }, catch: { name: 'catch' }, finally: { name: 'finally' } });
    expect(drain(db)).toEqual(['a', 'b', 'then', 'finally']);
    expect(getBatch(db, id)).toMatchObject({ total: 2, pending: 0, processed: 2, failed: 0, thenDispatched: true, finallyDispatched: true });
  });

  it('runs catch at the first failure and cancels the rest unless failures are allowed', () => {
    const db = open();
    const { id } = createBatch(db, { jobs: [{ name: 'bad' }, { name: 'x' }, { name: 'y' }], then: { name: 'then' }, catch: { name: 'catch' }, finally: { name: 'finally' } });
    expect(drain(db, ['bad'])).toEqual(['bad', 'catch', 'finally']);
    expect(getBatch(db, id)).toMatchObject({ pending: 0, failed: 1, catchDispatched: true, thenDispatched: false });
    expect(getBatch(db, id)?.cancelledAt).not.toBeNull();

    const allowed = createBatch(db, { jobs: [{ name: 'bad' }, { name: 'x' }], allowFailures: true, then: { name: 'then' }, catch: { name: 'catch' }, finally: { name: 'finally' } });
    expect(drain(db, ['bad'])).toEqual(['bad', 'x', 'catch', 'finally']);
    // Retrying the failed job and letting it succeed completes the batch: then runs, finally does not run again.
    retryBatch(db, allowed.id);
    expect(drain(db)).toEqual(['bad', 'then']);
    expect(getBatch(db, allowed.id)).toMatchObject({ pending: 0, failed: 0, processed: 2 });
  });

  it('counts a chain as one batch job that ends with its last link', () => {
    const db = open();
    const { id } = createBatch(db, { jobs: [{ name: 'a1', chain: [{ name: 'a2' }] }], then: { name: 'then' } });
    expect(drain(db)).toEqual(['a1', 'a2', 'then']);
    expect(getBatch(db, id)?.processed).toBe(1);
  });

  it('cancels the jobs of a batch that have not started', () => {
    const db = open();
    const { id } = createBatch(db, { jobs: [{ name: 'a' }, { name: 'b' }], finally: { name: 'finally' } });
    expect(cancelBatch(db, id)).toBe(2);
    expect(drain(db)).toEqual(['finally']);
  });

  it('runs then and finally at once for an empty batch', () => {
    const db = open();
    createBatch(db, { jobs: [], then: { name: 'then' }, finally: { name: 'finally' } });
    expect(drain(db)).toEqual(['then', 'finally']);
  });
});

describe('completing many', () => {
  it('completes the valid leases and leaves a job with a bad lease reserved with its token', () => {
    const db = open();
    enqueueMany(db, Array.from({ length: 10 }, () => ({ name: 'a' })));
    const jobs = claim(db, { workerId: W, limit: 10 });
    const leases = jobs.map((j, i) => (i === 3 ? { id: j.id, token: 999 } : j));
    expect(completeMany(db, leases, 5_000)).toBe(9);
    const bad = jobs[3]!;
    expect(getJob(db, bad.id)).toMatchObject({ state: 'reserved', reservedBy: W, leaseToken: bad.token, finishedAt: null });
    for (const j of jobs.filter((_, i) => i !== 3)) expect(getJob(db, j.id)).toMatchObject({ state: 'completed', reservedBy: null, finishedAt: 5_000 });
    // The rightful holder can still complete it.
    expect(complete(db, bad)).toBe(true);
  });

  it('runs in one transaction: a failure in the middle leaves every row as it was', () => {
    const db = open();
    enqueueMany(db, [{ name: 'a' }, { name: 'b' }, { name: 'c', chain: [{ name: 'next' }] }, { name: 'd' }, { name: 'e' }]);
    const jobs = claim(db, { workerId: W, limit: 5 });
    expect(jobs).toHaveLength(5);
    // The next link of `c` is enqueued after the completing statement has run; make that insert fail.
    db.exec(`CREATE TEMP TRIGGER fail_next_link BEFORE INSERT ON jobs WHEN NEW.name = 'next' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
    const rows = () => db.prepare('SELECT * FROM jobs ORDER BY id').all();
    const before = rows();
    expect(() => completeMany(db, jobs)).toThrow(/injected failure/);
    expect(rows()).toEqual(before);
    expect(jobs.map((j) => getJob(db, j.id)?.state)).toEqual(['reserved', 'reserved', 'reserved', 'reserved', 'reserved']);
    // Once the fault is gone the same leases complete, so nothing was spent by the failed try.
    db.exec('DROP TRIGGER fail_next_link');
    expect(completeMany(db, jobs)).toBe(5);
    expect(listJobs(db, { state: 'pending' }).map((j) => j.name)).toEqual(['next']);
  });
});

describe('metrics', () => {
  it('computes throughput, runtime and wait per queue and per job name from the rows', () => {
    const db = open();
    const t0 = 10_000_000;
    // Three jobs of `a` on default: waits 100/200/300 ms, runtimes 1000/2000/3000 ms; one failed `b` on high.
    for (let i = 1; i <= 3; i++) {
      enqueue(db, { name: 'a' }, { now: t0 });
      const job = claim(db, { workerId: W, now: t0 + i * 100 })[0]!;
      complete(db, job, t0 + i * 100 + i * 1000);
    }
    enqueue(db, { name: 'b', queue: 'high' }, { now: t0 });
    fail(db, claim(db, { workerId: W, now: t0 + 50 })[0]!, { message: 'x' }, t0 + 60);
    const metrics = computeMetrics(db, 60_000, t0 + 10_000);
    const a = metrics.find((m) => m.kind === 'job' && m.key === 'a')!;
    expect(a).toMatchObject({ processed: 3, failed: 0, runtimeAvg: 2000, runtimeP50: 2000, runtimeP95: 3000, waitAvg: 200, waitP95: 300 });
    expect(a.perMinute).toBeCloseTo(3);
    expect(metrics.find((m) => m.kind === 'queue' && m.key === 'high')).toMatchObject({ processed: 0, failed: 1 });
    expect(computeMetrics(db, 1_000, t0 + 10_000)).toEqual([]);
    const series = throughputSeries(db, 60, t0 + 10_000);
    expect(series).toHaveLength(60);
    expect(series.reduce((s, n) => s + n, 0)).toBe(3);
    expect(series[59]).toBe(3);
    expect(snapshotMetrics(db, 60_000, t0 + 10_000)).toBe(metrics.length);
    expect(listSnapshots(db, t0).find((s) => s.kind === 'job' && s.key === 'a')).toMatchObject({ processed: 3, runtimeAvg: 2000 });
  });

  it('trims completed jobs older than the age and keeps younger ones and failed history', () => {
    const db = open();
    const t0 = 10_000_000;
    for (let i = 0; i < 3; i++) enqueue(db, { name: 'a' }, { now: t0 });
    const jobs = claim(db, { workerId: W, limit: 3, now: t0 });
    complete(db, jobs[0]!, t0);
    complete(db, jobs[1]!, t0 + 50 * 60_000);
    fail(db, jobs[2]!, { message: 'x' }, t0);
    expect(trimJobs(db, { completedMinutes: 60, failedMinutes: 24 * 60 }, t0 + 70 * 60_000)).toBe(1);
    expect(getJob(db, jobs[0]!.id)).toBeUndefined();
    expect(getJob(db, jobs[1]!.id)?.state).toBe('completed');
    expect(getJob(db, jobs[2]!.id)?.state).toBe('failed');
  });
});
