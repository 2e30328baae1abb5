import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, QUEUE_JS, tempDir, waitFor } from '../support/tmp.js';
import { APP_DB_JS, appDb, count, integrity, node, rng, seedFailedRows, sleep, SUPPORT } from './helpers.js';

/** Copy a database file (closed cleanly, so self-contained) to a fresh path. */
function copyDb(template: string, dir: string, name: string): string {
  const file = path.join(dir, name);
  fs.copyFileSync(template, file);
  return file;
}

describe('SIGKILL in the middle of a command', () => {
  it('leaves all 50,000 jobs of one enqueueMany or none of them, and an intact database', async () => {
    const seed = Number(process.env.GITROAST_SEED ?? Date.now()) >>> 0;
    const random = rng(seed);
    const dir = tempDir();
    const N = 50_000;
    // One complete run measures how long the transaction takes here.
    const full = path.join(dir, 'full.db');
    const first = node(path.join(SUPPORT, 'enqueue-many.mjs'), [QUEUE_JS, APP_DB_JS, full, String(N)]);
    expect(await first.exited).toBe(0);
    const took = Number(first.lines.find((l) => l.startsWith('done '))!.slice(5));
    expect(count(full, 'SELECT count(*) FROM jobs')).toBe(N);

    const outcomes: { at: number; jobs: number }[] = [];
    for (let i = 0; i < 6; i++) {
      const file = path.join(dir, `kill${i}.db`);
      const child = node(path.join(SUPPORT, 'enqueue-many.mjs'), [QUEUE_JS, APP_DB_JS, file, String(N)]);
      await waitFor(() => child.lines.includes('start') || child.exitCode !== null, 20_000, 'the enqueue to start');
      // Mostly inside the transaction, sometimes just after it.
      const at = Math.round(random() * took * 1.2);
      await sleep(at);
      child.kill('SIGKILL');
      await child.exited;
      const jobs = count(file, 'SELECT count(*) FROM jobs');
      outcomes.push({ at, jobs });
      expect([0, N], `killed ${at} ms into a ${took} ms enqueue (seed ${seed})`).toContain(jobs);
      expect(integrity(file)).toBe('ok');
      if (jobs === N) expect(count(file, `SELECT count(DISTINCT payload ->> 'i') FROM jobs`)).toBe(N);
    }
    console.info(`enqueueMany of ${N}: ${took} ms; kills at ${outcomes.map((o) => `${o.at}ms→${o.jobs}`).join(', ')} (seed ${seed})`);
  });

  it('leaves `failed retry all` done completely or not at all, wherever the CLI process is killed', async () => {
    const seed = Number(process.env.GITROAST_SEED ?? Date.now()) >>> 0;
    const random = rng(seed);
    const dir = tempDir();
    const N = 20_000;
    const template = path.join(dir, 'template.db');
    seedFailedRows(template, N);

    const runCli = (file: string, killAt?: number) =>
      new Promise<{ code: number | null; ms: number }>((resolve) => {
        const t0 = Date.now();
        const child = spawn(process.execPath, [BIN, '--db', file, 'failed', 'retry', 'all'], { stdio: 'ignore' });
        const timer = killAt === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAt);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, ms: Date.now() - t0 });
        });
      });

    const whole = await runCli(copyDb(template, dir, 'whole.db'));
    expect(whole.code).toBe(0);
    const outcomes: string[] = [];
    let none = 0;
    let all = 0;
    for (let i = 0; i < 8; i++) {
      const file = copyDb(template, dir, `kill${i}.db`);
      // From process start (parsing and validation) to past the commit.
      const at = Math.round(random() * whole.ms * 1.1);
      const r = await runCli(file, at);
      const failed = count(file, 'SELECT count(*) FROM failed_jobs');
      const pending = count(file, `SELECT count(*) FROM jobs WHERE state = 'pending'`);
      outcomes.push(`${at}ms→${r.code === null ? 'killed' : `exit ${r.code}`}:${pending === N ? 'all' : 'none'}`);
      expect([[N, 0], [0, N]], `killed at ${at} ms of ${whole.ms} ms (seed ${seed})`).toContainEqual([failed, pending]);
      if (pending === N) all++;
      else none++;
      expect(integrity(file)).toBe('ok');
    }
    console.info(`failed retry all (${N} jobs): ${whole.ms} ms whole; ${outcomes.join(', ')}; ${none} nothing, ${all} everything (seed ${seed})`);
  });

  it('leaves `batch --detach` of 1,500 usernames all enqueued or not at all, wherever the CLI process is killed', async () => {
    const seed = Number(process.env.GITROAST_SEED ?? Date.now()) >>> 0;
    const random = rng(seed);
    const dir = tempDir();
    const N = 1500;
    const list = path.join(dir, 'users.txt');
    fs.writeFileSync(list, Array.from({ length: N }, (_, i) => `user-${i}`).join('\n'));
    const env = { ...process.env, GITROAST_CONFIG: '', XDG_CONFIG_HOME: dir, GITROAST_DENY_LIST: '' };
    const runCli = (file: string, killAt?: number) =>
      new Promise<{ code: number | null; ms: number }>((resolve) => {
        const t0 = Date.now();
        const child = spawn(process.execPath, [BIN, '--db', file, 'batch', list, '--detach'], { stdio: 'ignore', env });
        const timer = killAt === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAt);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, ms: Date.now() - t0 });
        });
      });
    const state = (file: string) => {
      if (!fs.existsSync(file)) return [0, 0, 0];
      // Killed while a fresh file was being migrated: each migration commits on its own, so
      // some are applied; the next open applies the rest (and must be able to).
      if (count(file, `SELECT count(*) FROM sqlite_master WHERE name = 'analyses'`) === 0) appDb(file).close();
      return [count(file, 'SELECT count(*) FROM analyses'), count(file, 'SELECT count(*) FROM jobs'), count(file, 'SELECT count(*) FROM batches')];
    };
    const whole = await runCli(path.join(dir, 'whole.db'));
    expect(whole.code).toBe(0);
    expect(state(path.join(dir, 'whole.db'))).toEqual([N, N, 1]);
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const file = path.join(dir, `kill${i}.db`);
      const at = Math.round(random() * whole.ms * 1.1);
      const r = await runCli(file, at);
      const s = state(file);
      outcomes.push(`${at}ms→${r.code === null ? 'killed' : `exit ${r.code}`}:${s[0] === N ? 'all' : 'none'}`);
      expect([[0, 0, 0], [N, N, 1]], `killed at ${at} ms of ${whole.ms} ms (seed ${seed})`).toContainEqual(s);
      if (fs.existsSync(file)) expect(integrity(file)).toBe('ok');
    }
    console.info(`batch --detach (${N} usernames): ${whole.ms} ms whole; ${outcomes.join(', ')} (seed ${seed})`);
  });
});
