import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { openPg, closePg, type PgDb, type PgOpenOptions } from '../../src/queue/pg/connect.js';
import { parsePgUrl, type PgTarget } from '../../src/queue/pg/url.js';

/** The PostgreSQL server the tests use: GITROAST_TEST_PG, default postgres://root@127.0.0.1:5432/postgres. */
const TEST_PG = process.env.GITROAST_TEST_PG ?? 'postgres://root@127.0.0.1:5432/postgres';

/** The message a test run fails with when the server is down: never a silent skip. */
const PG_DOWN = `PostgreSQL is not reachable at ${TEST_PG} (set GITROAST_TEST_PG, or start it: pg_ctlcluster --skip-systemctl-redirect 15 main start)`;

/** A URL of the test server with `?schema=NAME`. */
export function pgUrl(schema: string): string {
  const u = new URL(TEST_PG);
  u.searchParams.set('schema', schema);
  return u.toString();
}

/** Run one statement on the test server outside any gitroast code (create/drop schemas, terminate backends). */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  const c = new pg.Client({ connectionString: TEST_PG, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
  } catch (err) {
    throw new Error(`${PG_DOWN}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return await c.query<R>(sql, values);
  } finally {
    await c.end();
  }
}

/**
 * Give a test file its own schemas: `schema(tag)` names a fresh one (created by gitroast
 * when it migrates), all dropped after the file. Fails the file when the server is down.
 */
export function pgSchemas(prefix: string): { name: (tag?: string) => string; target: (schema: string) => PgTarget; open: (schema: string, options?: PgOpenOptions) => Promise<PgDb> } {
  const made: string[] = [];
  const dbs: PgDb[] = [];
  const run = randomBytes(3).toString('hex');
  beforeAll(async () => {
    await adminQuery('SELECT 1');
  });
  afterAll(async () => {
    for (const d of dbs.splice(0)) await closePg(d).catch(() => {});
    for (const s of made.splice(0)) await adminQuery(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => {});
  });
  let n = 0;
  return {
    name: (tag = '') => {
      const s = `t_${prefix}_${run}_${n++}${tag ? `_${tag}` : ''}`.toLowerCase().slice(0, 63);
      made.push(s);
      return s;
    },
    target: (schema) => parsePgUrl(pgUrl(schema)),
    open: async (schema, options) => {
      const d = await openPg(parsePgUrl(pgUrl(schema)), options);
      dbs.push(d);
      return d;
    },
  };
}
