/**
 * The trimmed GitHub data an analysis is computed from. The collector (github.ts) writes
 * it, the scorer (score.ts) and the writers read it, and the analyses table keeps it as
 * JSON so every score can be explained later without asking GitHub again.
 */

/** Account fields of the reviewed user, as GitHub reports them. */
export interface SnapshotUser {
  login: string;
  name: string | null;
  bio: string | null;
  company: string | null;
  blog: string | null;
  location: string | null;
  email: string | null;
  hireable: boolean | null;
  twitter: string | null;
  publicRepos: number;
  followers: number;
  following: number;
  createdAt: string;
  htmlUrl: string;
}

/** One owned repository; `readmeLength` is null when its README was not looked at. */
export interface SnapshotRepo {
  name: string;
  description: string | null;
  language: string | null;
  stars: number;
  forks: number;
  fork: boolean;
  archived: boolean;
  license: string | null;
  topics: string[];
  homepage: string | null;
  pushedAt: string | null;
  createdAt: string;
  size: number;
  readmeLength: number | null;
  /** The README's start (cleaned later, before any prompt); only for the top projects. */
  readmeExcerpt: string | null;
  /** Names in the repository's root folder; null when not looked at. */
  rootFiles: string[] | null;
}

/** What the public events of the last 30 days say (never used to guess commit volume). */
export interface EventsSummary {
  total: number;
  byType: Record<string, number>;
  daysActive: number;
  windowDays: number;
  /** Repositories owned by someone else that the user pushed to, opened or reviewed in. */
  externalRepos: string[];
  latestAt: string | null;
}

/** Data only GraphQL answers (needs a token). */
export interface GraphqlData {
  /** Daily contribution counts of the last year, oldest first, starting on `calendarStart`. */
  calendarStart: string;
  calendar: number[];
  totalContributions: number;
  contributionYears: number[];
  pinned: string[];
  mergedPullRequests: number;
  pullRequests: number;
  issues: number;
  reviewContributions: number;
  issueContributions: number;
  repositoriesContributedTo: number;
  organizations: number;
  socialAccounts: number;
}

/** The rate-limit state of the last GitHub answer. */
export interface RateLimitInfo {
  remaining: number;
  reset: number;
  used: number;
}

/** One rate-limit budget as the headers of the last answer of a resource told it. */
export interface BudgetReading {
  /** "core" (REST) or "graphql". */
  resource: string;
  limit: number;
  remaining: number;
  /** When the window resets (ms since the epoch). */
  resetAt: number;
  used: number;
}

/** How a snapshot was collected: GraphQL first (with a token), every REST call, or the few REST calls of the token-less budget. */
export type CollectPath = 'graphql' | 'rest' | 'rest-lean';

/** Everything collected about one profile. */
export interface ProfileSnapshot {
  user: SnapshotUser;
  repos: SnapshotRepo[];
  /** True when the user owns more repositories than the pages that were read. */
  reposTruncated: boolean;
  profileReadme: { text: string; length: number } | null;
  events: EventsSummary;
  graphql: GraphqlData | null;
  /** Why GraphQL gave no data although a token was set (its first error's message); absent otherwise. */
  graphqlError?: string;
  fetchedAt: number;
  /** GitHub requests sent, REST and GraphQL together. */
  requests: number;
  /** REST requests sent (304s included); absent on snapshots of gitroast before 0.2. */
  restRequests?: number;
  /** GraphQL queries sent. */
  graphqlQueries?: number;
  /** GraphQL points spent (the sum of each answer's rateLimit.cost; 0 when none was reported). */
  graphqlCost?: number;
  /** How it was collected. */
  via?: CollectPath;
  rateLimit: RateLimitInfo | null;
}

/** Tell whether a repository counts as an original: owned, not a fork, not empty. */
export function isOriginal(repo: SnapshotRepo): boolean {
  return !repo.fork && repo.size > 0;
}

/**
 * Pick the top original repositories: most stars first, then most forks, then most
 * recently pushed, then by name, so the choice is deterministic.
 */
export function topOriginals(repos: readonly SnapshotRepo[], count = 3): SnapshotRepo[] {
  return repos
    .filter(isOriginal)
    .slice()
    .sort(
      (a, b) =>
        b.stars - a.stars ||
        b.forks - a.forks ||
        (b.pushedAt ?? '').localeCompare(a.pushedAt ?? '') ||
        a.name.localeCompare(b.name),
    )
    .slice(0, count);
}
