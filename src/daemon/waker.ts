/**
 * The waker: everything that makes the slot loop claim again. An enqueue in this process,
 * another process's commit seen on the -wal file (wake.ts), a delayed job falling due, a
 * throttle's window ending, the one-second safety poll, and the lost-wake-up re-check
 * (docs/wake-up.md: the WAL event can come a hair before the commit is visible).
 */
import { performance } from 'node:perf_hooks';
import type { AnyStore } from '../queue/index.js';
import { WalWatcher } from './wake.js';


/** How long to keep re-reading after another process's -wal event found nothing visible yet. */
const RECHECK_MS = 1.5;

/** What the waker needs from the slot loop. */
export interface WakeHost {
  readonly store: AnyStore;
  /** The queues a claim would read. */
  readonly queues: readonly string[];
  /** True while the worker claims (running, not stopping). */
  running(): boolean;
  /** True while the worker is running and has a free slot. */
  hasRoom(): boolean;
  /** Claim now; `check`: a hint, read before taking the write lock. */
  pump(check: boolean): void;
  /** The safety poll's own work (control flags, rebalancing), before its claim. */
  tick(): Promise<void>;
}

/** Options of the waker, with the worker's defaults applied. */
export interface WakeOptions {
  pollMs: number;
  /** The database file to watch, or undefined to rely on the safety poll alone. */
  watchFile: string | undefined;
}

export class Waker {
  /** What the last hint was: a -wal event, the echo of our own write, or the safety poll. */
  private hint: 'event' | 'echo' | 'poll' = 'poll';
  /** Our connection's write count at the last -wal event (Store.ownWrites). */
  private ownSeen: number | undefined;
  private echoTimer: NodeJS.Timeout | undefined;
  private dueTimer: NodeJS.Timeout | undefined;
  private dueAtMs = Infinity;
  private pollTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private pumpScheduled = false;
  private recheckUntil = 0;
  private watcher: WalWatcher | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly host: WakeHost, private readonly options: WakeOptions) {
    this.ownSeen = host.store.ownWrites?.();
  }

  /** Listen to this process's enqueues, watch the -wal file, start the safety poll. */
  start(): void {
    const host = this.host;
    this.unsubscribe = host.store.onEnqueued(() => {
      if (host.running()) host.pump(false);
    });
    if (this.options.watchFile !== undefined) this.watcher = new WalWatcher(this.options.watchFile, () => this.onWalEvent()).start();
    this.pollTimer = setInterval(() => void this.poll(), this.options.pollMs);
  }

  /** Stop listening and polling (the retry timer stays: the shutdown's last commits may use it). */
  close(): void {
    clearInterval(this.pollTimer);
    clearTimeout(this.dueTimer);
    clearTimeout(this.echoTimer);
    this.watcher?.close();
    this.unsubscribe?.();
  }

  /** Stop the retry timer too (the worker has stopped). */
  closeAll(): void {
    this.close();
    clearTimeout(this.retryTimer);
  }

  /**
   * Another process may have committed. Claim on every event (docs/wake-up.md: lost
   * wake-ups). Note whether our own connection wrote since the last event: then this event
   * is most likely the echo of that write (every write of ours changes the -wal too: the
   * worker's commits, heartbeats, the scheduler's and housekeeping's writes).
   */
  private onWalEvent(): void {
    const own = this.host.store.ownWrites?.();
    this.hint = own !== undefined && own !== this.ownSeen ? 'echo' : 'event';
    if (own !== undefined) this.ownSeen = own;
    if (this.host.hasRoom()) this.host.pump(true);
  }

  private async poll(): Promise<void> {
    if (!this.host.running()) return;
    await this.host.tick();
    this.hint = 'poll';
    if (this.host.running()) this.host.pump(true);
  }

  /** Claim again on the next turn of the event loop (once, however often asked). */
  soon(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.host.pump(false);
    });
  }

  /** Claim again shortly after a database error (at most the safety poll's interval, 1 s). */
  retryLater(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.host.pump(false);
    }, Math.min(this.options.pollMs, 1000));
  }

  /** Arm a timer for the next delayed job (ours or another process's), if earlier than the armed one. */
  async armDue(): Promise<void> {
    const at = await this.host.store.nextDueAt();
    if (at !== undefined) this.dueAt(Math.max(at, this.host.store.now()));
  }

  /** Claim again at `at` (a delayed job falls due, a throttle's window ends), if earlier than the armed time. */
  dueAt(at: number): void {
    if (!this.host.running() || at >= this.dueAtMs) return;
    clearTimeout(this.dueTimer);
    this.dueAtMs = at;
    this.dueTimer = setTimeout(() => {
      this.dueTimer = undefined;
      this.dueAtMs = Infinity;
      this.host.pump(false);
    }, Math.min(2 ** 31 - 1, Math.max(0, at - this.host.store.now()) + 1));
  }

  /**
   * A hint found nothing ready. After the safety poll, that is all. After another process's
   * -wal event, its commit may not be visible yet: the event comes with the WAL write, just
   * before the commit is published, and a durable commit is visible only after its fsync
   * (~0.3 ms). So re-read on the next event-loop turns for up to RECHECK_MS (a 1-2 ms timer
   * overshoots by 4-10 ms on this VM; the publish takes microseconds), and if that still
   * finds nothing, claim once anyway: the claim's BEGIN IMMEDIATE waits for the write lock,
   * which that process holds until its commit is visible (a slow fsync), so the claim sees
   * it, or costs one empty write transaction. The echo of our own write neither re-reads
   * nor claims, or a busy worker would burn a core after every commit; one cheap look a
   * little later covers a foreign commit that came in the same instant. (Telling echoes by
   * time since our last commit made a job enqueued 1-2 ms after it wait for that look; by
   * the -wal's size fails too, as SQLite rewrites the file from its start after a
   * checkpoint.)
   */
  nothingVisible(): void {
    const hint = this.hint;
    this.hint = 'event';
    if (hint === 'poll' || this.recheckUntil > 0) return;
    const host = this.host;
    if (hint === 'echo') {
      if (this.echoTimer === undefined) {
        this.echoTimer = setTimeout(() => {
          this.echoTimer = undefined;
          if (host.hasRoom()) void this.ready().then((yes) => yes && host.pump(false));
        }, 2);
      }
      return;
    }
    this.recheckUntil = performance.now() + RECHECK_MS;
    const again = async () => {
      if (!host.hasRoom()) {
        this.recheckUntil = 0;
        return;
      }
      if (await this.ready()) {
        this.recheckUntil = 0;
        host.pump(false);
        return;
      }
      if (performance.now() < this.recheckUntil) {
        setImmediate(() => void again());
        return;
      }
      this.recheckUntil = 0;
      host.pump(false);
    };
    setImmediate(() => void again());
  }

  /** True when a claim could find something: a ready job in our queues or a due delayed one. */
  ready(): Promise<boolean> {
    return this.host.store.readyToClaim(this.host.queues).catch(() => false);
  }
}
