import type { Command } from 'commander';
import type { Context } from './context.js';
import { duration, print, printJson, table } from './output.js';
import type { Runner } from './program.js';
import { safeLine } from '../util/terminal.js';

export function registerStatus(program: Command, ctx: Context, run: Runner): void {
  program
    .command('status')
    .description('show the database, per-queue counts and waits, and the daemons alive')
    .option('--json', 'print JSON')
    .action(run(async (opts: { json?: boolean }) => {
      const aliveMs = await ctx.aliveMs();
      const { COMPLETED_WINDOW_MS } = await import('../queue/defaults.js');
      const budget = await import('../analysis/budget.js');
      const store = await ctx.store();
      const schemaVersion = await store.probe();
      const now = store.now();
      const queues = await store.queueStats({ since: now - COMPLETED_WINDOW_MS });
      const daemons = await store.liveWorkers(aliveMs);
      const report = {
        database: { path: ctx.dbLabel, schemaVersion },
        completedWindowMs: COMPLETED_WINDOW_MS,
        queues,
        daemons: daemons.map((w) => ({ id: w.id, pid: w.pid, hostname: w.hostname, version: w.version, queues: w.queues, concurrency: w.concurrency, busy: w.busy, status: w.status, startedAt: w.startedAt, heartbeatAt: w.heartbeatAt, supervisors: w.supervisors })),
        // As the daemons last counted them (their rules are in the daemons' config).
        throttles: await store.throttles(),
        // Jobs left pending until a time (a spent GitHub rate limit holds fetch-github).
        holds: await store.holds(),
        // GitHub's rate-limit budget per token fingerprint, as the last answers told it.
        github: budget.budgetsFrom(await (await ctx.analyses()).budgetRows(), now),
      };
      if (opts.json) return printJson(report);
      print(`database  ${report.database.path} (schema ${report.database.schemaVersion})`);
      print(`daemons   ${daemons.length === 0 ? 'none alive (run `gitroast daemon`)' : daemons.map((w) => `${w.id} pid ${w.pid}@${w.hostname} ${w.busy}/${w.concurrency} busy ${w.status}`).join('; ')}`);
      print('');
      print(table(['QUEUE', 'PENDING', 'DELAYED', 'RESERVED', 'COMPLETED 1H', 'FAILED', 'OLDEST WAIT', 'PAUSED'],
        queues.map((s) => [s.queue, s.pending, s.delayed, s.reserved, s.completed, s.failed, s.pending ? duration(s.oldestWaitMs) : '-', s.paused ? 'yes' : 'no'])));
      for (const t of report.throttles.filter((x) => x.throttled && x.waiting > 0)) {
        print(`throttled ${t.kind} ${t.name}: ${t.used}/${t.max} started in this ${t.perSeconds}s window; ${t.waiting} pending wait ${duration(Math.max(0, t.windowEndsAt - now))} (no attempt spent)`);
      }
      for (const h of report.holds) {
        print(`held      ${h.name}: ${h.waiting} pending wait ${duration(Math.max(0, h.until - now))} (until ${new Date(h.until).toISOString()}): ${safeLine(h.reason)}`);
      }
      for (const b of report.github) print(`github    ${budget.describeBudget(b, now)}`);
    }));
}
