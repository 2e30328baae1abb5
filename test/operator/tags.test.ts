import { describe, expect, it } from 'vitest';
import {
  chartData, claim, complete, createReadModel, enqueue, fail, listJobs, monitorTag, openDatabase, overviewData, snapshotMetrics, tagSummaries, trimJobs, unmonitorTag, type Db,
} from '../../src/queue/index.js';
import { gitroast } from '../support/cli.js';
import { tempDbPath, tempDir } from '../support/tmp.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** Enqueue, claim and complete one job at `at`; returns its id. */
function done(db: Db, spec: Parameters<typeof enqueue>[1], at: number, runMs = 100): number {
  const { id } = enqueue(db, spec, { now: at - runMs - 10 });
  const [job] = claim(db, { workerId: 'w_test', queues: [spec.queue ?? 'default'], now: at - runMs });
  expect(job?.id).toBe(id);
  expect(complete(db, job!, at)).toBe(true);
  return id;
}

describe('monitored tags', () => {
  it('keep their jobs past the normal trim, for the monitored age (7 days by default), and the tag: filter finds them', () => {
    const db = openDatabase(tempDbPath());
    const now = Date.now();
    monitorTag(db, 'customer:42', now - 3 * HOUR);
    const kept = done(db, { name: 'invoice', tags: ['customer:42', 'billing'] }, now - 2 * HOUR);
    const gone = done(db, { name: 'invoice', tags: ['customer:7', 'billing'] }, now - 2 * HOUR);
    trimJobs(db, { completedMinutes: 60 }, now);
    expect(listJobs(db, { state: 'completed', tag: 'customer:42' }).map((j) => j.id)).toEqual([kept]);
    expect(listJobs(db, { state: 'completed', tag: 'billing' }).map((j) => j.id)).toEqual([kept]);
    expect(listJobs(db, { state: 'completed', tag: 'customer:7' })).toEqual([]);
    void gone;
    // A second trim keeps it too (the check only reads rows finished since the last trim).
    trimJobs(db, { completedMinutes: 60 }, now + 5 * MIN);
    expect(listJobs(db, { state: 'completed', tag: 'customer:42' }).map((j) => j.id)).toEqual([kept]);
    // Past the monitored age it goes, and so do its job_tags rows.
    trimJobs(db, { completedMinutes: 60 }, now + 7 * 24 * HOUR);
    expect(listJobs(db, { state: 'completed', tag: 'customer:42' })).toEqual([]);
    expect((db.prepare('SELECT COUNT(*) AS n FROM job_tags').get() as { n: number }).n).toBe(0);
    db.close();
  });

  it('follow trim.monitoredMinutes, and unmonitoring a tag lets its new jobs go with the normal trim', () => {
    const db = openDatabase(tempDbPath());
    const now = Date.now();
    monitorTag(db, 'vip', now - 10 * HOUR);
    const old = done(db, { name: 'a', tags: ['vip'] }, now - 5 * HOUR);
    const young = done(db, { name: 'a', tags: ['vip'] }, now - 2 * HOUR);
    trimJobs(db, { completedMinutes: 60, monitoredMinutes: 4 * 60 }, now);
    expect(listJobs(db, { state: 'completed', tag: 'vip' }).map((j) => j.id)).toEqual([young]);
    void old;
    expect(unmonitorTag(db, 'vip')).toBe(true);
    expect(unmonitorTag(db, 'vip')).toBe(false);
    const later = done(db, { name: 'a', tags: ['vip'] }, now + 10 * MIN);
    trimJobs(db, { completedMinutes: 60, monitoredMinutes: 4 * 60 }, now + 2 * HOUR);
    expect(listJobs(db, { state: 'completed', tag: 'vip' }).map((j) => j.id)).not.toContain(later);
    db.close();
  });

  it('summarise each monitored tag with its counts, recent jobs and failed jobs', () => {
    const db = openDatabase(tempDbPath());
    const now = Date.now();
    monitorTag(db, 'vip', now - HOUR);
    done(db, { name: 'ok', tags: ['vip'] }, now - MIN);
    enqueue(db, { name: 'waiting', tags: ['vip'] }, { now });
    const { id } = enqueue(db, { name: 'bad', tags: ['vip'], tries: 1 }, { now });
    const claimed = claim(db, { workerId: 'w_test', queues: ['default'], limit: 5, now });
    expect(fail(db, claimed.find((j) => j.id === id)!, { message: 'nope' }, now).kind).toBe('failed');
    const [vip] = tagSummaries(db, 10);
    expect(vip).toMatchObject({ tag: 'vip', total: 3, counts: { completed: 1, failed: 1, reserved: 1 } });
    expect(vip!.failed.map((j) => j.name)).toEqual(['bad']);
    expect(vip!.recent.map((j) => j.name)).toEqual(['bad', 'waiting', 'ok']);
    expect(vip!.recent[1]!.state).toBe('reserved');
    db.close();
  });

  it('gitroast tags monitor / list --json / unmonitor, and a bad tag is refused with exit 2', async () => {
    const file = tempDbPath();
    const env = { XDG_CONFIG_HOME: tempDir(), GITROAST_CONFIG: '' };
    const add = await gitroast(['--db', file, 'tags', 'monitor', 'customer:42'], { env });
    expect(add.code).toBe(0);
    expect(add.stderr).toContain('tag customer:42 monitored');
    const list = await gitroast(['--db', file, 'tags', 'list', '--json'], { env });
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout) as { tag: string; counts: Record<string, number> }[];
    expect(rows.map((r) => r.tag)).toEqual(['customer:42']);
    expect(rows[0]!.counts).toEqual({ pending: 0, delayed: 0, reserved: 0, completed: 0, failed: 0, cancelled: 0 });
    const bad = await gitroast(['--db', file, 'tags', 'monitor', 'a\u0007b'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid tag "a\\u0007b": expected 1-200 characters/);
    const off = await gitroast(['--db', file, 'tags', 'unmonitor', 'customer:42'], { env });
    expect(off.code).toBe(0);
    expect(JSON.parse((await gitroast(['--db', file, 'tags', 'list', '--json'], { env })).stdout)).toEqual([]);
  });
});

describe('silenced jobs', () => {
  it('stay out of the completed list and the recent events; their failures still show', () => {
    const file = tempDbPath();
    const db = openDatabase(file);
    const now = Date.now();
    const loud = done(db, { name: 'invoice' }, now - 3000);
    const quiet = done(db, { name: 'heartbeat-ping' }, now - 2000);
    const tagged = done(db, { name: 'invoice', tags: ['noise'] }, now - 1000);
    const { id: failedId } = enqueue(db, { name: 'heartbeat-ping', tries: 1 }, { now });
    const [job] = claim(db, { workerId: 'w_test', queues: ['default'], now });
    expect(fail(db, job!, { message: 'down' }, now).kind).toBe('failed');
    const model = createReadModel({ open: () => openDatabase(file, { readonly: true }), readonly: true, silenced: ['heartbeat-ping', 'tag:noise'] });
    expect(model.jobs('completed', {}, 100, now).map((j) => j.id)).toEqual([loud]);
    expect(model.jobs('failed', {}, 100, now).map((j) => j.id)).toEqual([failedId]);
    const events = model.overview(now).events;
    expect(events.filter((e) => e.id === quiet || e.id === tagged)).toEqual([]);
    expect(events.some((e) => e.id === failedId && e.event === 'failed')).toBe(true);
    expect(events.some((e) => e.id === loud && e.event === 'completed')).toBe(true);
    // Unsilenced, the same model shows them.
    const all = createReadModel({ open: () => openDatabase(file, { readonly: true }), readonly: true });
    expect(all.jobs('completed', {}, 100, now).map((j) => j.id)).toEqual([tagged, quiet, loud]);
    model.close();
    all.close();
    db.close();
  });
});

describe('metric charts and max throughput', () => {
  it('bucket the past hour from job rows, 24 h from snapshots, and name the busiest queue', () => {
    const db = openDatabase(tempDbPath());
    const now = Date.now();
    for (let i = 0; i < 6; i++) done(db, { name: 'fast', queue: 'high' }, now - 30 * MIN - i * 1000, 200);
    for (let i = 0; i < 2; i++) done(db, { name: 'slow', queue: 'low' }, now - 5 * MIN, 3000);
    const hour = chartData(db, 'queue', 'high', '1h', now);
    expect(hour).toHaveLength(60);
    expect(hour.reduce((s, p) => s + p.perMinute, 0)).toBe(6);
    expect(hour.filter((p) => p.perMinute > 0).every((p) => p.runtimeAvg === 200)).toBe(true);
    const slow = chartData(db, 'job', 'slow', '1h', now);
    expect(slow[slow.length - 5]!.perMinute + slow[slow.length - 6]!.perMinute).toBe(2);
    expect(overviewData(db, now).maxThroughput).toEqual({ queue: 'high', perMinute: 6 / 60 });
    snapshotMetrics(db, HOUR, now);
    const day = chartData(db, 'queue', 'high', '24h', now + MIN);
    expect(day).toHaveLength(48);
    expect(day.reduce((s, p) => s + p.perMinute * 30, 0)).toBeCloseTo(6);
    expect(day[47]!.runtimeAvg).toBe(200);
    db.close();
  });
});
