import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { gitroast } from '../support/cli.js';
import { BIN, tempDbPath, tempDir, waitFor } from '../support/tmp.js';
import { integrity, sleep } from './helpers.js';
import { API_KEY, configFile, fakeEnv, github, model, startWebhook, TOKEN, users } from './world.js';

const N = 20;

interface Daemon {
  child: ChildProcess;
  log: string;
  exited: Promise<void>;
}

function startDaemon(db: string, env: NodeJS.ProcessEnv, log: string): Daemon {
  const out = fs.openSync(log, 'w');
  const child = spawn(process.execPath, [BIN, '--db', db, 'daemon', '--log-format', 'json'], { env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  return { child, log, exited: new Promise((r) => child.on('close', () => r())) };
}

function events(log: string, name: string): number {
  return fs.readFileSync(log, 'utf8').split('\n').filter((l) => l.includes(`"${name}"`)).length;
}

interface Row {
  id: string;
  status: string;
  completed_at: number | null;
  updated_at: number;
  report: string | null;
  model: string | null;
}

/**
 * SIGSTOP the daemon at a moment it holds no write transaction. SQLite has one writer: a process
 * stopped inside its write transaction holds the lock until it runs again, and every other daemon
 * on the file waits for it (they log `database is locked` and go on once it is released). That is
 * not what this test is about, so if the stop caught the daemon mid-write, let it run on a moment
 * and stop it again.
 */
async function stopOutsideWrite(child: ChildProcess, db: string): Promise<void> {
  const probe = new Database(db);
  probe.pragma('busy_timeout = 0');
  try {
    for (let i = 0; ; i++) {
      child.kill('SIGSTOP');
      await sleep(20);
      try {
        probe.exec('BEGIN IMMEDIATE');
        probe.exec('ROLLBACK');
        return;
      } catch (e) {
        if (i >= 100 || !String(e).includes('locked')) throw e;
        child.kill('SIGCONT');
        await sleep(5);
      }
    }
  } finally {
    probe.close();
  }
}

describe('a paused daemon that comes back late', () => {
  it('changes nothing: its handlers\' writes are fenced by the lease like its results (SIGSTOP / SIGCONT)', async () => {
    const list = users(N);
    const gh = await github(list);
    const ai = await model();
    const hook = await startWebhook();
    const db = tempDbPath();
    // A short alive threshold so daemon B prunes the stopped daemon A in seconds; a lease long
    // enough that A, once resumed, does not look at its leases before its handlers finish.
    const config = configFile({ concurrency: 40, heartbeatSeconds: 0.5, staleSeconds: 2, leaseSeconds: 60, pollSeconds: 0.5 });
    const env = fakeEnv(gh, { ai, config, webhook: hook, GITHUB_TOKEN: TOKEN, OPENAI_API_KEY: API_KEY });
    const file = path.join(tempDir(), 'users.txt');
    fs.writeFileSync(file, list.map((u) => u.login).join('\n'));
    expect((await gitroast(['--db', db, 'batch', file, '--detach'], { env })).code).toBe(0);

    const conn = new Database(db, { readonly: true });
    conn.pragma('busy_timeout = 5000');
    const count = (sql: string) => (conn.prepare(sql).get() as { n: number }).n;
    const logs = tempDir();

    // Daemon A collects every profile, then waits on a slow model with all 20 reviews in flight.
    ai.setLatency(4_000);
    const a = startDaemon(db, env, path.join(logs, 'a.log'));
    await waitFor(() => count(`SELECT count(*) AS n FROM jobs WHERE name = 'write-review' AND state = 'reserved'`) === N, 30_000, 'A to run every write-review');
    await stopOutsideWrite(a.child, db);
    try {
      // Daemon B prunes A, recovers its leases and finishes every analysis (and notifies it).
      ai.setLatency(0);
      const b = startDaemon(db, env, path.join(logs, 'b.log'));
      await waitFor(() => count(`SELECT count(*) AS n FROM jobs WHERE state <> 'completed'`) === 0 && count(`SELECT count(*) AS n FROM analyses WHERE status = 'completed'`) === N,
        60_000, 'B to finish every analysis').catch((e: Error) => {
        const states = conn.prepare(`SELECT name, state, reserved_by, count(*) AS n FROM jobs GROUP BY 1, 2, 3`).all();
        throw new Error(`${e.message}\njobs: ${JSON.stringify(states)}\nB's log ends:\n${fs.readFileSync(b.log, 'utf8').slice(-3000)}`);
      });
      const before = conn.prepare(`SELECT id, status, completed_at, updated_at, report, model FROM analyses ORDER BY id`).all() as Row[];
      expect(before).toHaveLength(N);
      expect(hook.posts.filter((p) => p.event === 'analysis.completed')).toHaveLength(N);

      // A wakes up: its model answers arrived meanwhile; its handlers finish late.
      a.child.kill('SIGCONT');
      await waitFor(() => events(a.log, 'job.result_rejected') + events(a.log, 'job.late_result_rejected') >= N, 30_000, 'A to hand in its late results');
      b.child.kill('SIGTERM');
      a.child.kill('SIGTERM');
      await Promise.all([a.exited, b.exited]);

      const after = conn.prepare(`SELECT id, status, completed_at, updated_at, report, model FROM analyses ORDER BY id`).all() as Row[];
      // Not one analysis was rewritten by the stale daemon: same completion time, same report.
      expect(after).toEqual(before);
      // Each analysis completed by exactly one write-review and notified exactly once.
      expect(count(`SELECT count(*) AS n FROM jobs WHERE name = 'write-review' AND state = 'completed'`)).toBe(N);
      expect(count(`SELECT count(*) AS n FROM jobs WHERE name = 'notify'`)).toBe(N);
      await sleep(200);
      expect(hook.posts.filter((p) => p.event === 'analysis.completed')).toHaveLength(N);
    } finally {
      a.child.kill('SIGCONT');
      a.child.kill('SIGKILL');
      conn.close();
    }
    expect(integrity(db)).toBe('ok');
  }, 150_000);
});
