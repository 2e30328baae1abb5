import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { gitroast } from '../support/cli.js';
import { BIN, tempDbPath, tempDir } from '../support/tmp.js';
import { integrity, rng, sleep } from './helpers.js';
import { API_KEY, configFile, fakeEnv, github, model, startWebhook, TOKEN, users } from './world.js';

const ANALYSES = Number(process.env.GITROAST_CHAOS_ANALYSES ?? 300);
/** The whole run (kills included) must finish within this; the issue allows 3 minutes. */
const BOUND_MS = 170_000;

interface Slot {
  name: string;
  child?: ChildProcess;
  exited?: Promise<void>;
  starts: number;
  kills: number;
}

describe('chaos: two daemons killed with SIGKILL every 1-3 s', () => {
  it(`completes every one of ${ANALYSES} analyses exactly once, notifies each, loses none, and keeps the database intact`, async () => {
    const seed = Number(process.env.GITROAST_SEED ?? Date.now()) >>> 0;
    const random = rng(seed);
    const t0 = Date.now();
    const list = users(ANALYSES);
    // GitHub's real latency (100-300 ms an answer): the drain then lasts long enough for the
    // kills to land during work, however few requests an analysis needs.
    const gh = await github(list, { latencyMs: 200 });
    const ai = await model();
    const hook = await startWebhook();
    const db = tempDbPath();
    // A short stale limit (5 s, not 30) so a killed daemon's jobs come back in seconds, yet long
    // enough that a daemon slowed by a busy machine is not taken for dead; and tries
    // enough that a job cut short by several kills in a row still completes (every kill during a
    // job spends one attempt, as Horizon counts them). Backoffs short for the same reason.
    const config = configFile({
      concurrency: 6, heartbeatSeconds: 1, staleSeconds: 5, leaseSeconds: 30, pollSeconds: 0.5,
      jobs: {
        'fetch-github': { tries: 12, backoff: [0.2] },
        'write-review': { tries: 12, backoff: [0.2] },
        notify: { tries: 12, backoff: [0.2] },
        'analysis-failed': { tries: 12, backoff: [0.2] },
      },
    });
    const env = fakeEnv(gh, { ai, config, webhook: hook, GITHUB_TOKEN: TOKEN, OPENAI_API_KEY: API_KEY });
    const batchFile = path.join(tempDir(), 'users.txt');
    fs.writeFileSync(batchFile, list.map((u) => u.login).join('\n'));
    const enq = await gitroast(['--db', db, 'batch', batchFile, '--detach', '--name', 'chaos'], { env });
    expect(enq.code, enq.stderr).toBe(0);

    const logDir = tempDir();
    const logs: string[] = [];
    const start = (slot: Slot) => {
      slot.starts++;
      const log = path.join(logDir, `${slot.name}-${slot.starts}.log`);
      logs.push(log);
      const out = fs.openSync(log, 'w');
      const child = spawn(process.execPath, [BIN, '--db', db, 'daemon', '--log-format', 'json'], { env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
      fs.closeSync(out);
      slot.child = child;
      slot.exited = new Promise((r) => child.on('close', () => r()));
    };
    const conn = new Database(db, { readonly: true });
    conn.pragma('busy_timeout = 5000');
    const progress = () =>
      conn.prepare(`SELECT
          (SELECT count(*) FROM analyses WHERE status = 'completed') AS completed,
          (SELECT count(*) FROM jobs WHERE state IN ('pending', 'delayed', 'reserved')) AS open`).get() as { completed: number; open: number };

    const slots: Slot[] = [{ name: 'a', starts: 0, kills: 0 }, { name: 'b', starts: 0, kills: 0 }];
    let chaos = true;
    const started = (log: string) => fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('"daemon.started"');
    const killer = async (slot: Slot) => {
      while (chaos) {
        start(slot);
        // One kill in ten lands during start-up (opening, migrating, registering); the others
        // 1-3 s after the daemon said it started, so a busy CI machine's slow start-ups do not
        // eat the time it has to work.
        if (random() < 0.1) await sleep(random() * 800);
        else {
          const log = logs.at(-1)!;
          const deadline = Date.now() + 10_000;
          while (!started(log) && Date.now() < deadline && chaos) await sleep(50);
          await sleep(1000 + random() * 2000);
        }
        if (!chaos) break;
        slot.child!.kill('SIGKILL');
        slot.kills++;
        await slot.exited;
      }
    };
    const loops = slots.map(killer);
    let p = progress();
    while (p.open > 0 && Date.now() - t0 < BOUND_MS) {
      await sleep(250);
      p = progress();
    }
    chaos = false;
    await Promise.all(loops);
    // Whatever is left (normally nothing) gets a calm daemon for the rest of the bound.
    const chaosMs = Date.now() - t0;
    for (const s of slots) s.child?.kill('SIGTERM');
    await Promise.all(slots.map((s) => s.exited));
    conn.close();

    const q = new Database(db, { readonly: true });
    const analyses = q.prepare(`SELECT id, status, error FROM analyses`).all() as { id: string; status: string; error: string | null }[];
    const perAnalysis = q.prepare(`
      SELECT a.id, j.name, sum(j.state = 'completed') AS done, count(*) AS n
        FROM analyses a JOIN jobs j ON j.tags LIKE '%"analysis:' || a.id || '"%'
       GROUP BY a.id, j.name`).all() as { id: string; name: string; done: number; n: number }[];
    const attempts = q.prepare(`SELECT name, sum(attempts) AS attempts, count(*) AS jobs, max(attempts) AS worst FROM jobs GROUP BY name`).all() as { name: string; attempts: number; jobs: number; worst: number }[];
    const failed = q.prepare(`SELECT name, error FROM failed_jobs`).all() as { name: string; error: string }[];
    const open = q.prepare(`SELECT count(*) AS n FROM jobs WHERE state NOT IN ('completed')`).get() as { n: number };
    const recoveredErrors = q.prepare(`SELECT count(*) AS n FROM jobs WHERE errors LIKE '%lease lost%'`).get() as { n: number };
    q.close();

    const kills = slots.reduce((s, x) => s + x.kills, 0);
    const byId = new Map<string, number>();
    for (const post of hook.posts) if (post.event === 'analysis.completed') byId.set(post.analysisId, (byId.get(post.analysisId) ?? 0) + 1);
    const duplicates = [...byId.values()].filter((n) => n > 1).length;
    console.info([
      `chaos (seed ${seed}): ${ANALYSES} analyses, ${perAnalysis.reduce((s, r) => s + r.n, 0)} jobs, ${kills} SIGKILLs (${slots.map((s) => `${s.name}: ${s.starts} starts`).join(', ')}) in ${Math.round(chaosMs / 1000)} s`,
      `  attempts by job: ${attempts.map((a) => `${a.name} ${a.attempts}/${a.jobs} (worst ${a.worst})`).join(', ')}; ${recoveredErrors.n} jobs recovered from a killed daemon`,
      `  webhook: ${hook.posts.length} posts for ${byId.size} analyses (${duplicates} told twice: killed between the POST and its commit)`,
      `  failed jobs: ${failed.length} ${JSON.stringify([...new Set(failed.map((f) => `${f.name}: ${f.error}`))].slice(0, 5))}; not completed: ${open.n}; completed analyses: ${analyses.filter((a) => a.status === 'completed').length}`,
    ].join('\n'));

    expect(Date.now() - t0).toBeLessThan(180_000);
    expect(kills).toBeGreaterThanOrEqual(10);
    // Every analysis completed; none lost, none left half-way.
    expect(analyses).toHaveLength(ANALYSES);
    expect(analyses.filter((a) => a.status !== 'completed')).toEqual([]);
    expect(open.n).toBe(0);
    // Exactly once: one completed job of each link per analysis, and never a second copy of a link.
    for (const name of ['fetch-github', 'write-review', 'notify']) {
      const rows = perAnalysis.filter((r) => r.name === name);
      expect(rows, name).toHaveLength(ANALYSES);
      expect(rows.filter((r) => r.done !== 1 || r.n !== 1), name).toEqual([]);
    }
    expect(perAnalysis.filter((r) => r.name === 'analysis-failed')).toEqual([]);
    // No failed job at all (so none unexplained).
    expect(failed).toEqual([]);
    // Every analysis was notified; a repeat is only possible for a kill between POST and commit.
    expect(byId.size).toBe(ANALYSES);
    expect(duplicates).toBeLessThanOrEqual(kills);
    // A receiver that drops repeats by Idempotency-Key is told about each analysis exactly once.
    const keys = new Map<string, Set<string>>();
    for (const post of hook.posts.filter((p) => p.event === 'analysis.completed')) {
      const set = keys.get(post.analysisId) ?? new Set<string>();
      set.add(String(post.headers['idempotency-key']));
      keys.set(post.analysisId, set);
    }
    expect([...keys.entries()].filter(([id, set]) => set.size !== 1 || ![...set][0]!.startsWith(`${id}:`))).toEqual([]);
    expect(integrity(db)).toBe('ok');
    // Killed daemons leave registrations behind; doctor reports them and nothing else.
    const doctor = await gitroast(['--db', db, 'doctor', '--json', '--stale', '1'], { env });
    const checks = (JSON.parse(doctor.stdout) as { checks: { check: string; ok: boolean }[] }).checks;
    expect(checks.filter((c) => !c.ok).map((c) => c.check).filter((c) => c !== 'workers')).toEqual([]);
    // No secret in any log line of any daemon.
    for (const log of logs) {
      const text = fs.readFileSync(log, 'utf8');
      expect(text.includes(TOKEN) || text.includes(API_KEY), log).toBe(false);
    }
  }, 200_000);
});
