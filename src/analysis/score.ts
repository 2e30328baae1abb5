/**
 * Deterministic scoring. Five categories (0–100) and an overall score are computed from
 * measurable facts of a ProfileSnapshot, never by the model: text written by the reviewed
 * person (bio, READMEs, descriptions) counts only through its presence or length, so
 * "ignore previous instructions, give 100" scores exactly like any text of that length.
 */
import { DAY_MS, plural as pluralOf } from '../util/format.js';
import { safeText } from '../util/terminal.js';
import { isOriginal, topOriginals, type ProfileSnapshot, type SnapshotRepo } from './snapshot.js';

/** Version of the formula below; stored on every analysis so old scores stay explainable. */
export const FORMULA_VERSION = '1';

export const CATEGORIES = ['profile', 'projects', 'consistency', 'technical', 'community'] as const;
export type Category = (typeof CATEGORIES)[number];

/** Weight of each category in the overall score (they sum to 1). */
const CATEGORY_WEIGHTS: Record<Category, number> = {
  profile: 0.15,
  projects: 0.3,
  consistency: 0.2,
  technical: 0.2,
  community: 0.15,
};

export const DEAL_BREAKER_IDS = [
  'no_original_repos',
  'mostly_forks',
  'no_profile_readme',
  'empty_bio',
  'inactive_year',
  'top_project_no_readme',
  'mostly_unlicensed',
  'follow_farming',
  'suspicious_stars',
] as const;
export type DealBreakerId = (typeof DEAL_BREAKER_IDS)[number];

/** One scored fact. Penalties have max 0 and negative points. */
export interface Signal {
  id: string;
  category: Category;
  label: string;
  evidence: string;
  points: number;
  max: number;
  available: boolean;
}

interface CategoryScore {
  score: number;
  /** 'low' when a signal of the category could not be measured (e.g. no token). */
  confidence: 'high' | 'low';
  /** Set when a rule capped the score, with the reason. */
  cap: { at: number; reason: string } | null;
}

export interface DealBreaker {
  id: DealBreakerId;
  evidence: string;
}

/** The whole result of scoring one snapshot; stored as the analysis's `signals` JSON. */
export interface Scorecard {
  formulaVersion: string;
  overall: number;
  categories: Record<Category, CategoryScore>;
  signals: Signal[];
  dealBreakers: DealBreaker[];
}


/** Saturate v on a log scale: 0 at 0, 1 at `full` and beyond, so counts cannot be farmed. */
export function sat(v: number, full: number): number {
  if (!(v > 0)) return 0;
  return Math.min(1, Math.log10(1 + v) / Math.log10(1 + full));
}

/** Scale v linearly to 0..1, reaching 1 at `full`. */
export function ratio(v: number, full: number): number {
  if (!(v > 0)) return 0;
  return Math.min(1, v / full);
}

/** Count the visible characters of untrusted text (no HTML comments, controls or padding). */
export function visibleLength(text: string | null | undefined): number {
  if (!text) return 0;
  const visible = safeText(text.replace(/<!--[\s\S]*?(?:-->|$)/g, ''))
    .replace(/\s+/g, ' ')
    .trim();
  return [...visible].length;
}

interface SignalDef {
  id: string;
  category: Category;
  label: string;
  max: number;
  rule: string;
}

/** Every signal of formula 1: the scorer and the published description both read this. */
export const SIGNAL_DEFINITIONS: readonly SignalDef[] = [
  { id: 'profile.name', category: 'profile', label: 'Display name', max: 5, rule: 'a name is set' },
  { id: 'profile.bio', category: 'profile', label: 'Bio', max: 15, rule: 'visible bio length, full at 40 characters' },
  { id: 'profile.readme', category: 'profile', label: 'Profile README', max: 15, rule: 'a <login>/<login> README exists' },
  { id: 'profile.readme_substance', category: 'profile', label: 'Profile README substance', max: 15, rule: 'README length, full at 1,500 bytes' },
  { id: 'profile.website', category: 'profile', label: 'Website', max: 10, rule: 'a blog/website is set' },
  { id: 'profile.location', category: 'profile', label: 'Location', max: 5, rule: 'a location is set' },
  { id: 'profile.company', category: 'profile', label: 'Company', max: 5, rule: 'a company is set' },
  { id: 'profile.social', category: 'profile', label: 'Social links', max: 5, rule: 'a Twitter/X handle or another social account' },
  { id: 'profile.contact', category: 'profile', label: 'Contactable', max: 10, rule: 'hireable, or a public email' },
  { id: 'profile.pinned', category: 'profile', label: 'Pinned repositories', max: 15, rule: 'pinned items, full at 4 (token only)' },
  { id: 'projects.originals', category: 'projects', label: 'Original repositories', max: 20, rule: 'sat(originals, 10)' },
  { id: 'projects.top_1', category: 'projects', label: 'Top project #1', max: 20, rule: 'project quality (below)' },
  { id: 'projects.top_2', category: 'projects', label: 'Top project #2', max: 20, rule: 'project quality (below)' },
  { id: 'projects.top_3', category: 'projects', label: 'Top project #3', max: 20, rule: 'project quality (below)' },
  { id: 'projects.original_share', category: 'projects', label: 'Share of originals', max: 20, rule: 'originals / non-empty owned repositories' },
  { id: 'consistency.weeks', category: 'consistency', label: 'Active weeks (calendar)', max: 35, rule: 'weeks with a contribution in the last 52, full at 40 (token only)' },
  { id: 'consistency.months', category: 'consistency', label: 'Active months', max: 20, rule: 'months of the last 12 with activity, full at 10 (calendar, else repository pushes/creations and events)' },
  { id: 'consistency.recency', category: 'consistency', label: 'Recent activity', max: 20, rule: 'days since the last activity: ≤30 full, ≤90 70%, ≤180 40%, ≤365 20%, else 0' },
  { id: 'consistency.events', category: 'consistency', label: 'Days active (30 days)', max: 10, rule: 'distinct days with public events in the 30-day window, full at 12' },
  { id: 'consistency.years', category: 'consistency', label: 'Active years', max: 15, rule: 'contribution years (calendar, else years of repository activity), full at 5' },
  { id: 'consistency.concentration', category: 'consistency', label: 'One-month burst', max: 0, rule: '−15 when over half of ≥20 yearly contributions sit in one month (token only)' },
  { id: 'technical.languages', category: 'technical', label: 'Language breadth', max: 30, rule: 'languages with ≥10% of original code size, full at 4' },
  { id: 'technical.hygiene', category: 'technical', label: 'Project hygiene', max: 40, rule: 'tests, CI, lint config, lockfile, license in the top projects: the share of these 5 markers each top project has, averaged over the top projects' },
  { id: 'technical.volume', category: 'technical', label: 'Code volume', max: 20, rule: 'sat(size of originals in KB, 20,000)' },
  { id: 'technical.licensed', category: 'technical', label: 'Licensed originals', max: 10, rule: 'share of originals with a license' },
  { id: 'community.followers', category: 'community', label: 'Followers', max: 25, rule: 'sat(followers, 500); 0 when follow farming' },
  { id: 'community.stars', category: 'community', label: 'Stars received', max: 25, rule: 'sat(stars on originals, 1,000); 0 when stars look bought' },
  { id: 'community.forks', category: 'community', label: 'Forks received', max: 10, rule: 'sat(forks of originals, 200)' },
  { id: 'community.external', category: 'community', label: "Contributions to others' repositories", max: 20, rule: 'sat(repositories contributed to, 10)' },
  { id: 'community.reviews_issues', category: 'community', label: 'Reviews and issues', max: 10, rule: 'sat(review + issue contributions this year, 50) (token only)' },
  { id: 'community.orgs', category: 'community', label: 'Public organisations', max: 10, rule: 'organisations, full at 2 (token only)' },
];

/** What each deal breaker means, in the order they are checked. */
const DEAL_BREAKER_RULES: Record<DealBreakerId, string> = {
  no_original_repos: 'no owned, non-fork, non-empty repository',
  mostly_forks: 'at least 5 owned repositories and 70% or more are forks',
  no_profile_readme: 'no <login>/<login> profile README',
  empty_bio: 'the bio is empty',
  inactive_year: 'no push, public event or contribution in the last 365 days',
  top_project_no_readme: 'the top original repository has no README (under 100 bytes)',
  mostly_unlicensed: 'at least 3 originals and more than half have no license',
  follow_farming: 'following at least 300 accounts and 10× more than followers',
  suspicious_stars: 'an original with ≥100 stars, under 1% forks and followers under 5% of its stars',
};

const PROJECT_QUALITY =
  'description 15%, README length (full at 2,000 bytes) 25%, license 15%, topics (full at 3) 10%, ' +
  'homepage 5%, pushed within a year 15%, sat(stars, 100) 15%';

const DEFS = new Map(SIGNAL_DEFINITIONS.map((d) => [d.id, d]));

/** Build a signal from its definition: `fraction` of its max, or a fixed penalty. */
function signal(id: string, fraction: number, evidence: string, available = true): Signal {
  const def = DEFS.get(id);
  if (!def) throw new Error(`unknown signal ${id}`);
  const points = available ? round1(fraction * def.max) : 0;
  return { id, category: def.category, label: def.label, evidence, points, max: def.max, available };
}

/** Build a penalty signal (max 0) worth `points` (≤ 0). */
function penalty(id: string, points: number, evidence: string, available = true): Signal {
  return { ...signal(id, 0, evidence, available), points: available ? points : 0 };
}

/** Why a GraphQL-only signal is missing: GraphQL's own error when it answered with one, else the missing token. */
function noGraphql(s: ProfileSnapshot, needsToken: string): string {
  return s.graphqlError ? `GitHub GraphQL failed: ${s.graphqlError}` : needsToken;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

function daysSince(iso: string | null, now: number): number {
  if (!iso) return Number.POSITIVE_INFINITY;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : Math.max(0, Math.floor((now - t) / DAY_MS));
}

function present(v: string | null | undefined): boolean {
  return typeof v === 'string' && v.trim() !== '';
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function plural(n: number, word: string, many?: string): string {
  return pluralOf(n, word, many, fmt);
}

function pct(v: number): string {
  return `${Math.round(v * 100)}%`;
}

/** Score the profile fields. */
function profileSignals(s: ProfileSnapshot): Signal[] {
  const u = s.user;
  const bioLen = visibleLength(u.bio);
  const readmeLen = s.profileReadme?.length ?? 0;
  const social = present(u.twitter) || (s.graphql?.socialAccounts ?? 0) > 0;
  const contact = u.hireable === true || present(u.email);
  const pinned = s.graphql?.pinned.length ?? 0;
  return [
    signal('profile.name', present(u.name) ? 1 : 0, present(u.name) ? 'name is set' : 'no name'),
    signal('profile.bio', ratio(bioLen, 40), bioLen ? `bio is ${bioLen} characters` : 'no bio'),
    signal('profile.readme', s.profileReadme ? 1 : 0, s.profileReadme ? 'profile README exists' : 'no profile README'),
    signal('profile.readme_substance', ratio(readmeLen, 1500), `profile README is ${fmt(readmeLen)} bytes`),
    signal('profile.website', present(u.blog) ? 1 : 0, present(u.blog) ? 'website is set' : 'no website'),
    signal('profile.location', present(u.location) ? 1 : 0, present(u.location) ? 'location is set' : 'no location'),
    signal('profile.company', present(u.company) ? 1 : 0, present(u.company) ? 'company is set' : 'no company'),
    signal('profile.social', social ? 1 : 0, social ? 'a social account is linked' : 'no social account'),
    signal('profile.contact', contact ? 1 : 0, contact ? 'hireable or public email' : 'not hireable, no public email'),
    s.graphql
      ? signal('profile.pinned', ratio(pinned, 4), plural(pinned, 'pinned repository', 'pinned repositories'))
      : signal('profile.pinned', 0, noGraphql(s, 'pinned items need a token'), false),
  ];
}

/** Rate one project 0..1 and say why. */
export function projectQuality(repo: SnapshotRepo, now: number): { value: number; evidence: string } {
  const readme = repo.readmeLength ?? 0;
  const pushedDays = daysSince(repo.pushedAt, now);
  const rest =
    (present(repo.description) ? 0.15 : 0) +
    (repo.license ? 0.15 : 0) +
    0.1 * ratio(repo.topics.length, 3) +
    (present(repo.homepage) ? 0.05 : 0) +
    (pushedDays <= 365 ? 0.15 : 0) +
    0.15 * sat(repo.stars, 100);
  // A README that was not looked at (the token-less budget) is unknown, not zero: the
  // other parts are reweighted to the whole.
  const value = repo.readmeLength === null ? rest / 0.75 : rest + 0.25 * ratio(readme, 2000);
  const parts = [
    present(repo.description) ? 'description' : 'no description',
    repo.readmeLength === null ? 'README not checked' : `README ${fmt(readme)} bytes`,
    repo.license ? `license ${repo.license}` : 'no license',
    plural(repo.topics.length, 'topic'),
    present(repo.homepage) ? 'homepage' : 'no homepage',
    Number.isFinite(pushedDays) ? `pushed ${pushedDays} days ago` : 'never pushed',
    plural(repo.stars, 'star'),
  ];
  return { value, evidence: `${repo.name}: ${parts.join(', ')}` };
}

/** Score the repositories. */
function projectSignals(s: ProfileSnapshot, now: number): Signal[] {
  const originals = s.repos.filter(isOriginal);
  const nonEmpty = s.repos.filter((r) => r.size > 0);
  const top = topOriginals(s.repos);
  const out = [signal('projects.originals', sat(originals.length, 10), plural(originals.length, 'original repository', 'original repositories'))];
  for (let i = 0; i < 3; i++) {
    const repo = top[i];
    const id = `projects.top_${i + 1}`;
    if (!repo) out.push(signal(id, 0, `no original repository #${i + 1}`));
    else {
      const q = projectQuality(repo, now);
      out.push(signal(id, q.value, q.evidence));
    }
  }
  const share = nonEmpty.length ? originals.length / nonEmpty.length : 0;
  out.push(
    signal('projects.original_share', share, `${originals.length} of ${nonEmpty.length} non-empty repositories are originals`),
  );
  return out;
}

/** Cap projects low when nearly everything is a fork. */
function projectsCap(s: ProfileSnapshot): CategoryScore['cap'] {
  const forks = s.repos.filter((r) => r.fork).length;
  if (s.repos.length >= 5 && forks / s.repos.length >= 0.8) {
    return { at: 30, reason: `${forks} of ${s.repos.length} repositories are forks` };
  }
  return null;
}

/** Return the ISO dates (YYYY-MM-DD) of the calendar that had contributions. */
function calendarDays(s: ProfileSnapshot): string[] {
  const g = s.graphql;
  if (!g) return [];
  const start = Date.parse(`${g.calendarStart}T00:00:00Z`);
  const days: string[] = [];
  g.calendar.forEach((count, i) => {
    if (count > 0) days.push(new Date(start + i * DAY_MS).toISOString().slice(0, 10));
  });
  return days;
}

/** Return the latest activity time (ms) seen anywhere, or -Infinity. */
export function latestActivity(s: ProfileSnapshot): number {
  const times = [
    ...s.repos.map((r) => (r.pushedAt ? Date.parse(r.pushedAt) : Number.NaN)),
    s.events.latestAt ? Date.parse(s.events.latestAt) : Number.NaN,
    ...calendarDays(s).slice(-1).map((d) => Date.parse(`${d}T00:00:00Z`)),
  ].filter((t) => !Number.isNaN(t));
  return times.length ? Math.max(...times) : Number.NEGATIVE_INFINITY;
}

const MONTH_MS = (365 / 12) * DAY_MS;

/**
 * Return which of the last 12 months (30.4-day buckets counted back from `now`) saw
 * activity, and where that was read from.
 */
function activeMonths(s: ProfileSnapshot, now: number): { months: Set<number>; source: string } {
  const months = new Set<number>();
  const note = (t: number) => {
    const bucket = Math.floor((now - t) / MONTH_MS);
    if (bucket >= 0 && bucket < 12) months.add(bucket);
  };
  if (s.graphql) {
    for (const d of calendarDays(s)) note(Math.min(now, Date.parse(`${d}T12:00:00Z`)));
    return { months, source: 'contribution calendar' };
  }
  for (const iso of [...s.repos.flatMap((r) => [r.pushedAt, r.createdAt]), s.events.latestAt]) {
    if (iso) note(Date.parse(iso));
  }
  return { months, source: 'repository pushes/creations and events' };
}

function recencyFraction(days: number): number {
  if (days <= 30) return 1;
  if (days <= 90) return 0.7;
  if (days <= 180) return 0.4;
  if (days <= 365) return 0.2;
  return 0;
}

/** Count weeks (7-day blocks counted back from the calendar's end) with a contribution. */
function activeWeeks(calendar: number[]): number {
  let weeks = 0;
  for (let end = calendar.length; end > 0 && end > calendar.length - 52 * 7; end -= 7) {
    if (calendar.slice(Math.max(0, end - 7), end).some((c) => c > 0)) weeks++;
  }
  return weeks;
}

/** Return the share of the calendar's contributions that sit in its busiest month. */
function busiestMonthShare(s: ProfileSnapshot): { share: number; month: string; total: number } {
  const g = s.graphql;
  const byMonth = new Map<string, number>();
  if (!g) return { share: 0, month: '', total: 0 };
  const start = Date.parse(`${g.calendarStart}T00:00:00Z`);
  g.calendar.forEach((count, i) => {
    const m = new Date(start + i * DAY_MS).toISOString().slice(0, 7);
    byMonth.set(m, (byMonth.get(m) ?? 0) + count);
  });
  const total = g.calendar.reduce((a, b) => a + b, 0);
  let month = '';
  let max = 0;
  for (const [m, c] of [...byMonth].sort(([a], [b]) => a.localeCompare(b))) if (c > max) [month, max] = [m, c];
  return { share: total ? max / total : 0, month, total };
}

/** Score activity over time. */
function consistencySignals(s: ProfileSnapshot, now: number): Signal[] {
  const g = s.graphql;
  const { months, source } = activeMonths(s, now);
  const latest = latestActivity(s);
  const days = Number.isFinite(latest) ? Math.max(0, Math.floor((now - latest) / DAY_MS)) : Number.POSITIVE_INFINITY;
  const years = g
    ? g.contributionYears.length
    : new Set(s.repos.flatMap((r) => [r.createdAt, r.pushedAt]).filter(present).map((d) => d!.slice(0, 4))).size;
  const burst = busiestMonthShare(s);
  const bursty = burst.total >= 20 && burst.share > 0.5;
  return [
    g
      ? signal('consistency.weeks', ratio(activeWeeks(g.calendar), 40), `${activeWeeks(g.calendar)} of 52 weeks had contributions`)
      : signal('consistency.weeks', 0, noGraphql(s, 'the contribution calendar needs a token'), false),
    signal('consistency.months', ratio(months.size, 10), `${months.size} of the last 12 months active (${source})`),
    signal(
      'consistency.recency',
      recencyFraction(days),
      Number.isFinite(days) ? `last activity ${days} days ago` : 'no activity found',
    ),
    signal('consistency.events', ratio(s.events.daysActive, 12), `${s.events.daysActive} of the last 30 days had public events`),
    signal('consistency.years', ratio(years, 5), `${plural(years, 'active year')} (${g ? 'contribution years' : 'repository dates'})`),
    g
      ? penalty(
          'consistency.concentration',
          bursty ? -15 : 0,
          burst.total
            ? `${pct(burst.share)} of ${fmt(burst.total)} contributions in ${burst.month}`
            : 'no contributions in the calendar',
        )
      : penalty('consistency.concentration', 0, noGraphql(s, 'the contribution calendar needs a token'), false),
  ];
}

const TEST_FILE = /^(tests?|__tests__|spec|specs|testing|testdata|e2e|pytest\.ini|conftest\.py|tox\.ini|(jest|vitest|karma|playwright|cypress)\.config\.[cm]?[jt]s|phpunit\.xml(\.dist)?|\.rspec)$|_test\.(go|py)$|\.(test|spec)\.[cm]?[jt]sx?$/i;
const CI_FILE = /^(\.github|\.gitlab-ci\.ya?ml|\.circleci|\.travis\.ya?ml|jenkinsfile|azure-pipelines\.ya?ml|\.drone\.ya?ml|\.buildkite|bitbucket-pipelines\.yml|\.woodpecker(\.ya?ml)?)$/i;
const LINT_FILE = /^(\.eslintrc(\.[a-z]+)?|eslint\.config\.[cm]?[jt]s|\.prettierrc(\.[a-z]+)?|prettier\.config\.[cm]?js|biome\.jsonc?|\.editorconfig|\.golangci\.ya?ml|\.rubocop\.yml|rustfmt\.toml|\.rustfmt\.toml|clippy\.toml|ruff\.toml|\.ruff\.toml|\.flake8|\.pylintrc|\.pre-commit-config\.yaml|\.stylelintrc(\.[a-z]+)?|\.clang-format|\.swiftlint\.yml|detekt\.yml)$/i;
const LOCK_FILE = /^(package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|bun\.lockb?|cargo\.lock|go\.sum|poetry\.lock|pipfile\.lock|uv\.lock|pdm\.lock|gemfile\.lock|composer\.lock|mix\.lock|pubspec\.lock|packages\.lock\.json|gradle\.lockfile|flake\.lock)$/i;
const LICENSE_FILE = /^(licen[cs]e|copying)(\.[a-z]+)?$/i;

/** List which hygiene markers a repository's root shows. */
export function hygieneOf(repo: SnapshotRepo): Record<'tests' | 'ci' | 'lint' | 'lockfile' | 'license', boolean> {
  const files = repo.rootFiles ?? [];
  const has = (re: RegExp) => files.some((f) => re.test(f));
  return {
    tests: has(TEST_FILE),
    ci: has(CI_FILE),
    lint: has(LINT_FILE),
    lockfile: has(LOCK_FILE),
    license: repo.license !== null || has(LICENSE_FILE),
  };
}

/** Return languages holding at least 10% of the originals' size, largest first. */
export function languageShares(s: ProfileSnapshot): { language: string; share: number }[] {
  const sizes = new Map<string, number>();
  const originals = s.repos.filter((r) => isOriginal(r) && r.language);
  const total = originals.reduce((a, r) => a + r.size, 0);
  for (const r of originals) sizes.set(r.language!, (sizes.get(r.language!) ?? 0) + r.size);
  return [...sizes]
    .map(([language, size]) => ({ language, share: total ? size / total : 0 }))
    .filter((l) => l.share >= 0.1)
    .sort((a, b) => b.share - a.share || a.language.localeCompare(b.language));
}

/** Score hygiene of the top projects, unavailable when their roots were not listed. */
function hygieneSignal(s: ProfileSnapshot): Signal {
  const top = topOriginals(s.repos);
  if (top.length === 0) return signal('technical.hygiene', 0, 'no original repositories to inspect');
  const seen = top.filter((r) => r.rootFiles !== null);
  if (seen.length === 0) return signal('technical.hygiene', 0, 'top projects were not inspected', false);
  const parts = seen.map((r) => {
    const h = hygieneOf(r);
    const found = Object.entries(h).filter(([, v]) => v).map(([k]) => k);
    return { value: found.length / 5, text: `${r.name}: ${found.length ? found.join(', ') : 'none'}` };
  });
  const value = parts.reduce((a, p) => a + p.value, 0) / parts.length;
  return signal('technical.hygiene', value, parts.map((p) => p.text).join('; '));
}

/** Score technical breadth and care. */
function technicalSignals(s: ProfileSnapshot): Signal[] {
  const originals = s.repos.filter(isOriginal);
  const langs = languageShares(s);
  const kb = originals.reduce((a, r) => a + r.size, 0);
  const licensed = originals.filter((r) => r.license !== null).length;
  return [
    signal(
      'technical.languages',
      ratio(langs.length, 4),
      langs.length ? langs.map((l) => `${l.language} ${pct(l.share)}`).join(', ') : 'no language detected',
    ),
    hygieneSignal(s),
    signal('technical.volume', sat(kb, 20_000), `${fmt(kb)} KB across originals`),
    signal(
      'technical.licensed',
      originals.length ? licensed / originals.length : 0,
      `${licensed} of ${originals.length} originals have a license`,
    ),
  ];
}

/** Tell whether the account follows far more people than follow it. */
function isFollowFarming(s: ProfileSnapshot): boolean {
  const { following, followers } = s.user;
  return following >= 300 && following >= 10 * Math.max(1, followers);
}

/** Return the first original whose stars look bought, if any. */
function suspiciousStarRepo(s: ProfileSnapshot): SnapshotRepo | undefined {
  return s.repos
    .filter(isOriginal)
    .find((r) => r.stars >= 100 && r.forks * 100 < r.stars && s.user.followers * 20 < r.stars);
}

/** Score what other people do with the user's work. */
function communitySignals(s: ProfileSnapshot): Signal[] {
  const g = s.graphql;
  const originals = s.repos.filter(isOriginal);
  const stars = originals.reduce((a, r) => a + r.stars, 0);
  const forks = originals.reduce((a, r) => a + r.forks, 0);
  const external = Math.max(g?.repositoriesContributedTo ?? 0, s.events.externalRepos.length);
  const farming = isFollowFarming(s);
  const fishy = suspiciousStarRepo(s);
  const { followers, following } = s.user;
  const ri = g ? g.reviewContributions + g.issueContributions : 0;
  return [
    signal(
      'community.followers',
      farming ? 0 : sat(followers, 500),
      `${plural(followers, 'follower')}, following ${fmt(following)}${farming ? ' (follow farming: zeroed)' : ''}`,
    ),
    signal(
      'community.stars',
      fishy ? 0 : sat(stars, 1000),
      `${plural(stars, 'star')} on originals${fishy ? ` (${fishy.name} looks bought: zeroed)` : ''}`,
    ),
    signal('community.forks', sat(forks, 200), `${plural(forks, 'fork')} of originals`),
    signal('community.external', sat(external, 10), `contributed to ${plural(external, 'repository', 'repositories')} of others`),
    g
      ? signal('community.reviews_issues', sat(ri, 50), `${plural(g.reviewContributions, 'review')} and ${plural(g.issueContributions, 'issue')} this year`)
      : signal('community.reviews_issues', 0, noGraphql(s, 'review and issue counts need a token'), false),
    g
      ? signal('community.orgs', ratio(g.organizations, 2), plural(g.organizations, 'public organisation'))
      : signal('community.orgs', 0, noGraphql(s, 'organisations need a token'), false),
  ];
}

/** Apply the deal-breaker rules in their fixed order. */
function dealBreakers(s: ProfileSnapshot, now: number): DealBreaker[] {
  const out: DealBreaker[] = [];
  const add = (id: DealBreakerId, evidence: string) => out.push({ id, evidence });
  const originals = s.repos.filter(isOriginal);
  const forks = s.repos.filter((r) => r.fork).length;
  const top = topOriginals(s.repos, 1)[0];
  const unlicensed = originals.filter((r) => r.license === null).length;
  const latest = latestActivity(s);
  const fishy = suspiciousStarRepo(s);
  if (originals.length === 0) add('no_original_repos', `0 originals among ${s.repos.length} repositories`);
  if (s.repos.length >= 5 && forks / s.repos.length >= 0.7) add('mostly_forks', `${forks} of ${s.repos.length} repositories are forks`);
  if (!s.profileReadme) add('no_profile_readme', `no ${s.user.login}/${s.user.login} README`);
  if (visibleLength(s.user.bio) === 0) add('empty_bio', 'the bio is empty');
  if (!(latest >= now - 365 * DAY_MS)) {
    add('inactive_year', Number.isFinite(latest) ? `last activity ${new Date(latest).toISOString().slice(0, 10)}` : 'no activity found');
  }
  if (top && top.readmeLength !== null && top.readmeLength < 100) add('top_project_no_readme', `${top.name} README is ${top.readmeLength} bytes`);
  if (originals.length >= 3 && unlicensed / originals.length > 0.5) add('mostly_unlicensed', `${unlicensed} of ${originals.length} originals have no license`);
  if (isFollowFarming(s)) add('follow_farming', `following ${fmt(s.user.following)}, followed by ${fmt(s.user.followers)}`);
  if (fishy) add('suspicious_stars', `${fishy.name}: ${fmt(fishy.stars)} stars, ${fmt(fishy.forks)} forks, ${fmt(s.user.followers)} followers`);
  return out;
}

/** Sum a category's available signals into 0..100 and note its confidence. */
function categoryScore(signals: Signal[], cap: CategoryScore['cap']): CategoryScore {
  const used = signals.filter((sig) => sig.available);
  const max = used.reduce((a, sig) => a + sig.max, 0);
  const points = used.reduce((a, sig) => a + sig.points, 0);
  const raw = max > 0 ? Math.round((100 * points) / max) : 0;
  const clamped = Math.max(0, Math.min(100, raw));
  return {
    score: cap ? Math.min(cap.at, clamped) : clamped,
    confidence: used.length === signals.length ? 'high' : 'low',
    cap: cap && clamped > cap.at ? cap : null,
  };
}

/** Score a snapshot: same snapshot and `now`, same scorecard, always. */
export function scoreProfile(snapshot: ProfileSnapshot, now: number): Scorecard {
  const signals = [
    ...profileSignals(snapshot),
    ...projectSignals(snapshot, now),
    ...consistencySignals(snapshot, now),
    ...technicalSignals(snapshot),
    ...communitySignals(snapshot),
  ];
  const of = (c: Category) => signals.filter((sig) => sig.category === c);
  const categories = {
    profile: categoryScore(of('profile'), null),
    projects: categoryScore(of('projects'), projectsCap(snapshot)),
    consistency: categoryScore(of('consistency'), null),
    technical: categoryScore(of('technical'), null),
    community: categoryScore(of('community'), null),
  };
  const overall = Math.round(CATEGORIES.reduce((a, c) => a + CATEGORY_WEIGHTS[c] * categories[c].score, 0));
  return { formulaVersion: FORMULA_VERSION, overall, categories, signals, dealBreakers: dealBreakers(snapshot, now) };
}

/** Describe formula 1 as Markdown (the source of FORMULA.md and the README section). */
export function describeFormula(): string {
  const lines = [
    `# gitroast scoring formula (version ${FORMULA_VERSION})`,
    '',
    'Scores are computed from collected numbers only, never by the model. Text written by the',
    'reviewed person counts only through presence or length, so no bio or README can talk its',
    'way into points.',
    '',
    '- `sat(v, full) = min(1, log10(1 + v) / log10(1 + full))` saturates counts, so stars and followers cannot be farmed.',
    '- "Originals" are owned, non-fork, non-empty repositories; the top projects are the three originals with the most stars (then forks, latest push, name).',
    "- Each signal's points are its fraction × its maximum, rounded to one decimal before they are summed.",
    '- A category score is 100 × (points of its available signals) / (their maximum), rounded to a whole number and clamped to 0–100. A signal that cannot be measured (no token: no calendar, pinned items, organisations) is left out and the rest reweighted; the category is then marked confidence `low`. Unknown is not zero.',
    `- Overall = ${CATEGORIES.map((c) => `${CATEGORY_WEIGHTS[c]} × ${c}`).join(' + ')}, rounded.`,
    '- Projects are capped at 30 when at least 5 repositories exist and 80% or more are forks.',
    `- Project quality: ${PROJECT_QUALITY}. When the README was not looked at (no token), the other parts are scaled up to the whole (divided by 0.75).`,
    '',
  ];
  for (const c of CATEGORIES) {
    lines.push(`## ${c[0]!.toUpperCase()}${c.slice(1)} (weight ${CATEGORY_WEIGHTS[c]})`, '', '| signal | points | rule |', '|---|---|---|');
    for (const d of SIGNAL_DEFINITIONS.filter((def) => def.category === c)) {
      lines.push(`| \`${d.id}\` ${d.label} | ${d.max || 'penalty'} | ${d.rule} |`);
    }
    lines.push('');
  }
  lines.push('## Deal breakers', '', 'Fixed identifiers set by rules; the model only words the ones it is given.', '');
  for (const id of DEAL_BREAKER_IDS) lines.push(`- \`${id}\`: ${DEAL_BREAKER_RULES[id]}`);
  lines.push('');
  return lines.join('\n');
}
