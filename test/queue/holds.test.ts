import { describe, expect, it } from 'vitest';
import { Registry, startWorker } from '../../src/daemon/index.js';
import { claimThrottledInTx, enqueueMany, getJob, holdJobs, immediate, listHolds, releaseHold, type Db } from '../../src/queue/index.js';
import { openTestDb, stopAfterTest } from '../support/db.js';
import { waitFor } from '../support/tmp.js';

/** Holds (issue 18): a job name left pending until a time, with a reason; the claim honours it. */
function open(): Db {
  return openTestDb('app');
}

const claim = (db: Db, now: number, extra: Parameters<typeof claimThrottledInTx>[1] extends infer O ? Partial<O> : never = {}) =>
  immediate(db, () => claimThrottledInTx(db, { workerId: 'w', queues: ['default'], limit: 10, now, ...extra }));

describe('holds (claimThrottledInTx)', () => {
  it('leaves held jobs pending with no attempt spent, claims the others, and says when to claim again', () => {
    const db = open();
    const ids = enqueueMany(db, [{ name: 'fetch-github' }, { name: 'write-review' }, { name: 'fetch-github' }]).map((e) => e.id);
    holdJobs(db, 'fetch-github', 5_000, 'GitHub rate limit spent', 1_000);
    const got = claim(db, 2_000);
    expect(got.jobs.map((j) => j.name)).toEqual(['write-review']);
    expect(got.retryAt).toBe(5_000);
    for (const id of [ids[0]!, ids[2]!]) expect(getJob(db, id)).toMatchObject({ state: 'pending', attempts: 0 });
    expect(listHolds(db, 2_000)).toEqual([{ name: 'fetch-github', until: 5_000, reason: 'GitHub rate limit spent', setAt: 1_000, waiting: 2 }]);
    // At the end of the hold they are claimed.
    expect(claim(db, 5_000).jobs.map((j) => j.name)).toEqual(['fetch-github', 'fetch-github']);
    expect(listHolds(db, 5_000)).toEqual([]);
  });

  it('holds with throttles in force too, and a throttled window does not hide the hold', () => {
    const db = open();
    enqueueMany(db, [{ name: 'fetch-github' }, { name: 'write-review' }, { name: 'write-review' }]);
    holdJobs(db, 'fetch-github', 9_000, 'spent', 0);
    const got = claim(db, 1_000, { throttles: { jobs: { 'write-review': { max: 1, perMs: 60_000 } } } });
    expect(got.jobs.map((j) => j.name)).toEqual(['write-review']);
    expect(got.retryAt).toBe(9_000);
  });

  it('keeps the later end when held twice, and ends at once when released', () => {
    const db = open();
    enqueueMany(db, [{ name: 'fetch-github' }]);
    holdJobs(db, 'fetch-github', 9_000, 'first', 0);
    holdJobs(db, 'fetch-github', 4_000, 'second', 1);
    expect(listHolds(db, 2)[0]).toMatchObject({ until: 9_000, reason: 'first' });
    expect(releaseHold(db, 'fetch-github')).toBe(true);
    expect(claim(db, 3).jobs).toHaveLength(1);
  });

  it('lets a running worker go on with other work and take the held jobs when the hold ends', async () => {
    const db = open();
    const ran: string[] = [];
    const registry = new Registry();
    registry.register('fetch-github', { handle: () => void ran.push('fetch-github') });
    registry.register('other', { handle: () => void ran.push('other') });
    holdJobs(db, 'fetch-github', Date.now() + 400, 'budget spent');
    enqueueMany(db, [{ name: 'fetch-github' }, { name: 'other' }]);
    const w = startWorker(db, registry, { queues: ['default'], concurrency: 2, watch: false, pollMs: 60_000 });
    stopAfterTest(w);
    await waitFor(() => ran.includes('other'), 5_000, 'the other job');
    expect(ran).toEqual(['other']);
    // No poll for a minute: only the hold's end wakes the worker.
    await waitFor(() => ran.includes('fetch-github'), 5_000, 'the held job after its hold');
  });
});
