/**
 * The idle checkpoint: when the worker has been idle for QUIET_MS with at least `every` row
 * changes since its last checkpoint, run a PASSIVE checkpoint, so SQLite's auto-checkpoint
 * (every 1,000 pages, inside whichever commit crosses the line) rarely lands inside a claim
 * or an enqueue (docs/wake-up.md: a checkpoint inside a claim made it take 4-10 ms). The
 * checkpoint blocks the event loop for its fsyncs (1-7 ms seen), so it waits for a quiet
 * moment: run at once on going idle, it held up the next job whenever jobs came 1-2 ms
 * apart (14 checkpoints in 1,500 such jobs, each one a job's late start). A busy worker
 * leaves checkpoints to SQLite.
 */
import type { Store } from '../queue/index.js';
import type { Logger } from './types.js';

/** How long the worker must stay idle before its checkpoint runs, ms. */
const QUIET_MS = 10;

export class IdleCheckpoint {
  private changes = 0;
  private timer: NodeJS.Timeout | undefined;

  /** `every`: changes between checkpoints, 0 for none; `idle`: still idle when the checkpoint would run. */
  constructor(private readonly store: Store, private readonly logger: Logger, private readonly every: number, private readonly idle: () => boolean) {}

  /** Count row changes; a write also means the worker was not quiet. */
  wrote(changes: number): void {
    this.changes += changes;
    this.cancel();
  }

  /** The worker is idle now: checkpoint once it has stayed idle for QUIET_MS, if enough was written since the last one. */
  idleNow(): void {
    if (this.every <= 0 || this.changes < this.every || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.idle()) return;
      this.changes = 0;
      this.store.checkpoint('PASSIVE').catch((err: unknown) => this.logger.log('warn', 'worker.checkpoint_failed', { error: err as Error }));
    }, QUIET_MS);
    this.timer.unref();
  }

  /** Forget a pending checkpoint (work came, or the worker stops). */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
