import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  budgetNotice, COLD_ANALYSIS, describeBudget, estimateFinish, GITHUB_HOURLY, holdIfSpent, listBudgets, reviewsPerHour, SqliteBudget,
} from '../../src/analysis/budget.js';
import { collectProfile, GitHubRateLimitError, SqliteHttpCache, tokenIdentity, type CollectOptions } from '../../src/analysis/github.js';
import { projectQuality, scoreProfile } from '../../src/analysis/score.js';
import type { ProfileSnapshot } from '../../src/analysis/snapshot.js';
import { queueMigrations } from '../../src/queue/migrations.js';
import { listHolds } from '../../src/queue/index.js';
import { enqueueAnalysis, registerAnalysis } from '../../src/analysis/jobs.js';
import { openAppDb } from '../../src/cli/db.js';
import { Registry, startWorker } from '../../src/daemon/index.js';
import { tempDbPath, waitFor } from '../support/tmp.js';
import {
  allForks, cleanTwin, daysAgo, escapeBio, injected, newbie, startFakeGitHub, strongDev, type FakeGitHub, type FakeUser,
} from '../fakes/github.js';
import { NOW, openTempDb, type TempDb } from './helpers.js';

/** Issue 18: GitHub's rate limit spent like the scarce thing it is. */
const TOKEN = 'ghp_BudgetSecretTokenValue1234567890abcd';

/** A user whose top project's README is README.adoc (not asked for by name) and who owns 130 repositories. */
function rstAndMany(now: number): FakeUser {
  const u = strongDev(now);
  u.login = 'rst-rita';
  u.repos = [
    ...u.repos!.map((r) => (r.name === 'tracewire' ? { ...r, readmeName: 'README.adoc' } : r)),
    ...Array.from({ length: 122 }, (_, i) => ({ name: `extra-${i}`, pushedAt: daysAgo(now, 400 + i), createdAt: daysAgo(now, 900), size: 10, language: 'C' })),
  ];
  return u;
}

const PROFILES: ((now: number) => FakeUser)[] = [strongDev, newbie, allForks, injected, cleanTwin, escapeBio, rstAndMany];

let gh: FakeGitHub;
let t: TempDb;
let opts: (extra?: Partial<CollectOptions>) => CollectOptions;

beforeEach(async () => {
  gh = await startFakeGitHub({ now: NOW, users: PROFILES.map((p) => p(NOW)) });
  t = openTempDb();
  opts = (extra = {}) => ({ baseUrl: gh.url, cache: new SqliteHttpCache(t.db), now: () => NOW, ...extra });
});
afterEach(async () => {
  await gh.close();
  t.close();
});

/** The facts a snapshot holds, without how they were fetched (and without what only the REST path keeps of other repos' topics). */
function facts(s: ProfileSnapshot) {
  const rest: Partial<ProfileSnapshot> = { ...s };
  for (const k of ['requests', 'restRequests', 'graphqlQueries', 'graphqlCost', 'via', 'rateLimit'] as const) delete rest[k];
  // REST says null for "not hireable", GraphQL false: the scorer reads only true.
  return { ...rest, user: { ...s.user, hireable: s.user.hireable === true } };
}

describe('the GraphQL path and the REST path', () => {
  it.each(PROFILES.map((p) => [p(NOW).login]))('collect the same facts and the same scores for %s', async (login) => {
    const rest = await collectProfile(login, opts({ token: TOKEN, via: 'rest' }));
    const graphql = await collectProfile(login, opts({ token: TOKEN }));
    expect(rest.via).toBe('rest');
    expect(graphql.via).toBe('graphql');
    expect(facts(graphql)).toEqual(facts(rest));
    expect(scoreProfile(graphql, NOW)).toEqual(scoreProfile(rest, NOW));
  });

  it('read a README GraphQL was not asked for by name over REST, at its real size', async () => {
    const snap = await collectProfile('rst-rita', opts({ token: TOKEN }));
    expect(snap.repos.find((r) => r.name === 'tracewire')!.readmeLength).toBe(4200);
    expect(gh.requests.filter((r) => r.method === 'GET').map((r) => r.path.split('?')[0]).sort()).toEqual(['/repos/rst-rita/tracewire/readme', '/users/rst-rita/events/public']);
  });
});

describe('what a cold analysis costs', () => {
  it.each(PROFILES.map((p) => [p(NOW).login]))('with a token, %s: at most 2 GraphQL points (rateLimit.cost) and 2 REST requests', async (login) => {
    const snap = await collectProfile(login, opts({ token: TOKEN }));
    const posts = gh.requests.filter((r) => r.method === 'POST').length;
    const gets = gh.requests.filter((r) => r.method === 'GET').length;
    const points = gh.graphqlQueries.reduce((a, q) => a + q.cost, 0);
    // One more page of repositories is one more query (rst-rita owns 130).
    expect(points).toBeLessThanOrEqual(login === 'rst-rita' ? 3 : COLD_ANALYSIS.token.graphqlPoints);
    expect(gets).toBeLessThanOrEqual(2);
    expect(snap).toMatchObject({ graphqlQueries: posts, graphqlCost: points, restRequests: gets });
    expect(gh.graphqlRemaining(TOKEN)).toBe(GITHUB_HOURLY.graphqlPoints - points);
  });

  it.each(PROFILES.map((p) => [p(NOW).login]))('without a token, %s: at most 4 REST requests and no GraphQL', async (login) => {
    const snap = await collectProfile(login, opts());
    expect(gh.requests.length).toBeLessThanOrEqual(COLD_ANALYSIS.anon.rest);
    expect(gh.requests.every((r) => r.method === 'GET')).toBe(true);
    expect(snap).toMatchObject({ via: 'rest-lean', restRequests: gh.requests.length, graphqlQueries: 0 });
  });

  it('without a token, the top projects are marked not measured, never scored as missing', async () => {
    const lean = await collectProfile('adadev', opts());
    const full = await collectProfile('adadev', opts({ token: TOKEN }));
    const card = scoreProfile(lean, NOW);
    expect(card.signals.find((s) => s.id === 'technical.hygiene')).toMatchObject({ available: false, evidence: 'top projects were not inspected' });
    expect(card.dealBreakers.map((d) => d.id)).not.toContain('top_project_no_readme');
    const tracewire = lean.repos.find((r) => r.name === 'tracewire')!;
    expect(tracewire.readmeLength).toBeNull();
    expect(projectQuality(tracewire, NOW).evidence).toContain('README not checked');
    // A full README (4,200 bytes, over the 2,000 cap) is worth 0.25: unknown scales the rest up instead of scoring 0.
    const known = projectQuality(full.repos.find((r) => r.name === 'tracewire')!, NOW).value;
    expect(projectQuality(tracewire, NOW).value).toBeCloseTo((known - 0.25) / 0.75, 10);
  });
});

describe('the budget', () => {
  it('says what the budget means, from the per-analysis counts and the limits', () => {
    expect(reviewsPerHour(false)).toBe(15);
    expect(reviewsPerHour(true)).toBe(2500);
    expect(budgetNotice(false)).toBe('no GITHUB_TOKEN: about 15 reviews an hour; set GITHUB_TOKEN for about 2,500');
  });

  it('is recorded per token fingerprint and resource from the answers, never the token', async () => {
    const budget = new SqliteBudget(t.db);
    await collectProfile('adadev', opts({ token: TOKEN, budget }));
    await collectProfile('newbie-nora', opts({ budget }));
    const rows = t.db.prepare('SELECT * FROM github_budget ORDER BY fingerprint, resource').all();
    expect(JSON.stringify(rows)).not.toContain(TOKEN.slice(4, 20));
    const views = listBudgets(t.db, NOW);
    const tok = views.find((v) => v.fingerprint === tokenIdentity(TOKEN))!;
    expect(tok.rest).toEqual({ limit: 5000, remaining: 4999, resetAt: (Math.floor(NOW / 1000) + 3600) * 1000 });
    expect(tok.graphql).toMatchObject({ limit: 5000, remaining: 4998 });
    expect(tok.affordable).toBe(2499);
    const anon = views.find((v) => v.fingerprint === 'anon')!;
    expect(anon.rest!.remaining).toBe(60 - 3);
    expect(anon.affordable).toBe(14);
    expect(describeBudget(tok, NOW)).toMatch(/^tok-[0-9a-f]{16}: REST 4,999\/5,000, GraphQL 4,998\/5,000 left; resets \d\d:\d\d UTC; about 2,499 analyses affordable/);
  });

  it('holds fetch-github until the reset once the budget cannot pay for one more analysis, and not before', async () => {
    for (const sql of queueMigrations) t.db.exec(sql);
    const budget = new SqliteBudget(t.db);
    gh.setRemaining('anon', 7);
    await collectProfile('newbie-nora', opts({ budget }));
    expect(holdIfSpent(t.db, 'fetch-github', 'anon', NOW)).toBeUndefined();
    await collectProfile('forky-fred', opts({ budget }));
    const until = holdIfSpent(t.db, 'fetch-github', 'anon', NOW);
    expect(until).toBe((Math.floor(NOW / 1000) + 3600) * 1000);
    expect(listHolds(t.db, NOW)).toEqual([expect.objectContaining({ name: 'fetch-github', until, reason: expect.stringMatching(/^GitHub rate limit of anon spent \(REST 1\/60 left/) })]);
  });

  it('names the resource of a spent limit: a GraphQL RATE_LIMITED answer, and a REST 403', async () => {
    gh.setGraphqlRemaining(TOKEN, 1);
    const err = await collectProfile('adadev', opts({ token: TOKEN })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitHubRateLimitError);
    expect((err as GitHubRateLimitError).resource).toBe('graphql');
    gh.setRemaining('anon', 0);
    const rest = await collectProfile('adadev', opts()).catch((e: unknown) => e);
    expect((rest as GitHubRateLimitError).resource).toBe('core');
  });

  it('fetch-github: a spent limit holds every fetch job until the reset, and this one goes back delayed, not reserved', async () => {
    const db = openAppDb(tempDbPath());
    try {
      const reset = Math.floor(Date.now() / 1000) + 1800;
      gh.fault('/users/newbie-nora', [{ rateLimited: true, reset }]);
      const registry = new Registry();
      registerAnalysis(registry, { db, env: () => ({ GITROAST_GITHUB_API_URL: gh.url }), config: () => ({ denyList: [] }) });
      const id = enqueueAnalysis(db, 'newbie-nora', { denyList: [] }).analysis.id;
      enqueueAnalysis(db, 'adadev', { denyList: [] });
      const w = startWorker(db, registry, { queues: ['default'], concurrency: 1, watch: false });
      try {
        await waitFor(() => listHolds(db).length > 0, 10_000, 'the hold');
        // Time for the worker to claim the next one, were it not held.
        await new Promise((r) => setTimeout(r, 300));
      } finally {
        await w.stop({ graceMs: 1000 });
      }
      expect(listHolds(db)).toEqual([expect.objectContaining({ name: 'fetch-github', until: reset * 1000, reason: expect.stringContaining('GitHub rate limit exhausted') })]);
      expect(listHolds(db)[0]!.reason).toContain('(anon)');
      const jobs = db.prepare(`SELECT name, state, attempts, available_at AS at, payload FROM jobs WHERE name = 'fetch-github' ORDER BY id`).all() as { state: string; attempts: number; at: number; payload: string }[];
      expect(jobs.map((j) => [j.state, j.attempts])).toEqual([['delayed', 0], ['pending', 0]]);
      expect(jobs[0]!.at).toBe(reset * 1000);
      expect(JSON.parse(jobs[0]!.payload)).toMatchObject({ analysisId: id });
    } finally {
      db.close();
    }
  });

  it('estimates when a batch finishes from the budget left and the hourly rate', () => {
    const budget = new SqliteBudget(t.db);
    const reset = NOW + 30 * 60_000;
    budget.record('anon', [{ resource: 'core', limit: 60, remaining: 8, resetAt: reset, used: 52 }], NOW);
    // 2 now (8 requests), 28 more at 15 an hour after the reset.
    expect(estimateFinish(t.db, 30, false, 'anon', NOW)).toBe(reset + (28 / 15) * 3_600_000);
    expect(estimateFinish(undefined, 30, false, 'anon', NOW)).toBe(NOW + 2 * 3_600_000);
  });
});
