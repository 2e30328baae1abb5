import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DatabaseError, ValidationError, type AnyStore, type Db, type Store } from '../queue/index.js';
import type { PgDb } from '../queue/pg/connect.js';
import type { PgLeasedWrite } from '../queue/pg/jobs.js';
import type { AnalysisStore } from '../analysis/store.js';
import type { GitroastConfig, LoadedConfig, LoadOptions } from './config.js';
import { describeDbTarget, openAppDb, resolveDbPath, resolveDbTarget, type DbTarget } from './db.js';

/** Exit codes: the contract with scripts and systemd. */
export const EXIT = { ok: 0, failed: 1, usage: 2, environment: 3 } as const;

/** A user mistake: one line on stderr naming the value and what is allowed, exit 2, nothing written. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The requested work failed or the system is unhealthy: exit 1 with this message (may be empty when already reported). */
export class WorkFailed extends Error {
  constructor(message = '') {
    super(message);
    this.name = 'WorkFailed';
  }
}

/** The queue store as the commands use it, on either engine (the queue's AnyStore). */
export type CliStore = AnyStore;

/** What every command action gets: the global options and a lazily opened database. */
export class Context {
  private opened: Db | undefined;
  private pgOpened: Promise<PgDb> | undefined;
  private storeOpened: Promise<CliStore> | undefined;
  private pgStoreOpened: Promise<Store<PgLeasedWrite>> | undefined;
  private loaded: LoadedConfig | undefined;
  constructor(readonly program: Command) {}

  /** The global --config flag, or undefined; an empty one is a UsageError. */
  get configFlag(): string | undefined {
    const flag = this.program.opts<{ config?: string }>().config;
    if (flag !== undefined && flag.trim() === '') throw new UsageError(`invalid --config ${JSON.stringify(flag)}: name the config file, or leave --config out to use GITROAST_CONFIG or the default`);
    return flag;
  }

  /**
   * Load the configuration: the file named by --config, else GITROAST_CONFIG, else the XDG
   * default (src/cli/config.ts), then GITROAST_* variables and `flags`. Without flags it is
   * loaded once per command. A bad one is a UsageError (exit 2).
   */
  async loadConfig(flags?: LoadOptions['flags']): Promise<LoadedConfig> {
    const { loadConfig } = await import('./config.js');
    if (flags) return loadConfig({ configFlag: this.configFlag, flags });
    this.loaded ??= loadConfig({ configFlag: this.configFlag });
    return this.loaded;
  }

  /** The configuration (see loadConfig). */
  async config(): Promise<GitroastConfig> {
    return (await this.loadConfig()).config;
  }

  /** How old a daemon's heartbeat may be for it to count as alive: the config's staleSeconds, in ms. */
  async aliveMs(): Promise<number> {
    return (await this.config()).staleSeconds * 1000;
  }

  /**
   * The database path from --db, GITROAST_DB or the XDG default. An empty --db, or a --db /
   * GITROAST_DB naming a folder, is a UsageError: silently using another database would be worse.
   */
  get dbPath(): string {
    const flag = this.program.opts<{ db?: string }>().db;
    if (flag !== undefined && flag.trim() === '') throw new UsageError(`invalid --db ${JSON.stringify(flag)}: name the database file, or leave --db out to use GITROAST_DB or the default`);
    const target = resolveDbTarget(flag);
    if (target.kind === 'postgres') {
      throw new UsageError(`${flag !== undefined ? '--db' : 'GITROAST_DB'} ${target.target.display} names a PostgreSQL database, which this command does not run on yet; \`gitroast db copy\` and \`gitroast db migrate\` do`);
    }
    const file = resolveDbPath(flag);
    const given = flag ?? process.env.GITROAST_DB;
    if (given && (given.endsWith(path.sep) || fs.statSync(file, { throwIfNoEntry: false })?.isDirectory())) {
      throw new UsageError(`invalid ${flag !== undefined ? '--db' : 'GITROAST_DB'} ${JSON.stringify(given)}: it names a folder; name the database file inside it (e.g. ${path.join(file, 'gitroast.db')})`);
    }
    return file;
  }

  /**
   * The database from --db, GITROAST_DB or the default: a SQLite file (checked as dbPath) or a
   * PostgreSQL target (a malformed URL is a ValidationError, exit 2).
   */
  get dbTarget(): DbTarget {
    const flag = this.program.opts<{ db?: string }>().db;
    if (flag !== undefined && flag.trim() === '') return { kind: 'sqlite', file: this.dbPath };
    const target = resolveDbTarget(flag);
    return target.kind === 'postgres' ? target : { kind: 'sqlite', file: this.dbPath };
  }

  /** The database as commands name it: the SQLite file, or the PostgreSQL URL (no password) and schema. */
  get dbLabel(): string {
    return describeDbTarget(this.dbTarget);
  }

  /** Open (once) the application database for writing; migrations are applied. SQLite only (dbPath refuses a postgres URL). */
  db(): Db {
    this.opened ??= openAppDb(this.dbPath);
    return this.opened;
  }

  /**
   * Open (once) the PostgreSQL database of --db / GITROAST_DB, migrating the app's rooms as
   * `db()` does on SQLite. The pg driver loads here only. Unreachable, refused, foreign or
   * newer schema: a DatabaseError (exit 3), nothing written.
   */
  pgDb(): Promise<PgDb> {
    const t = this.dbTarget;
    if (t.kind !== 'postgres') throw new Error('pgDb() needs a postgres:// --db');
    this.pgOpened ??= (async () => {
      const [{ openPg }, { pgQueueRoom }, { pgAnalysisRoom }] = await Promise.all([import('../queue/pg/connect.js'), import('../queue/pg/migrations.js'), import('../analysis/pg-migrations.js')]);
      return openPg(t.target, { rooms: [pgQueueRoom, pgAnalysisRoom], max: 2 });
    })();
    return this.pgOpened;
  }

  /** Open (once) the queue store of the database: createSqliteStore over db(), or createPgStore over pgDb(). */
  store(): Promise<CliStore> {
    this.storeOpened ??= (async (): Promise<CliStore> => {
      if (this.dbTarget.kind === 'sqlite') {
        const { createSqliteStore } = await import('../queue/store.js');
        return createSqliteStore(this.db());
      }
      return this.pgStore();
    })();
    return this.storeOpened;
  }

  /** Open (once) the PostgreSQL queue store over pgDb(), whose handler writes are PgLeasedWrites (a worker runs on it). */
  pgStore(): Promise<Store<PgLeasedWrite>> {
    this.pgStoreOpened ??= (async () => {
      const db = await this.pgDb();
      const { createPgStore } = await import('../queue/pg/store.js');
      return createPgStore(db);
    })();
    return this.pgStoreOpened;
  }

  /** The analysis room's operations on the database's engine (src/analysis/store.ts AnalysisStore). */
  async analyses(): Promise<AnalysisStore> {
    const a = await import('../analysis/store.js');
    return this.dbTarget.kind === 'sqlite' ? a.analysesOn(this.db()) : a.pgAnalyses(await this.pgDb());
  }

  /** The engine's name, for messages: `sqlite` or `postgres`. */
  get engine(): 'sqlite' | 'postgres' {
    return this.dbTarget.kind;
  }

  async close(): Promise<void> {
    this.opened?.close();
    this.opened = undefined;
    const pg = this.pgOpened;
    this.pgOpened = undefined;
    this.storeOpened = undefined;
    this.pgStoreOpened = undefined;
    if (pg) {
      const db = await pg.catch(() => undefined);
      if (db) await (await import('../queue/pg/connect.js')).closePg(db);
    }
  }
}

/** Map an error to its exit code and one line for stderr. */
export function classify(err: unknown): { code: number; message: string } {
  const e = err as NodeJS.ErrnoException & { code?: string };
  if (err instanceof UsageError || err instanceof ValidationError) return { code: EXIT.usage, message: err.message };
  if (err instanceof WorkFailed) return { code: EXIT.failed, message: err.message };
  if (err instanceof DatabaseError) return { code: EXIT.environment, message: err.message };
  if (typeof e?.code === 'string' && (e.code.startsWith('SQLITE_CORRUPT') || e.code === 'SQLITE_NOTADB')) {
    return { code: EXIT.environment, message: `the database is corrupt (${e.message}): stop the daemons and restore a backup; \`gitroast doctor\` says more` };
  }
  if (e?.code === 'SQLITE_FULL') return { code: EXIT.environment, message: 'the disk holding the database is full: nothing was written; free some space and try again' };
  if (typeof e?.code === 'string' && (e.code.startsWith('SQLITE_') || ['EACCES', 'EPERM', 'EROFS', 'ENOSPC'].includes(e.code))) {
    return { code: EXIT.environment, message: `database error (${e.code}): ${e.message}` };
  }
  return { code: EXIT.failed, message: err instanceof Error ? err.message : String(err) };
}

/** Parse a whole number option, or throw a UsageError naming it. */
export function intOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new UsageError(`invalid ${name} ${JSON.stringify(value)}: expected a whole number from ${min} to ${max}`);
    }
    return Number(value);
  };
}
