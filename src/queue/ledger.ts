import type { Db } from './db.js';

/**
 * The migration ledger: one table listing, by id, every migration applied to a database.
 * Each room (queue, analysis) owns a numbered list of migrations; the n-th migration of room
 * `r` has the id `r/000n`. The ids, not a counter, say which schema a database has, so a
 * database made by one opener (the queue alone) can later be opened by another (the app:
 * queue + analysis) and gain only what it lacks. docs/migrations.md explains the rules.
 *
 * This module only reads; db.ts applies migrations and writes the ledger.
 */

/** The ledger table. Prefixed so that another program's `schema_migrations` is never taken for ours. */
export const LEDGER_TABLE = 'gitroast_migrations';

/** The ledger table's SQL (created by the first migration transaction of a database). */
export const LEDGER_SQL = `CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (
  id         TEXT    PRIMARY KEY,
  applied_at INTEGER NOT NULL
)`;

/** A room's migrations: the room's name, the first part of each id, and its SQL in order. */
export interface MigrationRoom {
  /** Lower-case name: `queue`, `analysis`. */
  readonly room: string;
  /** Each element is one migration's SQL; the n-th (from 1) has id `<room>/<n, 4 digits>`. Append only. */
  readonly migrations: readonly string[];
}

/** One migration of a room. */
export interface Migration {
  id: string;
  room: string;
  /** Its position in the room's list, from 1. */
  seq: number;
  sql: string;
}

/** Build the id of the `seq`-th migration (from 1) of `room`: `queue/0002`. */
export function migrationId(room: string, seq: number): string {
  return `${room}/${String(seq).padStart(4, '0')}`;
}

/** List the migrations of `rooms`, room by room, each room's in its order. */
export function migrationsOf(rooms: readonly MigrationRoom[]): Migration[] {
  return rooms.flatMap((r) => r.migrations.map((sql, i) => ({ id: migrationId(r.room, i + 1), room: r.room, seq: i + 1, sql })));
}

/**
 * The schema of a database as read before anything is written:
 * - `empty`: no tables, user_version 0: a new file;
 * - `ledger`: the ledger exists; `applied` lists its ids;
 * - `legacy`: made by a release before the ledger, recognised: `applied` lists the ids its
 *   tables correspond to;
 * - `legacy-newer`: no ledger and a user_version above any pre-ledger release's;
 * - `legacy-unknown`: no ledger, gitroast's queue tables, but a layout no release wrote;
 * - `foreign`: tables, but neither a ledger nor gitroast's queue tables: another program's file.
 */
export type SchemaState =
  | { kind: 'empty' }
  | { kind: 'ledger'; applied: string[] }
  | { kind: 'legacy'; userVersion: number; applied: string[] }
  | { kind: 'legacy-newer'; userVersion: number }
  | { kind: 'legacy-unknown'; userVersion: number; found: string[] }
  | { kind: 'foreign'; userVersion: number };

/**
 * The last release before the ledger counted migrations in PRAGMA user_version, with two
 * meanings: openDatabase() counted the queue's list, openAppDb() the app's list
 * (1 queue/0001, 2 analysis/0001, 3 analysis/0002, 4 analysis/0003, 5 queue/0002).
 * These are every layout it could write, so a number is only trusted together with the
 * tables that go with it. Frozen: nothing writes user_version-only databases any more.
 */
const LEGACY_LAYOUTS: readonly { userVersion: number; ids: readonly string[] }[] = [
  { userVersion: 1, ids: ['queue/0001'] },
  { userVersion: 2, ids: ['queue/0001', 'queue/0002'] },
  { userVersion: 2, ids: ['queue/0001', 'analysis/0001'] },
  { userVersion: 3, ids: ['queue/0001', 'analysis/0001', 'analysis/0002'] },
  { userVersion: 4, ids: ['queue/0001', 'analysis/0001', 'analysis/0002', 'analysis/0003'] },
  { userVersion: 5, ids: ['queue/0001', 'analysis/0001', 'analysis/0002', 'analysis/0003', 'queue/0002'] },
];

/** The highest user_version a release before the ledger wrote. */
const LEGACY_MAX_USER_VERSION = 5;

const QUEUE_0001_TABLES = ['jobs', 'failed_jobs', 'batches', 'queues', 'workers', 'metrics_snapshots', 'settings'];

/** The ids a pre-ledger database's tables, indexes and columns show it has. */
function legacyIds(db: Db): string[] {
  const names = new Set((db.prepare(`SELECT name FROM sqlite_master WHERE type IN ('table', 'index')`).all() as { name: string }[]).map((r) => r.name));
  const ids: string[] = [];
  if (QUEUE_0001_TABLES.every((t) => names.has(t))) ids.push('queue/0001');
  if (names.has('jobs_delayed_queue')) ids.push('queue/0002');
  if (names.has('analyses')) {
    ids.push('analysis/0001');
    const columns = (db.prepare(`SELECT name FROM pragma_table_info('analyses')`).all() as { name: string }[]).map((r) => r.name);
    if (columns.includes('batch_id') && names.has('analyses_batch')) ids.push('analysis/0003');
  }
  if (names.has('http_cache')) ids.push('analysis/0002');
  return ids.sort();
}

/**
 * Read the database's schema state without writing anything. Its several reads run in one
 * read transaction, so they see one snapshot: another process may be migrating the same
 * file between them (seen: a torn read took a half-migrated new file for another program's).
 */
export function readSchemaState(db: Db): SchemaState {
  return db.inTransaction ? readSchemaSnapshot(db) : db.transaction(() => readSchemaSnapshot(db))();
}

function readSchemaSnapshot(db: Db): SchemaState {
  const hasLedger = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(LEDGER_TABLE);
  if (hasLedger) {
    const applied = (db.prepare(`SELECT id FROM ${LEDGER_TABLE} ORDER BY id`).all() as { id: string }[]).map((r) => r.id);
    return { kind: 'ledger', applied };
  }
  const userVersion = db.pragma('user_version', { simple: true }) as number;
  const hasTables = db.prepare(`SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') LIMIT 1`).get() !== undefined;
  if (userVersion === 0) return hasTables ? { kind: 'foreign', userVersion } : { kind: 'empty' };
  if (userVersion > LEGACY_MAX_USER_VERSION) return { kind: 'legacy-newer', userVersion };
  const found = legacyIds(db);
  if (!found.includes('queue/0001')) return { kind: 'foreign', userVersion };
  const layout = LEGACY_LAYOUTS.find((l) => l.userVersion === userVersion && l.ids.length === found.length && l.ids.every((id) => found.includes(id)));
  if (!layout) return { kind: 'legacy-unknown', userVersion, found };
  return { kind: 'legacy', userVersion, applied: [...layout.ids] };
}

/** What the ledger lacks and holds beyond what `rooms` know. */
export interface LedgerPlan {
  /** Migrations of `rooms` not applied yet, in the order to apply them. */
  pending: Migration[];
  /** Applied ids of a room in `rooms` that the room's list does not have: a newer gitroast wrote them. */
  unknown: string[];
  /** Ids missing from the ledger although a later migration of their room is in it: a damaged ledger. */
  gaps: string[];
}

/**
 * Compare the applied ids with the migrations of `rooms`. Ids of rooms not in `rooms` are
 * ignored: a room an opener does not manage is not its business (the queue alone opens a
 * database that also holds the analysis tables).
 */
export function planMigrations(applied: readonly string[], rooms: readonly MigrationRoom[]): LedgerPlan {
  const done = new Set(applied);
  const pending: Migration[] = [];
  const unknown: string[] = [];
  const gaps: string[] = [];
  for (const r of rooms) {
    const known = migrationsOf([r]);
    const knownIds = new Set(known.map((m) => m.id));
    for (const id of applied) if (id.startsWith(`${r.room}/`) && !knownIds.has(id)) unknown.push(id);
    const highest = Math.max(0, ...known.filter((m) => done.has(m.id)).map((m) => m.seq));
    for (const m of known) {
      if (done.has(m.id)) continue;
      if (m.seq < highest) gaps.push(m.id);
      else pending.push(m);
    }
  }
  return { pending, unknown, gaps };
}

/** How a database's schema compares with the migrations of the rooms a build knows. */
export interface SchemaReport {
  /** Migrations applied: the ledger's ids (every room's), or a pre-ledger database's user_version. */
  version: number;
  /** Migrations of the rooms given. */
  expected: number;
  /**
   * `current`: every migration applied, none unknown; `older`: some missing (a writing open
   * applies them); `newer`: a newer gitroast migrated it; `damaged`: a layout or ledger no
   * gitroast writes; `foreign`: another program's SQLite file.
   */
  verdict: 'current' | 'older' | 'newer' | 'damaged' | 'foreign';
  /** Ids of the rooms given that are not applied. */
  missing: string[];
  /** Applied ids that the rooms given do not have. */
  unknown: string[];
}

/** Compare the database's schema with the migrations of `rooms`, reading only (doctor). */
export function inspectSchema(db: Db, rooms: readonly MigrationRoom[]): SchemaReport {
  const expected = migrationsOf(rooms).length;
  const state = readSchemaState(db);
  switch (state.kind) {
    case 'empty':
      return { version: 0, expected, verdict: 'older', missing: migrationsOf(rooms).map((m) => m.id), unknown: [] };
    case 'foreign':
      return { version: state.userVersion, expected, verdict: 'foreign', missing: [], unknown: [] };
    case 'legacy-newer':
      return { version: state.userVersion, expected, verdict: 'newer', missing: [], unknown: [] };
    case 'legacy-unknown':
      return { version: state.userVersion, expected, verdict: 'damaged', missing: [], unknown: [] };
    case 'legacy':
    case 'ledger':
      return ledgerReport(state.applied, rooms, state.kind === 'legacy' ? state.userVersion : undefined);
  }
}

/**
 * The schema report of a database whose ledger records `applied` (either engine); a
 * pre-ledger SQLite database passes its user_version as `legacyVersion` (it is older).
 */
export function ledgerReport(applied: readonly string[], rooms: readonly MigrationRoom[], legacyVersion?: number): SchemaReport {
  const plan = planMigrations(applied, rooms);
  const version = legacyVersion ?? applied.length;
  const missing = [...plan.gaps, ...plan.pending.map((m) => m.id)];
  const verdict = plan.unknown.length > 0 ? 'newer' : plan.gaps.length > 0 ? 'damaged' : missing.length > 0 || legacyVersion !== undefined ? 'older' : 'current';
  return { version, expected: migrationsOf(rooms).length, verdict, missing, unknown: plan.unknown };
}
