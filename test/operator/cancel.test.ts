import { describe, expect, it } from 'vitest';
import { openAppDb } from '../../src/cli/db.js';
import { getAnalysis } from '../../src/analysis/store.js';
import { enqueueBatch } from '../../src/analysis/batch.js';
import { enqueueAnalysis } from '../../src/analysis/jobs.js';
import {
  cancelJobs, claim, clearQueue, complete, createBatch, enqueue, fail, getBatch, getJob, listJobs, openDatabase,
} from '../../src/queue/index.js';
import { gitroast } from '../support/cli.js';
import { tempDbPath, tempDir } from '../support/tmp.js';

const W = 'w_test';

describe('jobs cancel and queue clear on chains', () => {
  it('cancels the rest of a chain and runs its catch with the reason "cancelled"', () => {
    const db = openDatabase(tempDbPath());
    const { id } = enqueue(db, { name: 'a', chain: [{ name: 'b' }, { name: 'c' }], catch: { name: 'oops', payload: { k: 1 } } });
    const [a] = claim(db, { workerId: W });
    complete(db, a!);
    const [b] = listJobs(db, { state: 'pending', name: 'b' });
    expect(cancelJobs(db, [b!.id, id])).toEqual({ ids: [b!.id], catches: 1 });
    expect(getJob(db, b!.id)!.state).toBe('cancelled');
    expect(listJobs(db, { state: 'pending', name: 'c' })).toHaveLength(0);
    const [oops] = listJobs(db, { state: 'pending', name: 'oops' });
    expect(oops!.payload).toMatchObject({ k: 1, failure: { jobId: b!.id, name: 'b', message: 'cancelled', reason: 'cancelled' } });
    db.close();
  });

  it('clears pending and delayed jobs of one queue only, leaving the catch jobs it queued', () => {
    const db = openDatabase(tempDbPath());
    for (let i = 0; i < 5; i++) enqueue(db, { name: 'p', queue: 'low', chain: [{ name: 'q', queue: 'low' }], catch: { name: 'caught', queue: 'low' } });
    enqueue(db, { name: 'd', queue: 'low', delayMs: 60_000 });
    enqueue(db, { name: 'other', queue: 'high' });
    const out = clearQueue(db, 'low', Date.now(), 2);
    expect(out.ids).toHaveLength(6);
    expect(out.catches).toBe(5);
    expect(listJobs(db, { state: 'pending', queue: 'low' }).map((j) => j.name)).toEqual(Array(5).fill('caught'));
    expect(listJobs(db, { state: 'delayed', queue: 'low' })).toHaveLength(0);
    expect(listJobs(db, { state: 'pending', queue: 'high' })).toHaveLength(1);
    db.close();
  });
});

describe('cancelling jobs of a batch', () => {
  it('counts them as cancelled, runs finally (not then), and hands the catch the failure with its job, error and attempt', () => {
    const db = openDatabase(tempDbPath());
    const { id, jobs } = createBatch(db, {
      jobs: [{ name: 'x' }, { name: 'x' }, { name: 'x', tries: 1 }], allowFailures: true,
      then: { name: 'then-cb' }, catch: { name: 'catch-cb' }, finally: { name: 'finally-cb' },
    });
    expect(cancelJobs(db, [jobs[0]!.id]).ids).toEqual([jobs[0]!.id]);
    const [first] = claim(db, { workerId: W });
    complete(db, first!);
    const [last] = claim(db, { workerId: W });
    fail(db, last!, { message: 'GitHub answered 500' });
    expect(getBatch(db, id)).toMatchObject({ total: 3, pending: 0, processed: 1, failed: 1, cancelled: 1 });
    const names = listJobs(db, { state: 'pending' }).map((j) => j.name).sort();
    expect(names).toEqual(['catch-cb', 'finally-cb']);
    const [cb] = listJobs(db, { state: 'pending', name: 'catch-cb' });
    expect(cb!.payload).toMatchObject({ batch: { id }, failure: { jobId: last!.id, name: 'x', error: 'GitHub answered 500', attempt: 1 } });
    db.close();
  });
});

describe('cancelling an analysis', () => {
  it('jobs cancel marks the analysis failed with the reason "cancelled" once its catch runs', async () => {
    const file = tempDbPath();
    const db = openAppDb(file);
    const { analysis } = enqueueAnalysis(db, 'octocat', { denyList: [] });
    const [job] = listJobs(db, { state: 'pending', tag: `analysis:${analysis.id}` });
    db.close();
    const env = { XDG_CONFIG_HOME: tempDir(), GITHUB_TOKEN: '', OPENAI_API_KEY: '', GITROAST_CONFIG: '' };
    const r = await gitroast(['--db', file, 'jobs', 'cancel', String(job!.id), '--yes', '--json'], { env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ cancelled: [job!.id], notCancelled: [], catches: 1 });
    const d = await gitroast(['--db', file, 'daemon', '--stop-when-empty', '--log-level', 'silent'], { env });
    expect(d.code).toBe(0);
    const db2 = openAppDb(file);
    expect(getAnalysis(db2, analysis.id)).toMatchObject({ status: 'failed', error: 'cancelled' });
    db2.close();
  });

  it('queue clear cancels a batch of analyses: counted as cancelled, finally runs, analyses failed', async () => {
    const file = tempDbPath();
    const db = openAppDb(file);
    const { batchId } = enqueueBatch(db, ['octocat', 'hubot'], { denyList: [] });
    db.close();
    const env = { XDG_CONFIG_HOME: tempDir(), GITHUB_TOKEN: '', OPENAI_API_KEY: '', GITROAST_CONFIG: '' };
    const r = await gitroast(['--db', file, 'queue', 'clear', 'default', '--yes'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/queue default: 2 jobs cancelled \(2 chain catch jobs queued\)/);
    const d = await gitroast(['--db', file, 'daemon', '--stop-when-empty', '--log-level', 'silent'], { env });
    expect(d.code).toBe(0);
    const db2 = openAppDb(file);
    expect(getBatch(db2, batchId)).toMatchObject({ total: 2, pending: 0, cancelled: 2, processed: 0, failed: 0 });
    expect(getBatch(db2, batchId)!.finishedAt).not.toBeNull();
    const rows = db2.prepare(`SELECT status, error FROM analyses`).all();
    expect(rows).toEqual([{ status: 'failed', error: 'cancelled' }, { status: 'failed', error: 'cancelled' }]);
    db2.close();
  });

  it('refuses a bad job id with exit 2, and says which ids were not pending', async () => {
    const file = tempDbPath();
    openAppDb(file).close();
    const bad = await gitroast(['--db', file, 'jobs', 'cancel', 'abc', '--yes']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid job id "abc"/);
    const none = await gitroast(['--db', file, 'jobs', 'cancel', '99', '--yes']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/0 jobs cancelled[\s\S]*not pending or delayed .*: 99/);
  });
});

describe('batches show', () => {
  it('--json lists the jobs by state, the failures with their errors and the callbacks with their state', async () => {
    const file = tempDbPath();
    const db = openAppDb(file);
    const { id, jobs } = createBatch(db, { name: 'n', jobs: [{ name: 'x' }, { name: 'x', tries: 1 }, { name: 'x' }], allowFailures: true, catch: { name: 'cb' }, finally: { name: 'fin' } });
    const [a] = claim(db, { workerId: W });
    complete(db, a!);
    const [b] = claim(db, { workerId: W });
    fail(db, b!, { message: 'boom \u001b[31mred\u001b[0m' });
    db.close();
    const r = await gitroast(['--db', file, 'batches', 'show', id, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ id, processed: 1, failed: 1, cancelled: 0, pending: 1, states: { completed: 1, failed: 1, pending: 1 } });
    expect(out.jobs.map((j: { id: number }) => j.id)).toEqual([jobs[2]!.id, jobs[1]!.id, jobs[0]!.id]);
    expect(out.failures).toEqual([expect.objectContaining({ jobId: b!.id, attempts: 1, error: expect.stringMatching(/^boom .*red/) })]);
    expect(out.failures[0].error).not.toContain('\u001b');
    expect(out.callbacks).toEqual([{ kind: 'then', name: null, state: 'none' }, { kind: 'catch', name: 'cb', state: 'dispatched' }, { kind: 'finally', name: 'fin', state: 'waiting' }]);
    const text = await gitroast(['--db', file, 'batches', 'show', id]);
    expect(text.stdout).toMatch(/by state +1 pending, 1 completed, 1 failed/);
    expect(text.stdout).toMatch(/callbacks then none; catch cb dispatched; finally fin waiting/);
  });
});
