import fs from 'node:fs';
import type pg from 'pg';
import { openDatabase, type Db } from './db.js';
import { DatabaseError } from './errors.js';
import { LEDGER_TABLE, type MigrationRoom } from './ledger.js';
import { applyPgMigrationsInTx, clientConfig, describePgError, loadDriver, readPgSchemaState, usablePgPlan } from './pg/connect.js';
import type { PgTarget } from './pg/url.js';

/**
 * `gitroast db copy`: copy a gitroast database into an empty one, SQLite ⇄ PostgreSQL, table
 * by table, keeping every id. The source is only read, inside one snapshot (a read
 * transaction on SQLite, REPEATABLE READ READ ONLY on PostgreSQL). The target is written in
 * one transaction (PostgreSQL) or into a side file renamed into place at the end (SQLite),
 * so a refused or failed copy leaves nothing behind. Counts are verified before commit.
 *
 * Not copied: `workers` (registrations of live processes on the source; a job reserved
 * there stays reserved and is recovered by the first daemon on the target, whose token bump
 * fences any late result) and the migration ledger (the target's opener writes its own, and
 * the copy checks both record the same ids).
 */

/** One side of a copy: a SQLite file or a PostgreSQL schema. */
export type CopyEnd =
  | { kind: 'sqlite'; file: string; rooms: readonly MigrationRoom[] }
  | { kind: 'postgres'; target: PgTarget; rooms: readonly MigrationRoom[] };

/** Tables left out of a copy (see above). */
const NOT_COPIED = ['workers', LEDGER_TABLE] as const;

/**
 * Tables kept by triggers on other tables (failed_counts from failed_jobs, job_tags from
 * jobs). They are copied last: whatever the triggers wrote while the copy ran is cleared
 * first, so the target holds exactly the source's rows.
 */
const DERIVED = ['failed_counts', 'job_tags'];

/** Rows per page read and per INSERT written. */
const PAGE_ROWS = 2000;
/** Parameters per PostgreSQL statement at most (the protocol's limit is 65,535). */
const MAX_PG_PARAMS = 60_000;

/** What a copy did: rows per table, in copy order. */
export interface CopyResult {
  tables: { name: string; rows: number }[];
  ms: number;
}

/** Options of copyDatabase. */
export interface CopyOptions {
  /** Told about progress (for stderr): at most about once a second, and when a table ends. */
  progress?: (p: { table: string; done: number; total: number }) => void;
}

interface Reader {
  tables(): Promise<string[]>;
  columns(table: string): Promise<string[]>;
  keys(table: string): Promise<string[]>;
  count(table: string): Promise<number>;
  page(table: string, columns: readonly string[], keys: readonly string[], after: readonly unknown[] | undefined): Promise<unknown[][]>;
  ledger(): Promise<string[]>;
  close(): Promise<void>;
}

interface Writer {
  insert(table: string, columns: readonly string[], rows: readonly unknown[][]): Promise<void>;
  clear(table: string): Promise<void>;
  count(table: string): Promise<number>;
  ledger(): Promise<string[]>;
  /** Make everything visible (commit, rename into place). */
  commit(): Promise<void>;
  /** Leave nothing behind. */
  abort(): Promise<void>;
}

/** Describe an end for messages. */
function describeEnd(end: CopyEnd): string {
  return end.kind === 'sqlite' ? end.file : end.target.display;
}

/**
 * Copy `from` into `to`. Throws a DatabaseError, with nothing written, when the target is
 * not empty (any table in its schema, or an existing non-empty file), when the source is
 * not a fully migrated gitroast database, or when the counts differ at the end.
 */
export async function copyDatabase(from: CopyEnd, to: CopyEnd, options: CopyOptions = {}): Promise<CopyResult> {
  const started = Date.now();
  if (from.kind === to.kind && describeEnd(from) === describeEnd(to) && (from.kind === 'sqlite' || (to.kind === 'postgres' && from.target.schema === to.target.schema))) {
    throw new DatabaseError(`the copy's target is its source (${describeEnd(from)}): name another database with --to`);
  }
  const reader = from.kind === 'sqlite' ? openSqliteReader(from.file, from.rooms) : await openPgReader(from.target, from.rooms);
  let writer: Writer | undefined;
  try {
    writer = to.kind === 'sqlite' ? openSqliteWriter(to.file, to.rooms) : await openPgWriter(to.target, to.rooms);
    const srcLedger = await reader.ledger();
    const dstLedger = await writer.ledger();
    if (srcLedger.join() !== dstLedger.join()) {
      throw new DatabaseError(`the source records migrations ${srcLedger.join(', ')} but a new target gets ${dstLedger.join(', ')}: run \`gitroast db migrate\` on the source first`);
    }
    const all = (await reader.tables()).filter((t) => !(NOT_COPIED as readonly string[]).includes(t));
    const order = [...all.filter((t) => !DERIVED.includes(t)), ...all.filter((t) => DERIVED.includes(t))];
    const tables: CopyResult['tables'] = [];
    let lastReport = 0;
    for (const table of order) {
      const columns = await reader.columns(table);
      const keys = await reader.keys(table);
      const total = await reader.count(table);
      if (DERIVED.includes(table)) await writer.clear(table);
      let done = 0;
      let after: unknown[] | undefined;
      for (;;) {
        const rows = await reader.page(table, columns, keys, after);
        if (rows.length === 0) break;
        await writer.insert(table, columns, rows);
        done += rows.length;
        const last = rows[rows.length - 1]!;
        after = keys.map((k) => last[columns.indexOf(k)]);
        if (options.progress && Date.now() - lastReport >= 1000) {
          lastReport = Date.now();
          options.progress({ table, done, total });
        }
        if (rows.length < PAGE_ROWS) break;
      }
      options.progress?.({ table, done, total });
      tables.push({ name: table, rows: done });
    }
    for (const { name } of tables) {
      const [a, b] = [await reader.count(name), await writer.count(name)];
      if (a !== b) throw new DatabaseError(`the copy of table ${name} has ${b} rows but the source has ${a}; nothing was written to the target`);
    }
    await writer.commit();
    return { tables, ms: Date.now() - started };
  } catch (err) {
    await writer?.abort().catch(() => {});
    throw err;
  } finally {
    await reader.close();
  }
}

// ---------------------------------------------------------------------------------------
// SQLite
// ---------------------------------------------------------------------------------------

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function sqliteTables(db: Db): string[] {
  return (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
}

function openSqliteReader(file: string, rooms: readonly MigrationRoom[]): Reader {
  if (!fs.existsSync(file)) throw new DatabaseError(`no database at ${file} to copy from`);
  // Read-only: refuses a database that lacks a migration instead of migrating (the source is never written).
  const db = openDatabase(file, { rooms, readonly: true });
  db.exec('BEGIN');
  return {
    tables: async () => sqliteTables(db),
    columns: async (t) => (db.prepare(`SELECT name FROM pragma_table_info(?) ORDER BY cid`).all(t) as { name: string }[]).map((r) => r.name),
    keys: async (t) => (db.prepare(`SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`).all(t) as { name: string }[]).map((r) => r.name),
    count: async (t) => (db.prepare(`SELECT count(*) AS n FROM ${quoteIdent(t)}`).get() as { n: number }).n,
    page: async (t, cols, keys, after) => {
      const where = after ? `WHERE (${keys.map(quoteIdent).join(', ')}) > (${keys.map(() => '?').join(', ')})` : '';
      return db.prepare(`SELECT ${cols.map(quoteIdent).join(', ')} FROM ${quoteIdent(t)} ${where} ORDER BY ${keys.map(quoteIdent).join(', ')} LIMIT ${PAGE_ROWS}`).raw(true).all(...(after ?? [])) as unknown[][];
    },
    ledger: async () => (db.prepare(`SELECT id FROM ${LEDGER_TABLE} ORDER BY id`).all() as { id: string }[]).map((r) => r.id),
    close: async () => {
      if (db.inTransaction) db.exec('COMMIT');
      db.close();
    },
  };
}

function openSqliteWriter(file: string, rooms: readonly MigrationRoom[]): Writer {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (st && (!st.isFile() || st.size > 0)) {
    throw new DatabaseError(`the copy's target ${file} already exists and is not empty: a copy goes into a new file; nothing was written`);
  }
  const side = `${file}.copy-${process.pid}`;
  const db = openDatabase(side, { rooms });
  db.exec('BEGIN IMMEDIATE');
  const statements = new Map<string, ReturnType<Db['prepare']>>();
  const remove = () => {
    for (const f of [side, `${side}-wal`, `${side}-shm`]) fs.rmSync(f, { force: true });
  };
  return {
    insert: async (t, cols, rows) => {
      // SQLite's default limit is 32,766 variables per statement.
      const per = Math.max(1, Math.floor(32_000 / cols.length));
      for (let i = 0; i < rows.length; i += per) {
        const chunk = rows.slice(i, i + per);
        const sql = `INSERT INTO ${quoteIdent(t)} (${cols.map(quoteIdent).join(', ')}) VALUES ${chunk.map(() => `(${cols.map(() => '?').join(', ')})`).join(', ')}`;
        let s = statements.get(sql);
        if (!s) {
          s = db.prepare(sql);
          statements.set(sql, s);
        }
        s.run(chunk.flat());
      }
    },
    clear: async (t) => {
      db.prepare(`DELETE FROM ${quoteIdent(t)}`).run();
    },
    count: async (t) => (db.prepare(`SELECT count(*) AS n FROM ${quoteIdent(t)}`).get() as { n: number }).n,
    ledger: async () => (db.prepare(`SELECT id FROM ${LEDGER_TABLE} ORDER BY id`).all() as { id: string }[]).map((r) => r.id),
    commit: async () => {
      db.exec('COMMIT');
      db.close();
      // The target appeared while we copied: do not overwrite it.
      const now = fs.statSync(file, { throwIfNoEntry: false });
      if (now && now.size > 0) {
        remove();
        throw new DatabaseError(`the copy's target ${file} was created by someone else during the copy; nothing was written to it`);
      }
      fs.renameSync(side, file);
    },
    abort: async () => {
      if (db.open) {
        if (db.inTransaction) db.exec('ROLLBACK');
        db.close();
      }
      remove();
    },
  };
}

// ---------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------

async function pgClient(target: PgTarget): Promise<pg.Client> {
  const d = await loadDriver();
  const client = new d.Client(clientConfig(d, target));
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    throw describePgError(target.display, err);
  }
  return client;
}

async function pgTables(c: pg.ClientBase, schema: string): Promise<string[]> {
  return (await c.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1`, [schema])).rows.map((r) => r.t);
}

async function openPgReader(target: PgTarget, rooms: readonly MigrationRoom[]): Promise<Reader> {
  const c = await pgClient(target);
  try {
    const state = await readPgSchemaState(c, target.schema);
    if (state.kind !== 'ledger') throw new DatabaseError(`${target.display} (schema ${target.schema}) holds no gitroast database to copy from`);
    const plan = usablePgPlan(target.display, target.schema, state, rooms);
    if (plan.pending.length > 0) throw new DatabaseError(`${target.display} (schema ${target.schema}) lacks migrations ${plan.pending.map((m) => m.id).join(', ')}: run \`gitroast db migrate\` on it first`);
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  } catch (err) {
    await c.end().catch(() => {});
    throw err instanceof DatabaseError ? err : describePgError(target.display, err);
  }
  const s = quoteIdent(target.schema);
  return {
    tables: () => pgTables(c, target.schema),
    columns: async (t) => (await c.query<{ c: string }>(`SELECT column_name AS c FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, [target.schema, t])).rows.map((r) => r.c),
    keys: async (t) => (await c.query<{ k: string }>(`
      SELECT a.attname AS k FROM pg_index i JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS u(attnum, ord) ON true
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.attnum
       WHERE i.indrelid = ($1 || '.' || $2)::regclass AND i.indisprimary ORDER BY u.ord`, [s, quoteIdent(t)])).rows.map((r) => r.k),
    count: async (t) => (await c.query<{ n: number }>(`SELECT count(*) AS n FROM ${s}.${quoteIdent(t)}`)).rows[0]!.n,
    page: async (t, cols, keys, after) => {
      const where = after ? `WHERE (${keys.map(quoteIdent).join(', ')}) > (${keys.map((_, i) => `$${i + 1}`).join(', ')})` : '';
      const r = await c.query({ text: `SELECT ${cols.map(quoteIdent).join(', ')} FROM ${s}.${quoteIdent(t)} ${where} ORDER BY ${keys.map(quoteIdent).join(', ')} LIMIT ${PAGE_ROWS}`, values: after ? [...after] : [], rowMode: 'array' });
      return r.rows as unknown[][];
    },
    ledger: async () => (await c.query<{ id: string }>(`SELECT id FROM ${s}.${LEDGER_TABLE} ORDER BY id`)).rows.map((r) => r.id),
    close: async () => {
      await c.query('COMMIT').catch(() => {});
      await c.end().catch(() => {});
    },
  };
}

async function openPgWriter(target: PgTarget, rooms: readonly MigrationRoom[]): Promise<Writer> {
  const c = await pgClient(target);
  const s = quoteIdent(target.schema);
  try {
    await c.query('BEGIN');
    const state = await readPgSchemaState(c, target.schema);
    if (state.kind !== 'empty') {
      const what = state.kind === 'ledger' ? 'a gitroast database' : `another application's tables (${state.tables.slice(0, 3).join(', ')})`;
      throw new DatabaseError(`the copy's target ${target.display} (schema ${target.schema}) is not empty: it holds ${what}; a copy goes into an empty schema (?schema=NAME); nothing was written`);
    }
    usablePgPlan(target.display, target.schema, state, rooms);
    await applyPgMigrationsInTx(c, target, rooms);
    // Bulk rows: the triggers' derived tables are copied from the source instead (DERIVED).
    for (const t of await pgTables(c, target.schema)) await c.query(`ALTER TABLE ${s}.${quoteIdent(t)} DISABLE TRIGGER USER`);
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    await c.end().catch(() => {});
    throw err instanceof DatabaseError ? err : describePgError(target.display, err);
  }
  return {
    insert: async (t, cols, rows) => {
      const per = Math.max(1, Math.floor(MAX_PG_PARAMS / cols.length));
      for (let i = 0; i < rows.length; i += per) {
        const chunk = rows.slice(i, i + per);
        let p = 0;
        const values = chunk.map(() => `(${cols.map(() => `$${++p}`).join(', ')})`).join(', ');
        await c.query(`INSERT INTO ${s}.${quoteIdent(t)} (${cols.map(quoteIdent).join(', ')}) VALUES ${values}`, chunk.flat());
      }
    },
    clear: async (t) => {
      await c.query(`DELETE FROM ${s}.${quoteIdent(t)}`);
    },
    count: async (t) => (await c.query<{ n: number }>(`SELECT count(*) AS n FROM ${s}.${quoteIdent(t)}`)).rows[0]!.n,
    ledger: async () => (await c.query<{ id: string }>(`SELECT id FROM ${s}.${LEDGER_TABLE} ORDER BY id`)).rows.map((r) => r.id),
    commit: async () => {
      try {
        for (const t of await pgTables(c, target.schema)) await c.query(`ALTER TABLE ${s}.${quoteIdent(t)} ENABLE TRIGGER USER`);
        // Identity columns continue after the copied ids.
        const ids = await c.query<{ t: string; c: string; seq: string }>(`
          SELECT table_name AS t, column_name AS c, pg_get_serial_sequence($2 || '.' || quote_ident(table_name), column_name) AS seq
            FROM information_schema.columns WHERE table_schema = $1 AND is_identity = 'YES'`, [target.schema, s]);
        for (const r of ids.rows) {
          await c.query(`SELECT setval($1, COALESCE((SELECT max(${quoteIdent(r.c)}) FROM ${s}.${quoteIdent(r.t)}), 0) + 1, false)`, [r.seq]);
        }
        await c.query('COMMIT');
      } finally {
        await c.end().catch(() => {});
      }
    },
    abort: async () => {
      await c.query('ROLLBACK').catch(() => {});
      await c.end().catch(() => {});
    },
  };
}
