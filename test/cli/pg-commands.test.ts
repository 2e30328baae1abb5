/**
 * The queue commands on PostgreSQL (issue 13): the built binary runs each command against a
 * PostgreSQL schema and against a SQLite file seeded with the same rows through the Store,
 * and their --json output and exit codes must be the same (times, uuids and the database's
 * name aside). Then the environment's refusals: a malformed URL is exit 2, an unreachable
 * server, a refused login and another application's schema are exit 3, one line each.
 */
import { describe, expect, it } from 'vitest';
import { openAppDb } from '../../src/cli/db.js';
import { createSqliteStore, type ClaimPlan, type Store, type Take } from '../../src/queue/index.js';
import { pgQueueRoom } from '../../src/queue/pg/migrations.js';
import { createPgStore } from '../../src/queue/pg/store.js';
import { pgAnalysisRoom } from '../../src/analysis/pg-migrations.js';
import { gitroast, serveHttp as serve, type CliResult } from '../support/cli.js';
import { adminQuery, pgSchemas, pgUrl } from '../support/pg.js';
import { tempDbPath } from '../support/tmp.js';

const pgs = pgSchemas('pgcli');

type AnyStore = Store<unknown>;

/** The same rows on either engine, written through the Store: jobs in every state, a failure, a batch, a paused queue, a tag, a daemon. */
/** Run one statement (`?` placeholders) on the engine's database: the analysis rows, which no Store writes. */
type Exec = (sql: string, params: unknown[]) => Promise<void>;

/** Analyses as `analyze` and `batch` leave them: one completed with a report, one of the batch pending, one failed. */
async function seedAnalyses(exec: Exec): Promise<void> {
  const t = 1_790_000_000_000;
  const insert = `INSERT INTO analyses (id, username, status, stage, overall, score_profile, score_projects, score_consistency, score_technical, score_community,
    formula_version, report, snapshot, signals, kept, created_at, updated_at, completed_at, batch_id, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
  await exec(insert, ['11111111-1111-4111-8111-111111111111', 'Octo', 'completed', 'done', 77, 10, 20, 15, 20, 12, 'v1', '{"summary":"fine","roast":"meh"}', null, null, 0, t, t, t + 5, null, 'offline']);
  await exec(insert, ['22222222-2222-4222-8222-222222222222', 'cat', 'pending', 'queued', null, null, null, null, null, null, null, null, null, null, 0, t + 10, t + 10, null, 'batch-cli-1', null]);
  await exec(insert, ['33333333-3333-4333-8333-333333333333', 'dog', 'failed', 'fetching', null, null, null, null, null, null, null, null, null, null, 1, t + 20, t + 20, t + 21, null, null]);
}

async function seed(store: AnyStore): Promise<void> {
  await store.registerWorker({ id: 'w_cli', pid: 7, hostname: 'host-cli', version: 't', queues: ['high', 'default', 'low'], concurrency: 4 });
  await store.heartbeat('w_cli', 1, 'running');
  await store.enqueueMany([
    { name: 'a', tags: ['red'] }, { name: 'a' }, { name: 'b', queue: 'high', priority: 3 }, { name: 'later', queue: 'low', delayMs: 3_600_000 },
    { name: 'f', queue: 'fq', tries: 1, tags: ['red', 'bad'], payload: { n: 1 } }, { name: 'g', queue: 'fq', tries: 1, payload: { n: 2 } },
  ]);
  await store.enqueue({ name: 'c1', queue: 'cq', chain: [{ name: 'c2' }], catch: { name: 'caught', queue: 'catches' } });
  await store.createBatch({ id: 'batch-cli-1', name: 'nightly', jobs: [{ name: 'bj', queue: 'bq' }, { name: 'bj', queue: 'bq' }], finally: { name: 'bf', queue: 'fins' } });
  const plan = (queues: string[], free: number): ClaimPlan => ({ free, workerId: 'w_cli', leaseMs: 60_000, plan: (take: Take) => take(queues, free).jobs });
  // Batches list newest first; two of one millisecond tie, and the engines break ties differently (SQLite by rowid).
  await new Promise((resolve) => setTimeout(resolve, 5));
  await store.createBatch({ id: 'batch-cli-2', name: 'retry me', allowFailures: true, jobs: [{ name: 'bk', queue: 'bq2', tries: 1 }] });
  // Three failures (fq, bq2), one completion and one job left running (high, default).
  const fq = (await store.commit({ claim: plan(['fq', 'bq2'], 3) })).claimed;
  await store.commit({ settlements: fq.map((lease) => ({ kind: 'fail' as const, lease, error: { message: `broke ${lease.name}`, stack: 'Error: broke\n    at seed' } })) });
  const [b, a] = (await store.commit({ claim: plan(['high', 'default'], 2) })).claimed;
  await store.commit({ completions: [{ lease: b! }] });
  void a; // stays reserved
  await store.pauseQueue('low');
  await store.monitorTag('red');
}

/** Blank what differs between two databases holding the same rows: times, uuids, the database's name. */
const TIMEY = /(^|[a-z])(at|At|ms|Ms|runtime\w*|wait\w*|Wait\w*)$/;
function normal(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return v.map((x) => normal(x));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normal(x, k)]));
  if ((typeof v === 'number' || (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v))) && TIMEY.test(key)) return 'time';
  if (typeof v === 'string' && /^(uuid|path|monitoredSince)$/.test(key)) return 's';
  return v;
}

interface Engines {
  sqlite: string;
  postgres: string;
}

async function both(dbs: Engines, args: string[]): Promise<{ sqlite: CliResult; postgres: CliResult }> {
  const [sqlite, postgres] = await Promise.all([gitroast(['--db', dbs.sqlite, ...args]), gitroast(['--db', dbs.postgres, ...args])]);
  return { sqlite, postgres };
}

/** Run `args` on both engines and expect the same exit code and the same normalised JSON; returns the PostgreSQL output. */
async function same(dbs: Engines, args: string[], code = 0): Promise<unknown> {
  const r = await both(dbs, args);
  expect(r.postgres.code, `postgres ${args.join(' ')}: ${r.postgres.stderr}`).toBe(code);
  expect(r.sqlite.code, `sqlite ${args.join(' ')}: ${r.sqlite.stderr}`).toBe(code);
  const parsed = { sqlite: JSON.parse(r.sqlite.stdout) as unknown, postgres: JSON.parse(r.postgres.stdout) as unknown };
  expect(normal(parsed.postgres), args.join(' ')).toEqual(normal(parsed.sqlite));
  return parsed.postgres;
}

async function engines(): Promise<Engines> {
  const file = tempDbPath();
  const lite = openAppDb(file);
  await seed(createSqliteStore(lite) as AnyStore);
  await seedAnalyses(async (sql, params) => void lite.prepare(sql).run(...params));
  lite.close();
  const schema = pgs.name();
  const pgdb = await pgs.open(schema, { rooms: [pgQueueRoom, pgAnalysisRoom] });
  await seed(createPgStore(pgdb) as AnyStore);
  await seedAnalyses(async (sql, params) => {
    let n = 0;
    await pgdb.pool.query(sql.replace(/\?/g, () => `$${++n}`), params);
  });
  return { sqlite: file, postgres: pgUrl(schema) };
}

// Each test spawns the built CLI a dozen times or more on each engine: the suite's 30 s is too short on a loaded machine.
describe('the queue commands on PostgreSQL give what they give on SQLite', { timeout: 120_000 }, () => {
  it('status, queue list, failed list/show, batches, tags list and schedule list: the same --json', async () => {
    const dbs = await engines();
    const status = (await same(dbs, ['status', '--json'])) as { database: { path: string; schemaVersion: number }; queues: { queue: string; pending: number; reserved: number; failed: number; paused: boolean }[]; daemons: { id: string }[] };
    expect(status.database.path).toBe(`${dbs.postgres} (schema ${new URL(dbs.postgres).searchParams.get('schema')})`);
    expect(status.queues.map((q) => [q.queue, q.pending, q.reserved, q.failed, q.paused])).toEqual([
      ['high', 0, 0, 0, false], ['default', 1, 1, 0, false], ['low', 0, 0, 0, true], ['bq', 2, 0, 0, false], ['bq2', 0, 0, 1, false], ['cq', 1, 0, 0, false], ['fq', 0, 0, 2, false],
    ]);
    expect(status.daemons.map((d) => d.id)).toEqual(['w_cli']);
    await same(dbs, ['queue', 'list', '--json']);
    const failed = (await same(dbs, ['failed', 'list', '--json'])) as { uuid: string; name: string }[];
    expect(failed.map((f) => f.name).sort()).toEqual(['bk', 'f', 'g']);
    await same(dbs, ['failed', 'list', '--json', '--tag', 'bad']);
    await same(dbs, ['failed', 'list', '--json', '--name', 'g', '--limit', '1']);
    const r = await gitroast(['--db', dbs.postgres, 'failed', 'show', failed[0]!.uuid, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ uuid: failed[0]!.uuid, stack: 'Error: broke\n    at seed' });
    const missing = await both(dbs, ['failed', 'show', '00000000-0000-4000-8000-000000000000']);
    expect([missing.sqlite.code, missing.postgres.code]).toEqual([1, 1]);
    expect(missing.postgres.stderr).toBe(missing.sqlite.stderr);
    await same(dbs, ['batches', '--json']);
    await same(dbs, ['batches', 'show', 'batch-cli-1', '--json']);
    await same(dbs, ['tags', 'list', '--json']);
    await same(dbs, ['schedule', 'list', '--json']);
    // The analysis room's reads.
    const listed = (await same(dbs, ['list', '--json'])) as { username: string }[];
    expect(listed.map((a) => a.username)).toEqual(['dog', 'cat', 'Octo']);
    await same(dbs, ['list', '--json', '--status', 'failed', '--limit', '1']);
    expect(JSON.stringify(await same(dbs, ['show', '11111111-1111-4111-8111-111111111111', '--json']))).toMatch(/"username":"Octo".*77/);
    await same(dbs, ['show', 'octo', '--json']);
    const text = await both(dbs, ['show', 'octo', '--markdown']);
    expect(text.postgres.stdout).toBe(text.sqlite.stdout);
    const none = await both(dbs, ['show', 'nobody']);
    expect([none.sqlite.code, none.postgres.code]).toEqual([1, 1]);
    expect(none.postgres.stderr).toBe(none.sqlite.stderr);
    const kept = await both(dbs, ['keep', '11111111-1111-4111-8111-111111111111']);
    expect([kept.sqlite.code, kept.postgres.code]).toEqual([0, 0]);
    expect(((await same(dbs, ['show', 'octo', '--json'])) as { kept: boolean }).kept).toBe(true);
  });

  it('queue pause/continue/clear, jobs cancel, failed retry/forget/flush, tags monitor/unmonitor and batches cancel change both alike', async () => {
    const dbs = await engines();
    for (const args of [['queue', 'pause', 'fq'], ['queue', 'continue', 'low'], ['tags', 'monitor', 'blue'], ['tags', 'unmonitor', 'red'], ['tags', 'unmonitor', 'nope']]) {
      const r = await both(dbs, args);
      expect([r.sqlite.code, r.postgres.code], args.join(' ')).toEqual([0, 0]);
      expect(r.postgres.stderr).toBe(r.sqlite.stderr);
    }
    await same(dbs, ['queue', 'list', '--json']);
    await same(dbs, ['tags', 'list', '--json']);
    // The chain's first link is cancelled: its catch job is queued.
    const cancelled = (await same(dbs, ['queue', 'clear', 'cq', '--yes', '--json'])) as { cancelled: number; catches: number };
    expect(cancelled).toEqual({ queue: 'cq', cancelled: 1, catches: 1 });
    await same(dbs, ['jobs', 'cancel', '1', '2', '--yes', '--json'], 1);
    // The batch's pending analysis (no job of its left) is failed with it.
    expect(await same(dbs, ['batches', 'cancel', 'batch-cli-1', '--json'])).toEqual({ batchId: 'batch-cli-1', cancelledJobs: 2, failedAnalyses: 1 });
    const retried = (await same(dbs, ['batches', 'retry', 'batch-cli-2', '--json'])) as { retried: unknown[]; reopened: number };
    expect(retried).toMatchObject({ batchId: 'batch-cli-2', reopened: 0 });
    expect(retried.retried).toHaveLength(1);
    await same(dbs, ['batches', 'show', 'batch-cli-2', '--json']);
    await same(dbs, ['batches', 'show', 'batch-cli-1', '--json']);
    await same(dbs, ['failed', 'retry', '--name', 'f', '--json']);
    await same(dbs, ['failed', 'forget', 'all', '--json']);
    await same(dbs, ['failed', 'flush', '--hours', '0', '--json']);
    const status = (await same(dbs, ['status', '--json'])) as { queues: { queue: string; pending: number; failed: number; paused: boolean }[] };
    expect(status.queues.find((q) => q.queue === 'fq')).toMatchObject({ pending: 1, failed: 0, paused: true });
    expect(status.queues.find((q) => q.queue === 'catches')).toMatchObject({ pending: 1 });
    // The cancelled batch's jobs are gone from bq, and its finally job waits.
    expect(status.queues.find((q) => q.queue === 'bq')?.pending ?? 0).toBe(0);
    expect(status.queues.find((q) => q.queue === 'fins')).toMatchObject({ pending: 1 });
  });

  it('monitor --once draws the same overview frame on both engines', async () => {
    const dbs = await engines();
    const r = await both(dbs, ['monitor', '--once']);
    expect([r.sqlite.code, r.postgres.code], r.postgres.stderr).toEqual([0, 0]);
    // Times and durations blanked, columns collapsed; events of one millisecond may tie in either order, so they compare as a set.
    const frame = (out: string) => {
      const lines = out.replace(/\d\d:\d\d:\d\d( UTC)?/g, 'HH:MM:SS$1').replace(/\b\d+(\.\d+)?(ms|s|m|h)\b( \d+s)?/g, 'T').split('\n').map((l) => l.replace(/ +/g, ' '));
      const at = lines.indexOf('Latest job events');
      return { head: lines.slice(0, at), events: lines.slice(at).sort() };
    };
    expect(frame(r.postgres.stdout)).toEqual(frame(r.sqlite.stdout));
    expect(r.postgres.stdout).toMatch(/ACTIVE · 1 daemon · 1\/4 busy/);
    expect(r.postgres.stdout).toMatch(/^fq +0 +0 +0 +2 /m);
  });

  it('dashboard serves every screen from PostgreSQL as from SQLite, acts on it, and answers /health', async () => {
    const dbs = await engines();
    const servers = await Promise.all([serve(dbs.sqlite), serve(dbs.postgres)]);
    try {
      const [lite, pg] = servers;
      for (const path of ['/', '/jobs', '/jobs?tab=failed', '/failed', '/queues', '/charts', '/charts?kind=queue&key=fq', '/workers', '/batches', '/batches/batch-cli-1', '/batches/nope', '/jobs/1', '/jobs/999',
        '/analyses', '/analyses/11111111-1111-4111-8111-111111111111', '/analyses/33333333-3333-4333-8333-333333333333']) {
        const [a, b] = await Promise.all([fetch(lite!.base + path), fetch(pg!.base + path)]);
        expect(b.status, `${path} on PostgreSQL`).toBe(a.status);
        const [ta, tb] = [await a.text(), await b.text()];
        // The same page but for times: the text of its table cells and headings (rows of one millisecond may tie in either order).
        const cells = (html: string) => [...html.matchAll(/<(td|th|h1|h2)[^>]*>([^<]*)</g)].map((m) => m[2]!.trim()).filter((t) => !/\d+(ms|s|m|h)\b|ago|UTC|^\d{4}-|^\d+(\.\d+)?$/.test(t)).sort();
        expect(cells(tb), path).toEqual(cells(ta));
        expect(cells(tb).length, path).toBeGreaterThan(0);
      }
      expect(await (await fetch(`${pg!.base}/failed`)).text()).toContain('broke f');
      const act = await fetch(`${pg!.base}/actions/pause`, { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' }, body: 'queue=default' });
      expect(await act.json()).toEqual({ ok: true, message: 'queue default paused' });
      const status = JSON.parse((await gitroast(['--db', dbs.postgres, 'status', '--json'])).stdout) as { queues: { queue: string; paused: boolean }[] };
      expect(status.queues.find((q) => q.queue === 'default')!.paused).toBe(true);
      const health = await fetch(`${pg!.base}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok', mode: 'dashboard', database: { ok: true, schemaVersion: 12 } });
      // The analyses screens too (test/cli/analyses-screens.test.tsx draws full reports on both engines).
      expect(await (await fetch(`${pg!.base}/analyses`)).text()).toMatch(/>dog<.*>cat<.*>Octo</s);
    } finally {
      for (const s of servers) s.child.kill('SIGTERM');
      await Promise.all(servers.map((s) => s.exited));
    }
  });

  it('daemon --http on PostgreSQL serves the dashboard next to /health', async () => {
    const dbs = await engines();
    const daemon = await serve(dbs.postgres, ['daemon', '--log-format', 'json', '--queues', 'nothing-here']);
    try {
      const page = await fetch(`${daemon.base}/failed`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('broke f');
      expect((await fetch(`${daemon.base}/health`)).status).toBe(200);
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    }
  });

  it('doctor on PostgreSQL: the server, schema version, stale daemons, stuck leases and connection headroom; read-only', async () => {
    const dbs = await engines();
    const schema = new URL(dbs.postgres).searchParams.get('schema')!;
    const ok = await gitroast(['--db', dbs.postgres, 'doctor', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const report = JSON.parse(ok.stdout) as { database: string; ok: boolean; checks: { check: string; ok: boolean; data?: { max: number; reserved: number; used: number; free: number } }[] };
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.check)).toEqual(['server', 'schema', 'workers', 'leases', 'connections']);
    const conn = report.checks.find((c) => c.check === 'connections')!.data!;
    expect(conn.max).toBeGreaterThan(0);
    expect(conn.free).toBe(conn.max - conn.reserved - conn.used);
    // The daemon stops heartbeating (on the database's clock): its reserved job is stuck.
    await adminQuery(`UPDATE "${schema}".workers SET heartbeat_at = heartbeat_at - 600000`);
    const bad = await gitroast(['--db', dbs.postgres, 'doctor']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/ATTENTION +workers +1 daemon stopped heartbeating: w_cli \(pid 7 on host-cli/);
    expect(bad.stdout).toMatch(/ATTENTION +leases +1 reserved job held by no live daemon: \d+ a \(worker stale\)/);
    expect(bad.stderr).toBe('gitroast: 2 checks need attention: workers, leases\n');
    // A schema nobody migrated yet: reported, and left uncreated.
    const fresh = pgs.name('doctor');
    const r = await gitroast(['--db', pgUrl(fresh), 'doctor', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).checks.find((c: { check: string }) => c.check === 'schema')).toMatchObject({ ok: false, data: { version: 0 } });
    expect((await adminQuery(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1`, [fresh])).rows[0]).toEqual({ n: 0 });
    const down = await gitroast(['--db', 'postgres://root@127.0.0.1:1/postgres', 'doctor']);
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/^gitroast: cannot reach PostgreSQL at postgres:\/\/root@127\.0\.0\.1:1\/postgres.*\n$/);
  });

  it('backup on PostgreSQL says to use pg_dump: one line, exit 2, nothing written', async () => {
    const schema = pgs.name('backup');
    const r = await gitroast(['--db', pgUrl(schema), 'backup', '/tmp/never-written-by-gitroast.db']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is PostgreSQL: back it up with pg_dump/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect((await adminQuery(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1`, [schema])).rows[0]).toEqual({ n: 0 });
  });

  it('a malformed URL is exit 2; an unreachable server, a refused login and another application\'s schema are exit 3, one line each, nothing written', async () => {
    const foreign = pgs.name('other');
    await adminQuery(`CREATE SCHEMA "${foreign}"; CREATE TABLE "${foreign}".invoices (id int)`);
    // Trust auth accepts any password, so a wrong password cannot be shown here; an unknown role is refused at login the same way.
    const cases: [string, number, RegExp][] = [
      ['postgres://root@127.0.0.1:5432', 2, /invalid --db .*names no database/],
      ['postgresql://root@127.0.0.1:99999/postgres', 2, /invalid --db .*(port|not a URL)/],
      ['postgres://root@127.0.0.1:1/postgres', 3, /cannot reach PostgreSQL at postgres:\/\/root@127\.0\.0\.1:1\/postgres/],
      ['postgres://no_such_role_pgcli:secret@127.0.0.1:5432/postgres', 3, /refused the login: role "no_such_role_pgcli" does not exist/],
      [pgUrl(foreign), 3, /holds another application's tables \(invoices\)/],
    ];
    for (const args of [['status', '--json'], ['failed', 'list'], ['queue', 'pause', 'default'], ['batches'], ['tags', 'monitor', 'x'], ['schedule', 'list']]) {
      for (const [url, code, re] of cases) {
        const r = await gitroast(['--db', url, ...args]);
        expect(r.code, `${args.join(' ')} on ${url}: ${r.stderr}`).toBe(code);
        expect(r.stderr).toMatch(re);
        expect(r.stderr).not.toContain('secret');
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stdout).toBe('');
      }
    }
    const env = await gitroast(['status'], { env: { GITROAST_DB: 'postgres://root@127.0.0.1:1/postgres' } });
    expect(env.code).toBe(3);
    expect((await adminQuery(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1`, [foreign])).rows[0]).toEqual({ n: 1 });
  });
});
