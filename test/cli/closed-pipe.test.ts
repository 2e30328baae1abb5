/**
 * A reader that goes away (`gitroast failed list | head -c 1`) ends a command quietly with
 * exit 0, for every command; the daemon drops its log lines and keeps running.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appDb, count, seedFailedRows } from '../reliability/helpers.js';
import { enqueue } from '../../src/queue/index.js';
import { BIN, tempDbPath, tempDir, waitFor } from '../support/tmp.js';

/** Run `gitroast <args> | head -c <bytes>` in bash; resolve with gitroast's own exit code and stderr. */
function throughHead(args: readonly string[], bytes: number, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string; headOut: string }> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const sh = spawn('bash', ['-c', `${quoted} 2>"$ERRFILE" | head -c ${bytes}; exit "\${PIPESTATUS[0]}"`], {
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let headOut = '';
    sh.stdout.on('data', (d) => (headOut += d));
    sh.on('error', reject);
    sh.on('close', (code) => resolve({ code, stderr: fs.readFileSync(env.ERRFILE!, 'utf8'), headOut }));
  });
}

describe('a closed stdout pipe', () => {
  it('ends read commands with exit 0 and nothing on stderr when the output is larger than the pipe buffer', async () => {
    const file = tempDbPath();
    seedFailedRows(file, 3000);
    const errFile = path.join(tempDir(), 'stderr');
    for (const args of [
      ['failed', 'list', '--limit', '3000'],
      ['failed', 'list', '--limit', '3000', '--json'],
      ['failed', 'list', '--limit', '3000', '--name', 'seed.retry'],
    ]) {
      // The whole output is well over the 64 KiB a pipe holds: the writer must meet EPIPE.
      const full = spawn(process.execPath, [BIN, '--db', file, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
      let size = 0;
      full.stdout.on('data', (d: Buffer) => (size += d.length));
      await new Promise((r) => full.on('close', r));
      expect(size, args.join(' ')).toBeGreaterThan(2 * 65536);

      for (const bytes of [0, 1, 100]) {
        const r = await throughHead(['--db', file, ...args], bytes, { ERRFILE: errFile });
        expect(r.stderr, `${args.join(' ')} | head -c ${bytes}`).toBe('');
        expect(r.code, `${args.join(' ')} | head -c ${bytes}`).toBe(0);
        expect(r.headOut.length).toBe(bytes);
      }
    }
  });

  it('ends small outputs (config, status --json, --help) quietly too when the reader left first', async () => {
    const file = tempDbPath();
    seedFailedRows(file, 1);
    const errFile = path.join(tempDir(), 'stderr');
    const config = path.join(tempDir(), 'config.json');
    fs.writeFileSync(config, '{}', { mode: 0o600 });
    for (const args of [['config', '--config', config], ['status', '--json'], ['--help']]) {
      // `head -c 0` exits at once, long before node has started and written anything.
      const r = await throughHead(['--db', file, ...args], 0, { ERRFILE: errFile });
      expect(r.stderr, args.join(' ')).toBe('');
      expect(r.code, args.join(' ')).toBe(0);
    }
  });

  it('keeps the daemon running when its log reader goes away, and it still stops cleanly', async () => {
    const file = tempDbPath();
    const child = spawn(process.execPath, [BIN, '--db', file, 'daemon', '--log-format', 'json', '--concurrency', '1'], {
      env: { ...process.env, NO_COLOR: '1', GITHUB_TOKEN: '', OPENAI_API_KEY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    // The first log line arrives, then the reader goes away.
    await new Promise((r) => child.stdout.once('data', r));
    child.stdout.destroy();
    // Work it must log about, into the closed pipe: a job no handler knows fails for good.
    const db = appDb(file);
    enqueue(db, { name: 'nobody.handles.this', tries: 1 });
    db.close();
    await waitFor(() => count(file, 'SELECT count(*) FROM failed_jobs') === 1, 20_000, 'the daemon to run the job');
    await new Promise((r) => setTimeout(r, 500));
    expect(child.exitCode).toBe(null);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
  });
});
