import os from 'node:os';
import path from 'node:path';
import { analysisMigrations } from '../analysis/migrations.js';
import { openDatabase, queueMigrations, type Db, type Durability } from '../queue/index.js';

/**
 * The application's migrations, in the order they were shipped; the database's
 * `user_version` counts how many have run. Append only: a room's new migration is added to
 * its own list AND at the end here, never between shipped entries (spreading the rooms'
 * lists would shift the analysis migrations whenever the queue gained one).
 * test/cli/migrations.test.ts checks that every room's migration appears exactly once.
 */
export const APP_MIGRATIONS: readonly string[] = [
  queueMigrations[0]!, // 1: jobs, failed_jobs, batches, queues, workers, metrics_snapshots, settings
  analysisMigrations[0]!, // 2: analyses
  analysisMigrations[1]!, // 3: http_cache
  analysisMigrations[2]!, // 4: analyses.batch_id
  queueMigrations[1]!, // 5: jobs_delayed_queue index
  queueMigrations[2]!, // 6: workers.supervisors, throttles
];

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
