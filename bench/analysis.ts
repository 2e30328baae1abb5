/**
 * The analysis benchmark, against the loopback fake GitHub (which answers at once, so the
 * times below are gitroast's own work plus loopback HTTP, not GitHub's latency):
 *
 * - requests_cold_token / requests_cold_anon: GitHub requests of one cold analysis.
 * - rest_cold_token, graphql_queries_cold_token, graphql_points_cold_token, rest_cold_anon:
 *   per cold analysis, the most over the fake profiles (the points are the fake's
 *   rateLimit.cost, priced as GitHub documents it); *_rest_path: the same through every REST
 *   call (`via: "rest"`, how gitroast collected before issue 18).
 * - analyses_per_hour_token / _anon: what GitHub's hourly budgets (5,000 REST requests and
 *   5,000 GraphQL points with a token, 60 REST requests without) allow at those costs.
 * - primary_points_repeat_token: core rate-limit points a repeat analysis (--force, within
 *   the 24 h cache) costs with a token (the 304s are free); graphql_requests_repeat: the one
 *   GraphQL query, which has its own budget and is not cached.
 * - ms_per_analysis_c1: wall time of one whole analysis (fetch-github → write-review →
 *   notify through the queue and the worker, offline writer), N in a row, one slot.
 * - analyses_per_s_c8: the same with 8 slots.
 * - score_write_ms: scoring plus the offline writer alone, per analysis (pure CPU).
 *
 * Run it alone with `node dist/bench/analysis.js`, or through `npm run bench`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { GITHUB_HOURLY } from '../src/analysis/budget.js';
import { collectProfile, SqliteHttpCache } from '../src/analysis/github.js';
import { enqueueAnalysis, registerAnalysis } from '../src/analysis/jobs.js';
import { scoreProfile } from '../src/analysis/score.js';
import { getAnalysis } from '../src/analysis/store.js';
import { writeOffline } from '../src/analysis/writer.js';
import { openAppDb } from '../src/cli/db.js';
import { Registry } from '../src/daemon/registry.js';
import { startWorker } from '../src/daemon/worker.js';
import type { Db } from '../src/queue/index.js';
import { allForks, escapeBio, injected, newbie, startFakeGitHub, strongDev, type FakeGitHub, type FakeUser } from '../test/fakes/github.js';

const TOKEN = 'ghp_benchmarkTokenValue000000000000000000';
const N = 40;

/** Run analyses of `logins` through a worker with `concurrency` slots until all are finished; return the wall ms. */
async function runAnalyses(db: Db, gh: FakeGitHub, logins: readonly string[], opts: { token?: string; concurrency: number; force?: boolean }): Promise<number> {
  const registry = new Registry();
  const env = { GITROAST_GITHUB_API_URL: gh.url, GITHUB_TOKEN: opts.token ?? '', OPENAI_API_KEY: '' };
  registerAnalysis(registry, { db, env: () => env, config: () => ({ denyList: [] }) });
  const t0 = performance.now();
  const ids = logins.map((login) => enqueueAnalysis(db, login, { denyList: [], force: opts.force ?? true }).analysis.id);
  const done = () => ids.every((id) => {
    const a = getAnalysis(db, id);
    return a?.status === 'completed' || a?.status === 'failed';
  });
  await new Promise<void>((resolve, reject) => {
    const worker = startWorker(db, registry, { queues: ['default', 'low'], concurrency: opts.concurrency, until: done, watch: false, graceMs: 1000 });
    void worker.done.then(() => (done() ? resolve() : reject(new Error(`worker stopped early (${worker.stopReason()})`))));
  });
  const ms = performance.now() - t0;
  for (const id of ids) {
    const a = getAnalysis(db, id)!;
    if (a.status !== 'completed') throw new Error(`analysis of ${a.username} ${a.status}: ${a.error}`);
  }
  return ms;
}

/** Measure the analysis room against the fake GitHub; figures keyed without the `analysis_` prefix. */
export async function benchAnalysis(): Promise<Record<string, number>> {
  const now = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitroast-bench-analysis-'));
  const clones: FakeUser[] = Array.from({ length: N }, (_, i) => ({ ...strongDev(now), login: `bench-dev-${i}` }));
  const gh = await startFakeGitHub({ now, users: [strongDev(now), newbie(now), allForks(now), injected(now), escapeBio(now), ...clones] });
  const db = openAppDb(path.join(dir, 'bench.db'));
  const figures: Record<string, number> = {};
  try {
    // Per cold analysis, on each path: REST requests, GraphQL queries and points (the most over the profiles).
    const cost = async (token: string | undefined, via?: 'rest') => {
      const worst = { rest: 0, queries: 0, points: 0 };
      for (const login of ['AdaDev', 'newbie-nora', 'forky-fred', 'mallory-dev', 'esc-eve']) {
        db.exec('DELETE FROM http_cache');
        gh.clearLog();
        await collectProfile(login, { baseUrl: gh.url, token, via, cache: new SqliteHttpCache(db), now: () => now });
        worst.rest = Math.max(worst.rest, gh.requests.filter((r) => r.method === 'GET').length);
        worst.queries = Math.max(worst.queries, gh.requests.filter((r) => r.method === 'POST').length);
        worst.points = Math.max(worst.points, gh.graphqlQueries.reduce((a, q) => a + q.cost, 0));
      }
      return worst;
    };
    const perHour = (c: { rest: number; points: number }, restLimit: number) =>
      Math.floor(Math.min(restLimit / Math.max(c.rest, 1e-9), c.points > 0 ? GITHUB_HOURLY.graphqlPoints / c.points : Infinity));
    const token = await cost(TOKEN);
    figures.rest_cold_token = token.rest;
    figures.graphql_queries_cold_token = token.queries;
    figures.graphql_points_cold_token = token.points;
    figures.analyses_per_hour_token = perHour(token, GITHUB_HOURLY.restToken);
    const anon = await cost(undefined);
    figures.rest_cold_anon = anon.rest;
    figures.analyses_per_hour_anon = perHour({ rest: anon.rest, points: 0 }, GITHUB_HOURLY.restAnon);
    const restPath = await cost(TOKEN, 'rest');
    figures.rest_cold_token_rest_path = restPath.rest;
    figures.graphql_points_cold_token_rest_path = restPath.points;
    figures.analyses_per_hour_token_rest_path = perHour(restPath, GITHUB_HOURLY.restToken);
    gh.setRemaining(TOKEN, 5000);
    gh.setRemaining('anon', 60);
    gh.setGraphqlRemaining(TOKEN, 1_000_000);
    db.exec('DELETE FROM http_cache');
    gh.clearLog();

    // Cold, with a token: two GraphQL queries and the events over REST.
    await runAnalyses(db, gh, ['AdaDev'], { token: TOKEN, concurrency: 1 });
    figures.requests_cold_token = gh.requests.length;
    // Repeat within the day: conditional requests.
    gh.clearLog();
    const before = gh.remaining(TOKEN);
    await runAnalyses(db, gh, ['AdaDev'], { token: TOKEN, concurrency: 1 });
    figures.primary_points_repeat_token = before - gh.remaining(TOKEN);
    figures.requests_repeat_token = gh.requests.length;
    figures.not_modified_repeat_token = gh.requests.filter((r) => r.status === 304).length;
    figures.graphql_requests_repeat = gh.requests.filter((r) => r.method === 'POST').length;
    // The points of a repeat: GraphQL answers are not cached (the 304s are REST's).
    figures.graphql_points_repeat_token = gh.graphqlQueries.reduce((a, q) => a + q.cost, 0);
    // Cold, without a token.
    gh.clearLog();
    await runAnalyses(db, gh, ['newbie-nora'], { concurrency: 1 });
    figures.requests_cold_anon = gh.requests.length;

    // Wall time per analysis (token-less cache partition is per login, so every one is cold).
    gh.setRemaining(TOKEN, 1_000_000);
    const logins = clones.map((u) => u.login);
    // Warm up (JIT, statement caches); its time is not a figure.
    await runAnalyses(db, gh, logins.slice(0, 5), { token: TOKEN, concurrency: 1 });
    const c1 = await runAnalyses(db, gh, logins, { token: TOKEN, concurrency: 1 });
    figures.ms_per_analysis_c1 = c1 / logins.length;
    const c8 = await runAnalyses(db, gh, logins, { token: TOKEN, concurrency: 8 });
    figures.analyses_per_s_c8 = logins.length / (c8 / 1000);

    // Scoring and the offline writer alone.
    const snapshot = getAnalysis(db, (await import('../src/analysis/store.js')).findLatestByUsername(db, 'AdaDev')!.id)!.snapshot!;
    const rounds = 200;
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) writeOffline({ snapshot, scorecard: scoreProfile(snapshot, snapshot.fetchedAt) });
    figures.score_write_ms = (performance.now() - t0) / rounds;
  } finally {
    db.close();
    await gh.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const figures = await benchAnalysis();
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`analysis_${k.padEnd(width)}  ${Number.isInteger(v) ? v : v.toFixed(3)}\n`);
}
