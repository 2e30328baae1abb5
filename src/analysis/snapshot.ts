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
  requests: number;
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
