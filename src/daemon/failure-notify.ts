/**
 * Failure notifications (Horizon's routeSlackNotificationsTo, for failed jobs): a job that
 * fails for good, of a job name or on a queue the config opts in (`notify.failures`),
 * enqueues a `notify-failure` job in the transaction that fails it (the queue's failure
 * hook); that job posts the webhook, with retries, like the analysis `notify` job.
 * Not notified: jobs whose chain has a catch job (it handles the failure: an analysis
 * notifies through its own chain), silenced jobs, and notify-failure jobs themselves.
 */
import { DelayError, isSilenced, PermanentError, type FailureHook, type FinalFailure, type JobSpec, type Silenced } from '../queue/index.js';
import { safeLine } from '../util/terminal.js';
import type { Registry } from './registry.js';
import { maskUrl } from '../util/format.js';
import { withNetworkRetries } from '../util/retry.js';

/** The job name of a failure notification. */
export const NOTIFY_FAILURE_JOB = 'notify-failure';

/** Tries, backoff (s) and timeout of a failure notification: the analysis notify job's. */
export const NOTIFY_FAILURE_OPTIONS = { tries: 5, backoff: [30, 120, 600], timeoutMs: 30_000 } as const;

/** Timeout of one webhook POST: 10,000 ms. */
const POST_TIMEOUT_MS = 10_000;

/** Which failures notify. */
export interface FailureNotifyOptions {
  /** Job names that notify when they fail for good. */
  jobs: readonly string[];
  /** Queues whose jobs notify when they fail for good. */
  queues: readonly string[];
  /** Silenced job names and tags: they never notify. */
  silenced: Silenced;
  /** The queue of the notification jobs. Default low. */
  queue?: string;
}

/** Whether `f` notifies under `o`. */
export function notifies(o: FailureNotifyOptions, f: Pick<FinalFailure, 'name' | 'queue' | 'tags' | 'handledByChain'>): boolean {
  if (f.name === NOTIFY_FAILURE_JOB || f.handledByChain || isSilenced(o.silenced, f.name, f.tags)) return false;
  return o.jobs.includes(f.name) || o.queues.includes(f.queue);
}

/** The queue's failure hook: a notify-failure job for each failure that notifies. Returns undefined when nothing is opted in. */
export function failureNotifyHook(o: FailureNotifyOptions): FailureHook | undefined {
  if (o.jobs.length === 0 && o.queues.length === 0) return undefined;
  return (f) => {
    if (!notifies(o, f)) return undefined;
    const spec: JobSpec = { name: NOTIFY_FAILURE_JOB, queue: o.queue ?? 'low', payload: f, ...NOTIFY_FAILURE_OPTIONS, backoff: [...NOTIFY_FAILURE_OPTIONS.backoff] };
    return spec;
  };
}

/** Escape text for Slack mrkdwn (which also keeps `<!channel>`-style mentions inert). */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The webhook body of a failure: `text` (Slack) and `content` (Discord) with one line,
 * mentions disabled, and the structured fields under `job`.
 */
export function failureMessage(f: FinalFailure): Record<string, unknown> {
  const text = slackEscape(`gitroast: job ${safeLine(f.name)} #${f.jobId} on queue ${safeLine(f.queue)} failed for good after attempt ${f.attempt}: ${safeLine(f.error).slice(0, 300)}`);
  return {
    text,
    content: text.slice(0, 2000),
    allowed_mentions: { parse: [] },
    event: 'job.failed',
    job: {
      id: f.jobId, name: f.name, queue: f.queue, tags: f.tags, attempt: f.attempt, error: safeLine(f.error),
      failedUuid: f.failedUuid, failedAt: new Date(f.failedAt).toISOString(),
    },
  };
}

/** What the notify-failure handler needs. */
export interface FailureNotifyDeps {
  /** The webhook URL, read when the job runs (never stored in a payload); undefined: nothing to send. */
  webhookUrl: () => string | undefined;
  fetch?: typeof fetch;
  now?: () => number;
}

/** Register the notify-failure handler (it writes nothing, so on either engine's registry): POST the failure's message; retried on 5xx and network errors, delayed on 429. */
export function registerFailureNotify<W>(registry: Registry<W>, deps: FailureNotifyDeps): void {
  registry.register<FinalFailure>(NOTIFY_FAILURE_JOB, {
    timeoutMs: NOTIFY_FAILURE_OPTIONS.timeoutMs,
    async handle(f, ctx) {
      const url = deps.webhookUrl();
      if (!url) return ctx.log('info', 'notify.skipped', { reason: 'no webhookUrl (notify.failures.webhookUrl or webhookUrl) is configured' });
      const where = maskUrl(url);
      let res: Response;
      try {
        // A network error on this one POST is tried again within the call (withNetworkRetries)
        // before the attempt goes back to the queue's backoff.
        res = await withNetworkRetries(() => (deps.fetch ?? globalThis.fetch)(url, {
          method: 'POST',
          // The failed_jobs uuid is the same on every repeat, so a receiver can drop duplicates.
          headers: { 'content-type': 'application/json', 'user-agent': 'gitroast', 'idempotency-key': `job.failed:${f.failedUuid}` },
          body: JSON.stringify(failureMessage(f)),
          signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(POST_TIMEOUT_MS)]),
        }), ctx.signal);
      } catch (err) {
        throw new Error(`could not reach the webhook at ${where}: ${safeLine((err as Error).message).slice(0, 200)}`, { cause: err });
      }
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return ctx.log('info', 'notify.sent', { webhook: where, job: f.jobId, failed: f.name });
      if (res.status === 429) {
        const seconds = Number(res.headers.get('retry-after'));
        const wait = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 30_000;
        throw new DelayError((deps.now ?? Date.now)() + wait, `the webhook at ${where} is rate limited; retrying in ${Math.round(wait / 1000)} s`);
      }
      if (res.status >= 400 && res.status < 500 && res.status !== 408) throw new PermanentError(`the webhook at ${where} answered ${res.status}; check the webhook URL in the config`);
      throw new Error(`the webhook at ${where} answered ${res.status}; will retry`);
    },
  });
}
