/**
 * The worker is generic over its engine's handler write (JobContext<W>): a worker on the
 * PostgreSQL store runs a registry of PostgreSQL handlers, whose ctx.write and ctx.commit
 * take PgLeasedWrites (async functions of the transaction's client), with no cast. The
 * compile-time half is `_refusedByTheTypes` below, checked by `tsc -p tsconfig.test.json`:
 * each @ts-expect-error fails the build once the mistake it names compiles again.
 */
import { describe, expect, it } from 'vitest';
import { Registry, runDaemon, silentLogger, startWorker, type Handler } from '../../src/daemon/index.js';
import type { Db, Store } from '../../src/queue/index.js';
import type { PgLeasedWrite } from '../../src/queue/pg/jobs.js';
import { pgQueueRoom } from '../../src/queue/pg/migrations.js';
import { createPgStore } from '../../src/queue/pg/store.js';
import { stopAfterTest } from '../support/db.js';
import { pgSchemas } from '../support/pg.js';
import { waitFor } from '../support/tmp.js';

const schemas = pgSchemas('phw');

/** Mistakes tsc refuses (never called: the checks are the compile). */
function _refusedByTheTypes(db: Db, pgStore: Store<PgLeasedWrite>): void {
  const sqliteHandler: Handler = { handle: (_p, ctx) => ctx.commit((tx) => void tx.prepare('INSERT INTO results (what) VALUES (1)').run()) };
  const pgRegistry = new Registry<PgLeasedWrite>();
  // @ts-expect-error: a SQLite handler's writes are functions of the Db, which a PostgreSQL worker cannot run
  pgRegistry.register('sqlite-typed', sqliteHandler);
  // @ts-expect-error: a handler written inline for a PostgreSQL registry gets a PostgreSQL client, not a Db
  pgRegistry.register('inline', { handle: (_p, ctx) => ctx.commit((tx) => void tx.prepare('SELECT 1').run()) });
  // @ts-expect-error: a registry of SQLite handlers does not run on the PostgreSQL store
  startWorker(undefined, new Registry(), { store: pgStore });
  // @ts-expect-error: nor does a daemon with one
  void runDaemon(undefined, new Registry(), { store: pgStore, logger: silentLogger, dbPath: 'test' });
  // @ts-expect-error: and PostgreSQL handlers do not run on a SQLite database
  startWorker(db, pgRegistry);
}

describe('PostgreSQL handler writes (through the worker)', () => {
  it('runs ctx.write at once and ctx.commit with the completion, as PgLeasedWrites; a failed attempt\'s commit writes nothing', async () => {
    const schema = schemas.name('writes');
    const db = await schemas.open(schema, { rooms: [pgQueueRoom] });
    await db.pool.query(`CREATE TABLE results (job BIGINT NOT NULL, what TEXT NOT NULL)`);
    const store = createPgStore(db);
    const staged: boolean[] = [];
    const registry = new Registry<PgLeasedWrite>().register<{ value: string }>('record', {
      async handle(p, ctx) {
        staged.push(await ctx.write(async (c) => {
          await c.query(`INSERT INTO results (job, what) VALUES ($1, $2)`, [ctx.id, `stage ${ctx.attempt}`]);
        }));
        ctx.commit(async (c) => {
          await c.query(`INSERT INTO results (job, what) VALUES ($1, $2)`, [ctx.id, `${p.value} ${ctx.attempt}`]);
        });
        if (ctx.attempt === 1) throw new Error('the first attempt fails after handing back its result');
      },
    });
    const { id } = await store.enqueue({ name: 'record', queue: 'default', payload: { value: 'result' }, tries: 2, backoff: [0] });
    stopAfterTest(startWorker(undefined, registry, { store, queues: ['default'], heartbeatMs: 50, pollMs: 50 }));
    await waitFor(async () => (await store.getJob(id))?.state === 'completed', 10_000, 'the second attempt to complete');
    const rows = (await db.pool.query<{ what: string }>(`SELECT what FROM results WHERE job = $1 ORDER BY what`, [id])).rows;
    expect(rows.map((r) => r.what)).toEqual(['result 2', 'stage 1', 'stage 2']);
    expect(staged).toEqual([true, true]);
    expect((await store.getJob(id))!.errors.map((e) => e.message)).toEqual(['the first attempt fails after handing back its result']);
  });
});
