import { describe, expect, it } from 'vitest';
import { strongDev } from '../fakes/github.js';
import { spawnDaemon } from '../daemon/support.js';
import { waitFor } from '../support/tmp.js';
import { jsonLines, world } from './helpers.js';

describe('gitroast analyze with a daemon running', () => {
  it('leaves the jobs to the daemon, which runs the analysis handlers it registered itself', async () => {
    const w = await world([strongDev(Date.now())]);
    const env = { GITROAST_GITHUB_API_URL: w.gh.url, GITHUB_TOKEN: '', OPENAI_API_KEY: '', GITROAST_HANDLERS: '' };
    const daemon = spawnDaemon(w.db, ['--concurrency', '4'], env);
    await daemon.waitLog('daemon.started');
    const r = await w.run(['analyze', 'adadev', '--json']);
    expect(r.code).toBe(0);
    const [out] = jsonLines(r.stdout);
    expect(out).toMatchObject({ username: 'AdaDev', status: 'completed' });
    // Every job of the chain was claimed by the daemon, not run inline by the CLI.
    await waitFor(() => daemon.count('job.completed', (l) => l.name === 'notify') === 1, 10_000, 'notify completed by the daemon');
    for (const name of ['fetch-github', 'write-review', 'notify']) expect(daemon.count('job.completed', (l) => l.name === name)).toBe(1);
    // Each link ran once, on its first attempt, and was recorded as finished.
    const jobs = w.query<{ name: string; state: string; attempts: number; finished_at: number | null }>(
      'SELECT name, state, attempts, finished_at FROM jobs ORDER BY id',
    );
    expect(jobs.map(({ name, state, attempts }) => ({ name, state, attempts }))).toEqual(
      ['fetch-github', 'write-review', 'notify'].map((name) => ({ name, state: 'completed', attempts: 1 })),
    );
    for (const j of jobs) expect(j.finished_at).toEqual(expect.any(Number));
    const [analysis] = w.query<{ status: string; stage: string; overall: number | null; report: string | null }>(
      'SELECT status, stage, overall, report FROM analyses',
    );
    expect(analysis).toMatchObject({ status: 'completed', stage: 'done', overall: expect.any(Number), report: expect.stringMatching(/\S/) });
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
  }, 60_000);
});
