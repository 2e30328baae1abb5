/**
 * `gitroast daemon` on PostgreSQL, as real processes (the built binary) on a real schema per
 * test: draining woken by LISTEN/NOTIFY, several daemons with SIGKILLs, a skewed host clock,
 * connection use, and an older daemon meeting a newer schema. The server restart is in
 * pg-restart.test.ts (it disturbs every PostgreSQL test running at the same time).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { closePg } from '../../src/queue/pg/connect.js';
import { LEDGER_TABLE } from '../../src/queue/ledger.js';
import { adminQuery, pgSchemas, pgUrl } from '../support/pg.js';
import { tempDir, waitFor } from '../support/tmp.js';
import { completedTimes, enqueueRecords, states, writePgHandlers } from './pg-support.js';
import { FAST, notes, runCli, spawnDaemon, writeConfig, writeHandlers, type Spawned } from './support.js';

const schemas = pgSchemas('pgd');
const open = (schema: string) => schemas.open(schema, { max: 1 });

/** How many times each job id was logged as completed, across daemons. */
function completions(daemons: readonly Spawned[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const d of daemons) for (const l of d.logs) if (l.event === 'job.completed') m.set(l.job as number, (m.get(l.job as number) ?? 0) + 1);
  return m;
}

function startDaemon(schema: string, config: Record<string, unknown>, args: string[] = [], env: NodeJS.ProcessEnv = {}): Spawned {
  return spawnDaemon(pgUrl(schema), ['--queues', 'default', ...args], { GITROAST_HANDLERS: writeHandlers(), GITROAST_CONFIG: writeConfig({ ...FAST, ...config }), ...env });
}

async function stopAll(daemons: readonly Spawned[]): Promise<void> {
  for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGTERM');
  await Promise.all(daemons.map((d) => d.exited));
}

describe('gitroast daemon on PostgreSQL', () => {
  it('drains jobs enqueued through the store, woken by NOTIFY (the safety poll is 30 s), each completed once; /health and /metrics answer', async () => {
    const schema = schemas.name('drain');
    const file = path.join(tempDir(), 'runs.txt');
    // A first daemon run creates the schema (migrations), so the store can enqueue into it.
    const d = startDaemon(schema, { pollSeconds: 30 }, ['--concurrency', '16', '--http', '127.0.0.1:0']);
    const listening = await d.waitLog('http.listening');
    await d.waitLog('daemon.started');
    expect(d.count('daemon.handlers_unavailable')).toBe(0);
    const ids = await enqueueRecords(open, schema, 300, file, 2);
    await waitFor(async () => (await states(schema)).completed === 300, 20_000, 'the daemon to drain 300 jobs');
    const done = completions([d]);
    expect(ids.every((id) => done.get(id) === 1)).toBe(true);
    expect(done.size).toBe(300);
    const runs = notes(file).filter((n) => n.what === 'done');
    expect(runs).toHaveLength(300);
    expect(new Set(runs.map((r) => r.id)).size).toBe(300);
    const base = `http://127.0.0.1:${listening.port as number}`;
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { database: { ok: boolean }; daemons: { id: string }[]; github: unknown[] };
    expect(body.database.ok).toBe(true);
    expect(body.daemons).toHaveLength(1);
    expect(body.github).toEqual([]); // no answer from GitHub recorded yet
    // GitHub's budget per token fingerprint, as the collector records it, shows as on SQLite.
    const now = Date.now();
    await adminQuery(`INSERT INTO "${schema}".github_budget (fingerprint, resource, lim, remaining, reset_at, used, updated_at)
                      VALUES ('fp_health', 'core', 5000, 0, ${now + 3_600_000}, 5000, ${now}), ('fp_health', 'graphql', 5000, 4000, ${now + 3_600_000}, 1000, ${now})`);
    const withBudget = (await (await fetch(`${base}/health`)).json()) as { github: { fingerprint: string; affordable: number; rest: { remaining: number } }[] };
    expect(withBudget.github).toEqual([expect.objectContaining({ fingerprint: 'fp_health', affordable: 0, rest: expect.objectContaining({ remaining: 0 }) })]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^gitroast_up 1$/m);
    expect(metrics).toMatch(/^gitroast_jobs_processed_total\{queue="default",name="record"\} 300$/m);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    expect((await adminQuery(`SELECT 1 FROM "${schema}".workers`)).rowCount).toBe(0);
  });

  it('three daemons with their own --hostname drain 1,000 jobs while one is SIGKILLed and replaced every 1-3 s: every job completed exactly once, none stuck', async () => {
    const schema = schemas.name('chaos');
    const file = path.join(tempDir(), 'runs.txt');
    const handlers = writePgHandlers();
    const config = { leaseSeconds: 5 };
    const all: Spawned[] = [];
    const live: Spawned[] = [];
    let generation = 0;
    const start = (slot: number) => {
      const d = spawnDaemon(pgUrl(schema), ['--queues', 'default', '--concurrency', '8', '--hostname', `host-${slot}-${generation++}`], { GITROAST_HANDLERS: handlers, GITROAST_CONFIG: writeConfig({ ...FAST, ...config }) });
      all.push(d);
      live[slot] = d;
      return d;
    };
    await start(0).waitLog('daemon.started');
    await adminQuery(`CREATE TABLE "${schema}".completions (job_id BIGINT NOT NULL, pid INT NOT NULL)`);
    start(1);
    start(2);
    // A job whose daemon is killed spends an attempt; on a slow machine one job can be caught by
    // three kills in a row and fail for good, as it should. Here each may be caught 20 times.
    const ids = await enqueueRecords(open, schema, 1000, file, 300, 'pg-record', 20);
    let kills = 0;
    const deadline = Date.now() + 100_000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000 + Math.random() * 2000));
      if ((await states(schema, 'pg-record')).completed === 1000) break;
      const slot = kills % 3;
      live[slot]!.child.kill('SIGKILL');
      await live[slot]!.exited;
      kills++;
      start(slot);
    }
    const why = async () => JSON.stringify((await adminQuery(`SELECT id, attempts, errors FROM "${schema}".jobs WHERE name = 'pg-record' AND state <> 'completed' LIMIT 3`)).rows);
    expect(await states(schema, 'pg-record'), await why()).toEqual({ completed: 1000 });
    expect(kills).toBeGreaterThanOrEqual(3);
    // Completed exactly once each (the completions table is written only with an accepted completion) …
    const times = await completedTimes(schema);
    expect(ids.filter((id) => times.get(id) !== 1)).toEqual([]);
    expect(times.size).toBe(1000);
    // … though a job whose daemon was killed mid-run ran again; and no daemon logged one twice.
    const starts = notes(file).filter((r) => r.what === 'start');
    expect(new Set(starts.map((r) => r.id)).size).toBe(1000);
    expect(starts.length).toBeGreaterThan(1000);
    expect([...completions(all).values()].every((n) => n === 1)).toBe(true);
    const hosts = (await adminQuery<{ hostname: string }>(`SELECT hostname FROM "${schema}".workers`)).rows.map((r) => r.hostname);
    expect(hosts.length).toBeGreaterThan(0);
    expect(hosts.every((h) => /^host-\d-\d+$/.test(h))).toBe(true);
    await stopAll(live);
  }, 150_000);

  it('a daemon whose host clock is 2 minutes behind and one 2 minutes ahead neither steal a live lease nor prune each other', async () => {
    const schema = schemas.name('skew');
    const file = path.join(tempDir(), 'runs.txt');
    // Stale after 1.5 s, leases of 3 s: jobs of 4 s are extended and survive many recovery passes.
    const config = { leaseSeconds: 3 };
    const behind = startDaemon(schema, config, ['--concurrency', '4', '--hostname', 'behind'], { GITROAST_TEST_CLOCK_SKEW_MS: '-120000' });
    await behind.waitLog('daemon.started');
    const ahead = startDaemon(schema, config, ['--concurrency', '4', '--hostname', 'ahead'], { GITROAST_TEST_CLOCK_SKEW_MS: '120000' });
    await ahead.waitLog('daemon.started');
    await enqueueRecords(open, schema, 8, file, 4000);
    await waitFor(async () => (await states(schema)).completed === 8, 30_000, 'both daemons to finish 8 jobs');
    const runs = notes(file);
    expect(runs.filter((r) => r.what === 'start')).toHaveLength(8);
    expect(new Set(runs.map((r) => r.pid)).size).toBe(2);
    for (const d of [behind, ahead]) {
      expect(d.count('lease.recovered')).toBe(0);
      expect(d.count('worker.pruned')).toBe(0);
      expect(d.count('worker.reregistered')).toBe(0);
      expect(d.count('job.lease_lost')).toBe(0);
    }
    expect((await adminQuery<{ hostname: string }>(`SELECT hostname FROM "${schema}".workers ORDER BY hostname`)).rows.map((r) => r.hostname)).toEqual(['ahead', 'behind']);
    await stopAll([behind, ahead]);
  }, 60_000);

  it('three daemons at 128 slots each use a few connections (well inside max_connections = 100), and each schedule tick runs once', async () => {
    const schema = schemas.name('conns');
    const file = path.join(tempDir(), 'runs.txt');
    const ticks = path.join(tempDir(), 'ticks.txt');
    const daemons = [0, 1, 2].map((i) => startDaemon(schema, {}, ['--concurrency', '128', '--hostname', `c${i}`], { TEST_SCHEDULE_OUT: ticks }));
    for (const d of daemons) await d.waitLog('daemon.started');
    await enqueueRecords(open, schema, 1500, file, 300);
    const app = `gitroast:${schema}`;
    let most = 0;
    let samples = 0;
    await waitFor(async () => {
      const n = (await adminQuery<{ n: number }>(`SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [app])).rows[0]!.n;
      most = Math.max(most, n);
      samples++;
      return (await states(schema)).completed === 1500 ? true : undefined;
    }, 40_000, 'three daemons to drain 1,500 jobs');
    expect(samples).toBeGreaterThan(3);
    // Each daemon: its pool (at most 4) and one LISTEN connection.
    expect(most).toBeGreaterThanOrEqual(3);
    expect(most).toBeLessThanOrEqual(15);
    const max = Number((await adminQuery<{ max_connections: string }>('SHOW max_connections')).rows[0]!.max_connections);
    expect(most).toBeLessThan(max / 4);
    // Every second's tick enqueued one tick-job, whichever daemon won it.
    await waitFor(() => (fs.existsSync(ticks) && fs.readFileSync(ticks, 'utf8').trim().split('\n').length >= 3) || undefined, 10_000, 'three schedule ticks');
    const at = fs.readFileSync(ticks, 'utf8').trim().split('\n').map((l) => l.split(' ')[1]);
    expect(new Set(at).size).toBe(at.length);
    await stopAll(daemons);
  }, 90_000);

  it('an older daemon meeting a schema a newer gitroast migrated refuses with one line and exit 3, writing nothing', async () => {
    const schema = schemas.name('newer');
    const db = await schemas.open(schema);
    await closePg(db);
    await adminQuery(`INSERT INTO "${schema}".${LEDGER_TABLE} (id, applied_at) VALUES ('queue/0099', 0)`);
    const r = await runCli(['--db', pgUrl(schema), 'daemon', '--log-format', 'json']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/migrations queue\/0099, newer than this gitroast understands; upgrade gitroast/);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect((await adminQuery(`SELECT 1 FROM "${schema}".workers`)).rowCount).toBe(0);
  });
});
