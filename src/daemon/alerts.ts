import { STALE_MS, type AnyStore } from '../queue/index.js';
import type { Logger } from './types.js';
import { postWebhook } from './webhook.js';

export interface LongWaitOptions {
  /** Threshold of a queue in ms; 0 turns its alert off. */
  thresholdMs: (queue: string) => number;
  webhookUrl?: string | null;
  logger: Logger;
  /** A daemon counts as alive (serving its queues) when its heartbeat is younger than this. Default STALE_MS (30,000 ms). */
  aliveMs?: number;
}

/**
 * What an alert webhook receives: `text` (Slack) and `content` (Discord) carry a one-line
 * summary, so the body works when posted to either's incoming webhook as it is; the
 * structured fields sit beside them.
 */
export interface LongWaitEvent {
  event: 'queue.long_wait' | 'queue.long_wait_resolved' | 'queue.unserved' | 'queue.unserved_resolved';
  queue: string;
  /** How long the oldest ready job has waited (0 when resolved by emptying). */
  waitSeconds: number;
  /** The long-wait threshold (0 for the unserved alerts). */
  thresholdSeconds: number;
  at: string;
  /** One line for Slack. */
  text: string;
  /** The same line for Discord. */
  content: string;
  /** Mentions in the text stay inert on Discord. */
  allowed_mentions: { parse: never[] };
}

/** The one-line summary of an alert. */
function summary(event: LongWaitEvent['event'], queue: string, waitSeconds: number, thresholdSeconds: number): string {
  switch (event) {
    case 'queue.long_wait':
      return `gitroast: queue ${queue} has a job waiting ${waitSeconds} s (threshold ${thresholdSeconds} s)`;
    case 'queue.long_wait_resolved':
      return `gitroast: queue ${queue} is back under its ${thresholdSeconds} s wait threshold`;
    case 'queue.unserved':
      return `gitroast: nobody serves queue ${queue}: no live daemon lists it and ${waitSeconds} s of work waits (start a daemon with --queues including ${queue})`;
    case 'queue.unserved_resolved':
      return `gitroast: queue ${queue} is served again (or empty)`;
  }
}

function makeEvent(event: LongWaitEvent['event'], queue: string, waitMs: number, thresholdMs: number, now: number): LongWaitEvent {
  const waitSeconds = Math.round(waitMs / 100) / 10;
  const thresholdSeconds = thresholdMs / 1000;
  const text = summary(event, queue, waitSeconds, thresholdSeconds);
  return { event, queue, waitSeconds, thresholdSeconds, at: new Date(now).toISOString(), text, content: text.slice(0, 2000), allowed_mentions: { parse: [] } };
}

/**
 * Long-wait alerts (Horizon's LongWaitDetected): when a queue's oldest ready job has waited
 * past its threshold, log it and send the webhook once; when the wait drops back under the
 * threshold, log and send the resolution once. The alert state lives in the settings table
 * and flips through guarded UPDATEs, so with several daemons each alert and each
 * resolution is sent by exactly one of them, and a restart does not repeat it.
 */
export class LongWaitAlerts {
  private readonly sending = new Set<Promise<boolean>>();
  constructor(private readonly store: AnyStore, private readonly options: LongWaitOptions) {}

  /**
   * Check every queue now; returns the events this process raised. Paused queues and
   * queues no live daemon serves get no long-wait alert (their wait is expected, or has
   * another cause); a queue with ready jobs that no live daemon serves (and that is not
   * paused) gets its own alert, "nobody serves queue X", resolved once served or empty.
   * Waits are measured on the store's clock.
   */
  async check(): Promise<LongWaitEvent[]> {
    const store = this.store;
    const now = store.now();
    const waits = new Map([...(await store.oldestPendingByQueue())].map(([queue, oldest]) => [queue, Math.max(0, now - oldest)]));
    const paused = await store.pausedQueues();
    const served = new Set((await store.liveWorkers(this.options.aliveMs ?? STALE_MS)).flatMap((w) => w.queues));
    const events: LongWaitEvent[] = [];
    const longWait = await store.raisedAlerts('long_wait');
    for (const [queue, wait] of waits) {
      if (paused.has(queue) || !served.has(queue)) continue;
      const threshold = this.options.thresholdMs(queue);
      if (threshold > 0 && wait > threshold && !longWait.includes(queue) && (await store.raiseAlert('long_wait', queue))) events.push(makeEvent('queue.long_wait', queue, wait, threshold, now));
    }
    for (const queue of longWait) {
      const wait = waits.get(queue) ?? 0;
      const threshold = this.options.thresholdMs(queue);
      if ((threshold === 0 || wait <= threshold) && (await store.resolveAlert('long_wait', queue))) events.push(makeEvent('queue.long_wait_resolved', queue, wait, threshold, now));
    }
    const unserved = await store.raisedAlerts('unserved');
    for (const [queue, wait] of waits) {
      if (!paused.has(queue) && !served.has(queue) && !unserved.includes(queue) && (await store.raiseAlert('unserved', queue))) events.push(makeEvent('queue.unserved', queue, wait, 0, now));
    }
    for (const queue of unserved) {
      if ((!waits.has(queue) || served.has(queue) || paused.has(queue)) && (await store.resolveAlert('unserved', queue))) events.push(makeEvent('queue.unserved_resolved', queue, waits.get(queue) ?? 0, 0, now));
    }
    for (const e of events) {
      const warn = e.event === 'queue.long_wait' || e.event === 'queue.unserved';
      const name = e.event === 'queue.long_wait' ? 'alert.long_wait' : e.event === 'queue.unserved' ? 'alert.unserved' : 'alert.resolved';
      this.options.logger.log(warn ? 'warn' : 'info', name, { queue: e.queue, waitSeconds: e.waitSeconds, thresholdSeconds: e.thresholdSeconds, alert: e.event });
      if (this.options.webhookUrl) {
        const p = postWebhook(this.options.webhookUrl, e, this.options.logger);
        this.sending.add(p);
        void p.finally(() => this.sending.delete(p));
      }
    }
    return events;
  }

  /** Wait for webhooks under way (bounded by their own timeout). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.sending]);
  }
}
