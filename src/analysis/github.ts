/**
 * The collector: reads one user's public GitHub profile with @octokit/rest and returns a
 * trimmed ProfileSnapshot. Octokit's retry and throttling plugins are not loaded (the
 * queue owns retries); errors are mapped to what the queue understands: PermanentError
 * (do not retry), DelayError (come back at T, rate limits) or a plain, retryable Error.
 */
import { createHash } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { Octokit } from '@octokit/rest';
import { immediate, stmt } from '../queue/db.js';
import { DelayError, PermanentError } from '../queue/errors.js';
import { safeLine, safeText } from '../util/terminal.js';
import { validateLogin } from './login.js';
import {
  topOriginals,
  type EventsSummary,
  type GraphqlData,
  type ProfileSnapshot,
  type RateLimitInfo,
  type SnapshotRepo,
  type SnapshotUser,
} from './snapshot.js';

export const DEFAULT_GITHUB_API_URL = 'https://api.github.com';
const API_VERSION = '2022-11-28';
const USER_AGENT = 'gitroast/0.1 (+https://github.com/gitroast/gitroast)';
/** Longest profile README text kept on a snapshot. */
const PROFILE_README_LIMIT = 4000;
/** Longest project README excerpt kept on a snapshot. */
const PROJECT_README_LIMIT = 3000;
const SECONDARY_DEFAULT_MS = 60_000;
const DAY_MS = 86_400_000;

/** Conditional-request cache: ETag and body per request key. */
export interface HttpCache {
  get(key: string): { etag: string; body: string } | undefined;
  put(key: string, etag: string, body: string, now: number): void;
}

/** HttpCache over the http_cache table (see migrations.ts). */
export class SqliteHttpCache implements HttpCache {
  constructor(private readonly db: Database) {}

  /** Return the cached entry for `key`, or undefined. */
  get(key: string): { etag: string; body: string } | undefined {
    return stmt(this.db, 'SELECT etag, body FROM http_cache WHERE key = ?').get(key) as
      | { etag: string; body: string }
      | undefined;
  }

  /** Store or replace the entry for `key` in one short transaction. */
  put(key: string, etag: string, body: string, now: number): void {
    const upsert = stmt(this.db, `INSERT INTO http_cache (key, etag, body, fetched_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET etag = excluded.etag, body = excluded.body, fetched_at = excluded.fetched_at`);
    immediate(this.db, () => upsert.run(key, etag, body, now));
  }
}

/** Options of collectProfile. */
export interface CollectOptions {
  /** REST base URL; default GITROAST_GITHUB_API_URL, else https://api.github.com. */
  baseUrl?: string;
  /** A GitHub token; enables GraphQL (calendar, pinned items, PR/review counts). */
  token?: string;
  cache: HttpCache;
  now?: () => number;
  fetch?: typeof fetch;
  /** Pages of 100 owned repositories to read at most; default 3. */
  maxRepoPages?: number;
  signal?: AbortSignal;
}

export { validateLogin } from './login.js';

/** Return the GraphQL endpoint for a REST base URL (GitHub Enterprise: /api/v3 -> /api/graphql). */
export function graphqlUrl(baseUrl: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  return /\/api\/v3$/.test(base) ? base.replace(/\/api\/v3$/, '/api/graphql') : `${base}/graphql`;
}

/**
 * Name the token's cache partition: ETags are bound to the token, so cached answers must
 * be too, but the token itself never reaches the database: only a truncated SHA-256.
 */
export function tokenIdentity(token: string | undefined): string {
  if (!token) return 'anon';
  return `tok-${createHash('sha256').update(`gitroast-http-cache:${token}`).digest('hex').slice(0, 16)}`;
}

interface RawUser {
  login: string;
  type: string;
  name: string | null;
  bio: string | null;
  company: string | null;
  blog: string | null;
  location: string | null;
  email: string | null;
  hireable: boolean | null;
  twitter_username?: string | null;
  public_repos: number;
  followers: number;
  following: number;
  created_at: string;
  html_url: string;
}

interface RawRepo {
  name: string;
  description: string | null;
  language: string | null;
  stargazers_count: number;
  forks_count: number;
  fork: boolean;
  archived: boolean;
  license: { spdx_id: string | null; key: string } | null;
  topics?: string[];
  homepage: string | null;
  pushed_at: string | null;
  created_at: string;
  size: number;
}

interface RawEvent {
  type: string;
  repo: { name: string };
  created_at: string;
}

interface RawContent {
  name: string;
  content?: string;
  encoding?: string;
}

type Headers = Record<string, string | number | undefined>;

interface OctokitError {
  status: number;
  message: string;
  response?: { headers: Headers };
}

function isOctokitError(err: unknown): err is OctokitError {
  return typeof err === 'object' && err !== null && typeof (err as { status?: unknown }).status === 'number';
}

function header(headers: Headers | undefined, name: string): string | undefined {
  const v = headers?.[name];
  return v === undefined ? undefined : String(v);
}

/** One collection run: counts requests, remembers the rate limit, serves 304s from cache. */
class Session {
  requests = 0;
  rateLimit: RateLimitInfo | null = null;
  /** The message of a GraphQL answer that carried errors and no data. */
  graphqlError: string | undefined;

  constructor(
    readonly octokit: Octokit,
    readonly opts: { cache: HttpCache; identity: string; now: () => number; baseUrl: string },
  ) {}

  /** Note the core rate limit of an answer. */
  track(headers: Headers | undefined): void {
    const resource = header(headers, 'x-ratelimit-resource');
    const remaining = header(headers, 'x-ratelimit-remaining');
    if (remaining === undefined || (resource !== undefined && resource !== 'core')) return;
    this.rateLimit = {
      remaining: Number(remaining),
      reset: Number(header(headers, 'x-ratelimit-reset') ?? 0),
      used: Number(header(headers, 'x-ratelimit-used') ?? 0),
    };
  }

  /**
   * GET a REST route with If-None-Match when cached; a 304 serves the cached body. Return
   * undefined when `optional` and the thing is not there (404, 409 empty repository, 451
   * blocked); map other errors.
   */
  async get<T>(route: string, params: Record<string, string | number>, optional = false): Promise<T | undefined> {
    const url = this.octokit.request.endpoint(route, params).url;
    const key = `${this.opts.identity} ${url}`;
    const cached = this.opts.cache.get(key);
    const headers: Record<string, string> = { 'x-github-api-version': API_VERSION };
    if (cached) headers['if-none-match'] = cached.etag;
    this.requests++;
    try {
      const res = await this.octokit.request(route, { ...params, headers });
      this.track(res.headers as Headers);
      const etag = header(res.headers as Headers, 'etag');
      if (etag) this.opts.cache.put(key, etag, JSON.stringify(res.data), this.opts.now());
      return res.data as T;
    } catch (err) {
      if (!isOctokitError(err)) throw err;
      this.track(err.response?.headers);
      if (err.status === 304 && cached) return JSON.parse(cached.body) as T;
      if (optional && [404, 409, 451].includes(err.status)) return undefined;
      throw mapError(err, url, this.opts);
    }
  }
}

/** Turn a 403/429 rate-limit answer into a DelayError, or undefined when it is not one. */
function rateLimitDelay(err: OctokitError, now: number): DelayError | undefined {
  if (err.status !== 403 && err.status !== 429) return undefined;
  const h = err.response?.headers;
  const remaining = header(h, 'x-ratelimit-remaining');
  const reset = Number(header(h, 'x-ratelimit-reset'));
  if (remaining === '0' && Number.isFinite(reset) && reset > 0) {
    const until = Math.max(now, reset * 1000);
    return new DelayError(until, `GitHub rate limit exhausted; resets at ${new Date(until).toISOString()}`);
  }
  const retryAfter = header(h, 'retry-after');
  if (retryAfter !== undefined || err.status === 429 || /secondary rate limit|abuse/i.test(err.message)) {
    const seconds = Number(retryAfter);
    const wait = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : SECONDARY_DEFAULT_MS;
    return new DelayError(now + wait, `GitHub secondary rate limit; retrying after ${Math.round(wait / 1000)} s`);
  }
  return undefined;
}

/** Map a failed GitHub request to the error the queue should see. */
function mapError(err: OctokitError, url: string, opts: { now: () => number; baseUrl: string }): Error {
  const delay = rateLimitDelay(err, opts.now());
  if (delay) return delay;
  const path = url.startsWith(opts.baseUrl) ? url.slice(opts.baseUrl.length) || '/' : url;
  if (err.status === 401) return new PermanentError('GitHub rejected the token (401 Bad credentials): check GITHUB_TOKEN');
  if (err.status === 500 && !err.response) {
    return new Error(`could not reach GitHub at ${opts.baseUrl}: ${err.message}`, { cause: err });
  }
  if (err.status >= 500) return new Error(`GitHub answered ${err.status} for ${path}; will retry`, { cause: err });
  return new Error(`GitHub answered ${err.status} for ${path}: ${safeText(err.message).slice(0, 200)}`, { cause: err });
}

function clean(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const text = safeText(value).trim();
  return text === '' ? null : text;
}

function toUser(raw: RawUser): SnapshotUser {
  return {
    login: raw.login,
    name: clean(raw.name),
    bio: clean(raw.bio),
    company: clean(raw.company),
    blog: clean(raw.blog),
    location: clean(raw.location),
    email: clean(raw.email),
    hireable: raw.hireable ?? null,
    twitter: clean(raw.twitter_username),
    publicRepos: raw.public_repos,
    followers: raw.followers,
    following: raw.following,
    createdAt: raw.created_at,
    htmlUrl: raw.html_url,
  };
}

function toRepo(raw: RawRepo): SnapshotRepo {
  return {
    name: raw.name,
    description: clean(raw.description),
    language: raw.language,
    stars: raw.stargazers_count,
    forks: raw.forks_count,
    fork: raw.fork,
    archived: raw.archived,
    license: raw.license ? (raw.license.spdx_id && raw.license.spdx_id !== 'NOASSERTION' ? raw.license.spdx_id : raw.license.key) : null,
    topics: (raw.topics ?? []).map((t) => safeText(t)),
    homepage: clean(raw.homepage),
    pushedAt: raw.pushed_at,
    createdAt: raw.created_at,
    size: raw.size,
    readmeLength: null,
    readmeExcerpt: null,
    rootFiles: null,
  };
}

/** Decode a README answer to its text and byte length. */
function decodeReadme(raw: RawContent | undefined): { text: string; length: number } | null {
  if (!raw || typeof raw.content !== 'string') return null;
  const bytes = Buffer.from(raw.content, raw.encoding === 'base64' ? 'base64' : 'utf8');
  return { text: safeText(bytes.toString('utf8')), length: bytes.length };
}

/** Summarise the public events of the 30 days before `now`. */
export function summariseEvents(events: RawEvent[], login: string, now: number): EventsSummary {
  const windowDays = 30;
  const since = now - windowDays * DAY_MS;
  const recent = events.filter((e) => Date.parse(e.created_at) >= since);
  const byType: Record<string, number> = {};
  const days = new Set<string>();
  const external = new Set<string>();
  const contributing = /^(PushEvent|PullRequestEvent|PullRequestReviewEvent|PullRequestReviewCommentEvent|IssuesEvent)$/;
  for (const e of recent) {
    byType[e.type] = (byType[e.type] ?? 0) + 1;
    days.add(e.created_at.slice(0, 10));
    const owner = e.repo.name.split('/')[0] ?? '';
    if (contributing.test(e.type) && owner.toLowerCase() !== login.toLowerCase()) external.add(e.repo.name);
  }
  const latest = recent.map((e) => e.created_at).sort().at(-1) ?? null;
  return { total: recent.length, byType, daysActive: days.size, windowDays, externalRepos: [...external].sort(), latestAt: latest };
}

const GRAPHQL_QUERY = `query($login: String!, $from: DateTime!, $to: DateTime!) {
  user(login: $login) {
    pinnedItems(first: 6, types: REPOSITORY) { nodes { ... on Repository { name } } }
    pullRequests { totalCount }
    mergedPullRequests: pullRequests(states: MERGED) { totalCount }
    issues { totalCount }
    organizations { totalCount }
    socialAccounts(first: 1) { totalCount }
    repositoriesContributedTo(contributionTypes: [COMMIT, PULL_REQUEST, PULL_REQUEST_REVIEW], includeUserRepositories: false) { totalCount }
    contributionsCollection(from: $from, to: $to) {
      contributionYears
      totalPullRequestReviewContributions
      totalIssueContributions
      contributionCalendar { totalContributions weeks { contributionDays { date contributionCount } } }
    }
  }
}`;

interface RawGraphql {
  data?: {
    user: {
      pinnedItems: { nodes: ({ name?: string } | null)[] };
      pullRequests: { totalCount: number };
      mergedPullRequests: { totalCount: number };
      issues: { totalCount: number };
      organizations: { totalCount: number };
      socialAccounts?: { totalCount: number };
      repositoriesContributedTo: { totalCount: number };
      contributionsCollection: {
        contributionYears: number[];
        totalPullRequestReviewContributions: number;
        totalIssueContributions: number;
        contributionCalendar: {
          totalContributions: number;
          weeks: { contributionDays: { date: string; contributionCount: number }[] }[];
        };
      };
    } | null;
  } | null;
  errors?: { type?: string; message: string }[];
}

/** Turn the GraphQL answer into GraphqlData. */
function toGraphql(user: NonNullable<NonNullable<RawGraphql['data']>['user']>): GraphqlData {
  const cc = user.contributionsCollection;
  const days = cc.contributionCalendar.weeks.flatMap((w) => w.contributionDays).sort((a, b) => a.date.localeCompare(b.date));
  return {
    calendarStart: days[0]?.date ?? '1970-01-01',
    calendar: days.map((d) => d.contributionCount),
    totalContributions: cc.contributionCalendar.totalContributions,
    contributionYears: cc.contributionYears,
    pinned: user.pinnedItems.nodes.flatMap((n) => (n?.name ? [n.name] : [])),
    mergedPullRequests: user.mergedPullRequests.totalCount,
    pullRequests: user.pullRequests.totalCount,
    issues: user.issues.totalCount,
    reviewContributions: cc.totalPullRequestReviewContributions,
    issueContributions: cc.totalIssueContributions,
    repositoriesContributedTo: user.repositoriesContributedTo.totalCount,
    organizations: user.organizations.totalCount,
    socialAccounts: user.socialAccounts?.totalCount ?? 0,
  };
}

/**
 * Ask GraphQL for the calendar, pinned items and PR/review counts (one POST). GraphQL
 * rate limits (200 with a RATE_LIMITED error) become a DelayError; other GraphQL errors
 * leave the data out (the scorer then marks those signals unavailable).
 */
async function fetchGraphql(session: Session, login: string, now: number): Promise<GraphqlData | null> {
  session.requests++;
  const from = new Date(now - 365 * DAY_MS).toISOString();
  const to = new Date(now).toISOString();
  let body: RawGraphql;
  let headers: Headers | undefined;
  try {
    const res = await session.octokit.request({
      method: 'POST',
      url: graphqlUrl(session.opts.baseUrl),
      query: GRAPHQL_QUERY,
      variables: { login, from, to },
      headers: { 'x-github-api-version': API_VERSION },
    });
    body = res.data as RawGraphql;
    headers = res.headers as Headers;
  } catch (err) {
    if (!isOctokitError(err)) throw err;
    throw mapError(err, graphqlUrl(session.opts.baseUrl), session.opts);
  }
  if (body.errors?.some((e) => e.type === 'RATE_LIMITED')) {
    const reset = Number(header(headers, 'x-ratelimit-reset'));
    const until = Number.isFinite(reset) && reset > 0 ? reset * 1000 : now + SECONDARY_DEFAULT_MS;
    throw new DelayError(Math.max(now, until), `GitHub GraphQL rate limit exhausted; resets at ${new Date(until).toISOString()}`);
  }
  const user = body.data?.user;
  if (!user && body.errors?.length) session.graphqlError = safeLine(body.errors[0]!.message ?? 'unknown error').slice(0, 300);
  return user ? toGraphql(user) : null;
}

/** Read up to `maxPages` pages of owned repositories, most recently pushed first. */
async function fetchRepos(session: Session, login: string, publicRepos: number, maxPages: number): Promise<RawRepo[]> {
  const repos: RawRepo[] = [];
  for (let page = 1; page <= maxPages; page++) {
    const data =
      (await session.get<RawRepo[]>('GET /users/{username}/repos', {
        username: login,
        type: 'owner',
        sort: 'pushed',
        direction: 'desc',
        per_page: 100,
        page,
      })) ?? [];
    repos.push(...data);
    if (data.length < 100 || repos.length >= publicRepos) break;
  }
  return repos;
}

/** Look at one top project: its README and its root folder. */
async function inspectRepo(session: Session, owner: string, repo: SnapshotRepo): Promise<SnapshotRepo> {
  const params = { owner, repo: repo.name };
  const [readme, root] = await Promise.all([
    session.get<RawContent>('GET /repos/{owner}/{repo}/readme', params, true),
    session.get<RawContent[] | RawContent>('GET /repos/{owner}/{repo}/contents/', params, true),
  ]);
  const text = decodeReadme(readme);
  return {
    ...repo,
    readmeLength: text?.length ?? 0,
    readmeExcerpt: text ? text.text.slice(0, PROJECT_README_LIMIT) : null,
    rootFiles: Array.isArray(root) ? root.map((f) => f.name).sort() : [],
  };
}

/** Build the Octokit client: no retry/throttling plugins, quiet log, our user agent. */
function makeOctokit(opts: CollectOptions, baseUrl: string): Octokit {
  const silent = () => undefined;
  return new Octokit({
    auth: opts.token || undefined,
    baseUrl,
    userAgent: USER_AGENT,
    log: { debug: silent, info: silent, warn: silent, error: silent },
    request: { fetch: opts.fetch, signal: opts.signal },
  });
}

/**
 * Collect the public profile of `login`: the user, up to 3 pages of owned repositories
 * (most recently pushed first), the profile README, one page of public events, README and
 * root folder of the top 3 originals, and with a token one GraphQL query. About 10–13
 * requests cold; with a token, repeats are mostly 304s that cost no primary rate limit.
 */
export async function collectProfile(login: string, opts: CollectOptions): Promise<ProfileSnapshot> {
  const problem = validateLogin(login);
  if (problem) throw new PermanentError(problem);
  const now = opts.now ?? Date.now;
  const baseUrl = (opts.baseUrl ?? process.env.GITROAST_GITHUB_API_URL ?? DEFAULT_GITHUB_API_URL).replace(/\/+$/, '');
  const session = new Session(makeOctokit(opts, baseUrl), {
    cache: opts.cache,
    identity: tokenIdentity(opts.token),
    now,
    baseUrl,
  });
  const raw = await session.get<RawUser>('GET /users/{username}', { username: login }, true);
  if (!raw) throw new PermanentError(`no GitHub user named ${login}`);
  // Organisations have no bio, followers or contribution calendar in the sense a
  // recruiter reads them, and GraphQL's user() does not answer for them: rather than
  // score them with half the signals missing, gitroast refuses them outright.
  if (raw.type === 'Organization') {
    throw new PermanentError(`${raw.login} is an organisation; gitroast reviews user profiles only`);
  }
  const user = toUser(raw);
  const started = now();
  const [rawRepos, profileReadme, events, graphql] = await Promise.all([
    fetchRepos(session, user.login, user.publicRepos, opts.maxRepoPages ?? 3),
    session.get<RawContent>('GET /repos/{owner}/{repo}/readme', { owner: user.login, repo: user.login }, true),
    session.get<RawEvent[]>('GET /users/{username}/events/public', { username: user.login, per_page: 100 }, true),
    opts.token ? fetchGraphql(session, user.login, started) : Promise.resolve(null),
  ]);
  // The <login>/<login> repository is the profile README's home, not a project.
  const repos = rawRepos.filter((r) => r.name.toLowerCase() !== user.login.toLowerCase()).map(toRepo);
  const inspected = await Promise.all(topOriginals(repos).map((r) => inspectRepo(session, user.login, r)));
  const byName = new Map(inspected.map((r) => [r.name, r]));
  const readme = decodeReadme(profileReadme);
  return {
    user,
    repos: repos.map((r) => byName.get(r.name) ?? r),
    reposTruncated: user.publicRepos > rawRepos.length,
    profileReadme: readme && { text: readme.text.slice(0, PROFILE_README_LIMIT), length: readme.length },
    events: summariseEvents(events ?? [], user.login, started),
    graphql,
    ...(graphql === null && session.graphqlError ? { graphqlError: session.graphqlError } : {}),
    fetchedAt: started,
    requests: session.requests,
    rateLimit: session.rateLimit,
  };
}
