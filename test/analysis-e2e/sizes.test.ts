import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { strongDev } from '../fakes/github.js';
import { TOKEN, world } from './helpers.js';

/** Untrusted sizes from GitHub, end to end through the built binary (issue #9, item 3). */
const MB10 = 10 * 1024 * 1024;

describe('oversized GitHub answers', () => {
  it('completes an analysis whose bio is 10 MB, keeping the bio truncated to 1,000 characters', async () => {
    const user = strongDev(Date.now());
    user.bio = `Engineer. ${'x'.repeat(MB10)}`;
    const w = await world([user]);
    const r = await w.run(['analyze', 'adadev', '--json'], { timeoutMs: 60_000 });
    expect(r.stderr).not.toContain('/users//repos');
    expect(r.code, r.stderr).toBe(0);
    expect(w.gh.requests.some((q) => q.path.startsWith('/users//'))).toBe(false);
    const [row] = w.query<{ status: string; snapshot: string }>('SELECT status, snapshot FROM analyses');
    expect(row!.status).toBe('completed');
    const bio = (JSON.parse(row!.snapshot) as { user: { bio: string } }).user.bio;
    expect(bio.startsWith('Engineer. xxx')).toBe(true);
    expect(bio.length).toBe(1000);
  }, 120_000);

  it('caches and stores at most ~256 KB for a 10 MB profile README, and the score still sees its true size', async () => {
    const user = strongDev(Date.now());
    user.profileReadme = `# Hi\n\n${'Lorem ipsum dolor sit amet. '.repeat(Math.ceil(MB10 / 28))}`.slice(0, MB10);
    const w = await world([user]);
    // Without a token the README comes over REST and is cached (with one it comes inside the GraphQL answer: below).
    const r = await w.run(['analyze', 'adadev', '--json'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const [cache] = w.query<{ total: number; biggest: number; rows: number }>(
      'SELECT sum(length(CAST(key AS BLOB)) + length(CAST(etag AS BLOB)) + length(CAST(body AS BLOB))) AS total, max(length(CAST(body AS BLOB))) AS biggest, count(*) AS rows FROM http_cache');
    const [readme] = w.query<{ bytes: number }>("SELECT length(CAST(body AS BLOB)) AS bytes FROM http_cache WHERE key LIKE '%/repos/AdaDev/AdaDev/readme'");
    const [stored] = w.query<{ bytes: number; signals: string }>('SELECT length(CAST(snapshot AS BLOB)) AS bytes, signals FROM analyses');
    const files = ['', '-wal'].map((s) => fs.statSync(`${w.db}${s}`, { throwIfNoEntry: false })?.size ?? 0);
    console.info(`http_cache after a 10 MB profile README: ${cache!.total} bytes in ${cache!.rows} rows (README row ${readme?.bytes} bytes, largest ${cache!.biggest}); snapshot ${stored!.bytes} bytes; database file ${files[0]} bytes, WAL ${files[1]} bytes`);
    expect(readme!.bytes).toBeLessThanOrEqual(256 * 1024 + 1024);
    expect(cache!.biggest).toBeLessThanOrEqual(256 * 1024 + 1024);
    expect(stored!.bytes).toBeLessThanOrEqual(256 * 1024);
    // The scorer saw the README's real size, not the cached excerpt's.
    const signals = JSON.parse(stored!.signals) as { signals: { id: string; evidence: string }[] };
    expect(signals.signals.find((s) => s.id === 'profile.readme_substance')!.evidence).toBe(`profile README is ${MB10.toLocaleString('en-US')} bytes`);
    // A repeat is served from the trimmed cache (304s) and scores the same.
    const again = await w.run(['analyze', 'adadev', '--force', '--json'], { timeoutMs: 60_000 });
    expect(again.code, again.stderr).toBe(0);
    expect(w.gh.requests.filter((q) => q.path === '/repos/AdaDev/AdaDev/readme').map((q) => q.status)).toEqual([200, 304]);
    const scores = w.query<{ overall: number }>('SELECT overall FROM analyses ORDER BY created_at');
    expect(scores[1]!.overall).toBe(scores[0]!.overall);
    // With a token (GraphQL): nothing of it cached, the stored snapshot still small, the real size scored.
    const viaGraphql = await w.run(['analyze', 'adadev', '--force', '--json'], { env: { GITHUB_TOKEN: TOKEN }, timeoutMs: 60_000 });
    expect(viaGraphql.code, viaGraphql.stderr).toBe(0);
    const [last] = w.query<{ bytes: number; signals: string }>('SELECT length(CAST(snapshot AS BLOB)) AS bytes, signals FROM analyses ORDER BY created_at DESC LIMIT 1');
    expect(last!.bytes).toBeLessThanOrEqual(256 * 1024);
    expect((JSON.parse(last!.signals) as { signals: { id: string; evidence: string }[] }).signals.find((s) => s.id === 'profile.readme_substance')!.evidence)
      .toBe(`profile README is ${MB10.toLocaleString('en-US')} bytes`);
    expect(w.query<{ biggest: number }>('SELECT max(length(CAST(body AS BLOB))) AS biggest FROM http_cache')[0]!.biggest).toBeLessThanOrEqual(256 * 1024 + 1024);
  }, 120_000);

  it('retries an answer that is not JSON, naming its URL, and completes; never requests /users//repos', async () => {
    const w = await world([strongDev(Date.now())]);
    w.gh.fault('/users/adadev', [{ status: 200, raw: '<html>Unicorn!</html>' }]);
    const r = await w.run(['analyze', 'adadev', '--json'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`GitHub sent an unreadable answer for ${w.gh.url}/users/adadev: not JSON`);
    expect(w.gh.requests.some((q) => q.path.startsWith('/users//'))).toBe(false);
    expect(w.query<{ attempts: number; state: string }>("SELECT attempts, state FROM jobs WHERE name = 'fetch-github'")).toEqual([{ attempts: 2, state: 'completed' }]);
  }, 120_000);
});
