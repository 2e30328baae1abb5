import type { Command } from 'commander';
import { UsageError, type Context } from './context.js';
import { info, printJson } from './output.js';
import type { Runner } from './program.js';

export function registerBackup(program: Command, ctx: Context, run: Runner): void {
  program
    .command('backup <file>')
    .description('copy the database to <file> while daemons keep running (SQLite\'s online backup), written 0600 and verified by opening the copy')
    .option('--force', 'replace <file> if it exists')
    .option('--json', 'print JSON')
    .action(run(async (file: string, opts: { force?: boolean; json?: boolean }) => {
      if (file.trim() === '') throw new UsageError('invalid backup file "": name the file to write, e.g. `gitroast backup gitroast-backup.db`');
      const target = ctx.dbTarget;
      if (target.kind === 'postgres') {
        throw new UsageError(`gitroast backup copies a SQLite file; ${ctx.dbLabel} is PostgreSQL: back it up with pg_dump (\`pg_dump --schema=${target.target.schema} -Fc -f FILE "URL"\`); nothing was written`);
      }
      const { backupDatabase } = await import('../queue/backup.js');
      const result = await backupDatabase(ctx.dbPath, file, { force: opts.force ?? false });
      if (opts.json) return printJson(result);
      info(`backed up ${result.source} to ${result.destination}: ${result.bytes} bytes, schema version ${result.schemaVersion}, integrity ok`);
    }));
}
