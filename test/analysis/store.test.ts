import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  completeAnalysis,
  createAnalysis,
  failAnalysis,
  findActive,
  findLatestByUsername,
  getAnalysis,
  keepAnalysis,
  listAnalyses,
  pruneAnalyses,
  pruneHttpCache,
  saveCollected,
  setStage,
} from '../../src/analysis/store.js';
import { SqliteHttpCache } from '../../src/analysis/github.js';
import { scoreProfile } from '../../src/analysis/score.js';
import { writeOffline } from '../../src/analysis/writer.js';
import { makeSnapshot } from '../fakes/snapshots.js';
import { NOW, openTempDb, type TempDb } from './helpers.js';

const DAY = 86_400_000;
let t: TempDb;
beforeEach(() => {
  t = openTempDb();
});
afterEach(() => t.close());

describe('analyses store', () => {
  it('creates a pending analysis in the queued stage with a uuid', () => {
    const a = createAnalysis(t.db, { username: 'Octocat', now: NOW });
    expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).toMatchObject({ username: 'Octocat', status: 'pending', stage: 'queued', kept: false, overall: null, scores: null, createdAt: NOW });
    expect(getAnalysis(t.db, a.id)).toEqual(a);
  });

  it('returns undefined for an unknown id', () => {
    expect(getAnalysis(t.db, 'nope')).toBeUndefined();
  });

  it('finds the latest analysis of a username regardless of case', () => {
    createAnalysis(t.db, { username: 'octocat', now: NOW - 1000 });
    const newer = createAnalysis(t.db, { username: 'OctoCat', now: NOW });
    createAnalysis(t.db, { username: 'other', now: NOW + 5 });
    expect(findLatestByUsername(t.db, 'OCTOCAT')?.id).toBe(newer.id);
    expect(findLatestByUsername(t.db, 'ghost')).toBeUndefined();
  });

  it('finds an active analysis only while it is pending or processing', () => {
    const a = createAnalysis(t.db, { username: 'octocat', now: NOW });
    expect(findActive(t.db, 'Octocat')?.id).toBe(a.id);
    setStage(t.db, a.id, 'fetching', NOW + 1);
    expect(findActive(t.db, 'octocat')?.status).toBe('processing');
    failAnalysis(t.db, a.id, 'boom', NOW + 2);
    expect(findActive(t.db, 'octocat')).toBeUndefined();
  });

  it('lists analyses newest first, filtered by status and limited', () => {
    for (let i = 0; i < 5; i++) createAnalysis(t.db, { username: `u${i}`, now: NOW + i });
    const failed = createAnalysis(t.db, { username: 'bad', now: NOW + 10 });
    failAnalysis(t.db, failed.id, 'x', NOW + 11);
    expect(listAnalyses(t.db, { limit: 3 }).map((a) => a.username)).toEqual(['bad', 'u4', 'u3']);
    expect(listAnalyses(t.db, { status: 'failed' }).map((a) => a.id)).toEqual([failed.id]);
    expect(listAnalyses(t.db, { status: 'pending' })).toHaveLength(5);
  });

  it('saves the snapshot and scorecard, the canonical login and the writing stage', () => {
    const a = createAnalysis(t.db, { username: 'middling-MO', now: NOW });
    const snapshot = makeSnapshot(NOW);
    const scorecard = scoreProfile(snapshot, NOW);
    expect(saveCollected(t.db, a.id, { snapshot, scorecard }, NOW + 5)).toBe(true);
    const saved = getAnalysis(t.db, a.id)!;
    expect(saved).toMatchObject({ username: 'middling-mo', status: 'processing', stage: 'writing', overall: scorecard.overall, formulaVersion: '1', updatedAt: NOW + 5 });
    expect(saved.scores).toEqual({
      profile: scorecard.categories.profile.score,
      projects: scorecard.categories.projects.score,
      consistency: scorecard.categories.consistency.score,
      technical: scorecard.categories.technical.score,
      community: scorecard.categories.community.score,
    });
    expect(saved.snapshot).toEqual(snapshot);
    expect(saved.scorecard).toEqual(scorecard);
  });

  it('completes an analysis with its report, token usage and model', () => {
    const a = createAnalysis(t.db, { username: 'mo', now: NOW });
    const snapshot = makeSnapshot(NOW);
    const { review } = writeOffline({ snapshot, scorecard: scoreProfile(snapshot, NOW) });
    expect(completeAnalysis(t.db, a.id, review, { promptTokens: 1200, completionTokens: 340 }, 'gpt-4o-mini', NOW + 9)).toBe(true);
    const done = getAnalysis(t.db, a.id)!;
    expect(done).toMatchObject({ status: 'completed', stage: 'done', model: 'gpt-4o-mini', completedAt: NOW + 9, usage: { promptTokens: 1200, completionTokens: 340 } });
    expect(done.report).toEqual(review);
  });

  it('stores unknown usage as null, not zero', () => {
    const a = createAnalysis(t.db, { username: 'mo', now: NOW });
    const snapshot = makeSnapshot(NOW);
    completeAnalysis(t.db, a.id, writeOffline({ snapshot, scorecard: scoreProfile(snapshot, NOW) }).review, null, 'offline', NOW);
    const row = t.db.prepare('SELECT prompt_tokens, completion_tokens FROM analyses WHERE id = ?').get(a.id);
    expect(row).toEqual({ prompt_tokens: null, completion_tokens: null });
    expect(getAnalysis(t.db, a.id)!.usage).toBeNull();
  });

  it('does not move a failed analysis back to processing', () => {
    const a = createAnalysis(t.db, { username: 'mo', now: NOW });
    failAnalysis(t.db, a.id, 'no GitHub user named mo', NOW);
    expect(setStage(t.db, a.id, 'writing', NOW + 1)).toBe(false);
    expect(getAnalysis(t.db, a.id)).toMatchObject({ status: 'failed', error: 'no GitHub user named mo' });
  });

  it('returns false when updating an id that does not exist', () => {
    expect(setStage(t.db, 'missing', 'fetching')).toBe(false);
    expect(failAnalysis(t.db, 'missing', 'x')).toBe(false);
    expect(keepAnalysis(t.db, 'missing')).toBe(false);
  });

  it('prunes finished analyses older than 90 days but keeps kept, recent and active ones', () => {
    const old = createAnalysis(t.db, { username: 'old', now: NOW - 91 * DAY });
    const kept = createAnalysis(t.db, { username: 'kept', now: NOW - 200 * DAY });
    const activeOld = createAnalysis(t.db, { username: 'active', now: NOW - 100 * DAY });
    const recent = createAnalysis(t.db, { username: 'recent', now: NOW - 89 * DAY });
    for (const a of [old, kept, recent]) failAnalysis(t.db, a.id, 'x', a.createdAt);
    keepAnalysis(t.db, kept.id);
    expect(pruneAnalyses(t.db, NOW)).toBe(1);
    expect(getAnalysis(t.db, old.id)).toBeUndefined();
    for (const a of [kept, activeOld, recent]) expect(getAnalysis(t.db, a.id)).toBeDefined();
    expect(pruneAnalyses(t.db, NOW, { olderThanDays: 10 })).toBe(1);
    expect(getAnalysis(t.db, recent.id)).toBeUndefined();
  });

  it('prunes http cache entries older than 24 hours by default', () => {
    const cache = new SqliteHttpCache(t.db);
    cache.put('old', 'W/"1"', '{}', NOW - 25 * 3_600_000);
    cache.put('new', 'W/"2"', '{}', NOW - 23 * 3_600_000);
    expect(pruneHttpCache(t.db, NOW)).toBe(1);
    expect(cache.get('old')).toBeUndefined();
    expect(cache.get('new')).toEqual({ etag: 'W/"2"', body: '{}' });
    expect(pruneHttpCache(t.db, NOW, 1)).toBe(1);
  });

  it('refuses a status outside the allowed set at the schema level', () => {
    expect(() =>
      t.db.prepare(`INSERT INTO analyses (id, username, status, created_at, updated_at) VALUES ('x', 'u', 'weird', 1, 1)`).run(),
    ).toThrow(/CHECK/);
  });

  it('uses the lower(username) index for username look-ups', () => {
    const plan = t.db
      .prepare(`EXPLAIN QUERY PLAN SELECT * FROM analyses WHERE lower(username) = lower(?) ORDER BY created_at DESC LIMIT 1`)
      .all('x') as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toMatch(/analyses_username_created/);
  });
});
