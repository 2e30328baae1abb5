/**
 * The analysis commands: analyze, show, list, keep, batch and batches. Actions load the
 * analysis room (octokit, openai, zod) lazily, so `gitroast --help` stays fast.
 *
 * Exit codes: 0 done; 1 an analysis failed (or the thing named does not exist); 2 a user
 * mistake, including a login that is invalid or on the deny list (nothing is enqueued);
 * 3 the database cannot be used.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { Analysis, AnalysisStatus } from '../analysis/store.js';
import type { EnqueuedAnalysis } from '../analysis/jobs.js';
import type { AnalysisConfig } from '../analysis/config.js';
import type { JobSpec } from '../queue/index.js';
import type { PgLeasedWrite } from '../queue/pg/jobs.js';
import type { WorkerOptions } from '../daemon/index.js';
import { colorEnabled, safeLine } from '../util/terminal.js';
import { intOption, UsageError, WorkFailed, type Context } from './context.js';
import { duration, info, plural, print, printJson, table } from './output.js';
import type { Runner } from './program.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The queues an analysis may be put on. */
const QUEUES = ['high', 'default', 'low'] as const;
const STATUSES: readonly AnalysisStatus[] = ['pending', 'processing', 'completed', 'failed'];
/** Jobs the in-process worker runs at once when no daemon is alive. */
const INLINE_CONCURRENCY = 4;

function checkQueue(queue: string | undefined): string {
  const q = queue ?? 'default';
  if (!(QUEUES as readonly string[]).includes(q)) throw new UsageError(`invalid --queue ${JSON.stringify(q)}: expected one of ${QUEUES.join(', ')}`);
  return q;
}

/**
 * Load the configuration (src/cli/config.ts: --config, else GITROAST_CONFIG, else the XDG
 * default, then GITROAST_* variables, validated once); a bad one is a UsageError (exit 2).
 * Returns what the analysis needs: the deny list, the webhook, the per-job options and the
 * alive threshold of daemons (staleSeconds, as the daemon and `status` use it).
 */
async function analysisConfig(ctx: Context) {
  const { applyJobOptions } = await import('./config.js');
  const config = await ctx.config();
  const settings = { denyList: config.denyList, webhookUrl: config.webhookUrl ?? undefined, pruneDays: config.analysis.pruneDays };
  // No per-job options (the usual case): nothing to apply, so no copy of every spec of a batch.
  const jobOptions = Object.keys(config.jobs).length > 0 ? (spec: JobSpec) => applyJobOptions(spec, config) : undefined;
  return { ...settings, settings, aliveMs: config.staleSeconds * 1000, maxRateLimitWaitMs: config.maxRateLimitWaitHours * 3_600_000, jobOptions };
}

/**
 * Collects the problems of checked logins and reports them by the CLI's rule: one bad
 * value is one line (the UsageError); several are one line each on stderr, as they come,
 * then the count. Holds at most one problem in memory.
 */
class LoginProblems {
  private first: string | undefined;
  count = 0;

  /** Record a problem (already prefixed with where it came from). */
  add(problem: string): void {
    this.count++;
    if (this.count === 1) {
      this.first = problem;
      return;
    }
    if (this.count === 2) info(`gitroast: ${safeLine(this.first)}`);
    info(`gitroast: ${safeLine(problem)}`);
  }

  /** Throw the UsageError (exit 2) when any problem was recorded. */
  finish(source: string): void {
    if (this.count === 0) return;
    if (this.count === 1) throw new UsageError(`${this.first}; nothing was enqueued`);
    throw new UsageError(`${this.count} invalid usernames in ${source}; nothing was enqueued`);
  }
}

/**
 * Check every login (GitHub's rules, the deny list) before anything is written; report each
 * problem with where it came from, then fail with exit 2.
 */
async function checkLogins(entries: readonly { login: string; where: string }[], denyList: readonly string[], source: string): Promise<void> {
  const { checkLogin } = await import('../analysis/jobs.js');
  const problems = new LoginProblems();
  for (const e of entries) {
    try {
      checkLogin(e.login, denyList);
    } catch (err) {
      problems.add(`${e.where}${(err as Error).message}`);
    }
  }
  problems.finish(source);
}

/** One line saying what enqueueing did. */
function describe(item: EnqueuedAnalysis, now: number): string {
  const a = item.analysis;
  const login = safeLine(a.username);
  if (item.created) return `${login}: queued (analysis ${a.id})`;
  if (item.reason === 'active') return `${login}: an analysis is already ${a.status} (${a.id}); following it`;
  return `${login}: completed ${duration(now - (a.completedAt ?? a.createdAt))} ago (${a.id}); use --force for a new one`;
}

function finished(a: Analysis | undefined): boolean {
  return !a || a.status === 'completed' || a.status === 'failed';
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/**
 * Wait until every analysis has completed or failed, printing progress on stderr
 * (queued → fetching → writing → done). While no daemon serving `queue` is alive, run the
 * jobs in this process with the daemon's engine (retries, backoff and rate-limit delays
 * included) and stop it once nothing of these analyses is ready or running. Ctrl-C stops
 * waiting; the jobs stay queued.
 */
async function waitForAnalyses(ctx: Context, ids: readonly string[], queue: string, settings: AnalysisConfig, aliveMs: number, maxRateLimitWaitMs?: number): Promise<Analysis[]> {
  const [jobs, { Registry }, { startWorker }] = await Promise.all([
    import('../analysis/jobs.js'),
    import('../daemon/registry.js'),
    import('../daemon/worker.js'),
  ]);
  const store = await ctx.store();
  const analyses = await ctx.analyses();
  const shown = new Map<string, string>();
  const show = async (id: string, label: string) => {
    if (shown.get(id) === label) return;
    shown.set(id, label);
    const a = await analyses.get(id);
    if (a) info(`${safeLine(a.username)}: ${label}`);
  };
  const stageOf = (a: Analysis) =>
    a.status === 'failed' ? `failed: ${safeLine(a.error ?? 'unknown reason')}` : a.status === 'completed' ? `done (${a.overall}/100)` : a.stage;
  const mine = new Set(ids);
  // Progress of the in-process worker comes from its handlers and its events.
  const onStage = (id: string, stage: string) => {
    if (!mine.has(id)) return;
    if (stage !== 'failed' && stage !== 'done') return void show(id, stage);
    void analyses.get(id).then((a) => a && show(id, stageOf(a)));
  };
  /** Start the in-process worker on the database's engine, with that engine's analysis handlers. */
  let startInline: (options: Omit<WorkerOptions, 'store'>) => ReturnType<typeof startWorker>;
  if (ctx.engine === 'postgres') {
    // PostgreSQL: the analysis room's PgLeasedWrites, on the database's clock, run by the command's PostgreSQL store.
    const [pg, pgStore, { pgAnalysisEngine }] = await Promise.all([ctx.pgDb(), ctx.pgStore(), import('../analysis/pg-store.js')]);
    const registry = new Registry<PgLeasedWrite>();
    jobs.registerAnalysisOn(registry, pgAnalysisEngine(pg), { now: () => store.now(), config: () => settings, onStage });
    startInline = (options) => startWorker(undefined, registry, { ...options, store: pgStore });
  } else {
    const registry = new Registry();
    jobs.registerAnalysis(registry, { db: ctx.db(), config: () => settings, onStage });
    startInline = (options) => startWorker(ctx.db(), registry, options);
  }
  /** A job of these analyses went back to its queue: say until when, and why. */
  const waiting = (e: { job: { id: number }; reason: string; availableAt: number }) => {
    void store.getJob(e.job.id).then((job) => {
      const tag = job?.tags.find((t) => t.startsWith('analysis:'));
      const id = tag?.slice('analysis:'.length);
      if (!id || !mine.has(id)) return;
      return show(id, `waiting until ${clock(e.availableAt)} (${job!.name}: ${safeLine(e.reason).slice(0, 200)})`);
    });
  };

  let worker: ReturnType<typeof startWorker> | undefined;
  /** True once a live daemon was found serving the queue (said once). */
  let followed = false;
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);
  try {
    for (const id of ids) {
      const a = await analyses.get(id);
      if (a) await show(id, a.status === 'pending' ? 'queued' : stageOf(a));
    }
    if ((await store.pausedQueues()).has(queue)) info(`gitroast: queue ${queue} is paused; the analysis waits until \`gitroast queue continue ${queue}\``);
    for (;;) {
      const all = await Promise.all(ids.map((id) => analyses.get(id)));
      for (const a of all) if (a) await show(a.id, a.status === 'pending' && a.stage === 'queued' ? 'queued' : stageOf(a));
      const done = all.every(finished);
      if (done && (!worker || !(await jobs.jobsOutstanding(store, ids)))) break;
      if (interrupted) {
        info('gitroast: interrupted; the analysis stays queued (a daemon, or `gitroast analyze` again, finishes it)');
        throw new WorkFailed('');
      }
      if (!done && !worker) {
        const serving = (await store.liveWorkers(aliveMs)).filter((w) => w.queues.includes(queue));
        if (serving.length === 0) {
          worker = startInline({ queues: [...new Set([queue, 'high', 'default', 'low'])], concurrency: INLINE_CONCURRENCY, graceMs: 5_000, maxRateLimitWaitMs });
          worker.on('delayed', waiting);
          worker.on('released', waiting);
        } else {
          if (!followed) info(`gitroast: daemon ${serving.map((w) => w.id).join(', ')} serves queue ${queue}; waiting for it`);
          followed = true;
          for (const a of all) {
            if (!a || finished(a)) continue;
            const d = await jobs.delayedUntil(store, a.id);
            if (d) await show(a.id, `waiting until ${clock(d.at)} (${d.name})`);
          }
        }
      }
      await new Promise((r) => setTimeout(r, worker ? 50 : 200));
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    if (worker) await worker.stop({ graceMs: 5_000 });
  }
  return (await Promise.all(ids.map((id) => analyses.get(id)))).filter((a): a is Analysis => a !== undefined);
}

/** Print finished analyses (reports or JSON lines); throw WorkFailed when any failed. */
async function printResults(analyses: readonly Analysis[], opts: { json?: boolean; summary?: boolean }): Promise<void> {
  const { analysisJson, renderReport } = await import('../analysis/report.js');
  if (opts.json) for (const a of analyses) printJson(analysisJson(a));
  else if (opts.summary) {
    print(table(['ID', 'USERNAME', 'STATUS', 'SCORE', 'ERROR'], analyses.map((a) => [a.id, a.username, a.status, a.overall ?? '-', a.error ?? ''])));
  } else {
    const done = analyses.filter((a) => a.status === 'completed');
    done.forEach((a, i) => print(`${i > 0 ? '\n' : ''}${renderReport(a, { color: colorEnabled(), width: process.stdout.columns })}`));
  }
  const failed = analyses.filter((a) => a.status === 'failed');
  for (const a of failed) info(`gitroast: the analysis of ${safeLine(a.username)} failed: ${safeLine(a.error ?? 'unknown reason')}`);
  if (failed.length > 0) throw new WorkFailed('');
}

/**
 * Say on stderr what GitHub's budget means before analyses start: without a token, the
 * hourly rate and what a token would make it; for a batch of `queued` analyses, when it
 * should finish (from the budget the last answers told, else the hourly rate).
 */
async function sayBudget(ctx: Context, queued: number, batch: boolean): Promise<void> {
  if (queued === 0) return;
  const { budgetNotice, budgetsFrom, estimateFinishFrom, reviewsPerHour, tokenIdentity } = await import('../analysis/budget.js');
  const token = process.env.GITHUB_TOKEN?.trim() || undefined;
  if (!token || batch) info(budgetNotice(token !== undefined));
  if (!batch) return;
  const now = Date.now();
  const budgets = budgetsFrom(await (await ctx.analyses()).budgetRows(), now);
  const at = estimateFinishFrom(budgets, queued, token !== undefined, tokenIdentity(token), now);
  const when = new Date(at).toISOString().replace(/:\d\d\.\d{3}Z$/, 'Z').replace('T', ' ');
  info(`${plural(queued, 'analysis', 'analyses')} at about ${reviewsPerHour(token !== undefined).toLocaleString('en-US')} an hour: expected to finish around ${when} (in ${duration(Math.max(0, at - now))})`);
}

/** The longest batch-file line read in full; the rest of a longer line is skipped. */
const LINE_LIMIT = 65_536;

/**
 * Read a batch file (or stdin for `-`) one line at a time, never the whole input: yield
 * each line with its number, split at \n with a \r before it dropped. A line longer than
 * LINE_LIMIT characters comes cut to that length, flagged `long`.
 */
async function* batchLines(file: string): AsyncGenerator<{ text: string; line: number; long: boolean }> {
  let fd: number;
  try {
    fd = file === '-' ? 0 : fs.openSync(file, 'r');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const stream = fs.createReadStream('', { fd, encoding: 'utf8', autoClose: file !== '-', highWaterMark: 256 * 1024 });
  let partial = '';
  let long = false;
  let line = 0;
  const cut = (text: string) => {
    if (partial.length + text.length <= LINE_LIMIT) partial += text;
    else {
      partial += text.slice(0, LINE_LIMIT - partial.length);
      long = true;
    }
  };
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      let from = 0;
      for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', from)) {
        cut(chunk.slice(from, nl));
        const text = partial.endsWith('\r') && !long ? partial.slice(0, -1) : partial;
        yield { text, line: ++line, long };
        partial = '';
        long = false;
        from = nl + 1;
      }
      cut(chunk.slice(from));
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  } finally {
    if (file !== '-') stream.destroy();
  }
  yield { text: partial, line: line + 1, long };
}

/** The username of a batch-file line: `#` starts a comment; blank lines give ''. */
function batchLogin(text: string): string {
  return text.replace(/#.*$/, '').trim();
}

async function findAnalysis(ctx: Context, ref: string): Promise<Analysis> {
  let a: Analysis | undefined;
  if (UUID.test(ref)) a = await (await ctx.analyses()).get(ref);
  else {
    const { validateLogin } = await import('../analysis/login.js');
    const problem = validateLogin(ref);
    if (problem) throw new UsageError(`${problem}, or pass an analysis id from \`gitroast list\``);
    a = await (await ctx.analyses()).latestByUsername(ref);
  }
  if (!a) throw new WorkFailed(`no analysis ${UUID.test(ref) ? ref : `of ${ref}`} (see \`gitroast list\`)`);
  return a;
}

export function registerAnalysisCommands(program: Command, ctx: Context, run: Runner): void {
  program
    .command('analyze <usernames...>')
    .description('review GitHub profiles: enqueue, wait (running the jobs here when no daemon is alive) and print the report')
    .option('--queue <queue>', `queue of the analysis: ${QUEUES.join(', ')} (default default)`)
    .option('--detach', 'enqueue and return at once')
    .option('--json', 'print one JSON object per analysis per line')
    .option('--force', 'analyse again even when a completed analysis is younger than 24 hours')
    .action(run(async (usernames: string[], opts: { queue?: string; detach?: boolean; json?: boolean; force?: boolean }) => {
      const queue = checkQueue(opts.queue);
      const seen = new Set<string>();
      const logins = usernames.filter((u) => !seen.has(u.toLowerCase()) && seen.add(u.toLowerCase()));
      const config = await analysisConfig(ctx);
      await checkLogins(logins.map((login) => ({ login, where: '' })), config.denyList, 'the arguments');
      const options = { queue, force: opts.force, denyList: config.denyList, jobOptions: config.jobOptions };
      let items: EnqueuedAnalysis[];
      let now: number;
      if (ctx.engine === 'postgres') {
        // On the database's clock, one transaction per login as on SQLite.
        const [{ pgEnqueueAnalysis }, pg, store] = await Promise.all([import('../analysis/pg-store.js'), ctx.pgDb(), ctx.store()]);
        now = store.now();
        items = [];
        for (const login of logins) items.push(await pgEnqueueAnalysis(pg, login, { ...options, now }));
      } else {
        const { enqueueAnalysis } = await import('../analysis/jobs.js');
        const db = ctx.db();
        now = Date.now();
        items = logins.map((login) => enqueueAnalysis(db, login, { ...options, now }));
      }
      for (const item of items) if (!item.created) info(describe(item, now));
      await sayBudget(ctx, items.filter((i) => i.created).length, false);
      if (opts.detach) {
        if (opts.json) {
          const { analysisJson } = await import('../analysis/report.js');
          for (const item of items) printJson(analysisJson(item.analysis));
        } else {
          print(table(['ID', 'USERNAME', 'STATUS'], items.map((i) => [i.analysis.id, i.analysis.username, i.analysis.status])));
        }
        return;
      }
      const ids = [...new Set(items.map((i) => i.analysis.id))];
      await printResults(await waitForAnalyses(ctx, ids, queue, config.settings, config.aliveMs, config.maxRateLimitWaitMs), { json: opts.json });
    }));

  program
    .command('show <ref>')
    .description('show an analysis by id, or the latest of a username')
    .option('--json', 'print JSON (with --explain: every signal)')
    .option('--markdown', 'print Markdown')
    .option('--explain', 'list every signal with its points and evidence')
    .action(run(async (ref: string, opts: { json?: boolean; markdown?: boolean; explain?: boolean }) => {
      if (opts.json && opts.markdown) throw new UsageError('choose one of --json and --markdown');
      const a = await findAnalysis(ctx, ref);
      const report = await import('../analysis/report.js');
      if (opts.json) return printJson(report.analysisJson(a, { detail: opts.explain }));
      if (opts.markdown) return print(report.renderMarkdown(a, { explain: opts.explain }));
      print(report.renderReport(a, { color: colorEnabled(), width: process.stdout.columns, explain: opts.explain }));
    }));

  program
    .command('list')
    .description('list analyses, newest first')
    .option('--status <status>', `only this status: ${STATUSES.join(', ')}`)
    .option('--limit <n>', 'at most this many (default 20)', intOption('--limit', 1, 100_000))
    .option('--json', 'print a JSON array')
    .action(run(async (opts: { status?: string; limit?: number; json?: boolean }) => {
      if (opts.status !== undefined && !STATUSES.includes(opts.status as AnalysisStatus)) {
        throw new UsageError(`invalid --status ${JSON.stringify(opts.status)}: expected one of ${STATUSES.join(', ')}`);
      }
      const rows = await (await ctx.analyses()).list({ status: opts.status as AnalysisStatus | undefined, limit: opts.limit ?? 20 });
      if (opts.json) {
        const { sanitize, analysisSummaryJson } = await import('../analysis/report.js');
        return printJson(sanitize(rows.map(analysisSummaryJson)));
      }
      if (rows.length === 0) return info('no analyses');
      const now = Date.now();
      print(table(['ID', 'USERNAME', 'STATUS', 'SCORE', 'CREATED', 'KEPT', 'ERROR'],
        rows.map((a) => [a.id, a.username, a.status === 'processing' ? `${a.status} (${a.stage})` : a.status, a.overall ?? '-', `${duration(now - a.createdAt)} ago`, a.kept ? 'yes' : '', a.error ?? ''])));
    }));

  program
    .command('keep <id>')
    .description('keep an analysis forever (pruning skips it)')
    .option('--off', 'let it be pruned again')
    .action(run(async (id: string, opts: { off?: boolean }) => {
      if (!UUID.test(id)) throw new UsageError(`invalid analysis id ${JSON.stringify(safeLine(id).slice(0, 60))}: expected an id from \`gitroast list\``);
      if (!(await (await ctx.analyses()).keep(id, !opts.off, Date.now()))) throw new WorkFailed(`no analysis ${id}`);
      const { pruneDays } = await analysisConfig(ctx);
      info(opts.off ? `analysis ${id} will be pruned after ${pruneDays} days again` : `analysis ${id} is kept`);
    }));

  program
    .command('batch <file>')
    .description('analyse every username of a file (one a line, # comments; `-` reads stdin) as one batch')
    .option('--name <name>', 'a name for the batch')
    .option('--queue <queue>', `queue of the analyses: ${QUEUES.join(', ')} (default default)`)
    .option('--detach', 'enqueue and return at once')
    .option('--json', 'print one JSON object per analysis per line')
    .option('--force', 'analyse again even when a completed analysis is younger than 24 hours')
    .action(run(async (file: string, opts: { name?: string; queue?: string; detach?: boolean; json?: boolean; force?: boolean }) => {
      const queue = checkQueue(opts.queue);
      if (opts.name !== undefined && (opts.name.length === 0 || opts.name.length > 200)) throw new UsageError('invalid --name: expected 1-200 characters');
      const source = file === '-' ? 'stdin' : file;
      const config = await analysisConfig(ctx);
      const [{ checkLogin }, { enqueueStagedBatch }, { Staging }] = await Promise.all([import('../analysis/jobs.js'), import('../analysis/batch.js'), import('../queue/index.js')]);
      // Every line is checked and staged on disk before the database is opened: an
      // invalid line anywhere, or a kill, leaves the database as it was.
      const staging = new Staging();
      try {
        const problems = new LoginProblems();
        for await (const { text, line, long } of batchLines(file)) {
          const login = batchLogin(text);
          if (!login) continue;
          if (long && !text.includes('#')) {
            problems.add(`${source}:${line}: line longer than ${LINE_LIMIT.toLocaleString('en-US')} characters: expected one username a line`);
            continue;
          }
          try {
            checkLogin(login, config.denyList);
            staging.add(login);
          } catch (err) {
            problems.add(`${source}:${line}: ${(err as Error).message}`);
          }
        }
        problems.finish(source);
        if (staging.offered === 0) throw new UsageError(`no usernames in ${source}: expected one a line (# starts a comment)`);
        const options = { name: opts.name, queue, force: opts.force, denyList: config.denyList, jobOptions: config.jobOptions };
        let enqueued: { batchId: string; created: number; existing: number };
        let now: number;
        if (ctx.engine === 'postgres') {
          const [{ pgEnqueueStagedBatch }, pg, store] = await Promise.all([import('../analysis/pg-store.js'), ctx.pgDb(), ctx.store()]);
          now = store.now();
          enqueued = await pgEnqueueStagedBatch(pg, staging, { ...options, now });
        } else {
          now = Date.now();
          enqueued = enqueueStagedBatch(ctx.db(), staging, { ...options, now });
        }
        const { batchId, created, existing } = enqueued;
        info(`batch ${batchId}: ${plural(created, 'analysis', 'analyses')} queued${existing > 0 ? `, ${existing} already running or fresh` : ''}`);
        await sayBudget(ctx, created, true);
        const analyses = await ctx.analyses();
        // What became of each login is on its staging row; analyses are read back one chunk at a time.
        if (existing > 0) {
          for (const chunk of staging.chunks()) {
            for (const s of chunk) {
              const a = !s.created && s.ref ? await analyses.get(s.ref) : undefined;
              if (a) info(describe({ analysis: a, created: false, reason: (s.note as EnqueuedAnalysis['reason'] | null) ?? undefined }, now));
            }
          }
        }
        if (opts.detach) {
          if (!opts.json) return print(batchId);
          const { analysisJson } = await import('../analysis/report.js');
          for (const chunk of staging.chunks()) {
            for (const s of chunk) {
              const a = s.ref ? await analyses.get(s.ref) : undefined;
              if (a) printJson({ batchId, ...analysisJson(a) });
            }
          }
          return;
        }
        const ids: string[] = [];
        for (const chunk of staging.chunks()) for (const s of chunk) if (s.ref) ids.push(s.ref);
        staging.close();
        await printResults(await waitForAnalyses(ctx, ids, queue, config.settings, config.aliveMs, config.maxRateLimitWaitMs), { json: opts.json, summary: true });
      } finally {
        staging.close();
      }
    }));

  const batches = program.command('batches').description('list, show, retry and cancel batches');
  batches
    .command('list', { isDefault: true })
    .description('list batches, newest first (the default)')
    .option('--json', 'print a JSON array')
    .action(run(async (opts: { json?: boolean }) => {
      const store = await ctx.store();
      const rows = await store.listBatches();
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return info('no batches');
      const now = store.now();
      print(table(['ID', 'NAME', 'TOTAL', 'PENDING', 'PROCESSED', 'FAILED', 'CANCELLED', 'CREATED', 'STATE'],
        rows.map((b) => [b.id, b.name ?? '', b.total, b.pending, b.processed, b.failed, b.cancelled, `${duration(now - b.createdAt)} ago`, b.cancelledAt ? 'cancelled' : b.finishedAt ? 'finished' : 'running'])));
    }));
  const findBatch = async (id: string) => {
    const b = await (await ctx.store()).getBatch(id);
    if (!b) throw new WorkFailed(`no batch ${safeLine(id).slice(0, 60)} (see \`gitroast batches\`)`);
    return b;
  };
  batches
    .command('show <id>')
    .description('show a batch: its jobs by state, its failures with their errors, its callbacks and its analyses')
    .option('--json', 'print JSON')
    .action(run(async (id: string, opts: { json?: boolean }) => {
      const b = await findBatch(id);
      const store = await ctx.store();
      const detail = (await store.batchDetail(b.id))!;
      const analyses = await (await ctx.analyses()).listBatch(b.id);
      if (opts.json) {
        const { sanitize, analysisSummaryJson } = await import('../analysis/report.js');
        return printJson({ ...b, states: detail.states, jobs: detail.jobs, failures: sanitize(detail.failures), callbacks: detail.callbacks, analyses: sanitize(analyses.map(analysisSummaryJson)) });
      }
      const state = b.cancelledAt ? 'cancelled' : b.finishedAt ? 'finished' : 'running';
      const byState = Object.entries(detail.states).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s === 'reserved' ? 'running' : s}`).join(', ') || 'none left (trimmed)';
      print(`batch     ${b.id}${b.name ? ` (${safeLine(b.name)})` : ''}\nstate     ${state}\njobs      ${b.total} total, ${b.pending} pending, ${b.processed} processed, ${b.failed} failed, ${b.cancelled} cancelled\nby state  ${byState}\ncallbacks ${detail.callbacks.map((c) => `${c.kind} ${c.name ? `${safeLine(c.name)} ` : ''}${c.state}`).join('; ')}\ncreated   ${new Date(b.createdAt).toISOString()}\n`);
      if (detail.failures.length) {
        print('failures');
        print(table(['JOB', 'NAME', 'QUEUE', 'ATTEMPTS', 'ERROR'], detail.failures.map((f) => [f.jobId, f.name, f.queue, f.attempts, f.error])));
        print('');
      }
      if (analyses.length) print(table(['ID', 'USERNAME', 'STATUS', 'SCORE', 'ERROR'], analyses.map((a) => [a.id, a.username, a.status, a.overall ?? '-', a.error ?? ''])));
    }));
  batches
    .command('retry <id>')
    .description("retry a batch's failed jobs (their analyses are reopened)")
    .option('--json', 'print JSON')
    .action(run(async (id: string, opts: { json?: boolean }) => {
      const b = await findBatch(id);
      const store = await ctx.store();
      const analyses = await ctx.analyses();
      const { analysesOfJobs } = await import('../analysis/jobs.js');
      const retried = await store.retryFailed({ batchId: b.id });
      let reopened = 0;
      for (const aid of await analysesOfJobs(store, retried.map((r) => r.jobId))) if (await analyses.reopen(aid, store.now())) reopened++;
      if (opts.json) return printJson({ batchId: b.id, retried, reopened });
      info(`${plural(retried.length, 'failed job')} of batch ${b.id} retried, ${plural(reopened, 'analysis', 'analyses')} reopened`);
      if (retried.length && (await store.liveWorkers(await ctx.aliveMs())).length === 0) info('no daemon is alive: run `gitroast daemon` to process them');
    }));
  batches
    .command('cancel <id>')
    .description("cancel a batch: its jobs that have not started are cancelled and their analyses failed")
    .option('--json', 'print JSON')
    .action(run(async (id: string, opts: { json?: boolean }) => {
      const b = await findBatch(id);
      const store = await ctx.store();
      const analyses = await ctx.analyses();
      const { failCancelledVia } = await import('../analysis/jobs.js');
      const cancelled = await store.cancelBatch(b.id);
      const failed = await failCancelledVia(store, (aid, reason) => analyses.fail(aid, reason, store.now()), await analyses.listBatch(b.id));
      if (opts.json) return printJson({ batchId: b.id, cancelledJobs: cancelled, failedAnalyses: failed });
      info(`batch ${b.id}: ${plural(cancelled, 'job')} cancelled, ${plural(failed, 'analysis', 'analyses')} marked failed`);
    }));
}
