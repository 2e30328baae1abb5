import os from 'node:os';
import path from 'node:path';
import { analysisRoom } from '../analysis/migrations.js';
import { openDatabase, queueRoom, type Db, type Durability, type MigrationRoom } from '../queue/index.js';

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
