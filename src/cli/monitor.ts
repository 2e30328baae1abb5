import type { Command } from 'commander';
import { colorEnabled } from '../util/terminal.js';
import { intOption, UsageError, type Context } from './context.js';
import type { Runner } from './program.js';
import type { DataSource } from '../tui/types.js';

interface MonitorFlags {
  refresh?: number;
  once?: boolean;
  readonly?: boolean;
  queues?: string;
}

export function registerMonitor(program: Command, ctx: Context, run: Runner): void {
  program
    .command('monitor')
    .description('watch queues, jobs, failures, metrics, daemons and batches in the terminal (Horizon\'s dashboard); `?` lists the keys')
    .option('--refresh <ms>', 'refresh interval in milliseconds (default 1000)', intOption('--refresh', 100, 3_600_000))
    .option('--once', 'print one plain-text frame of the overview and exit')
    .option('--readonly', 'disable every action (retry, forget, pause, stop)')
    .option('--queues <list>', 'queues always listed, comma-separated (default high,default,low)')
    .action(run(async (opts: MonitorFlags) => {
      const { assertQueueName, DEFAULT_QUEUES } = await import('../queue/index.js');
      let configured: readonly string[] = DEFAULT_QUEUES;
      if (opts.queues !== undefined) {
        configured = opts.queues.split(',').map((q) => q.trim()).filter(Boolean);
        if (configured.length === 0) throw new UsageError('invalid --queues "": expected comma-separated queue names such as high,default,low');
        for (const q of configured) assertQueueName(q);
      }
      const aliveMs = await ctx.aliveMs();
      const silenced = (await ctx.config()).silenced;
      const m = await import('./monitor-source.js');
      const options = { configured, aliveMs, readonly: opts.readonly ?? false, silenced };
      const { source, run: replay, clock } = ctx.engine === 'postgres'
        ? m.pgMonitorSource(await ctx.store(), await ctx.analyses(), options)
        : m.sqliteMonitorSource(ctx.dbPath, options);
      try {
        // React's development build costs about twice the CPU per refresh (measured: 25 % against
        // 13 % of a core at --refresh 300); the monitor is not a place to debug React.
        process.env.NODE_ENV ??= 'production';
        const React = await import('react');
        const App = await import('../tui/App.js');
        if (opts.once) {
          const columns = process.stdout.columns || Number(process.env.COLUMNS) || 100;
          const at = clock.now();
          const frame = (s: DataSource) => App.renderOnce(s, { now: () => at }, columns);
          process.stdout.write(replay ? await replay(frame) : frame(source));
          return;
        }
        const { render } = await import('ink');
        const tty = Boolean(process.stdout.isTTY);
        const interactive = Boolean(process.stdin.isTTY);
        // The alternate screen, as full-screen terminal tools do: the shell's scrollback is left as it was.
        if (tty) process.stdout.write('\u001b[?1049h\u001b[H');
        const instance = render(
          React.createElement(App.Monitor, {
            source, clock, run: replay, refreshMs: opts.refresh ?? 1000, readonly: opts.readonly ?? false,
            theme: colorEnabled(process.stdout) ? 'color' : 'mono', interactive,
          }),
          { exitOnCtrlC: false, patchConsole: false },
        );
        const stop = () => instance.unmount();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
        process.once('SIGHUP', stop);
        try {
          await instance.waitUntilExit();
        } finally {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          process.off('SIGHUP', stop);
          if (tty) process.stdout.write('\u001b[?1049l');
        }
      } finally {
        source.close?.();
      }
    }));
}
