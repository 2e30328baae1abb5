/**
 * The collector: reads one user's public GitHub profile with @octokit/rest and returns a
 * trimmed ProfileSnapshot. Octokit's retry and throttling plugins are not loaded (the
 * queue owns retries); errors are mapped to what the queue understands: PermanentError
 * (do not retry), DelayError (come back at T, rate limits) or a plain, retryable Error.
 */
import { createHash } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { Octokit } from '@octokit/rest';
import { z } from 'zod';
import { DelayError, GitroastError, PermanentError } from '../queue/errors.js';
import { DAY_MS } from '../util/format.js';
import { safeLine, safeText } from '../util/terminal.js';
import { LIMITS, truncateText } from './limits.js';
import { validateLogin } from './login.js';
import { cacheResponse, cachedResponse } from './store.js';
import {
  topOriginals,
  type EventsSummary,
  type GraphqlData,
  type ProfileSnapshot,
  type RateLimitInfo,
  type SnapshotRepo,
  type SnapshotUser,
} from './snapshot.js';

const DEFAULT_GITHUB_API_URL = 'https://api.github.com';
const API_VERSION = '2022-11-28';
const USER_AGENT = 'gitroast/0.1 (+https://github.com/gitroast/gitroast)';
const SECONDARY_DEFAULT_MS = 60_000;

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
    return cachedResponse(this.db, key);
  }

  /** Store or replace the entry for `key` in one short transaction. */
  put(key: string, etag: string, body: string, now: number): void {
    cacheResponse(this.db, key, etag, body, now);
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

// ---------------------------------------------------------------------------------------
// What gitroast reads of each answer. Every answer goes through one of these schemas
// before use: unknown fields are dropped, free text is cut to LIMITS, and a wrong shape is
// an UnreadableAnswerError. What a schema returns is also what the ETag cache keeps, and
// reading it back through the same schema gives the same value.

/** Free text cut to `limit` characters. */
const text = (limit: number) => z.string().transform((v) => truncateText(v, limit));
const count = z.number().int().min(0);
/** A timestamp as GitHub writes it (ISO 8601). */
const time = z.string().max(64);

const UserAnswer = z.object({
  // The login goes into the next requests' paths: it must be one (legacy ones included).
  login: z.string().regex(/^[A-Za-z0-9-]{1,39}$/, 'not a GitHub login'),
  type: z.string().max(64),
  name: text(LIMITS.userText).nullish(),
  bio: text(LIMITS.userText).nullish(),
  company: text(LIMITS.userText).nullish(),
  blog: text(LIMITS.userText).nullish(),
  location: text(LIMITS.userText).nullish(),
  email: text(LIMITS.userText).nullish(),
  hireable: z.boolean().nullish(),
  twitter_username: text(LIMITS.userText).nullish(),
  public_repos: count,
  followers: count,
  following: count,
  created_at: time,
  html_url: text(LIMITS.url),
});
type RawUser = z.infer<typeof UserAnswer>;

const RepoAnswer = z.object({
  name: z.string().min(1).max(100),
  description: text(LIMITS.description).nullish(),
  language: text(LIMITS.label).nullish(),
  stargazers_count: count,
  forks_count: count,
  fork: z.boolean(),
  archived: z.boolean(),
  license: z.object({ spdx_id: text(LIMITS.label).nullish(), key: text(LIMITS.label) }).nullish(),
  topics: z.array(z.string()).optional().transform((t) => t?.slice(0, LIMITS.topics).map((x) => truncateText(x, LIMITS.topic))),
  homepage: text(LIMITS.url).nullish(),
  pushed_at: time.nullish(),
  created_at: time,
  size: count,
});
type RawRepo = z.infer<typeof RepoAnswer>;
const ReposAnswer = z.array(RepoAnswer).transform((r) => r.slice(0, 100));

const EventsAnswer = z
  .array(z.object({ type: z.string().max(64), repo: z.object({ name: z.string().max(250) }), created_at: time }))
  .transform((e) => e.slice(0, 100));
type RawEvent = z.infer<typeof EventsAnswer>[number];

/** A README as kept: its first LIMITS.readmeBytes of text and its real size in bytes. */
const ReadmeKept = z.strictObject({ text: z.string().max(LIMITS.readmeBytes), length: count });
type Readme = z.infer<typeof ReadmeKept>;
/** A README as GitHub sends it; `content` is empty (encoding "none") above 1 MB. */
const ReadmeAnswer = z.union([
  z.null(),
  ReadmeKept,
  z.object({ content: z.string().optional(), encoding: z.string().max(64).optional(), size: count.optional() }).transform(decodeReadme),
]);

/** A root folder as kept: its names; GitHub sends objects (or one object for a file). */
const RootAnswer = z.union([
  z.array(z.string().max(LIMITS.fileName)),
  z.array(z.object({ name: text(LIMITS.fileName) })).transform((f) => f.map((x) => x.name)),
  z.object({}).transform((): string[] => []),
]).transform((names) => names.slice(0, LIMITS.rootFiles));

/** Decode a README answer to its start (at most LIMITS.readmeBytes) and its byte length. */
function decodeReadme(raw: { content?: string; encoding?: string; size?: number }): Readme | null {
  if (typeof raw.content !== 'string') return null;
  const bytes = Buffer.from(raw.content, raw.encoding === 'base64' ? 'base64' : 'utf8');
  // Above 1 MB GitHub leaves the content out and gives the size alone.
  const length = bytes.length === 0 && raw.size ? raw.size : bytes.length;
  // A cut inside a multi-byte character decodes to U+FFFD at the end: drop it.
  let start = bytes.subarray(0, LIMITS.readmeBytes).toString('utf8');
  if (bytes.length > LIMITS.readmeBytes) start = start.replace(/\uFFFD$/, '');
  return { text: safeText(start), length };
}

/** A plain, retryable error: GitHub sent an answer gitroast cannot read (not JSON, wrong shape, too large). */
export class UnreadableAnswerError extends GitroastError {
  constructor(readonly url: string, reason: string) {
    super('E_GITHUB_ANSWER', `GitHub sent an unreadable answer for ${url}: ${reason}; will retry`);
  }
}

/** Show a URL without credentials or a fragment (error messages name it). */
function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.hash = '';
    return u.toString();
  } catch {
    return safeLine(url).slice(0, 300);
  }
}

/** Describe why an answer failed its schema, briefly (the first problem). */
function schemaProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'unexpected shape';
  const where = issue.path.length ? issue.path.map(String).join('.') : 'the answer';
  return `unexpected shape at ${safeLine(where).slice(0, 100)}: ${safeLine(issue.message).slice(0, 150)}`;
}

/**
 * Read an answer body (a web stream) as text, at most LIMITS.answerBytes, then parse it
 * with JSON.parse (not Octokit's parser, which overflows its stack on a 10 MB string and
 * then hands back the raw text) and `schema`.
 */
async function readAnswer<T>(body: unknown, url: string, schema: z.ZodType<T>): Promise<T> {
  const where = displayUrl(url);
  const chunks: Buffer[] = [];
  let size = 0;
  if (body instanceof ReadableStream) {
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > LIMITS.answerBytes) {
        await reader.cancel().catch(() => undefined);
        throw new UnreadableAnswerError(where, `larger than ${LIMITS.answerBytes / 1024 / 1024} MB`);
      }
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  } else if (typeof body === 'string') {
    chunks.push(Buffer.from(body, 'utf8'));
  } else if (body !== null && body !== undefined) {
    return parseAnswer(body, where, schema);
  }
  let data: unknown;
  try {
    data = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new UnreadableAnswerError(where, `not JSON (${safeLine((err as Error).message).slice(0, 120)})`);
  }
  return parseAnswer(data, where, schema);
}

function parseAnswer<T>(data: unknown, where: string, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new UnreadableAnswerError(where, schemaProblem(parsed.error));
  return parsed.data;
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
   * GET a REST route with If-None-Match when cached; a 304 serves the cached body. The
   * answer is read through `schema` (see readAnswer) and what the schema returns is what
   * is cached, when it fits LIMITS.cachedAnswerBytes. Return undefined when `optional` and
   * the thing is not there (404, 409 empty repository, 451 blocked); map other errors.
   */
  async get<T>(route: string, params: Record<string, string | number>, schema: z.ZodType<T>, optional = false): Promise<T | undefined> {
    const url = this.octokit.request.endpoint(route, params).url;
    const key = `${this.opts.identity} ${url}`;
    const entry = this.opts.cache.get(key);
    // An entry that no longer reads (written by an older gitroast) is not offered.
    const cached = entry && fromCache(entry.body, schema);
    const headers: Record<string, string> = { 'x-github-api-version': API_VERSION };
    if (entry && cached) headers['if-none-match'] = entry.etag;
    this.requests++;
    let res: { headers: unknown; data: unknown };
    try {
      res = await this.octokit.request(route, { ...params, headers, request: { parseSuccessResponseBody: false } });
    } catch (err) {
      if (!isOctokitError(err)) throw err;
      this.track(err.response?.headers);
      if (err.status === 304 && cached) return cached.value;
      if (optional && [404, 409, 451].includes(err.status)) return undefined;
      throw mapError(err, url, this.opts);
    }
    this.track(res.headers as Headers);
    const value = await readAnswer(res.data, url, schema);
    const etag = header(res.headers as Headers, 'etag');
    const body = JSON.stringify(value);
    if (etag && Buffer.byteLength(body) <= LIMITS.cachedAnswerBytes) this.opts.cache.put(key, etag, body, this.opts.now());
    return value;
  }
}

/** Read a cached body back through its schema; undefined when it does not read. */
function fromCache<T>(body: string, schema: z.ZodType<T>): { value: T } | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(body));
    return parsed.success ? { value: parsed.data } : undefined;
  } catch {
    return undefined;
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
    language: raw.language ?? null,
    stars: raw.stargazers_count,
    forks: raw.forks_count,
    fork: raw.fork,
    archived: raw.archived,
    license: raw.license ? (raw.license.spdx_id && raw.license.spdx_id !== 'NOASSERTION' ? raw.license.spdx_id : raw.license.key) : null,
    topics: (raw.topics ?? []).map((t) => safeText(t)),
    homepage: clean(raw.homepage),
    pushedAt: raw.pushed_at ?? null,
    createdAt: raw.created_at,
    size: raw.size,
    readmeLength: null,
    readmeExcerpt: null,
    rootFiles: null,
  };
}

/** Summarise the public events of the 30 days before `now`. */
function summariseEvents(events: RawEvent[], login: string, now: number): EventsSummary {
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

const total = z.object({ totalCount: count });

/** The user part of the GraphQL answer. */
const GraphqlUser = z.object({
  pinnedItems: z.object({ nodes: z.array(z.object({ name: z.string().max(100).optional() }).nullable()).transform((n) => n.slice(0, 6)) }),
  pullRequests: total,
  mergedPullRequests: total,
  issues: total,
  organizations: total,
  socialAccounts: total.optional(),
  repositoriesContributedTo: total,
  contributionsCollection: z.object({
    contributionYears: z.array(z.number().int()).transform((y) => y.slice(0, 100)),
    totalPullRequestReviewContributions: count,
    totalIssueContributions: count,
    contributionCalendar: z.object({
      totalContributions: count,
      // A year is 53 or 54 weeks of at most 7 days.
      weeks: z
        .array(z.object({ contributionDays: z.array(z.object({ date: z.string().max(32), contributionCount: count })).transform((d) => d.slice(0, 7)) }))
        .transform((w) => w.slice(-54)),
    }),
  }),
});

/** The GraphQL envelope: the user is read apart, so that GraphQL errors can explain a partial one. */
const GraphqlAnswer = z.object({
  data: z.object({ user: z.unknown() }).nullish(),
  errors: z.array(z.object({ type: z.string().max(100).optional(), message: text(500) })).optional(),
});

/** Turn the GraphQL answer into GraphqlData. */
function toGraphql(user: z.infer<typeof GraphqlUser>): GraphqlData {
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
  const url = graphqlUrl(session.opts.baseUrl);
  let res: { headers: unknown; data: unknown };
  try {
    res = await session.octokit.request({
      method: 'POST',
      url,
      query: GRAPHQL_QUERY,
      variables: { login, from, to },
      headers: { 'x-github-api-version': API_VERSION },
      request: { parseSuccessResponseBody: false },
    });
  } catch (err) {
    if (!isOctokitError(err)) throw err;
    throw mapError(err, url, session.opts);
  }
  const headers = res.headers as Headers;
  const body = await readAnswer(res.data, url, GraphqlAnswer);
  if (body.errors?.some((e) => e.type === 'RATE_LIMITED')) {
    const reset = Number(header(headers, 'x-ratelimit-reset'));
    const until = Number.isFinite(reset) && reset > 0 ? reset * 1000 : now + SECONDARY_DEFAULT_MS;
    throw new DelayError(Math.max(now, until), `GitHub GraphQL rate limit exhausted; resets at ${new Date(until).toISOString()}`);
  }
  const raw = body.data?.user;
  const firstError = () => safeLine(body.errors![0]!.message ?? 'unknown error').slice(0, 300);
  if (raw === null || raw === undefined) {
    if (body.errors?.length) session.graphqlError = firstError();
    return null;
  }
  const user = GraphqlUser.safeParse(raw);
  if (user.success) return toGraphql(user.data);
  // A partial user that comes with GraphQL errors is left out like any other error, and said.
  if (body.errors?.length) {
    session.graphqlError = firstError();
    return null;
  }
  throw new UnreadableAnswerError(displayUrl(url), schemaProblem(user.error));
}

/** Read up to `maxPages` pages of owned repositories, most recently pushed first. */
async function fetchRepos(session: Session, login: string, publicRepos: number, maxPages: number): Promise<RawRepo[]> {
  const repos: RawRepo[] = [];
  for (let page = 1; page <= maxPages; page++) {
    const data =
      (await session.get('GET /users/{username}/repos', {
        username: login,
        type: 'owner',
        sort: 'pushed',
        direction: 'desc',
        per_page: 100,
        page,
      }, ReposAnswer)) ?? [];
    repos.push(...data);
    if (data.length < 100 || repos.length >= publicRepos) break;
  }
  return repos;
}

/** Look at one top project: its README and its root folder. */
async function inspectRepo(session: Session, owner: string, repo: SnapshotRepo): Promise<SnapshotRepo> {
  const params = { owner, repo: repo.name };
  const [readme, root] = await Promise.all([
    session.get('GET /repos/{owner}/{repo}/readme', params, ReadmeAnswer, true),
    session.get('GET /repos/{owner}/{repo}/contents/', params, RootAnswer, true),
  ]);
  return {
    ...repo,
    readmeLength: readme?.length ?? 0,
    readmeExcerpt: readme ? readme.text.slice(0, LIMITS.projectReadme) : null,
    rootFiles: root ? [...root].sort() : [],
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
  const raw = await session.get('GET /users/{username}', { username: login }, UserAnswer, true);
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
    session.get('GET /repos/{owner}/{repo}/readme', { owner: user.login, repo: user.login }, ReadmeAnswer, true),
    session.get('GET /users/{username}/events/public', { username: user.login, per_page: 100 }, EventsAnswer, true),
    opts.token ? fetchGraphql(session, user.login, started) : Promise.resolve(null),
  ]);
  // The <login>/<login> repository is the profile README's home, not a project.
  const repos = rawRepos.filter((r) => r.name.toLowerCase() !== user.login.toLowerCase()).map(toRepo);
  const inspected = await Promise.all(topOriginals(repos).map((r) => inspectRepo(session, user.login, r)));
  const byName = new Map(inspected.map((r) => [r.name, r]));
  const readme = profileReadme ?? null;
  return {
    user,
    repos: repos.map((r) => byName.get(r.name) ?? r),
    reposTruncated: user.publicRepos > rawRepos.length,
    profileReadme: readme && { text: readme.text.slice(0, LIMITS.profileReadme), length: readme.length },
    events: summariseEvents(events ?? [], user.login, started),
    graphql,
    ...(graphql === null && session.graphqlError ? { graphqlError: session.graphqlError } : {}),
    fetchedAt: started,
    requests: session.requests,
    rateLimit: session.rateLimit,
  };
}
