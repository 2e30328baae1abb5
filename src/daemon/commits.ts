/**
 * The commit buffer: one record per finished job, committed with the next claim in one
 * store transaction (group commit), then its side effects: counters, logs, events, failed
 * hooks, and the timer of a job put back for later.
 */
import type { ClaimPlan, ClaimedJob, CommitResult, Completion, LeasedWrite, Outcome, Settlement, Store } from '../queue/index.js';
import { classifyError } from './classify.js';
import { eventJob, type Hooks, type WorkerEmitter } from './run.js';
import type { JobCounters } from './stats.js';
import type { Handler, Logger } from './types.js';

/**
 * How an attempt ended, as the buffer keeps it: `done` (completed, its writes with it),
 * `retry`, `fail` and `delay` (its handler threw), `return` (given back at shutdown without
 * spending the attempt), `lost` (its lease was lost: nothing to write), `late` (a result
 * that arrived after its attempt was given up: sent under its old token, so fenced).
 */
export type EndKind = 'done' | 'retry' | 'fail' | 'delay' | 'return' | 'lost' | 'late';

/** One finished job waiting for its commit (itself the store's Completion for done and late ones); `W`: the store's handler write. */
export interface Ended<W = LeasedWrite> extends Completion<W> {
  kind: EndKind;
  job: ClaimedJob;
  /** The job again, as the lease the store fences the commit with. */
  lease: ClaimedJob;
  c: JobCounters;
  ms: number;
  payload: unknown;
  handler: Handler<unknown, W> | undefined;
  /** Why it did not complete (every kind but done and late). */
  error?: Error;
  /** When a delayed job comes back. */
  until?: number;
  /** The handler's writes (ctx.commit), committed with the completion or not at all. */
  writes?: W[];
}

/** What the buffer needs from its worker. */
export interface CommitHost<W = LeasedWrite> {
  readonly store: Store<W>;
  readonly logger: Logger;
  readonly events: WorkerEmitter;
  readonly hooks: Hooks;
  /** Log each job (info level is on). */
  readonly logJobs: boolean;
  /** Rate-limit wait bound of delayed jobs (config maxRateLimitWaitHours). */
  readonly maxRateLimitWaitMs: number | undefined;
  /** A job was put back until `at`: claim again then. */
  dueAt(at: number): void;
}

const REJECTED = 'the lease was lost (the job was recovered and may run elsewhere)';

/** The writes of a completion threw: retry the job (or fail it when the error says so), inside the commit. */
function onWriteError<W>(c: Completion<W>, err: Error): Settlement {
  const error = new Error(`its writes failed: ${err.message}`, { cause: err });
  return { kind: classifyError(err).kind === 'fail' ? 'fail' : 'retry', lease: c.lease, error: { message: error.message, stack: error.stack } };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Finished jobs waiting for the next commit. */
export class CommitBuffer<W = LeasedWrite> {
  private ended: Ended<W>[] = [];

  constructor(private readonly host: CommitHost<W>) {}

  /** Keep a finished job for the next commit. */
  add(e: Ended<W>): void {
    this.ended.push(e);
  }

  /** True when something waits to be committed. */
  get size(): number {
    return this.ended.length;
  }

  /**
   * Commit everything buffered and claim through `claim` (when given), in one store
   * transaction; then run the side effects. A commit that throws leaves the buffer as it
   * was (plus whatever finished meanwhile) and rethrows.
   */
  async flush(claim: ClaimPlan | undefined): Promise<{ claimed: ClaimedJob[]; now: number; changes: number; nextDueAt: number | undefined }> {
    const ended = this.ended;
    this.ended = [];
    let completions: Completion<W>[] | undefined;
    let settlements: Settlement[] | undefined;
    let late: Completion<W>[] | undefined;
    for (const e of ended) {
      if (e.kind === 'done') (completions ??= []).push(e);
      else if (e.kind === 'late') (late ??= []).push(e);
      else (settlements ??= []).push(this.settlement(e));
    }
    let result: CommitResult;
    try {
      result = await this.host.store.commit({ completions, settlements, late, claim, onWriteError });
    } catch (err) {
      this.ended = ended.concat(this.ended);
      throw err;
    }
    let ci = 0;
    let si = 0;
    let li = 0;
    for (const e of ended) {
      if (e.kind === 'done') this.afterCompletion(e, result.completions[ci++]!, result.now);
      else if (e.kind === 'late') this.afterLate(e, result.late[li++]!);
      else this.afterSettlement(e, result.settlements[si++]!, result.now);
    }
    return { claimed: result.claimed, now: result.now, changes: ended.length + result.claimed.length, nextDueAt: result.nextDueAt };
  }

  private settlement(e: Ended<W>): Settlement {
    const error = { message: e.error!.message, stack: e.error!.stack };
    switch (e.kind) {
      case 'fail':
      case 'retry':
        return { kind: e.kind, lease: e.job, error };
      case 'delay':
        return { kind: 'delay', lease: e.job, until: e.until!, reason: e.error!.message, maxWaitMs: this.host.maxRateLimitWaitMs };
      case 'return':
        return { kind: 'return', lease: e.job, reason: e.error!.message };
      default:
        return { kind: 'lost', lease: e.job };
    }
  }


  private afterCompletion(e: Ended<W>, r: CommitResult['completions'][number], now: number): void {
    const { job, logger } = { job: e.job, logger: this.host.logger };
    if (r === true) {
      e.c.processed++;
      if (this.host.logJobs) logger.log('info', 'job.completed', { job: job.id, queue: job.queue, name: job.name, attempt: job.attempts, ms: round(e.ms) });
      if (this.host.events.wants('completed')) this.host.events.emit('completed', { job: eventJob(job), ms: e.ms, late: false });
    } else if (r === false) {
      logger.log('warn', 'job.result_rejected', { job: job.id, queue: job.queue, name: job.name, attempt: job.attempts, reason: REJECTED });
    } else {
      const error = new Error(`its writes failed: ${r.error.message}`, { cause: r.error });
      this.afterSettlement({ ...e, kind: classifyError(r.error).kind === 'fail' ? 'fail' : 'retry', error }, r.outcome, now);
    }
  }

  private afterLate(e: Ended<W>, ok: boolean): void {
    const job = e.job;
    const fields = { job: job.id, queue: job.queue, name: job.name, attempt: job.attempts, token: job.token };
    if (ok) {
      this.host.logger.log('warn', 'job.completed', { ...fields, late: true });
      this.host.events.emit('completed', { job: eventJob(job), ms: e.ms, late: true });
    } else {
      this.host.logger.log('warn', 'job.late_result_rejected', { ...fields, reason: 'its lease was given up (timeout, lost lease or shutdown); the fencing token no longer matches' });
    }
  }

  private afterSettlement(e: Ended<W>, result: Outcome, now: number): void {
    const { job, c } = e;
    const { logger, events } = this.host;
    const base = { job: job.id, queue: job.queue, name: job.name, attempt: job.attempts };
    const message = e.error?.message ?? '';
    switch (result.kind) {
      case 'released':
        c.released++;
        logger.log('info', 'job.released', { ...base, error: message, availableAt: result.availableAt, ms: round(e.ms) });
        events.emit('released', { job: eventJob(job), reason: message, availableAt: result.availableAt, attemptSpent: true });
        if (result.availableAt > now) this.host.dueAt(result.availableAt);
        break;
      case 'delayed':
        if (e.kind === 'return') {
          logger.log('info', 'job.released', { ...base, reason: message, availableAt: result.availableAt, attemptSpent: false });
          events.emit('released', { job: eventJob(job), reason: message, availableAt: result.availableAt, attemptSpent: false });
        } else {
          c.delayed++;
          logger.log('info', 'job.delayed', { ...base, reason: message, availableAt: result.availableAt, attemptSpent: false });
          events.emit('delayed', { job: eventJob(job), reason: message, availableAt: result.availableAt });
        }
        if (result.availableAt > now) this.host.dueAt(result.availableAt);
        break;
      case 'failed':
        c.failed++;
        logger.log('error', 'job.failed', { ...base, error: result.reason, failedUuid: result.failedUuid });
        events.emit('failed', { job: eventJob(job), reason: result.reason, failedUuid: result.failedUuid, recovered: false });
        if (e.handler) this.host.hooks.run(e.handler, e.payload, new Error(result.reason, { cause: e.error }), job);
        break;
      case 'lost':
        if (e.kind !== 'lost') logger.log('warn', 'job.result_rejected', { ...base, reason: REJECTED });
        break;
    }
  }
}
