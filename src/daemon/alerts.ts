import { immediate, stmt, type Db } from '../queue/index.js';
import type { Logger } from './types.js';
import { postWebhook } from './webhook.js';

export interface LongWaitOptions {
  /** Threshold of a queue in ms; 0 turns its alert off. */
  thresholdMs: (queue: string) => number;
  webhookUrl?: string | null;
  logger: Logger;
}

/** What a long-wait webhook receives. */
export interface LongWaitEvent {
  event: 'queue.long_wait' | 'queue.long_wait_resolved';
  queue: string;
  /** How long the oldest ready job has waited (0 when resolved by emptying). */
  waitSeconds: number;
  thresholdSeconds: number;
  at: string;
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
  constructor(private readonly db: Db, private readonly options: LongWaitOptions) {}

  /** Check every queue now; returns the events this process raised. */
  check(now = Date.now()): LongWaitEvent[] {
    const db = this.db;
    const waits = new Map((stmt(db, `SELECT queue, MIN(available_at) AS oldest FROM jobs WHERE state = 'pending' GROUP BY queue`).all() as { queue: string; oldest: number }[])
      .map((r) => [r.queue, Math.max(0, now - r.oldest)]));
    const alerting = (stmt(db, `SELECT substr(key, 17) AS queue FROM settings WHERE key LIKE 'alert:long_wait:%' AND value = '1'`).all() as { queue: string }[]).map((r) => r.queue);
    const events: LongWaitEvent[] = [];
    for (const [queue, wait] of waits) {
      const threshold = this.options.thresholdMs(queue);
      if (threshold > 0 && wait > threshold && !alerting.includes(queue)) {
        const won = immediate(db, () => stmt(db, `INSERT INTO settings (key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = '1' WHERE settings.value <> '1'`).run(`alert:long_wait:${queue}`).changes === 1);
        if (won) events.push({ event: 'queue.long_wait', queue, waitSeconds: Math.round(wait / 100) / 10, thresholdSeconds: threshold / 1000, at: new Date(now).toISOString() });
      }
    }
    for (const queue of alerting) {
      const wait = waits.get(queue) ?? 0;
      const threshold = this.options.thresholdMs(queue);
      if (threshold === 0 || wait <= threshold) {
        const won = immediate(db, () => stmt(db, `UPDATE settings SET value = '0' WHERE key = ? AND value = '1'`).run(`alert:long_wait:${queue}`).changes === 1);
        if (won) events.push({ event: 'queue.long_wait_resolved', queue, waitSeconds: Math.round(wait / 100) / 10, thresholdSeconds: threshold / 1000, at: new Date(now).toISOString() });
      }
    }
    for (const e of events) {
      this.options.logger.log(e.event === 'queue.long_wait' ? 'warn' : 'info', e.event === 'queue.long_wait' ? 'alert.long_wait' : 'alert.resolved', { queue: e.queue, waitSeconds: e.waitSeconds, thresholdSeconds: e.thresholdSeconds });
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
