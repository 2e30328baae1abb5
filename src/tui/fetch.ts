/** Fetch the data one view needs from a DataSource (synchronous: the sources are SQLite reads). */
import { parseQuery } from './format.js';
import { FAILED_LIMIT, LIST_LIMIT, TAG_JOBS, type Data, type Request } from './state.js';
import type { DataSource } from './types.js';

/** Read what `req` asks for: the header on every screen, plus the current screen's data. */
export function fetchView(source: DataSource, req: Request, now: number): Data {
  switch (req.screen) {
    case 'overview': {
      const overview = source.overview(now);
      return { overview, header: overview.header };
    }
    case 'jobs': {
      const header = source.header(now);
      if (req.jobId !== null) return { header, job: source.job(req.jobId) ?? null };
      return { header, jobs: source.jobs(req.jobsTab, parseQuery(req.jobsFilter), LIST_LIMIT, now) };
    }
    case 'failed':
      return { header: source.header(now), failed: source.failed(FAILED_LIMIT) };
    case 'queues':
      return { header: source.header(now), queues: source.queues(now) };
    case 'metrics':
      if (req.chartKey !== null) {
        return { header: source.header(now), chart: source.chart ? source.chart(req.chartKey.kind, req.chartKey.key, req.metricsWindow, now) : [] };
      }
      return { header: source.header(now), metrics: source.metrics(req.metricsWindow, now) };
    case 'tags':
      return { header: source.header(now), tags: source.tags ? source.tags(TAG_JOBS) : null };
    case 'workers':
      return { header: source.header(now), workers: source.workers(now) };
    case 'batches':
      if (req.batchId !== null) return { header: source.header(now), batch: source.batch?.(req.batchId) ?? null };
      if (req.batchesTab === 'analyses') return { header: source.header(now), analyses: source.analyses ? source.analyses(LIST_LIMIT) : null };
      return { header: source.header(now), batches: source.batches(LIST_LIMIT) };
  }
}
