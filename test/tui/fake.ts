/** A fake DataSource with fixed data and recorded actions, and a fixed clock, for screen tests. */
import type { Batch, FailedJob, Hold, Job, QueueStats, TagSummary, ThrottleState, Worker } from '../../src/queue/index.js';
import type { Actions, AnalysisRow, DataSource, OverviewData, QueueRow } from '../../src/tui/types.js';

export const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
export const clock = { now: () => NOW };

export function job(over: Partial<Job> = {}): Job {
  return {
    id: 1, queue: 'default', name: 'fetch-github', payload: { username: 'octocat' }, state: 'pending', priority: 0, attempts: 0, maxAttempts: 3,
    backoff: [], timeoutMs: null, retryUntil: null, availableAt: NOW - 5_000, createdAt: NOW - 5_000, reservedAt: null, finishedAt: null,
    reservedBy: null, leaseExpiresAt: null, leaseToken: 0, uniqueKey: null, tags: ['analysis'], chain: null, batchId: null, errors: [], ...over,
  };
}

export function failed(over: Partial<FailedJob> = {}): FailedJob {
  return {
    uuid: '00000000-0000-4000-8000-000000000001', jobId: 9, queue: 'default', name: 'fetch-github', payload: { username: 'x' }, tags: [],
    batchId: null, attempts: 3, error: 'GitHub answered 502 after 3000 ms', stack: 'Error: boom\n    at f (a.ts:1:1)', failedAt: NOW - 60_000, ...over,
  };
}

function stats(queue: string, over: Partial<QueueStats> = {}): QueueStats {
  return { queue, pending: 0, delayed: 0, reserved: 0, completed: 0, failed: 0, oldestWaitMs: 0, paused: false, ...over };
}

export interface FakeOptions {
  jobs?: Job[];
  failed?: FailedJob[];
  batches?: Batch[];
  workers?: Worker[];
  throttles?: ThrottleState[];
  holds?: Hold[];
  notes?: string[];
  pausedSupervisors?: string[];
  analyses?: AnalysisRow[];
  readonly?: boolean;
  events?: OverviewData['events'];
  tags?: TagSummary[];
}

export interface Fake extends DataSource {
  calls: string[];
  acted: string[];
}

/** Make a fake source; `calls` records reads, `acted` records actions. */
export function fakeSource(o: FakeOptions = {}): Fake {
  const calls: string[] = [];
  const acted: string[] = [];
  let failedRows = o.failed ?? [];
  const queues: QueueStats[] = [stats('high'), stats('default', { pending: 4, oldestWaitMs: 65_000, failed: failedRows.length }), stats('low', { paused: true })];
  const header = { status: 'active' as const, daemons: 1, busy: 2, slots: 4 };
  const actions: Actions = {
    retryFailed: (uuids) => {
      acted.push(`retry ${uuids.join(',')}`);
      failedRows = failedRows.filter((f) => !uuids.includes(f.uuid));
      return `retried ${uuids.length} failed jobs`;
    },
    forgetFailed: (uuids) => {
      acted.push(`forget ${uuids.join(',')}`);
      failedRows = failedRows.filter((f) => !uuids.includes(f.uuid));
      return `forgot ${uuids.length} failed jobs`;
    },
    pauseQueue: (q) => (acted.push(`pause ${q}`), `queue ${q} paused`),
    continueQueue: (q) => (acted.push(`continue ${q}`), `queue ${q} continued`),
    pauseDaemons: (p) => (acted.push(`daemons ${p ? 'pause' : 'continue'}`), 'ok'),
    stopDaemons: () => (acted.push('stop'), 'stop requested'),
    retryBatch: (id) => (acted.push(`retry batch ${id}`), 'ok'),
    cancelBatch: (id) => (acted.push(`cancel batch ${id}`), 'ok'),
    clearQueue: (q) => (acted.push(`clear ${q}`), `queue ${q} cleared`),
    cancelJob: (id) => (acted.push(`cancel ${id}`), `job #${id} cancelled`),
  };
  return {
    calls, acted,
    header: () => (calls.push('header'), header),
    overview: () => {
      calls.push('overview');
      return {
        header, jobsPerMinute: 12, jobsPastHour: 345, failedPast7d: failedRows.length, longestWait: { queue: 'default', ms: 65_000 },
        maxThroughput: { queue: 'default', perMinute: 12.5 }, longestRuntime: { name: 'write-review', id: 77, ms: 4_200 }, throughput: Array.from({ length: 60 }, (_, i) => i % 10), queues,
        events: o.events ?? [{ at: NOW - 1_000, event: 'completed', id: 7, queue: 'default', name: 'fetch-github' }],
      };
    },
    jobs: (tab, query) => {
      calls.push(`jobs ${tab} ${JSON.stringify(query)}`);
      return (o.jobs ?? []).filter((j) => j.state === tab && (!query.text || JSON.stringify(j).includes(query.text)) && (!query.queue || j.queue === query.queue));
    },
    job: (id) => (calls.push(`job ${id}`), (o.jobs ?? []).find((j) => j.id === id)),
    failed: () => (calls.push('failed'), failedRows),
    queues: (): QueueRow[] => (calls.push('queues'), queues.map((q) => ({ ...q, perMinute: 1.5, processed: 90, failedHour: 10, errorRate: 0.1 }))),
    metrics: (window) => {
      calls.push(`metrics ${window}`);
      return [{ kind: 'queue', key: 'default', processed: 90, failed: 10, perMinute: 1.7, runtimeAvg: 1200, runtimeP50: 900, runtimeP95: 4000, waitAvg: 50, waitP95: 300 }];
    },
    workers: () => (calls.push('workers'), { workers: o.workers ?? [], control: { paused: false, stopRequestedAt: null, pausedSupervisors: o.pausedSupervisors ?? [] }, throttles: o.throttles ?? [], holds: o.holds ?? [], notes: o.notes ?? [] }),
    batches: () => (calls.push('batches'), o.batches ?? []),
    tags: () => (calls.push('tags'), o.tags ?? []),
    chart: (kind, key, window) => {
      calls.push(`chart ${kind} ${key} ${window}`);
      return Array.from({ length: 60 }, (_, i) => ({ at: NOW - (59 - i) * 60_000, perMinute: i % 12, runtimeAvg: i % 12 === 0 ? null : 100 * (i % 7) }));
    },
    ...(o.analyses ? { analyses: () => o.analyses! } : {}),
    ...(o.readonly ? {} : { actions }),
  };
}
