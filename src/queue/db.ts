import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DatabaseError } from './errors.js';
import { LEDGER_SQL, LEDGER_TABLE, planMigrations, readSchemaState, type LedgerPlan, type MigrationRoom, type SchemaState } from './ledger.js';
import { queueRoom } from './migrations.js';

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
  /** The rooms whose migrations to apply, each room's in its order (default: the queue alone). */
  rooms?: readonly MigrationRoom[];
  /** Default `normal`. */
  durability?: Durability;
  /** Open read-only (the monitor); the file must exist and be migrated. Default false. */
  readonly?: boolean;
  /** Busy timeout in ms. Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * Open (creating if needed) the database at `file`: the folder is created 0700 and the file
 * 0600, WAL on, busy_timeout ≥ 5 s, foreign keys on, and the missing migrations of `rooms`
 * applied, each in its own transaction and recorded in the migration ledger (ledger.ts). A
 * database made before the ledger is upgraded in place. A database that a newer gitroast
 * migrated, a file that is not SQLite and another program's SQLite file are refused with a
 * DatabaseError and left untouched. Read-only, nothing is migrated: a database that lacks a
 * migration is refused.
 */
export function openDatabase(file: string, options: OpenOptions = {}): Db {
  const rooms = options.rooms ?? [queueRoom];
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
    let state: SchemaState;
    try {
      state = readSchemaState(db);
    } catch (err) {
      throw describeOpenError(file, err, 'cannot read database');
    }
    // Every refusal comes before the switch to WAL, which would already rewrite the header.
    const plan = usablePlan(file, state, rooms);
    if (readonly) {
      if (state.kind !== 'ledger' || plan.pending.length > 0) {
        const lacking = state.kind === 'ledger' ? plan.pending.map((m) => m.id).join(', ') : 'its migration ledger';
        throw new DatabaseError(`database ${file} is not fully migrated (it lacks ${lacking}); run any writing command (e.g. \`gitroast status\`) to migrate it`);
      }
    } else {
      const mode = switchToWal(db, Math.max(5000, options.busyTimeoutMs ?? 5000));
      if (mode !== 'wal' && file !== ':memory:') throw new DatabaseError(`cannot switch ${file} to WAL mode (got ${String(mode)})`);
    }
    db.pragma(`synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    // UPDATE … RETURNING inside a transaction: 0.23 ms → 0.023 ms with in-memory temp storage (docs/wake-up.md).
    db.pragma('temp_store = MEMORY');
    // Keep a checkpointed WAL from staying huge on disk.
    if (!readonly) db.pragma('journal_size_limit = 67108864');
    if (!readonly && (state.kind !== 'ledger' || plan.pending.length > 0)) migrate(db, rooms, file);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof DatabaseError) throw err;
    throw describeOpenError(file, err, 'cannot use database');
  }
}

/**
 * Check that a database in `state` may be used with `rooms`, and return what it lacks; throw
 * a DatabaseError saying why when it may not (newer, another program's, damaged).
 */
function usablePlan(file: string, state: SchemaState, rooms: readonly MigrationRoom[]): LedgerPlan {
  switch (state.kind) {
    case 'empty':
      return planMigrations([], rooms);
    case 'foreign':
      throw new DatabaseError(`${file} is a SQLite database but not a gitroast one (it has tables but no gitroast schema); it was left untouched`);
    case 'legacy-newer':
      throw new DatabaseError(`database ${file} has schema version ${state.userVersion}, newer than this gitroast understands; upgrade gitroast to use it`);
    case 'legacy-unknown':
      throw new DatabaseError(
        `database ${file} has schema version ${state.userVersion} but tables that no gitroast release wrote at that version (it has ${state.found.join(', ')}); it was left untouched`,
      );
    case 'legacy':
    case 'ledger': {
      const plan = planMigrations(state.applied, rooms);
      if (plan.unknown.length > 0) {
        throw new DatabaseError(`database ${file} has migrations ${plan.unknown.join(', ')}, newer than this gitroast understands; upgrade gitroast to use it`);
      }
      if (plan.gaps.length > 0) {
        throw new DatabaseError(`database ${file} lacks migrations ${plan.gaps.join(', ')} although later ones are recorded; it was left untouched: restore it from a backup (\`gitroast backup\`)`);
      }
      return plan;
    }
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
function diskFull(file: string): boolean {
  try {
    const s = fs.statfsSync(path.dirname(file));
    // Less than 64 KiB: not even room for the 32 KiB -shm index and one WAL frame.
    return s.bavail * s.bsize < 65_536;
  } catch {
    return false;
  }
}

/**
 * Switch the connection's database to WAL and return the journal mode it is in. When
 * another process is switching or migrating the same new file at this moment, SQLite
 * answers SQLITE_BUSY at once (its busy handler is not consulted for that lock; seen: two
 * processes opening a fresh file together), so try again, briefly sleeping, for up to
 * `timeoutMs`.
 */
function switchToWal(db: Db, timeoutMs: number): unknown {
  const deadline = Date.now() + timeoutMs;
  for (let waitMs = 1; ; waitMs = Math.min(waitMs * 2, 50)) {
    try {
      return db.pragma('journal_mode = WAL', { simple: true });
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw err;
      // A synchronous sleep: opening is synchronous, and this is start-up, not a hot path.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, waitMs);
    }
  }
}

/**
 * Count the migrations applied to the database: the ids in its ledger (every room's), or
 * for a database from before the ledger, its PRAGMA user_version. The opener keeps
 * user_version equal to this count, so a release from before the ledger refuses a database
 * that a later migration changed.
 */
export function schemaVersion(db: Db): number {
  if (stmt(db, `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '${LEDGER_TABLE}'`).get()) {
    return (stmt(db, `SELECT count(*) AS n FROM ${LEDGER_TABLE}`).get() as { n: number }).n;
  }
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

/**
 * Apply the missing migrations of `rooms`. The first transaction creates the ledger (recording
 * what a database from before the ledger already has); then each migration runs in its own
 * BEGIN IMMEDIATE transaction with its ledger row, so two processes opening a new file at
 * once never both apply one: the second finds it recorded and skips it.
 */
function migrate(db: Db, rooms: readonly MigrationRoom[], file: string): void {
  const now = Date.now();
  const record = (id: string) => db.prepare(`INSERT INTO ${LEDGER_TABLE} (id, applied_at) VALUES (?, ?)`).run(id, now);
  const syncUserVersion = () => {
    const { n } = db.prepare(`SELECT count(*) AS n FROM ${LEDGER_TABLE}`).get() as { n: number };
    db.pragma(`user_version = ${n}`);
  };
  const pending = immediate(db, () => {
    // Read again under the write lock: another process may have migrated since the first look.
    const state = readSchemaState(db);
    const plan = usablePlan(file, state, rooms);
    if (state.kind !== 'ledger') {
      db.exec(LEDGER_SQL);
      if (state.kind === 'legacy') for (const id of state.applied) record(id);
      syncUserVersion();
    }
    return plan.pending;
  });
  for (const m of pending) {
    immediate(db, () => {
      if (db.prepare(`SELECT 1 FROM ${LEDGER_TABLE} WHERE id = ?`).get(m.id)) return;
      db.exec(m.sql);
      record(m.id);
      syncUserVersion();
    });
  }
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

/** What a WAL checkpoint did: frames in the log, frames copied back, and whether a reader held it back. */
export interface CheckpointResult {
  busy: boolean;
  log: number;
  checkpointed: number;
}

/**
 * Checkpoint the WAL: `PASSIVE` copies what no reader needs without waiting; `TRUNCATE`
 * also waits for readers and empties the -wal file (docs/wake-up.md: a checkpoint inside a
 * claim is slow, so the worker runs PASSIVE ones when idle).
 */
export function checkpoint(db: Db, mode: 'PASSIVE' | 'TRUNCATE' = 'PASSIVE'): CheckpointResult {
  const [r] = db.pragma(`wal_checkpoint(${mode})`) as { busy: number; log: number; checkpointed: number }[];
  return { busy: (r?.busy ?? 0) !== 0, log: r?.log ?? 0, checkpointed: r?.checkpointed ?? 0 };
}

/** Read one row of nothing: throws when the database cannot be read (the health probe). */
export function ping(db: Db): void {
  stmt(db, 'SELECT 1').get();
}
