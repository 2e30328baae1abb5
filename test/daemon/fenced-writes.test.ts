import { describe, expect, it } from 'vitest';
import { Registry, startWorker } from '../../src/daemon/index.js';
import { PermanentError, claim, complete, completeWithWritesInTx, enqueue, getJob, immediate, listFailed, writeUnderLease, type Db } from '../../src/queue/index.js';
import { openTestDb, stopAfterTest } from '../support/db.js';
import { waitFor } from '../support/tmp.js';

function open(): Db {
  const db = openTestDb();
  db.exec(`CREATE TABLE results (job INTEGER PRIMARY KEY, value TEXT NOT NULL)`);
  return db;
}

const rows = (db: Db) => db.prepare(`SELECT job, value FROM results ORDER BY job`).all() as { job: number; value: string }[];
const put = (job: number, value: string) => (db: Db) => void db.prepare(`INSERT INTO results (job, value) VALUES (?, ?)`).run(job, value);

describe('fenced handler writes (queue primitives)', () => {
  it('commits a handler\'s writes with its completion while the lease holds', () => {
    const db = open();
    const { id } = enqueue(db, { name: 'w' });
    const [job] = claim(db, { workerId: 'w_a' });
    expect(immediate(db, () => completeWithWritesInTx(db, job!, [put(id, 'a')]))).toBe(true);
    expect(getJob(db, id)!.state).toBe('completed');
    expect(rows(db)).toEqual([{ job: id, value: 'a' }]);
  });

  it('writes nothing for a holder whose lease was taken over, and leaves the new holder\'s lease alone', () => {
    const db = open();
    const { id } = enqueue(db, { name: 'w' });
    const [stale] = claim(db, { workerId: 'w_a', leaseMs: -1 });
    // The lease expired; recovery hands the job to another worker with a new token.
    db.prepare(`UPDATE jobs SET state = 'pending' WHERE id = ?`).run(id);
    const [fresh] = claim(db, { workerId: 'w_b' });
    expect(fresh!.token).toBe(stale!.token + 1);
    expect(immediate(db, () => completeWithWritesInTx(db, stale!, [put(id, 'stale')]))).toBe(false);
    expect(writeUnderLease(db, stale!, put(id, 'stale-now'))).toBe(false);
    expect(rows(db)).toEqual([]);
    const job = getJob(db, id)!;
    expect([job.state, job.reservedBy, job.leaseToken]).toEqual(['reserved', 'w_b', fresh!.token]);
    expect(writeUnderLease(db, fresh!, put(id, 'fresh'))).toBe(true);
    expect(complete(db, fresh!)).toBe(true);
    expect(rows(db)).toEqual([{ job: id, value: 'fresh' }]);
  });

  it('undoes the completion when a write throws: both or neither, the lease still held', () => {
    const db = open();
    const { id } = enqueue(db, { name: 'w', chain: [{ name: 'next' }] });
    const [job] = claim(db, { workerId: 'w_a' });
    const boom = () => {
      throw new Error('disk said no');
    };
    const r = immediate(db, () => completeWithWritesInTx(db, job!, [put(id, 'half'), boom]));
    expect(r).toBeInstanceOf(Error);
    expect((r as Error).message).toBe('disk said no');
    expect(rows(db)).toEqual([]);
    expect(getJob(db, id)!.state).toBe('reserved');
    // The chain's next link was not enqueued either.
    expect(db.prepare(`SELECT count(*) AS n FROM jobs WHERE name = 'next'`).get()).toEqual({ n: 0 });
  });
});

describe('fenced handler writes (through the worker)', () => {
  it('commits ctx.commit writes with the result, and none of a failed attempt\'s', async () => {
    const db = open();
    const registry = new Registry();
    registry.register<{ n: number }>('w', {
      async handle(p, ctx) {
        ctx.commit(put(ctx.id, `attempt ${ctx.attempt}`));
        if (ctx.attempt === 1) throw new Error('first attempt fails after handing back its writes');
      },
    });
    const { id } = enqueue(db, { name: 'w', tries: 2 });
    stopAfterTest(startWorker(db, registry, { heartbeatMs: 50, pollMs: 50 }));
    await waitFor(() => getJob(db, id)!.state === 'completed', 10_000, 'the job to complete');
    expect(rows(db)).toEqual([{ job: id, value: 'attempt 2' }]);
  });

  it('retries a job whose writes throw, and fails it for good on a permanent write error, writing nothing', async () => {
    const db = open();
    const registry = new Registry();
    registry.register('flaky', {
      handle(_p, ctx) {
        ctx.commit((tx) => {
          put(ctx.id, `attempt ${ctx.attempt}`)(tx);
          if (ctx.attempt === 1) throw new Error('constraint trouble');
        });
      },
    });
    registry.register('doomed', {
      handle(_p, ctx) {
        ctx.commit((tx) => {
          put(ctx.id, 'never')(tx);
          throw new PermanentError('this row can never be written');
        });
      },
    });
    const flaky = enqueue(db, { name: 'flaky', tries: 3 }).id;
    const doomed = enqueue(db, { name: 'doomed', tries: 3 }).id;
    stopAfterTest(startWorker(db, registry, { heartbeatMs: 50, pollMs: 50 }));
    await waitFor(() => getJob(db, flaky)!.state === 'completed' && getJob(db, doomed)!.state === 'failed', 10_000, 'both jobs to finish');
    expect(rows(db)).toEqual([{ job: flaky, value: 'attempt 2' }]);
    expect(getJob(db, flaky)!.errors.map((e) => e.message)).toEqual(['its writes failed: constraint trouble']);
    expect(getJob(db, doomed)!.attempts).toBe(1);
    expect(listFailed(db, {}).map((f) => f.error)).toEqual(['its writes failed: this row can never be written']);
  });

  it('refuses ctx.write once the attempt timed out, and drops its late ctx.commit writes', async () => {
    const db = open();
    const registry = new Registry();
    const seen: boolean[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    registry.register('slow', {
      async handle(_p, ctx) {
        seen.push(await ctx.write(put(ctx.id * 1000 + ctx.attempt, 'stage')));
        if (ctx.attempt === 1) {
          await gate;
          seen.push(await ctx.write(put(ctx.id * 1000 + 9, 'late stage')));
          ctx.commit(put(ctx.id, 'late result'));
          return;
        }
        ctx.commit(put(ctx.id, 'second attempt'));
      },
    });
    const { id } = enqueue(db, { name: 'slow', tries: 2, timeoutMs: 100 });
    stopAfterTest(startWorker(db, registry, { heartbeatMs: 50, pollMs: 50 }));
    await waitFor(() => getJob(db, id)!.state === 'completed', 10_000, 'the second attempt to complete');
    release();
    await waitFor(() => seen.length === 3, 5_000, 'the first attempt to finish late');
    await new Promise((r) => setTimeout(r, 150));
    expect(seen).toEqual([true, true, false]);
    expect(rows(db)).toEqual([
      { job: id, value: 'second attempt' },
      { job: id * 1000 + 1, value: 'stage' },
      { job: id * 1000 + 2, value: 'stage' },
    ]);
  });
});
