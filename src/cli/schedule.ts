import type { Command } from 'commander';
import type { Context } from './context.js';
import { duration, print, printJson, table } from './output.js';
import type { Runner } from './program.js';

export function registerSchedule(program: Command, ctx: Context, run: Runner): void {
  const schedule = program.command('schedule').description('the daemon\'s built-in scheduler (housekeeping without cron)');
  schedule
    .command('list')
    .description('list each scheduled task with its cron expression, last run and next run')
    .option('--json', 'print JSON')
    .action(run(async (opts: { json?: boolean }) => {
      const { buildRegistry } = await import('./handlers.js');
      const { describeSchedules } = await import('../daemon/index.js');
      // Schedules may be re-timed or turned off in the config (--config, the program's global option).
      const config = await ctx.config();
      const registry = await buildRegistry(config);
      const store = await ctx.store();
      const rows = await describeSchedules(store, registry.listSchedules());
      if (opts.json) return printJson(rows);
      const now = store.now();
      print(table(['NAME', 'CRON', 'LAST RUN', 'RESULT', 'NEXT RUN', 'WHAT'], rows.map((r) => [
        r.name, r.cron,
        r.lastRun ? `${duration(now - r.lastRun.at)} ago` : 'never',
        r.lastRun ? (r.lastRun.ok ? r.lastRun.result ?? 'ok' : `failed: ${r.lastRun.error ?? ''}`) : '-',
        r.nextRunAt ? `in ${duration(Math.max(0, r.nextRunAt - now))}` : '-',
        r.description,
      ])));
    }));
}
