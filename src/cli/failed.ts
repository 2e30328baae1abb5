import type { Command } from 'commander';
import { FAILED_LIST_LIMIT } from '../queue/defaults.js';
import { safeText } from '../util/terminal.js';
import { intOption, UsageError, WorkFailed, type Context } from './context.js';
import { duration, info, plural, print, printJson, table } from './output.js';
import type { Runner } from './program.js';

interface FilterFlags {
  queue?: string;
  name?: string;
  tag?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function checkFilter(f: FilterFlags): Promise<void> {
  const { assertQueueName, assertJobName } = await import('../queue/index.js');
  if (f.queue !== undefined) assertQueueName(f.queue);
  if (f.name !== undefined) assertJobName(f.name);
  if (f.tag !== undefined && (f.tag.length === 0 || f.tag.length > 200)) throw new UsageError(`invalid tag ${JSON.stringify(f.tag)}: expected 1-200 characters`);
}

/** Turn `<uuid…|all>` plus filter flags into a FailedFilter, or throw a UsageError. */
function target(ids: readonly string[], f: FilterFlags): { uuids?: string[]; all?: boolean; queue?: string; name?: string; tag?: string } {
  const all = ids.length === 1 && ids[0] === 'all';
  if (!all) {
    if (ids.length === 0 && !f.queue && !f.name && !f.tag) throw new UsageError('name the failed jobs: one or more uuids, `all`, or --queue / --name / --tag');
    for (const id of ids) if (!UUID.test(id)) throw new UsageError(`invalid failed job uuid ${JSON.stringify(id)}: expected a uuid from \`gitroast failed list\` or \`all\``);
  }
  return { ...(all ? { all: true } : ids.length ? { uuids: [...ids] } : {}), queue: f.queue, name: f.name, tag: f.tag };
}

/** Add the --queue / --name / --tag filters to a command. */
function withFilters(cmd: Command): Command {
  return cmd.option('--queue <queue>', 'only this queue').option('--name <name>', 'only this job name').option('--tag <tag>', 'only jobs with this tag');
}

export function registerFailed(program: Command, ctx: Context, run: Runner): void {
  const failed = program.command('failed').description('list, show, retry and forget failed jobs');
  withFilters(failed
    .command('list')
    .description('list failed jobs, newest first'))
    .option('--limit <n>', `at most this many (default ${FAILED_LIST_LIMIT})`, intOption('--limit', 1, 100_000))
    .option('--json', 'print JSON')
    .action(run(async (opts: FilterFlags & { json?: boolean; limit?: number }) => {
      await checkFilter(opts);
      const store = await ctx.store();
      const rows = await store.listFailed({ queue: opts.queue, name: opts.name, tag: opts.tag, limit: opts.limit ?? FAILED_LIST_LIMIT });
      if (opts.json) return printJson(rows.map(({ stack: _stack, payload: _payload, ...r }) => r));
      if (rows.length === 0) return info('no failed jobs');
      const now = store.now();
      print(table(['UUID', 'QUEUE', 'NAME', 'ATTEMPTS', 'FAILED', 'ERROR'], rows.map((r) => [r.uuid, r.queue, r.name, r.attempts, `${duration(now - r.failedAt)} ago`, r.error])));
    }));
  failed
    .command('show <uuid>')
    .description('show one failed job with its payload, error and stack')
    .option('--json', 'print JSON')
    .action(run(async (uuid: string, opts: { json?: boolean }) => {
      if (!UUID.test(uuid)) throw new UsageError(`invalid failed job uuid ${JSON.stringify(uuid)}: expected a uuid from \`gitroast failed list\``);
      const row = await (await ctx.store()).getFailed(uuid);
      if (!row) throw new WorkFailed(`no failed job ${uuid}`);
      if (opts.json) return printJson(row);
      print(safeText([
        `uuid      ${row.uuid}`, `job       ${row.jobId ?? '-'}`, `queue     ${row.queue}`, `name      ${row.name}`,
        `tags      ${row.tags.join(', ') || '-'}`, `batch     ${row.batchId ?? '-'}`, `attempts  ${row.attempts}`,
        `failed at ${new Date(row.failedAt).toISOString()}`, `error     ${row.error}`, '', 'payload', JSON.stringify(row.payload, null, 2),
        ...(row.stack ? ['', 'stack', row.stack] : []),
      ].join('\n')));
    }));
  withFilters(failed
    .command('retry [uuids...]')
    .description('retry failed jobs (uuids, `all`, or by --queue / --name / --tag): fresh copies with attempts reset'))
    .option('--json', 'print JSON')
    .action(run(async (ids: string[], opts: FilterFlags & { json?: boolean }) => {
      await checkFilter(opts);
      const filter = target(ids, opts);
      const retried = await (await ctx.store()).retryFailed(filter);
      if (opts.json) printJson(retried);
      else info(`${plural(retried.length, 'failed job')} retried`);
      const missing = filter.uuids?.filter((u) => !retried.some((r) => r.uuid === u)) ?? [];
      if (missing.length) throw new WorkFailed(`no failed job ${missing.join(', ')}`);
    }));
  withFilters(failed
    .command('forget [uuids...]')
    .description('delete failed jobs (uuids, `all`, or by --queue / --name / --tag)'))
    .option('--json', 'print JSON')
    .action(run(async (ids: string[], opts: FilterFlags & { json?: boolean }) => {
      await checkFilter(opts);
      const filter = target(ids, opts);
      const n = await (await ctx.store()).forgetFailed(filter);
      if (opts.json) printJson({ forgotten: n });
      else info(`${plural(n, 'failed job')} forgotten`);
      if (filter.uuids && n < filter.uuids.length) throw new WorkFailed(`${filter.uuids.length - n} of the named failed jobs did not exist`);
    }));
  failed
    .command('flush')
    .description('delete failed jobs older than --hours (default 168)')
    .option('--hours <n>', 'age in hours (0 = all)', intOption('--hours', 0, 1_000_000))
    .option('--json', 'print JSON')
    .action(run(async (opts: { hours?: number; json?: boolean }) => {
      const n = await (await ctx.store()).flushFailed(opts.hours ?? 168);
      if (opts.json) printJson({ flushed: n });
      else info(`${plural(n, 'failed job')} flushed`);
    }));
}
