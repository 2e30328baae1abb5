import { afterEach, describe, expect, it } from 'vitest';
import { SqliteBudget, tokenIdentity } from '../../src/analysis/budget.js';
import { openAppDb } from '../../src/cli/db.js';
import { enqueueMany, holdJobs, type Db } from '../../src/queue/index.js';
import { tempDbPath, waitFor } from '../support/tmp.js';
import { FAST, spawnDaemon, writeConfig, writeHandlers } from './support.js';

/** Issue 18: /health shows the holds and GitHub's budget per token fingerprint; held jobs stay pending while other work runs. */
const opened: Db[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

describe('a daemon with fetch-github held', () => {
  it('runs other work, leaves the held jobs pending (no attempt, no lease), and /health shows the hold and the budget', async () => {
    const dbPath = tempDbPath();
    const db = openAppDb(dbPath);
    opened.push(db);
    const now = Date.now();
    const fingerprint = tokenIdentity('ghp_healthTokenValue');
    new SqliteBudget(db).record(fingerprint, [
      { resource: 'core', limit: 5000, remaining: 0, resetAt: now + 3_600_000, used: 5000 },
      { resource: 'graphql', limit: 5000, remaining: 4000, resetAt: now + 3_600_000, used: 1000 },
    ], now);
    holdJobs(db, 'fetch-github', now + 3_600_000, 'GitHub rate limit spent', now);
    enqueueMany(db, [{ name: 'fetch-github' }, { name: 'noop' }]);
    const d = spawnDaemon(dbPath, ['--config', writeConfig(FAST), '--http', '127.0.0.1:0'], { GITROAST_HANDLERS: writeHandlers() });
    const listening = await d.waitLog('http.listening');
    await waitFor(() => (db.prepare(`SELECT state FROM jobs WHERE name = 'noop'`).get() as { state: string }).state === 'completed', 10_000, 'the other job');
    expect(db.prepare(`SELECT state, attempts FROM jobs WHERE name = 'fetch-github'`).get()).toEqual({ state: 'pending', attempts: 0 });
    const body = (await (await fetch(`http://127.0.0.1:${listening.port as number}/health`)).json()) as {
      holds: { name: string; waiting: number; reason: string }[];
      github: { fingerprint: string; affordable: number; rest: { remaining: number } }[];
    };
    expect(body.holds).toEqual([expect.objectContaining({ name: 'fetch-github', waiting: 1, reason: 'GitHub rate limit spent' })]);
    expect(body.github).toEqual([expect.objectContaining({ fingerprint, affordable: 0, rest: expect.objectContaining({ remaining: 0 }) })]);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });
});
