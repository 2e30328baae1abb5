import { describe, expect, it } from 'vitest';
import { newbie, organisation, strongDev } from '../fakes/github.js';
import { API_KEY, configFile, jsonLines, world } from './helpers.js';

const SCORE_KEYS = ['community', 'consistency', 'profile', 'projects', 'technical'];

describe('gitroast analyze through the built binary', () => {
  it('reviews a profile with no keys at all: progress on stderr, the offline report on stdout, exit 0', async () => {
    const w = await world([strongDev(Date.now())]);
    const r = await w.run(['analyze', 'adadev']);
    expect(r.stderr).toMatch(/AdaDev: queued[\s\S]*fetching[\s\S]*writing[\s\S]*done \(\d+\/100\)/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^AdaDev \(Ada Dev\) — \d+\/100/);
    for (const part of ['Scores', 'Overall', 'Projects', 'Why these scores', 'Summary', 'Top projects', 'Improvement checklist', "Recruiter's view"]) {
      expect(r.stdout).toContain(part);
    }
    expect(r.stdout).toContain('tracewire');
    expect(r.stdout).toContain('written by the offline writer');
    expect(w.query<{ name: string; state: string }>('SELECT name, state FROM jobs ORDER BY id')).toEqual([
      { name: 'fetch-github', state: 'completed' },
      { name: 'write-review', state: 'completed' },
      { name: 'notify', state: 'completed' },
    ]);
  });

  it('writes the review with the model when OPENAI_API_KEY is set, and --json prints one object per analysis', async () => {
    const now = Date.now();
    const w = await world([strongDev(now), newbie(now)], { apiKey: API_KEY });
    const r = await w.run(['analyze', 'AdaDev', 'newbie-nora', '--json'], { env: { OPENAI_API_KEY: API_KEY } });
    expect(r.code).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => l.username)).toEqual(['AdaDev', 'newbie-nora']);
    for (const l of lines) {
      expect(l).toMatchObject({ status: 'completed', error: null, model: 'gpt-4o-mini' });
      expect(typeof l.id).toBe('string');
      expect(l.overallScore).toEqual(expect.any(Number));
      expect(Object.keys(l.scores as object).sort()).toEqual(SCORE_KEYS);
      expect((l.report as { summary: string }).summary).toContain('(fake model)');
      expect(l.usage).toEqual({ promptTokens: expect.any(Number), completionTokens: expect.any(Number) });
    }
    expect(w.ai!.requests).toHaveLength(2);
    expect(w.ai!.requests[0]!.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it('fails an unknown user with a clear reason, exit 1, and asks GitHub once', async () => {
    const w = await world([]);
    const r = await w.run(['analyze', 'ghost-user-404']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no GitHub user named ghost-user-404');
    expect(r.stdout).toBe('');
    expect(w.gh.requests.filter((q) => q.path.startsWith('/users/ghost-user-404'))).toHaveLength(1);
    expect(w.query<{ attempts: number }>("SELECT attempts FROM jobs WHERE name = 'fetch-github'")).toEqual([{ attempts: 1 }]);
    const list = await w.run(['list', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ username: 'ghost-user-404', status: 'failed', error: 'no GitHub user named ghost-user-404' })]);
  });

  it('refuses organisations clearly', async () => {
    const w = await world([organisation(Date.now())]);
    const r = await w.run(['analyze', 'acme-corp', '--json']);
    expect(r.code).toBe(1);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('organisation') });
  });

  it('delays a rate-limited answer until the reset without spending an attempt', async () => {
    const w = await world([newbie(Date.now())]);
    const reset = Math.ceil(Date.now() / 1000) + 2;
    w.gh.fault('/users/newbie-nora', [{
      status: 403,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-used': '60', 'x-ratelimit-reset': String(reset) },
      body: { message: 'API rate limit exceeded for 127.0.0.1.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api' },
    }]);
    const r = await w.run(['analyze', 'newbie-nora', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/waiting until .*rate limit/);
    const userCalls = w.gh.requests.filter((q) => q.path === '/users/newbie-nora');
    expect(userCalls.map((q) => q.status)).toEqual([403, 200]);
    expect(w.gh.requests.indexOf(userCalls[1]!)).toBeGreaterThan(0);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ status: 'completed' });
    expect(w.query("SELECT attempts, state FROM jobs WHERE name = 'fetch-github'")).toEqual([{ attempts: 1, state: 'completed' }]);
  });

  it('checks every username before enqueueing anything (exit 2) and honours the deny list before any request', async () => {
    const w = await world([strongDev(Date.now())]);
    const bad = await w.run(['analyze', 'adadev', 'not a user!', '--detach']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid GitHub username "not a user!"');
    const denied = await w.run(['analyze', 'adadev'], { env: { GITROAST_CONFIG: configFile({ denyList: ['AdaDev'] }) } });
    expect(denied.code).toBe(2);
    expect(denied.stderr).toContain('adadev is on the deny list');
    expect(w.gh.requests).toHaveLength(0);
    expect(w.query('SELECT id FROM jobs')).toEqual([]);
    expect(w.query('SELECT id FROM analyses')).toEqual([]);
    const queue = await w.run(['analyze', 'adadev', '--queue', 'urgent']);
    expect(queue.code).toBe(2);
  });

  it('--detach returns at once; one analysis per login at a time; a fresh one is returned unless --force', async () => {
    const w = await world([newbie(Date.now())]);
    const d = await w.run(['analyze', 'newbie-nora', '--detach', '--json']);
    expect(d.code).toBe(0);
    const [queued] = jsonLines(d.stdout);
    expect(queued).toMatchObject({ status: 'pending', stage: 'queued', overallScore: null });
    expect(w.gh.requests).toHaveLength(0);
    // A second analyze follows the pending one (and runs it here: no daemon is alive).
    const follow = await w.run(['analyze', 'NEWBIE-NORA', '--json']);
    expect(follow.code).toBe(0);
    expect(follow.stderr).toContain('already pending');
    expect(jsonLines(follow.stdout)[0]).toMatchObject({ id: queued!.id, status: 'completed' });
    const requests = w.gh.requests.length;
    const again = await w.run(['analyze', 'newbie-nora', '--json']);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('use --force');
    expect(jsonLines(again.stdout)[0]).toMatchObject({ id: queued!.id });
    expect(w.gh.requests).toHaveLength(requests);
    const forced = await w.run(['analyze', 'newbie-nora', '--force', '--json']);
    expect(jsonLines(forced.stdout)[0]!.id).not.toBe(queued!.id);
    expect(w.query('SELECT id FROM analyses')).toHaveLength(2);
  });
});
