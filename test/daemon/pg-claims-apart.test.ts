/**
 * On PostgreSQL the worker claims apart from its results (src/daemon/worker.ts): a claim
 * is its own transaction, beside the durable commit of the jobs that finished. Shown here
 * through a store whose results commits are held back: a job enqueued meanwhile starts at
 * once, and the worker still never holds more leases than it has slots.
 */
import { describe, expect, it } from 'vitest';
import { Registry, startWorker } from '../../src/daemon/index.js';
import type { CommitBatch, Store } from '../../src/queue/index.js';
import { pgHoldJobs, type PgLeasedWrite } from '../../src/queue/pg/jobs.js';
import { pgQueueRoom } from '../../src/queue/pg/migrations.js';
import { createPgStore } from '../../src/queue/pg/store.js';
import { stopAfterTest } from '../support/db.js';
import { pgSchemas } from '../support/pg.js';
import { waitFor } from '../support/tmp.js';

const schemas = pgSchemas('apart');

/** True when a commit carries results (not a claim alone). */
function carriesResults(b: CommitBatch<PgLeasedWrite>): boolean {
  return (b.completions?.length ?? 0) + (b.settlements?.length ?? 0) + (b.late?.length ?? 0) > 0;
}

describe('PostgreSQL: claims apart from results', () => {
  it('starts a job enqueued while the previous job\'s results commit is still in flight', async () => {
    const db = await schemas.open(schemas.name('start'), { rooms: [pgQueueRoom] });
    const store = createPgStore(db);
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let held = 0;
    const gated: Store<PgLeasedWrite> = {
      ...store,
      commit: async (b) => {
        if (carriesResults(b)) {
          held++;
          await gate;
        }
        return store.commit(b);
      },
    };
    const started: string[] = [];
    const registry = new Registry<PgLeasedWrite>().register<{ n: string }>('step', { handle: (p) => void started.push(p.n) });
    stopAfterTest(startWorker(undefined, registry, { store: gated, queues: ['default'], concurrency: 2, heartbeatMs: 50, pollMs: 50 }));
    const a = await store.enqueue({ name: 'step', queue: 'default', payload: { n: 'a' } });
    await waitFor(() => held > 0, 10_000, "a's results commit to begin");
    const b = await store.enqueue({ name: 'step', queue: 'default', payload: { n: 'b' } });
    // b runs while a's result is still uncommitted.
    await waitFor(() => started.includes('b'), 10_000, 'b to start while a is being committed');
    expect((await store.getJob(a.id))!.state).toBe('reserved');
    open();
    await waitFor(async () => (await store.getJob(a.id))?.state === 'completed' && (await store.getJob(b.id))?.state === 'completed', 10_000, 'both to complete');
    expect(started).toEqual(['a', 'b']);
  }, 30_000);

  it('a claim sent with the holds of its last look never takes a job held since, and asks again at once when the holds changed', async () => {
    const db = await schemas.open(schemas.name('holds'), { rooms: [pgQueueRoom] });
    const a = createPgStore(db);
    const plan = { free: 4, workerId: 'w_holds', leaseMs: 60_000, plan: (take: (q: readonly string[], n: number) => { jobs: { name: string }[] }) => take(['default'], 4).jobs };
    const claimNames = async (store: typeof a) => {
      const r = await store.commit({ claim: plan as never });
      return { names: r.claimed.map((j) => j.name).sort(), again: r.nextDueAt === r.now };
    };
    // The store looked with no hold in force; the hold comes after. Its next claim leaves out
    // nothing, and the statement itself leaves the held jobs: it takes the free one and asks again.
    expect(await claimNames(a)).toEqual({ names: [], again: false });
    await pgHoldJobs(db.pool, 'held', Date.now() + 60_000, 'test');
    await a.enqueueMany([{ name: 'held', queue: 'default' }, { name: 'held', queue: 'default' }, { name: 'free', queue: 'default' }]);
    expect(await claimNames(a)).toEqual({ names: ['free'], again: true });
    expect(await claimNames(a)).toEqual({ names: [], again: false });
    // Lifted: store a still leaves the name out once, sees the change and asks again; then takes them.
    await db.pool.query(`DELETE FROM job_holds`);
    expect(await claimNames(a)).toEqual({ names: [], again: true });
    expect(await claimNames(a)).toEqual({ names: ['held', 'held'], again: false });
    expect((await db.pool.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM jobs WHERE state = 'pending'`)).rows[0]!.n).toBe(0);
  }, 30_000);

  it('never holds more leases than slots while its results commits fall behind', async () => {
    const db = await schemas.open(schemas.name('bound'), { rooms: [pgQueueRoom] });
    const store = createPgStore(db);
    const slow: Store<PgLeasedWrite> = {
      ...store,
      commit: async (b) => {
        if (carriesResults(b)) await new Promise((r) => setTimeout(r, 100));
        return store.commit(b);
      },
    };
    await store.enqueueMany(Array.from({ length: 60 }, (_, i) => ({ name: 'quick', queue: 'default', payload: { i } })));
    const registry = new Registry<PgLeasedWrite>().register('quick', { handle: () => {} });
    // The safety poll is 30 s: each claim after the first comes from the worker itself, once
    // the results that held its slots are committed.
    stopAfterTest(startWorker(undefined, registry, { store: slow, queues: ['default'], concurrency: 4, heartbeatMs: 50, pollMs: 30_000 }));
    let most = 0;
    let done = 0;
    const started = Date.now();
    while (done < 60 && Date.now() - started < 20_000) {
      const r = (await db.pool.query<{ state: string; n: number }>(`SELECT state, COUNT(*)::int AS n FROM jobs GROUP BY state`)).rows;
      most = Math.max(most, r.find((x) => x.state === 'reserved')?.n ?? 0);
      done = r.find((x) => x.state === 'completed')?.n ?? 0;
      await new Promise((res) => setTimeout(res, 10));
    }
    expect(done).toBe(60);
    // Leased: the running jobs and the finished ones whose results are not committed yet.
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(4);
  }, 30_000);
});
