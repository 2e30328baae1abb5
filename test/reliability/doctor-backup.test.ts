import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { APP_ROOMS } from '../../src/cli/db.js';
import { claim, enqueue, migrationsOf, registerWorker } from '../../src/queue/index.js';
import { gitroast } from '../support/cli.js';
import { QUEUE_JS, tempDbPath, tempDir, waitFor } from '../support/tmp.js';
import { APP_DB_JS, appDb, count, fingerprint, integrity, mode, node, seedDb, SUPPORT } from './helpers.js';

interface Report {
  database: string;
  ok: boolean;
  checks: { check: string; ok: boolean; detail: string; action?: string; data?: Record<string, unknown> }[];
}

const children: { kill(signal?: NodeJS.Signals): boolean; exited: Promise<unknown> }[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    c.kill('SIGKILL');
    await c.exited;
  }
});

describe('gitroast doctor', () => {
  it('exits 0 on a healthy database and says every check is ok', async () => {
    const file = tempDbPath();
    seedDb(file);
    const r = await gitroast(['--db', file, 'doctor', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => [c.check, c.ok])).toEqual([
      ['integrity', true], ['schema', true], ['wal', true], ['workers', true], ['leases', true], ['disk', true], ['permissions', true],
    ]);
    const text = await gitroast(['--db', file, 'doctor', '--full']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/integrity_check ok/);
    expect(text.stdout).not.toMatch(/ATTENTION/);
  });

  it('finds stale daemons and stuck leases that were seeded, says what to do, and exits 1 without changing anything', async () => {
    const file = tempDbPath();
    const db = appDb(file);
    const now = Date.now();
    registerWorker(db, { id: 'w_dead', pid: 4242, hostname: 'vps', version: 't', queues: ['default'], concurrency: 2 }, now - 120_000);
    registerWorker(db, { id: 'w_alive', pid: 4343, hostname: 'vps', version: 't', queues: ['default'], concurrency: 2 }, now);
    for (let i = 0; i < 4; i++) enqueue(db, { name: `job${i}` });
    // Held by the dead worker with a lease still running; leased by the live worker but expired; held by a worker that is gone; held properly.
    claim(db, { workerId: 'w_dead', limit: 1, leaseMs: 600_000 });
    claim(db, { workerId: 'w_alive', limit: 1, leaseMs: 1, now: now - 10_000 });
    claim(db, { workerId: 'w_gone', limit: 1, leaseMs: 600_000 });
    claim(db, { workerId: 'w_alive', limit: 1, leaseMs: 600_000 });
    db.close();
    const before = fingerprint(file);

    const r = await gitroast(['--db', file, 'doctor', '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('gitroast: 2 checks need attention: workers, leases');
    const report = JSON.parse(r.stdout) as Report;
    const workers = report.checks.find((c) => c.check === 'workers')!;
    expect(workers.ok).toBe(false);
    expect(workers.detail).toContain('w_dead');
    expect(workers.detail).not.toContain('w_alive');
    expect(workers.action).toMatch(/gitroast daemon/);
    const leases = report.checks.find((c) => c.check === 'leases')!;
    expect(leases.ok).toBe(false);
    expect(leases.data?.total).toBe(3);
    expect((leases.data?.jobs as { name: string; why: string }[]).map((j) => [j.name, j.why])).toEqual([
      ['job0', 'worker-stale'], ['job1', 'lease-expired'], ['job2', 'worker-gone'],
    ]);
    expect(leases.action).toMatch(/gitroast daemon/);

    const text = await gitroast(['--db', file, 'doctor']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/ATTENTION {2}workers/);
    expect(text.stdout).toMatch(/ATTENTION {2}leases +3 reserved jobs held by no live daemon/);
    expect(text.stdout).toMatch(/→ start a daemon/);
    expect(fingerprint(file).db).toBe(before.db);
  });

  it('flags database files readable by others with the chmod to run', async () => {
    const file = tempDbPath();
    seedDb(file);
    fs.chmodSync(file, 0o644);
    const r = await gitroast(['--db', file, 'doctor', '--json']);
    expect(r.code).toBe(1);
    const perms = (JSON.parse(r.stdout) as Report).checks.find((c) => c.check === 'permissions')!;
    expect(perms.ok).toBe(false);
    expect(perms.action).toMatch(new RegExp(`^chmod 600 ${file}( |$)`));
  });

  it('exits 3 and creates nothing when there is no database', async () => {
    const file = tempDbPath();
    const r = await gitroast(['--db', file, 'doctor']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no database at/);
    expect(fs.existsSync(path.dirname(file))).toBe(false);
  });
});

describe('database files are 0600', () => {
  it('creates the database, its WAL and its shared-memory file 0600 even with umask 000', async () => {
    const file = tempDbPath();
    const old = process.umask(0);
    try {
      expect((await gitroast(['--db', file, 'status'])).code).toBe(0);
      const writer = node(path.join(SUPPORT, 'writer.mjs'), [QUEUE_JS, APP_DB_JS, file, '10']);
      children.push(writer);
      await waitFor(() => writer.lines.includes('ready') && fs.existsSync(`${file}-wal`), 10_000, 'the writer to open the WAL');
      expect(mode(path.dirname(file)).toString(8)).toBe('700');
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(mode(f).toString(8), f).toBe('600');
      const d = await gitroast(['--db', file, 'doctor', '--json']);
      expect((JSON.parse(d.stdout) as Report).checks.find((c) => c.check === 'permissions')?.ok).toBe(true);
    } finally {
      process.umask(old);
    }
  });
});

describe('gitroast backup', () => {
  it('writes a verified 0600 copy, refuses to overwrite an existing file without --force, and replaces it with --force', async () => {
    const file = tempDbPath();
    seedDb(file);
    const dir = tempDir();
    const dest = path.join(dir, 'backup.db');
    const old = process.umask(0);
    let r;
    try {
      r = await gitroast(['--db', file, 'backup', dest, '--json']);
    } finally {
      process.umask(old);
    }
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ source: file, destination: dest, schemaVersion: migrationsOf(APP_ROOMS).length, integrity: 'ok' });
    expect(mode(dest).toString(8)).toBe('600');
    expect(integrity(dest)).toBe('ok');
    expect(count(dest, 'SELECT count(*) FROM jobs')).toBe(count(file, 'SELECT count(*) FROM jobs'));
    // One self-contained file: a rollback journal, no -wal to carry along.
    const copy = new Database(dest, { readonly: true });
    expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
    copy.close();
    expect(fs.readdirSync(dir)).toEqual(['backup.db']);

    fs.writeFileSync(dest, 'precious');
    const refused = await gitroast(['--db', file, 'backup', dest]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain(dest);
    expect(refused.stderr).toMatch(/already exists.*--force/);
    expect(fs.readFileSync(dest, 'utf8')).toBe('precious');
    expect(fs.readdirSync(dir)).toEqual(['backup.db']);

    const forced = await gitroast(['--db', file, 'backup', dest, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(integrity(dest)).toBe('ok');
  });

  it('refuses a destination that is the database itself, a folder, or in a missing folder (exit 2), and a missing database (exit 3)', async () => {
    const file = tempDbPath();
    seedDb(file);
    const dir = tempDir();
    for (const [dest, message] of [
      [file, /it is the database itself/],
      [dir, /it is a folder/],
      [path.join(dir, 'nope', 'b.db'), /does not exist/],
      ['', /invalid backup file ""/],
    ] as const) {
      const r = await gitroast(['--db', file, 'backup', dest, '--force']);
      expect(r.code, `${dest}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const missing = await gitroast(['--db', path.join(dir, 'missing.db'), 'backup', path.join(dir, 'b.db')]);
    expect(missing.code).toBe(3);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('copies a consistent snapshot while another process keeps enqueueing', async () => {
    const file = tempDbPath();
    seedDb(file);
    const base = count(file, 'SELECT count(*) FROM jobs');
    const writer = node(path.join(SUPPORT, 'writer.mjs'), [QUEUE_JS, APP_DB_JS, file, '50']);
    children.push(writer);
    await waitFor(() => writer.lines.includes('ready'), 10_000, 'the writer');
    const dir = tempDir();
    let last = 0;
    for (let i = 0; i < 3; i++) {
      const dest = path.join(dir, `copy${i}.db`);
      const r = await gitroast(['--db', file, 'backup', dest]);
      expect(r.code, r.stderr).toBe(0);
      expect(integrity(dest)).toBe('ok');
      const jobs = count(dest, `SELECT count(*) FROM jobs WHERE name = 'writer.job'`);
      // Whole transactions only: every batch of 50 is there completely or not at all.
      expect(jobs % 50).toBe(0);
      expect(count(dest, `SELECT count(*) FROM (SELECT payload ->> 'batch' AS b, count(*) AS n FROM jobs WHERE name = 'writer.job' GROUP BY b HAVING n <> 50)`)).toBe(0);
      expect(count(dest, `SELECT count(*) FROM jobs WHERE name <> 'writer.job'`)).toBe(base);
      expect(jobs).toBeGreaterThanOrEqual(last);
      last = jobs;
    }
    expect(last).toBeGreaterThan(0);
  });
});
