import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  collectProfile,
  graphqlUrl,
  SqliteHttpCache,
  tokenIdentity,
  validateLogin,
  type CollectOptions,
} from '../../src/analysis/github.js';
import { DelayError, PermanentError } from '../../src/queue/errors.js';
import {
  allForks,
  escapeBio,
  newbie,
  organisation,
  startFakeGitHub,
  strongDev,
  type FakeGitHub,
} from '../fakes/github.js';
import { NOW, openTempDb, type TempDb } from './helpers.js';

const TOKEN = 'ghp_SuperSecretTokenValue1234567890abcd';
let gh: FakeGitHub;
let t: TempDb;
let opts: (extra?: Partial<CollectOptions>) => CollectOptions;

beforeEach(async () => {
  gh = await startFakeGitHub({ now: NOW, users: [strongDev(NOW), newbie(NOW), allForks(NOW), organisation(NOW), escapeBio(NOW)] });
  t = openTempDb();
  const cache = new SqliteHttpCache(t.db);
  opts = (extra = {}) => ({ baseUrl: gh.url, cache, now: () => NOW, ...extra });
});
afterEach(async () => {
  await gh.close();
  t.close();
});

describe('collectProfile', () => {
  it('collects a profile cold in 2 GraphQL queries and 1 REST request with the API version, user agent and token', async () => {
    const snap = await collectProfile('adadev', opts({ token: TOKEN }));
    expect(snap.requests).toBe(gh.requests.length);
    expect(snap.via).toBe('graphql');
    expect(gh.requests.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual(['/graphql', '/graphql']);
    expect(gh.requests.filter((r) => r.method === 'GET').map((r) => r.path.split('?')[0])).toEqual(['/users/AdaDev/events/public']);
    expect(snap).toMatchObject({ restRequests: 1, graphqlQueries: 2, graphqlCost: 2 });
    expect(gh.graphqlQueries.map((q) => q.cost)).toEqual([1, 1]);
    expect(snap.user.login).toBe('AdaDev');
    for (const r of gh.requests) {
      expect(r.headers.authorization).toBe(`token ${TOKEN}`);
      expect(r.headers['x-github-api-version']).toBe('2022-11-28');
      expect(r.headers['user-agent']).toMatch(/^gitroast\//);
    }
  });

  it('collects a profile cold over REST in at most 15 requests (via "rest")', async () => {
    const snap = await collectProfile('adadev', opts({ token: TOKEN, via: 'rest' }));
    expect(snap.requests).toBe(gh.requests.length);
    expect(gh.requests.length).toBeLessThanOrEqual(15);
    expect(snap.user.login).toBe('AdaDev');
    for (const r of gh.requests) {
      expect(r.headers.authorization).toBe(`token ${TOKEN}`);
      expect(r.headers['x-github-api-version']).toBe('2022-11-28');
      expect(r.headers['user-agent']).toMatch(/^gitroast\//);
    }
    expect(gh.requests.filter((r) => r.method === 'POST' && r.path === '/graphql')).toHaveLength(1);
    expect(gh.requests.find((r) => r.path.startsWith('/users/AdaDev/repos'))?.path).toMatch(/type=owner.*sort=pushed.*per_page=100/);
  });

  it('returns a trimmed snapshot with repos, READMEs, events and GraphQL data', async () => {
    const snap = await collectProfile('AdaDev', opts({ token: TOKEN }));
    const tracewire = snap.repos.find((r) => r.name === 'tracewire')!;
    expect(tracewire).toMatchObject({ language: 'Go', stars: 1200, forks: 140, license: 'MIT', fork: false, readmeLength: 4200 });
    expect(tracewire.rootFiles).toContain('.github');
    expect(snap.repos.find((r) => r.name === 'rust-kv')?.readmeLength).toBeNull();
    expect(snap.profileReadme?.length).toBe(2100);
    expect(snap.events.externalRepos).toEqual(['golang/go', 'kubernetes/kubernetes']);
    expect(snap.events.daysActive).toBeGreaterThan(10);
    expect(snap.graphql).toMatchObject({ pinned: expect.arrayContaining(['tracewire']), organizations: 2, repositoriesContributedTo: 14 });
    expect(snap.graphql!.calendar).toHaveLength(365);
    expect(snap.rateLimit).toEqual({ remaining: 5000 - snap.restRequests!, reset: Math.floor(NOW / 1000) + 3600, used: snap.restRequests });
  });

  it('leaves the <login>/<login> profile repository out of the projects', async () => {
    const snap = await collectProfile('adadev', opts());
    expect(snap.repos.map((r) => r.name)).not.toContain('AdaDev');
  });

  it('skips GraphQL without a token and sends no authorization header', async () => {
    const snap = await collectProfile('newbie-nora', opts());
    expect(snap.graphql).toBeNull();
    expect(gh.requests.some((r) => r.path.includes('graphql'))).toBe(false);
    expect(gh.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it('serves a repeat from 304s that cost no primary rate limit with a token (via "rest")', async () => {
    await collectProfile('adadev', opts({ token: TOKEN, via: 'rest' }));
    const before = gh.remaining(TOKEN);
    gh.clearLog();
    const again = await collectProfile('adadev', opts({ token: TOKEN, via: 'rest' }));
    const rest = gh.requests.filter((r) => r.method === 'GET');
    expect(rest.length).toBeGreaterThan(5);
    expect(rest.every((r) => r.status === 304 && r.headers['if-none-match']?.startsWith('W/"'))).toBe(true);
    expect(gh.remaining(TOKEN)).toBe(before);
    expect(again.repos.find((r) => r.name === 'tracewire')?.readmeLength).toBe(4200);
  });

  it('keeps cached answers apart per token, because ETags are bound to the token', async () => {
    await collectProfile('newbie-nora', opts({ token: TOKEN }));
    gh.clearLog();
    await collectProfile('newbie-nora', opts({ token: 'ghp_other' }));
    expect(gh.requests.every((r) => r.headers['if-none-match'] === undefined)).toBe(true);
  });

  it('never writes the token to the http_cache table', async () => {
    await collectProfile('adadev', opts({ token: TOKEN, via: 'rest' }));
    await collectProfile('newbie-nora', opts({ token: TOKEN }));
    const rows = t.db.prepare('SELECT key, etag, body FROM http_cache').all() as Record<string, string>[];
    expect(rows.length).toBeGreaterThan(5);
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(TOKEN);
    expect(dump).not.toContain(TOKEN.slice(4, 20));
    expect(rows.every((r) => r.key!.startsWith(`${tokenIdentity(TOKEN)} `))).toBe(true);
  });

  it('turns a 404 on the user into a PermanentError without retrying', async () => {
    const err = await collectProfile('ghost-user', opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toBe('no GitHub user named ghost-user');
    expect(gh.requests).toHaveLength(1);
  });

  it('refuses organisations with a PermanentError that says why', async () => {
    const err = await collectProfile('ACME-CORP', opts({ token: TOKEN })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toBe('acme-corp is an organisation; gitroast reviews user profiles only');
    expect(gh.requests).toHaveLength(1);
  });

  it('turns an exhausted primary rate limit into a DelayError at the reset time', async () => {
    const reset = Math.floor(NOW / 1000) + 1234;
    gh.fault('/users/newbie-nora', [{ rateLimited: true, reset }]);
    const err = await collectProfile('newbie-nora', opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DelayError);
    expect((err as DelayError).until).toBe(reset * 1000);
  });

  it('treats a 429 with remaining 0 as the primary limit too', async () => {
    const reset = Math.floor(NOW / 1000) + 99;
    gh.fault('/users/newbie-nora/events/public', [{ rateLimited: true, reset, status: 429 }]);
    const err = await collectProfile('newbie-nora', opts()).catch((e: unknown) => e);
    expect((err as DelayError).until).toBe(reset * 1000);
  });

  it('honours retry-after on a secondary rate limit', async () => {
    gh.fault('/users/newbie-nora/repos', [{ secondary: true, retryAfter: 42 }]);
    const err = await collectProfile('newbie-nora', opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DelayError);
    expect((err as DelayError).until).toBe(NOW + 42_000);
  });

  it('waits 60 seconds on a secondary rate limit without retry-after', async () => {
    gh.fault('/users/newbie-nora', [{ secondary: true, status: 429 }]);
    const err = await collectProfile('newbie-nora', opts()).catch((e: unknown) => e);
    expect((err as DelayError).until).toBe(NOW + 60_000);
  });

  it('turns a GraphQL RATE_LIMITED error into a DelayError', async () => {
    const reset = Math.floor(NOW / 1000) + 500;
    gh.fault('/graphql', [{ status: 200, body: { errors: [{ type: 'RATE_LIMITED', message: 'API rate limit exceeded for user ID 1.' }] }, headers: { 'x-ratelimit-reset': String(reset), 'x-ratelimit-resource': 'graphql' } }]);
    const err = await collectProfile('adadev', opts({ token: TOKEN })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DelayError);
    expect((err as DelayError).until).toBe(reset * 1000);
  });

  it('makes a 5xx a plain retryable error that names the status, and succeeds once it clears', async () => {
    gh.fault('/users/newbie-nora', [{ status: 502 }, { status: 500 }]);
    for (const status of [502, 500]) {
      const err = (await collectProfile('newbie-nora', opts()).catch((e: unknown) => e)) as Error;
      expect(err).not.toBeInstanceOf(PermanentError);
      expect(err).not.toBeInstanceOf(DelayError);
      expect(err.message).toBe(`GitHub answered ${status} for /users/newbie-nora; will retry`);
    }
    await expect(collectProfile('newbie-nora', opts())).resolves.toMatchObject({ user: { login: 'newbie-nora' } });
  });

  it('makes a dropped connection a retryable error that names the host', async () => {
    gh.fault('/users/newbie-nora', [{ drop: true }]);
    const err = (await collectProfile('newbie-nora', opts()).catch((e: unknown) => e)) as Error;
    expect(err).not.toBeInstanceOf(PermanentError);
    expect(err.message).toContain(`could not reach GitHub at ${gh.url}`);
  });

  it('aborts a slow answer through the signal', async () => {
    gh.fault('/users/newbie-nora', [{ delayMs: 2000 }]);
    const err = await collectProfile('newbie-nora', opts({ signal: AbortSignal.timeout(100) })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentError);
  });

  it('rejects a bad token permanently', async () => {
    await gh.close();
    gh = await startFakeGitHub({ now: NOW, users: [newbie(NOW)], tokens: ['good'] });
    const err = await collectProfile('newbie-nora', opts({ baseUrl: gh.url, token: 'bad' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).not.toContain('bad');
  });

  it('reads at most maxRepoPages pages and says the list was truncated', async () => {
    const many = newbie(NOW);
    many.login = 'many-repos';
    many.repos = Array.from({ length: 250 }, (_, i) => ({ name: `r${i}`, pushedAt: new Date(NOW - i * 1000).toISOString(), createdAt: new Date(NOW - 1e9).toISOString(), size: 1 }));
    gh.addUser(many);
    const snap = await collectProfile('many-repos', opts({ maxRepoPages: 2, token: TOKEN, via: 'rest' }));
    expect(snap.repos).toHaveLength(200);
    expect(snap.reposTruncated).toBe(true);
    expect(gh.requests.filter((r) => r.path.startsWith('/users/many-repos/repos'))).toHaveLength(2);
    gh.clearLog();
    const viaGraphql = await collectProfile('many-repos', opts({ maxRepoPages: 2, token: TOKEN }));
    expect(viaGraphql.repos.map((r) => r.name)).toEqual(snap.repos.map((r) => r.name));
    expect(viaGraphql.reposTruncated).toBe(true);
    // The profile query carries page 1; one more query per page.
    expect(gh.requests.filter((r) => r.method === 'POST')).toHaveLength(3);
  });

  it('reads one page of repositories without a token (the token-less budget)', async () => {
    const many = newbie(NOW);
    many.login = 'many-anon';
    many.repos = Array.from({ length: 150 }, (_, i) => ({ name: `r${i}`, pushedAt: new Date(NOW - i * 1000).toISOString(), createdAt: new Date(NOW - 1e9).toISOString(), size: 1 }));
    gh.addUser(many);
    const snap = await collectProfile('many-anon', opts());
    expect(snap.repos).toHaveLength(100);
    expect(snap.reposTruncated).toBe(true);
    expect(gh.requests.length).toBeLessThanOrEqual(4);
  });

  it('reads all three pages when there are up to 300 repositories', async () => {
    const many = newbie(NOW);
    many.login = 'lots';
    many.repos = Array.from({ length: 201 }, (_, i) => ({ name: `r${i}`, pushedAt: new Date(NOW - i * 1000).toISOString(), createdAt: new Date(NOW - 1e9).toISOString(), size: 1 }));
    gh.addUser(many);
    const snap = await collectProfile('lots', opts({ token: TOKEN, via: 'rest' }));
    expect(snap.repos).toHaveLength(201);
    expect((await collectProfile('lots', opts({ token: TOKEN }))).repos).toHaveLength(201);
    expect(snap.reposTruncated).toBe(false);
  });

  it('strips terminal control sequences from profile text', async () => {
    const snap = await collectProfile('esc-eve', opts());
    const text = JSON.stringify([snap.user, snap.repos]);
    expect(text).not.toMatch(/\\u001b|\\u0007|\\u009b/);
    expect(snap.user.name).toBe('Eve');
    expect(snap.user.bio).toContain('Red dev');
  });

  it('rejects an invalid login before any request', async () => {
    await expect(collectProfile('../etc/passwd', opts())).rejects.toBeInstanceOf(PermanentError);
    expect(gh.requests).toHaveLength(0);
  });

  it('uses /api/graphql for a GitHub Enterprise base URL', async () => {
    await gh.close();
    gh = await startFakeGitHub({ now: NOW, prefix: '/api/v3', users: [strongDev(NOW)] });
    const snap = await collectProfile('adadev', opts({ baseUrl: gh.url, token: TOKEN }));
    expect(snap.graphql).not.toBeNull();
    expect(gh.requests.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual(['/api/graphql', '/api/graphql']);
    expect(gh.requests.filter((r) => r.method === 'GET').every((r) => r.path.startsWith('/api/v3/'))).toBe(true);
  });
});

describe('validateLogin', () => {
  it.each(['octocat', 'a', 'A-B', 'foo-', 'double--hyphen', 'x'.repeat(39)])('accepts %s', (login) => {
    expect(validateLogin(login)).toBeUndefined();
  });

  it.each(['', 'x'.repeat(40), 'has space', 'dot.name', 'under_score', 'ünïcode', 'a/b'])('rejects %j naming the value and the rule', (login) => {
    const msg = validateLogin(login);
    expect(msg).toContain(JSON.stringify(login.slice(0, 60)));
    expect(msg).toContain('1–39 letters, digits or hyphens');
  });

  it('does not echo terminal escapes from the value', () => {
    expect(validateLogin('\u001b[31mred')).not.toContain('\u001b');
  });
});

describe('graphqlUrl', () => {
  it('puts GraphQL at /graphql for github.com and /api/graphql for Enterprise', () => {
    expect(graphqlUrl('https://api.github.com')).toBe('https://api.github.com/graphql');
    expect(graphqlUrl('https://ghe.example.com/api/v3/')).toBe('https://ghe.example.com/api/graphql');
  });
});
