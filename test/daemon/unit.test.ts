import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyJobOptions, graceSecondsOf, isDenied, loadConfig, maskConfig, resolveConfigPath } from '../../src/cli/config.js';
import { openAppDb } from '../../src/cli/db.js';
import {
  LongWaitAlerts, PromText, Registry, WalWatcher, allocateSlots, claimTick, classifyError, isLoopback, parseListen, silentLogger, startWorker,
  type WorkerHandle,
} from '../../src/daemon/index.js';
import {
  DelayError, PermanentError, TimeoutError, createSqliteStore, enqueue, enqueueMany, getJob, listFailed, recoverLeases, registerWorker, type Db,
} from '../../src/queue/index.js';
import { tempDbPath, tempDir, waitFor } from '../support/tmp.js';
import { runCli, writeConfig } from './support.js';

const opened: Db[] = [];
const workers: WorkerHandle[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop({ graceMs: 0 });
  for (const db of opened.splice(0)) db.close();
});

function open(file = tempDbPath()): Db {
  const db = openAppDb(file);
  opened.push(db);
  return db;
}

function start(db: Db, registry: Registry, options: Parameters<typeof startWorker>[2] = {}): WorkerHandle {
  const w = startWorker(db, registry, { heartbeatMs: 50, pollMs: 50, ...options });
  workers.push(w);
  return w;
}

describe('auto balancing (allocateSlots)', () => {
  const load = (queue: string, pending: number, avgRuntimeMs = 1) => ({ queue, pending, avgRuntimeMs });

  it('gives every queue with pending jobs at least one slot and empty queues none', () => {
    const a = allocateSlots([load('high', 1), load('default', 1000), load('low', 0)], 10);
    expect(a.get('high')).toBeGreaterThanOrEqual(1);
    expect(a.get('low')).toBe(0);
    expect([...a.values()].reduce((s, n) => s + n, 0)).toBe(10);
  });

  it('shares slots in proportion to pending × average runtime', () => {
    const a = allocateSlots([load('high', 100, 10), load('default', 100, 30)], 12);
    expect(a.get('high')).toBe(3);
    expect(a.get('default')).toBe(9);
  });

  it('moves at most maxShift slots per rebalance from the previous allocation', () => {
    const prev = new Map([['high', 9], ['default', 1]]);
    const a = allocateSlots([load('high', 1), load('default', 10_000)], 10, prev, 3);
    expect(a.get('high')).toBe(6);
    expect(a.get('default')).toBe(4);
    expect([...a.values()].reduce((s, n) => s + n, 0)).toBeLessThanOrEqual(10);
  });

  it('never hands out more slots than there are, even with more busy queues than slots', () => {
    const a = allocateSlots([load('a', 5), load('b', 5), load('c', 5)], 2);
    expect([...a.values()].reduce((s, n) => s + n, 0)).toBe(2);
    expect(() => allocateSlots([], 0)).toThrow(/at least 1/);
  });
});

describe('error classification', () => {
  it('fails a PermanentError now, delays a DelayError until its time, retries anything else', () => {
    expect(classifyError(new PermanentError('404')).kind).toBe('fail');
    const d = classifyError(new DelayError(12345, 'rate limited'));
    expect(d).toMatchObject({ kind: 'delay', until: 12345 });
    expect(classifyError(new TimeoutError('slow')).kind).toBe('retry');
    expect(classifyError('a string').error.message).toBe('a string');
    // By code, so an error class from another copy of the queue module still counts.
    expect(classifyError(Object.assign(new Error('x'), { code: 'E_PERMANENT' })).kind).toBe('fail');
  });
});

describe('registry', () => {
  it('refuses a second handler for a name, bad names and bad cron expressions', () => {
    const r = new Registry().register('a', { handle() {} });
    expect(() => r.register('a', { handle() {} })).toThrow(/already registered/);
    expect(() => r.register('bad name', { handle() {} })).toThrow(/invalid job name/);
    expect(() => r.schedule('x', 'not cron', { name: 'a' })).toThrow(/invalid cron expression/);
    r.schedule('prune', '0 3 * * *', { name: 'a' }).schedule('prune', '0 4 * * *', { name: 'a' });
    expect(r.listSchedules().map((s) => `${s.name} ${s.cron}`)).toEqual(['prune 0 4 * * *']);
  });
});

describe('configuration', () => {
  const env = (extra: Record<string, string> = {}) => ({ XDG_CONFIG_HOME: tempDir('gitroast-xdg-'), ...extra });

  it('has documented defaults when there is no file', () => {
    const { config, file } = loadConfig({ env: env() });
    expect(file).toBeUndefined();
    expect(config).toMatchObject({ concurrency: 10, queues: ['high', 'default', 'low'], balance: 'strict', leaseSeconds: 90, heartbeatSeconds: 5, timeoutSeconds: 60, denyList: [], webhookUrl: null });
    expect(config.trim).toEqual({ completedMinutes: 60, failedRowsMinutes: 10_080, failedJobsHours: 168, snapshotsMinutes: 10_080, batchesHours: 48, monitoredMinutes: 10_080 });
    expect(config.silenced).toEqual([]);
    expect(config.notify).toEqual({ failures: { jobs: [], queues: [], queue: 'low' } });
    expect(config.longWait.defaultSeconds).toBe(60);
  });

  it('finds the file through --config, then GITROAST_CONFIG, then $XDG_CONFIG_HOME', () => {
    const xdg = tempDir('gitroast-xdg-');
    fs.mkdirSync(path.join(xdg, 'gitroast'));
    fs.writeFileSync(path.join(xdg, 'gitroast', 'config.json'), JSON.stringify({ concurrency: 2 }));
    expect(loadConfig({ env: { XDG_CONFIG_HOME: xdg } }).config.concurrency).toBe(2);
    const viaEnv = writeConfig({ concurrency: 3 });
    expect(loadConfig({ env: { XDG_CONFIG_HOME: xdg, GITROAST_CONFIG: viaEnv } }).config.concurrency).toBe(3);
    const viaFlag = writeConfig({ concurrency: 4 });
    expect(loadConfig({ configFlag: viaFlag, env: { XDG_CONFIG_HOME: xdg, GITROAST_CONFIG: viaEnv } }).config.concurrency).toBe(4);
    expect(resolveConfigPath(undefined, { XDG_CONFIG_HOME: 'relative' }).file).toMatch(/\.config\/gitroast\/config\.json$/);
  });

  it('lets flags override the environment and the environment override the file', () => {
    const file = writeConfig({ concurrency: 3, queues: ['a'], http: { listen: '127.0.0.1:1' } });
    const e = env({ GITROAST_CONCURRENCY: '5', GITROAST_QUEUES: 'x, y' });
    const fromEnv = loadConfig({ configFlag: file, env: e });
    expect(fromEnv.config.concurrency).toBe(5);
    expect(fromEnv.config.queues).toEqual(['x', 'y']);
    expect(fromEnv.config.http.listen).toBe('127.0.0.1:1');
    expect(fromEnv.sources).toMatchObject({ concurrency: 'env GITROAST_CONCURRENCY', 'http.listen': 'file' });
    const fromFlag = loadConfig({ configFlag: file, env: e, flags: { concurrency: { value: 7, flag: '--concurrency' } } });
    expect(fromFlag.config.concurrency).toBe(7);
  });

  it('rejects unknown keys with the key path, and bad values naming the key and its source', () => {
    const file = writeConfig({ jobs: { 'fetch-github': { tires: 3 } }, surprise: true });
    expect(() => loadConfig({ configFlag: file, env: env() })).toThrow(/jobs\.fetch-github\.tires: unknown key.*surprise: unknown key/);
    const bad = writeConfig({ concurrency: 0 });
    expect(() => loadConfig({ configFlag: bad, env: env() })).toThrow(new RegExp(`concurrency: Too small.*\\(in ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`));
    expect(() => loadConfig({ env: env({ GITROAST_CONCURRENCY: 'lots' }) })).toThrow(/concurrency: .*\(from env GITROAST_CONCURRENCY\)/);
    expect(() => loadConfig({ env: env(), flags: { balance: { value: 'random', flag: '--balance' } } })).toThrow(/balance: .*\(from --balance\)/);
    expect(() => loadConfig({ configFlag: writeConfig({ schedules: { prune: 'every day' } }), env: env() })).toThrow(/schedules\.prune: expected a cron expression/);
    expect(() => loadConfig({ configFlag: writeConfig({ webhookUrl: 'ftp://x' }), env: env() })).toThrow(/webhookUrl: expected an http\(s\) URL/);
    expect(() => loadConfig({ configFlag: writeConfig({ denyList: ['bad login!'] }), env: env() })).toThrow(/denyList\.0: expected a GitHub login/);
    expect(() => loadConfig({ configFlag: '/nonexistent/config.json', env: env() })).toThrow(/cannot read config file \/nonexistent\/config\.json: it does not exist/);
    const notJson = path.join(tempDir(), 'c.json');
    fs.writeFileSync(notJson, '{ nope');
    expect(() => loadConfig({ configFlag: notJson, env: env() })).toThrow(/is not valid JSON/);
  });

  it('masks secrets, applies per-job options to specs, and computes the grace period', () => {
    const file = writeConfig({
      webhookUrl: 'https://hooks.example.com/services/T000/B000/XXXXSECRET?token=abc', http: { token: 'a-very-long-secret-token' },
      jobs: { 'fetch-github': { tries: 5, backoff: [10, 60], timeout: 120, retryUntil: 3600 }, 'write-review': { timeout: 30 } }, denyList: ['Octocat'],
      notify: { failures: { jobs: ['send-mail'], webhookUrl: 'https://discord.example.com/api/webhooks/1/FAILSECRET' } },
    });
    const { config } = loadConfig({ configFlag: file, env: env() });
    const masked = JSON.stringify(maskConfig(config));
    expect(masked).not.toContain('SECRET');
    expect(masked).not.toContain('a-very-long-secret-token');
    expect(maskConfig(config).webhookUrl).toBe('https://hooks.example.com/********');
    expect(masked).not.toContain('FAILSECRET');
    expect(maskConfig(config).notify.failures.webhookUrl).toBe('https://discord.example.com/********');
    const spec = applyJobOptions({ name: 'fetch-github', tries: 2, chain: [{ name: 'write-review' }] }, config, 1000);
    expect(spec).toMatchObject({ name: 'fetch-github', tries: 2, backoff: [10, 60], timeoutMs: 120_000, retryForMs: 3_600_000 });
    expect(spec.chain![0]).toMatchObject({ name: 'write-review', timeoutMs: 30_000 });
    expect(graceSecondsOf(config)).toBe(120);
    expect(isDenied(config, 'octocat')).toBe(true);
    expect(isDenied(config, 'someone')).toBe(false);
  });

  it('`gitroast config --json` prints the effective config with secrets masked; a bad file exits 2 naming the key', async () => {
    const file = writeConfig({ concurrency: 3, http: { token: 'a-very-long-secret-token' } });
    const ok = await runCli(['config', '--json', '--config', file]);
    expect(ok.code).toBe(0);
    const out = JSON.parse(ok.stdout) as { file: string; config: { concurrency: number; http: { token: string } } };
    expect(out.file).toBe(file);
    expect(out.config.concurrency).toBe(3);
    expect(out.config.http.token).toBe('********');
    expect(ok.stdout).not.toContain('a-very-long-secret-token');
    const bad = writeConfig({ longWait: { queues: { high: -1 } } });
    const r = await runCli(['config', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid configuration: longWait\.queues\.high: Too small/);
    const d = await runCli(['--db', tempDbPath(), 'daemon', '--config', writeConfig({ concurrencyy: 2 })]);
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/concurrencyy: unknown key/);
    const e = await runCli(['--db', tempDbPath(), 'daemon'], { GITROAST_BALANCE: 'sideways' });
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/balance: .*GITROAST_BALANCE/);
  });
});

describe('HTTP helpers', () => {
  it('parses HOST:PORT and knows loopback addresses', () => {
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(() => parseListen('9464')).toThrow(/expected HOST:PORT/);
    expect(() => parseListen('host:99999')).toThrow(/expected HOST:PORT/);
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '10.0.0.1', '::', 'example.com', '128.0.0.1']) expect(isLoopback(h)).toBe(false);
  });

  it('writes Prometheus text with HELP/TYPE once and escaped labels', () => {
    const t = new PromText()
      .sample('x_total', 'counter', 'X.', 1, { name: 'a"b\\c\nd' })
      .sample('x_total', 'counter', 'X.', 2, { name: 'e' })
      .toString();
    expect(t).toBe('# HELP x_total X.\n# TYPE x_total counter\nx_total{name="a\\"b\\\\c\\nd"} 1\nx_total{name="e"} 2\n');
  });
});

describe('schedules and alerts across processes (through the database)', () => {
  it('lets exactly one connection take each tick of a schedule', () => {
    const file = tempDbPath();
    const a = open(file);
    const b = open(file);
    expect(claimTick(a, 'trim-jobs', 60_000)).toBe(true);
    expect(claimTick(b, 'trim-jobs', 60_000)).toBe(false);
    expect(claimTick(a, 'trim-jobs', 60_000)).toBe(false);
    expect(claimTick(b, 'trim-jobs', 120_000)).toBe(true);
    expect(claimTick(a, 'trim-jobs', 60_000)).toBe(false);
    expect(claimTick(a, 'other', 60_000)).toBe(true);
  });

  it('raises a long-wait alert once and resolves it once, even with two daemons checking', async () => {
    const file = tempDbPath();
    const a = open(file);
    const b = open(file);
    const opts = { thresholdMs: (q: string) => (q === 'low' ? 0 : 1000), logger: silentLogger };
    const t = Date.now();
    let clock = t;
    const A = new LongWaitAlerts(createSqliteStore(a, { clock: () => clock }), opts);
    const B = new LongWaitAlerts(createSqliteStore(b, { clock: () => clock }), opts);
    const at = (ms: number) => {
      clock = t + ms;
    };
    // A live daemon serves both queues (unserved queues get their own alert, not this one).
    registerWorker(a, { id: 'w_serving', pid: 1, hostname: 'h', version: 't', queues: ['default', 'low'], concurrency: 1 }, t + 1900);
    const { id } = enqueue(a, { name: 'x' }, { now: t });
    enqueue(a, { name: 'x', queue: 'low' }, { now: t });
    at(500);
    expect(await A.check()).toEqual([]);
    at(1500);
    expect((await A.check()).map((e) => `${e.event} ${e.queue}`)).toEqual(['queue.long_wait default']);
    at(1600);
    expect(await B.check()).toEqual([]);
    at(1700);
    expect(await A.check()).toEqual([]);
    a.prepare(`UPDATE jobs SET state = 'completed' WHERE id = ?`).run(id);
    at(1800);
    expect((await B.check()).map((e) => e.event)).toEqual(['queue.long_wait_resolved']);
    at(1900);
    expect(await A.check()).toEqual([]);
  });
});

describe('startWorker (in-process runner)', () => {
  it('starts a job enqueued in the same process on the enqueue itself, not on a poll', async () => {
    const db = open();
    const starts: number[] = [];
    // An hour-long poll and heartbeat and no file watch: only the in-process enqueue hook can wake it.
    const w = start(db, new Registry().register('ping', { handle: (p: { i: number }) => void starts.push(p.i) }), { pollMs: 3_600_000, heartbeatMs: 3_600_000, watch: false });
    await waitFor(() => w.busy() === 0);
    for (let i = 0; i < 50; i++) {
      enqueue(db, { name: 'ping', payload: { i } });
      // A hang guard only, far over the usual sub-millisecond start; the latency itself is
      // measured by `npm run bench` (latency_in_*).
      await waitFor(() => starts.length === i + 1, 5_000, `job ${i} to start`);
    }
    expect(starts).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('runs the failed hook once when tries are used up, and stops on until()', async () => {
    const db = open();
    const hooks: string[] = [];
    let runs = 0;
    const registry = new Registry().register('flaky', {
      handle() {
        runs++;
        throw new Error(`try ${runs}`);
      },
      failed: (_p, err) => void hooks.push(err.message),
    });
    const { id } = enqueue(db, { name: 'flaky', tries: 3 });
    const w = start(db, registry, { until: () => getJob(db, id)?.state === 'failed' });
    await w.done;
    expect(w.stopReason()).toBe('until');
    expect(runs).toBe(3);
    await waitFor(() => hooks.length === 1);
    expect(hooks).toEqual(['try 3 (attempt 3 of 3: no tries left)']);
    expect(listFailed(db)).toHaveLength(1);
  });

  it('extends the lease of a long job so another worker cannot recover it', async () => {
    const file = tempDbPath();
    const db = open(file);
    const other = open(file);
    const { id } = enqueue(db, { name: 'long' });
    let finished = false;
    start(db, new Registry().register('long', { handle: () => new Promise<void>((r) => setTimeout(() => { finished = true; r(); }, 700)) }), { leaseMs: 200, heartbeatMs: 40, staleMs: 10_000 });
    const deadline = Date.now() + 600;
    while (Date.now() < deadline) {
      expect(recoverLeases(other, 10_000).requeued).toEqual([]);
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(() => finished && getJob(db, id)?.state === 'completed', 5000);
    expect(getJob(db, id)?.attempts).toBe(1);
  });

  it('balances slots across queues in auto mode so a busy queue does not starve another', async () => {
    const db = open();
    const order: string[] = [];
    const registry = new Registry().register('work', { handle: (p: { q: string }) => new Promise<void>((r) => setTimeout(() => { order.push(p.q); r(); }, 5)) });
    enqueueMany(db, Array.from({ length: 60 }, () => ({ name: 'work', queue: 'high', payload: { q: 'high' } })));
    enqueueMany(db, Array.from({ length: 20 }, () => ({ name: 'work', queue: 'low', payload: { q: 'low' } })));
    const w = start(db, registry, { queues: ['high', 'low'], balance: 'auto', concurrency: 4, stopWhenEmpty: true });
    await w.done;
    expect(order).toHaveLength(80);
    // Strict order would run every high job first; auto runs low jobs while high still has work.
    expect(order.slice(0, 40)).toContain('low');
  });

  it('fences a late result: after a timeout frees the slot, the old token cannot complete the job', async () => {
    const db = open();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const signals: string[] = [];
    const registry = new Registry().register('slow', {
      async handle(_p, ctx) {
        ctx.signal.addEventListener('abort', () => signals.push((ctx.signal.reason as Error).name));
        if (ctx.attempt === 1) await gate;
      },
    });
    const { id } = enqueue(db, { name: 'slow', timeoutMs: 100, tries: 2 });
    start(db, registry, { concurrency: 1 });
    await waitFor(() => getJob(db, id)?.state === 'completed', 5000);
    expect(signals).toEqual(['TimeoutError']);
    const token = getJob(db, id)!.leaseToken;
    release();
    await new Promise((r) => setTimeout(r, 100));
    const job = getJob(db, id)!;
    expect(job.state).toBe('completed');
    expect(job.attempts).toBe(2);
    expect(job.leaseToken).toBe(token);
  });
});

describe('WAL watcher', () => {
  it('re-arms when the -wal file is removed and comes back', async () => {
    const file = tempDbPath();
    let db = openAppDb(file);
    let events = 0;
    const w = new WalWatcher(file, () => events++).start();
    try {
      expect(w.watching).toBe('wal');
      db.close(); // the last connection: SQLite deletes -wal, the watcher sees a rename
      await waitFor(() => w.watching === 'dir', 2000, 'the folder fallback');
      db = openAppDb(file);
      enqueue(db, { name: 'x' });
      await waitFor(() => w.watching === 'wal', 2000, 're-arming on -wal');
      const before = events;
      enqueue(db, { name: 'y' });
      await waitFor(() => events > before, 2000, 'an event from the new -wal');
    } finally {
      w.close();
      db.close();
    }
  });
});
