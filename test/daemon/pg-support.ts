/** Helpers of the PostgreSQL daemon tests (pg-daemon.test.ts, pg-restart.test.ts). */
import fs from 'node:fs';
import path from 'node:path';
import { closePg, type PgDb } from '../../src/queue/pg/connect.js';
import { createPgStore } from '../../src/queue/pg/store.js';
import type { JobSpec } from '../../src/queue/index.js';
import { adminQuery } from '../support/pg.js';
import { tempDir } from '../support/tmp.js';

/**
 * A handler module for PostgreSQL: `pg-record` notes its start in `payload.file`, sleeps
 * `payload.ms`, and hands back (ctx.commit) an insert into `completions`, which commits only
 * with an accepted completion: the table counts completions, not runs.
 */
export function writePgHandlers(): string {
  const file = path.join(tempDir('gitroast-pg-handlers-'), 'handlers.mjs');
  fs.writeFileSync(file, `
import fs from 'node:fs';
export function register(registry) {
  registry.register('pg-record', {
    async handle(p, ctx) {
      fs.appendFileSync(p.file, process.pid + ' ' + ctx.id + ' ' + ctx.attempt + ' start\\n');
      await new Promise((r) => setTimeout(r, p.ms));
      ctx.commit(async (c) => { await c.query('INSERT INTO completions (job_id, pid) VALUES ($1, $2)', [ctx.id, process.pid]); });
    },
  });
}
`);
  return file;
}

/** Jobs completed per id, as the completions table (written with each accepted completion) counts them. */
export async function completedTimes(schema: string): Promise<Map<number, number>> {
  const r = await adminQuery<{ id: number; n: number }>(`SELECT job_id::int AS id, COUNT(*)::int AS n FROM "${schema}".completions GROUP BY job_id`);
  return new Map(r.rows.map((x) => [x.id, x.n]));
}

/** Enqueue `n` record jobs (each appends `pid id attempt start|done` to `file`) through the PostgreSQL store; returns their ids. */
export async function enqueueRecords(open: (schema: string) => Promise<PgDb>, schema: string, n: number, file: string, ms: number, name = 'record', tries?: number): Promise<number[]> {
  const db = await open(schema);
  try {
    const specs: JobSpec[] = Array.from({ length: n }, () => ({ name, queue: 'default', payload: { file, ms }, ...(tries ? { tries } : {}) }));
    const out = await createPgStore(db).enqueueMany(specs);
    return out.map((e) => e.id);
  } finally {
    await closePg(db);
  }
}

/** Jobs of one name by state in a schema (read outside gitroast). */
export async function states(schema: string, name = 'record'): Promise<Record<string, number>> {
  const r = await adminQuery<{ state: string; n: number }>(`SELECT state, COUNT(*)::int AS n FROM "${schema}".jobs WHERE name = $1 GROUP BY state`, [name]);
  return Object.fromEntries(r.rows.map((x) => [x.state, x.n]));
}

