import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openAppDb } from '../../src/cli/db.js';
import { enqueue, enqueueMany, getJob, listFailed, type Db } from '../../src/queue/index.js';
import { tempDbPath, tempDir, waitFor } from '../support/tmp.js';
import { FAST, notes, runCli, spawnDaemon, writeConfig, writeHandlers } from './support.js';

const opened: Db[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

function setup(config: Record<string, unknown> = {}) {
  const dbPath = tempDbPath();
  const db = openAppDb(dbPath);
  opened.push(db);
  const handlers = writeHandlers();
  const cfg = writeConfig({ ...FAST, ...config });
  const notesFile = path.join(tempDir('gitroast-notes-'), 'notes.txt');
  const env = { GITROAST_HANDLERS: handlers };
  return { dbPath, db, cfg, notesFile, env };
}

const completedCount = (db: Db) => (db.prepare(`SELECT COUNT(*) AS n FROM jobs WHERE state = 'completed'`).get() as { n: number }).n;

describe('gitroast daemon: crashes and shutdown', () => {
  it('completes a job on another daemon after kill -9 during the job, and records it once', async () => {
    const { dbPath, db, cfg, notesFile, env } = setup();
    const a = spawnDaemon(dbPath, ['--config', cfg, '--concurrency', '1'], env);
    await a.waitLog('daemon.started');
    const { id } = enqueue(db, { name: 'record', payload: { file: notesFile, msFirst: 60_000, ms: 10 }, tries: 3 });
    await waitFor(() => notes(notesFile).some((n) => n.what === 'start' && n.pid === a.child.pid), 10_000, 'daemon A to start the job');
    a.child.kill('SIGKILL');
    await a.exited;
    const b = spawnDaemon(dbPath, ['--config', cfg, '--concurrency', '1'], env);
    await waitFor(() => getJob(db, id)?.state === 'completed', 15_000, 'daemon B to complete the job');
    const done = notes(notesFile).filter((n) => n.what === 'done');
    expect(done).toHaveLength(1);
    expect(done[0]!.pid).toBe(b.child.pid);
    const job = getJob(db, id)!;
    expect(job.attempts).toBe(2);
    expect(job.errors[0]!.message).toMatch(/lease lost: worker w_[0-9a-f]+ stopped heartbeating/);
    expect(listFailed(db)).toHaveLength(0);
    expect(completedCount(db)).toBe(1);
    await b.waitLog('lease.recovered', (l) => (l.jobs as number[]).includes(id));
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  });

  it('waits for the running job on SIGTERM, then deregisters and exits 0', async () => {
    const { dbPath, db, cfg, notesFile, env } = setup();
    const d = spawnDaemon(dbPath, ['--config', cfg, '--grace', '10'], env);
    await d.waitLog('daemon.started');
    const { id } = enqueue(db, { name: 'record', payload: { file: notesFile, ms: 1200 } });
    await waitFor(() => notes(notesFile).some((n) => n.what === 'start'), 10_000, 'the job to start');
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    expect(notes(notesFile).map((n) => n.what)).toEqual(['start', 'done']);
    expect(getJob(db, id)?.state).toBe('completed');
    const stopping = d.logs.findIndex((l) => l.event === 'worker.stopping');
    const completed = d.logs.findIndex((l) => l.event === 'job.completed' && l.job === id);
    expect(stopping).toBeGreaterThanOrEqual(0);
    expect(completed).toBeGreaterThan(stopping);
    expect((db.prepare('SELECT COUNT(*) AS n FROM workers').get() as { n: number }).n).toBe(0);
  });

  it('puts a job still running when the grace period ends back without spending an attempt', async () => {
    const { dbPath, db, notesFile, env } = setup();
    const cfg = writeConfig({ ...FAST, graceSeconds: 0.3 });
    const d = spawnDaemon(dbPath, ['--config', cfg], env);
    await d.waitLog('daemon.started');
    const { id } = enqueue(db, { name: 'record', payload: { file: notesFile, ms: 30_000 } });
    await waitFor(() => notes(notesFile).some((n) => n.what === 'start'), 10_000, 'the job to start');
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    const job = getJob(db, id)!;
    expect(job.state).toBe('pending');
    expect(job.attempts).toBe(0);
    expect(d.count('job.released', (l) => l.job === id && l.attemptSpent === false)).toBe(1);
  });

  it('exits at once on a second SIGINT, leaving the running job to lease recovery', async () => {
    const { dbPath, db, cfg, notesFile, env } = setup();
    const d = spawnDaemon(dbPath, ['--config', cfg, '--grace', '60'], env);
    await d.waitLog('daemon.started');
    const { id } = enqueue(db, { name: 'record', payload: { file: notesFile, ms: 30_000 } });
    await waitFor(() => notes(notesFile).some((n) => n.what === 'start'), 10_000, 'the job to start');
    d.child.kill('SIGINT');
    await d.waitLog('worker.stopping');
    let code: number | null | undefined;
    void d.exited.then((c) => (code = c));
    d.child.kill('SIGINT');
    // "At once" is shown by the outcome: the 30 s job never finished (still reserved, no
    // `done` note) although the grace period would have waited for it. The 10 s wait is a
    // hang guard only (about 10x a normal exit), well short of the job's 30 s.
    await waitFor(() => code !== undefined, 10_000, 'the daemon to exit on the second SIGINT');
    expect(code).toBe(130);
    expect(getJob(db, id)?.state).toBe('reserved');
    expect(notes(notesFile).map((n) => n.what)).toEqual(['start']);
    expect(d.count('daemon.exit_now')).toBe(1);
  });

  it('shares 1,000 jobs between two daemons with none run twice', async () => {
    const { dbPath, db, cfg, notesFile, env } = setup();
    const a = spawnDaemon(dbPath, ['--config', cfg, '--concurrency', '4', '--log-level', 'warn'], env);
    const b = spawnDaemon(dbPath, ['--config', cfg, '--concurrency', '4', '--log-level', 'warn'], env);
    await waitFor(() => (db.prepare('SELECT COUNT(*) AS n FROM workers').get() as { n: number }).n === 2, 10_000, 'both daemons to register');
    enqueueMany(db, Array.from({ length: 1000 }, () => ({ name: 'record', payload: { file: notesFile, ms: 2 } })));
    await waitFor(() => completedCount(db) === 1000, 30_000, '1,000 completed jobs');
    const all = notes(notesFile);
    const starts = all.filter((n) => n.what === 'start');
    const done = all.filter((n) => n.what === 'done');
    expect(starts).toHaveLength(1000);
    expect(done).toHaveLength(1000);
    expect(new Set(done.map((n) => n.id)).size).toBe(1000);
    expect(starts.every((n) => n.attempt === 1)).toBe(true);
    const byPid = new Map<number, number>();
    for (const n of done) byPid.set(n.pid, (byPid.get(n.pid) ?? 0) + 1);
    expect([...byPid.keys()].sort()).toEqual([a.child.pid, b.child.pid].sort());
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
  });
});

describe('gitroast daemon: errors, timeouts and delays', () => {
  it('frees the slot of a job past its timeout, retries it, and rejects the late result by its fencing token', async () => {
    const { dbPath, db, notesFile, env } = setup();
    const cfg = writeConfig({ ...FAST, jobs: { hang: { timeout: 0.3 } } });
    const d = spawnDaemon(dbPath, ['--config', cfg, '--concurrency', '1'], env);
    await d.waitLog('daemon.started');
    const { id } = enqueue(db, { name: 'hang', payload: { file: notesFile, ms: 1500 }, tries: 2 });
    await waitFor(() => getJob(db, id)?.state === 'completed', 10_000, 'attempt 2 to complete');
    // With one slot, attempt 2 could only start because the timeout freed the slot while
    // attempt 1's handler (ignoring its signal) was still running.
    expect(notes(notesFile).map((n) => `${n.attempt} ${n.what}`)).toEqual(['1 start', '2 start', '2 done']);
    await d.waitLog('job.timed_out', (l) => l.job === id && l.attempt === 1);
    await d.waitLog('job.late_result_rejected', (l) => l.job === id && l.attempt === 1, 10_000);
    expect(notes(notesFile).map((n) => `${n.attempt} ${n.what}`)).toContain('1 late-finish');
    const job = getJob(db, id)!;
    expect(job.state).toBe('completed');
    expect(job.attempts).toBe(2);
    expect(job.errors[0]!.message).toMatch(/timed out after 300 ms/);
    expect(d.count('job.completed', (l) => l.job === id)).toBe(1);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });

  it('puts a rate-limited job back until its time without spending an attempt', async () => {
    const { dbPath, db, cfg, notesFile, env } = setup();
    const d = spawnDaemon(dbPath, ['--config', cfg], env);
    await d.waitLog('daemon.started');
    const { id } = enqueue(db, { name: 'ratelimit', payload: { file: notesFile, ms: 400 }, tries: 1 });
    const delayed = await d.waitLog('job.delayed', (l) => l.job === id);
    expect(delayed.attemptSpent).toBe(false);
    expect(getJob(db, id)?.state).toBe('delayed');
    await waitFor(() => getJob(db, id)?.state === 'completed', 10_000, 'the delayed job to complete');
    const job = getJob(db, id)!;
    // tries: 1 — had the delay spent the attempt, the second run would have been refused.
    expect(job.attempts).toBe(1);
    const runs = notes(notesFile);
    expect(runs.map((n) => `${n.attempt} ${n.what}`)).toEqual(['1 start', '1 start', '1 done']);
    // The job row can show completed before the daemon's log lines reach our pipe.
    await waitFor(() => d.count('job.completed', (l) => l.job === id) === 1, 5_000, 'the completion log line');
    const started = d.logs.filter((l) => l.event === 'job.claimed' && l.job === id);
    expect(started).toHaveLength(2);
    expect(Date.parse(started[1]!.time as string) - Date.parse(delayed.time as string)).toBeGreaterThanOrEqual(300);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });

  it('fails a permanent error at once and runs the failed hook once; an unknown job name fails without crashing', async () => {
    const { dbPath, db, cfg, notesFile, env } = setup();
    const d = spawnDaemon(dbPath, ['--config', cfg, '--stop-when-empty'], env);
    const missing = enqueue(db, { name: 'missing-user', payload: { file: notesFile }, tries: 5 });
    const unknown = enqueue(db, { name: 'no-such-handler' });
    expect(await d.exited).toBe(0);
    expect(getJob(db, missing.id)?.state).toBe('failed');
    expect(getJob(db, missing.id)?.attempts).toBe(1);
    expect(fs.readFileSync(notesFile, 'utf8').trim().split('\n')).toEqual(['failed-hook GitHub says 404: no such user']);
    const failed = listFailed(db);
    expect(failed.find((f) => f.jobId === unknown.id)?.error).toMatch(/no handler is registered for job name "no-such-handler"/);
  });
});

describe('gitroast daemon: pause, continue, stop', () => {
  it('honours queue pause, and runs the job on continue without waiting for the safety poll', async () => {
    // A 60 s safety poll: within this test only a wake-up on the database's change can start the job.
    const { dbPath, db, cfg, env } = setup({ pollSeconds: 60 });
    const d = spawnDaemon(dbPath, ['--config', cfg], env);
    await d.waitLog('daemon.started');
    expect((await runCli(['--db', dbPath, 'queue', 'pause', 'default'])).code).toBe(0);
    const { id } = enqueue(db, { name: 'noop' });
    await new Promise((r) => setTimeout(r, 600)); // many WAL events, each a chance to claim
    expect(getJob(db, id)?.state).toBe('pending');
    expect((await runCli(['--db', dbPath, 'queue', 'continue', 'default'])).code).toBe(0);
    // A hang guard only (about 10x the usual wake-up), far short of the 60 s poll; the
    // latency itself is measured by `npm run bench` (latency_cross_*).
    await waitFor(() => getJob(db, id)?.state === 'completed', 10_000, 'the job to run after continue');
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });

  it('pauses and continues every daemon through `daemon pause|continue`, and stops them with `daemon stop`', async () => {
    const { dbPath, db, cfg, env } = setup();
    const d = spawnDaemon(dbPath, ['--config', cfg], env);
    await d.waitLog('daemon.started');
    expect((await runCli(['--db', dbPath, 'daemon', 'pause'])).code).toBe(0);
    await d.waitLog('worker.paused');
    const { id } = enqueue(db, { name: 'noop' });
    await new Promise((r) => setTimeout(r, 500));
    expect(getJob(db, id)?.state).toBe('pending');
    const status = await runCli(['--db', dbPath, 'daemon', 'status', '--json']);
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as { paused: boolean; daemons: { pid: number; status: string; alive: boolean }[] };
    expect(parsed.paused).toBe(true);
    expect(parsed.daemons).toEqual([expect.objectContaining({ pid: d.child.pid, status: 'paused', alive: true })]);
    expect((await runCli(['--db', dbPath, 'daemon', 'continue'])).code).toBe(0);
    await waitFor(() => getJob(db, id)?.state === 'completed', 5_000, 'the job to run after continue');
    expect((await runCli(['--db', dbPath, 'daemon', 'stop'])).code).toBe(0);
    expect(await d.exited).toBe(0);
    await d.waitLog('daemon.stopped', (l) => l.reason === 'control');
  });
});

describe('gitroast daemon: schedules', () => {
  it('fires each tick of a schedule once across two daemons, and `schedule list` shows it', async () => {
    const { dbPath, db, cfg, env } = setup();
    const out = path.join(tempDir('gitroast-ticks-'), 'ticks.txt');
    const env2 = { ...env, TEST_SCHEDULE_OUT: out };
    const a = spawnDaemon(dbPath, ['--config', cfg], env2);
    const b = spawnDaemon(dbPath, ['--config', cfg], env2);
    await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').trim().split('\n').length >= 3, 15_000, 'three ticks');
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
    const ticks = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[1]));
    expect(new Set(ticks).size).toBe(ticks.length);
    const jobs = db.prepare(`SELECT payload FROM jobs WHERE name = 'tick-job'`).all() as { payload: string }[];
    const ats = jobs.map((j) => (JSON.parse(j.payload) as { schedule: { at: number } }).schedule.at);
    expect(new Set(ats).size).toBe(ats.length);
    expect(a.count('schedule.ran', (l) => l.schedule === 'test-tick') + b.count('schedule.ran', (l) => l.schedule === 'test-tick')).toBe(ats.length);
    const list = await runCli(['--db', dbPath, 'schedule', 'list', '--json'], env2);
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout) as { name: string; cron: string; lastRun?: { ok: boolean; at: number }; nextRunAt?: number }[];
    expect(rows.map((r) => r.name)).toEqual(['trim-jobs', 'flush-failed', 'snapshot-metrics', 'checkpoint', 'prune', 'test-tick']);
    expect(rows.find((r) => r.name === 'prune')?.cron).toBe('0 3 * * *');
    const tick = rows.find((r) => r.name === 'test-tick')!;
    expect(tick.cron).toBe('* * * * * *');
    expect(tick.lastRun?.ok).toBe(true);
    expect(tick.lastRun?.at).toBe(Math.max(...ats));
    expect(tick.nextRunAt).toBeGreaterThan(Date.now() - 1000);
  });
});

describe('gitroast daemon: alerts and HTTP', () => {
  it('sends a long-wait alert once and its resolution once to a loopback webhook', async () => {
    const received: { event: string; queue: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body) as { event: string; queue: string });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const { dbPath, db, env } = setup();
      const cfg = writeConfig({ ...FAST, longWait: { defaultSeconds: 0.3 }, webhookUrl: `http://127.0.0.1:${port}/hook` });
      const d = spawnDaemon(dbPath, ['--config', cfg, '--concurrency', '1'], env);
      await d.waitLog('daemon.started');
      // One slot, busy for 2 s: the next job waits past the 0.3 s threshold on a served, running queue.
      const notesFile = path.join(tempDir('gitroast-notes-'), 'notes.txt');
      enqueue(db, { name: 'record', payload: { file: notesFile, ms: 2000 } });
      await waitFor(() => notes(notesFile).some((n) => n.what === 'start'), 10_000, 'the slow job to start');
      const { id } = enqueue(db, { name: 'noop' });
      await waitFor(() => received.length >= 1, 10_000, 'the long-wait webhook');
      expect(received[0]).toMatchObject({ event: 'queue.long_wait', queue: 'default' });
      await new Promise((r) => setTimeout(r, 400)); // several more checks while it still waits
      expect(received).toHaveLength(1);
      await waitFor(() => getJob(db, id)?.state === 'completed', 5_000, 'the job to run');
      await waitFor(() => received.length >= 2, 10_000, 'the resolved webhook');
      await new Promise((r) => setTimeout(r, 400));
      expect(received.map((r) => `${r.event} ${r.queue}`)).toEqual(['queue.long_wait default', 'queue.long_wait_resolved default']);
      expect(d.count('alert.long_wait')).toBe(1);
      expect(d.count('alert.resolved')).toBe(1);
      d.child.kill('SIGTERM');
      expect(await d.exited).toBe(0);
    } finally {
      server.close();
    }
  });

  it('serves /health and /metrics (Prometheus text) over HTTP on loopback', async () => {
    const { dbPath, db, cfg, env } = setup();
    const d = spawnDaemon(dbPath, ['--config', cfg, '--http', '127.0.0.1:0'], env);
    const listening = await d.waitLog('http.listening');
    const base = `http://127.0.0.1:${listening.port as number}`;
    enqueueMany(db, [{ name: 'noop' }, { name: 'noop' }, { name: 'noop' }]);
    await waitFor(() => completedCount(db) === 3, 10_000, 'three jobs');
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { status: string; database: { ok: boolean }; queues: { queue: string; pending: number }[]; daemons: { pid: number }[] };
    expect(body.status).toBe('ok');
    expect(body.database.ok).toBe(true);
    expect(body.queues.map((q) => q.queue)).toEqual(['high', 'default', 'low']);
    expect(body.daemons.map((x) => x.pid)).toEqual([d.child.pid]);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    expect(text).toContain('# TYPE gitroast_jobs_processed_total counter');
    expect(text).toContain('gitroast_jobs_processed_total{queue="default",name="noop"} 3');
    expect(text).toContain('gitroast_jobs_failed_total{queue="default",name="noop"} 0');
    expect(text).toContain('gitroast_queue_depth{queue="default",state="pending"} 0');
    expect(text).toMatch(/gitroast_job_runtime_seconds\{queue="default",name="noop",quantile="0.99"\} [0-9.e-]+/);
    expect(text).toContain('gitroast_job_runtime_seconds_count{queue="default",name="noop"} 3');
    expect(text).toMatch(/gitroast_busy_slots 0\n/);
    expect(text).toMatch(/gitroast_daemons_alive 1\n/);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });

  it('requires the bearer token when --http-token is set', async () => {
    const { dbPath, cfg, env } = setup();
    const token = 'a-long-enough-secret-token';
    const d = spawnDaemon(dbPath, ['--config', cfg, '--http', '127.0.0.1:0'], { ...env, GITROAST_HTTP_TOKEN: token });
    const listening = await d.waitLog('http.listening');
    expect(listening.auth).toBe('bearer');
    const base = `http://127.0.0.1:${listening.port as number}`;
    expect((await fetch(`${base}/health`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect(JSON.stringify(d.logs)).not.toContain(token);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });

  it('refuses a non-loopback --http without a token (exit 2)', async () => {
    const dbPath = tempDbPath();
    const r = await runCli(['--db', dbPath, 'daemon', '--http', '0.0.0.0:9464']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to serve \/health and \/metrics on 0\.0\.0\.0:9464: it is not a loopback address; set --http-token/);
    const bad = await runCli(['--db', dbPath, 'daemon', '--http', 'nonsense']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid --http "nonsense"/);
  });
});

describe('gitroast daemon: limits and unit file', () => {
  it('exits 0 after --max-jobs jobs and leaves the rest', async () => {
    const { dbPath, db, cfg, env } = setup();
    enqueueMany(db, Array.from({ length: 5 }, () => ({ name: 'noop' })));
    const d = spawnDaemon(dbPath, ['--config', cfg, '--max-jobs', '3'], env);
    expect(await d.exited).toBe(0);
    expect(completedCount(db)).toBe(3);
    await d.waitLog('daemon.stopped', (l) => l.reason === 'max-jobs');
  });

  it('exits 0 after --max-time and when over --memory-limit', async () => {
    const { dbPath, cfg, env } = setup();
    const t0 = Date.now();
    const d = spawnDaemon(dbPath, ['--config', cfg, '--max-time', '1'], env);
    expect(await d.exited).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    await d.waitLog('daemon.stopped', (l) => l.reason === 'max-time');
    const m = spawnDaemon(dbPath, ['--config', cfg, '--memory-limit', '16'], env);
    expect(await m.exited).toBe(0);
    await m.waitLog('daemon.memory_limit');
  });

  it('prints a systemd unit with Restart=always, SIGTERM and a stop timeout above the grace period', async () => {
    const dbPath = tempDbPath();
    const r = await runCli(['--db', dbPath, 'daemon', '--print-systemd-unit', '--grace', '30', '--concurrency', '4']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Restart=always');
    expect(r.stdout).toContain('KillSignal=SIGTERM');
    expect(r.stdout).toContain('TimeoutStopSec=45');
    expect(r.stdout).toMatch(/ExecStart=\S+node\S* \S+gitroast\.js --db \S+gitroast\.db daemon --concurrency 4 --grace 30 --log-format json/);
    expect(fs.existsSync(dbPath)).toBe(false);
  });

  it('prints a unit for a PostgreSQL URL that keeps the URL (and its password) out of the unit, in the environment file', async () => {
    const r = await runCli(['--db', 'postgres://roaster:s3cret-pw@db.internal:5432/gitroast?schema=g', 'daemon', '--print-systemd-unit', '--hostname', 'box-2']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('s3cret-pw');
    expect(r.stdout).not.toContain('db.internal');
    expect(r.stdout).toMatch(/ExecStart=\S+node\S* \S+gitroast\.js daemon --hostname box-2 --log-format json/);
    // Required (no leading '-'): without it the daemon would not know its database.
    expect(r.stdout).toContain('\nEnvironmentFile=/etc/gitroast/env\n');
    expect(r.stdout).toContain('GITROAST_DB=postgres://');
    expect(r.stdout).not.toContain('ReadWritePaths=');
    expect(r.stdout).toContain('RestartPreventExitStatus=2 3');
  });
});
