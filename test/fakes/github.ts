/**
 * A fake GitHub API on 127.0.0.1: real HTTP, realistic JSON and headers (etag, rate-limit
 * headers, link pagination), ETag / If-None-Match -> 304, a request log, primary rate
 * limits per token, and faults injectable per path.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connection, GqlError, parseQuery, queryCost, resolve, type GqlObject, type Selection } from './graphql.js';

export * from './profiles.js';

/** A repository in the registry; dates are ISO strings. */
export interface FakeRepo {
  name: string;
  description?: string | null;
  language?: string | null;
  stars?: number;
  forks?: number;
  fork?: boolean;
  archived?: boolean;
  /** SPDX id, e.g. "MIT"; null or absent for none. */
  license?: string | null;
  topics?: string[];
  homepage?: string | null;
  pushedAt: string;
  createdAt: string;
  /** Size in KB; 0 means an empty repository. */
  size: number;
  readme?: string;
  /** The README's file name in the root folder; default README.md. */
  readmeName?: string;
  /** Names in the root folder. */
  files?: string[];
}

export interface FakeEvent {
  type: string;
  /** "owner/name" */
  repo: string;
  createdAt: string;
}

interface FakeGraphql {
  /** Daily contributions, oldest first, ending on the fake's `now` day (365 or 366 entries). */
  calendar: number[];
  contributionYears: number[];
  pinned: string[];
  pullRequests: number;
  mergedPullRequests: number;
  issues: number;
  organizations: number;
  socialAccounts: number;
  reviewContributions: number;
  issueContributions: number;
  repositoriesContributedTo: number;
}

/** A user or organisation in the registry. */
export interface FakeUser {
  login: string;
  type?: 'User' | 'Organization';
  name?: string | null;
  bio?: string | null;
  company?: string | null;
  blog?: string;
  location?: string | null;
  email?: string | null;
  hireable?: boolean | null;
  twitter?: string | null;
  followers?: number;
  following?: number;
  createdAt?: string;
  repos?: FakeRepo[];
  /** Content of the <login>/<login> README; the repository is listed when set. */
  profileReadme?: string;
  events?: FakeEvent[];
  graphql?: FakeGraphql;
}

/** One step of an injected fault sequence. */
export type FaultStep =
  | 'ok'
  | { status: number; headers?: Record<string, string>; body?: unknown; /** Sent as it is instead of JSON of `body`. */ raw?: string }
  | { rateLimited: true; reset?: number; status?: 403 | 429 }
  | { secondary: true; retryAfter?: number; status?: 403 | 429 }
  | { drop: true }
  | { delayMs: number };

interface LoggedRequest {
  method: string;
  /** Path with query, as received. */
  path: string;
  headers: Record<string, string>;
  status: number;
}

export interface FakeGitHubOptions {
  /** The clock the fake's data and rate-limit resets are relative to; default Date.now(). */
  now?: number;
  /** "/api/v3" to look like GitHub Enterprise Server (GraphQL then at /api/graphql). */
  prefix?: '' | '/api/v3';
  /** Tokens that authenticate; any other token gets 401. Default: any token works. */
  tokens?: string[];
  /** Primary rate limit reset (epoch seconds); default now + 1 h. */
  reset?: number;
  users?: FakeUser[];
  /** Hold every answer this many ms, as real GitHub takes 100-300 ms (default 0). */
  latencyMs?: number;
}

export interface FakeGitHub {
  /** REST base URL to hand to the collector. */
  url: string;
  origin: string;
  requests: LoggedRequest[];
  addUser(user: FakeUser): void;
  /** Answer requests whose path (no query, no prefix) matches with these steps, in order. */
  fault(path: string | RegExp, steps: FaultStep[]): void;
  /** Set the remaining primary limit of an identity ('anon' or the token). */
  setRemaining(identity: string, remaining: number): void;
  /** Return the remaining primary limit of an identity ('anon' or the token). */
  remaining(identity: string): number;
  /** Set the remaining GraphQL points of a token. */
  setGraphqlRemaining(identity: string, points: number): void;
  /** Return the remaining GraphQL points of a token. */
  graphqlRemaining(identity: string): number;
  /** Every GraphQL query answered (not refused), with its rateLimit.cost. */
  graphqlQueries: { cost: number; query: string }[];
  clearLog(): void;
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;
/** GraphQL points per hour of a token (GitHub's figure for a user). */
const GRAPHQL_LIMIT = 5000;

function identityOf(req: IncomingMessage): string {
  const auth = req.headers.authorization;
  if (!auth) return 'anon';
  return auth.replace(/^(token|bearer)\s+/i, '');
}

function b64(text: string): string {
  return (Buffer.from(text, 'utf8').toString('base64').match(/.{1,60}/g) ?? []).join('\n') + '\n';
}

function userJson(u: FakeUser, origin: string, publicRepos: number) {
  return {
    login: u.login,
    id: Math.abs(hashInt(u.login)),
    node_id: `U_${u.login}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${Math.abs(hashInt(u.login))}?v=4`,
    gravatar_id: '',
    url: `${origin}/users/${u.login}`,
    html_url: `https://github.com/${u.login}`,
    repos_url: `${origin}/users/${u.login}/repos`,
    type: u.type ?? 'User',
    site_admin: false,
    name: u.name ?? null,
    company: u.company ?? null,
    blog: u.blog ?? '',
    location: u.location ?? null,
    email: u.email ?? null,
    hireable: u.hireable ?? null,
    bio: u.bio ?? null,
    twitter_username: u.twitter ?? null,
    public_repos: publicRepos,
    public_gists: 0,
    followers: u.followers ?? 0,
    following: u.following ?? 0,
    created_at: u.createdAt ?? '2015-03-01T10:00:00Z',
    updated_at: u.createdAt ?? '2015-03-01T10:00:00Z',
  };
}

function hashInt(s: string): number {
  return createHash('sha1').update(s).digest().readInt32BE(0);
}

function repoJson(owner: string, r: FakeRepo, origin: string) {
  return {
    id: Math.abs(hashInt(`${owner}/${r.name}`)),
    node_id: `R_${r.name}`,
    name: r.name,
    full_name: `${owner}/${r.name}`,
    private: false,
    owner: { login: owner, type: 'User' },
    html_url: `https://github.com/${owner}/${r.name}`,
    description: r.description ?? null,
    fork: r.fork ?? false,
    url: `${origin}/repos/${owner}/${r.name}`,
    created_at: r.createdAt,
    updated_at: r.pushedAt,
    pushed_at: r.pushedAt,
    homepage: r.homepage ?? null,
    size: r.size,
    stargazers_count: r.stars ?? 0,
    watchers_count: r.stars ?? 0,
    language: r.language ?? null,
    forks_count: r.forks ?? 0,
    archived: r.archived ?? false,
    disabled: false,
    open_issues_count: 0,
    license: r.license ? { key: r.license.toLowerCase(), name: `${r.license} License`, spdx_id: r.license, url: null, node_id: 'L' } : null,
    topics: r.topics ?? [],
    visibility: 'public',
    default_branch: 'main',
  };
}

/** Build the contributions calendar weeks ending on `now`'s day. */
function calendarWeeks(calendar: number[], now: number) {
  const end = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate());
  const days = calendar.map((count, i) => ({
    date: new Date(end - (calendar.length - 1 - i) * DAY_MS).toISOString().slice(0, 10),
    contributionCount: count,
  }));
  const weeks: { contributionDays: typeof days }[] = [];
  for (let i = 0; i < days.length; i += 7) weeks.push({ contributionDays: days.slice(i, i + 7) });
  return { totalContributions: calendar.reduce((a, b) => a + b, 0), weeks };
}

/** Start the fake on 127.0.0.1 with a free port. */
export async function startFakeGitHub(opts: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  const now = opts.now ?? Date.now();
  const prefix = opts.prefix ?? '';
  const reset = opts.reset ?? Math.floor(now / 1000) + 3600;
  const users = new Map<string, FakeUser>();
  const faults: { path: string | RegExp; steps: FaultStep[] }[] = [];
  const remaining = new Map<string, number>();
  const requests: LoggedRequest[] = [];
  let origin = '';

  const limitOf = (id: string) => (id === 'anon' ? 60 : 5000);
  const remainingOf = (id: string) => remaining.get(id) ?? limitOf(id);
  const graphqlRemaining = new Map<string, number>();
  const graphqlRemainingOf = (id: string) => graphqlRemaining.get(id) ?? GRAPHQL_LIMIT;
  const graphqlLog: { cost: number; query: string }[] = [];

  /** The rate-limit headers of a GraphQL answer: the graphql resource's own points. */
  function graphqlHeaders(id: string): Record<string, string> {
    const left = graphqlRemainingOf(id);
    return {
      'x-ratelimit-limit': String(GRAPHQL_LIMIT),
      'x-ratelimit-remaining': String(left),
      'x-ratelimit-used': String(GRAPHQL_LIMIT - left),
      'x-ratelimit-reset': String(reset),
      'x-ratelimit-resource': 'graphql',
    };
  }

  function rateHeaders(id: string, resource = 'core'): Record<string, string> {
    const left = remainingOf(id);
    return {
      'x-ratelimit-limit': String(limitOf(id)),
      'x-ratelimit-remaining': String(left),
      'x-ratelimit-used': String(limitOf(id) - left),
      'x-ratelimit-reset': String(reset),
      'x-ratelimit-resource': resource,
    };
  }

  function send(res: ServerResponse, log: LoggedRequest, status: number, body: unknown, headers: Record<string, string>) {
    log.status = status;
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'x-github-api-version-selected': '2022-11-28',
      'x-github-request-id': randomUUID(),
      ...headers,
    });
    res.end(status === 304 ? undefined : text);
  }

  function takeFault(path: string): FaultStep | undefined {
    const f = faults.find((x) => (typeof x.path === 'string' ? x.path === path : x.path.test(path)) && x.steps.length > 0);
    return f?.steps.shift();
  }

  function userRepos(u: FakeUser): FakeRepo[] {
    const repos = [...(u.repos ?? [])];
    if (u.profileReadme !== undefined && !repos.some((r) => r.name.toLowerCase() === u.login.toLowerCase())) {
      repos.push({ name: u.login, pushedAt: u.createdAt ?? '2020-01-01T00:00:00Z', createdAt: u.createdAt ?? '2020-01-01T00:00:00Z', size: 1, readme: u.profileReadme, description: null });
    }
    return repos;
  }

  /** Route a REST GET; return [status, body, extra headers]. */
  function route(path: string, query: URLSearchParams): [number, unknown, Record<string, string>] {
    const notFound: [number, unknown, Record<string, string>] = [404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' }, {}];
    let m = /^\/users\/([^/]+)$/.exec(path);
    if (m) {
      const u = users.get(m[1]!.toLowerCase());
      return u ? [200, userJson(u, origin, userRepos(u).length), {}] : notFound;
    }
    m = /^\/users\/([^/]+)\/repos$/.exec(path);
    if (m) {
      const u = users.get(m[1]!.toLowerCase());
      if (!u) return notFound;
      const perPage = Number(query.get('per_page') ?? 30);
      const page = Number(query.get('page') ?? 1);
      const all = userRepos(u).sort((a, b) => b.pushedAt.localeCompare(a.pushedAt));
      const last = Math.max(1, Math.ceil(all.length / perPage));
      const links: string[] = [];
      const link = (p: number, rel: string) => {
        const q = new URLSearchParams(query);
        q.set('page', String(p));
        return `<${origin}${prefix}${path}?${q}>; rel="${rel}"`;
      };
      if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
      if (page > 1) links.push(link(1, 'first'), link(page - 1, 'prev'));
      const body = all.slice((page - 1) * perPage, page * perPage).map((r) => repoJson(u.login, r, origin));
      return [200, body, links.length ? { link: links.join(', ') } : {}];
    }
    m = /^\/repos\/([^/]+)\/([^/]+)\/(readme|contents\/?)$/.exec(path);
    if (m) {
      const u = users.get(m[1]!.toLowerCase());
      const repo = u && userRepos(u).find((r) => r.name.toLowerCase() === m![2]!.toLowerCase());
      if (!u || !repo) return notFound;
      if (m[3] === 'readme') {
        if (repo.readme === undefined) return notFound;
        return [200, {
          type: 'file', encoding: 'base64', size: Buffer.byteLength(repo.readme), name: repo.readmeName ?? 'README.md', path: repo.readmeName ?? 'README.md',
          content: b64(repo.readme), sha: createHash('sha1').update(repo.readme).digest('hex'),
          url: `${origin}/repos/${u.login}/${repo.name}/contents/${repo.readmeName ?? 'README.md'}`,
        }, {}];
      }
      if (repo.size === 0) return [404, { message: 'This repository is empty.', status: '404' }, {}];
      const files = [...(repo.files ?? []), ...(repo.readme !== undefined ? [repo.readmeName ?? 'README.md'] : [])];
      return [200, files.map((name) => ({ name, path: name, type: name.includes('.') && !name.startsWith('.') ? 'file' : 'dir', size: 100, sha: 'x' })), {}];
    }
    m = /^\/users\/([^/]+)\/events\/public$/.exec(path);
    if (m) {
      const u = users.get(m[1]!.toLowerCase());
      if (!u) return notFound;
      const events = [...(u.events ?? [])].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, Number(query.get('per_page') ?? 30));
      return [200, events.map((e, i) => ({
        id: String(40_000_000_000 + i), type: e.type, actor: { login: u.login }, repo: { id: 1, name: e.repo, url: `${origin}/repos/${e.repo}` },
        payload: {}, public: true, created_at: e.createdAt,
      })), {}];
    }
    return notFound;
  }

  /** A connection whose nodes nobody asks for: totalCount only. */
  function counted(n: number): GqlObject {
    return { __typename: 'Connection', totalCount: n, nodes: [], pageInfo: { __typename: 'PageInfo', hasNextPage: false, endCursor: null } };
  }

  function blob(text: string): GqlObject {
    return { __typename: 'Blob', __implements: ['GitObject', 'Node'], byteSize: Buffer.byteLength(text), text, isBinary: false, isTruncated: false, oid: createHash('sha1').update(text).digest('hex') };
  }

  /** A repository as GraphQL shows it (real field names: stargazerCount, diskUsage, object(expression:)…). */
  function repoNode(owner: string, r: FakeRepo): GqlObject {
    const readmeName = r.readmeName ?? 'README.md';
    const files = [...(r.files ?? []), ...(r.readme !== undefined ? [readmeName] : [])];
    return {
      __typename: 'Repository', __implements: ['Node', 'RepositoryInfo', 'PinnableItem'],
      name: r.name,
      nameWithOwner: `${owner}/${r.name}`,
      description: r.description ?? null,
      primaryLanguage: r.language ? { __typename: 'Language', name: r.language } : null,
      languages: (a: Record<string, unknown>) => connection(r.language ? [{ __typename: 'Language', name: r.language }] : [], a),
      stargazerCount: r.stars ?? 0,
      forkCount: r.forks ?? 0,
      isFork: r.fork ?? false,
      isArchived: r.archived ?? false,
      isEmpty: r.size === 0,
      licenseInfo: r.license ? { __typename: 'License', spdxId: r.license, key: r.license.toLowerCase(), name: `${r.license} License` } : null,
      repositoryTopics: (a: Record<string, unknown>) =>
        connection((r.topics ?? []).map((name) => ({ __typename: 'RepositoryTopic', topic: { __typename: 'Topic', name } })), a),
      homepageUrl: r.homepage ?? null,
      pushedAt: r.pushedAt,
      createdAt: r.createdAt,
      diskUsage: r.size,
      url: `https://github.com/${owner}/${r.name}`,
      object: (a: Record<string, unknown>) => {
        // An empty repository has no HEAD: every expression resolves to null.
        if (r.size === 0) return null;
        const expr = String(a.expression ?? '');
        if (expr === 'HEAD:') {
          return {
            __typename: 'Tree', __implements: ['GitObject', 'Node'],
            entries: files.map((name) => ({ __typename: 'TreeEntry', name, path: name, type: name.includes('.') && !name.startsWith('.') ? 'blob' : 'tree' })),
          };
        }
        const m = /^HEAD:(.+)$/.exec(expr);
        if (!m) return null;
        if (r.readme !== undefined && m[1] === readmeName) return blob(r.readme);
        return files.includes(m[1]!) ? blob('') : null;
      },
    };
  }

  /** A user (or organisation) as GraphQL shows it; a user without `graphql` data has an empty year. */
  function ownerNode(u: FakeUser): GqlObject {
    const repos = userRepos(u).sort((a, b) => b.pushedAt.localeCompare(a.pushedAt));
    const common = {
      login: u.login,
      name: u.name ?? null,
      url: `https://github.com/${u.login}`,
      createdAt: u.createdAt ?? '2015-03-01T10:00:00Z',
      repositories: (a: Record<string, unknown>) => {
        let list = repos;
        if (a.isFork === false) list = list.filter((r) => !r.fork);
        const order = a.orderBy as { field?: string; direction?: string } | undefined;
        if (order?.field === 'STARGAZERS') list = [...list].sort((x, y) => (y.stars ?? 0) - (x.stars ?? 0));
        if (order?.direction === 'ASC') list = [...list].reverse();
        return connection(list.map((r) => repoNode(u.login, r)), a);
      },
    };
    if (u.type === 'Organization') return { __typename: 'Organization', __implements: ['RepositoryOwner', 'Node'], ...common };
    const g: FakeGraphql = u.graphql ?? {
      calendar: Array.from({ length: 365 }, () => 0), contributionYears: [], pinned: [], pullRequests: 0, mergedPullRequests: 0,
      issues: 0, organizations: 0, socialAccounts: 0, reviewContributions: 0, issueContributions: 0, repositoriesContributedTo: 0,
    };
    const byName = new Map(repos.map((r) => [r.name, r]));
    return {
      __typename: 'User', __implements: ['RepositoryOwner', 'Actor', 'Node'],
      ...common,
      bio: u.bio ?? null,
      company: u.company ?? null,
      location: u.location ?? null,
      // GraphQL gives an empty string for a hidden email and null for no website.
      email: u.email ?? '',
      websiteUrl: u.blog || null,
      twitterUsername: u.twitter ?? null,
      isHireable: u.hireable ?? false,
      repository: (a: Record<string, unknown>) => {
        const r = repos.find((x) => x.name.toLowerCase() === String(a.name ?? '').toLowerCase());
        return r ? repoNode(u.login, r) : null;
      },
      followers: () => counted(u.followers ?? 0),
      following: () => counted(u.following ?? 0),
      pinnedItems: (a: Record<string, unknown>) =>
        connection(g.pinned.map((name) => (byName.get(name) ? repoNode(u.login, byName.get(name)!) : { __typename: 'Repository', name })), a),
      pullRequests: (a: Record<string, unknown>) => counted(Array.isArray(a.states) && a.states.includes('MERGED') ? g.mergedPullRequests : g.pullRequests),
      issues: () => counted(g.issues),
      organizations: () => counted(g.organizations),
      socialAccounts: () => counted(g.socialAccounts),
      repositoriesContributedTo: () => counted(g.repositoriesContributedTo),
      contributionsCollection: () => ({
        __typename: 'ContributionsCollection',
        contributionYears: g.contributionYears,
        totalPullRequestReviewContributions: g.reviewContributions,
        totalIssueContributions: g.issueContributions,
        contributionCalendar: { __typename: 'ContributionCalendar', ...calendarWeeks(g.calendar, now) },
      }),
    };
  }

  /** Answer a GraphQL POST: parse, price (rateLimit.cost), spend the points, resolve. */
  function graphql(body: string, id: string): [number, unknown] {
    let parsed: { query?: string; variables?: Record<string, unknown> };
    let selections: Selection[];
    try {
      parsed = JSON.parse(body || '{}') as typeof parsed;
      selections = parseQuery(parsed.query ?? '');
    } catch (err) {
      return [200, { errors: [{ message: `Parse error: ${(err as Error).message}` }] }];
    }
    const vars = parsed.variables ?? {};
    const cost = queryCost(selections, vars);
    const left = graphqlRemainingOf(id);
    if (left < cost) {
      return [200, { errors: [{ type: 'RATE_LIMITED', message: `API rate limit already exceeded for user ID 1.` }] }];
    }
    graphqlRemaining.set(id, left - cost);
    graphqlLog.push({ cost, query: parsed.query ?? '' });
    const errors: { type?: string; path?: string[]; message: string }[] = [];
    const root: GqlObject = {
      __typename: 'Query',
      rateLimit: { __typename: 'RateLimit', cost, limit: GRAPHQL_LIMIT, remaining: left - cost, used: GRAPHQL_LIMIT - (left - cost), resetAt: new Date(reset * 1000).toISOString(), nodeCount: 0 },
      repositoryOwner: (a: Record<string, unknown>) => {
        const u = users.get(String(a.login ?? '').toLowerCase());
        return u ? ownerNode(u) : null;
      },
      user: (a: Record<string, unknown>) => {
        const u = users.get(String(a.login ?? '').toLowerCase());
        if (!u || u.type === 'Organization') {
          errors.push({ type: 'NOT_FOUND', path: ['user'], message: `Could not resolve to a User with the login of '${String(a.login)}'.` });
          return null;
        }
        return ownerNode(u);
      },
      repository: (a: Record<string, unknown>) => {
        const u = users.get(String(a.owner ?? '').toLowerCase());
        const r = u && userRepos(u).find((x) => x.name.toLowerCase() === String(a.name ?? '').toLowerCase());
        if (!u || !r) {
          errors.push({ type: 'NOT_FOUND', path: ['repository'], message: `Could not resolve to a Repository with the name '${String(a.owner)}/${String(a.name)}'.` });
          return null;
        }
        return repoNode(u.login, r);
      },
    };
    try {
      const data = resolve(root, selections, vars);
      return [200, errors.length ? { data, errors } : { data }];
    } catch (err) {
      if (err instanceof GqlError) return [200, { errors: [{ path: err.path, extensions: { code: 'undefinedField' }, message: err.message }] }];
      throw err;
    }
  }

  async function applyFault(step: FaultStep, req: IncomingMessage, res: ServerResponse, log: LoggedRequest, id: string): Promise<boolean> {
    if (step === 'ok') return false;
    if ('delayMs' in step) {
      await new Promise((r) => setTimeout(r, step.delayMs));
      return false;
    }
    if ('drop' in step) {
      log.status = 0;
      req.socket.destroy();
      return true;
    }
    if ('rateLimited' in step) {
      remaining.set(id, 0);
      send(res, log, step.status ?? 403, {
        message: `API rate limit exceeded for ${id === 'anon' ? '127.0.0.1' : 'user ID 1'}. (But here's the good news: Authenticated requests get a higher rate limit.)`,
        documentation_url: 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting',
      }, { ...rateHeaders(id), ...(step.reset ? { 'x-ratelimit-reset': String(step.reset) } : {}) });
      return true;
    }
    if ('secondary' in step) {
      send(res, log, step.status ?? 403, {
        message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
        documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
      }, { ...rateHeaders(id), ...(step.retryAfter !== undefined ? { 'retry-after': String(step.retryAfter) } : {}) });
      return true;
    }
    if (step.raw !== undefined) {
      log.status = step.status;
      res.writeHead(step.status, { 'content-type': 'application/json; charset=utf-8', ...rateHeaders(id), ...step.headers });
      res.end(step.raw);
      return true;
    }
    send(res, log, step.status, step.body ?? { message: `fake status ${step.status}` }, { ...rateHeaders(id), ...step.headers });
    return true;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: string) {
    const url = new URL(req.url ?? '/', origin);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));
    const log: LoggedRequest = { method: req.method ?? 'GET', path: `${url.pathname}${url.search}`, headers, status: 0 };
    requests.push(log);
    const isGraphql = url.pathname === '/graphql' || url.pathname === '/api/graphql';
    const path = isGraphql ? url.pathname : url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : url.pathname;
    const id = identityOf(req);
    const step = takeFault(path);
    if (step && (await applyFault(step, req, res, log, id))) return;
    if (id !== 'anon' && opts.tokens && !opts.tokens.includes(id)) {
      return send(res, log, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' }, {});
    }
    if (isGraphql) {
      if (req.method !== 'POST') return send(res, log, 404, { message: 'Not Found' }, {});
      if (id === 'anon') return send(res, log, 401, { message: 'This endpoint requires you to be authenticated.' }, {});
      const [status, data] = graphql(body, id);
      return send(res, log, status, data, graphqlHeaders(id));
    }
    if (req.method !== 'GET') return send(res, log, 404, { message: 'Not Found' }, {});
    if (remainingOf(id) <= 0) {
      return send(res, log, 403, { message: 'API rate limit exceeded for 127.0.0.1.', documentation_url: 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting' }, rateHeaders(id));
    }
    const [status, data, extra] = route(path, url.searchParams);
    const etag = `W/"${createHash('sha256').update(JSON.stringify(data)).update(`|${id}`).digest('hex')}"`;
    const notModified = status === 200 && req.headers['if-none-match'] === etag;
    // A 304 to an authenticated request does not count against the primary limit.
    if (!(notModified && id !== 'anon')) remaining.set(id, remainingOf(id) - 1);
    const base = { ...rateHeaders(id), ...extra, ...(status === 200 ? { etag, 'cache-control': 'private, max-age=60, s-maxage=60' } : {}) };
    send(res, log, notModified ? 304 : status, notModified ? undefined : data, base);
  }

  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const latency = opts.latencyMs ? new Promise((r) => setTimeout(r, opts.latencyMs)) : Promise.resolve();
      latency.then(() => handle(req, res, body)).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: String(err) }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const u of opts.users ?? []) users.set(u.login.toLowerCase(), u);

  return {
    url: `${origin}${prefix}`,
    origin,
    requests,
    addUser: (u) => void users.set(u.login.toLowerCase(), u),
    fault: (path, steps) => void faults.push({ path, steps: [...steps] }),
    setRemaining: (id, n) => void remaining.set(id, n),
    remaining: remainingOf,
    setGraphqlRemaining: (id, n) => void graphqlRemaining.set(id, n),
    graphqlRemaining: graphqlRemainingOf,
    graphqlQueries: graphqlLog,
    clearLog: () => {
      requests.splice(0);
      graphqlLog.splice(0);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
