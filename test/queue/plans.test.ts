/**
 * No statement of a hot path may read a growing table whole. Each hot path runs once on a
 * real database while every SQL text prepared on the connection is recorded (the stmt cache
 * and direct prepares both go through db.prepare); then each recorded statement's EXPLAIN
 * QUERY PLAN is checked. A plan step fails when it SCANs jobs, analyses or failed_jobs:
 * - without a LIMIT in the statement (a COUNT or GROUP BY over every row of the table or
 *   of an index), or
 * - with a LIMIT but a temp b-tree in the plan (every row read and sorted before the LIMIT);
 * except a scan of jobs_reserved, which holds only leased jobs (at most the live daemons'
 * slots plus lost leases). SEARCH steps (an index seek or range) pass, and so does a walk in
 * index or rowid order that a LIMIT stops.
 */
import { describe, expect, it } from 'vitest';
import { enqueueBatch } from '../../src/analysis/batch.js';
import { enqueueAnalysis } from '../../src/analysis/jobs.js';
import { analysisViews, completeAnalysis, createAnalysis, findActive, findLatestByUsername, findLatestCompleted, listAnalyses } from '../../src/analysis/store.js';
import { openAppDb } from '../../src/cli/db.js';
import * as q from '../../src/queue/index.js';
import { createDbSource } from '../../src/tui/source.js';
import { tempDbPath } from '../support/tmp.js';

const GROWING = /^SCAN (jobs|analyses|failed_jobs)\b/;

/** Open the app database with every prepared SQL text recorded into `seen`. */
function recording(file: string, seen: Set<string>, options: { readonly?: boolean } = {}): q.Db {
  const db = openAppDb(file, options);
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    seen.add(sql);
    return prepare(sql);
  }) as typeof db.prepare;
  return db;
}

/** The plan steps of `sql` that scan a growing table unboundedly. */
function unboundedScans(db: q.Db, sql: string): string[] {
  const bare = sql.replace(/'[^']*'/g, '');
  const named = [...new Set([...bare.matchAll(/[@:$]([A-Za-z_]\w*)/g)].map((m) => m[1]!))];
  const positional = (bare.match(/\?/g) ?? []).length;
  const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
  const rows = (named.length > 0 ? plan.all(Object.fromEntries(named.map((k) => [k, null]))) : plan.all(...Array(positional).fill(null))) as { detail: string }[];
  // A LIMIT bounds a walk in index (or rowid) order; a temp b-tree means every row is read and sorted first.
  const bounded = /\bLIMIT\b/i.test(sql) && !rows.some((r) => /TEMP B-TREE/.test(r.detail));
  return rows
    .map((r) => r.detail)
    .filter((d) => GROWING.test(d) && !/USING (COVERING )?INDEX jobs_reserved\b/.test(d) && !bounded);
}

/** Seed jobs in every state, failed jobs, analyses and a daemon, through the real API. */
function seed(db: q.Db, now: number): void {
  q.registerWorker(db, { id: 'w_000000000001', pid: 1, hostname: 'h', version: '0', queues: ['high', 'default', 'low'], concurrency: 4 }, now);
  q.enqueueMany(db, Array.from({ length: 60 }, (_, i) => ({ name: 'work', queue: ['high', 'default', 'low'][i % 3]!, payload: { i }, tags: ['t'] })), { now: now - 60_000 });
  q.enqueue(db, { name: 'later', queue: 'low', delayMs: 600_000 }, { now });
  const claimed = q.claim(db, { workerId: 'w_000000000001', queues: ['high', 'default', 'low'], limit: 10, now: now - 30_000 });
  q.completeMany(db, claimed.slice(0, 5), now - 10_000);
  for (const job of claimed.slice(5, 8)) q.fail(db, job, { message: 'boom' }, now - 5_000);
  const a = createAnalysis(db, { username: 'Done-User', now: now - 100_000 });
  completeAnalysis(db, a.id, { summary: 's' } as never, null, 'offline', now - 90_000);
  createAnalysis(db, { username: 'Busy-User', now: now - 50_000 });
}

describe('EXPLAIN QUERY PLAN of every hot-path statement', () => {
  it('finds no unbounded scan of jobs, analyses or failed_jobs', () => {
    const file = tempDbPath();
    const now = Date.now();
    const setup = openAppDb(file);
    seed(setup, now);
    setup.close();

    const paths: Record<string, Set<string>> = {};
    const run = (name: string, fn: (db: q.Db) => void, options: { readonly?: boolean } = {}) => {
      const seen = new Set<string>();
      const db = recording(file, seen, options);
      try {
        fn(db);
      } finally {
        db.close();
      }
      paths[name] = seen;
    };

    run('enqueue, claim, complete, release, fail', (db) => {
      q.enqueue(db, { name: 'one', queue: 'default', uniqueKey: 'k1' }, { now });
      q.enqueueMany(db, Array.from({ length: 60 }, () => ({ name: 'many', queue: 'high' })), { now });
      const jobs = q.claim(db, { workerId: 'w_000000000001', queues: ['high', 'default', 'low'], limit: 4, now });
      q.complete(db, jobs[0]!, now);
      q.completeMany(db, jobs.slice(1, 3), now);
      q.release(db, jobs[3]!, { message: 'again' }, now);
      q.nextDueAt(db);
      q.heartbeat(db, 'w_000000000001', 1, 'running', now);
      q.recoverLeases(db, q.STALE_MS, now);
    });
    run('the existing-analysis lookup (analyze, batch)', (db) => {
      findActive(db, 'busy-user');
      findLatestCompleted(db, 'done-user');
      findLatestByUsername(db, 'done-user');
      enqueueAnalysis(db, 'busy-user', { denyList: [], now });
      enqueueAnalysis(db, 'done-user', { denyList: [], now });
      enqueueAnalysis(db, 'new-user', { denyList: [], now });
      enqueueBatch(db, ['done-user', 'batch-a', 'batch-b'], { denyList: [], now });
    });
    run('gitroast list', (db) => {
      listAnalyses(db, {});
      listAnalyses(db, { status: 'completed' });
    });
    run('status', (db) => {
      q.queueStats(db, { now });
      q.liveWorkers(db, q.STALE_MS, now);
      q.schemaVersion(db);
    });
    run('failed list', (db) => {
      q.listFailed(db, { limit: q.FAILED_LIST_LIMIT });
      q.listFailed(db, { queue: 'default', limit: q.FAILED_LIST_LIMIT });
      q.listFailed(db, { name: 'work', tag: 't', limit: q.FAILED_LIST_LIMIT });
    });
    run('the monitor', (reader) => {
      const source = createDbSource({ open: () => reader, readonly: true });
      source.header(now);
      source.overview(now);
      for (const tab of ['pending', 'delayed', 'reserved', 'completed', 'failed'] as const) source.jobs(tab, {}, q.MONITOR_LIST_LIMIT, now);
      source.jobs('pending', { queue: 'high', name: 'work' }, q.MONITOR_LIST_LIMIT, now);
      source.failed(q.FAILED_READ_LIMIT);
      source.queues(now);
      for (const w of ['1h', '24h', '7d'] as const) source.metrics(w, now);
      source.workers(now);
      source.batches(q.MONITOR_LIST_LIMIT);
      // The analyses screens (the monitor's list; the dashboard's list and report).
      const analyses = analysisViews((fn) => source.read(fn));
      analyses.analyses(q.MONITOR_LIST_LIMIT);
      analyses.analysis('no-such-analysis');
      // Tags, charts and silenced jobs (issue 15).
      source.tags?.(10);
      source.jobs('completed', { tag: 't' }, q.MONITOR_LIST_LIMIT, now);
      for (const w of ['1h', '24h', '7d'] as const) {
        source.chart?.('queue', 'default', w, now);
        source.chart?.('job', 'work', w, now);
      }
    }, { readonly: true });
    run('the monitor with silenced jobs', (reader) => {
      const source = createDbSource({ open: () => reader, readonly: true, silenced: ['work', 'tag:t'] });
      source.overview(now);
      source.jobs('completed', {}, q.MONITOR_LIST_LIMIT, now);
      source.jobs('completed', { queue: 'high' }, q.MONITOR_LIST_LIMIT, now);
    }, { readonly: true });
    run('trim with monitored tags', (db) => {
      q.monitorTag(db, 't', now);
      q.trimJobs(db, { completedMinutes: 0.0001 }, now);
      q.trimJobs(db, { completedMinutes: 0.0001 }, now + 1000);
    });

    const db = openAppDb(file, { readonly: true });
    try {
      const problems: string[] = [];
      for (const [name, seen] of Object.entries(paths)) {
        expect(seen.size, `${name} prepared no statement`).toBeGreaterThan(0);
        for (const sql of seen) {
          if (/^\s*(PRAGMA|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b/i.test(sql)) continue;
          for (const step of unboundedScans(db, sql)) problems.push(`${name}: ${step}\n    in ${sql.replace(/\s+/g, ' ').trim().slice(0, 200)}`);
        }
      }
      expect(problems, problems.join('\n')).toEqual([]);
    } finally {
      db.close();
    }
  });
});

describe('failed_counts', () => {
  it('matches the failed list through failures, retries, forgets and flushes', () => {
    const db = openAppDb(tempDbPath());
    const now = Date.now();
    const counted = () => Object.fromEntries((db.prepare('SELECT queue, n FROM failed_counts WHERE n > 0 ORDER BY queue').all() as { queue: string; n: number }[]).map((r) => [r.queue, r.n]));
    const actual = () => Object.fromEntries((db.prepare('SELECT queue, COUNT(*) AS n FROM failed_jobs GROUP BY queue ORDER BY queue').all() as { queue: string; n: number }[]).map((r) => [r.queue, r.n]));
    try {
      q.enqueueMany(db, Array.from({ length: 9 }, (_, i) => ({ name: 'work', queue: ['high', 'low', 'default'][i % 3]!, tries: 1 })), { now });
      for (const job of q.claim(db, { workerId: 'w_000000000001', queues: ['high', 'default', 'low'], limit: 9, now })) q.fail(db, job, { message: 'no' }, now - (job.id % 2) * 7_200_000);
      expect(counted()).toEqual({ default: 3, high: 3, low: 3 });
      const [first] = q.listFailed(db, { queue: 'high' });
      q.retryFailed(db, { uuids: [first!.uuid] }, now);
      q.forgetFailed(db, { queue: 'low' });
      q.flushFailed(db, 1, now);
      expect(counted()).toEqual(actual());
      expect(q.failedTotal(db)).toBe(q.listFailed(db).length);
      expect(q.queueStats(db, { now }).map((s) => [s.queue, s.failed])).toEqual(Object.entries({ high: 0, default: 0, low: 0, ...actual() }).map(([k, v]) => [k, v]).sort((a, b) => ['high', 'default', 'low'].indexOf(a[0] as string) - ['high', 'default', 'low'].indexOf(b[0] as string)));
    } finally {
      db.close();
    }
  });
});
