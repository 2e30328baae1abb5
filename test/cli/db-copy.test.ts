import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { APP_ROOMS, openAppDb } from '../../src/cli/db.js';
import {
  claim, complete, createBatch, enqueue, enqueueMany, fail, monitorTag, pauseQueue, registerWorker, release, setSetting, snapshotMetrics, cancelJobs, type Db,
} from '../../src/queue/index.js';
import { gitroast } from '../support/cli.js';
import { adminQuery, pgSchemas, pgUrl } from '../support/pg.js';
import { BIN, ROOT, tempDbPath, tempDir } from '../support/tmp.js';

const pgs = pgSchemas('dbcopy');

/** A SQLite app database holding every kind of row gitroast writes. */
function fixture(file: string): void {
  const db: Db = openAppDb(file);
  const now = Date.now();
  enqueueMany(db, Array.from({ length: 2500 }, (_, i) => ({ name: 'bulk', payload: { i, text: 'ünïcødé "q" \n' }, tags: i % 10 === 0 ? ['user:1', 'bulk'] : undefined })));
  enqueue(db, { name: 'later', delayMs: 3_600_000, uniqueKey: 'u1', tries: 5, backoff: [1, 10], retryForMs: 86_400_000, timeoutMs: 30_000 });
  enqueue(db, { name: 'chain', chain: [{ name: 'next' }], catch: { name: 'oops' }, queue: 'high', priority: 7 });
  createBatch(db, { id: 'batch-1', name: 'b', jobs: [{ name: 'bj', tries: 1 }, { name: 'bj' }], catch: { name: 'bc' }, finally: { name: 'bf' } });
  const [a, b, c, d] = claim(db, { workerId: 'w_x', queues: ['high', 'default'], limit: 4 });
  complete(db, a!);
  release(db, b!, { message: 'retry me' });
  fail(db, c!, { message: 'gone', stack: 'Error: gone\n  at x' });
  void d; // stays reserved
  cancelJobs(db, [100]);
  pauseQueue(db, 'low');
  setSetting(db, 'daemons.paused', '1');
  monitorTag(db, 'user:1');
  snapshotMetrics(db, 300_000, now);
  registerWorker(db, { id: 'w_x', pid: 1, hostname: 'h', version: 't', queues: ['default'], concurrency: 1 });
  db.prepare(`INSERT INTO throttles (key, max, per_ms, window_start, count) VALUES ('queue:default', 5, 60000, ?, 2)`).run(now - (now % 60000));
  db.prepare(`INSERT INTO analyses (id, username, status, stage, overall, report, snapshot, signals, kept, created_at, updated_at, completed_at, batch_id, model)
              VALUES ('an1', 'Octo', 'completed', 'done', 77, '{"r":1}', '{}', '[]', 1, ?, ?, ?, 'batch-1', 'gpt')`).run(now, now, now);
  db.prepare(`INSERT INTO analyses (id, username, created_at, updated_at) VALUES ('an2', 'cat', ?, ?)`).run(now, now);
  db.prepare(`INSERT INTO http_cache (key, etag, body, fetched_at) VALUES ('k', 'W/"e"', '{"big":true}', ?)`).run(now);
  db.close();
}

/** Every copied table's rows, sorted, as JSON lines: what "equal" means for a copy. */
function contents(file: string): Record<string, string[]> {
  const db = new Database(file, { readonly: true });
  const out: Record<string, string[]> = {};
  for (const { name } of db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('workers', 'gitroast_migrations') ORDER BY name`).all() as { name: string }[]) {
    out[name] = (db.prepare(`SELECT * FROM "${name}"`).raw(true).all() as unknown[][]).map((r) => JSON.stringify(r)).sort();
  }
  db.close();
  return out;
}

function sha(file: string): string {
  return fs.readFileSync(file).toString('base64');
}

describe('gitroast db copy', () => {
  it('copies SQLite → PostgreSQL → a new SQLite file with every row equal, ids kept, the source unchanged', async () => {
    const src = tempDbPath();
    fixture(src);
    const before = sha(src);
    const schema = pgs.name('copy');
    const toPg = await gitroast(['--db', src, 'db', 'copy', '--to', pgUrl(schema)]);
    expect(toPg.stderr).toContain('copy: jobs');
    expect(toPg.code, toPg.stderr).toBe(0);
    expect(toPg.stdout).toMatch(/copied [\d,]+ rows .* counts verified/);
    expect(sha(src)).toBe(before);

    // Sequences continue after the copied ids; workers are not copied.
    const max = (await adminQuery<{ m: number }>(`SELECT max(id)::int AS m FROM "${schema}".jobs`)).rows[0]!.m;
    const next = (await adminQuery<{ id: number }>(`INSERT INTO "${schema}".jobs (queue, name, payload, state, available_at, created_at) VALUES ('default', 'n', '{}', 'pending', 0, 0) RETURNING id::int`)).rows[0]!.id;
    expect(next).toBe(max + 1);
    await adminQuery(`DELETE FROM "${schema}".jobs WHERE id = $1`, [next]);
    expect((await adminQuery(`SELECT * FROM "${schema}".workers`)).rowCount).toBe(0);

    const back = path.join(tempDir(), 'back.db');
    const toLite = await gitroast(['--db', pgUrl(schema), 'db', 'copy', '--to', back]);
    expect(toLite.code, toLite.stderr).toBe(0);
    const a = contents(src);
    const b = contents(back);
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const t of Object.keys(a)) expect(b[t], t).toEqual(a[t]);
    expect(a.jobs!.length).toBeGreaterThan(2500);
    expect(a.job_tags!.length).toBe(500);
    expect(a.failed_jobs!.length).toBe(1);

    // Same answers from the commands on both files (status without its path, its oldest-wait
    // figures, which move with the clock between the two runs, and its daemons: worker
    // registrations are not copied, by design).
    for (const args of [['list', '--json'], ['failed', 'list', '--json'], ['batches', 'list', '--json'], ['batches', 'show', 'batch-1', '--json'], ['status', '--json']]) {
      const [x, y] = await Promise.all([gitroast(['--db', src, ...args]), gitroast(['--db', back, ...args])]);
      expect(x.code, x.stderr).toBe(0);
      expect(y.code, y.stderr).toBe(0);
      const norm = (out: string) => JSON.stringify(JSON.parse(out, (k, v) => (k === 'path' || k === 'oldestWaitMs' || k === 'daemons' ? undefined : v)));
      expect(norm(y.stdout), args.join(' ')).toBe(norm(x.stdout));
    }
  });

  it('refuses a target that is not empty, writing nothing', async () => {
    const src = tempDbPath();
    fixture(src);
    const used = pgs.name('used');
    expect((await gitroast(['--db', src, 'db', 'copy', '--to', pgUrl(used)])).code).toBe(0);
    const count = async () => (await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${used}".jobs`)).rows[0]!.n;
    const n = await count();
    const again = await gitroast(['--db', src, 'db', 'copy', '--to', pgUrl(used)]);
    expect(again.code).toBe(3);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/is not empty: it holds a gitroast database.*nothing was written/);
    expect(await count()).toBe(n);

    const foreign = pgs.name('foreign');
    await adminQuery(`CREATE SCHEMA "${foreign}"; CREATE TABLE "${foreign}".orders (id int)`);
    const f = await gitroast(['--db', src, 'db', 'copy', '--to', pgUrl(foreign)]);
    expect(f.code).toBe(3);
    expect(f.stderr).toMatch(/another application's tables \(orders\)/);
    expect((await adminQuery(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [foreign])).rows).toEqual([{ table_name: 'orders' }]);

    const existing = tempDbPath();
    fixture(existing);
    const bytes = sha(existing);
    const e = await gitroast(['--db', pgUrl(used), 'db', 'copy', '--to', existing]);
    expect(e.code).toBe(3);
    expect(e.stderr).toMatch(/already exists and is not empty/);
    expect(sha(existing)).toBe(bytes);
    expect(fs.readdirSync(path.dirname(existing)).filter((x) => x.includes('.copy-'))).toEqual([]);

    const bad = await gitroast(['--db', src, 'db', 'copy', '--to', 'postgres://root@127.0.0.1:5432/postgres?schema=Not-OK']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid --to .*schema "Not-OK"/);
  });
});

describe('selecting PostgreSQL', () => {
  it('a malformed URL is exit 2; an unreachable server, an unknown role, another application\'s schema and a newer schema are exit 3, one line each', async () => {
    const cases: [string, number, RegExp][] = [
      ['postgres://root@127.0.0.1:5432', 2, /invalid --db .*names no database/],
      ['postgresql://root@127.0.0.1:99999/postgres', 2, /invalid --db .*(port|not a URL)/],
      ['postgres://root@127.0.0.1:1/postgres', 3, /cannot reach PostgreSQL at postgres:\/\/root@127\.0\.0\.1:1\/postgres/],
      ['postgres://no_such_role_h12:secret@127.0.0.1:5432/postgres', 3, /refused the login: role "no_such_role_h12" does not exist/],
    ];
    for (const [url, code, re] of cases) {
      const r = await gitroast(['--db', url, 'db', 'migrate']);
      expect(r.code, `${url}: ${r.stderr}`).toBe(code);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toContain('secret');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const foreign = pgs.name('other');
    await adminQuery(`CREATE SCHEMA "${foreign}"; CREATE TABLE "${foreign}".invoices (id int)`);
    const f = await gitroast(['--db', pgUrl(foreign), 'db', 'migrate']);
    expect(f.code).toBe(3);
    expect(f.stderr).toMatch(/holds another application's tables \(invoices\)/);
    expect((await adminQuery(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1`, [foreign])).rows[0]).toEqual({ n: 1 });

    const newer = pgs.name('newer');
    const m = await gitroast(['--db', pgUrl(newer), 'db', 'migrate']);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toContain(`schema current (${APP_ROOMS.reduce((n, r) => n + r.migrations.length, 0)} migrations)`);
    await adminQuery(`INSERT INTO "${newer}".gitroast_migrations (id, applied_at) VALUES ('queue/0099', 0)`);
    const n = await gitroast(['db', 'migrate'], { env: { GITROAST_DB: pgUrl(newer) } });
    expect(n.code).toBe(3);
    expect(n.stderr).toMatch(/has migrations queue\/0099, newer than this gitroast understands; upgrade gitroast/);
  });

  it('a SQLite command never loads the pg driver; a postgres URL does', () => {
    const file = tempDbPath();
    const script = (args: string[]) => `
      import { createRequire } from 'node:module';
      const { main } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli', 'main.js'))});
      const code = await main(['node', 'gitroast', ...${JSON.stringify(args)}]);
      const req = createRequire(import.meta.url);
      const pg = Object.keys(req.cache).filter((k) => k.includes('/node_modules/pg/'));
      process.stdout.write('\\nRESULT ' + JSON.stringify({ code, pg: pg.length }));`;
    const run = (args: string[]) => {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(args)], { encoding: 'utf8', env: { ...process.env, GITROAST_DB: '' } });
      return JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('RESULT ') + 7)) as { code: number; pg: number };
    };
    expect(fs.existsSync(BIN)).toBe(true);
    expect(run(['--db', file, 'status'])).toEqual({ code: 0, pg: 0 });
    const schema = pgs.name('lazy');
    const withPg = run(['--db', pgUrl(schema), 'db', 'migrate']);
    expect(withPg.code).toBe(0);
    expect(withPg.pg).toBeGreaterThan(0);
  });
});
