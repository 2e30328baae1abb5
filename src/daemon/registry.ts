import nodeCron from 'node-cron';
import { assertJobName, type LeasedWrite } from '../queue/index.js';
import type { Handler, Schedule, ScheduleTarget } from './types.js';

/**
 * Job name → handler, plus named schedules. The analysis room fills one at start-up
 * (`registry.register('fetch-github', …)`, `registry.schedule('prune', '0 3 * * *', …)`),
 * so the daemon never imports it. `W`: the handler write of its engine (JobContext): a
 * worker runs only a registry of its store's engine.
 */
export class Registry<W = LeasedWrite> {
  private readonly handlers = new Map<string, Handler<never, W>>();
  private readonly schedules = new Map<string, Schedule>();

  /** Register the handler of a job name; a second registration of the same name throws. */
  register<P = unknown>(name: string, handler: Handler<P, W>): this {
    assertJobName(name);
    if (typeof handler?.handle !== 'function') throw new Error(`handler for ${name} must have a handle(payload, ctx) function`);
    if (this.handlers.has(name)) throw new Error(`a handler for ${name} is already registered`);
    this.handlers.set(name, handler as Handler<never, W>);
    return this;
  }

  /** The handler of a job name, or undefined. */
  get(name: string): Handler<unknown, W> | undefined {
    return this.handlers.get(name) as Handler<unknown, W> | undefined;
  }

  /** The registered job names, sorted. */
  names(): string[] {
    return [...this.handlers.keys()].sort();
  }

  /**
   * Add a named schedule: on every tick of `cron` (node-cron syntax, 5 fields or 6 with
   * seconds), enqueue `target` when it is a job spec, or run it when it is a function. Each
   * tick runs once across all daemons on the database. A second schedule of the same name
   * replaces the first (so config can re-time built-ins).
   */
  schedule(name: string, cron: string, target: ScheduleTarget, description = ''): this {
    if (!/^[a-z0-9][a-z0-9_.:-]{0,63}$/.test(name)) throw new Error(`invalid schedule name ${JSON.stringify(name)}: use 1-64 of a-z, 0-9, '.', ':', '-', '_'`);
    if (!nodeCron.validate(cron)) throw new Error(`invalid cron expression ${JSON.stringify(cron)} for schedule ${name}`);
    if (typeof target !== 'function') assertJobName(target.name);
    const desc = description || (typeof target === 'function' ? 'runs in the daemon' : `enqueues ${target.name}`);
    this.schedules.set(name, { name, cron, target, description: desc });
    return this;
  }

  /** Remove a schedule (config sets a schedule to false). */
  unschedule(name: string): boolean {
    return this.schedules.delete(name);
  }

  /** The schedules, in registration order. */
  listSchedules(): Schedule[] {
    return [...this.schedules.values()];
  }
}

/** The shape a handler module exports: `register(registry)`, called once at start-up. */
export interface HandlerModule<W = LeasedWrite> {
  register(registry: Registry<W>): void | Promise<void>;
}
