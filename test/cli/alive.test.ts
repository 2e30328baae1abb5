/**
 * "Alive" is one rule: a daemon is alive while its heartbeat is at most the config's
 * staleSeconds old. Every command that looks at daemons (status, doctor, monitor, analyze,
 * daemon status) applies the same threshold as the daemon itself, read from --config (the
 * program's global option) or GITROAST_CONFIG.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openAppDb } from '../../src/cli/db.js';
import * as q from '../../src/queue/index.js';
import { gitroast } from '../support/cli.js';
import { BIN, tempDbPath, waitFor } from '../support/tmp.js';

const children: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const WORKER = 'w_00000000beef';

/** A database holding one registered daemon whose last heartbeat was `ageMs` ago, and a config with staleSeconds 120. */
function world(ageMs: number): { db: string; config: string; env: NodeJS.ProcessEnv } {
  const db = tempDbPath();
  const conn = openAppDb(db);
  const now = Date.now();
  q.registerWorker(conn, { id: WORKER, pid: 999_999, hostname: 'elsewhere', version: '0.1.0', queues: ['high', 'default', 'low'], concurrency: 2 }, now - ageMs);
  conn.close();
  const config = path.join(path.dirname(db), 'config.json');
  fs.writeFileSync(config, JSON.stringify({ staleSeconds: 120, heartbeatSeconds: 45 }));
  // No GitHub is reachable: an inline worker, if one started, reports `fetching` and then fails to connect.
  const env = { GITROAST_CONFIG: '', XDG_CONFIG_HOME: path.dirname(db), GITROAST_GITHUB_API_URL: 'http://127.0.0.1:9', GITHUB_TOKEN: '', OPENAI_API_KEY: '' };
  return { db, config, env };
}

/** Run `analyze LOGIN` (waiting, not detached) until it says whom it waits for or starts working itself; then interrupt it. */
async function analyzeStart(w: { db: string; config: string; env: NodeJS.ProcessEnv }, login: string): Promise<string> {
  const child = spawn(process.execPath, [BIN, '--db', w.db, '--config', w.config, 'analyze', login], { env: { ...process.env, NO_COLOR: '1', ...w.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const closed = new Promise((r) => child.on('close', r));
  await waitFor(() => /waiting for it|fetching/.test(stderr), 20_000, 'analyze to wait for the daemon or start its own worker');
  child.kill('SIGINT');
  await closed;
  return stderr;
}

describe('a daemon heartbeating every 45 s under staleSeconds 120', () => {
  it('is alive for status, daemon status, doctor, the monitor and analyze', async () => {
    const w = world(45_000);
    // GITROAST_CONFIG names the file…
    const viaEnv = await gitroast(['--db', w.db, 'status', '--json'], { env: { ...w.env, GITROAST_CONFIG: w.config } });
    expect(viaEnv.code).toBe(0);
    expect((JSON.parse(viaEnv.stdout) as { daemons: { id: string }[] }).daemons.map((d) => d.id)).toEqual([WORKER]);

    // …and so does --config, the program's global option.
    const status = await gitroast(['--db', w.db, '--config', w.config, 'status', '--json'], { env: w.env });
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as { daemons: { id: string }[] }).daemons.map((d) => d.id)).toEqual([WORKER]);

    const daemonStatus = await gitroast(['--db', w.db, 'daemon', 'status', '--json', '--config', w.config], { env: w.env });
    expect(daemonStatus.code).toBe(0);
    expect((JSON.parse(daemonStatus.stdout) as { daemons: { alive: boolean }[] }).daemons.map((d) => d.alive)).toEqual([true]);

    const doctor = await gitroast(['--db', w.db, '--config', w.config, 'doctor', '--json'], { env: w.env });
    const checks = (JSON.parse(doctor.stdout) as { checks: { check: string; ok: boolean }[] }).checks;
    expect(checks.find((c) => c.check === 'workers')).toMatchObject({ ok: true });

    const monitor = await gitroast(['--db', w.db, '--config', w.config, 'monitor', '--once'], { env: { ...w.env, COLUMNS: '100' } });
    expect(monitor.code).toBe(0);
    expect(monitor.stdout).toContain('ACTIVE · 1 daemon');

    const analyze = await analyzeStart(w, 'octocat');
    expect(analyze).toContain(`daemon ${WORKER} serves queue default; waiting for it`);
    expect(analyze).not.toContain('fetching');
  });

  it('is gone for all of them once its heartbeat is older than 120 s', async () => {
    const w = world(130_000);
    const status = await gitroast(['--db', w.db, '--config', w.config, 'status', '--json'], { env: w.env });
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as { daemons: unknown[] }).daemons).toEqual([]);

    const daemonStatus = await gitroast(['--db', w.db, 'daemon', 'status', '--json', '--config', w.config], { env: w.env });
    expect((JSON.parse(daemonStatus.stdout) as { daemons: { alive: boolean }[] }).daemons.map((d) => d.alive)).toEqual([false]);

    const doctor = await gitroast(['--db', w.db, '--config', w.config, 'doctor', '--json'], { env: w.env });
    expect(doctor.code).toBe(1);
    const checks = (JSON.parse(doctor.stdout) as { checks: { check: string; ok: boolean }[] }).checks;
    expect(checks.find((c) => c.check === 'workers')).toMatchObject({ ok: false });

    const monitor = await gitroast(['--db', w.db, '--config', w.config, 'monitor', '--once'], { env: { ...w.env, COLUMNS: '100' } });
    expect(monitor.stdout).toContain('INACTIVE · 0 daemons');

    const analyze = await analyzeStart(w, 'octocat');
    expect(analyze).toContain('fetching');
    expect(analyze).not.toContain('waiting for it');
  });

  it('refuses an empty --config with one line and exit 2', async () => {
    const w = world(45_000);
    const r = await gitroast(['--db', w.db, '--config', '', 'status'], { env: w.env });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('invalid --config ""')]);
  });
});
