import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { addHousekeeping, registerFailureNotify, Registry } from '../daemon/index.js';
import type { Db, LeasedWrite } from '../queue/index.js';
import type { PgDb } from '../queue/pg/connect.js';
import type { PgLeasedWrite } from '../queue/pg/jobs.js';
import type { GitroastConfig } from './config.js';
import { UsageError } from './context.js';

/** What a handler module gets at start-up. */
interface HandlerEnv {
  config: GitroastConfig;
  /** The application database; call it only when a job runs (`schedule list` never opens one). */
  db: () => Db;
  /** On PostgreSQL: the database (a getter: it is opened after the registry is built) and the store's clock. */
  pg?: PgHandlerEnv;
}

/** The PostgreSQL database of the handlers (a getter: it is opened after the registry is built) and the store's clock. */
interface PgHandlerEnv {
  db: () => PgDb;
  now: () => number;
}

/** What a handler module exports: `register(registry, env)`, called once at start-up; `W`: the handler write of the registry's engine. */
interface HandlerModule<W> {
  register(registry: Registry<W>, env: HandlerEnv): void | Promise<void>;
}

const analysisSettings = (config: GitroastConfig) => () => ({ denyList: config.denyList, webhookUrl: config.webhookUrl ?? undefined, pruneDays: config.analysis.pruneDays });

/** The analysis room on SQLite: fetch-github, write-review, notify, analysis-failed, prune and the daily prune schedule. */
const analysisModule: HandlerModule<LeasedWrite> = {
  async register(registry, { config, db }) {
    const { registerAnalysis } = await import('../analysis/jobs.js');
    registerAnalysis(registry, { db, config: analysisSettings(config) });
  },
};

/** The analysis room on PostgreSQL: its PgLeasedWrites, on the database's clock (loaded only here). */
const pgAnalysisModule: HandlerModule<PgLeasedWrite> = {
  async register(registry, { config, pg }) {
    if (!pg) throw new Error('the PostgreSQL analysis handlers need the PostgreSQL database');
    const [{ registerAnalysisOn }, { pgAnalysisEngine }] = await Promise.all([import('../analysis/jobs.js'), import('../analysis/pg-store.js')]);
    registerAnalysisOn(registry, pgAnalysisEngine(pg.db), { now: pg.now, config: analysisSettings(config) });
  },
};

/** Failure notifications (config `notify.failures`): the notify-failure job posts to notify.failures.webhookUrl, else webhookUrl. Either engine. */
const failureNotifyModule = {
  register<W>(registry: Registry<W>, { config }: HandlerEnv): void {
    registerFailureNotify(registry, { webhookUrl: () => config.notify.failures.webhookUrl ?? config.webhookUrl ?? undefined });
  },
};

function noDb(): never {
  throw new Error('no database was opened for these handlers');
}

/**
 * Build the registry of a SQLite daemon (and of `schedule list`): housekeeping schedules, the
 * rooms' handler modules, then the modules named in GITROAST_HANDLERS (paths separated by
 * `:`; for tests and plugins), then the config's `schedules` (a cron re-times a schedule,
 * `false` removes it). The daemon itself never imports a room: it gets a filled registry.
 */
export function buildRegistry(config: GitroastConfig, db: () => Db = noDb, env: NodeJS.ProcessEnv = process.env): Promise<Registry> {
  return fillRegistry(new Registry(), [analysisModule, failureNotifyModule], config, { config, db }, env);
}

/**
 * Build the registry of a PostgreSQL daemon as buildRegistry does, with the rooms' PostgreSQL
 * handlers (their writes are PgLeasedWrites); the GITROAST_HANDLERS modules get `pg`, and
 * their `db` throws: they use ctx and the store.
 */
export function buildPgRegistry(config: GitroastConfig, pg: PgHandlerEnv, env: NodeJS.ProcessEnv = process.env): Promise<Registry<PgLeasedWrite>> {
  return fillRegistry(new Registry<PgLeasedWrite>(), [pgAnalysisModule, failureNotifyModule], config, { config, db: noDb, pg }, env);
}

async function fillRegistry<W>(registry: Registry<W>, modules: readonly HandlerModule<W>[], config: GitroastConfig, handlerEnv: HandlerEnv, env: NodeJS.ProcessEnv): Promise<Registry<W>> {
  addHousekeeping(registry, {
    completedMinutes: config.trim.completedMinutes, failedRowsMinutes: config.trim.failedRowsMinutes,
    failedJobsHours: config.trim.failedJobsHours, snapshotsMinutes: config.trim.snapshotsMinutes, batchesHours: config.trim.batchesHours, monitoredMinutes: config.trim.monitoredMinutes,
  });
  for (const m of modules) await m.register(registry, handlerEnv);
  for (const file of (env.GITROAST_HANDLERS ?? '').split(path.delimiter).filter(Boolean)) {
    let mod: Partial<HandlerModule<W>>;
    try {
      mod = (await import(pathToFileURL(path.resolve(file)).href)) as Partial<HandlerModule<W>>;
    } catch (err) {
      throw new UsageError(`cannot load handler module ${file} (GITROAST_HANDLERS): ${(err as Error).message}`);
    }
    if (typeof mod.register !== 'function') throw new UsageError(`handler module ${file} (GITROAST_HANDLERS) must export a register(registry) function`);
    await mod.register(registry, handlerEnv);
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
