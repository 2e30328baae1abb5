import os from 'node:os';
import path from 'node:path';
import { analysisMigrations } from '../analysis/migrations.js';
import { openDatabase, queueMigrations, type Db, type Durability } from '../queue/index.js';

/**
 * The application's migrations, in the order they were shipped. Append only: a new
 * migration of any room goes at the end, never between shipped ones.
 */
export const APP_MIGRATIONS: readonly string[] = [...queueMigrations, ...analysisMigrations];

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
  return openDatabase(file, { migrations: APP_MIGRATIONS, ...options });
}
