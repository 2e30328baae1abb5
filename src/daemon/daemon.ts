import { CONCURRENCY, POLL_MS, STALE_MS, createSqliteStore, newWorkerId, type AnyStore, type Db, type LeasedWrite, type QueueStats, type Store } from '../queue/index.js';
import { LongWaitAlerts } from './alerts.js';
import { PromText, startHttp, type HttpHandler, type HttpServer, type Listen } from './http.js';
import type { Registry } from './registry.js';
import { Scheduler } from './scheduler.js';
import { quantile } from './stats.js';
import type { Logger } from './types.js';
import { startWorkerOn, type WorkerHandle, type WorkerOptions } from './worker.js';

/** Options of runDaemon: the worker's, plus what only a long-running daemon does. `W`: the handler write of the store's engine. */
export interface DaemonOptions<W = LeasedWrite> extends Omit<WorkerOptions<W>, 'control' | 'onStopRequested' | 'logger'> {
  logger: Logger;
  /** Database path, or a PostgreSQL URL without its password (for logs). */
  dbPath: string;
  /** Grace period of a graceful stop, ms. Default the longest timeout known (defaultTimeoutMs). */
  graceMs?: number;
  /** Stop (gracefully) after this long, ms: systemd restarts it (Horizon's worker recycling). */
  maxTimeMs?: number;
  /** Stop (gracefully) when RSS goes above this many MB. */
  memoryLimitMb?: number;
  /**
   * Serve /health and /metrics here; the caller has checked the loopback/token rule.
   * `handler` answers every other path (the CLI hands in the web dashboard).
   */
  http?: Listen & { token?: string; handler?: HttpHandler };
  /** Long-wait threshold per queue, ms (0: off). Default 60 s for every queue. */
  longWaitMs?: (queue: string) => number;
  webhookUrl?: string | null;
  /** Run the registry's schedules. Default true. */
  scheduler?: boolean;
  /** More fields for /health, read at each request (the CLI adds GitHub's budget; the daemon knows nothing of GitHub). */
  healthExtras?: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Handle SIGTERM / SIGINT (graceful stop; a second SIGINT exits at once). Default true. */
  signals?: boolean;
}

/** A running daemon. */
export interface DaemonHandle {
  readonly worker: WorkerHandle;
  /** The bound HTTP address, when serving. */
  readonly http: Listen | undefined;
  /** Stop gracefully (see WorkerHandle.stop); resolves when everything has stopped. */
  stop(reason?: string): Promise<void>;
  /** Resolves when the daemon has stopped, with the reason. */
  readonly done: Promise<string>;
}

/**
 * Run the daemon on `db` (SQLite), or on `options.store` without one (PostgreSQL): a worker with daemon control (pause / continue / stop through
 * the database), the registry's schedules (once across daemons), long-wait alerts, the
 * optional HTTP endpoint, recycling limits (--max-time, --memory-limit) and signal
 * handling. Resolves once everything has started. The registry's handlers take the store's
 * handler write, as startWorker's.
 */
export function runDaemon<W>(db: undefined, registry: Registry<W>, options: DaemonOptions<W> & { store: Store<W> }): Promise<DaemonHandle>;
export function runDaemon(db: Db, registry: Registry, options: DaemonOptions): Promise<DaemonHandle>;
export async function runDaemon<W>(...[db, registry, options]: [Db, Registry, DaemonOptions] | [undefined, Registry<W>, DaemonOptions<W> & { store: Store<W> }]): Promise<DaemonHandle> {
  if (db !== undefined) return runDaemonOn(db, registry, options, options.store ?? createSqliteStore(db));
  if (!options?.store) throw new Error('runDaemon needs a SQLite database or options.store');
  return runDaemonOn(undefined, registry, options, options.store);
}

/** runDaemon with the store resolved (`db`: the SQLite database under it, or undefined). */
async function runDaemonOn<W>(db: Db | undefined, registry: Registry<W>, options: DaemonOptions<W>, store: Store<W>): Promise<DaemonHandle> {
  const logger = options.logger;
  const pollMs = options.pollMs ?? POLL_MS;
  let stopping: Promise<void> | undefined;
  let resolveDone!: (reason: string) => void;
  const done = new Promise<string>((r) => (resolveDone = r));
  const alerts = new LongWaitAlerts(store, { thresholdMs: options.longWaitMs ?? (() => 60_000), webhookUrl: options.webhookUrl, logger, aliveMs: options.staleMs });

  let http: HttpServer | undefined;
  // The worker is created after the HTTP server binds, but the endpoints need it.
  const ref: { worker?: WorkerHandle } = {};
  if (options.http) {
    http = await startHttp(options.http, {
      health: () => health(store, ref.worker, options, pollMs),
      metrics: () => metrics(store, ref.worker, options),
    }, logger, options.http.token, { handler: options.http.handler });
    logger.log('info', 'http.listening', { host: http.address.host, port: http.address.port, auth: options.http.token ? 'bearer' : 'none' });
  }

  const workerId = options.workerId ?? newWorkerId();
  logger.log('info', 'daemon.started', {
    worker: workerId, pid: process.pid, db: options.dbPath, queues: options.queues, concurrency: options.concurrency ?? CONCURRENCY,
    balance: options.balance ?? 'strict', schedules: registry.listSchedules().map((s) => s.name), handlers: registry.names(),
    supervisors: options.supervisors?.map((s) => s.name), throttles: options.throttles,
  });
  const worker = startWorkerOn(db, registry, { ...options, workerId, logger, control: true, onStopRequested: () => void stop('control') }, store);
  ref.worker = worker;
  const scheduler = options.scheduler === false ? undefined : new Scheduler(store, db, registry.listSchedules(), { workerId: worker.id, logger, idle: () => worker.busy() === 0 });
  scheduler?.start();

  const started = Date.now();
  const timer = setInterval(() => {
    alerts.check().catch((err: unknown) => logger.log('error', 'alert.error', { error: err as Error }));
    if (options.maxTimeMs !== undefined && Date.now() - started >= options.maxTimeMs) void stop('max-time');
    if (options.memoryLimitMb !== undefined) {
      const rss = process.memoryUsage.rss() / 1_048_576;
      if (rss > options.memoryLimitMb) {
        logger.log('warn', 'daemon.memory_limit', { rssMb: Math.round(rss), limitMb: options.memoryLimitMb });
        void stop('memory-limit');
      }
    }
  }, pollMs);

  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1 && sig === 'SIGINT') {
      logger.log('warn', 'daemon.exit_now', { signal: sig, reason: 'second SIGINT: leases will recover the running jobs' });
      logger.flush();
      process.exit(130);
    }
    logger.log('info', 'daemon.signal', { signal: sig });
    void stop(sig);
  };
  if (options.signals !== false) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  // The worker can also stop by itself (--stop-when-empty, --max-jobs, until).
  void worker.done.then(() => stop(worker.stopReason() ?? 'stop'));

  function stop(reason = 'stop'): Promise<void> {
    if (stopping) return stopping;
    stopping = (async () => {
      clearInterval(timer);
      logger.log('info', 'daemon.stopping', { reason, busy: worker.busy() });
      await scheduler?.stop();
      await worker.stop({ reason });
      await alerts.drain();
      await http?.close();
      if (options.signals !== false) {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
      logger.log('info', 'daemon.stopped', { reason: worker.stopReason() ?? reason });
      logger.flush();
      resolveDone(worker.stopReason() ?? reason);
    })();
    return stopping;
  }

  return { worker, http: http?.address, stop: (reason) => stop(reason), done };
}

async function health<W>(store: AnyStore, worker: WorkerHandle | undefined, options: DaemonOptions<W>, pollMs: number): Promise<{ ok: boolean; body: unknown }> {
  const now = store.now();
  const reasons: string[] = [];
  let database: Record<string, unknown>;
  let queues: unknown[] = [];
  let daemons: unknown[] = [];
  let holds: unknown[] = [];
  let extras: Record<string, unknown> = {};
  try {
    // No path: /health may be reachable from other hosts (with a token); it tells state, not layout.
    database = { ok: true, schemaVersion: await store.probe() };
    queues = (await store.queueStats({ configured: options.queues })).map((s) => ({ queue: s.queue, pending: s.pending, delayed: s.delayed, reserved: s.reserved, oldestWaitMs: s.oldestWaitMs, paused: s.paused }));
    daemons = (await store.liveWorkers(options.staleMs ?? STALE_MS)).map((w) => ({ id: w.id, pid: w.pid, hostname: w.hostname, status: w.status, busy: w.busy, concurrency: w.concurrency, heartbeatAgeMs: now - w.heartbeatAt, supervisors: w.supervisors }));
    holds = await store.holds();
    extras = (await options.healthExtras?.()) ?? {};
  } catch (err) {
    // SQLite's messages can carry the file's path: only the error code leaves the process.
    database = { ok: false, error: String((err as { code?: unknown }).code ?? 'unreadable') };
    reasons.push('database unreadable');
  }
  const status = worker?.status() ?? 'starting';
  if (status === 'stopping' || status === 'stopped') reasons.push(`daemon is ${status}`);
  const ok = reasons.length === 0;
  return {
    ok,
    // `health` and `timestamp` in the seed's words, beside the original `status`.
    body: { status: ok ? 'ok' : 'unhealthy', health: ok ? 'healthy' : 'unhealthy', timestamp: new Date(now).toISOString(), reasons, database, worker: worker ? { id: worker.id, status, busy: worker.busy(), concurrency: slotsOf(worker, options), supervisors: worker.supervisors() } : null, queues, daemons, pollMs, holds, ...extras },
  };
}

async function metrics<W>(store: AnyStore, worker: WorkerHandle | undefined, options: DaemonOptions<W>): Promise<string> {
  const p = new PromText();
  let up = 1;
  let stats: QueueStats[] = [];
  let alive = 0;
  try {
    stats = await store.queueStats({ configured: options.queues });
    alive = (await store.liveWorkers(options.staleMs ?? STALE_MS)).length;
  } catch {
    up = 0;
  }
  p.sample('gitroast_up', 'gauge', '1 when the daemon can read its database.', up);
  if (worker) {
    const all = worker.stats.all();
    const counter = (name: string, help: string, get: (c: (typeof all)[number]) => number) => {
      if (all.length === 0) p.sample(name, 'counter', help, 0);
      for (const c of all) p.sample(name, 'counter', help, get(c), { queue: c.queue, name: c.name });
    };
    counter('gitroast_jobs_processed_total', 'Jobs this daemon completed since it started.', (c) => c.processed);
    counter('gitroast_jobs_failed_total', 'Jobs this daemon failed for good since it started.', (c) => c.failed);
    counter('gitroast_jobs_released_total', 'Attempts this daemon released for a retry.', (c) => c.released);
    counter('gitroast_jobs_delayed_total', 'Jobs put back without spending an attempt (rate limits).', (c) => c.delayed);
    counter('gitroast_jobs_timed_out_total', 'Attempts that ran past their timeout.', (c) => c.timedOut);
    for (const c of all) {
      if (c.runtimeCount === 0) continue;
      const labels = { queue: c.queue, name: c.name };
      for (const q of [0.5, 0.95, 0.99]) {
        p.sample('gitroast_job_runtime_seconds', 'summary', 'Runtime of recent attempts (last 1024 per queue and job name).', quantile(c, q) / 1000, { ...labels, quantile: String(q) });
      }
      p.sample('gitroast_job_runtime_seconds', 'summary', '', c.runtimeSum / 1000, labels, '_sum');
      p.sample('gitroast_job_runtime_seconds', 'summary', '', c.runtimeCount, labels, '_count');
    }
    p.sample('gitroast_busy_slots', 'gauge', 'Jobs running in this daemon now.', worker.busy());
    p.sample('gitroast_slots', 'gauge', 'Concurrency (async slots) of this daemon.', slotsOf(worker, options));
    for (const s of worker.supervisors()) {
      for (const q of s.queues) p.sample('gitroast_supervisor_slots', 'gauge', 'Slots a supervisor may fill for a queue now (balance moves them).', s.slots[q] ?? 0, { supervisor: s.name, queue: q });
    }
  }
  for (const s of stats) {
    for (const state of ['pending', 'delayed', 'reserved'] as const) {
      p.sample('gitroast_queue_depth', 'gauge', 'Jobs in a queue by state.', s[state], { queue: s.queue, state });
    }
  }
  for (const s of stats) p.sample('gitroast_queue_oldest_wait_seconds', 'gauge', 'How long the oldest ready job of a queue has waited.', s.oldestWaitMs / 1000, { queue: s.queue });
  for (const s of stats) p.sample('gitroast_queue_paused', 'gauge', '1 when a queue is paused.', s.paused ? 1 : 0, { queue: s.queue });
  for (const s of stats) p.sample('gitroast_failed_jobs', 'gauge', 'Entries in the failed jobs list.', s.failed, { queue: s.queue });
  p.sample('gitroast_daemons_alive', 'gauge', 'Daemons with a fresh heartbeat on this database.', alive);
  return p.toString();
}

/** The daemon's slots: its supervisors' maxProcesses, or `concurrency` without supervisors. */
function slotsOf<W>(worker: WorkerHandle, options: DaemonOptions<W>): number {
  return options.supervisors ? worker.supervisors().reduce((n, s) => n + s.maxProcesses, 0) : options.concurrency ?? CONCURRENCY;
}
