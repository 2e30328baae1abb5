/**
 * The collector: reads one user's public GitHub profile with @octokit/rest and returns a
 * trimmed ProfileSnapshot. Octokit's retry and throttling plugins are not loaded (the
 * queue owns retries); errors are mapped to what the queue understands: PermanentError
 * (do not retry), DelayError (come back at T, rate limits) or a plain, retryable Error.
 */
import type { Database } from 'better-sqlite3';
import { Octokit } from '@octokit/rest';
import { z } from 'zod';
import { DelayError, GitroastError, PermanentError } from '../queue/errors.js';
import { DAY_MS } from '../util/format.js';
import { safeLine, safeText } from '../util/terminal.js';
import { tokenIdentity } from './budget.js';
import { LIMITS, truncateText } from './limits.js';
import { validateLogin } from './login.js';
import { cacheResponse, cachedResponse } from './store.js';
import {
  topOriginals,
  type BudgetReading,
  type CollectPath,
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
  get(key: string): { etag: string; body: string } | undefined | Promise<{ etag: string; body: string } | undefined>;
  put(key: string, etag: string, body: string, now: number): void | Promise<void>;
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
  /** Pages of 100 owned repositories to read at most; default 3 (1 without a token). */
  maxRepoPages?: number;
  signal?: AbortSignal;
  /**
   * With a token: "graphql" (the default) reads everything GraphQL offers in two queries
   * and the public events over REST; "rest" reads it the older way, every REST call plus
   * one small GraphQL query (the scores are the same either way). Without a token:
   * the few REST calls of the token-less budget, unless "rest" asks for every REST call
   * (about 10 of the 60 an hour).
   */
  via?: 'graphql' | 'rest';
  /** Told the rate-limit budgets the answers' headers carried, once the collection ends (also when it fails). */
  budget?: BudgetSink;
}

/** Where the budgets read from answers go (the github_budget table; see budget.ts). */
export interface BudgetSink {
  record(fingerprint: string, readings: readonly BudgetReading[], now: number): void | Promise<void>;
}

/** A primary rate limit is spent (REST or GraphQL): come back at `until`; `resource` names which. */
export class GitHubRateLimitError extends DelayError {
  constructor(until: number, message: string, readonly resource: 'core' | 'graphql') {
    super(until, message);
  }
}

export { validateLogin } from './login.js';

/** Return the GraphQL endpoint for a REST base URL (GitHub Enterprise: /api/v3 -> /api/graphql). */
export function graphqlUrl(baseUrl: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  return /\/api\/v3$/.test(base) ? base.replace(/\/api\/v3$/, '/api/graphql') : `${base}/graphql`;
}

export { tokenIdentity } from './budget.js';

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
  return readmeOf(bytes, bytes.length === 0 && raw.size ? raw.size : bytes.length);
}

/** Keep a README's start (at most LIMITS.readmeBytes of `bytes`, cleaned) and its real `length` in bytes. */
function readmeOf(bytes: Buffer, length: number): Readme {
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

/** One collection run: counts requests, remembers the rate limits, serves 304s from cache. */
class Session {
  restRequests = 0;
  graphqlQueries = 0;
  graphqlCost = 0;
  rateLimit: RateLimitInfo | null = null;
  /** The last budget each resource's headers told, by resource. */
  readonly budgets = new Map<string, BudgetReading>();
  /** The message of a GraphQL answer that carried errors and no data. */
  graphqlError: string | undefined;

  get requests(): number {
    return this.restRequests + this.graphqlQueries;
  }

  constructor(
    readonly octokit: Octokit,
    readonly opts: { cache: HttpCache; identity: string; now: () => number; baseUrl: string },
  ) {}

  /** Note the rate limit of an answer (its resource's budget; the core one also as rateLimit). */
  track(headers: Headers | undefined, fallbackResource = 'core'): void {
    const resource = header(headers, 'x-ratelimit-resource') ?? fallbackResource;
    const remaining = header(headers, 'x-ratelimit-remaining');
    if (remaining === undefined) return;
    const reading: BudgetReading = {
      resource,
      limit: Number(header(headers, 'x-ratelimit-limit') ?? 0),
      remaining: Number(remaining),
      resetAt: Number(header(headers, 'x-ratelimit-reset') ?? 0) * 1000,
      used: Number(header(headers, 'x-ratelimit-used') ?? 0),
    };
    if (Number.isFinite(reading.remaining) && Number.isFinite(reading.resetAt)) this.budgets.set(resource, reading);
    if (resource !== 'core') return;
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
    const entry = await this.opts.cache.get(key);
    // An entry that no longer reads (written by an older gitroast) is not offered.
    const cached = entry && fromCache(entry.body, schema);
    const headers: Record<string, string> = { 'x-github-api-version': API_VERSION };
    if (entry && cached) headers['if-none-match'] = entry.etag;
    this.restRequests++;
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
    if (etag && Buffer.byteLength(body) <= LIMITS.cachedAnswerBytes) await this.opts.cache.put(key, etag, body, this.opts.now());
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
    const resource = header(h, 'x-ratelimit-resource') === 'graphql' ? 'graphql' : 'core';
    return new GitHubRateLimitError(until, `GitHub rate limit exhausted; resets at ${new Date(until).toISOString()}`, resource);
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
  session.graphqlQueries++;
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
  session.track(headers, 'graphql');
  const body = await readAnswer(res.data, url, GraphqlAnswer);
  if (body.errors?.some((e) => e.type === 'RATE_LIMITED')) throw graphqlRateLimited(headers, now);
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

/** Turn a GraphQL RATE_LIMITED answer into a GitHubRateLimitError at the reset its headers tell. */
function graphqlRateLimited(headers: Headers, now: number): GitHubRateLimitError {
  const reset = Number(header(headers, 'x-ratelimit-reset'));
  const until = Math.max(now, Number.isFinite(reset) && reset > 0 ? reset * 1000 : now + SECONDARY_DEFAULT_MS);
  return new GitHubRateLimitError(until, `GitHub GraphQL rate limit exhausted; resets at ${new Date(until).toISOString()}`, 'graphql');
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

// ---------------------------------------------------------------------------------------
// The GraphQL path (with a token). GitHub prices a query by its connections, not its nodes
// ("GraphQL points"): the profile query asks for 100 repositories with their topics, the
// pinned items and a handful of counts, about 110 connection requests, which GitHub rounds
// to 1 point; the second query (the top projects' README and root folder, no connections)
// is 1 point too. Objects reached through `object(expression:)` are not connections.

/** README file names looked for at the root, in order of preference (GitHub's REST /readme finds any of them). */
const README_NAMES = ['README.md', 'readme.md', 'Readme.md', 'README.markdown', 'README.rst', 'README.txt', 'README'];
const README_FILE = /^readme(\.[A-Za-z0-9]+)?$/i;

/** The GraphQL selection of a repository's root folder and README candidates (no connections). */
const REPO_FILES = `root: object(expression: "HEAD:") { ... on Tree { entries { name } } }
${README_NAMES.map((n, i) => `readme${i}: object(expression: "HEAD:${n}") { ... on Blob { byteSize text } }`).join('\n')}`;

const REPO_FIELDS = `name description primaryLanguage { name } stargazerCount forkCount isFork isArchived
licenseInfo { spdxId key } repositoryTopics(first: 20) { nodes { topic { name } } }
homepageUrl pushedAt createdAt diskUsage`;

const REPOS_PAGE = `repositories(first: 100, after: $after, ownerAffiliations: [OWNER], privacy: PUBLIC, orderBy: {field: PUSHED_AT, direction: DESC}) {
  totalCount pageInfo { hasNextPage endCursor } nodes { ${REPO_FIELDS} }
}`;

const RATE_LIMIT = 'rateLimit { cost limit remaining used resetAt }';

/** The profile query: the user, a page of repositories, the profile README, pinned items, counts and the calendar. */
const PROFILE_QUERY = `query($login: String!, $from: DateTime!, $to: DateTime!, $after: String) {
  ${RATE_LIMIT}
  owner: repositoryOwner(login: $login) {
    __typename login
    ... on User {
      name bio company location email websiteUrl twitterUsername isHireable createdAt url
      followers { totalCount }
      following { totalCount }
      ${REPOS_PAGE}
      profileRepo: repository(name: $login) { ${REPO_FILES} }
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
  }
}`;

/** A further page of repositories (users with more than 100). */
const REPOS_QUERY = `query($login: String!, $after: String) {
  ${RATE_LIMIT}
  owner: repositoryOwner(login: $login) { __typename login ... on User { ${REPOS_PAGE} } }
}`;

/** The top projects' README and root folder, one aliased repository each. */
function projectsQuery(count: number): string {
  const vars = Array.from({ length: count }, (_, i) => `$n${i}: String!`).join(', ');
  const repos = Array.from({ length: count }, (_, i) => `p${i}: repository(owner: $owner, name: $n${i}) { name ${REPO_FILES} }`).join('\n  ');
  return `query($owner: String!, ${vars}) {\n  ${RATE_LIMIT}\n  ${repos}\n}`;
}

const GqlBlob = z.object({ byteSize: count, text: z.string().nullish() }).nullish();
const GqlRepoFiles = {
  root: z.object({ entries: z.array(z.object({ name: text(LIMITS.fileName) })).nullish() }).nullish(),
  ...Object.fromEntries(README_NAMES.map((_, i) => [`readme${i}`, GqlBlob])),
} as Record<string, z.ZodType<unknown>>;
const GqlFiles = z.object(GqlRepoFiles as { root: z.ZodType<{ entries?: { name: string }[] | null } | null | undefined> });
type RawFiles = { root?: { entries?: { name: string }[] | null } | null } & Record<string, unknown>;

const GqlRepo = z.object({
  name: z.string().min(1).max(100),
  description: text(LIMITS.description).nullish(),
  primaryLanguage: z.object({ name: text(LIMITS.label) }).nullish(),
  stargazerCount: count,
  forkCount: count,
  isFork: z.boolean(),
  isArchived: z.boolean(),
  licenseInfo: z.object({ spdxId: text(LIMITS.label).nullish(), key: text(LIMITS.label) }).nullish(),
  repositoryTopics: z.object({ nodes: z.array(z.object({ topic: z.object({ name: z.string() }) }).nullable()) }).nullish(),
  homepageUrl: text(LIMITS.url).nullish(),
  pushedAt: time.nullish(),
  createdAt: time,
  diskUsage: count.nullish(),
});
type RawGqlRepo = z.infer<typeof GqlRepo>;

const GqlReposPage = z.object({
  totalCount: count,
  pageInfo: z.object({ hasNextPage: z.boolean(), endCursor: z.string().max(1000).nullish() }),
  nodes: z.array(GqlRepo.nullable()).transform((n) => n.slice(0, 100).flatMap((r) => (r ? [r] : []))),
});

const GqlRateLimit = z.object({ cost: count, limit: count, remaining: count, used: count.optional(), resetAt: time }).nullish();

const GqlOwnerHead = z.object({ __typename: z.string().max(64), login: z.string().regex(/^[A-Za-z0-9-]{1,39}$/, 'not a GitHub login') });

const GqlProfile = GqlOwnerHead.extend({
  name: text(LIMITS.userText).nullish(),
  bio: text(LIMITS.userText).nullish(),
  company: text(LIMITS.userText).nullish(),
  location: text(LIMITS.userText).nullish(),
  email: text(LIMITS.userText).nullish(),
  websiteUrl: text(LIMITS.userText).nullish(),
  twitterUsername: text(LIMITS.userText).nullish(),
  isHireable: z.boolean().nullish(),
  createdAt: time,
  url: text(LIMITS.url),
  followers: total,
  following: total,
  repositories: GqlReposPage,
  profileRepo: z.unknown(),
}).and(GraphqlUser);

/** The envelope of a GraphQL answer: data read apart, so that errors can explain a missing part. */
const GqlEnvelope = z.object({
  data: z.record(z.string(), z.unknown()).nullish(),
  errors: z.array(z.object({ type: z.string().max(100).optional(), message: text(500), path: z.array(z.union([z.string().max(200), z.number()])).optional() })).optional(),
});
type Envelope = z.infer<typeof GqlEnvelope>;

/** Send one GraphQL query; count it, its points and its budget; a RATE_LIMITED answer becomes a GitHubRateLimitError. */
async function graphqlPost(session: Session, query: string, variables: Record<string, unknown>): Promise<Envelope> {
  session.graphqlQueries++;
  const url = graphqlUrl(session.opts.baseUrl);
  let res: { headers: unknown; data: unknown };
  try {
    res = await session.octokit.request({
      method: 'POST', url, query, variables,
      headers: { 'x-github-api-version': API_VERSION },
      request: { parseSuccessResponseBody: false },
    });
  } catch (err) {
    if (!isOctokitError(err)) throw err;
    session.track(err.response?.headers, 'graphql');
    throw mapError(err, url, session.opts);
  }
  const headers = res.headers as Headers;
  session.track(headers, 'graphql');
  const body = await readAnswer(res.data, url, GqlEnvelope);
  if (body.errors?.some((e) => e.type === 'RATE_LIMITED')) throw graphqlRateLimited(headers, session.opts.now());
  const rate = GqlRateLimit.safeParse(body.data?.rateLimit);
  if (rate.success && rate.data) {
    session.graphqlCost += rate.data.cost;
    const resetAt = Date.parse(rate.data.resetAt);
    if (Number.isFinite(resetAt)) {
      session.budgets.set('graphql', { resource: 'graphql', limit: rate.data.limit, remaining: rate.data.remaining, resetAt, used: rate.data.used ?? rate.data.limit - rate.data.remaining });
    }
  }
  return body;
}

/** Describe the first error of an answer, briefly. */
function firstError(body: Envelope): string {
  return safeLine(body.errors?.[0]?.message ?? 'unknown error').slice(0, 300);
}

/** Read part of `data` through `schema`; a wrong shape is an UnreadableAnswerError naming the GraphQL URL. */
function gqlPart<T>(session: Session, value: unknown, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UnreadableAnswerError(displayUrl(graphqlUrl(session.opts.baseUrl)), schemaProblem(parsed.error));
  return parsed.data;
}

function gqlRepo(raw: RawGqlRepo): SnapshotRepo {
  const lic = raw.licenseInfo;
  return {
    name: raw.name,
    description: clean(raw.description),
    language: raw.primaryLanguage?.name ?? null,
    stars: raw.stargazerCount,
    forks: raw.forkCount,
    fork: raw.isFork,
    archived: raw.isArchived,
    license: lic ? (lic.spdxId && lic.spdxId !== 'NOASSERTION' ? lic.spdxId : lic.key) : null,
    topics: (raw.repositoryTopics?.nodes ?? [])
      .flatMap((n) => (n ? [n.topic.name] : []))
      .slice(0, LIMITS.topics)
      .map((t) => safeText(truncateText(t, LIMITS.topic))),
    homepage: clean(raw.homepageUrl),
    pushedAt: raw.pushedAt ?? null,
    createdAt: raw.createdAt,
    size: raw.diskUsage ?? 0,
    readmeLength: null,
    readmeExcerpt: null,
    rootFiles: null,
  };
}

/**
 * Read a repository's files selection: its root names (null without a HEAD: empty) and its
 * README, or `needsRest` when the root holds a README of a name not asked for.
 */
function filesOf(raw: RawFiles | null | undefined): { root: string[]; readme: Readme | null; needsRest: boolean } {
  const root = (raw?.root?.entries ?? []).map((e) => e.name).slice(0, LIMITS.rootFiles);
  for (let i = 0; i < README_NAMES.length; i++) {
    const b = raw?.[`readme${i}`] as { byteSize: number; text?: string | null } | null | undefined;
    if (b) return { root, readme: readmeOf(Buffer.from(b.text ?? '', 'utf8'), b.byteSize), needsRest: false };
  }
  return { root, readme: null, needsRest: root.some((n) => README_FILE.test(n)) };
}

/** The REST README of a repository, for a README name the GraphQL query did not ask for. */
async function restReadme(session: Session, owner: string, repo: string): Promise<Readme | null> {
  return (await session.get('GET /repos/{owner}/{repo}/readme', { owner, repo }, ReadmeAnswer, true)) ?? null;
}

/** What the GraphQL path collected, before the events. */
interface GraphqlProfile {
  user: SnapshotUser;
  raw: RawGqlRepo[];
  truncated: boolean;
  profileReadme: Readme | null;
  graphql: GraphqlData;
}

/**
 * Run the profile query (and further pages of repositories). Return undefined when GraphQL
 * answered with errors and no usable data: the caller then reads REST (session.graphqlError says why).
 */
async function graphqlProfile(session: Session, login: string, now: number, maxPages: number): Promise<GraphqlProfile | undefined> {
  const from = new Date(now - 365 * DAY_MS).toISOString();
  const to = new Date(now).toISOString();
  const body = await graphqlPost(session, PROFILE_QUERY, { login, from, to, after: null });
  if (!body.data || !('owner' in body.data)) {
    if (body.errors?.length) {
      session.graphqlError = firstError(body);
      return undefined;
    }
    throw new UnreadableAnswerError(displayUrl(graphqlUrl(session.opts.baseUrl)), 'unexpected shape at data: no owner');
  }
  if (body.data.owner === null) throw new PermanentError(`no GitHub user named ${login}`);
  const head = gqlPart(session, body.data.owner, GqlOwnerHead);
  if (head.__typename === 'Organization') throw new PermanentError(`${head.login} is an organisation; gitroast reviews user profiles only`);
  const parsed = GqlProfile.safeParse(body.data.owner);
  if (!parsed.success) {
    // A partial user that comes with GraphQL errors is read over REST, and the error said.
    if (body.errors?.length) {
      session.graphqlError = firstError(body);
      return undefined;
    }
    throw new UnreadableAnswerError(displayUrl(graphqlUrl(session.opts.baseUrl)), schemaProblem(parsed.error));
  }
  const u = parsed.data;
  const user: SnapshotUser = {
    login: u.login,
    name: clean(u.name),
    bio: clean(u.bio),
    company: clean(u.company),
    blog: clean(u.websiteUrl),
    location: clean(u.location),
    email: clean(u.email),
    hireable: u.isHireable ?? null,
    twitter: clean(u.twitterUsername),
    publicRepos: u.repositories.totalCount,
    followers: u.followers.totalCount,
    following: u.following.totalCount,
    createdAt: u.createdAt,
    htmlUrl: u.url,
  };
  const raw = [...u.repositories.nodes];
  let page = u.repositories;
  for (let n = 2; n <= maxPages && page.pageInfo.hasNextPage && page.pageInfo.endCursor && raw.length < user.publicRepos; n++) {
    const more = await graphqlPost(session, REPOS_QUERY, { login: user.login, after: page.pageInfo.endCursor });
    const owner = gqlPart(session, more.data?.owner, z.object({ repositories: GqlReposPage }));
    page = owner.repositories;
    raw.push(...page.nodes);
  }
  const profileFiles = filesOf(gqlPart(session, u.profileRepo ?? null, GqlFiles.nullable()) as RawFiles | null);
  const profileReadme = profileFiles.needsRest ? await restReadme(session, user.login, user.login) : profileFiles.readme;
  return { user, raw, truncated: user.publicRepos > raw.length, profileReadme, graphql: toGraphql(u) };
}

/** Look at the top projects (README, root folder) in one GraphQL query; repositories it cannot see are looked at over REST. */
async function graphqlProjects(session: Session, owner: string, top: SnapshotRepo[]): Promise<SnapshotRepo[]> {
  if (top.length === 0) return [];
  const vars: Record<string, unknown> = { owner };
  top.forEach((r, i) => (vars[`n${i}`] = r.name));
  const body = await graphqlPost(session, projectsQuery(top.length), vars);
  return Promise.all(top.map(async (repo, i) => {
    const raw = body.data?.[`p${i}`];
    // A repository GraphQL did not give (renamed meanwhile, an error) is looked at over REST.
    if (raw === null || raw === undefined) return inspectRepo(session, owner, repo);
    const files = filesOf(gqlPart(session, raw, GqlFiles) as RawFiles);
    const readme = files.needsRest ? await restReadme(session, owner, repo.name) : files.readme;
    return {
      ...repo,
      readmeLength: readme?.length ?? 0,
      readmeExcerpt: readme ? readme.text.slice(0, LIMITS.projectReadme) : null,
      rootFiles: [...files.root].sort(),
    };
  }));
}

/** Assemble a snapshot from what a path collected. */
function snapshotOf(
  session: Session,
  via: CollectPath,
  parts: { user: SnapshotUser; repos: SnapshotRepo[]; inspected: SnapshotRepo[]; truncated: boolean; profileReadme: Readme | null; events: RawEvent[]; graphql: GraphqlData | null; started: number },
): ProfileSnapshot {
  const byName = new Map(parts.inspected.map((r) => [r.name, r]));
  const readme = parts.profileReadme;
  return {
    user: parts.user,
    repos: parts.repos.map((r) => byName.get(r.name) ?? r),
    reposTruncated: parts.truncated,
    profileReadme: readme && { text: readme.text.slice(0, LIMITS.profileReadme), length: readme.length },
    events: summariseEvents(parts.events, parts.user.login, parts.started),
    graphql: parts.graphql,
    ...(parts.graphql === null && session.graphqlError ? { graphqlError: session.graphqlError } : {}),
    fetchedAt: parts.started,
    requests: session.requests,
    restRequests: session.restRequests,
    graphqlQueries: session.graphqlQueries,
    graphqlCost: session.graphqlCost,
    via,
    rateLimit: session.rateLimit,
  };
}

/** The <login>/<login> repository is the profile README's home, not a project. */
function projects(raw: SnapshotRepo[], login: string): SnapshotRepo[] {
  return raw.filter((r) => r.name.toLowerCase() !== login.toLowerCase());
}

/** Read the user over REST; organisations and unknown logins are PermanentErrors. */
async function restUser(session: Session, login: string): Promise<SnapshotUser> {
  const raw = await session.get('GET /users/{username}', { username: login }, UserAnswer, true);
  if (!raw) throw new PermanentError(`no GitHub user named ${login}`);
  // Organisations have no bio, followers or contribution calendar in the sense a
  // recruiter reads them, and GraphQL's user() does not answer for them: rather than
  // score them with half the signals missing, gitroast refuses them outright.
  if (raw.type === 'Organization') {
    throw new PermanentError(`${raw.login} is an organisation; gitroast reviews user profiles only`);
  }
  return toUser(raw);
}

function events(session: Session, login: string): Promise<RawEvent[] | undefined> {
  return session.get('GET /users/{username}/events/public', { username: login, per_page: 100 }, EventsAnswer, true);
}

/**
 * Collect the public profile of `login`. With a token (the GraphQL path): one GraphQL
 * query for the user, up to 100 repositories, the profile README, pinned items, counts
 * and the calendar; one for the top 3 originals' README and root folder; the public
 * events over REST (ETag-cached). About 2 GraphQL points and 1 REST request cold.
 * Without a token (the lean REST path): the user, one page of repositories, the public
 * events and the profile README when its repository exists: at most 4 requests; the top
 * projects' READMEs and roots are not looked at (the scorer marks them not measured).
 * With `via: "rest"`: every REST call (about 10) and, with a token, one small GraphQL query.
 */
export async function collectProfile(login: string, opts: CollectOptions): Promise<ProfileSnapshot> {
  const problem = validateLogin(login);
  if (problem) throw new PermanentError(problem);
  const now = opts.now ?? Date.now;
  const baseUrl = (opts.baseUrl ?? process.env.GITROAST_GITHUB_API_URL ?? DEFAULT_GITHUB_API_URL).replace(/\/+$/, '');
  const identity = tokenIdentity(opts.token);
  const session = new Session(makeOctokit(opts, baseUrl), { cache: opts.cache, identity, now, baseUrl });
  try {
    if (!opts.token && opts.via !== 'rest') return await collectLean(session, login, now());
    if (opts.via !== 'rest') {
      const started = now();
      const g = await graphqlProfile(session, login, started, opts.maxRepoPages ?? 3);
      if (g) {
        const repos = projects(g.raw.map(gqlRepo), g.user.login);
        const [inspected, evs] = await Promise.all([graphqlProjects(session, g.user.login, topOriginals(repos)), events(session, g.user.login)]);
        return snapshotOf(session, 'graphql', {
          user: g.user, repos, inspected, truncated: g.truncated, profileReadme: g.profileReadme, events: evs ?? [], graphql: g.graphql, started,
        });
      }
    }
    return await collectRest(session, login, now(), opts.maxRepoPages ?? 3, opts.token !== undefined && session.graphqlError === undefined);
  } finally {
    if (opts.budget && session.budgets.size > 0) await opts.budget.record(identity, [...session.budgets.values()], now());
  }
}

/** Every REST call: the user, repositories, profile README, events, the top projects' README and root, and (`withGraphql`) the small GraphQL query. */
async function collectRest(session: Session, login: string, started: number, maxPages: number, withGraphql: boolean): Promise<ProfileSnapshot> {
  const user = await restUser(session, login);
  const [rawRepos, profileReadme, evs, graphql] = await Promise.all([
    fetchRepos(session, user.login, user.publicRepos, maxPages),
    session.get('GET /repos/{owner}/{repo}/readme', { owner: user.login, repo: user.login }, ReadmeAnswer, true),
    events(session, user.login),
    withGraphql ? fetchGraphql(session, user.login, started) : Promise.resolve(null),
  ]);
  const repos = projects(rawRepos.map(toRepo), user.login);
  const inspected = await Promise.all(topOriginals(repos).map((r) => inspectRepo(session, user.login, r)));
  return snapshotOf(session, 'rest', {
    user, repos, inspected, truncated: user.publicRepos > rawRepos.length, profileReadme: profileReadme ?? null, events: evs ?? [], graphql, started,
  });
}

/**
 * The token-less budget (60 requests an hour): the user, one page of repositories, the
 * events, and the profile README only when its repository is listed (or the list was cut).
 */
async function collectLean(session: Session, login: string, started: number): Promise<ProfileSnapshot> {
  const user = await restUser(session, login);
  const rawRepos = await fetchRepos(session, user.login, user.publicRepos, 1);
  const truncated = user.publicRepos > rawRepos.length;
  const hasProfileRepo = truncated || rawRepos.some((r) => r.name.toLowerCase() === user.login.toLowerCase());
  const [profileReadme, evs] = await Promise.all([
    hasProfileRepo ? session.get('GET /repos/{owner}/{repo}/readme', { owner: user.login, repo: user.login }, ReadmeAnswer, true) : Promise.resolve(undefined),
    events(session, user.login),
  ]);
  return snapshotOf(session, 'rest-lean', {
    user, repos: projects(rawRepos.map(toRepo), user.login), inspected: [], truncated, profileReadme: profileReadme ?? null, events: evs ?? [], graphql: null, started,
  });
}
