import nodeCron, { type ScheduledTask } from 'node-cron';
import type { AnyStore, Db, Store } from '../queue/index.js';
import type { Logger, Schedule } from './types.js';

/** How a schedule's last run went, as `schedule list` shows it. */
export interface LastRun {
  /** The tick's time (ms epoch). */
  at: number;
  startedAt: number;
  finishedAt: number;
  ok: boolean;
  error?: string;
  /** The worker that ran it. */
  by: string;
  /** What it did, briefly (`enqueued job 12`, `trimmed 40 rows`). */
  result?: string;
}


/** The settings key holding a schedule's last run. */
function lastRunKey(name: string): string {
  return `schedule:${name}:last`;
}

/** Read a schedule's last run through the store, or undefined when it never ran. */
export async function lastRun(store: Pick<Store, 'getSetting'>, name: string): Promise<LastRun | undefined> {
  const raw = await store.getSetting(lastRunKey(name));
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as LastRun;
  } catch {
    return undefined;
  }
}

/** The next time (ms epoch) a cron expression fires after now, or undefined. */
export function nextRun(cron: string): number | undefined {
  const task = nodeCron.createTask(cron, () => {});
  try {
    return task.getNextRuns(1)[0]?.getTime();
  } finally {
    void task.destroy();
  }
}

/** A schedule with its state, for `schedule list`. */
export interface ScheduleRow {
  name: string;
  cron: string;
  description: string;
  lastRun: LastRun | undefined;
  nextRunAt: number | undefined;
}

/** List schedules with their last run (from the database) and next run. */
export async function describeSchedules(store: Pick<Store, 'getSetting'>, schedules: readonly Schedule[]): Promise<ScheduleRow[]> {
  const rows: ScheduleRow[] = [];
  for (const s of schedules) rows.push({ name: s.name, cron: s.cron, description: s.description, lastRun: await lastRun(store, s.name), nextRunAt: nextRun(s.cron) });
  return rows;
}

export interface SchedulerOptions {
  workerId: string;
  logger: Logger;
  /** True when this process's worker has no job running (the checkpoint waits for that). */
  idle: () => boolean;
}

/**
 * Run schedules with node-cron inside the daemon. Each tick first takes the tick through
 * the store's claimTick, so with several daemons on one database it runs once, not once per daemon;
 * the winner records the run (`schedule:<name>:last`). A tick whose previous run has not
 * finished in this process is skipped (no overlap).
 */
export class Scheduler {
  private tasks: ScheduledTask[] = [];
  private readonly runs = new Set<Promise<void>>();

  /** `db` (SQLite) and the store are what scheduled functions get; the scheduler itself uses the store. */
  constructor(private readonly store: AnyStore, private readonly db: Db | undefined, private readonly schedules: readonly Schedule[], private readonly options: SchedulerOptions) {}

  start(): void {
    for (const s of this.schedules) {
      const task = nodeCron.createTask(s.cron, (ctx) => this.fire(s, ctx.date), { name: `gitroast:${s.name}`, noOverlap: true });
      // node-cron logs missed ticks with console.warn; a daemon busy for a second is fine.
      task.on('execution:missed', () => {});
      void task.start();
      this.tasks.push(task);
    }
  }

  /** Stop firing; resolves when the runs under way have finished. */
  async stop(): Promise<void> {
    for (const t of this.tasks.splice(0)) await t.destroy();
    await Promise.allSettled([...this.runs]);
  }

  /** Run one tick now if this process wins it (exported for tests through the class). */
  fire(s: Schedule, date: Date): Promise<void> {
    const p = this.run(s, Math.floor(date.getTime() / 1000) * 1000);
    this.runs.add(p);
    void p.finally(() => this.runs.delete(p));
    return p;
  }

  private async run(s: Schedule, at: number): Promise<void> {
    const { logger, workerId } = this.options;
    let won: boolean;
    try {
      won = await this.store.claimTick(s.name, at);
    } catch (err) {
      logger.log('error', 'schedule.error', { schedule: s.name, error: err as Error });
      return;
    }
    if (!won) {
      logger.log('debug', 'schedule.skipped', { schedule: s.name, at: new Date(at).toISOString(), reason: 'another daemon ran this tick' });
      return;
    }
    const startedAt = this.store.now();
    let ok = true;
    let error: string | undefined;
    let result: string | undefined;
    try {
      if (typeof s.target === 'function') {
        const r = await s.target({ db: this.db, store: this.store, at, logger, idle: this.options.idle });
        if (r !== undefined) result = typeof r === 'string' ? r : JSON.stringify(r);
      } else {
        const base = s.target.payload;
        const schedule = { name: s.name, at };
        const payload = base !== null && typeof base === 'object' && !Array.isArray(base) ? { ...base, schedule } : base === undefined ? { schedule } : base;
        const job = await this.store.enqueue({ ...s.target, payload });
        result = `${job.existing ? 'kept existing' : 'enqueued'} job ${job.id}`;
      }
    } catch (err) {
      ok = false;
      error = (err as Error).message;
    }
    const finishedAt = this.store.now();
    try {
      await this.store.setSetting(lastRunKey(s.name), JSON.stringify({ at, startedAt, finishedAt, ok, error, by: workerId, result } satisfies LastRun));
    } catch (err) {
      logger.log('error', 'schedule.error', { schedule: s.name, error: err as Error });
    }
    logger.log(ok ? 'info' : 'error', ok ? 'schedule.ran' : 'schedule.failed', { schedule: s.name, at: new Date(at).toISOString(), ms: finishedAt - startedAt, result, error });
  }
}
