import { describe, expect, it } from 'vitest';
import { claim, complete, delay, enqueue, getJob, listFailed, openDatabase, release } from '../../src/queue/index.js';
import { tempDbPath } from '../support/tmp.js';

const HOUR = 3_600_000;

describe('retry-until and rate-limit waits', () => {
  it('does not cut an hour-long rate-limit wait at a 10-minute retry-until, and keeps the retries after it', () => {
    const db = openDatabase(tempDbPath());
    const t0 = 1_700_000_000_000;
    const { id } = enqueue(db, { name: 'fetch-github', tries: 5, backoff: [10], retryUntil: t0 + 600_000 }, { now: t0 });
    let [job] = claim(db, { workerId: 'w_test', now: t0 });
    // The rate limit resets in an hour: waiting is not a failure.
    expect(delay(db, job!, t0 + HOUR, 'GitHub rate limit exhausted', t0)).toMatchObject({ kind: 'delayed', availableAt: t0 + HOUR });
    expect(listFailed(db)).toHaveLength(0);
    [job] = claim(db, { workerId: 'w_test', now: t0 + HOUR });
    expect(job?.id).toBe(id);
    // A real failure after the wait still has its ten minutes of retries.
    expect(release(db, job!, { message: 'GitHub answered 502' }, t0 + HOUR + 1000).kind).toBe('released');
    expect(getJob(db, id)!.retryUntil).toBe(t0 + 600_000 + HOUR);
    db.close();
  });

  it('bounds rate-limit waits on their own: past maxRateLimitWait from enqueue the job fails, naming the bound', () => {
    const db = openDatabase(tempDbPath());
    const t0 = 1_700_000_000_000;
    enqueue(db, { name: 'fetch-github', retryUntil: t0 + 600_000 }, { now: t0 });
    const [job] = claim(db, { workerId: 'w_test', now: t0 });
    const out = delay(db, job!, t0 + 25 * HOUR, 'GitHub rate limit exhausted', t0, { maxWaitMs: 24 * HOUR });
    expect(out.kind).toBe('failed');
    expect(listFailed(db)[0]!.error).toMatch(/GitHub rate limit exhausted \(would wait past its rate-limit bound of 24 h/);
    db.close();
  });

  it('gives each chain link its own retry-until window, counted from when the link is enqueued', () => {
    const db = openDatabase(tempDbPath());
    const t0 = 1_700_000_000_000;
    enqueue(db, { name: 'a', retryForMs: 600_000, chain: [{ name: 'b', retryForMs: 600_000 }] }, { now: t0 });
    const [a] = claim(db, { workerId: 'w_test', now: t0 });
    expect(getJob(db, a!.id)!.retryUntil).toBe(t0 + 600_000);
    expect(delay(db, a!, t0 + 2 * HOUR, 'rate limit', t0).kind).toBe('delayed');
    const [again] = claim(db, { workerId: 'w_test', now: t0 + 2 * HOUR });
    expect(complete(db, again!, t0 + 2 * HOUR + 10)).toBe(true);
    const [b] = claim(db, { workerId: 'w_test', now: t0 + 2 * HOUR + 20 });
    expect(b?.name).toBe('b');
    expect(getJob(db, b!.id)!.retryUntil).toBe(t0 + 2 * HOUR + 10 + 600_000);
    db.close();
  });
});

describe('the analysis chain and the config', () => {
  it('gives fetch-github and write-review the seed retry-until of 10 minutes, overridable per job in the config', async () => {
    const { analysisChain } = await import('../../src/analysis/jobs.js');
    const { applyJobOptions, loadConfig } = await import('../../src/cli/config.js');
    const chain = analysisChain('id1', 'octocat');
    expect(chain.retryForMs).toBe(600_000);
    expect(chain.chain![0]).toMatchObject({ name: 'write-review', retryForMs: 600_000 });
    const { config } = loadConfig({ env: { XDG_CONFIG_HOME: '/nonexistent-gitroast' }, flags: { 'jobs': { value: { 'fetch-github': { retryUntil: 1800 } }, flag: 'test' } } });
    expect(analysisChain('id2', 'octocat', 'default', (s) => applyJobOptions(s, config)).retryForMs).toBe(1_800_000);
    expect(config.maxRateLimitWaitHours).toBe(24);
    expect(config.analysis.pruneDays).toBe(90);
  });
});
