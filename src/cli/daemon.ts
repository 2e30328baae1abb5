import type { Command } from 'commander';
import { intOption, UsageError, type Context } from './context.js';
import { duration, info, print, printJson, table } from './output.js';
import type { Runner } from './program.js';

interface DaemonFlags {
  config?: string;
  concurrency?: number;
  queues?: string;
  balance?: string;
  grace?: number;
  stopWhenEmpty?: boolean;
  maxJobs?: number;
  maxTime?: number;
  memoryLimit?: number;
  logFormat?: string;
  logLevel?: string;
  http?: string;
  httpToken?: string;
  printSystemdUnit?: boolean;
}

/** The flags that map onto config keys (flags > env > file). */
function configFlags(o: DaemonFlags): Record<string, { value: unknown; flag: string }> {
  return {
    concurrency: { value: o.concurrency, flag: '--concurrency' },
    queues: { value: o.queues?.split(',').map((q) => q.trim()).filter(Boolean), flag: '--queues' },
    balance: { value: o.balance, flag: '--balance' },
    graceSeconds: { value: o.grace, flag: '--grace' },
    memoryLimitMb: { value: o.memoryLimit, flag: '--memory-limit' },
    'log.format': { value: o.logFormat, flag: '--log-format' },
    'log.level': { value: o.logLevel, flag: '--log-level' },
    'http.listen': { value: o.http, flag: '--http' },
    'http.token': { value: o.httpToken, flag: '--http-token' },
  };
}

export function registerDaemon(program: Command, ctx: Context, run: Runner): void {
  const daemon = program
    .command('daemon')
    .description('run the worker daemon: claims and runs jobs, runs the housekeeping schedules (status|pause|continue|stop control it)')
    .option('--config <path>', 'config file (env GITROAST_CONFIG; default $XDG_CONFIG_HOME/gitroast/config.json)')
    .option('--concurrency <n>', 'jobs running at once (default 10)', intOption('--concurrency', 1, 1000))
    .option('--queues <list>', 'queues in claim order, comma-separated (default high,default,low)')
    .option('--balance <mode>', 'strict (queue order) or auto (share slots by pending work × runtime); default strict')
    .option('--grace <seconds>', 'on SIGTERM/SIGINT, wait this long for running jobs (default the longest job timeout)', intOption('--grace', 0, 86_400))
    .option('--stop-when-empty', 'exit 0 once no job is ready and none runs')
    .option('--max-jobs <n>', 'exit 0 after this many jobs', intOption('--max-jobs', 1))
    .option('--max-time <seconds>', 'exit 0 after this long (finishing running jobs); systemd restarts it', intOption('--max-time', 1))
    .option('--memory-limit <mb>', 'exit 0 when RSS is above this (finishing running jobs); systemd restarts it', intOption('--memory-limit', 16))
    .option('--log-format <format>', 'json or pretty (default pretty on a terminal, else json)')
    .option('--log-level <level>', 'debug, info, warn, error or silent (default info)')
    .option('--http <host:port>', 'serve the web dashboard at / and GET /health and /metrics (loopback only unless --http-token is set)')
    .option('--http-token <token>', 'require this token: a bearer token for /health, /metrics and scripts, a sign-in for the dashboard (prefer env GITROAST_HTTP_TOKEN)')
    .option('--print-systemd-unit', 'print a systemd unit running this daemon with these flags, and exit')
    .action(run(async (opts: DaemonFlags) => {
      const { loadConfig, graceSecondsOf } = await import('./config.js');
      const { config, file } = loadConfig({ configFlag: opts.config, flags: configFlags(opts) });
      const d = await import('../daemon/index.js');
      const { httpListen, webDashboard } = await import('./web.js');
      const http = config.http.listen ? await httpListen(config.http.listen, config.http.token, '/health and /metrics') : undefined;
      const graceSeconds = graceSecondsOf(config);
      if (opts.printSystemdUnit) {
        const args: string[] = [];
        if (opts.concurrency !== undefined) args.push('--concurrency', String(opts.concurrency));
        if (opts.queues !== undefined) args.push('--queues', opts.queues);
        if (opts.balance !== undefined) args.push('--balance', opts.balance);
        if (opts.grace !== undefined) args.push('--grace', String(opts.grace));
        if (opts.maxJobs !== undefined) args.push('--max-jobs', String(opts.maxJobs));
        if (opts.maxTime !== undefined) args.push('--max-time', String(opts.maxTime));
        if (opts.memoryLimit !== undefined) args.push('--memory-limit', String(opts.memoryLimit));
        if (opts.logLevel !== undefined) args.push('--log-level', opts.logLevel);
        if (opts.http !== undefined) args.push('--http', opts.http);
        args.push('--log-format', opts.logFormat ?? 'json');
        const { realpathSync } = await import('node:fs');
        print(d.renderSystemdUnit({ node: process.execPath, bin: realpathSync(process.argv[1]!), db: ctx.dbPath, args, graceSeconds, configFile: file, user: process.env.USER }));
        return;
      }
      const { openAppDb } = await import('./db.js');
      const { buildRegistry } = await import('./handlers.js');
      const { VERSION } = await import('./version.js');
      const db = openAppDb(ctx.dbPath, { durability: config.durability });
      // The dashboard at `/`, next to /health and /metrics: the daemon's listener calls it, the daemon never imports it.
      const web = http ? await webDashboard({ dbPath: ctx.dbPath, open: ({ readonly }) => openAppDb(ctx.dbPath, { readonly }), token: http.token, configured: config.queues, aliveMs: config.staleSeconds * 1000, db }) : undefined;
      try {
        const registry = await buildRegistry(config, () => db);
        const logger = d.createLogger({ format: config.log.format ?? (process.stdout.isTTY ? 'pretty' : 'json'), level: config.log.level });
        const longWait = config.longWait;
        const handle = await d.runDaemon(db, registry, {
          dbPath: ctx.dbPath, logger, version: VERSION,
          queues: config.queues, concurrency: config.concurrency, balance: config.balance,
          leaseMs: config.leaseSeconds * 1000, heartbeatMs: config.heartbeatSeconds * 1000, staleMs: config.staleSeconds * 1000,
          pollMs: config.pollSeconds * 1000, defaultTimeoutMs: config.timeoutSeconds * 1000, graceMs: graceSeconds * 1000,
          timeoutFor: (name) => {
            const t = config.jobs[name]?.timeout;
            return t === undefined ? undefined : Math.round(t * 1000);
          },
          stopWhenEmpty: opts.stopWhenEmpty, maxJobs: opts.maxJobs, maxTimeMs: opts.maxTime === undefined ? undefined : opts.maxTime * 1000,
          memoryLimitMb: config.memoryLimitMb, http: http && web ? { ...http, handler: web.handle } : undefined, webhookUrl: config.webhookUrl,
          longWaitMs: (q) => Math.round((longWait.queues[q] ?? longWait.defaultSeconds) * 1000),
        });
        await handle.done;
      } finally {
        web?.close();
        db.close();
      }
      // A handler that ignored its abort signal (timed out, or given up at shutdown) may still
      // hold a timer or a socket; the daemon's work is done, so do not wait for it.
      setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
    }));

  daemon
    .command('status')
    .description('list the daemons registered on this database and the pause / stop flags')
    .option('--config <path>', 'config file (for staleSeconds)')
    .option('--json', 'print JSON')
    .action(run(async (opts: { config?: string; json?: boolean }) => {
      const { loadConfig } = await import('./config.js');
      const { config } = loadConfig({ configFlag: opts.config });
      const q = await import('../queue/index.js');
      const db = ctx.db();
      const now = Date.now();
      const control = q.daemonControl(db);
      const staleMs = config.staleSeconds * 1000;
      const daemons = q.listWorkers(db).map((w) => ({ ...w, alive: now - w.heartbeatAt <= staleMs }));
      if (opts.json) return printJson({ paused: control.paused, stopRequestedAt: control.stopRequestedAt, daemons });
      print(`daemons   ${control.paused ? 'paused (run `gitroast daemon continue`)' : 'running'}${control.stopRequestedAt ? `; last stop requested ${duration(now - control.stopRequestedAt)} ago` : ''}`);
      if (daemons.length === 0) return print('none registered (run `gitroast daemon`)');
      print(table(['ID', 'PID', 'HOST', 'VERSION', 'QUEUES', 'BUSY', 'STATUS', 'UP', 'HEARTBEAT'],
        daemons.map((w) => [w.id, w.pid, w.hostname, w.version, w.queues.join(','), `${w.busy}/${w.concurrency}`, w.alive ? w.status : 'stale', duration(now - w.startedAt), `${duration(now - w.heartbeatAt)} ago`])));
    }));
  daemon
    .command('pause')
    .description('stop every daemon on this database from claiming (running jobs finish)')
    .action(run(async () => {
      const { setDaemonsPaused } = await import('../queue/index.js');
      setDaemonsPaused(ctx.db(), true);
      info('daemons paused (they notice within a second)');
    }));
  daemon
    .command('continue')
    .description('let paused daemons claim again')
    .action(run(async () => {
      const { setDaemonsPaused } = await import('../queue/index.js');
      setDaemonsPaused(ctx.db(), false);
      info('daemons continued');
    }));
  daemon
    .command('stop')
    .description('ask every daemon running now to finish its jobs and exit 0 (systemd restarts them under Restart=always)')
    .action(run(async () => {
      const { requestDaemonStop } = await import('../queue/index.js');
      requestDaemonStop(ctx.db());
      info('stop requested: daemons running now will finish their jobs and exit');
    }));
}
