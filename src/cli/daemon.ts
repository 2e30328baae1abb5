import type { Command } from 'commander';
import type { DaemonOptions } from '../daemon/index.js';
import type { SupervisorState } from '../queue/index.js';
import type { PgDb } from '../queue/pg/connect.js';
import { intOption, UsageError, type Context } from './context.js';
import { duration, info, keepRunningWhenOutputCloses, print, printJson, table } from './output.js';
import type { Runner } from './program.js';

interface DaemonFlags {
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
  supervisor?: string;
  hostname?: string;
}

/**
 * The host name a daemon registers under: --hostname, else GITROAST_HOSTNAME, else undefined
 * (the OS host name). Daemons on several hosts sharing one PostgreSQL database are told
 * apart by it (status, doctor, the monitor). A UsageError names a bad one.
 */
function hostnameOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = flag ?? env.GITROAST_HOSTNAME;
  if (value === undefined || (flag === undefined && value === '')) return undefined;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(value)) {
    throw new UsageError(`invalid ${flag !== undefined ? '--hostname' : 'GITROAST_HOSTNAME'} ${JSON.stringify(value)}: expected 1 to 253 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  return value;
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
    .option('--supervisor <name>', 'run only this supervisor of the config\'s `supervisors`')
    .option('--hostname <name>', 'the host name this daemon registers under (env GITROAST_HOSTNAME; default the OS host name)')
    .action(run(async (opts: DaemonFlags) => {
      const hostname = hostnameOf(opts.hostname);
      const { graceSecondsOf, warnExposedSecrets, supervisorsOf, throttlesOf } = await import('./config.js');
      // --config is the program's global option (gitroast daemon --config FILE still reads it).
      const loaded = await ctx.loadConfig(configFlags(opts));
      warnExposedSecrets(loaded);
      const { config, file } = loaded;
      const supervisors = supervisorsOf(config, opts.supervisor);
      if (supervisors) {
        const flag = opts.concurrency !== undefined ? '--concurrency' : opts.queues !== undefined ? '--queues' : opts.balance !== undefined ? '--balance' : undefined;
        if (flag) throw new UsageError(`${flag} cannot be used with the config's \`supervisors\` (each sets its own queues, maxProcesses and balance); use --supervisor NAME to run one of them`);
      }
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
        if (opts.supervisor !== undefined) args.push('--supervisor', opts.supervisor);
        if (opts.hostname !== undefined) args.push('--hostname', opts.hostname);
        args.push('--log-format', opts.logFormat ?? 'json');
        const { realpathSync } = await import('node:fs');
        const db = ctx.dbTarget.kind === 'postgres' ? undefined : ctx.dbPath;
        print(d.renderSystemdUnit({ node: process.execPath, bin: realpathSync(process.argv[1]!), db, args, graceSeconds, configFile: file, user: process.env.USER }));
        return;
      }
      keepRunningWhenOutputCloses();
      const { VERSION } = await import('./version.js');
      const logger = d.createLogger({ format: config.log.format ?? (process.stdout.isTTY ? 'pretty' : 'json'), level: config.log.level });
      const longWait = config.longWait;
      // What the daemon runs with on either engine.
      const base: Omit<DaemonOptions, 'dbPath' | 'store'> = {
        logger, version: VERSION, hostname,
        queues: config.queues, concurrency: config.concurrency, balance: config.balance, supervisors, throttles: throttlesOf(config),
        leaseMs: config.leaseSeconds * 1000, heartbeatMs: config.heartbeatSeconds * 1000, staleMs: config.staleSeconds * 1000,
        pollMs: config.pollSeconds * 1000, defaultTimeoutMs: config.timeoutSeconds * 1000, graceMs: graceSeconds * 1000,
        timeoutFor: (name) => {
          const t = config.jobs[name]?.timeout;
          return t === undefined ? undefined : Math.round(t * 1000);
        },
        stopWhenEmpty: opts.stopWhenEmpty, maxJobs: opts.maxJobs, maxTimeMs: opts.maxTime === undefined ? undefined : opts.maxTime * 1000,
        memoryLimitMb: config.memoryLimitMb, webhookUrl: config.webhookUrl, maxRateLimitWaitMs: config.maxRateLimitWaitHours * 3_600_000,
        longWaitMs: (q) => Math.round((longWait.queues[q] ?? longWait.defaultSeconds) * 1000),
      };
      const { setFailureHook, silencedOf } = await import('../queue/index.js');
      const failures = config.notify.failures;
      // Failures of the opted-in jobs and queues enqueue a notification in the transaction that fails them.
      const failureHook = d.failureNotifyHook({ jobs: failures.jobs, queues: failures.queues, queue: failures.queue, silenced: silencedOf(config.silenced) });
      const { buildRegistry, buildPgRegistry } = await import('./handlers.js');
      const target = ctx.dbTarget;
      if (target.kind === 'postgres') {
        const { runPgDaemon } = await import('./daemon-pg.js');
        const { pgWebDashboard } = await import('./web.js');
        // The registry is built (and the config's schedules checked) before anything is opened; its
        // PostgreSQL handlers reach the database and the store's clock once the daemon has them.
        const pg: { db?: PgDb; now?: () => number } = {};
        const opened = <T>(v: T | undefined): T => {
          if (v === undefined) throw new Error('the PostgreSQL database is not open yet');
          return v;
        };
        const registry = await buildPgRegistry(config, { db: () => opened(pg.db), now: () => opened(pg.now)() });
        const { budgetsFrom } = await import('../analysis/budget.js');
        const { pgAnalyses } = await import('../analysis/store.js');
        // GitHub's budget per token fingerprint, as on SQLite, from the schema's table.
        const healthExtras = async () => ({ github: budgetsFrom(await pgAnalyses(opened(pg.db)).budgetRows(), opened(pg.now)()) });
        await runPgDaemon(target.target, registry, pg, { ...base, http, healthExtras }, failureHook,
          async (store, db) => pgWebDashboard({ store, db, token: http?.token, configured: config.queues, aliveMs: config.staleSeconds * 1000, silenced: config.silenced }));
      } else {
        const { openAppDb } = await import('./db.js');
        const { listBudgets } = await import('../analysis/budget.js');
        const db = openAppDb(ctx.dbPath, { durability: config.durability });
        setFailureHook(db, failureHook);
        // The dashboard at `/`, next to /health and /metrics: the daemon's listener calls it, the daemon never imports it.
        const web = http ? await webDashboard({ dbPath: ctx.dbPath, open: ({ readonly }) => openAppDb(ctx.dbPath, { readonly }), token: http.token, configured: config.queues, aliveMs: config.staleSeconds * 1000, silenced: config.silenced, db }) : undefined;
        try {
          const registry = await buildRegistry(config, () => db);
          const handle = await d.runDaemon(db, registry, {
            ...base, dbPath: ctx.dbPath, http: http && web ? { ...http, handler: web.handle } : undefined,
            // GitHub's budget per token fingerprint, read from the table the collector writes.
            healthExtras: () => ({ github: listBudgets(db) }),
          });
          await handle.done;
        } finally {
          web?.close();
          db.close();
        }
      }
      // A handler that ignored its abort signal (timed out, or given up at shutdown) may still
      // hold a timer or a socket; the daemon's work is done, so do not wait for it.
      setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
    }));

  daemon
    .command('status')
    .description('list the daemons registered on this database and the pause / stop flags')
    .option('--json', 'print JSON')
    .action(run(async (opts: { json?: boolean }) => {
      const { throttlesOf } = await import('./config.js');
      const config = await ctx.config();
      const staleMs = config.staleSeconds * 1000;
      const q = await import('../queue/index.js');
      const db = ctx.db();
      const now = Date.now();
      const control = q.daemonControl(db);
      const daemons = q.listWorkers(db).map((w) => ({ ...w, alive: q.isAlive(w, staleMs, now) }));
      // The config's throttles, else whatever the daemons have counted (as they last stored it).
      const rules = throttlesOf(config);
      const throttles = q.listThrottles(db, now, Object.keys(rules.queues).length + Object.keys(rules.jobs).length > 0 ? rules : undefined);
      if (opts.json) return printJson({ paused: control.paused, stopRequestedAt: control.stopRequestedAt, pausedSupervisors: control.pausedSupervisors, daemons, throttles });
      print(`daemons   ${control.paused ? 'paused (run `gitroast daemon continue`)' : 'running'}${control.stopRequestedAt ? `; last stop requested ${duration(now - control.stopRequestedAt)} ago` : ''}`);
      if (control.pausedSupervisors.length > 0) print(`paused    supervisors ${control.pausedSupervisors.join(', ')} (run \`gitroast daemon continue --supervisor NAME\`)`);
      if (daemons.length === 0) print('none registered (run `gitroast daemon`)');
      else {
        print(table(['ID', 'PID', 'HOST', 'VERSION', 'QUEUES', 'BUSY', 'STATUS', 'UP', 'HEARTBEAT'],
          daemons.map((w) => [w.id, w.pid, w.hostname, w.version, w.queues.join(','), `${w.busy}/${w.concurrency}`, w.alive ? w.status : 'stale', duration(now - w.startedAt), `${duration(now - w.heartbeatAt)} ago`])));
        const rows = daemons.flatMap((w) => w.supervisors.map((s) => [w.id, s.name, balanceLabel(s), s.paused ? 'paused' : 'running', `${s.busy}/${s.maxProcesses}`, slotsLabel(s)]));
        if (rows.length > 0) {
          print('');
          print(table(['DAEMON', 'SUPERVISOR', 'BALANCE', 'STATUS', 'BUSY', 'SLOTS (busy/cap per queue)'], rows));
        }
      }
      if (throttles.length > 0) {
        print('');
        print(table(['THROTTLE', 'NAME', 'STARTS', 'WINDOW', 'STATE'], throttles.map((t) => [
          t.kind, t.name, `${t.used}/${t.max}`, `${t.perSeconds}s`,
          t.throttled ? `throttled for ${duration(Math.max(0, t.windowEndsAt - now))}: ${t.waiting} pending wait (no attempt spent)` : 'open',
        ])));
      }
    }));
  daemon
    .command('pause')
    .description('stop every daemon on this database from claiming (running jobs finish); --supervisor pauses one supervisor in every daemon')
    .option('--supervisor <name>', 'pause only the supervisors of this name')
    .action(run(async (opts: { supervisor?: string }, cmd: Command) => {
      // `daemon` has a --supervisor of its own, which commander may give the flag to.
      const name = await supervisorName(opts.supervisor ?? (cmd.parent?.opts() as DaemonFlags | undefined)?.supervisor);
      if (name !== undefined) {
        const { setSupervisorPaused } = await import('../queue/index.js');
        setSupervisorPaused(ctx.db(), name, true);
        return info(`supervisor ${name} paused in every daemon (noticed within a second; the other supervisors keep claiming)`);
      }
      const { setDaemonsPaused } = await import('../queue/index.js');
      setDaemonsPaused(ctx.db(), true);
      info('daemons paused (they notice within a second)');
    }));
  daemon
    .command('continue')
    .description('let paused daemons claim again; --supervisor continues one paused supervisor')
    .option('--supervisor <name>', 'continue only the supervisors of this name')
    .action(run(async (opts: { supervisor?: string }, cmd: Command) => {
      // `daemon` has a --supervisor of its own, which commander may give the flag to.
      const name = await supervisorName(opts.supervisor ?? (cmd.parent?.opts() as DaemonFlags | undefined)?.supervisor);
      if (name !== undefined) {
        const { setSupervisorPaused } = await import('../queue/index.js');
        setSupervisorPaused(ctx.db(), name, false);
        return info(`supervisor ${name} continued`);
      }
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

/** Check a --supervisor name's spelling (the daemons may run supervisors this config does not list). */
async function supervisorName(name: string | undefined): Promise<string | undefined> {
  if (name === undefined) return undefined;
  const { SUPERVISOR_NAME } = await import('./config.js');
  if (!SUPERVISOR_NAME.test(name)) throw new UsageError(`--supervisor ${JSON.stringify(name)}: expected a supervisor name (1-64 of a-z, 0-9, _ . : -, starting with a letter or digit)`);
  return name;
}

/** A supervisor's balance as a word: strict, simple, auto (time|size). */
function balanceLabel(s: SupervisorState): string {
  if (s.balance === false) return 'strict';
  return s.balance === 'auto' ? `auto (${s.autoScalingStrategy}, ±${s.balanceMaxShift}/${s.balanceCooldown}s)` : 'simple';
}

/** Per queue busy/cap, e.g. `high 2/4 default 0/1`. */
function slotsLabel(s: SupervisorState): string {
  return s.queues.map((q) => `${q} ${s.busyByQueue[q] ?? 0}/${s.slots[q] ?? 0}`).join('  ');
}
