/**
 * GitHub's rate-limit budget, in one place: the hourly limits, what one cold analysis
 * spends on each path, what that makes per hour, and the budget each token fingerprint has
 * left as the headers of answers already received told it (the github_budget table, written
 * by the collector as it finishes, read by `status`, the monitor and /health), so knowing
 * the budget costs no request.
 */
import { createHash } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { holdJobs } from '../queue/index.js';
import { budgetRows, recordBudget } from './store.js';
import type { BudgetSink } from './github.js';
import type { BudgetReading } from './snapshot.js';

/**
 * Name the token's cache partition: ETags are bound to the token, so cached answers must
 * be too, but the token itself never reaches the database: only a truncated SHA-256.
 */
export function tokenIdentity(token: string | undefined): string {
  if (!token) return 'anon';
  return `tok-${createHash('sha256').update(`gitroast-http-cache:${token}`).digest('hex').slice(0, 16)}`;
}

/** GitHub's primary limits per hour: REST without and with a token, GraphQL points with one. */
export const GITHUB_HOURLY = { restAnon: 60, restToken: 5000, graphqlPoints: 5000 } as const;

/**
 * What one cold analysis spends at most on each path (test/analysis/budget.test.ts holds
 * the collector to it on the fake profiles; `npm run bench` measures it). With a token:
 * the public events over REST, and two GraphQL queries of 1 point each. Without: the user,
 * one page of repositories, the events and the profile README.
 */
export const COLD_ANALYSIS = {
  token: { rest: 1, graphqlPoints: 2 },
  anon: { rest: 4, graphqlPoints: 0 },
} as const;

/** Return the cold analyses an hour the budget allows, with or without a token. */
export function reviewsPerHour(hasToken: boolean): number {
  if (!hasToken) return Math.floor(GITHUB_HOURLY.restAnon / COLD_ANALYSIS.anon.rest);
  return Math.floor(Math.min(GITHUB_HOURLY.restToken / COLD_ANALYSIS.token.rest, GITHUB_HOURLY.graphqlPoints / COLD_ANALYSIS.token.graphqlPoints));
}

/** Round a per-hour figure the way it is said ("about 2,500"): two significant digits. */
function about(n: number): string {
  const digits = Math.max(0, String(Math.floor(n)).length - 2);
  const r = Math.round(n / 10 ** digits) * 10 ** digits;
  return r.toLocaleString('en-US');
}

/** Say what the budget means, before `analyze` or `batch` starts. */
export function budgetNotice(hasToken: boolean): string {
  return hasToken
    ? `GITHUB_TOKEN set: about ${about(reviewsPerHour(true))} reviews an hour`
    : `no GITHUB_TOKEN: about ${about(reviewsPerHour(false))} reviews an hour; set GITHUB_TOKEN for about ${about(reviewsPerHour(true))}`;
}

/** One fingerprint's budget as `status`, the monitor and /health show it. */
export interface BudgetView {
  /** "anon" or "tok-" and a hash of the token (never the token). */
  fingerprint: string;
  rest: { limit: number; remaining: number; resetAt: number } | null;
  graphql: { limit: number; remaining: number; resetAt: number } | null;
  /** Cold analyses the budget still affords before its reset. */
  affordable: number;
  /** When the tighter budget resets (ms epoch), or null when it is not spent. */
  resetAt: number | null;
  updatedAt: number;
}

interface Row {
  fingerprint: string;
  resource: string;
  lim: number;
  remaining: number;
  reset_at: number;
  used: number;
  updated_at: number;
}

/** BudgetSink over the github_budget table: one short transaction per collection. */
export class SqliteBudget implements BudgetSink {
  constructor(private readonly db: Database) {}

  /** Store the latest reading of each resource for `fingerprint`. */
  record(fingerprint: string, readings: readonly BudgetReading[], now: number): void {
    recordBudget(this.db, fingerprint, readings.map((r) => ({ resource: r.resource, lim: r.limit, remaining: r.remaining, resetAt: r.resetAt, used: r.used })), now);
  }
}

/** Return the analyses `rest` and `graphql` afford on one path; a window past its reset is full again. */
function afford(fingerprint: string, rest: BudgetView['rest'], graphql: BudgetView['graphql'], now: number): { affordable: number; resetAt: number | null } {
  const anon = fingerprint === 'anon';
  const cost = anon ? COLD_ANALYSIS.anon : COLD_ANALYSIS.token;
  const left = (b: BudgetView['rest'], full: number) => (b && b.resetAt > now ? b.remaining : b?.limit || full);
  const byRest = Math.floor(left(rest, anon ? GITHUB_HOURLY.restAnon : GITHUB_HOURLY.restToken) / cost.rest);
  const byGraphql = cost.graphqlPoints > 0 ? Math.floor(left(graphql, GITHUB_HOURLY.graphqlPoints) / cost.graphqlPoints) : Infinity;
  const affordable = Math.min(byRest, byGraphql);
  const tight = byRest <= byGraphql ? rest : graphql;
  return { affordable, resetAt: affordable <= 0 && tight && tight.resetAt > now ? tight.resetAt : null };
}

/** List the budget of every token fingerprint gitroast has heard from, freshest first. */
export function listBudgets(db: Database, now = Date.now()): BudgetView[] {
  return budgetsFrom(budgetRows(db), now);
}

/** The budgets from the budget rows (freshest first), on either engine. */
export function budgetsFrom(budgetRowList: ReturnType<typeof budgetRows>, now: number): BudgetView[] {
  const rows = budgetRowList as Row[];
  const by = new Map<string, Row[]>();
  for (const r of rows) by.set(r.fingerprint, [...(by.get(r.fingerprint) ?? []), r]);
  return [...by].map(([fingerprint, rs]) => {
    const pick = (resource: string) => {
      const r = rs.find((x) => x.resource === resource);
      return r ? { limit: r.lim, remaining: r.remaining, resetAt: r.reset_at } : null;
    };
    const rest = pick('core');
    const graphql = pick('graphql');
    return { fingerprint, rest, graphql, ...afford(fingerprint, rest, graphql, now), updatedAt: Math.max(...rs.map((r) => r.updated_at)) };
  });
}

/** Describe one budget in a line (`status`, the monitor). */
export function describeBudget(b: BudgetView, now: number): string {
  const part = (label: string, x: BudgetView['rest']) =>
    x ? `${label} ${x.resetAt > now ? x.remaining.toLocaleString('en-US') : x.limit.toLocaleString('en-US')}/${x.limit.toLocaleString('en-US')}` : null;
  const parts = [part('REST', b.rest), part('GraphQL', b.graphql)].filter(Boolean).join(', ');
  const resets = [b.rest, b.graphql].filter((x) => x && x.resetAt > now).map((x) => x!.resetAt);
  const reset = resets.length ? `; resets ${new Date(Math.min(...resets)).toISOString().slice(11, 16)} UTC` : '';
  return `${b.fingerprint}: ${parts} left${reset}; about ${b.affordable.toLocaleString('en-US')} analyses affordable in this window`;
}

/**
 * Hold `jobName` (the fetch-github jobs) until the reset when `fingerprint`'s budget cannot
 * pay for one more cold analysis, so the daemon leaves them pending instead of claiming
 * jobs that would only wait. Return the hold's end, or undefined when the budget is fine.
 */
export function holdIfSpent(db: Database, jobName: string, fingerprint: string, now: number): number | undefined {
  const hold = spentHold(listBudgets(db, now), fingerprint, now);
  if (hold) holdJobs(db, jobName, hold.until, hold.reason, now);
  return hold?.until;
}

/** The hold holdIfSpent sets for `fingerprint` among `budgets` (either engine), or undefined when its budget is fine. */
export function spentHold(budgets: readonly BudgetView[], fingerprint: string, now: number): { until: number; reason: string } | undefined {
  const b = budgets.find((x) => x.fingerprint === fingerprint);
  if (!b || b.affordable > 0 || b.resetAt === null) return undefined;
  return { until: b.resetAt, reason: `GitHub rate limit of ${fingerprint} spent (${describeBudget(b, now).split(': ')[1]})` };
}

/**
 * Estimate when `n` cold analyses finish: within this window when the budget known for
 * `fingerprint` affords them, else at its reset plus the rest at the hourly rate.
 */
export function estimateFinish(db: Database | undefined, n: number, hasToken: boolean, fingerprint: string, now: number): number {
  return estimateFinishFrom(db ? listBudgets(db, now) : [], n, hasToken, fingerprint, now);
}

/** estimateFinish from the budgets already read (either engine). */
export function estimateFinishFrom(budgets: readonly BudgetView[], n: number, hasToken: boolean, fingerprint: string, now: number): number {
  const perHour = reviewsPerHour(hasToken);
  const known = budgets.find((x) => x.fingerprint === fingerprint);
  const affordable = known ? known.affordable : perHour;
  if (n <= affordable) return now + (n / perHour) * 3_600_000;
  const windowEnd = known?.resetAt ?? Math.min(...[known?.rest?.resetAt, known?.graphql?.resetAt].filter((t): t is number => t !== undefined && t > now), now + 3_600_000);
  return windowEnd + ((n - affordable) / perHour) * 3_600_000;
}
