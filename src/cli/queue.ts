import type { Command } from 'commander';
import type { Context } from './context.js';
import { info, print, printJson, table } from './output.js';
import type { Runner } from './program.js';

export function registerQueue(program: Command, ctx: Context, run: Runner): void {
  const queue = program.command('queue').description('list, pause and continue queues');
  queue
    .command('list')
    .description('list queues with their counts and whether they are paused')
    .option('--json', 'print JSON')
    .action(run(async (opts: { json?: boolean }) => {
      const { queueStats } = await import('../queue/index.js');
      const stats = queueStats(ctx.db());
      if (opts.json) return printJson(stats);
      print(table(['QUEUE', 'PENDING', 'DELAYED', 'RESERVED', 'COMPLETED 1H', 'FAILED', 'PAUSED'],
        stats.map((s) => [s.queue, s.pending, s.delayed, s.reserved, s.completed, s.failed, s.paused ? 'yes' : 'no'])));
    }));
  queue
    .command('pause <name>')
    .description('stop daemons claiming from a queue (running jobs finish)')
    .action(run(async (name: string) => {
      const { pauseQueue, assertQueueName } = await import('../queue/index.js');
      assertQueueName(name);
      pauseQueue(ctx.db(), name);
      info(`queue ${name} paused`);
    }));
  queue
    .command('continue <name>')
    .description('let daemons claim from a paused queue again')
    .action(run(async (name: string) => {
      const { continueQueue, assertQueueName } = await import('../queue/index.js');
      assertQueueName(name);
      continueQueue(ctx.db(), name);
      info(`queue ${name} continued`);
    }));
}
