import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DatabaseError } from './errors.js';
import { queueMigrations } from './migrations.js';

export type Db = Database.Database;

/**
 * How hard a commit tries to reach the disk.
 * - `normal`: WAL + synchronous=NORMAL. A crashed process loses nothing; a power cut may
 *   lose the last few commits. The default.
 * - `full`: WAL + synchronous=FULL. Every acknowledged commit survives a power cut (one
 *   fsync per commit, ~0.33 ms here); the daemon groups claims and completions that arrive
 *   together into one commit to keep throughput.
 */
export type Durability = 'normal' | 'full';

export interface OpenOptions {
  /** The migrations to apply, in order (default: the queue's own). */
  migrations?: readonly string[];
  /** Default `normal`. */
  durability?: Durability;
  /** Open read-only (the monitor); the file must exist and be migrated. Default false. */
  readonly?: boolean;
  /** Busy timeout in ms. Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * Open (creating if needed) the database at `file`: the folder is created 0700 and the file
 * 0600, WAL on, busy_timeout ≥ 5 s, foreign keys on, and the migrations applied. A database
 * whose schema is newer than `migrations` is refused with a DatabaseError and left untouched,
 * as is a file that is not a SQLite database.
 */
export function openDatabase(file: string, options: OpenOptions = {}): Db {
  const migrations = options.migrations ?? queueMigrations;
  const readonly = options.readonly ?? false;
  if (file !== ':memory:') {
    if (readonly) {
      if (!fs.existsSync(file)) throw new DatabaseError(`no database at ${file} (run a command that writes, such as \`gitroast analyze\`, first)`);
    } else {
      createFile(file);
    }
  }
  let db: Db;
  try {
    db = new Database(file, { readonly, fileMustExist: readonly });
  } catch (err) {
    throw describeOpenError(file, err, 'cannot open database');
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(5000, options.busyTimeoutMs ?? 5000)}`);
    let version: number;
    try {
      version = db.pragma('user_version', { simple: true }) as number;
    } catch (err) {
      throw describeOpenError(file, err, 'cannot read database');
    }
    if (version > migrations.length) {
      throw new DatabaseError(
        `database ${file} has schema version ${version}, newer than this gitroast understands (${migrations.length}); upgrade gitroast to use it`,
      );
    }
    // Version 0 with tables: some other program's SQLite file (a mistyped --db). Checked before
    // the switch to WAL, which would already rewrite its header.
    if (version === 0 && db.prepare(`SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') LIMIT 1`).get()) {
      throw new DatabaseError(`${file} is a SQLite database but not a gitroast one (it has tables but no gitroast schema version); it was left untouched`);
    }
    if (readonly) {
      if (version < migrations.length) {
        throw new DatabaseError(`database ${file} has schema version ${version}, older than ${migrations.length}; run any writing command (e.g. \`gitroast status\`) to migrate it`);
      }
    } else {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal' && file !== ':memory:') throw new DatabaseError(`cannot switch ${file} to WAL mode (got ${String(mode)})`);
    }
    db.pragma(`synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    // UPDATE … RETURNING inside a transaction: 0.23 ms → 0.023 ms with in-memory temp storage (WAKE-UP.md).
    db.pragma('temp_store = MEMORY');
    // Keep a checkpointed WAL from staying huge on disk.
    if (!readonly) db.pragma('journal_size_limit = 67108864');
    if (!readonly && version < migrations.length) migrate(db, migrations, file);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof DatabaseError) throw err;
    throw describeOpenError(file, err, 'cannot use database');
  }
}

/**
 * Turn an error met while opening `file` into a DatabaseError whose message says what is
 * wrong and what to do: not a SQLite file, corrupt, or the disk is full. SQLite reports a
 * full disk at open time as a generic I/O error (it cannot size the -shm file), so the free
 * space of the folder is checked before blaming anything else.
 */
export function describeOpenError(file: string, err: unknown, doing: string): DatabaseError {
  const code = (err as { code?: unknown }).code;
  const message = (err as Error).message ?? String(err);
  if (code === 'SQLITE_FULL' || diskFull(file)) {
    return new DatabaseError(`the disk holding ${file} is full: nothing was written; free some space and try again`, { cause: err });
  }
  if (code === 'SQLITE_NOTADB') return new DatabaseError(`${file} is not a gitroast database (${message}); it was left untouched`, { cause: err });
  if (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT')) {
    return new DatabaseError(`database ${file} is corrupt (${message}); it was left untouched: restore it from a backup (\`gitroast backup\`) or inspect it with \`gitroast doctor\``, { cause: err });
  }
  return new DatabaseError(`${doing} ${file}: ${message}`, { cause: err });
}

/** True when the filesystem holding `file` has (almost) no space left for this user. */
export function diskFull(file: string): boolean {
  try {
    const s = fs.statfsSync(path.dirname(file));
    // Less than 64 KiB: not even room for the 32 KiB -shm index and one WAL frame.
    return s.bavail * s.bsize < 65_536;
  } catch {
    return false;
  }
}

/** Read the schema version recorded in the database. */
export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function createFile(file: string): void {
  const dir = path.dirname(file);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // SQLite gives -wal and -shm the mode of the database file, so 0600 here covers all three.
    const fd = fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600);
    fs.closeSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    throw new DatabaseError(`cannot create database ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function migrate(db: Db, migrations: readonly string[], file: string): void {
  immediate(db, () => {
    // Another process may have migrated between our check and this write lock.
    const current = schemaVersion(db);
    if (current > migrations.length) throw new DatabaseError(`database schema version ${current} is newer than this gitroast understands (${migrations.length})`);
    if (current === 0 && db.prepare(`SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') LIMIT 1`).get()) {
      throw new DatabaseError(`${file} is a SQLite database but not a gitroast one (it has tables but no gitroast schema version); it was left untouched`);
    }
    for (let v = current; v < migrations.length; v++) db.exec(migrations[v]!);
    db.pragma(`user_version = ${migrations.length}`);
  });
}

const runners = new WeakMap<Db, { immediate: (fn: () => unknown) => unknown }>();

/**
 * Run `fn` inside a BEGIN IMMEDIATE transaction (or inside the caller's transaction when one
 * is already open) and return its result. `fn` must be synchronous: a write transaction is
 * never held across an await.
 */
export function immediate<T>(db: Db, fn: () => T): T {
  if (db.inTransaction) return fn();
  let runner = runners.get(db);
  if (!runner) {
    const tx = db.transaction((f: () => unknown) => f());
    runner = { immediate: (f) => tx.immediate(f) };
    runners.set(db, runner);
  }
  return runner.immediate(fn) as T;
}

const statementCache = new WeakMap<Db, Map<string, Database.Statement>>();

/** Prepare `sql` once per connection and reuse it. */
export function stmt(db: Db, sql: string): Database.Statement {
  let cache = statementCache.get(db);
  if (!cache) {
    cache = new Map();
    statementCache.set(db, cache);
  }
  let s = cache.get(sql);
  if (!s) {
    s = db.prepare(sql);
    cache.set(sql, s);
  }
  return s;
}
