import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { enqueue, type Db } from '../../src/queue/index.js';
import { gitroast } from '../support/cli.js';
import { BIN, tempDir, waitFor } from '../support/tmp.js';
import { appDb, count, integrity, seedFailedRows, sleep, SUPPORT } from './helpers.js';

const root = process.getuid?.() === 0;
const mounted: string[] = [];

afterEach(() => {
  for (const dir of mounted.splice(0)) execFileSync('umount', ['-l', dir]);
});

/** Mount a tmpfs of `size` in a fresh temp folder and return its path (unmounted after the test). */
function smallDisk(size: string): string {
  const dir = path.join(tempDir('gitroast-full-'), 'disk');
  fs.mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  mounted.push(dir);
  return dir;
}

/** Fill the filesystem holding `dir` until a write fails with ENOSPC; returns the filler's path. */
function fill(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  try {
    for (const chunk of [65_536, 4096, 512, 1]) {
      const buf = Buffer.alloc(chunk, 1);
      for (;;) {
        try {
          fs.writeSync(fd, buf);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

describe('a full disk', () => {
  it.skipIf(!root)(`refuses to enqueue with exit 3 and a clear message, keeps the database intact, and works again once space returns${root ? '' : ' (skipped: mounting a small tmpfs needs root)'}`, async () => {
    const disk = smallDisk('3m');
    const file = path.join(disk, 'gitroast.db');
    seedFailedRows(file, 200);
    // A long-lived connection, as a daemon holds: its WAL and -shm already exist.
    const held: Db = appDb(file);
    enqueue(held, { name: 'before.full' });
    const filler = fill(disk);
    expect(fs.statfsSync(disk).bavail).toBe(0);

    // A fresh CLI process: every writing command fails cleanly.
    for (const args of [['failed', 'retry', 'all'], ['queue', 'pause', 'low']]) {
      const r = await gitroast(['--db', file, ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(3);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^gitroast: the disk holding (\S+ )?(the database )?is full: nothing was written; free some space and try again$/m);
    }
    // The long-lived connection: a batch too big for what is left fails as a whole.
    let error: unknown;
    try {
      for (let i = 0; i < 50; i++) enqueue(held, { name: 'while.full', payload: { pad: 'x'.repeat(60_000), i } });
    } catch (err) {
      error = err;
    }
    expect((error as { code?: string })?.code).toBe('SQLITE_FULL');
    expect(held.pragma('integrity_check', { simple: true })).toBe('ok');
    const failedRows = (held.prepare('SELECT count(*) AS n FROM failed_jobs').get() as { n: number }).n;
    expect(failedRows).toBe(200);

    held.close();
    // With no connection left (its closing checkpoint could not finish either), still a clean refusal.
    const fresh = await gitroast(['--db', file, 'failed', 'retry', 'all']);
    expect(fresh.code).toBe(3);
    expect(fresh.stderr).toMatch(/^gitroast: the disk holding (\S+ )?(the database )?is full: nothing was written; free some space and try again\n$/);

    fs.rmSync(filler);
    // A fresh connection and fresh processes work again.
    const again = appDb(file);
    enqueue(again, { name: 'after.full' });
    again.close();
    expect(count(file, 'SELECT count(*) FROM failed_jobs')).toBe(200);
    const retried = await gitroast(['--db', file, 'failed', 'retry', 'all']);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stderr).toMatch(/200 failed jobs retried/);
    expect(integrity(file)).toBe('ok');
    expect(count(file, `SELECT count(*) FROM jobs WHERE name = 'seed.retry' AND state = 'pending'`)).toBe(200);
    expect(count(file, 'SELECT count(*) FROM failed_jobs')).toBe(0);
    expect(count(file, `SELECT count(*) FROM jobs WHERE name IN ('before.full', 'after.full')`)).toBe(2);
    const doctor = await gitroast(['--db', file, 'doctor', '--json']);
    const checks = (JSON.parse(doctor.stdout) as { checks: { check: string; ok: boolean }[] }).checks;
    expect(checks.find((c) => c.check === 'integrity')?.ok).toBe(true);
    // 3 MiB is less than doctor wants free: it says so.
    expect(checks.find((c) => c.check === 'disk')?.ok).toBe(false);
  });

  it.skipIf(!root)(`names the full disk, not a broken database, when a fresh process cannot even create the -shm index${root ? '' : ' (skipped: mounting a small tmpfs needs root)'}`, async () => {
    const disk = smallDisk('1m');
    const file = path.join(disk, 'gitroast.db');
    expect((await gitroast(['--db', file, 'queue', 'pause', 'reports'])).code).toBe(0);
    const before = fs.readFileSync(file);
    const filler = fill(disk);
    for (const args of [['queue', 'pause', 'low'], ['status'], ['queue', 'list']]) {
      const r = await gitroast(['--db', file, ...args]);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toBe(`gitroast: the disk holding ${file} is full: nothing was written; free some space and try again\n`);
    }
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    fs.rmSync(filler);
    expect((await gitroast(['--db', file, 'queue', 'pause', 'low'])).code).toBe(0);
    expect(integrity(file)).toBe('ok');
  });

  it.skipIf(!root)(`keeps a running daemon alive while the disk is full, and it resumes once space returns${root ? '' : ' (skipped: mounting a small tmpfs needs root)'}`, async () => {
    const disk = smallDisk('4m');
    const file = path.join(disk, 'gitroast.db');
    seedFailedRows(file, 50, 'reliability.noop');
    const log = process.env.GITROAST_KEEP_LOG ?? path.join(tempDir(), 'daemon.log');
    const out = fs.openSync(log, 'w');
    const daemon = spawn(process.execPath, [BIN, '--db', file, 'daemon', '--log-format', 'json'], {
      env: { ...process.env, GITROAST_HANDLERS: path.join(SUPPORT, 'noop-handlers.mjs'), GITROAST_CONFIG: '', XDG_CONFIG_HOME: tempDir() },
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    const exited = new Promise<number | null>((r) => daemon.on('close', r));
    try {
      await waitFor(() => fs.readFileSync(log, 'utf8').includes('"daemon.started"'), 15_000, 'the daemon to start');
      const filler = fill(disk);
      const refused = await gitroast(['--db', file, 'failed', 'retry', 'all']);
      expect(refused.code, refused.stderr).toBe(3);
      expect(refused.stderr).toMatch(/the disk holding .*is full: nothing was written/);
      // Several heartbeats on a full disk: the daemon is still there.
      await sleep(3000);
      expect(daemon.exitCode).toBeNull();
      fs.rmSync(filler);
      const retried = await gitroast(['--db', file, 'failed', 'retry', 'all']);
      expect(retried.code, retried.stderr).toBe(0);
      await waitFor(() => count(file, `SELECT count(*) FROM jobs WHERE name = 'reliability.noop' AND state = 'completed'`) === 50, 20_000, 'the daemon to run the 50 retried jobs');
      expect(daemon.exitCode).toBeNull();
    } finally {
      daemon.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    expect(integrity(file)).toBe('ok');
  });
});
