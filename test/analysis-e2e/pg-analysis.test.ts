/**
 * The analysis room on PostgreSQL, through the built binary against the loopback GitHub fake
 * and the offline writer, a real schema per test: `analyze --detach` drained by a PostgreSQL
 * daemon gives the same `show --json` as on SQLite; `batch --detach` drained by one; `analyze`
 * without --detach runs its own worker on the PostgreSQL store; exit codes as on SQLite.
 */
import { describe, expect, it } from 'vitest';
import { newbie, strongDev } from '../fakes/github.js';
import { spawnDaemon, writeConfig, FAST } from '../daemon/support.js';
import { adminQuery, pgSchemas, pgUrl } from '../support/pg.js';
import { waitFor } from '../support/tmp.js';
import { jsonLines, world, type World } from './helpers.js';

const schemas = pgSchemas('pga');

/** Run gitroast on a PostgreSQL schema with the world's fakes (its run() with --db replaced). */
function onPg(w: World, schema: string): World['run'] {
  return (args, extra = {}) => w.run(['--db', pgUrl(schema), ...args], extra);
}

/** Ids and times differ between two runs: replace them with their kind. */
function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalise);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, /(^id$|Id$|At$|^fetchedAt|ms$|Ms$)/.test(k) && v !== null ? `<${k}>` : normalise(v)]));
  }
  return value;
}

const daemonEnv = (w: World) => ({ GITROAST_GITHUB_API_URL: w.gh.url, GITHUB_TOKEN: '', OPENAI_API_KEY: '', GITROAST_HANDLERS: '', GITROAST_CONFIG: writeConfig(FAST) });

describe('analyses on PostgreSQL', () => {
  it('analyze --detach, then a PostgreSQL daemon completes it: show --json equals the SQLite run (times and ids normalised)', async () => {
    const w = await world([strongDev(Date.now())]);
    const schema = schemas.name('detach');
    const runs: Record<string, unknown>[] = [];
    for (const [db, run] of [[w.db, w.run], [pgUrl(schema), onPg(w, schema)]] as const) {
      const queued = await run(['analyze', 'adadev', '--detach', '--json']);
      expect(queued.code, queued.stderr).toBe(0);
      expect(jsonLines(queued.stdout)[0]).toMatchObject({ username: 'adadev', status: 'pending' });
      const daemon = spawnDaemon(db, ['--concurrency', '4'], daemonEnv(w));
      await daemon.waitLog('job.completed', (l) => l.name === 'notify', 20_000);
      expect(daemon.count('daemon.handlers_unavailable')).toBe(0);
      daemon.child.kill('SIGTERM');
      expect(await daemon.exited).toBe(0);
      const shown = await run(['show', 'adadev', '--json']);
      expect(shown.code, shown.stderr).toBe(0);
      runs.push(JSON.parse(shown.stdout) as Record<string, unknown>);
    }
    const [sqlite, pg] = runs;
    expect(pg).toMatchObject({ username: 'AdaDev', status: 'completed' });
    expect(normalise(pg)).toEqual(normalise(sqlite));
    // A second analyze returns the fresh one on both engines (exit 0, not created).
    const again = await onPg(w, schema)(['analyze', 'adadev', '--detach', '--json']);
    expect(again.code).toBe(0);
    expect(jsonLines(again.stdout)[0]).toMatchObject({ id: (pg as { id: string }).id, status: 'completed' });
    expect((await adminQuery<{ n: number }>(`SELECT COUNT(*)::int AS n FROM "${schema}".analyses`)).rows[0]!.n).toBe(1);
    // No token reached the database: the cache keys name the anonymous identity.
    const keys = (await adminQuery<{ key: string }>(`SELECT key FROM "${schema}".http_cache`)).rows.map((r) => r.key);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k).toMatch(/^anon /);
  }, 90_000);

  it('batch --detach of a few logins, drained by a PostgreSQL daemon: batches show lists them completed (an unknown login failed)', async () => {
    const now = Date.now();
    const w = await world([strongDev(now), { ...newbie(now), login: 'newbie1' }, { ...newbie(now), login: 'newbie2' }]);
    const schema = schemas.name('batch');
    const run = onPg(w, schema);
    const r = await run(['batch', '-', '--detach', '--name', 'pg few'], { input: 'adadev\nnewbie1\nnewbie2\nno-such-user-x\n' });
    expect(r.code, r.stderr).toBe(0);
    const batchId = r.stdout.trim();
    expect(batchId).toMatch(/^[0-9a-f-]{36}$/);
    const daemon = spawnDaemon(pgUrl(schema), ['--concurrency', '8'], daemonEnv(w));
    await waitFor(async () => (await adminQuery<{ n: number }>(`SELECT COUNT(*)::int AS n FROM "${schema}".analyses WHERE status IN ('completed', 'failed')`)).rows[0]!.n === 4, 30_000, 'the batch drained');
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    const shown = await run(['batches', 'show', batchId, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    const b = JSON.parse(shown.stdout) as { name: string; analyses: { username: string; status: string }[] };
    expect(b.name).toBe('pg few');
    expect(Object.fromEntries(b.analyses.map((a) => [a.username.toLowerCase(), a.status]))).toEqual({ adadev: 'completed', newbie1: 'completed', newbie2: 'completed', 'no-such-user-x': 'failed' });
  }, 90_000);

  it('analyze without --detach runs its own worker on the PostgreSQL store when no daemon is alive; an unknown login exits 1 as on SQLite', async () => {
    const w = await world([strongDev(Date.now())]);
    const schema = schemas.name('inline');
    const run = onPg(w, schema);
    const r = await run(['analyze', 'adadev', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ username: 'AdaDev', status: 'completed', overallScore: expect.any(Number) });
    const sqliteMissing = await w.run(['analyze', 'no-such-user-x', '--json']);
    const pgMissing = await run(['analyze', 'no-such-user-x', '--json']);
    expect(sqliteMissing.code).toBe(1);
    expect(pgMissing.code).toBe(1);
    expect(normalise(jsonLines(pgMissing.stdout))).toEqual(normalise(jsonLines(sqliteMissing.stdout)));
    // A bad login: exit 2, nothing written, on PostgreSQL too.
    const bad = await run(['analyze', '-bad-', '--detach']);
    expect(bad.code).toBe(2);
    expect((await adminQuery<{ n: number }>(`SELECT COUNT(*)::int AS n FROM "${schema}".analyses`)).rows[0]!.n).toBe(2);
  }, 90_000);
});
