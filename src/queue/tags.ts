/**
 * Monitored tags (Horizon's): an operator names a tag, and the jobs carrying it are kept past
 * the normal trim for the monitored trim age (trimJobs' monitoredMinutes, default 7 days).
 * The job_tags side table (one row per tag and job, kept by triggers) lets the tag: filter
 * and the Tags screen seek a tag's jobs instead of reading every job's JSON tags.
 */
import { immediate, stmt, type Db } from './db.js';
import { TAG_SCAN_LIMIT } from './defaults.js';
import { ValidationError } from './errors.js';
import { toJob, type JobRow } from './queues.js';
import type { Job, JobState } from './types.js';


/** A monitored tag as listed. */
export interface MonitoredTag {
  tag: string;
  /** When it was first monitored, ms epoch. */
  since: number;
}

/** Throw a ValidationError unless `tag` is a tag a job could carry (1-200 characters, no control characters). */
export function assertTag(tag: string): void {
  // eslint-disable-next-line no-control-regex
  if (typeof tag !== 'string' || tag.length === 0 || tag.length > 200 || /[\u0000-\u001f\u007f]/.test(tag)) {
    throw new ValidationError(`invalid tag ${JSON.stringify(tag)}: expected 1-200 characters without control characters`);
  }
}

/** Monitor a tag; true when it was not monitored yet. */
export function monitorTag(db: Db, tag: string, now = Date.now()): boolean {
  assertTag(tag);
  return immediate(db, () => stmt(db, `INSERT INTO monitored_tags (tag, created_at) VALUES (?, ?) ON CONFLICT (tag) DO NOTHING`).run(tag, now).changes === 1);
}

/** Stop monitoring a tag; true when it was monitored. Its jobs already kept age out with the monitored trim age. */
export function unmonitorTag(db: Db, tag: string): boolean {
  assertTag(tag);
  return immediate(db, () => stmt(db, `DELETE FROM monitored_tags WHERE tag = ?`).run(tag).changes === 1);
}

/** The monitored tags, by name. */
export function listMonitoredTags(db: Db): MonitoredTag[] {
  return (stmt(db, `SELECT tag, created_at FROM monitored_tags ORDER BY tag`).all() as { tag: string; created_at: number }[]).map((r) => ({ tag: r.tag, since: r.created_at }));
}

/** Jobs of one state carrying `tag`, newest first (by id), at most `limit`, among the tag's newest TAG_SCAN_LIMIT jobs. */
export function jobsByTag(db: Db, tag: string, state: JobState | undefined, limit: number): Job[] {
  const rows = state === undefined
    ? stmt(db, `
        SELECT jobs.* FROM (SELECT job_id FROM job_tags WHERE tag = ? ORDER BY job_id DESC LIMIT ${TAG_SCAN_LIMIT}) AS t
          JOIN jobs ON jobs.id = t.job_id ORDER BY t.job_id DESC LIMIT ?`).all(tag, limit)
    : stmt(db, `
        SELECT jobs.* FROM (SELECT job_id FROM job_tags WHERE tag = ? ORDER BY job_id DESC LIMIT ${TAG_SCAN_LIMIT}) AS t
          JOIN jobs ON jobs.id = t.job_id WHERE jobs.state = ? ORDER BY t.job_id DESC LIMIT ?`).all(tag, state, limit);
  return (rows as JobRow[]).map(toJob);
}

/** A monitored tag with its jobs' counts by state, its newest jobs and its newest failed jobs. */
export interface TagSummary extends MonitoredTag {
  /** Jobs carrying the tag, by state (over the tag's newest TAG_SCAN_LIMIT jobs). */
  counts: Record<JobState, number>;
  /** Jobs counted; TAG_SCAN_LIMIT means there may be more. */
  total: number;
  recent: Job[];
  failed: Job[];
}

/** Each monitored tag with its counts, its `limit` newest jobs and its `limit` newest failed jobs. */
export function tagSummaries(db: Db, limit: number): TagSummary[] {
  const count = stmt(db, `
    SELECT jobs.state AS state, COUNT(*) AS n FROM (SELECT job_id FROM job_tags WHERE tag = ? ORDER BY job_id DESC LIMIT ${TAG_SCAN_LIMIT}) AS t
      JOIN jobs ON jobs.id = t.job_id GROUP BY jobs.state`);
  return listMonitoredTags(db).map((m) => tagSummaryFrom(m, count.all(m.tag) as { state: JobState; n: number }[], jobsByTag(db, m.tag, undefined, limit), jobsByTag(db, m.tag, 'failed', limit)));
}

/** A tag's summary from its counts by state (both engines). */
export function tagSummaryFrom(m: MonitoredTag, byState: readonly { state: JobState; n: number }[], recent: Job[], failed: Job[]): TagSummary {
  const counts: Record<JobState, number> = { pending: 0, delayed: 0, reserved: 0, completed: 0, failed: 0, cancelled: 0 };
  let total = 0;
  for (const r of byState) {
    counts[r.state] = r.n;
    total += r.n;
  }
  return { ...m, counts, total, recent, failed };
}
