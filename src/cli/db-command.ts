import path from 'node:path';
import type { Command } from 'commander';
import { UsageError, type Context } from './context.js';
import type { Runner } from './program.js';
import { describeDbTarget, type DbTarget } from './db.js';

/**
 * `gitroast db`: the database itself, on either engine.
 * - `db copy --to <target>`: copy the current database (--db / GITROAST_DB) into an empty
 *   one: SQLite file → PostgreSQL schema, or PostgreSQL → a new SQLite file.
 * - `db migrate`: create or bring the database's schema up to date and say where it stands
 *   (the way to prepare a PostgreSQL schema before starting daemons on several hosts).
 * Actions load their modules lazily; the pg driver loads only for a postgres:// URL.
 */
export function registerDb(program: Command, ctx: Context, run: Runner): void {
  const db = program.command('db').description('the database itself: copy it between SQLite and PostgreSQL, migrate it');

  db.command('copy')
    .description('copy the current database (--db) into an empty target: a new SQLite file or an empty PostgreSQL schema (postgres://…?schema=NAME)')
    .requiredOption('--to <target>', 'target: a SQLite file path that does not exist yet, or postgres://user@host:5432/db[?schema=NAME]')
    .action(run(async (opts: { to: string }) => {
      const from = ctx.dbTarget;
      const to = await resolveTo(opts.to);
      const { copyDatabase } = await import('../queue/copy.js');
      const fmt = (n: number) => n.toLocaleString('en-US');
      const result = await copyDatabase(
        from.kind === 'sqlite' ? { kind: 'sqlite', file: from.file, rooms: await roomsFor(from) } : { kind: 'postgres', target: from.target, rooms: await roomsFor(from) },
        to.kind === 'sqlite' ? { kind: 'sqlite', file: to.file, rooms: await roomsFor(to) } : { kind: 'postgres', target: to.target, rooms: await roomsFor(to) },
        { progress: ({ table, done, total }) => process.stderr.write(`copy: ${table} ${fmt(done)} of ${fmt(total)} rows\n`) },
      );
      const rows = result.tables.reduce((a, t) => a + t.rows, 0);
      for (const t of result.tables) process.stdout.write(`${t.name.padEnd(18)} ${fmt(t.rows)}\n`);
      process.stdout.write(`copied ${fmt(rows)} rows from ${describeDbTarget(from)} to ${describeDbTarget(to)} in ${(result.ms / 1000).toFixed(1)} s; counts verified\n`);
    }));

  db.command('migrate')
    .description('create or migrate the database (--db) and print its schema state; refuses (exit 3) a schema a newer gitroast migrated')
    .action(run(async () => {
      const target = ctx.dbTarget;
      if (target.kind === 'sqlite') {
        const { schemaVersion } = await import('../queue/index.js');
        const n = schemaVersion(ctx.db());
        process.stdout.write(`${target.file}: schema current (${n} migrations)\n`);
        return;
      }
      const { openPg, closePg, pgMigrationCount } = await import('../queue/pg/connect.js');
      const pgdb = await openPg(target.target, { rooms: await roomsFor(target), max: 1 });
      try {
        process.stdout.write(`${target.target.display} (schema ${target.target.schema}): schema current (${await pgMigrationCount(pgdb)} migrations)\n`);
      } finally {
        await closePg(pgdb);
      }
    }));
}

/** The migration rooms of the app on the target's engine (the PostgreSQL lists load only for it). */
export async function roomsFor(t: DbTarget) {
  if (t.kind === 'sqlite') return (await import('./db.js')).APP_ROOMS;
  const [{ pgQueueRoom }, { pgAnalysisRoom }] = await Promise.all([import('../queue/pg/migrations.js'), import('../analysis/pg-migrations.js')]);
  return [pgQueueRoom, pgAnalysisRoom];
}

/** Parse --to: a postgres URL, or a file path. */
async function resolveTo(value: string): Promise<DbTarget> {
  if (value.trim() === '') throw new UsageError(`invalid --to ${JSON.stringify(value)}: name a new SQLite file or a postgres:// URL`);
  const { isPostgresUrl, parsePgUrl } = await import('../queue/pg/url.js');
  if (isPostgresUrl(value)) return { kind: 'postgres', target: parsePgUrl(value, '--to') };
  if (value.endsWith(path.sep)) throw new UsageError(`invalid --to ${JSON.stringify(value)}: it names a folder; name the new database file inside it`);
  return { kind: 'sqlite', file: path.resolve(value) };
}
