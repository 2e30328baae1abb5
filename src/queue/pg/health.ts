/**
 * Health checks of a PostgreSQL queue schema for `gitroast doctor` (as ../health.ts on
 * SQLite): read-only, never creating, migrating or repairing anything, on the database's
 * clock. One connection, closed before returning.
 */
import type pg from 'pg';
import { STALE_MS } from '../defaults.js';
import { stuckWhy, type StaleWorker, type StuckLease } from '../health.js';
import { ledgerReport, migrationsOf, type MigrationRoom, type SchemaReport } from '../ledger.js';
import type { PgTarget } from './url.js';
import { clientConfig, describePgError, loadDriver, NOW_MS, readPgSchemaState } from './connect.js';

/** Connections PostgreSQL would still accept, and what it holds back. */
interface PgConnections {
  /** max_connections. */
  max: number;
  /** superuser_reserved_connections: slots ordinary roles cannot take. */
  reserved: number;
  /** Backends connected now (pg_stat_activity's client backends, every database). */
  used: number;
  /** max - reserved - used. */
  free: number;
}

/** What doctor finds on a PostgreSQL schema. */
export interface PgInspection {
  /** The server's version string (`SHOW server_version`). */
  serverVersion: string;
  /** Milliseconds to connect and answer the first query. */
  connectMs: number;
  /** The server's clock, ms epoch. */
  now: number;
  schema: SchemaReport;
  /** Undefined when the schema holds no gitroast tables to read. */
  staleWorkers?: StaleWorker[];
  stuckLeases?: { total: number; jobs: StuckLease[] };
  connections: PgConnections;
}

/**
 * Inspect `target`'s schema against `rooms`: reachability, the schema's migrations, stale
 * workers and stuck leases (judged by `staleMs` on the server's clock) and connection
 * headroom. Unreachable server or refused login: a DatabaseError (exit 3).
 */
export async function inspectPg(target: PgTarget, rooms: readonly MigrationRoom[], staleMs = STALE_MS): Promise<PgInspection> {
  const d = await loadDriver();
  const client = new d.Client(clientConfig(d, target));
  client.on('error', () => {});
  const started = performance.now();
  try {
    await client.connect();
  } catch (err) {
    throw describePgError(target.display, err);
  }
  try {
    const head = (await client.query<{ v: string; now: number }>(`SELECT current_setting('server_version') AS v, ${NOW_MS} AS now`)).rows[0]!;
    const connectMs = performance.now() - started;
    const state = await readPgSchemaState(client, target.schema);
    const schema: SchemaReport = state.kind === 'empty'
      ? { version: 0, expected: migrationsOf(rooms).length, verdict: 'older', missing: migrationsOf(rooms).map((m) => m.id), unknown: [] }
      : state.kind === 'foreign'
        ? { version: 0, expected: migrationsOf(rooms).length, verdict: 'foreign', missing: [], unknown: [] }
        : ledgerReport(state.applied, rooms);
    const out: PgInspection = { serverVersion: head.v, connectMs, now: head.now, schema, connections: await connections(client) };
    if (state.kind === 'ledger' && (await hasQueueTables(client, target.schema))) {
      out.staleWorkers = await staleWorkers(client, staleMs, head.now);
      out.stuckLeases = await stuckLeases(client, staleMs, head.now);
    }
    return out;
  } catch (err) {
    throw describePgError(target.display, err);
  } finally {
    await client.end().catch(() => {});
  }
}

async function hasQueueTables(c: pg.ClientBase, schema: string): Promise<boolean> {
  const r = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename IN ('jobs', 'workers')`, [schema]);
  return r.rows[0]!.n === 2;
}

async function connections(c: pg.ClientBase): Promise<PgConnections> {
  const r = (await c.query<{ max: number; reserved: number; used: number }>(`
    SELECT current_setting('max_connections')::int AS max, current_setting('superuser_reserved_connections')::int AS reserved,
           (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS used`)).rows[0]!;
  return { ...r, free: r.max - r.reserved - r.used };
}

/** ../health.ts staleWorkers on PostgreSQL, at the server's `now`. */
async function staleWorkers(c: pg.ClientBase, staleMs: number, now: number): Promise<StaleWorker[]> {
  const rows = (await c.query<{ id: string; pid: number; hostname: string; heartbeat_at: number }>(
    `SELECT id, pid, hostname, heartbeat_at FROM workers WHERE heartbeat_at < $1 ORDER BY heartbeat_at`, [now - staleMs])).rows;
  return rows.map((r) => ({ id: r.id, pid: r.pid, hostname: r.hostname, heartbeatAt: r.heartbeat_at }));
}

/** ../health.ts stuckLeases on PostgreSQL, at the server's `now`. */
async function stuckLeases(c: pg.ClientBase, staleMs: number, now: number, limit = 100): Promise<{ total: number; jobs: StuckLease[] }> {
  const where = `
    FROM jobs j LEFT JOIN workers w ON w.id = j.reserved_by
   WHERE j.state = 'reserved'
     AND (j.lease_expires_at <= $1 OR w.id IS NULL OR w.heartbeat_at < $1::bigint - $2::bigint)`;
  const total = (await c.query<{ n: number }>(`SELECT count(*)::int AS n ${where}`, [now, staleMs])).rows[0]!.n;
  const rows = (await c.query<{
    id: number; queue: string; name: string; reserved_by: string | null; lease_expires_at: number | null; attempts: number; worker: string | null;
  }>(`SELECT j.id, j.queue, j.name, j.reserved_by, j.lease_expires_at, j.attempts, w.id AS worker ${where} ORDER BY j.id LIMIT $3`, [now, staleMs, limit])).rows;
  return {
    total,
    jobs: rows.map((r) => ({
      id: r.id, queue: r.queue, name: r.name, reservedBy: r.reserved_by, leaseExpiresAt: r.lease_expires_at, attempts: r.attempts,
      why: stuckWhy(r, now),
    })),
  };
}
