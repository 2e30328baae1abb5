import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { newbie, strongDev } from '../fakes/github.js';
import { BIN, tempDbPath, tempDir, waitFor } from '../support/tmp.js';
import { jsonLines, world } from './helpers.js';

/**
 * `gitroast batch` with inputs of any size (issue #9, item 3): every line checked before
 * anything is written, duplicates dropped, stdin, and a kill at any point leaves nothing.
 * Its memory bound (200,000 lines) is measured in bench/batch.ts, not here.
 */

function usersFile(lines: readonly string[]): string {
  const file = path.join(tempDir(), 'users.txt');
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const logins = (n: number) => Array.from({ length: n }, (_, i) => `user-${i}`);

function counts(db: string): [number, number, number] {
  if (!fs.existsSync(db)) return [0, 0, 0];
  const conn = new Database(db, { readonly: true });
  try {
    const one = (sql: string) => (conn.prepare(sql).pluck().get() as number);
    return [one('SELECT count(*) FROM analyses'), one('SELECT count(*) FROM jobs'), one('SELECT count(*) FROM batches')];
  } finally {
    conn.close();
  }
}

describe('batch input of any size', () => {
  it('refuses a file whose last line is invalid, naming it, writing nothing (the database is not even created)', async () => {
    const w = await world([]);
    const file = usersFile([...logins(10_000), 'not a login!']);
    const r = await w.run(['batch', file, '--detach']);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toEqual([`gitroast: ${file}:10001: invalid GitHub username "not a login!": use 1–39 letters, digits or hyphens; nothing was enqueued`]);
    expect(fs.existsSync(w.db)).toBe(false);
    // With several invalid lines: one line each, then the count; an existing database is left as it was.
    expect((await w.run(['analyze', 'adadev', '--detach'])).code).toBe(0);
    const before = counts(w.db);
    const two = await w.run(['batch', usersFile(['bad login', ...logins(3_000), 'x'.repeat(40)]), '--detach']);
    expect(two.code).toBe(2);
    const lines = two.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/users\.txt:1: invalid GitHub username "bad login"/);
    expect(lines[1]).toMatch(/users\.txt:3002: invalid GitHub username "x{40}"/);
    expect(lines[2]).toMatch(/2 invalid usernames in .*users\.txt; nothing was enqueued$/);
    expect(counts(w.db)).toEqual(before);
  });

  it('refuses a line longer than 65,536 characters, but reads a long comment line', async () => {
    const w = await world([]);
    const long = await w.run(['batch', usersFile(['ada', 'y'.repeat(100_000)]), '--detach']);
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/users\.txt:2: line longer than 65,536 characters: expected one username a line; nothing was enqueued/);
    expect(long.stderr.length).toBeLessThan(1000);
    const comment = await w.run(['batch', usersFile([`ada # ${'z'.repeat(100_000)}`, 'bob']), '--detach', '--json']);
    expect(comment.code, comment.stderr).toBe(0);
    expect(jsonLines(comment.stdout).map((l) => l.username)).toEqual(['ada', 'bob']);
  });

  it('drops duplicates (any case) and reads stdin; a login already being analysed is handed back, not counted twice', async () => {
    const now = Date.now();
    const w = await world([strongDev(now), newbie(now)]);
    const first = await w.run(['batch', '-', '--detach', '--json'], { input: 'AdaDev\r\nadadev\n# comment\n\nADADEV  # again\nnewbie-nora' });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^batch [0-9a-f-]{36}: 2 analyses queued$/),
      // What GitHub's budget means (issue 18); the environment of these tests has no token.
      'no GITHUB_TOKEN: about 15 reviews an hour; set GITHUB_TOKEN for about 2,500',
      expect.stringMatching(/^2 analyses at about 15 an hour: expected to finish around /),
    ]);
    const lines = jsonLines(first.stdout);
    expect(lines.map((l) => [l.username, l.status])).toEqual([['AdaDev', 'pending'], ['newbie-nora', 'pending']]);
    const batchId = lines[0]!.batchId;
    expect(lines.every((l) => l.batchId === batchId)).toBe(true);
    expect(w.query('SELECT total, pending FROM batches')).toEqual([{ total: 2, pending: 2 }]);
    expect(w.query<{ n: number }>('SELECT count(*) AS n FROM analyses WHERE batch_id = ?', batchId)).toEqual([{ n: 2 }]);
    // Again: both are pending, so both are handed back and the new batch is empty.
    const again = await w.run(['batch', '-', '--detach'], { input: 'newbie-nora\nADADEV\n' });
    expect(again.code, again.stderr).toBe(0);
    const err = again.stderr.trimEnd().split('\n');
    expect(err[0]).toMatch(/: 0 analyses queued, 2 already running or fresh$/);
    expect(err.slice(1)).toEqual([
      expect.stringMatching(/^newbie-nora: an analysis is already pending \(.+\); following it$/),
      expect.stringMatching(/^AdaDev: an analysis is already pending \(.+\); following it$/),
    ]);
    expect(w.query<{ n: number }>('SELECT count(*) AS n FROM analyses')).toEqual([{ n: 2 }]);
  });

  it('leaves nothing when killed while reading stdin: no database, no staging file', async () => {
    const db = tempDbPath();
    const tmp = tempDir('gitroast-sqlite-tmp-');
    const child = spawn(process.execPath, [BIN, '--db', db, 'batch', '-', '--detach'], {
      env: { ...process.env, GITROAST_CONFIG: '', GITROAST_DENY_LIST: '', XDG_CONFIG_HOME: tempDir(), SQLITE_TMPDIR: tmp },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Enough lines for the staging database to spill to its file; stdin stays open.
    child.stdin.write(`${logins(200_000).join('\n')}\n`);
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGKILL');
    expect(await closed).toBeNull();
    expect(fs.existsSync(db)).toBe(false);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('leaves no analyses, jobs or batch when killed in the middle of the enqueue transaction', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'gitroast.db');
    const file = usersFile(logins(40_000));
    const child = spawn(process.execPath, [BIN, '--db', db, 'batch', file, '--detach'], {
      env: { ...process.env, GITROAST_CONFIG: '', GITROAST_DENY_LIST: '', XDG_CONFIG_HOME: dir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // The transaction is under way once its pages reach the WAL.
    await waitFor(() => (fs.statSync(`${db}-wal`, { throwIfNoEntry: false })?.size ?? 0) > 2 * 1024 * 1024, 60_000, 'the WAL to grow');
    child.kill('SIGKILL');
    expect(await closed).toBeNull();
    expect(stderr).not.toMatch(/queued/);
    expect(counts(db)).toEqual([0, 0, 0]);
    const conn = new Database(db, { readonly: true });
    expect(conn.pragma('integrity_check', { simple: true })).toBe('ok');
    conn.close();
  }, 90_000);
});
