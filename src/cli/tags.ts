import type { Command } from 'commander';
import type { Context } from './context.js';
import { info, print, printJson, table } from './output.js';
import type { Runner } from './program.js';

/** `gitroast tags monitor|unmonitor|list`: Horizon's monitored tags, kept in the database. */
export function registerTags(program: Command, ctx: Context, run: Runner): void {
  const tags = program.command('tags').description('monitor tags: jobs carrying a monitored tag are kept past trimming (trim.monitoredMinutes, default 7 days)');
  tags
    .command('monitor <tag>')
    .description('monitor a tag: its jobs are kept for trim.monitoredMinutes and listed on the monitor\'s Tags screen')
    .action(run(async (tag: string) => {
      const { assertTag } = await import('../queue/tags.js');
      assertTag(tag);
      const added = await (await ctx.store()).monitorTag(tag);
      info(added ? `tag ${tag} monitored` : `tag ${tag} was already monitored`);
    }));
  tags
    .command('unmonitor <tag>')
    .description('stop monitoring a tag (jobs already kept age out with trim.monitoredMinutes)')
    .action(run(async (tag: string) => {
      const { assertTag } = await import('../queue/tags.js');
      assertTag(tag);
      const removed = await (await ctx.store()).unmonitorTag(tag);
      info(removed ? `tag ${tag} no longer monitored` : `tag ${tag} was not monitored`);
    }));
  tags
    .command('list')
    .description('list the monitored tags with their jobs by state')
    .option('--json', 'print JSON')
    .action(run(async (opts: { json?: boolean }) => {
      const { safeLine } = await import('../util/terminal.js');
      const rows = await (await ctx.store()).tagSummaries(0);
      if (opts.json) return printJson(rows.map((t) => ({ tag: t.tag, monitoredSince: new Date(t.since).toISOString(), counts: t.counts })));
      if (rows.length === 0) return info('no monitored tags (run `gitroast tags monitor TAG`)');
      print(table(['TAG', 'PENDING', 'DELAYED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'SINCE'],
        rows.map((t) => [safeLine(t.tag), t.counts.pending, t.counts.delayed, t.counts.reserved, t.counts.completed, t.counts.failed, t.counts.cancelled, new Date(t.since).toISOString()])));
    }));
}
