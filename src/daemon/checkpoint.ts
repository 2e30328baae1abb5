/**
 * The idle checkpoint: when the worker goes idle with at least `every` row changes since
 * its last checkpoint, run a PASSIVE checkpoint right then, so SQLite's auto-checkpoint
 * (every 1,000 pages, inside whichever commit crosses the line) rarely lands inside a
 * claim or an enqueue (docs/wake-up.md: a checkpoint inside a claim made it take 4-10 ms).
 * A busy worker leaves checkpoints to SQLite.
 */
import type { AnyStore } from '../queue/index.js';
import type { Logger } from './types.js';

export class IdleCheckpoint {
  private changes = 0;
  private scheduled = false;

  /** `every`: changes between checkpoints, 0 for none; `idle`: still idle when the checkpoint would run. */
  constructor(private readonly store: AnyStore, private readonly logger: Logger, private readonly every: number, private readonly idle: () => boolean) {}

  /** Count row changes. */
  wrote(changes: number): void {
    this.changes += changes;
  }

  /** The worker is idle now: checkpoint after this turn if enough was written since the last one. */
  idleNow(): void {
    if (this.every <= 0 || this.changes < this.every || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.idle()) return;
      this.changes = 0;
      this.store.checkpoint('PASSIVE').catch((err: unknown) => this.logger.log('warn', 'worker.checkpoint_failed', { error: err as Error }));
    });
  }
}
