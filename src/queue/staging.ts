import Database from 'better-sqlite3';

/** Staged values read at a time. */
const CHUNK = 1000;
/** Staged rows written per staging transaction. */
const STAGE_COMMIT_EVERY = 10_000;
/** Page cache of the staging database, KiB; beyond it SQLite spills to its temporary file. */
const STAGE_CACHE_KIB = 4096;

/** One staged value and, once used, what became of it (`ref`, `created`, `note`: the caller's words). */
export interface Staged {
  seq: number;
  value: string;
  /** What the value became (an id), once recorded. */
  ref: string | null;
  /** True when something new was made for it; false when an existing one was handed back. */
  created: boolean;
  note: string | null;
}

/**
 * Values staged on disk, unique by lower case, in the order first seen: a private temporary
 * SQLite database (SQLite unlinks its file as soon as it is created, so a kill leaves
 * nothing), for input too large to hold in memory (`gitroast batch`). Not the queue's
 * database: it is never shared.
 */
export class Staging {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly update: Database.Statement;
  private pending = 0;
  /** Values offered (duplicates included) and values kept. */
  offered = 0;
  kept = 0;

  constructor() {
    // An empty file name: a private database on disk, deleted when closed.
    this.db = new Database('');
    this.db.pragma('temp_store = FILE');
    this.db.pragma(`cache_size = -${STAGE_CACHE_KIB}`);
    this.db.pragma('journal_mode = OFF');
    this.db.pragma('synchronous = OFF');
    this.db.exec(`CREATE TABLE staged (
      seq INTEGER PRIMARY KEY,
      key TEXT NOT NULL UNIQUE,
      value TEXT NOT NULL,
      ref TEXT,
      created INTEGER NOT NULL DEFAULT 0,
      note TEXT
    )`);
    this.insert = this.db.prepare('INSERT INTO staged (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING');
    this.update = this.db.prepare('UPDATE staged SET ref = ?, created = ?, note = ? WHERE seq = ?');
  }

  /** Stage a (checked) value; false when the same value (any case) is already staged. */
  add(value: string): boolean {
    if (this.pending === 0) this.db.exec('BEGIN');
    const added = this.insert.run(value.toLowerCase(), value).changes > 0;
    this.offered++;
    if (added) this.kept++;
    if (++this.pending >= STAGE_COMMIT_EVERY) this.flush();
    return added;
  }

  /** Commit what is staged so far. */
  flush(): void {
    if (this.pending === 0) return;
    this.db.exec('COMMIT');
    this.pending = 0;
  }

  /** Yield the staged values in order, `size` at a time (no cursor stays open between chunks). */
  *chunks(size = CHUNK): Generator<Staged[]> {
    this.flush();
    const page = this.db.prepare('SELECT seq, value, ref, created, note FROM staged WHERE seq > ? ORDER BY seq LIMIT ?');
    let after = 0;
    for (;;) {
      const rows = page.all(after, size) as { seq: number; value: string; ref: string | null; created: number; note: string | null }[];
      if (rows.length === 0) return;
      after = rows[rows.length - 1]!.seq;
      yield rows.map((r) => ({ seq: r.seq, value: r.value, ref: r.ref, created: r.created === 1, note: r.note }));
    }
  }

  /** Record what became of a staged value. */
  record(seq: number, ref: string, created: boolean, note: string | null): void {
    this.update.run(ref, created ? 1 : 0, note, seq);
  }

  /** Close and delete the staging database. */
  close(): void {
    if (this.db.open) this.db.close();
  }
}
