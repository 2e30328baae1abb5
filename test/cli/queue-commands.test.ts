import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LEDGER_TABLE, claim, enqueue, fail, migrationsOf, openDatabase, registerWorker } from '../../src/queue/index.js';
import { APP_ROOMS } from '../../src/cli/db.js';
import { gitroast } from '../support/cli.js';
import { tempDbPath, tempDir } from '../support/tmp.js';

function seedFailed(file: string): string[] {
  const db = openDatabase(file, { rooms: APP_ROOMS });
  enqueue(db, { name: 'fetch-github', tags: ['analysis', 'username:octocat'], payload: { login: 'octocat' } });
  enqueue(db, { name: 'notify', queue: 'low', payload: { to: 'x' } });
  enqueue(db, { name: 'fetch-github', queue: 'high', payload: { login: 'b' } });
  for (let i = 0; i < 3; i++) {
    const [job] = claim(db, { workerId: 'w_seed', queues: ['high', 'default', 'low'] });
    fail(db, job!, { message: `boom \u001b[31m${i}\u001b[0m`, stack: 'Error: boom\n    at seed' });
  }
  const uuids = (db.prepare('SELECT uuid FROM failed_jobs ORDER BY id').all() as { uuid: string }[]).map((r) => r.uuid);
  db.close();
  return uuids;
}

describe('gitroast status, queue and failed through the built binary', () => {
  it('status --json reports the database, the three configured queues and live daemons', async () => {
    const file = tempDbPath();
    const db = openDatabase(file, { rooms: APP_ROOMS });
    enqueue(db, { name: 'a' });
    enqueue(db, { name: 'a', delayMs: 60_000 });
    registerWorker(db, { id: 'w_alive', pid: 42, hostname: 'h', version: 't', queues: ['default'], concurrency: 10 });
    db.close();
    const r = await gitroast(['--db', file, 'status', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.database).toEqual({ path: file, schemaVersion: migrationsOf(APP_ROOMS).length });
    expect(s.queues.map((q: { queue: string }) => q.queue)).toEqual(['high', 'default', 'low']);
    expect(s.queues[1]).toMatchObject({ pending: 1, delayed: 1, reserved: 0, completed: 0, failed: 0, paused: false });
    expect(s.daemons).toEqual([expect.objectContaining({ id: 'w_alive', pid: 42, concurrency: 10 })]);
  });

  it('uses GITROAST_DB, then XDG_DATA_HOME, for the database path', async () => {
    const dir = tempDir();
    const viaEnv = await gitroast(['status', '--json'], { env: { GITROAST_DB: path.join(dir, 'env.db') } });
    expect(JSON.parse(viaEnv.stdout).database.path).toBe(path.join(dir, 'env.db'));
    const viaXdg = await gitroast(['status', '--json'], { env: { GITROAST_DB: '', XDG_DATA_HOME: dir } });
    expect(JSON.parse(viaXdg.stdout).database.path).toBe(path.join(dir, 'gitroast', 'gitroast.db'));
    expect(fs.statSync(path.join(dir, 'gitroast', 'gitroast.db')).mode & 0o777).toBe(0o600);
  });

  it('queue pause remembers a queue with no jobs, and queue list --json always lists high, default and low', async () => {
    const file = tempDbPath();
    expect((await gitroast(['--db', file, 'queue', 'pause', 'low'])).code).toBe(0);
    expect((await gitroast(['--db', file, 'queue', 'pause', 'reports'])).code).toBe(0);
    const list = JSON.parse((await gitroast(['--db', file, 'queue', 'list', '--json'])).stdout) as { queue: string; paused: boolean }[];
    expect(list.map((q) => [q.queue, q.paused])).toEqual([['high', false], ['default', false], ['low', true], ['reports', true]]);
    expect((await gitroast(['--db', file, 'queue', 'continue', 'low'])).code).toBe(0);
    const after = JSON.parse((await gitroast(['--db', file, 'queue', 'list', '--json'])).stdout) as { queue: string; paused: boolean }[];
    expect(after.find((q) => q.queue === 'low')?.paused).toBe(false);
  });

  it('failed list filters by queue, name and tag; show prints the stack without escape sequences', async () => {
    const file = tempDbPath();
    const uuids = seedFailed(file);
    const all = JSON.parse((await gitroast(['--db', file, 'failed', 'list', '--json'])).stdout) as { uuid: string; name: string; queue: string }[];
    expect(all.map((f) => f.uuid).sort()).toEqual([...uuids].sort());
    const byTag = JSON.parse((await gitroast(['--db', file, 'failed', 'list', '--tag', 'username:octocat', '--json'])).stdout);
    expect(byTag).toHaveLength(1);
    const byQueue = JSON.parse((await gitroast(['--db', file, 'failed', 'list', '--queue', 'low', '--json'])).stdout);
    expect(byQueue.map((f: { name: string }) => f.name)).toEqual(['notify']);
    const text = await gitroast(['--db', file, 'failed', 'list']);
    // eslint-disable-next-line no-control-regex -- the test asserts that no terminal control character got through
    expect(text.stdout).not.toMatch(/\u001b/);
    const show = await gitroast(['--db', file, 'failed', 'show', uuids[0]!]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('at seed');
    // eslint-disable-next-line no-control-regex -- the test asserts that no terminal control character got through
    expect(show.stdout).not.toMatch(/\u001b/);
    const json = JSON.parse((await gitroast(['--db', file, 'failed', 'show', uuids[0]!, '--json'])).stdout);
    expect(json).toMatchObject({ uuid: uuids[0], stack: 'Error: boom\n    at seed' });
  });

  it('failed retry makes fresh pending copies and removes the failed rows; forget and flush delete', async () => {
    const file = tempDbPath();
    const uuids = seedFailed(file);
    const retried = await gitroast(['--db', file, 'failed', 'retry', uuids[0]!, '--json']);
    expect(retried.code).toBe(0);
    const [r] = JSON.parse(retried.stdout);
    const db = openDatabase(file, { rooms: APP_ROOMS });
    expect(db.prepare('SELECT state, attempts FROM jobs WHERE id = ?').get(r.jobId)).toEqual({ state: 'pending', attempts: 0 });
    db.close();
    expect((await gitroast(['--db', file, 'failed', 'retry', '--name', 'notify'])).code).toBe(0);
    const forgot = await gitroast(['--db', file, 'failed', 'forget', 'all', '--json']);
    expect(JSON.parse(forgot.stdout)).toEqual({ forgotten: 1 });
    expect(JSON.parse((await gitroast(['--db', file, 'failed', 'list', '--json'])).stdout)).toEqual([]);
    seedFailed(file);
    expect(JSON.parse((await gitroast(['--db', file, 'failed', 'flush', '--hours', '1', '--json'])).stdout)).toEqual({ flushed: 0 });
    expect(JSON.parse((await gitroast(['--db', file, 'failed', 'flush', '--hours', '0', '--json'])).stdout)).toEqual({ flushed: 3 });
  });

  it('exits 1 for a failed job that does not exist', async () => {
    const file = tempDbPath();
    seedFailed(file);
    const r = await gitroast(['--db', file, 'failed', 'show', '00000000-0000-4000-8000-000000000000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no failed job 00000000/);
  });

  it.each([
    [['bogus'], /unknown command 'bogus'/],
    [['status', '--bogus'], /unknown option '--bogus'/],
    [['failed', 'flush', '--hours', 'abc'], /invalid --hours "abc"/],
    [['failed', 'retry', 'not-a-uuid'], /invalid failed job uuid "not-a-uuid"/],
    [['failed', 'retry'], /name the failed jobs/],
    [['failed', 'list', '--queue', 'Bad Queue'], /invalid queue name "Bad Queue"/],
    [['queue', 'pause', '../x'], /invalid queue name "\.\.\/x"/],
  ])('exits 2 with one line on stderr and writes nothing for %j', async (args, message) => {
    const file = tempDbPath();
    const r = await gitroast(['--db', file, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('exits 3 with a clear message for a newer database and for a file that is not SQLite', async () => {
    const file = tempDbPath();
    const db = openDatabase(file, { rooms: APP_ROOMS });
    db.prepare(`INSERT INTO ${LEDGER_TABLE} (id, applied_at) VALUES ('queue/0099', 0)`).run();
    db.close();
    const newer = await gitroast(['--db', file, 'status']);
    expect(newer.code).toBe(3);
    expect(newer.stderr).toMatch(/newer than this gitroast understands/);
    const junk = path.join(tempDir(), 'junk.db');
    fs.writeFileSync(junk, 'not a database '.repeat(100));
    const r = await gitroast(['--db', junk, 'status']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not a gitroast database/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
