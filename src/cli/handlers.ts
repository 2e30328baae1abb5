import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { addHousekeeping, registerFailureNotify, Registry } from '../daemon/index.js';
import type { Db } from '../queue/index.js';
import type { PgDb } from '../queue/pg/connect.js';
import type { GitroastConfig } from './config.js';
import { UsageError } from './context.js';

/** What a handler module gets at start-up. */
interface HandlerEnv {
  config: GitroastConfig;
  /** The application database; call it only when a job runs (`schedule list` never opens one). */
  db: () => Db;
  /** On PostgreSQL: the database (a getter: it is opened after the registry is built) and the store's clock. */
  pg?: { db: () => PgDb; now: () => number };
}

/** What a handler module exports: `register(registry, env)`, called once at start-up. */
interface HandlerModule {
  register(registry: Registry, env: HandlerEnv): void | Promise<void>;
}

/** The analysis room: fetch-github, write-review, notify, analysis-failed, prune and the daily prune schedule. */
const analysisModule: HandlerModule = {
  async register(registry, { config, db, pg }) {
    const { registerAnalysis } = await import('../analysis/jobs.js');
    const settings = () => ({ denyList: config.denyList, webhookUrl: config.webhookUrl ?? undefined, pruneDays: config.analysis.pruneDays });
    if (!pg) return registerAnalysis(registry, { db, config: settings });
    // PostgreSQL: the analysis room's PgLeasedWrites, on the database's clock (loaded only here).
    const { pgAnalysisEngine } = await import('../analysis/pg-store.js');
    registerAnalysis(registry, { engine: pgAnalysisEngine(pg.db), now: pg.now, config: settings });
  },
};

/** Failure notifications (config `notify.failures`): the notify-failure job posts to notify.failures.webhookUrl, else webhookUrl. */
const failureNotifyModule: HandlerModule = {
  register(registry, { config }) {
    registerFailureNotify(registry, { webhookUrl: () => config.notify.failures.webhookUrl ?? config.webhookUrl ?? undefined });
  },
};

/**
 * The rooms' handler modules, loaded by `gitroast daemon` and `schedule list`. The daemon
 * itself never imports a room: it gets a filled registry.
 */
const handlerModules: Array<{ load: () => Promise<HandlerModule> }> = [{ load: async () => analysisModule }, { load: async () => failureNotifyModule }];

function noDb(): never {
  throw new Error('no database was opened for these handlers');
}

/**
 * Build the registry: housekeeping schedules, the rooms' handler modules, then the modules
 * named in GITROAST_HANDLERS (paths separated by `:`; for tests and plugins; on PostgreSQL
 * their `db` throws: they use ctx and the store), then the
 * config's `schedules` (a cron re-times a schedule, `false` removes it).
 */
export async function buildRegistry(config: GitroastConfig, db: () => Db = noDb, env: NodeJS.ProcessEnv = process.env, options: { pg?: HandlerEnv['pg'] } = {}): Promise<Registry> {
  const registry = new Registry();
  addHousekeeping(registry, {
    completedMinutes: config.trim.completedMinutes, failedRowsMinutes: config.trim.failedRowsMinutes,
    failedJobsHours: config.trim.failedJobsHours, snapshotsMinutes: config.trim.snapshotsMinutes, batchesHours: config.trim.batchesHours, monitoredMinutes: config.trim.monitoredMinutes,
  });
  for (const m of handlerModules) await (await m.load()).register(registry, { config, db, pg: options.pg });
  for (const file of (env.GITROAST_HANDLERS ?? '').split(path.delimiter).filter(Boolean)) {
    let mod: Partial<HandlerModule>;
    try {
      mod = (await import(pathToFileURL(path.resolve(file)).href)) as Partial<HandlerModule>;
    } catch (err) {
      throw new UsageError(`cannot load handler module ${file} (GITROAST_HANDLERS): ${(err as Error).message}`);
    }
    if (typeof mod.register !== 'function') throw new UsageError(`handler module ${file} (GITROAST_HANDLERS) must export a register(registry) function`);
    await mod.register(registry, { config, db, pg: options.pg });
  }
  const known = new Set(registry.listSchedules().map((s) => s.name));
  for (const [name, cron] of Object.entries(config.schedules)) {
    const existing = registry.listSchedules().find((s) => s.name === name);
    if (!existing) throw new UsageError(`invalid configuration: schedules.${name}: no such schedule (known: ${[...known].join(', ')})`);
    if (cron === false) registry.unschedule(name);
    else registry.schedule(name, cron, existing.target, existing.description);
  }
  return registry;
}
