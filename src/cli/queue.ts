import type { Command } from 'commander';
import { UsageError, WorkFailed, type Context } from './context.js';
import { info, plural, print, printJson, table } from './output.js';
import type { Runner } from './program.js';

export function registerQueue(program: Command, ctx: Context, run: Runner): void {
  const queue = program.command('queue').description('list, pause and continue queues');
  queue
    .command('list')
    .description('list queues with their counts and whether they are paused')
    .option('--json', 'print JSON')
    .action(run(async (opts: { json?: boolean }) => {
      const stats = await (await ctx.store()).queueStats();
      if (opts.json) return printJson(stats);
      print(table(['QUEUE', 'PENDING', 'DELAYED', 'RESERVED', 'COMPLETED 1H', 'FAILED', 'PAUSED'],
        stats.map((s) => [s.queue, s.pending, s.delayed, s.reserved, s.completed, s.failed, s.paused ? 'yes' : 'no'])));
    }));
  queue
    .command('pause <name>')
    .description('stop daemons claiming from a queue (running jobs finish)')
    .action(run(async (name: string) => {
      const { assertQueueName } = await import('../queue/validate.js');
      assertQueueName(name);
      await (await ctx.store()).pauseQueue(name);
      info(`queue ${name} paused`);
    }));
  queue
    .command('continue <name>')
    .description('let daemons claim from a paused queue again')
    .action(run(async (name: string) => {
      const { assertQueueName } = await import('../queue/validate.js');
      assertQueueName(name);
      await (await ctx.store()).continueQueue(name);
      info(`queue ${name} continued`);
    }));
  queue
    .command('clear <name>')
    .description("cancel every pending and delayed job of a queue (Horizon's horizon:clear); asks first on a terminal")
    .option('--yes', 'do not ask for confirmation')
    .option('--json', 'print JSON')
    .action(run(async (name: string, opts: { yes?: boolean; json?: boolean }) => {
      const { assertQueueName } = await import('../queue/validate.js');
      assertQueueName(name);
      const store = await ctx.store();
      const n = await store.countClearable(name);
      if (n > 0 && !opts.yes && !(await confirm(`Cancel ${plural(n, 'pending or delayed job')} of queue ${name}? [y/N] `))) {
        throw new WorkFailed('nothing was cancelled');
      }
      const out = await store.clearQueue(name);
      if (opts.json) return printJson({ queue: name, cancelled: out.ids.length, catches: out.catches });
      info(`queue ${name}: ${plural(out.ids.length, 'job')} cancelled${out.catches ? ` (${plural(out.catches, 'chain catch job')} queued)` : ''}`);
    }));
}

/**
 * Ask a yes/no question on the terminal; true only for `y` or `yes`. Without a terminal on
 * stdin there is nobody to ask: the command goes ahead (scripts pass --yes to say so).
 */
async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return true;
  const readline = await import('node:readline/promises');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** Parse job ids given on the command line, or throw a UsageError naming the bad one. */
function parseJobIds(ids: readonly string[]): number[] {
  return ids.map((id) => {
    if (!/^[1-9]\d{0,15}$/.test(id)) throw new UsageError(`invalid job id ${JSON.stringify(id)}: expected a whole number from \`gitroast monitor\` or --json output`);
    return Number(id);
  });
}

/** The `jobs` group: cancel jobs that have not started. */
export function registerJobs(program: Command, ctx: Context, run: Runner): void {
  const jobs = program.command('jobs').description('act on single jobs by id');
  jobs
    .command('cancel <ids...>')
    .description('cancel pending or delayed jobs: the rest of their chain is cancelled and its catch runs with the reason "cancelled"; asks first on a terminal')
    .option('--yes', 'do not ask for confirmation')
    .option('--json', 'print JSON')
    .action(run(async (ids: string[], opts: { yes?: boolean; json?: boolean }) => {
      const wanted = parseJobIds(ids);
      const store = await ctx.store();
      if (!opts.yes && !(await confirm(`Cancel ${plural(wanted.length, 'job')} (${wanted.join(', ')})? [y/N] `))) throw new WorkFailed('nothing was cancelled');
      const out = await store.cancelJobs(wanted);
      const skipped = wanted.filter((id) => !out.ids.includes(id));
      if (opts.json) printJson({ cancelled: out.ids, notCancelled: skipped, catches: out.catches });
      else info(`${plural(out.ids.length, 'job')} cancelled${out.catches ? ` (${plural(out.catches, 'chain catch job')} queued)` : ''}`);
      if (skipped.length) throw new WorkFailed(`not pending or delayed (running, finished or unknown): ${skipped.join(', ')}`);
    }));
}
