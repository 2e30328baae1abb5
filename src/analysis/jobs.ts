/**
 * The analysis as queue jobs. One analysis is a chain on its queue (`default` unless
 * asked otherwise):
 *
 *   fetch-github (tries 3, backoff 10/30/60 s) → write-review (tries 2, timeout 120 s)
 *     → notify (queue low)            catch: analysis-failed (marks the row failed, notifies)
 *
 * plus `prune` (queue low, daily at 03:00 from the daemon's scheduler). Jobs carry only ids
 * and the login: tokens (GITHUB_TOKEN, OPENAI_API_KEY) are read from the environment when a
 * job runs and never reach a payload, the database or a log line. A job whose analysis row
 * no longer exists (pruned, deleted) does nothing and completes: it is dropped quietly.
 *
 * This module fills a handler registry; it does not import the daemon (the daemon learns
 * the handlers from the registry), so the registry is described structurally below.
 */
import {
  enqueueInTx,
  immediate,
  notifyEnqueued,
  assertQueueName,
  DelayError,
  holdJobs,
  PermanentError,
  ValidationError,
  type Db,
  type JobSpec,
  type LeasedWrite,
  type Store,
} from '../queue/index.js';
import { maskUrl } from '../util/format.js';
import { withNetworkRetries } from '../util/retry.js';
import { safeLine } from '../util/terminal.js';
import { isDenied, type AnalysisConfig } from './config.js';
import { validateLogin } from './login.js';
import { CATEGORIES, scoreProfile } from './score.js';
import {
  budgetRows,
  completeAnalysis,
  createAnalysis,
  failAnalysis,
  findActive,
  findLatestCompleted,
  getAnalysis,
  pruneAnalyses,
  pruneHttpCache,
  reopenAnalysis,
  saveCollected,
  setStage,
  type Analysis,
  type AnalysisStage,
  type Usage,
} from './store.js';
import type { BudgetSink, HttpCache } from './github.js';
import type { BudgetView } from './budget.js';
import type { Review } from './prompt.js';
import type { Scorecard } from './score.js';
import type { ProfileSnapshot } from './snapshot.js';

/** The job names of the analysis room. */
const JOB = {
  fetch: 'fetch-github',
  write: 'write-review',
  notify: 'notify',
  failed: 'analysis-failed',
  prune: 'prune',
} as const;

/** A completed analysis younger than this is returned instead of a new one (unless forced). */
const FRESH_MS = 24 * 3_600_000;
/** Analyses older than this many days are pruned unless kept, unless the config says otherwise (analysis.pruneDays). */
const PRUNE_ANALYSES_DAYS = 90;
/** The seed's retry-until of the analysis jobs: ten minutes of retries after failures (rate-limit waits do not count). */
const ANALYSIS_RETRY_FOR_MS = 10 * 60_000;
/** Cached GitHub answers older than this many hours are pruned. */
const PRUNE_HTTP_CACHE_HOURS = 24;
/** Timeout of one webhook POST. */
const WEBHOOK_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------
// The registry, structurally (src/daemon/registry.ts's Registry satisfies it).

/**
 * What a handler gets besides the payload (a subset of the daemon's JobContext). Every
 * write a handler makes to the analyses goes through `commit` (with its result) or `write`
 * (a progress stage, now): both run only while the job's lease holds, so a worker that was
 * suspended, pruned and replaced changes nothing when it comes back.
 */
interface AnalysisJobContext<W = LeasedWrite> {
  readonly attempt: number;
  readonly signal: AbortSignal;
  log(level: 'debug' | 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>): void;
  commit(write: W): void;
  write(write: W): Promise<boolean>;
}

/** The attempt lost its lease while running: whatever it would write is refused. */
class LeaseLostError extends Error {
  readonly code = 'E_LEASE_LOST';
  constructor(what: string) {
    super(`the job's lease was lost (it was recovered and may run elsewhere); ${what} was not written`);
    this.name = 'LeaseLostError';
  }
}

/** A job handler as the daemon's registry takes it. */
interface AnalysisHandler<P, W = LeasedWrite> {
  handle(payload: P, ctx: AnalysisJobContext<W>): unknown;
  failed?(payload: P, error: Error): unknown;
  timeoutMs?: number;
}

/** The part of the daemon's Registry this module uses (`W`: its engine's handler write). */
export interface HandlerRegistry<W = LeasedWrite> {
  register<P>(name: string, handler: AnalysisHandler<P, W>): unknown;
  schedule(name: string, cron: string, target: JobSpec, description?: string): unknown;
}

/**
 * The analysis room's reads and writes as the handlers use them, on one engine: SQLite
 * (sqliteAnalysisEngine, below) or PostgreSQL (./pg-store.ts pgAnalysisEngine). Reads are
 * promises; writes come back as the engine's handler write W (a LeasedWrite on SQLite, a
 * PgLeasedWrite on PostgreSQL) for ctx.commit / ctx.write, so they land only under the lease.
 */
export interface AnalysisEngine<W> {
  get(id: string): Promise<Analysis | undefined>;
  /** Reopen `a` when it failed (a copy retried from the failed list), then move it to `stage`. */
  toStage(a: Analysis, stage: 'fetching' | 'writing', now: number): W;
  /** Store what was collected and scored; `missing` is called when the row is gone or finished. */
  saveCollected(id: string, data: { snapshot: ProfileSnapshot; scorecard: Scorecard }, now: number, missing: () => void): W;
  complete(id: string, review: Review, usage: Usage | null, model: string, now: number, missing: () => void): W;
  /** Fail the analysis and, when that changed it, enqueue `notify` in the same transaction. */
  fail(id: string, reason: string, now: number, notify: JobSpec): W;
  /** Prune analyses and cached answers; `done` is told how many of each went. */
  prune(now: number, olderThanDays: number, cacheHours: number, done: (analyses: number, cached: number) => void): W;
  /** The HTTP cache and the budget sink of the collector (loaded on first use). */
  collector(): Promise<{ cache: HttpCache; budget: BudgetSink }>;
  /** GitHub's budgets as the last answers told them. */
  budgets(now: number): Promise<BudgetView[]>;
  /** Hold jobs named `name` until `until` (queue holds). */
  hold(name: string, until: number, reason: string, now: number): Promise<void>;
}

/** The AnalysisEngine over a SQLite database (a getter: the daemon opens it when a job runs). */
function sqliteAnalysisEngine(getDb: () => Db): AnalysisEngine<LeasedWrite> {
  return {
    get: async (id) => getAnalysis(getDb(), id),
    toStage: (a, s, now) => (tx) => {
      if (a.status === 'failed') reopenAnalysis(tx, a.id, now);
      setStage(tx, a.id, s, now);
    },
    saveCollected: (id, data, now, missing) => (tx) => {
      if (!saveCollected(tx, id, data, now)) missing();
    },
    complete: (id, review, usage, model, now, missing) => (tx) => {
      if (!completeAnalysis(tx, id, review, usage, model, now)) missing();
    },
    fail: (id, reason, now, notify) => (tx) => {
      if (failAnalysis(tx, id, reason, now)) enqueueInTx(tx, notify);
    },
    prune: (now, days, hours, done) => (tx) => done(pruneAnalyses(tx, now, { olderThanDays: days }), pruneHttpCache(tx, now, hours)),
    collector: async () => {
      const [{ SqliteHttpCache }, { SqliteBudget }] = await Promise.all([import('./github.js'), import('./budget.js')]);
      return { cache: new SqliteHttpCache(getDb()), budget: new SqliteBudget(getDb()) };
    },
    budgets: async (now) => (await import('./budget.js')).budgetsFrom(budgetRows(getDb()), now),
    hold: async (name, until, reason, now) => holdJobs(getDb(), name, until, reason, now),
  };
}

/** What the handlers work with besides the database (registerAnalysisOn); registerAnalysis adds `db`. */
export interface AnalysisDeps {
  /** The environment read when a job runs (tokens, API URLs, model). Default process.env. */
  env?: () => NodeJS.ProcessEnv;
  /** The deny list and webhook, read when a job runs (from src/cli/config.ts). */
  config: () => AnalysisConfig;
  /** fetch for GitHub, the model endpoint and the webhook. Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Clock. Default Date.now. */
  now?: () => number;
  /** Told when an analysis moves to a stage (or fails); `analyze` uses it for progress. */
  onStage?: (analysisId: string, stage: AnalysisStage | 'failed') => void;
}

/** Payload of fetch-github. */
interface FetchPayload {
  analysisId: string;
  login: string;
}

/** Payload of write-review. */
interface WritePayload {
  analysisId: string;
}

/** Payload of notify. */
interface NotifyPayload {
  analysisId: string;
  event: 'completed' | 'failed';
}

/** Payload of analysis-failed: the chain's catch job gets `failure` from the queue. */
interface FailedPayload {
  analysisId: string;
  login: string;
  failure?: { jobId: number; name: string; queue: string; message: string; failedUuid: string };
}

/** The login is on the configured deny list. */
class DeniedError extends Error {
  readonly code = 'E_DENIED';
  constructor(readonly login: string) {
    super(`${login} is on the deny list (config denyList): gitroast does not analyse this account`);
    this.name = 'DeniedError';
  }
}

// ---------------------------------------------------------------------------------------
// Handlers

/**
 * Register the analysis handlers (fetch-github, write-review, notify, analysis-failed,
 * prune) and the daily prune schedule (`0 3 * * *`, on queue low) on `registry`, over the
 * SQLite application database `deps.db` (with the analysis migrations applied), or a getter
 * for one opened later.
 */
export function registerAnalysis(registry: HandlerRegistry, deps: AnalysisDeps & { db: Db | (() => Db) }): void {
  if (!deps?.db) throw new Error('registerAnalysis needs deps.db, the application database');
  const db = deps.db;
  registerAnalysisOn(registry, sqliteAnalysisEngine(typeof db === 'function' ? db : () => db), deps);
}

/**
 * Like registerAnalysis, on the analysis room of any engine (PostgreSQL: ./pg-store.ts
 * pgAnalysisEngine): the handlers hand the engine's writes W to ctx.commit / ctx.write, so
 * they register only on a registry of that engine.
 */
export function registerAnalysisOn<W>(registry: HandlerRegistry<W>, engine: AnalysisEngine<W>, deps: AnalysisDeps): void {
  const env = deps.env ?? (() => process.env);
  const config = deps.config;
  const now = deps.now ?? Date.now;
  const stage = (id: string, s: AnalysisStage | 'failed') => deps.onStage?.(id, s);
  const dropped = (ctx: AnalysisJobContext<W>, id: string) =>
    ctx.log('info', 'analysis.dropped', { analysis: id, reason: 'the analysis no longer exists' });

  registry.register<FetchPayload>(JOB.fetch, {
    timeoutMs: 60_000,
    async handle(p, ctx) {
      const a = await engine.get(p.analysisId);
      if (!a) return dropped(ctx, p.analysisId);
      if (a.status === 'completed') return;
      // The deny list may have grown while the job waited.
      if (isDenied(p.login, config().denyList)) throw new PermanentError(new DeniedError(p.login).message);
      // A copy retried from the failed list reopens its analysis.
      const started = await ctx.write(engine.toStage(a, 'fetching', now()));
      if (!started) throw new LeaseLostError('the fetching stage');
      stage(a.id, 'fetching');
      const e = env();
      // The GitHub client and the model writer load on first use, not at daemon start.
      const { collectProfile, GitHubRateLimitError, tokenIdentity } = await import('./github.js');
      const { spentHold } = await import('./budget.js');
      const { cache, budget } = await engine.collector();
      const token = e.GITHUB_TOKEN?.trim() || undefined;
      let snapshot;
      try {
        snapshot = await collectProfile(p.login, {
          baseUrl: e.GITROAST_GITHUB_API_URL || undefined,
          token,
          cache,
          budget,
          now,
          fetch: deps.fetch,
          signal: ctx.signal,
        });
      } catch (err) {
        // A spent rate limit holds every fetch-github job until the reset: they stay pending
        // (no attempt, no lease) while other work goes on. This one comes back then too.
        if (err instanceof GitHubRateLimitError) await engine.hold(JOB.fetch, err.until, `${err.message} (${tokenIdentity(token)})`, now());
        throw err;
      }
      // The answers told the budget left: when it cannot pay for the next cold analysis, hold.
      const spent = spentHold(await engine.budgets(now()), tokenIdentity(token), now());
      if (spent) await engine.hold(JOB.fetch, spent.until, spent.reason, now());
      const scorecard = scoreProfile(snapshot, snapshot.fetchedAt);
      ctx.commit(engine.saveCollected(a.id, { snapshot, scorecard }, now(), () => dropped(ctx, a.id)));
      stage(a.id, 'writing');
      ctx.log('info', 'analysis.collected', { analysis: a.id, login: snapshot.user.login, requests: snapshot.requests, overall: scorecard.overall });
    },
  });

  registry.register<WritePayload>(JOB.write, {
    timeoutMs: 120_000,
    async handle(p, ctx) {
      const a = await engine.get(p.analysisId);
      if (!a) return dropped(ctx, p.analysisId);
      if (a.status === 'completed') return;
      if (!a.snapshot || !a.scorecard) throw new PermanentError('nothing was collected from GitHub for this analysis; run it again');
      const started = await ctx.write(engine.toStage(a, 'writing', now()));
      if (!started) throw new LeaseLostError('the writing stage');
      const { writeReview } = await import('./writer.js');
      const result = await writeReview({ snapshot: a.snapshot, scorecard: a.scorecard }, env(), { signal: ctx.signal, fetch: deps.fetch });
      ctx.commit(engine.complete(a.id, result.review, result.usage, result.model, now(), () => dropped(ctx, a.id)));
      stage(a.id, 'done');
      ctx.log('info', 'analysis.completed', { analysis: a.id, login: a.username, model: result.model, usage: result.usage });
    },
  });

  registry.register<NotifyPayload>(JOB.notify, {
    timeoutMs: 30_000,
    async handle(p, ctx) {
      const url = config().webhookUrl;
      if (!url) return;
      const a = await engine.get(p.analysisId);
      if (!a) return dropped(ctx, p.analysisId);
      const message = webhookMessage(a);
      // Delivery is at least once (a daemon killed between the POST and its commit posts
      // again): the key is the same on every repeat, so a receiver can drop duplicates.
      const key = `${a.id}:${String(message.event)}`;
      await postWebhook(url, message, { signal: ctx.signal, fetch: deps.fetch ?? globalThis.fetch, now: now(), idempotencyKey: key });
      ctx.log('info', 'analysis.notified', { analysis: a.id, webhook: maskUrl(url), event: a.status });
    },
  });

  registry.register<FailedPayload>(JOB.failed, {
    async handle(p, ctx) {
      const a = await engine.get(p.analysisId);
      if (!a) return dropped(ctx, p.analysisId);
      if (a.status === 'completed' || a.status === 'failed') return;
      const reason = p.failure?.message ?? 'the analysis failed';
      // The failure and its notification commit with this job's completion, or not at all.
      ctx.commit(engine.fail(a.id, reason, now(), withDefaults(notifySpec(a.id, 'failed', a.username))));
      stage(a.id, 'failed');
      ctx.log('warn', 'analysis.failed', { analysis: a.id, login: a.username, reason: safeLine(reason).slice(0, 300) });
    },
  });

  registry.register<Record<string, never>>(JOB.prune, {
    async handle(_p, ctx) {
      ctx.commit(engine.prune(now(), config().pruneDays ?? PRUNE_ANALYSES_DAYS, PRUNE_HTTP_CACHE_HOURS,
        (analyses, cached) => ctx.log('info', 'analysis.pruned', { analyses, httpCache: cached })));
    },
  });

  registry.schedule('prune', '0 3 * * *', withDefaults({ name: JOB.prune, queue: 'low' }),
    `delete analyses older than ${config().pruneDays ?? PRUNE_ANALYSES_DAYS} days (unless kept) and GitHub cache entries older than ${PRUNE_HTTP_CACHE_HOURS} h`);
}

// ---------------------------------------------------------------------------------------
// Enqueueing

/** Tags of every job of an analysis. */
function analysisTags(analysisId: string, login: string): string[] {
  return ['analysis', `username:${login.toLowerCase()}`, `analysis:${analysisId}`];
}

/**
 * Tries, backoff (seconds), timeout and retry-until window of each job name, used where neither the caller nor
 * the config's per-job options (`jobs.<name>` in the config file) set them.
 */
const JOB_DEFAULTS: Readonly<Record<string, Pick<JobSpec, 'tries' | 'backoff' | 'timeoutMs' | 'retryForMs'>>> = {
  [JOB.fetch]: { tries: 3, backoff: [10, 30, 60], timeoutMs: 60_000, retryForMs: ANALYSIS_RETRY_FOR_MS },
  [JOB.write]: { tries: 2, backoff: [15], timeoutMs: 120_000, retryForMs: ANALYSIS_RETRY_FOR_MS },
  [JOB.notify]: { tries: 5, backoff: [30, 120, 600], timeoutMs: 30_000 },
  [JOB.failed]: { tries: 3, backoff: [5] },
  [JOB.prune]: { tries: 1 },
};

/** Fill tries / backoff / timeout / retry window from JOB_DEFAULTS where `spec` leaves them unset (in place). */
function fillDefaults(spec: JobSpec): void {
  const d = JOB_DEFAULTS[spec.name];
  if (!d) return;
  if (spec.tries === undefined && d.tries !== undefined) spec.tries = d.tries;
  if (spec.backoff === undefined && d.backoff !== undefined) spec.backoff = d.backoff;
  if (spec.timeoutMs === undefined && d.timeoutMs !== undefined) spec.timeoutMs = d.timeoutMs;
  if (spec.retryUntil === undefined && spec.retryForMs === undefined && d.retryForMs !== undefined) spec.retryForMs = d.retryForMs;
}

/** Fill tries / backoff / timeout / retry window from JOB_DEFAULTS where `spec` (and its chain and catch) leave them unset. */
function withDefaults(spec: JobSpec): JobSpec {
  const out: JobSpec = { ...spec };
  fillDefaults(out);
  if (spec.chain) out.chain = spec.chain.map(withDefaults);
  if (spec.catch) out.catch = withDefaults(spec.catch);
  return out;
}

function notifySpec(analysisId: string, event: NotifyPayload['event'], login: string): JobSpec {
  return { name: JOB.notify, queue: 'low', payload: { analysisId, event } satisfies NotifyPayload, tags: analysisTags(analysisId, login) };
}

/**
 * The chain of one analysis: fetch-github → write-review → notify (on low), caught by
 * analysis-failed; `jobOptions` (e.g. the config's per-job options) is applied first, then
 * JOB_DEFAULTS fill what is still unset.
 */
export function analysisChain(analysisId: string, login: string, queue = 'default', jobOptions?: (spec: JobSpec) => JobSpec): JobSpec {
  const tags = analysisTags(analysisId, login);
  const spec: JobSpec = {
    name: JOB.fetch,
    queue,
    payload: { analysisId, login } satisfies FetchPayload,
    tags,
    chain: [
      { name: JOB.write, queue, payload: { analysisId } satisfies WritePayload, tags },
      { name: JOB.notify, queue: 'low', payload: { analysisId, event: 'completed' } satisfies NotifyPayload, tags },
    ],
    catch: { name: JOB.failed, queue, payload: { analysisId, login } satisfies FailedPayload, tags },
  };
  if (jobOptions) return withDefaults(jobOptions(spec));
  // Built here and shared with no one: fill the defaults in place (a batch of 200,000 makes
  // 800,000 of these specs; copying each measured 14 % of the batch's CPU).
  for (const s of [spec, ...spec.chain!, spec.catch!]) fillDefaults(s);
  return spec;
}

/** Options of enqueueAnalysis. */
export interface EnqueueAnalysisOptions {
  /** Queue of the chain (notify always runs on low). Default `default`. */
  queue?: string;
  /** Start a new analysis even when a completed one is younger than 24 hours. Default false. */
  force?: boolean;
  /** Logins never analysed (the configured deny list). */
  denyList: readonly string[];
  /** Applied to each job spec before the defaults (the CLI passes the config's per-job options). */
  jobOptions?: (spec: JobSpec) => JobSpec;
  now?: number;
}

/** What enqueueAnalysis did: a new analysis, or the one returned instead. */
export interface EnqueuedAnalysis {
  analysis: Analysis;
  /** True when a new analysis (and its jobs) was created. */
  created: boolean;
  /** Why an existing analysis was returned: one is running, or a completed one is fresh. */
  reason?: 'active' | 'recent';
}

/** Throw a ValidationError or DeniedError unless `login` may be analysed. */
export function checkLogin(login: string, denyList: readonly string[]): void {
  const problem = validateLogin(login);
  if (problem) throw new ValidationError(problem);
  if (isDenied(login, denyList)) throw new DeniedError(login);
}

/** Return the analysis to hand back instead of a new one, or undefined. Caller holds the transaction. */
export function existingFor(db: Db, login: string, force: boolean, now: number): EnqueuedAnalysis | undefined {
  return existingOf(findActive(db, login), force, now, () => findLatestCompleted(db, login));
}

/**
 * The rule of existingFor on either engine: the login's newest active analysis, else (unless
 * `force`) its newest completed one (`done`, read only when needed) while younger than 24 hours.
 */
export function existingOf(active: Analysis | undefined, force: boolean, now: number, done: () => Analysis | undefined): EnqueuedAnalysis | undefined {
  if (active) return { analysis: active, created: false, reason: 'active' };
  if (force) return undefined;
  const completed = done();
  if (completed && now - (completed.completedAt ?? completed.createdAt) < FRESH_MS) return { analysis: completed, created: false, reason: 'recent' };
  return undefined;
}

/**
 * Start an analysis of `login`: one transaction creates the pending analysis row and
 * enqueues its chain. One analysis per login at a time: a pending or processing one is
 * returned instead, and so is a completed one younger than 24 hours unless `force`. The
 * login is checked (GitHub's rules, the deny list) before anything is written.
 */
export function enqueueAnalysis(db: Db, login: string, opts: EnqueueAnalysisOptions): EnqueuedAnalysis {
  const queue = opts.queue ?? 'default';
  assertQueueName(queue);
  checkLogin(login, opts.denyList);
  const now = opts.now ?? Date.now();
  const out = immediate(db, () => {
    const existing = existingFor(db, login, opts.force ?? false, now);
    if (existing) return existing;
    const analysis = createAnalysis(db, { username: login, now });
    enqueueInTx(db, analysisChain(analysis.id, login, queue, opts.jobOptions), { now });
    return { analysis, created: true };
  });
  if (out.created) notifyEnqueued(db);
  return out;
}

// Batches of many logins (staged on disk first): see batch.ts.

/**
 * Tell whether jobs of these analyses are ready to run or running (pending or reserved;
 * delayed ones, such as a webhook waiting for its backoff, do not count), through the
 * queue's Store (either engine).
 */
export async function jobsOutstanding(store: Pick<Store, 'listJobs'>, analysisIds: readonly string[]): Promise<boolean> {
  for (const id of analysisIds) {
    for (const state of ['pending', 'reserved'] as const) {
      if ((await store.listJobs({ state, tag: `analysis:${id}`, limit: 1 })).length > 0) return true;
    }
  }
  return false;
}

/** When the next delayed job of an analysis is due (ms epoch), or undefined when none waits. */
export async function delayedUntil(store: Pick<Store, 'listJobs'>, analysisId: string): Promise<{ name: string; at: number } | undefined> {
  const [job] = await store.listJobs({ state: 'delayed', tag: `analysis:${analysisId}`, limit: 1 });
  return job ? { name: job.name, at: job.availableAt } : undefined;
}

/** Why failCancelledVia fails an analysis. */
const CANCELLED_WITH_BATCH = 'cancelled with its batch before it ran';

/**
 * Fail the analyses of a cancelled batch that nothing will run any more (their jobs were
 * cancelled before they started: none pending, running or delayed), through the queue's
 * Store (either engine); `fail` fails one analysis with the reason and says whether it
 * changed it. Returns how many.
 */
export async function failCancelledVia(store: Pick<Store, 'listJobs'>, fail: (id: string, reason: string) => Promise<boolean>, analyses: readonly Analysis[]): Promise<number> {
  let n = 0;
  for (const a of analyses) {
    if (a.status !== 'pending' && a.status !== 'processing') continue;
    let outstanding = false;
    for (const state of ['pending', 'reserved', 'delayed'] as const) outstanding ||= (await store.listJobs({ state, tag: `analysis:${a.id}`, limit: 1 })).length > 0;
    if (outstanding) continue;
    if (await fail(a.id, CANCELLED_WITH_BATCH)) n++;
  }
  return n;
}

/** The analyses of retried jobs (their payloads' analysisId), each once, read through the Store (either engine). */
export async function analysesOfJobs(store: Pick<Store, 'getJob'>, jobIds: readonly number[]): Promise<string[]> {
  const ids = new Set<string>();
  for (const id of jobIds) {
    const payload = (await store.getJob(id))?.payload as { analysisId?: unknown } | undefined;
    if (typeof payload?.analysisId === 'string') ids.add(payload.analysisId);
  }
  return [...ids];
}

// ---------------------------------------------------------------------------------------
// The webhook

/** Escape text for Slack mrkdwn (which also keeps `<!channel>`-style mentions inert). */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Build the webhook body of a finished analysis: `text` (Slack) and `content` (Discord)
 * with one readable line, mentions disabled, and the structured fields under `analysis`.
 */
function webhookMessage(a: Analysis): Record<string, unknown> {
  const login = safeLine(a.username);
  let text: string;
  if (a.status === 'completed' && a.scores && a.overall !== null) {
    const cats = CATEGORIES.map((c) => `${c} ${a.scores![c]}`).join(', ');
    const summary = a.report ? ` ${safeLine(a.report.summary).slice(0, 300)}` : '';
    text = `gitroast: ${login} scored ${a.overall}/100 (${cats}).${summary}`;
  } else {
    text = `gitroast: the analysis of ${login} failed: ${safeLine(a.error ?? 'unknown reason').slice(0, 300)}`;
  }
  text = slackEscape(text);
  return {
    text,
    content: text.slice(0, 2000),
    allowed_mentions: { parse: [] },
    event: a.status === 'completed' ? 'analysis.completed' : 'analysis.failed',
    analysis: {
      id: a.id,
      username: a.username,
      status: a.status,
      overallScore: a.overall,
      scores: a.scores,
      dealBreakers: a.scorecard?.dealBreakers.map((d) => d.id) ?? [],
      formulaVersion: a.formulaVersion,
      model: a.model,
      error: a.error === null ? null : safeLine(a.error),
      profileUrl: a.snapshot?.user.htmlUrl ?? null,
      completedAt: a.completedAt === null ? null : new Date(a.completedAt).toISOString(),
    },
  };
}

/**
 * POST `body` to the webhook. A 429 comes back at retry-after without spending an attempt;
 * another 4xx (a wrong URL) fails for good; 5xx and network errors are retried (a network
 * error first twice within the attempt, src/util/retry.ts).
 */
async function postWebhook(url: string, body: unknown, o: { signal: AbortSignal; fetch: typeof fetch; now: number; idempotencyKey: string }): Promise<void> {
  const where = maskUrl(url);
  let res: Response;
  try {
    // A network error is tried again twice within the attempt (the idempotency key makes a repeat safe).
    res = await withNetworkRetries(() => o.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'gitroast', 'idempotency-key': o.idempotencyKey },
      body: JSON.stringify(body),
      signal: AbortSignal.any([o.signal, AbortSignal.timeout(WEBHOOK_TIMEOUT_MS)]),
    }), o.signal);
  } catch (err) {
    throw new Error(`could not reach the webhook at ${where}: ${safeLine((err as Error).message).slice(0, 200)}`, { cause: err });
  }
  await res.arrayBuffer().catch(() => undefined);
  if (res.ok) return;
  if (res.status === 429) {
    const seconds = Number(res.headers.get('retry-after'));
    const wait = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 30_000;
    throw new DelayError(o.now + wait, `the webhook at ${where} is rate limited; retrying in ${Math.round(wait / 1000)} s`);
  }
  if (res.status >= 400 && res.status < 500 && res.status !== 408) {
    throw new PermanentError(`the webhook at ${where} answered ${res.status}; check webhookUrl in the config`);
  }
  throw new Error(`the webhook at ${where} answered ${res.status}; will retry`);
}
