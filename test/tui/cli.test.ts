import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openAppDb } from '../../src/cli/db.js';
import * as q from '../../src/queue/index.js';
import { BIN, tempDbPath, waitFor } from '../support/tmp.js';
import { seed } from './seed.js';

const children: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '', COLUMNS: '100', ...env }, timeout: 20_000 });
}

describe('gitroast monitor (built binary)', () => {
  it('prints one plain-text overview frame with --once and exits 0', () => {
    const file = tempDbPath();
    seed(file);
    const r = cli(['--db', file, 'monitor', '--once']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout;
    // eslint-disable-next-line no-control-regex -- the test asserts that no terminal control character got through
    expect(out).not.toMatch(/[\u001b\u009b]/);
    expect(out).toContain('gitroast monitor · overview');
    expect(out).toMatch(/Past hour 33\b/);
    expect(out).toMatch(/Failed 7d 3\b/);
    expect(out).toContain('Max runtime fetch-github #8 10s');
    expect(out).toMatch(/^high\s+0\s+0\s+1\s+0\s+-\s+-$/m);
    expect(out).toMatch(/^default\s+0\s+1\s+0\s+3\s+-\s+-$/m);
    expect(out).toMatch(/^low\s+6\s+0\s+0\s+0\s+\d+m \d+s\s+paused$/m);
    expect(out).toMatch(/failed\s+#33 default fetch-github/);
    for (const line of out.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });

  it('lists configured queues even when they have no jobs', () => {
    const file = tempDbPath();
    seed(file);
    const r = cli(['--db', file, 'monitor', '--once', '--queues', 'critical,high']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^critical\s+0\s+0\s+0\s+0\s+-\s+-$/m);
  });

  it('drops columns on a narrow terminal instead of wrapping', () => {
    const file = tempDbPath();
    seed(file);
    const r = cli(['--db', file, 'monitor', '--once'], { COLUMNS: '40' });
    expect(r.status).toBe(0);
    for (const line of r.stdout.split('\n')) expect(line.length).toBeLessThanOrEqual(40);
    expect(r.stdout).toMatch(/^QUEUE\s+PENDING/m);
  });

  it('says there is no database in one line and exits 3', () => {
    const file = tempDbPath();
    const r = cli(['--db', file, 'monitor', '--once']);
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^gitroast: no database at .*gitroast\.db/);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('rejects a bad --refresh or --queues with exit 2', () => {
    const file = tempDbPath();
    seed(file);
    expect(cli(['--db', file, 'monitor', '--refresh', 'soon']).status).toBe(2);
    const r = cli(['--db', file, 'monitor', '--once', '--queues', 'Bad Queue']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/invalid queue name/);
  });

  it('leaves the WAL checkpointable while it refreshes and a worker writes', async () => {
    const file = tempDbPath();
    seed(file);
    const child = spawn(process.execPath, [BIN, '--db', file, 'monitor', '--refresh', '100'], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor(() => out.includes('Overview'), 15_000, 'the monitor to draw');

    // A worker enqueues, claims and completes jobs while the monitor keeps reading.
    const db = openAppDb(file);
    try {
      const deadline = Date.now() + 1500;
      let n = 0;
      while (Date.now() < deadline) {
        q.enqueue(db, { name: 'wal-probe', queue: 'default', payload: { n: n++ } });
        const [c] = q.claim(db, { workerId: 'w_probe', queues: ['default'] });
        if (c) q.complete(db, { id: c.id, token: c.token });
        await new Promise((r) => setTimeout(r, 2));
      }
      expect(n).toBeGreaterThan(50);
      expect(fs.statSync(`${file}-wal`).size).toBeGreaterThan(0);
      await waitFor(() => out.includes('wal-probe'), 5_000, 'the monitor to show the new jobs');
      const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
      expect(result!.busy).toBe(0);
      expect(fs.statSync(`${file}-wal`).size).toBe(0);
    } finally {
      db.close();
    }
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(err).toBe('');
  });
});
