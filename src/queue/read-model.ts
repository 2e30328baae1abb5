/**
 * The read model both monitors draw from (the Ink monitor in src/tui, the web dashboard in
 * src/web): what each screen shows, read in one place. Reads share one read-only
 * connection and run each view's queries inside one short read transaction (BEGIN …
 * COMMIT), never held across refreshes, so a monitor left open for a day does not pin the
 * WAL and checkpoints can always reset it. Every query is bounded (LIMIT) or reads a
 * partial index. Writes open a separate writable connection for the one action and close
 * it at once.
 */
import { plural } from '../util/format.js';
import { safeLine } from '../util/terminal.js';
import { batchDetail, cancelBatch, listBatches, retryBatch, type BatchDetail } from './batches.js';
import { cancelJobs, clearQueue } from './cancel.js';
import { daemonControl, requestDaemonStop, setDaemonsPaused, type DaemonControl } from './control.js';
import { stmt, type Db } from './db.js';
import { SILENCED_SCAN_LIMIT, STALE_MS } from './defaults.js';
import { failedTotal, forgetFailed, listFailed, retryFailed } from './failed.js';
import { computeMetrics, listSnapshots, metricSeries, throughputSeries, type Metric, type SeriesPoint, type Snapshot } from './metrics.js';
import { continueQueue, getJob, isSilenced, listJobs, pauseQueue, queueStats, silencedOf, type QueueStats, type Silenced } from './queues.js';
import { parseJson } from './jobs.js';
import { tagSummaries, type TagSummary } from './tags.js';
import { listThrottles, type ThrottleState } from './throttles.js';
import { listHolds, type Hold } from './holds.js';
import { DEFAULT_QUEUES, type Batch, type FailedJob, type Job, type Worker } from './types.js';
import { listWorkers, liveWorkers } from './workers.js';

/** Whether daemons are working: `active` (claiming), `paused` (alive, not claiming), `inactive` (none alive). */
export type DaemonStatus = 'active' | 'paused' | 'inactive';

/** What the header shows on every screen. */
export interface HeaderData {
  status: DaemonStatus;
  daemons: number;
  busy: number;
  slots: number;
}

/** One line of the overview's live tail. */
export interface JobEvent {
  at: number;
  event: 'enqueued' | 'started' | 'completed' | 'failed';
  id: number;
  queue: string;
  name: string;
}

/** A queue's line on the overview: sizes, the oldest wait and the pause flag. */
export type OverviewQueue = Omit<QueueStats, 'completed'>;

/** Everything the overview draws, fetched in one short read transaction. */
export interface OverviewData {
  header: HeaderData;
  /** Jobs completed in the past minute. */
  jobsPerMinute: number;
  /** Jobs completed or failed in the past hour. */
  jobsPastHour: number;
  /** The failed list's size: it keeps failures for failedJobsHours (default 168 h: 7 days). */
  failedPast7d: number;
  longestWait: { queue: string; ms: number } | null;
  /** Horizon's max throughput: the queue that completed the most jobs in the past hour, in jobs per minute. */
  maxThroughput: { queue: string; perMinute: number } | null;
  /** The job that ran longest among those finished in the past hour. */
  longestRuntime: { name: string; id: number; ms: number } | null;
  /** Completed jobs per minute over the past 60 minutes, oldest first. */
  throughput: number[];
  queues: OverviewQueue[];
  events: JobEvent[];
}

/** A queue with its sizes and its past hour's throughput and error rate. */
export interface QueueRow extends QueueStats {
  perMinute: number;
  processed: number;
  failedHour: number;
  /** failed / (processed + failed) over the past hour, 0..1; null when nothing ran. */
  errorRate: number | null;
}

export type MetricsWindow = '1h' | '24h' | '7d';

/** A metric as shown: per queue or per job name. p50 is null where only snapshots exist. */
export type MetricRow = Metric & { approximate?: boolean };

export type JobsTab = 'pending' | 'delayed' | 'reserved' | 'completed' | 'failed';

/** A parsed filter: `queue:x`, `name:x`, `tag:x`, and free text. */
export interface JobQuery {
  queue?: string;
  name?: string;
  tag?: string;
  text?: string;
}

/** What an action did, as one line for a footer or a flash message. */
export type ActionResult = string;

/** The writes a monitor can make; absent when the monitor is read-only. */
export interface Actions {
  retryFailed(uuids: readonly string[]): ActionResult;
  forgetFailed(uuids: readonly string[]): ActionResult;
  pauseQueue(queue: string): ActionResult;
  continueQueue(queue: string): ActionResult;
  pauseDaemons(paused: boolean): ActionResult;
  stopDaemons(): ActionResult;
  retryBatch(id: string): ActionResult;
  cancelBatch(id: string): ActionResult;
  /** Cancel every pending and delayed job of a queue (horizon:clear). */
  clearQueue(queue: string): ActionResult;
  /** Cancel one pending or delayed job. */
  cancelJob(id: number): ActionResult;
}

/** A group of failed jobs sharing an error fingerprint. */
export interface FailedGroup {
  fingerprint: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
  names: string[];
  queues: string[];
  uuids: string[];
  /** The newest message of the group. */
  message: string;
}

/** An hour, ms: the window of the overview's and queue rows' counts. */
export const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** How many rows each kind of event contributes to the live tail. */
export const TAIL = 12;

/** Build the header from the workers table and the daemon control flags. */
export function headerData(db: Db, now: number, aliveMs = STALE_MS): HeaderData {
  const live = liveWorkers(db, aliveMs, now);
  return headerFrom(live, daemonControl(db).paused);
}

/** The header from the live workers and the daemons' pause flag (both engines). */
export function headerFrom(live: readonly Worker[], paused: boolean): HeaderData {
  const status = live.length === 0 ? 'inactive' : paused || live.every((w) => w.status === 'paused') ? 'paused' : 'active';
  return {
    status, daemons: live.length, busy: live.reduce((s, w) => s + w.busy, 0), slots: live.reduce((s, w) => s + w.concurrency, 0),
  };
}

/** Per-queue sizes for the overview: queueStats without the completed counts (see queueStats for how each is read). */
export function overviewQueues(db: Db, now: number, configured: readonly string[] = DEFAULT_QUEUES): OverviewQueue[] {
  return queueStats(db, { now, configured, completed: false }).map(({ completed: _completed, ...q }) => q);
}

/**
 * Read everything the overview draws, each statement on one partial index: see
 * overviewQueues; the sparkline is 60 range counts on jobs_completed (covering); the
 * longest runtime is looked for among the newest 1,000 jobs completed in the past hour
 * (a bounded read: runtime is not in the index); the live tail reads the newest 12 of each
 * state.
 */
export function overviewData(db: Db, now: number, options: { configured?: readonly string[]; aliveMs?: number; silenced?: readonly string[] } = {}): OverviewData {
  const since = now - HOUR;
  const throughput = throughputSeries(db, 60, now);
  const failedHour = (stmt(db, `SELECT COUNT(*) AS n FROM jobs WHERE state = 'failed' AND finished_at >= ? AND finished_at <= ?`).get(since, now) as { n: number }).n;
  const queues = overviewQueues(db, now, options.configured ?? DEFAULT_QUEUES);
  // One range count per queue on the covering jobs_completed (finished_at, queue) index.
  const done = stmt(db, `SELECT COUNT(*) AS n FROM jobs WHERE state = 'completed' AND finished_at > ? AND finished_at <= ? AND queue = ?`);
  const doneByQueue = new Map(queues.map((q) => [q.queue, (done.get(since, now, q.queue) as { n: number }).n]));
  const longest = stmt(db, `
    SELECT id, name, ms FROM (
      SELECT id, name, finished_at - reserved_at AS ms FROM jobs
       WHERE state = 'completed' AND finished_at >= ? AND finished_at <= ? AND reserved_at IS NOT NULL
       ORDER BY finished_at DESC LIMIT 1000)
     ORDER BY ms DESC LIMIT 1`).get(since, now) as { id: number; name: string; ms: number } | undefined;
  return overviewFrom({
    header: headerData(db, now, options.aliveMs), throughput, failedHour, failedTotal: failedTotal(db), queues, doneByQueue, longest,
    events: tail(db, silencedOf(options.silenced ?? [])),
  });
}

/** What the overview is assembled from, read by either engine. */
export interface OverviewParts {
  header: HeaderData;
  /** Completed jobs per minute over the past 60 minutes, oldest first. */
  throughput: number[];
  /** Jobs failed in the past hour. */
  failedHour: number;
  /** The failed list's size. */
  failedTotal: number;
  queues: OverviewQueue[];
  /** Jobs each listed queue completed in the past hour. */
  doneByQueue: ReadonlyMap<string, number>;
  /** The longest-running job among the newest 1,000 completed in the past hour. */
  longest: { id: number; name: string; ms: number } | undefined;
  /** The newest events of each kind (at most TAIL each). */
  events: JobEvent[];
}

/** Assemble the overview from its parts (both engines). */
export function overviewFrom(p: OverviewParts): OverviewData {
  let longestWait: OverviewData['longestWait'] = null;
  for (const q of p.queues) if (q.pending > 0 && (longestWait === null || q.oldestWaitMs > longestWait.ms)) longestWait = { queue: q.queue, ms: q.oldestWaitMs };
  let maxThroughput: OverviewData['maxThroughput'] = null;
  for (const q of p.queues) {
    const n = p.doneByQueue.get(q.queue) ?? 0;
    if (n > 0 && (maxThroughput === null || n / 60 > maxThroughput.perMinute)) maxThroughput = { queue: q.queue, perMinute: n / 60 };
  }
  return {
    header: p.header,
    jobsPerMinute: p.throughput[p.throughput.length - 1] ?? 0,
    jobsPastHour: p.throughput.reduce((s, n) => s + n, 0) + p.failedHour,
    failedPast7d: p.failedTotal,
    longestWait,
    maxThroughput,
    longestRuntime: p.longest ? { id: p.longest.id, name: p.longest.name, ms: p.longest.ms } : null,
    throughput: p.throughput,
    queues: p.queues,
    events: newestEvents(p.events),
  };
}

/**
 * The newest job events: enqueued (by id), started (reserved), completed and failed (by
 * finish), newest first. Silenced jobs are left out of all but the failures (among the
 * newest SILENCED_SCAN_LIMIT rows of each kind).
 */
function tail(db: Db, silenced: Silenced): JobEvent[] {
  type Row = { id: number; queue: string; name: string; at: number; tags: string | null };
  const quiet = silenced.names.length > 0 || silenced.tags.length > 0;
  const pick = (sql: string, event: JobEvent['event']) => {
    const keep = (r: Row) => event === 'failed' || !quiet || !isSilenced(silenced, r.name, parseJson<string[]>(r.tags, []));
    const rows = (quiet && event !== 'failed'
      ? (stmt(db, sql.replace('LIMIT ?', `LIMIT ${SILENCED_SCAN_LIMIT}`)).iterate() as IterableIterator<Row>)
      : (stmt(db, sql).all(TAIL) as Row[])[Symbol.iterator]());
    const out: JobEvent[] = [];
    for (const r of rows) {
      if (!keep(r)) continue;
      out.push({ at: r.at, event, id: r.id, queue: r.queue, name: r.name });
      if (out.length >= TAIL) break;
    }
    if (typeof (rows as { return?: () => unknown }).return === 'function') (rows as { return: () => unknown }).return();
    return out;
  };
  const events = [
    ...pick(`SELECT id, queue, name, created_at AS at, tags FROM jobs ORDER BY id DESC LIMIT ?`, 'enqueued'),
    ...pick(`SELECT id, queue, name, reserved_at AS at, tags FROM jobs WHERE state = 'reserved' ORDER BY reserved_at DESC LIMIT ?`, 'started'),
    ...pick(`SELECT id, queue, name, finished_at AS at, tags FROM jobs WHERE state = 'completed' ORDER BY finished_at DESC LIMIT ?`, 'completed'),
    ...pick(`SELECT id, queue, name, finished_at AS at, tags FROM jobs WHERE state = 'failed' ORDER BY finished_at DESC LIMIT ?`, 'failed'),
  ];
  return events;
}

/** The live tail: the newest events of all kinds, newest first, at most TAIL. */
function newestEvents(events: JobEvent[]): JobEvent[] {
  const order = { failed: 0, completed: 1, started: 2, enqueued: 3 };
  return events.sort((a, b) => b.at - a.at || order[a.event] - order[b.event] || b.id - a.id).slice(0, TAIL);
}

/** Aggregate metrics snapshots over a long window (24 h, 7 d): sums, weighted averages; p95 is approximate, p50 unknown. */
export function aggregateSnapshots(db: Db, windowMs: number, now: number): MetricRow[] {
  return aggregateSnapshotList(listSnapshots(db, now - windowMs), windowMs);
}

/** Aggregate snapshots (those of the window, read by either engine): see aggregateSnapshots. */
export function aggregateSnapshotList(snapshots: readonly Snapshot[], windowMs: number): MetricRow[] {
  const acc = new Map<string, { kind: 'queue' | 'job'; key: string; processed: number; failed: number; rt: [number, number]; rt95: [number, number]; w: [number, number]; w95: [number, number] }>();
  const add = (pair: [number, number], v: number | null, weight: number) => {
    if (v !== null && weight > 0) {
      pair[0] += v * weight;
      pair[1] += weight;
    }
  };
  for (const s of snapshots) {
    const id = `${s.kind}\u0000${s.key}`;
    let a = acc.get(id);
    if (!a) acc.set(id, (a = { kind: s.kind, key: s.key, processed: 0, failed: 0, rt: [0, 0], rt95: [0, 0], w: [0, 0], w95: [0, 0] }));
    const n = s.processed + s.failed;
    a.processed += s.processed;
    a.failed += s.failed;
    add(a.rt, s.runtimeAvg, n);
    add(a.rt95, s.runtimeP95, n);
    add(a.w, s.waitAvg, n);
    add(a.w95, s.waitP95, n);
  }
  const mean = (p: [number, number]) => (p[1] > 0 ? p[0] / p[1] : null);
  return [...acc.values()].map((a) => ({
    kind: a.kind, key: a.key, processed: a.processed, failed: a.failed, perMinute: ((a.processed + a.failed) * 60_000) / windowMs,
    runtimeAvg: mean(a.rt), runtimeP50: null, runtimeP95: mean(a.rt95), waitAvg: mean(a.w), waitP95: mean(a.w95), approximate: true,
  }));
}

/** How long each metrics window is, ms. */
export const METRICS_WINDOW_MS: Record<MetricsWindow, number> = { '1h': HOUR, '24h': DAY, '7d': 7 * DAY };

/** Order metrics: queues first, then job names, each by throughput. */
export function sortMetrics(rows: MetricRow[]): MetricRow[] {
  return rows.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'queue' ? -1 : 1) || b.processed + b.failed - (a.processed + a.failed) || a.key.localeCompare(b.key));
}

/** Metrics per queue and per job name: exact over the past hour, from snapshots over 24 h and 7 d. */
export function metricRows(db: Db, window: MetricsWindow, now: number): MetricRow[] {
  return sortMetrics(window === '1h' ? computeMetrics(db, HOUR, now) : aggregateSnapshots(db, METRICS_WINDOW_MS[window], now));
}

/** Every queue with its sizes and its past hour's throughput and error rate. */
export function queueRows(db: Db, now: number, configured: readonly string[] = DEFAULT_QUEUES): QueueRow[] {
  return queueRowsFrom(queueStats(db, { now, since: now - HOUR, configured }), computeMetrics(db, HOUR, now));
}

/** Join queue stats (completed over the past hour) with the past hour's metrics (both engines). */
export function queueRowsFrom(stats: readonly QueueStats[], hourMetrics: readonly Metric[]): QueueRow[] {
  const metrics = hourMetrics.filter((m) => m.kind === 'queue');
  return stats.map((q) => {
    const m = metrics.find((x) => x.key === q.queue);
    const processed = m?.processed ?? 0;
    const failedHour = m?.failed ?? 0;
    return { ...q, perMinute: m?.perMinute ?? 0, processed, failedHour, errorRate: processed + failedHour > 0 ? failedHour / (processed + failedHour) : null };
  });
}

/**
 * Fold an error message to its fingerprint: uuids, hex ids, quoted values and numbers become
 * placeholders, whitespace collapses, so "job 12 timed out after 3000 ms" and "job 13 timed
 * out after 2990 ms" group together.
 */
export function fingerprint(message: string): string {
  return safeLine(message.split('\n')[0] ?? '')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>')
    .replace(/\bw_[0-9a-f]{6,}\b/gi, '<worker>')
    .replace(/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/gi, '<hex>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?/g, '<time>')
    .replace(/"[^"]*"|'[^']*'/g, '<str>')
    .replace(/\d+(?:\.\d+)?/g, '#')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
}

/** Group failed jobs by error fingerprint, most recently seen first. */
export function groupFailed(rows: readonly FailedJob[]): FailedGroup[] {
  const map = new Map<string, FailedGroup>();
  for (const r of rows) {
    const fp = fingerprint(r.error);
    let g = map.get(fp);
    if (!g) map.set(fp, (g = { fingerprint: fp, count: 0, firstSeen: r.failedAt, lastSeen: r.failedAt, names: [], queues: [], uuids: [], message: r.error }));
    g.count++;
    g.uuids.push(r.uuid);
    if (r.failedAt < g.firstSeen) g.firstSeen = r.failedAt;
    if (r.failedAt > g.lastSeen) {
      g.lastSeen = r.failedAt;
      g.message = r.error;
    }
    if (!g.names.includes(r.name)) g.names.push(r.name);
    if (!g.queues.includes(r.queue)) g.queues.push(r.queue);
  }
  return [...map.values()].sort((a, b) => b.lastSeen - a.lastSeen || b.count - a.count);
}

/** Options of createReadModel. */
export interface ReadModelOptions {
  /** Open a connection to the database: read-only for reads (kept open), writable for one action (closed after). */
  open(options: { readonly: boolean }): Db;
  /** Queues always listed, even when empty. Default high, default, low. */
  configured?: readonly string[];
  /** A daemon whose heartbeat is older than this counts as gone (the config's staleSeconds). Default STALE_MS (30,000 ms). */
  aliveMs?: number;
  /** Disable every action. Default false. */
  readonly?: boolean;
  /** Job names and `tag:…` entries kept out of the completed lists and recent events (the config's `silenced`). Default none. */
  silenced?: readonly string[];
  /** Lines other rooms add under the daemons (the CLI adds GitHub's budget per token), read in the same transaction. */
  notes?: (db: Db, now: number) => string[];
}

/** Every view of both monitors, each one short read transaction; `actions` is absent when read-only. */
export interface ReadModel {
  /** Run `fn` on the read-only connection inside one short read transaction. */
  read<T>(fn: (db: Db) => T): T;
  close(): void;
  header(now: number): HeaderData;
  overview(now: number): OverviewData;
  jobs(tab: JobsTab, query: JobQuery, limit: number, now: number): Job[];
  job(id: number): Job | undefined;
  failed(limit: number): FailedJob[];
  queues(now: number): QueueRow[];
  metrics(window: MetricsWindow, now: number): MetricRow[];
  workers(now: number): { workers: Worker[]; control: DaemonControl; aliveMs: number; throttles: ThrottleState[]; holds: Hold[]; notes: string[] };
  batches(limit: number): Batch[];
  /** One batch with its jobs by state, failures and callbacks; undefined when it is gone. */
  batch(id: string): BatchDetail | undefined;
  /** Each monitored tag with its counts, its `limit` newest jobs and newest failed jobs. */
  tags(limit: number): TagSummary[];
  /** The chart of one queue or job name over a window: throughput and runtime per bucket. */
  chart(kind: 'queue' | 'job', key: string, window: MetricsWindow, now: number): SeriesPoint[];
  actions?: Actions;
}

/** How many buckets a chart has per window: a minute each over 1 h, 30 minutes over 24 h, 3 hours over 7 d. */
export const CHART_BUCKETS: Record<MetricsWindow, number> = { '1h': 60, '24h': 48, '7d': 56 };

/** The chart of one queue or job name: exact from job rows over 1 h, from snapshots over 24 h and 7 d. */
export function chartData(db: Db, kind: 'queue' | 'job', key: string, window: MetricsWindow, now: number): SeriesPoint[] {
  return metricSeries(db, kind, key, METRICS_WINDOW_MS[window], CHART_BUCKETS[window], now, window !== '1h');
}

/** What each monitor action says it did (both engines' read models). */
export const actionMessages = {
  retried: (n: number) => `retried ${plural(n, 'failed job')}`,
  forgot: (n: number) => `forgot ${plural(n, 'failed job')}`,
  paused: (queue: string) => `queue ${queue} paused`,
  continued: (queue: string) => `queue ${queue} continued`,
  daemons: (paused: boolean) => (paused ? 'daemons paused (running jobs finish)' : 'daemons continued'),
  stop: () => 'stop requested: running daemons finish their jobs and exit',
  retriedBatch: (n: number, id: string) => `retried ${plural(n, 'failed job')} of batch ${id.slice(0, 8)}`,
  cancelledBatch: (n: number, id: string) => `cancelled ${plural(n, 'job')} of batch ${id.slice(0, 8)}`,
  cleared: (queue: string, n: number) => `queue ${queue} cleared: ${plural(n, 'job')} cancelled`,
  cancelledJob: (id: number, done: boolean) => (done ? `job #${id} cancelled` : `job #${id} was no longer pending or delayed`),
} as const;

/** Create the read model over a database. The read-only connection opens on the first read. */
export function createReadModel(options: ReadModelOptions): ReadModel {
  let reader: Db | undefined;
  const configured = options.configured ?? DEFAULT_QUEUES;
  const aliveMs = options.aliveMs ?? STALE_MS;
  const silenced = silencedOf(options.silenced ?? []);
  const read = <T>(fn: (db: Db) => T): T => {
    reader ??= options.open({ readonly: true });
    const db = reader;
    // One deferred read transaction per view: a consistent snapshot, released at COMMIT.
    return db.transaction(() => fn(db))();
  };
  const write = (fn: (db: Db) => string): string => {
    const db = options.open({ readonly: false });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  const say = actionMessages;
  const actions: Actions = {
    retryFailed: (uuids) => write((db) => say.retried(retryFailed(db, { uuids }).length)),
    forgetFailed: (uuids) => write((db) => say.forgot(forgetFailed(db, { uuids }))),
    pauseQueue: (queue) => write((db) => (pauseQueue(db, queue), say.paused(queue))),
    continueQueue: (queue) => write((db) => (continueQueue(db, queue), say.continued(queue))),
    pauseDaemons: (paused) => write((db) => (setDaemonsPaused(db, paused), say.daemons(paused))),
    stopDaemons: () => write((db) => (requestDaemonStop(db), say.stop())),
    retryBatch: (id) => write((db) => say.retriedBatch(retryBatch(db, id).length, id)),
    cancelBatch: (id) => write((db) => say.cancelledBatch(cancelBatch(db, id), id)),
    clearQueue: (queue) => write((db) => say.cleared(queue, clearQueue(db, queue).ids.length)),
    cancelJob: (id) => write((db) => say.cancelledJob(id, cancelJobs(db, [id]).ids.length > 0)),
  };
  return {
    read,
    close: () => {
      reader?.close();
      reader = undefined;
    },
    header: (now) => read((db) => headerData(db, now, aliveMs)),
    overview: (now) => read((db) => overviewData(db, now, { configured, aliveMs, silenced: options.silenced })),
    // Silenced jobs stay out of the completed list (Horizon's silenced); their failures still show.
    jobs: (tab, query, limit) => read((db) => listJobs(db, { state: tab, ...query, limit, ...(tab === 'completed' ? { exclude: silenced } : {}) })),
    job: (id) => read((db) => getJob(db, id)),
    failed: (limit) => read((db) => listFailed(db, { limit })),
    queues: (now) => read((db) => queueRows(db, now, configured)),
    metrics: (window, now) => read((db) => metricRows(db, window, now)),
    workers: (now) => read((db) => ({
      workers: listWorkers(db), control: daemonControl(db), aliveMs, throttles: listThrottles(db, now), holds: listHolds(db, now), notes: options.notes?.(db, now) ?? [],
    })),
    batches: (limit) => read((db) => listBatches(db, limit)),
    batch: (id) => read((db) => batchDetail(db, id)),
    tags: (limit) => read((db) => tagSummaries(db, limit)),
    chart: (kind, key, window, now) => read((db) => chartData(db, kind, key, window, now)),
    ...(options.readonly ? {} : { actions }),
  };
}
