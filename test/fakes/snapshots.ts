/**
 * ProfileSnapshot builders for pure scoring and writer tests: a middling profile that each
 * test bends one fact at a time.
 */
import type { GraphqlData, ProfileSnapshot, SnapshotRepo } from '../../src/analysis/snapshot.js';
import { daysAgo, steadyCalendar } from './profiles.js';

/** Build a repository: an original, licensed, documented project pushed 10 days ago. */
export function makeRepo(now: number, over: Partial<SnapshotRepo> = {}): SnapshotRepo {
  return {
    name: 'project',
    description: 'A useful project',
    language: 'TypeScript',
    stars: 10,
    forks: 2,
    fork: false,
    archived: false,
    license: 'MIT',
    topics: ['cli'],
    homepage: null,
    pushedAt: daysAgo(now, 10),
    createdAt: daysAgo(now, 400),
    size: 500,
    readmeLength: 1500,
    readmeExcerpt: '# project\n\nDoes things.',
    rootFiles: ['LICENSE', 'package.json', 'package-lock.json', 'src', 'test'],
    ...over,
  };
}

/** Build GraphQL data with a steady year of contributions ending on `now`'s day. */
export function makeGraphql(now: number, over: Partial<GraphqlData> = {}): GraphqlData {
  const calendar = steadyCalendar();
  return {
    calendarStart: daysAgo(now, calendar.length - 1).slice(0, 10),
    calendar,
    totalContributions: calendar.reduce((a, b) => a + b, 0),
    contributionYears: [2026, 2025, 2024],
    pinned: ['alpha', 'beta'],
    mergedPullRequests: 20,
    pullRequests: 25,
    issues: 10,
    reviewContributions: 8,
    issueContributions: 4,
    repositoriesContributedTo: 3,
    organizations: 1,
    socialAccounts: 1,
    ...over,
  };
}

/** Build a middling snapshot (no token: graphql null) with `over` applied on top. */
export function makeSnapshot(now: number, over: Partial<ProfileSnapshot> = {}): ProfileSnapshot {
  return {
    user: {
      login: 'middling-mo',
      name: 'Mo',
      bio: 'Full-stack developer who enjoys tooling.',
      company: null,
      blog: 'https://mo.example',
      location: 'Berlin',
      email: null,
      hireable: null,
      twitter: null,
      publicRepos: 3,
      followers: 40,
      following: 35,
      createdAt: daysAgo(now, 2000),
      htmlUrl: 'https://github.com/middling-mo',
    },
    repos: [
      makeRepo(now, { name: 'alpha', stars: 30 }),
      makeRepo(now, { name: 'beta', language: 'Go', stars: 5, license: null, topics: [] }),
      makeRepo(now, { name: 'gamma', fork: true, stars: 0, forks: 0, readmeLength: null, rootFiles: null }),
    ],
    reposTruncated: false,
    profileReadme: { text: '# Hi', length: 800 },
    events: { total: 6, byType: { PushEvent: 6 }, daysActive: 4, windowDays: 30, externalRepos: [], latestAt: daysAgo(now, 2) },
    graphql: null,
    fetchedAt: now,
    requests: 10,
    rateLimit: null,
    ...over,
  };
}
