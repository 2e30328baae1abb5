import os from 'node:os';
import path from 'node:path';
import { analysisRoom } from '../analysis/migrations.js';
import { openDatabase, queueRoom, type Db, type Durability, type MigrationRoom } from '../queue/index.js';
import { isPostgresUrl, parsePgUrl, type PgTarget } from '../queue/pg/url.js';

/**
 * The rooms whose migrations make the application's database: the queue's, then the
 * analysis room's. Each room numbers its own migrations (docs/migrations.md).
 */
export const APP_ROOMS: readonly MigrationRoom[] = [queueRoom, analysisRoom];

/**
 * Where the database lives: `--db`, else `GITROAST_DB`, else
 * `$XDG_DATA_HOME/gitroast/gitroast.db`, else `~/.local/share/gitroast/gitroast.db`.
 */
export function resolveDbPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return path.resolve(flag);
  if (env.GITROAST_DB) return path.resolve(env.GITROAST_DB);
  const xdg = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(os.homedir(), '.local', 'share');
  return path.join(xdg, 'gitroast', 'gitroast.db');
}

/** Open the application database (creating and migrating it). */
export function openAppDb(file: string, options: { readonly?: boolean; durability?: Durability } = {}): Db {
  return openDatabase(file, { rooms: APP_ROOMS, ...options });
}

/** The database a command works on: a SQLite file, or a PostgreSQL schema named by a postgres:// URL. */
export type DbTarget = { kind: 'sqlite'; file: string } | { kind: 'postgres'; target: PgTarget };

/**
 * Resolve `--db` / `GITROAST_DB` / the default (as resolveDbPath) to a SQLite file or, for a
 * postgres:// or postgresql:// URL, a PostgreSQL target (parsed without loading the driver;
 * a malformed URL throws a ValidationError naming `where`).
 */
export function resolveDbTarget(flag?: string, env: NodeJS.ProcessEnv = process.env): DbTarget {
  const given = flag ?? env.GITROAST_DB;
  if (given !== undefined && isPostgresUrl(given)) return { kind: 'postgres', target: parsePgUrl(given, flag !== undefined ? '--db' : 'GITROAST_DB') };
  return { kind: 'sqlite', file: resolveDbPath(flag, env) };
}

/** A database target as messages name it: the SQLite file, or the URL (no password) and schema. */
export function describeDbTarget(t: DbTarget): string {
  return t.kind === 'sqlite' ? t.file : `${t.target.display} (schema ${t.target.schema})`;
}
