import fs from 'node:fs';
import path from 'node:path';

/**
 * Call `onChange` when another process may have committed to the database at `dbFile`:
 * an `fs.watch` on its `-wal` file (docs/wake-up.md: 0.12 ms p50 from commit to claim, ~0
 * idle CPU). Events are hints, never counts: they coalesce, repeat, and may arrive a hair
 * before the commit is visible, so the caller claims on every event and re-checks once
 * shortly after an empty claim. When the `-wal` file does not exist yet, or is renamed
 * away (the last connection closed), the watcher falls back to the database's folder and
 * re-arms on the `-wal` file as soon as it reappears. Keep a connection open while
 * watching: SQLite then keeps `-wal` in place.
 */
export class WalWatcher {
  private watcher: fs.FSWatcher | undefined;
  private mode: 'wal' | 'dir' | 'off' = 'off';
  private closed = false;
  private readonly walFile: string;
  private readonly dir: string;
  private readonly walBase: string;
  private readonly dbBase: string;

  constructor(dbFile: string, private readonly onChange: () => void) {
    this.walFile = `${dbFile}-wal`;
    this.dir = path.dirname(dbFile);
    this.walBase = path.basename(this.walFile);
    this.dbBase = path.basename(dbFile);
  }

  /** How it watches now: the -wal file, the folder, or not at all (the safety poll remains). */
  get watching(): 'wal' | 'dir' | 'off' {
    return this.mode;
  }

  start(): this {
    this.arm();
    return this;
  }

  close(): void {
    this.closed = true;
    this.disarm();
  }

  private disarm(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.mode = 'off';
  }

  private arm(): void {
    if (this.closed) return;
    this.disarm();
    try {
      this.watcher = fs.watch(this.walFile, { persistent: false }, (event) => {
        if (event === 'rename') {
          // -wal deleted or replaced: this watcher is dead; re-arm (folder fallback if gone).
          queueMicrotask(() => this.arm());
        }
        this.onChange();
      });
      this.watcher.on('error', () => queueMicrotask(() => this.arm()));
      this.mode = 'wal';
      return;
    } catch {
      // ENOENT: no -wal yet. Watch the folder until it appears.
    }
    try {
      this.watcher = fs.watch(this.dir, { persistent: false }, (_event, filename) => {
        const name = filename?.toString();
        if (name === this.walBase) {
          queueMicrotask(() => {
            if (this.mode === 'dir' && fs.existsSync(this.walFile)) this.arm();
          });
          this.onChange();
        } else if (name === this.dbBase || name === undefined) {
          this.onChange();
        }
      });
      this.watcher.on('error', () => this.disarm());
      this.mode = 'dir';
    } catch {
      this.mode = 'off';
    }
  }
}
