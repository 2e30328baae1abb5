import { afterEach, describe, expect, it } from 'vitest';
import { collectProfile, SqliteHttpCache, tokenIdentity, UnreadableAnswerError, type CollectOptions } from '../../src/analysis/github.js';
import { LIMITS, truncateText } from '../../src/analysis/limits.js';
import { DelayError, PermanentError } from '../../src/queue/errors.js';
import { startFakeGitHub, strongDev, type FakeGitHub, type FakeUser } from '../fakes/github.js';
import { NOW, openTempDb, type TempDb } from './helpers.js';

/** Untrusted sizes and shapes in GitHub answers, at the collector (issue #9, item 3). */
const TOKEN = 'ghp_SizesSecretTokenValue1234567890abcd';
const MB10 = 10 * 1024 * 1024;
let gh: FakeGitHub;
let t: TempDb;
let opts: (extra?: Partial<CollectOptions>) => CollectOptions;

async function setUp(user: FakeUser): Promise<void> {
  gh = await startFakeGitHub({ now: NOW, users: [user] });
  t = openTempDb();
  const cache = new SqliteHttpCache(t.db);
  opts = (extra = {}) => ({ baseUrl: gh.url, cache, now: () => NOW, ...extra });
}
afterEach(async () => {
  await gh?.close();
  t?.close();
});

/** Collect and return the error it fails with (the test fails when it does not). */
async function failure(login: string, extra?: Partial<CollectOptions>): Promise<Error> {
  const err = await collectProfile(login, opts(extra)).then(() => undefined, (e: unknown) => e as Error);
  expect(err, 'collectProfile should have failed').toBeInstanceOf(Error);
  return err!;
}

function expectRetryable(err: Error): void {
  expect(err).not.toBeInstanceOf(PermanentError);
  expect(err).not.toBeInstanceOf(DelayError);
}

describe('oversized fields', () => {
  it('reads a 10 MB bio, truncated to 1,000 characters, and goes on to the user\'s repositories', async () => {
    const user = strongDev(NOW);
    user.bio = `Engineer. ${'x'.repeat(MB10)}`;
    await setUp(user);
    const snap = await collectProfile('adadev', opts());
    expect(snap.user.login).toBe('AdaDev');
    expect(snap.user.bio).toHaveLength(LIMITS.userText);
    expect(snap.user.bio!.endsWith('x…')).toBe(true);
    expect(gh.requests.map((r) => r.path.split('?')[0])).toContain('/users/AdaDev/repos');
    expect(gh.requests.some((r) => r.path.startsWith('/users//'))).toBe(false);
  });

  it('cuts every free-text user field to 1,000 characters and repository descriptions and topics to their limits', async () => {
    const user = strongDev(NOW);
    const long = 'y'.repeat(50_000);
    Object.assign(user, { name: long, company: long, location: long, email: long, twitter: long, blog: long });
    user.repos![0]!.description = long;
    user.repos![0]!.topics = Array.from({ length: 200 }, (_, i) => `t${i}-${'z'.repeat(500)}`);
    await setUp(user);
    const snap = await collectProfile('adadev', opts());
    for (const v of [snap.user.name, snap.user.company, snap.user.location, snap.user.email, snap.user.twitter, snap.user.blog]) {
      expect(v).toHaveLength(LIMITS.userText);
    }
    const repo = snap.repos.find((r) => r.name === 'tracewire')!;
    expect(repo.description).toHaveLength(LIMITS.description);
    expect(repo.topics).toHaveLength(LIMITS.topics);
    for (const topic of repo.topics) expect(topic.length).toBeLessThanOrEqual(LIMITS.topic);
    // Nothing cached is larger than the cap.
    const biggest = t.db.prepare('SELECT max(length(CAST(body AS BLOB))) AS n FROM http_cache').get() as { n: number };
    expect(biggest.n).toBeLessThanOrEqual(LIMITS.cachedAnswerBytes);
  });

  it('keeps a README of GitHub\'s "too large" form (no content, encoding none) at its real size', async () => {
    await setUp(strongDev(NOW));
    gh.fault('/repos/AdaDev/AdaDev/readme', [{ status: 200, body: { type: 'file', name: 'README.md', encoding: 'none', content: '', size: 5_000_000 }, headers: { etag: 'W/"big"' } }]);
    const snap = await collectProfile('adadev', opts());
    expect(snap.profileReadme).toEqual({ text: '', length: 5_000_000 });
  });
});

describe('the README cache', () => {
  // The REST path caches README answers; the GraphQL path reads them inside its query.
  it('caches at most 256 KB for a 10 MB README, keeps its real size, and serves the same snapshot from a 304', async () => {
    const user = strongDev(NOW);
    user.profileReadme = `# Hi\n\n${'Lorem ipsum\n'.repeat(MB10 / 12)}`;
    const size = Buffer.byteLength(user.profileReadme);
    await setUp(user);
    const first = await collectProfile('adadev', opts({ token: TOKEN, via: 'rest' }));
    expect(first.profileReadme!.length).toBe(size);
    expect(first.profileReadme!.text).toHaveLength(LIMITS.profileReadme);
    const key = `${tokenIdentity(TOKEN)} ${gh.url}/repos/AdaDev/AdaDev/readme`;
    const row = t.db.prepare('SELECT length(CAST(body AS BLOB)) AS n FROM http_cache WHERE key = ?').get(key) as { n: number };
    expect(row.n).toBeGreaterThan(LIMITS.readmeBytes);
    expect(row.n).toBeLessThanOrEqual(LIMITS.cachedAnswerBytes);
    gh.clearLog();
    const again = await collectProfile('adadev', opts({ token: TOKEN, via: 'rest' }));
    expect(gh.requests.find((r) => r.path === '/repos/AdaDev/AdaDev/readme')?.status).toBe(304);
    expect(again.profileReadme).toEqual(first.profileReadme);
  });

  it('still reads a cache row written by an older gitroast (the raw answer), and does not offer one that no longer reads', async () => {
    await setUp(strongDev(NOW));
    await collectProfile('adadev', opts({ token: TOKEN, via: 'rest' }));
    const key = `${tokenIdentity(TOKEN)} ${gh.url}/repos/AdaDev/AdaDev/readme`;
    const raw = { type: 'file', encoding: 'base64', size: 9, name: 'README.md', content: Buffer.from('# Old one').toString('base64') };
    t.db.prepare('UPDATE http_cache SET body = ? WHERE key = ?').run(JSON.stringify(raw), key);
    const userKey = `${tokenIdentity(TOKEN)} ${gh.url}/users/adadev`;
    t.db.prepare('UPDATE http_cache SET body = ? WHERE key = ?').run('"not a user"', userKey);
    gh.clearLog();
    const snap = await collectProfile('adadev', opts({ token: TOKEN, via: 'rest' }));
    // The README's ETag still matches, so the old raw body is served and decoded.
    expect(snap.profileReadme).toEqual({ text: '# Old one', length: 9 });
    const userRequest = gh.requests.find((r) => r.path === '/users/adadev')!;
    expect(userRequest.headers['if-none-match']).toBeUndefined();
    expect(userRequest.status).toBe(200);
    expect(snap.user.login).toBe('AdaDev');
  });
});

describe('answers that cannot be read', () => {
  it('fails a non-JSON answer with a retryable error naming the URL, not the token, and asks for nothing else', async () => {
    await setUp(strongDev(NOW));
    gh.fault('/users/adadev', [{ status: 200, raw: '<html>Unicorn! This page is taking too long to load.</html>' }]);
    const err = await failure('adadev', { token: TOKEN, via: 'rest' });
    expect(err).toBeInstanceOf(UnreadableAnswerError);
    expectRetryable(err);
    expect(err.message).toContain(`${gh.url}/users/adadev`);
    expect(err.message).toMatch(/not JSON/);
    expect(err.message).not.toContain(TOKEN);
    expect(gh.requests.map((r) => r.path)).toEqual(['/users/adadev']);
  });

  it.each([
    ['a JSON string', 'just a string'],
    ['an empty login', { login: '', type: 'User', public_repos: 1, followers: 0, following: 0, created_at: '2020-01-01T00:00:00Z', html_url: 'x' }],
    ['a login with a slash', { login: '../x', type: 'User', public_repos: 1, followers: 0, following: 0, created_at: '2020-01-01T00:00:00Z', html_url: 'x' }],
    ['a missing count', { login: 'AdaDev', type: 'User', followers: 0, following: 0, created_at: '2020-01-01T00:00:00Z', html_url: 'x' }],
  ])('fails a user answer of the wrong shape (%s) the same way, never requesting /users//repos', async (_what, body) => {
    await setUp(strongDev(NOW));
    gh.fault('/users/adadev', [{ status: 200, body }]);
    const err = await failure('adadev');
    expect(err).toBeInstanceOf(UnreadableAnswerError);
    expectRetryable(err);
    expect(err.message).toContain(`${gh.url}/users/adadev`);
    expect(err.message).toMatch(/unexpected shape/);
    expect(gh.requests.map((r) => r.path)).toEqual(['/users/adadev']);
  });

  it('fails a repository page of the wrong shape with the page\'s URL', async () => {
    await setUp(strongDev(NOW));
    gh.fault('/users/AdaDev/repos', [{ status: 200, body: [{ name: 'x', stargazers_count: 'many' }] }]);
    const err = await failure('adadev');
    expect(err).toBeInstanceOf(UnreadableAnswerError);
    expect(err.message).toContain(`${gh.url}/users/AdaDev/repos?`);
    expect(err.message).toMatch(/unexpected shape at 0\./);
  });

  it('fails a GraphQL answer of the wrong shape, but leaves out a partial one that comes with GraphQL errors', async () => {
    await setUp(strongDev(NOW));
    gh.fault('/graphql', [
      { status: 200, body: { data: { user: { pinnedItems: 'nope' } } } },
      { status: 200, body: { data: { user: { pinnedItems: 'nope' } }, errors: [{ type: 'FORBIDDEN', message: 'no' }] } },
    ]);
    const err = await failure('adadev', { token: TOKEN });
    expect(err).toBeInstanceOf(UnreadableAnswerError);
    expect(err.message).toContain(`${gh.origin}/graphql`);
    const snap = await collectProfile('adadev', opts({ token: TOKEN }));
    expect(snap.graphql).toBeNull();
  });
});

describe('truncateText', () => {
  it('keeps short text, cuts long text to the limit with an ellipsis, never splits a surrogate pair, and is idempotent', () => {
    expect(truncateText('abc', 3)).toBe('abc');
    expect(truncateText('abcd', 3)).toBe('ab…');
    const emoji = `a${'😀'.repeat(10)}`;
    expect(truncateText(emoji, 4)).toBe('a😀…');
    const cut = truncateText(emoji, 3);
    expect(cut).toBe('a…');
    expect(truncateText(cut, 3)).toBe(cut);
    expect(truncateText(truncateText('x'.repeat(5000), 1000), 1000)).toHaveLength(1000);
  });
});
