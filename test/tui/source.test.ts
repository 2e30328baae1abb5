import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openAppDb } from '../../src/cli/db.js';
import * as q from '../../src/queue/index.js';
import { createDbSource, overviewData, overviewQueues, type DbSource } from '../../src/tui/source.js';
import { tempDbPath } from '../support/tmp.js';
import { seed } from './seed.js';

const sources: DbSource[] = [];
afterEach(() => {
  for (const s of sources.splice(0)) s.close();
});

function source(file: string, readonly = false): DbSource {
  const s = createDbSource({ open: (o) => openAppDb(file, o), readonly });
  sources.push(s);
  return s;
}

describe('the database data source', () => {
  it('counts the overview queues as queueStats does, with configured queues listed', () => {
    const file = tempDbPath();
    const now = Date.now();
    seed(file, now);
    const db = openAppDb(file, { readonly: true });
    try {
      const mine = overviewQueues(db, now, ['high', 'default', 'low', 'empty']);
      const theirs = q.queueStats(db, { now, configured: ['high', 'default', 'low', 'empty'] }).map(({ completed: _c, ...rest }) => rest);
      expect(mine).toEqual(theirs);
      expect(mine.find((x) => x.queue === 'empty')).toMatchObject({ pending: 0, delayed: 0 });
    } finally {
      db.close();
    }
  });

  it('builds the overview: per-minute counts, past hour, failures, longest wait and runtime, tail', () => {
    const file = tempDbPath();
    const now = Date.now();
    seed(file, now);
    const db = openAppDb(file, { readonly: true });
    try {
      const o = overviewData(db, now);
      expect(o.throughput).toHaveLength(60);
      expect(o.throughput.reduce((a, b) => a + b, 0)).toBe(30);
      expect(o.jobsPastHour).toBe(33);
      expect(o.failedPast7d).toBe(3);
      expect(o.longestWait?.queue).toBe('low');
      expect(o.longestRuntime).toMatchObject({ name: 'fetch-github', ms: 10_000 });
      expect(o.events[0]!.event).toBe('enqueued');
      expect(o.events.length).toBeLessThanOrEqual(12);
      expect(q.throughputSeries(db, 60, now)).toEqual(o.throughput);
    } finally {
      db.close();
    }
  });

  it('reads inside short transactions: no read transaction is left open between reads', () => {
    const file = tempDbPath();
    seed(file);
    const s = source(file);
    s.overview(Date.now());
    s.read((db) => expect(db.inTransaction).toBe(true));
    expect(s.read((db) => db.inTransaction)).toBe(true);
    let conn: q.Db | undefined;
    s.read((db) => (conn = db));
    expect(conn!.inTransaction).toBe(false);
    expect(conn!.readonly).toBe(true);
  });

  it('retries and forgets failed jobs, pauses queues and daemons through src/queue', () => {
    const file = tempDbPath();
    const { failedUuids, batchId } = seed(file);
    const s = source(file);
    expect(s.actions!.retryFailed([failedUuids[0]!])).toBe('retried 1 failed job');
    expect(s.actions!.forgetFailed([failedUuids[1]!])).toBe('forgot 1 failed job');
    expect(s.failed(100).map((f) => f.uuid)).toEqual([failedUuids[2]]);
    s.actions!.pauseQueue('high');
    expect(s.queues(Date.now()).find((x) => x.queue === 'high')?.paused).toBe(true);
    s.actions!.continueQueue('high');
    s.actions!.pauseDaemons(true);
    expect(s.workers(Date.now()).control.paused).toBe(true);
    s.actions!.stopDaemons();
    expect(s.workers(Date.now()).control.stopRequestedAt).not.toBeNull();
    expect(s.actions!.cancelBatch(batchId)).toMatch(/^cancelled 1 job of batch/);
    expect(s.batches(10)[0]!.cancelledAt).not.toBeNull();
  });

  it('has no actions when read-only', () => {
    const file = tempDbPath();
    seed(file);
    expect(source(file, true).actions).toBeUndefined();
  });

  it('computes metrics for 1 h from jobs and for 24 h from snapshots', () => {
    const file = tempDbPath();
    const now = Date.now();
    seed(file, now);
    const db = openAppDb(file);
    db.prepare(`INSERT INTO metrics_snapshots (taken_at, window_ms, kind, key, processed, failed, runtime_avg, runtime_p95, wait_avg, wait_p95)
                VALUES (?, 300000, 'job', 'fetch-github', 10, 2, 100, 300, 5, 9), (?, 300000, 'job', 'fetch-github', 30, 0, 200, 500, 5, 9)`).run(now - 600_000, now - 300_000);
    db.close();
    const s = source(file);
    const hour = s.metrics('1h', now);
    expect(hour.find((m) => m.kind === 'queue' && m.key === 'default')).toMatchObject({ processed: 20, failed: 3 });
    const day = s.metrics('24h', now).find((m) => m.key === 'fetch-github')!;
    expect(day).toMatchObject({ processed: 40, failed: 2, runtimeP50: null, approximate: true });
    expect(day.runtimeAvg).toBeCloseTo((100 * 12 + 200 * 30) / 42);
  });

  it('finds jobs by state and filter, and one job by id', () => {
    const file = tempDbPath();
    seed(file);
    const s = source(file);
    expect(s.jobs('pending', { queue: 'low' }, 100, Date.now())).toHaveLength(6);
    expect(s.jobs('pending', { tag: 'username:later3' }, 100, Date.now()).map((j) => j.payload)).toEqual([{ username: 'later3' }]);
    expect(s.jobs('delayed', {}, 100, Date.now())[0]!.name).toBe('notify');
    expect(s.job(1)?.state).toBe('completed');
    expect(fs.existsSync(file)).toBe(true);
  });
});
