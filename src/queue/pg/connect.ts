import type pg from 'pg';
import { DatabaseError } from '../errors.js';
import { LEDGER_TABLE, planMigrations, type LedgerPlan, type MigrationRoom } from '../ledger.js';
import { pgQueueRoom } from './migrations.js';
import type { PgTarget } from './url.js';

/** An open PostgreSQL database: a pool whose connections all use the target's schema. */
export interface PgDb {
  pool: pg.Pool;
  /** The schema holding the tables (every connection's search_path). */
  schema: string;
  /** The NOTIFY channel of this installation (one per schema). */
  channel: string;
  /** The URL without its password. */
  display: string;
  /** The connection config, for connections outside the pool (LISTEN). */
  config: pg.ClientConfig;
  /** The `pg` module, loaded lazily. */
  driver: typeof pg;
}

/** Options of openPg. */
export interface PgOpenOptions {
  /** The rooms whose migrations to apply. Default the queue alone. */
  rooms?: readonly MigrationRoom[];
  /** Connections in the pool at most. Default 4: claims and completions are batched. */
  max?: number;
  /** Check the schema without writing anything (no migration, no CREATE SCHEMA). Default false. */
  readonly?: boolean;
  /** Milliseconds to wait for a connection. Default 5000. */
  connectTimeoutMs?: number;
}

/**
 * The SQL expression for the database's clock in ms since the epoch: every "now" on
 * PostgreSQL is this, never a host's clock. A scalar sub-select, so it is read once per
 * statement (an init plan) and compares like a parameter: `available_at <= NOW_MS` walks
 * the index to the due rows, where a bare clock_timestamp() (volatile) read every delayed
 * row to test it (test/queue/pg-plans.test.ts).
 */
export const NOW_MS = `(SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint)`;

/** The NOTIFY channel of a schema's installation. */
function channelOf(schema: string): string {
  return `gitroast_${schema}`;
}

let driver: typeof pg | undefined;

/** Load `pg` on first use (a dynamic import: SQLite users never load it). */
export async function loadDriver(): Promise<typeof pg> {
  if (!driver) {
    const mod = (await import('pg')) as unknown as { default?: typeof pg } & typeof pg;
    driver = mod.default ?? mod;
  }
  return driver;
}

/** The connection config of a target: its schema as search_path, BIGINT read as numbers. */
export function clientConfig(d: typeof pg, target: PgTarget, connectTimeoutMs = 5000): pg.ClientConfig {
  const int8 = (v: string) => Number(v);
  return {
    connectionString: target.connectionString,
    // Prepared statements are planned for each execution's parameters. A generic plan of the
    // completion, made while the statistics still said no job was reserved, walked every
    // reserved job for each lease: minutes for a commit once 14,000 were. The claim alone
    // runs on its generic plan, which cannot go wrong that way (./jobs.ts claimText).
    options: `-c search_path=${target.schema} -c plan_cache_mode=force_custom_plan`,
    connectionTimeoutMillis: connectTimeoutMs,
    // Per schema, so an operator (and the tests) can count one installation's connections.
    application_name: `gitroast:${target.schema}`,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? int8 : d.types.getTypeParser(oid, format ?? 'text'))) as pg.CustomTypesConfig['getTypeParser'],
    },
  };
}

/**
 * Turn a connection or query error into a DatabaseError (exit 3) with one line saying what
 * is wrong: unreachable, refused login, no such database.
 */
export function describePgError(display: string, err: unknown): DatabaseError {
  const e = err as { code?: string; message?: string };
  const msg = (e.message ?? String(err)).split('\n')[0] ?? '';
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
      return new DatabaseError(`cannot reach PostgreSQL at ${display} (${e.code}): is the server running and the host right?`, { cause: err });
    case '28P01':
    case '28000':
      return new DatabaseError(`PostgreSQL at ${display} refused the login: ${msg}`, { cause: err });
    case '3D000':
      return new DatabaseError(`PostgreSQL at ${display}: ${msg}; create it first (createdb)`, { cause: err });
    default:
      if (/timeout/i.test(msg)) return new DatabaseError(`cannot reach PostgreSQL at ${display}: ${msg}`, { cause: err });
      return new DatabaseError(`PostgreSQL at ${display}: ${msg}`, { cause: err });
  }
}

/** What a schema holds, read before anything is written. */
export type PgSchemaState =
  | { kind: 'empty'; exists: boolean }
  | { kind: 'ledger'; applied: string[] }
  | { kind: 'foreign'; tables: string[] };

/** Read the schema's state: absent or without tables, gitroast's (a ledger), or another application's. */
export async function readPgSchemaState(q: pg.ClientBase | pg.Pool, schema: string): Promise<PgSchemaState> {
  const exists = (await q.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema])).rowCount === 1;
  if (!exists) return { kind: 'empty', exists: false };
  const tables = (await q.query<{ name: string }>(`SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f') ORDER BY 1`, [schema])).rows.map((r) => r.name);
  if (tables.length === 0) return { kind: 'empty', exists: true };
  if (!tables.includes(LEDGER_TABLE)) return { kind: 'foreign', tables };
  const applied = (await q.query<{ id: string }>(`SELECT id FROM "${schema}".${LEDGER_TABLE} ORDER BY id`)).rows.map((r) => r.id);
  return { kind: 'ledger', applied };
}

/** Check a schema state may be used with `rooms`; throw a DatabaseError saying why not. */
export function usablePgPlan(display: string, schema: string, state: PgSchemaState, rooms: readonly MigrationRoom[]): LedgerPlan {
  switch (state.kind) {
    case 'empty':
      return planMigrations([], rooms);
    case 'foreign':
      throw new DatabaseError(
        `schema ${schema} of ${display} holds another application's tables (${state.tables.slice(0, 3).join(', ')}${state.tables.length > 3 ? ', …' : ''}) and no gitroast ledger; it was left untouched: pick an empty schema with ?schema=NAME`,
      );
    case 'ledger': {
      const plan = planMigrations(state.applied, rooms);
      if (plan.unknown.length > 0) {
        throw new DatabaseError(`database ${display} (schema ${schema}) has migrations ${plan.unknown.join(', ')}, newer than this gitroast understands; upgrade gitroast on this host to use it`);
      }
      if (plan.gaps.length > 0) {
        throw new DatabaseError(`database ${display} (schema ${schema}) lacks migrations ${plan.gaps.join(', ')} although later ones are recorded; it was left untouched`);
      }
      return plan;
    }
  }
}

/**
 * Open a PostgreSQL database: load the driver, connect, read the schema's state and apply
 * the missing migrations of `rooms` (with their ledger rows) in one transaction under an
 * advisory lock, so daemons starting together never both apply one. Refused with a
 * DatabaseError (exit 3), nothing written: unreachable server, refused login, a schema
 * holding another application's tables, a schema a newer gitroast migrated.
 */
export async function openPg(target: PgTarget, options: PgOpenOptions = {}): Promise<PgDb> {
  const rooms = options.rooms ?? [pgQueueRoom];
  const d = await loadDriver();
  const config = clientConfig(d, target, options.connectTimeoutMs);
  // Pipelined: statements sent together travel in one round trip (a commit sends its first
  // statements at once, ./store.ts); statements awaited one by one behave as without it.
  const pool = new d.Pool({ ...config, max: options.max ?? 4, pipeline: true });
  // An idle client's error (the server restarted) must not crash the process: the pool drops it.
  pool.on('error', () => {});
  const db: PgDb = { pool, schema: target.schema, channel: channelOf(target.schema), display: target.display, config, driver: d };
  try {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw describePgError(target.display, err);
    }
    try {
      const state = await readPgSchemaState(client, target.schema);
      const plan = usablePgPlan(target.display, target.schema, state, rooms);
      if (options.readonly) {
        if (plan.pending.length > 0) {
          throw new DatabaseError(`database ${target.display} (schema ${target.schema}) is not fully migrated (it lacks ${plan.pending.map((m) => m.id).join(', ')}); run \`gitroast db migrate\` first`);
        }
      } else if (plan.pending.length > 0) {
        await migratePg(client, target, rooms);
      }
    } catch (err) {
      if (err instanceof DatabaseError) throw err;
      throw describePgError(target.display, err);
    } finally {
      client.release();
    }
    return db;
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
}

/** Apply what `rooms` lack, in one transaction holding the schema's advisory lock; the state is read again under the lock. */
async function migratePg(client: pg.ClientBase, target: PgTarget, rooms: readonly MigrationRoom[]): Promise<string[]> {
  await client.query('BEGIN');
  try {
    const applied = await applyPgMigrationsInTx(client, target, rooms);
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/**
 * Inside the caller's transaction: take the schema's advisory lock, read its state again,
 * refuse it (DatabaseError) or create the schema and ledger and apply what `rooms` lack.
 * Returns the ids applied.
 */
export async function applyPgMigrationsInTx(client: pg.ClientBase, target: PgTarget, rooms: readonly MigrationRoom[]): Promise<string[]> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`gitroast-migrate:${target.schema}`]);
  const state = await readPgSchemaState(client, target.schema);
  const plan = usablePgPlan(target.display, target.schema, state, rooms);
  if (state.kind === 'empty' && !state.exists) await client.query(`CREATE SCHEMA "${target.schema}"`);
  await client.query(`CREATE TABLE IF NOT EXISTS "${target.schema}".${LEDGER_TABLE} (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`);
  await client.query(`SET LOCAL search_path = "${target.schema}"`);
  for (const m of plan.pending) {
    await client.query(m.sql);
    await client.query(`INSERT INTO ${LEDGER_TABLE} (id, applied_at) VALUES ($1, ${NOW_MS})`, [m.id]);
  }
  return plan.pending.map((m) => m.id);
}

/** Close the pool (waits for checked-out clients to be released). */
/** How many migrations the ledger of this PostgreSQL database records. */
export async function pgMigrationCount(db: PgDb): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM gitroast_migrations`);
  return rows[0]!.n;
}

export async function closePg(db: PgDb): Promise<void> {
  await db.pool.end();
}

/**
 * Run `fn` in a transaction on one pooled connection and return its result: COMMIT when it
 * resolves, ROLLBACK when it throws. `begin` may name an isolation level (a read view's
 * `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`). A transaction is never held across a job's run: only
 * the queue's own statements run inside.
 */
export async function pgTx<T>(db: PgDb, fn: (c: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const client = await connectOwned(db);
  // A connection that cannot roll back (the server went away) is not given back to the pool.
  let broken = false;
  try {
    await client.query(begin).catch(async (err: unknown) => {
      broken = !(await alive(client));
      throw err;
    });
    try {
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    }
  } finally {
    client.release(broken);
  }
}

const owners = new WeakMap<object, PgDb>();

/** Check a client out of `db`'s pool, remembering its owner (failure hooks are per database). */
export async function connectOwned(db: PgDb): Promise<pg.PoolClient> {
  const client = await db.pool.connect();
  owners.set(client, db);
  // A checked-out client whose server goes away (a restart) emits 'error' besides failing its
  // query; the pool listens only while the client is idle, and an unheard 'error' would end
  // the process. The failed query reports it; the pool drops the client on release.
  if (!guarded.has(client)) {
    guarded.add(client);
    client.on('error', () => {});
  }
  return client;
}

const guarded = new WeakSet<object>();

/** True when the client still answers (after a failed statement, before it goes back to the pool). */
export async function alive(client: pg.PoolClient): Promise<boolean> {
  return client.query('SELECT 1').then(() => true, () => false);
}

/** The database a pooled client was checked out of by connectOwned, if any. */
export function ownerOf(client: object): PgDb | undefined {
  return owners.get(client);
}
