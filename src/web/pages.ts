/**
 * The dashboard's screens, rendered on the server from the read model in src/queue (the
 * same functions the Ink monitor draws from). Each screen returns the HTML of the page's
 * live region; `layout` wraps it. Untrusted strings go through `text`, the rest through `esc`.
 */
import { fingerprint, groupFailed, type Batch, type BatchDetail, type BatchFailureRow, type BatchJob, type FailedJob, type Job, type JobsTab, type MetricRow, type MetricsWindow, type ReadModel } from '../queue/index.js';
import type { AnalysisViews } from '../analysis/store.js';
import { ago, columnChart, count, duration, esc, meter, rate, table, text } from './html.js';

/** The screens, in menu order: path, title. */
export const SCREENS = [
  ['/', 'Overview'], ['/jobs', 'Jobs'], ['/failed', 'Failed'], ['/queues', 'Queues'], ['/charts', 'Metrics'],
  ['/workers', 'Workers'], ['/batches', 'Batches'], ['/analyses', 'Analyses'],
] as const;

/**
 * What the screens draw from: the queue's read model (its views and actions, not its
 * connection) and the analysis room's views (src/analysis/store.ts), on either engine.
 */
export type DashboardModel = Omit<ReadModel, 'read' | 'close'> & AnalysisViews;

/** What every screen gets. */
export interface PageContext {
  model: DashboardModel;
  now: number;
  /** Actions are drawn (the server also refuses them when read-only). */
  canAct: boolean;
  query: URLSearchParams;
}

/** A rendered screen: its title and the HTML of its live region. */
export interface Page {
  title: string;
  body: string;
  status?: number;
}

/** Most rows a list shows. */
export const LIST_LIMIT = 100;

/** An action button: a POST form the script sends with fetch (and that works without it). */
function actionForm(ctx: PageContext, action: string, fields: Record<string, string | readonly string[]>, label: string, kind: 'primary' | 'secondary' | 'danger' = 'primary'): string {
  if (!ctx.canAct) return '';
  const inputs = Object.entries(fields)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x: string) => `<input type="hidden" name="${esc(k)}" value="${esc(x)}">`))
    .join('');
  return `<form class="inline" method="post" action="/actions/${esc(action)}" data-action>${inputs}<button type="submit" class="${kind === 'primary' ? '' : kind}" data-act="${esc(action)}">${esc(label)}</button></form>`;
}

/**
 * A form for an action that cannot be undone (clear a queue, cancel a job): the browser will
 * not submit it until its box is ticked, and the server refuses it without `confirm=yes`.
 */
function confirmedActionForm(ctx: PageContext, action: string, fields: Record<string, string>, label: string, what: string): string {
  if (!ctx.canAct) return '';
  const inputs = Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('');
  return `<form class="inline" method="post" action="/actions/${esc(action)}" data-action>${inputs}<label class="muted"><input type="checkbox" name="confirm" value="yes" required> ${esc(what)}</label> <button type="submit" class="danger" data-act="${esc(action)}">${esc(label)}</button></form>`;
}

function pill(state: string): string {
  return `<span class="pill ${esc(state)}">${esc(state)}</span>`;
}

function card(k: string, v: string, sub = '', key = ''): string {
  return `<div class="card"${key ? ` data-card="${esc(key)}"` : ''}><div class="k">${esc(k)}</div><div class="v">${v}</div>${sub ? `<div class="sub">${sub}</div>` : ''}</div>`;
}

function jobLink(id: number): string {
  return `<a href="/jobs/${id}">#${id}</a>`;
}

/** The status in the header: daemons and their busy slots. */
export function headerStatus(ctx: PageContext): string {
  const h = ctx.model.header(ctx.now);
  return `<span class="pill ${h.status}" data-daemon-status="${h.status}">${h.status}</span> <span>${h.daemons} daemon${h.daemons === 1 ? '' : 's'} · ${h.busy}/${h.slots} busy</span>`;
}

/** Overview: Horizon's numbers, the throughput chart, queues and the live tail. */
export function overviewPage(ctx: PageContext): Page {
  const o = ctx.model.overview(ctx.now);
  const cards = [
    card('Jobs per minute', count(o.jobsPerMinute), '', 'jobsPerMinute'),
    card('Jobs past hour', count(o.jobsPastHour), '', 'jobsPastHour'),
    card('Failed past 7 days', count(o.failedPast7d), '', 'failedPast7d'),
    card('Status', pill(o.header.status), `${o.header.daemons} daemon${o.header.daemons === 1 ? '' : 's'} · ${o.header.busy}/${o.header.slots} busy`, 'status'),
    card('Max throughput', o.maxThroughput ? `${esc(rate(o.maxThroughput.perMinute))}/min` : '-', o.maxThroughput ? `queue ${text(o.maxThroughput.queue)}` : '', 'maxThroughput'),
    card('Max wait', o.longestWait ? esc(duration(o.longestWait.ms)) : '-', o.longestWait ? `queue ${text(o.longestWait.queue)}` : '', 'longestWait'),
    card('Max runtime', o.longestRuntime ? esc(duration(o.longestRuntime.ms)) : '-', o.longestRuntime ? `${text(o.longestRuntime.name)} ${jobLink(o.longestRuntime.id)}` : '', 'longestRuntime'),
  ].join('');
  const chart = columnChart(o.throughput, {
    label: 'completed jobs per minute, past hour',
    tip: (i, v) => `${v} completed ${60 - i} min ago`,
  });
  const queues = table([
    { title: 'Queue', cell: (q) => `<a href="/jobs?queue=${encodeURIComponent(q.queue)}">${text(q.queue)}</a>`, key: 'queue' },
    { title: 'Pending', cell: (q) => count(q.pending), num: true, key: 'pending' },
    { title: 'Delayed', cell: (q) => count(q.delayed), num: true, key: 'delayed' },
    { title: 'Running', cell: (q) => count(q.reserved), num: true, key: 'reserved' },
    { title: 'Failed', cell: (q) => count(q.failed), num: true, key: 'failed' },
    { title: 'Oldest wait', cell: (q) => (q.pending ? esc(duration(q.oldestWaitMs)) : '-'), num: true },
    { title: 'State', cell: (q) => (q.paused ? pill('paused') : pill('active')), key: 'paused' },
  ], o.queues, { rowAttrs: (q) => `data-queue="${esc(q.queue)}"` });
  const events = table([
    { title: 'When', cell: (e) => ago(e.at, ctx.now) },
    { title: 'Event', cell: (e) => pill(e.event) },
    { title: 'Job', cell: (e) => jobLink(e.id) },
    { title: 'Name', cell: (e) => text(e.name) },
    { title: 'Queue', cell: (e) => text(e.queue) },
  ], o.events, { empty: 'No job yet.', rowAttrs: (e) => `data-job="${e.id}" data-event="${e.event}"` });
  return {
    title: 'Overview',
    body: `<h1>Overview</h1><div class="cards">${cards}</div>`
      + `<h2>Throughput <span class="muted">(completed per minute, past hour)</span></h2><div class="panel">${chart}</div>`
      + `<h2>Queues</h2>${queues}<h2>Latest events</h2>${events}`,
  };
}

const JOB_TABS: readonly JobsTab[] = ['pending', 'delayed', 'reserved', 'completed', 'failed'];

/** Jobs: one state at a time, filtered by queue, name, tag and free text. */
export function jobsPage(ctx: PageContext): Page {
  const q = ctx.query;
  const tab = (JOB_TABS as readonly string[]).includes(q.get('state') ?? '') ? (q.get('state') as JobsTab) : 'pending';
  const filter = { queue: q.get('queue') || undefined, name: q.get('name') || undefined, tag: q.get('tag') || undefined, text: q.get('q') || undefined };
  const jobs = ctx.model.jobs(tab, filter, LIST_LIMIT, ctx.now);
  const keep = new URLSearchParams();
  for (const [k, v] of Object.entries({ queue: filter.queue, name: filter.name, tag: filter.tag, q: filter.text })) if (v) keep.set(k, v);
  const tabs = JOB_TABS.map((t) => {
    const p = new URLSearchParams(keep);
    p.set('state', t);
    return `<a href="/jobs?${esc(p.toString())}"${t === tab ? ' aria-current="page"' : ''}>${esc(t)}</a>`;
  }).join('');
  const field = (name: string, label: string, value: string | undefined) => `<label>${esc(label)}<input name="${name}" value="${esc(value ?? '')}"></label>`;
  const form = `<form class="filters" method="get" action="/jobs"><input type="hidden" name="state" value="${esc(tab)}">`
    + `${field('queue', 'Queue', filter.queue)}${field('name', 'Name', filter.name)}${field('tag', 'Tag', filter.tag)}${field('q', 'Text', filter.text)}`
    + `<button type="submit" class="secondary">Filter</button></form>`;
  const when = tab === 'pending' || tab === 'delayed' ? 'Available' : tab === 'reserved' ? 'Started' : 'Finished';
  const rows = table<Job>([
    { title: 'Job', cell: (j) => jobLink(j.id) },
    { title: 'Name', cell: (j) => text(j.name), key: 'name' },
    { title: 'Queue', cell: (j) => text(j.queue) },
    { title: 'Tags', cell: (j) => j.tags.map((t) => `<a class="pill" href="/jobs?state=${tab}&amp;tag=${esc(encodeURIComponent(t))}">${text(t)}</a>`).join(' ') },
    { title: 'Attempts', cell: (j) => `${j.attempts}/${j.maxAttempts}`, num: true },
    { title: when, cell: (j) => ago(tab === 'pending' || tab === 'delayed' ? j.availableAt : tab === 'reserved' ? j.reservedAt : j.finishedAt, ctx.now) },
  ], jobs, { empty: `No ${tab} job${filter.queue || filter.name || filter.tag || filter.text ? ' matches these filters' : ''}.`, rowAttrs: (j) => `data-job="${j.id}"` });
  return { title: 'Jobs', body: `<h1>Jobs</h1><nav class="tabs">${tabs}</nav>${form}${rows}${jobs.length === LIST_LIMIT ? `<p class="muted">Showing the first ${LIST_LIMIT}; narrow the filters.</p>` : ''}` };
}

function json(value: unknown): string {
  return `<pre>${text(JSON.stringify(value, null, 2))}</pre>`;
}

/** Job detail: fields, payload, tags, chain and every failed attempt. */
export function jobPage(ctx: PageContext, id: number): Page {
  const j = ctx.model.job(id);
  if (!j) return { title: 'Not found', body: `<h1>Job #${id}</h1><p class="empty">No job #${id} (it may have been trimmed).</p>`, status: 404 };
  const kv: [string, string][] = [
    ['State', pill(j.state)], ['Name', text(j.name)], ['Queue', text(j.queue)], ['Priority', String(j.priority)],
    ['Attempts', `${j.attempts}/${j.maxAttempts}`], ['Backoff', esc(j.backoff.map((s) => `${s}s`).join(', ') || '-')],
    ['Timeout', j.timeoutMs === null ? '-' : esc(duration(j.timeoutMs))], ['Created', ago(j.createdAt, ctx.now)],
    ['Available', ago(j.availableAt, ctx.now)], ['Started', ago(j.reservedAt, ctx.now)], ['Finished', ago(j.finishedAt, ctx.now)],
    ['Worker', text(j.reservedBy ?? '-')], ['Unique key', text(j.uniqueKey ?? '-')],
    ['Tags', j.tags.length ? j.tags.map((t) => `<a class="pill" href="/jobs?state=${j.state === 'cancelled' ? 'pending' : j.state}&amp;tag=${esc(encodeURIComponent(t))}">${text(t)}</a>`).join(' ') : '-'],
    ['Batch', j.batchId ? `<a href="/batches/${esc(encodeURIComponent(j.batchId))}">${text(j.batchId)}</a>` : '-'],
  ];
  const attempts = table([
    { title: 'Attempt', cell: (e) => String(e.attempt), num: true },
    { title: 'When', cell: (e) => ago(e.at, ctx.now) },
    { title: 'Error', cell: (e) => `${text(e.message)}${e.stack ? `<details><summary>stack</summary><pre>${text(e.stack)}</pre></details>` : ''}` },
  ], j.errors, { empty: 'No failed attempt.' });
  const cancel = j.state === 'pending' || j.state === 'delayed' ? `<p>${confirmedActionForm(ctx, 'cancel-job', { id: String(j.id) }, 'Cancel job', 'the rest of its chain is cancelled too')}</p>` : '';
  return {
    title: `Job #${j.id}`,
    body: `<h1>Job #${j.id} <span class="muted">${text(j.name)}</span></h1>${cancel}<div class="panel"><dl class="kv">${kv.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl></div>`
      + `<h2>Payload</h2>${json(j.payload)}${j.chain ? `<h2>Chain (still to run)</h2>${json(j.chain)}` : ''}<h2>Attempts</h2>${attempts}`,
  };
}

/** Failed: grouped by error fingerprint, with retry and forget per group and per job. */
export function failedPage(ctx: PageContext): Page {
  const failed = ctx.model.failed(1000);
  const groups = groupFailed(failed);
  const byGroup = new Map<string, FailedJob[]>();
  for (const f of failed) {
    const fp = fingerprint(f.error);
    byGroup.set(fp, [...(byGroup.get(fp) ?? []), f]);
  }
  const body = groups.map((g, i) => {
    const rows = table<FailedJob>([
      { title: 'Job', cell: (f) => (f.jobId === null ? '-' : jobLink(f.jobId)) },
      { title: 'Name', cell: (f) => text(f.name) },
      { title: 'Queue', cell: (f) => text(f.queue) },
      { title: 'Failed', cell: (f) => ago(f.failedAt, ctx.now) },
      { title: 'Error', cell: (f) => `<span class="error-text">${text(f.error)}</span>` },
      { title: '', cell: (f) => `${actionForm(ctx, 'retry', { uuid: f.uuid }, 'Retry')} ${actionForm(ctx, 'forget', { uuid: f.uuid }, 'Forget', 'danger')}` },
    ], byGroup.get(g.fingerprint) ?? [], { rowAttrs: (f) => `data-uuid="${esc(f.uuid)}" data-job="${f.jobId ?? ''}"` });
    return `<details class="panel group" id="g-${i}-${esc(fingerprintId(g.fingerprint))}" data-group><summary><strong>${count(g.count)}×</strong> <span class="error-text">${text(g.message)}</span>`
      + ` <span class="muted">· ${text(g.names.join(', '))} on ${text(g.queues.join(', '))} · last ${ago(g.lastSeen, ctx.now)}</span></summary>`
      + `<p>${actionForm(ctx, 'retry', { uuid: g.uuids }, `Retry all ${g.count}`)} ${actionForm(ctx, 'forget', { uuid: g.uuids }, `Forget all ${g.count}`, 'danger')}</p>${rows}</details>`;
  }).join('');
  return { title: 'Failed', body: `<h1>Failed jobs <span class="muted">(${count(failed.length)}${failed.length === 1000 ? '+' : ''})</span></h1>${body || '<p class="empty">No failed job.</p>'}` };
}

function fingerprintId(fp: string): string {
  let h = 0;
  for (let i = 0; i < fp.length; i++) h = (h * 31 + fp.charCodeAt(i)) | 0;
  return (h >>> 0).toString(36);
}

/** Queues: sizes, throughput, error rate; pause and continue. */
export function queuesPage(ctx: PageContext): Page {
  const rows = ctx.model.queues(ctx.now);
  const tableHtml = table([
    { title: 'Queue', cell: (q) => `<a href="/jobs?queue=${esc(encodeURIComponent(q.queue))}">${text(q.queue)}</a>` },
    { title: 'Pending', cell: (q) => count(q.pending), num: true, key: 'pending' },
    { title: 'Delayed', cell: (q) => count(q.delayed), num: true },
    { title: 'Running', cell: (q) => count(q.reserved), num: true },
    { title: 'Done 1h', cell: (q) => count(q.processed), num: true },
    { title: 'Failed 1h', cell: (q) => count(q.failedHour), num: true },
    { title: 'Per min', cell: (q) => rate(q.perMinute), num: true },
    { title: 'Error rate', cell: (q) => (q.errorRate === null ? '-' : `${(q.errorRate * 100).toFixed(1)}%`), num: true },
    { title: 'Oldest wait', cell: (q) => (q.pending ? esc(duration(q.oldestWaitMs)) : '-'), num: true },
    { title: 'State', cell: (q) => pill(q.paused ? 'paused' : 'active'), key: 'state' },
    { title: '', cell: (q) => (q.paused ? actionForm(ctx, 'continue', { queue: q.queue }, 'Continue') : actionForm(ctx, 'pause', { queue: q.queue }, 'Pause', 'secondary')) },
    { title: '', cell: (q) => (q.pending + q.delayed > 0 ? confirmedActionForm(ctx, 'clear', { queue: q.queue }, 'Clear', `cancel its ${q.pending + q.delayed} waiting jobs`) : '') },
  ], rows, { rowAttrs: (q) => `data-queue="${esc(q.queue)}"` });
  return { title: 'Queues', body: `<h1>Queues</h1>${tableHtml}` };
}

const WINDOWS: readonly MetricsWindow[] = ['1h', '24h', '7d'];

/** Metrics: throughput and runtimes per queue and per job name, as bars. */
export function metricsPage(ctx: PageContext): Page {
  const w = (WINDOWS as readonly string[]).includes(ctx.query.get('window') ?? '') ? (ctx.query.get('window') as MetricsWindow) : '1h';
  const rows = ctx.model.metrics(w, ctx.now);
  // One row's charts (Enter on a row in the monitor): ?kind=queue|job&key=NAME.
  const kind = ctx.query.get('kind') === 'job' ? 'job' : ctx.query.get('kind') === 'queue' ? 'queue' : undefined;
  const key = kind ? (ctx.query.get('key') ?? '') : '';
  const picked = kind && key ? `&amp;kind=${kind}&amp;key=${esc(encodeURIComponent(key))}` : '';
  const tabs = WINDOWS.map((x) => `<a href="/charts?window=${x}${picked}"${x === w ? ' aria-current="page"' : ''}>${x}</a>`).join('');
  const rowLink = (r: MetricRow) => `<a href="/charts?window=${w}&amp;kind=${r.kind}&amp;key=${esc(encodeURIComponent(r.key))}">${text(r.key)}</a>`;
  const section = (of: MetricRow[], k: 'queue' | 'job', title: string) => {
    const maxRate = Math.max(0, ...of.map((r) => r.perMinute));
    const maxRt = Math.max(0, ...of.map((r) => r.runtimeP95 ?? r.runtimeAvg ?? 0));
    const ms = (v: number | null) => (v === null ? '-' : esc(duration(v)));
    return `<h2>${esc(title)}</h2>${table<MetricRow>([
      { title: k === 'queue' ? 'Queue' : 'Job', cell: rowLink },
      { title: 'Throughput', cell: (r) => `${meter(r.perMinute, maxRate, 'jobs per minute')} ${esc(rate(r.perMinute))}/min` },
      { title: 'Done', cell: (r) => count(r.processed), num: true },
      { title: 'Failed', cell: (r) => count(r.failed), num: true },
      { title: 'Runtime avg', cell: (r) => ms(r.runtimeAvg), num: true },
      { title: 'p50', cell: (r) => ms(r.runtimeP50), num: true },
      { title: 'p95', cell: (r) => `${meter(r.runtimeP95 ?? 0, maxRt, 'runtime p95', 'warn')} ${ms(r.runtimeP95)}${r.approximate ? '≈' : ''}` },
      { title: 'Wait avg', cell: (r) => ms(r.waitAvg), num: true },
      { title: 'Wait p95', cell: (r) => ms(r.waitP95), num: true },
    ], of, { empty: `No ${k === 'queue' ? 'queue' : 'job'} ran in this window.` })}`;
  };
  let top: string;
  if (kind && key) {
    const points = ctx.model.chart(kind, key, w, ctx.now);
    const span = (i: number) => esc(duration(ctx.now - (points[i]?.at ?? ctx.now)));
    top = `<h2>${esc(kind === 'queue' ? 'Queue' : 'Job')} ${text(key)} <a class="muted" href="/charts?window=${w}">(all)</a></h2>`
      + `<div class="panel"><h3>Throughput (jobs per minute)</h3>${columnChart(points.map((p) => p.perMinute), { label: `throughput of ${key}`, tip: (i, v) => `${rate(v)}/min, ${span(i)} ago` })}`
      + `<h3>Runtime (average ms)</h3>${columnChart(points.map((p) => Math.round(p.runtimeAvg ?? 0)), { label: `runtime of ${key}`, tip: (i, v) => `${duration(v)} average, ${span(i)} ago` })}</div>`;
  } else {
    const series = ctx.model.overview(ctx.now).throughput;
    top = `<div class="panel">${columnChart(series, { label: 'completed jobs per minute, past hour', tip: (i, v) => `${v} completed ${60 - i} min ago` })}</div>`;
  }
  return {
    title: 'Metrics',
    body: `<h1>Metrics</h1><nav class="tabs">${tabs}</nav>${top}`
      + section(rows.filter((r) => r.kind === 'queue'), 'queue', 'Per queue') + section(rows.filter((r) => r.kind === 'job'), 'job', 'Per job')
      + (w === '1h' ? '' : '<p class="muted">24 h and 7 d come from 5-minute snapshots: p95 is approximate (≈), p50 unknown.</p>'),
  };
}

/** Workers: the daemons on this database, and the pause / continue flags. */
export function workersPage(ctx: PageContext): Page {
  const { workers, control, aliveMs } = ctx.model.workers(ctx.now);
  const rows = table([
    { title: 'Daemon', cell: (w) => text(w.id) },
    { title: 'Host', cell: (w) => `${text(w.hostname)} pid ${w.pid}` },
    { title: 'Version', cell: (w) => text(w.version) },
    { title: 'Queues', cell: (w) => text(w.queues.join(', ')) },
    { title: 'Busy', cell: (w) => `${meter(w.busy, w.concurrency, 'busy slots')} ${w.busy}/${w.concurrency}` },
    { title: 'Status', cell: (w) => pill(ctx.now - w.heartbeatAt > aliveMs ? 'stale' : w.status) },
    { title: 'Up', cell: (w) => esc(duration(ctx.now - w.startedAt)), num: true },
    { title: 'Heartbeat', cell: (w) => ago(w.heartbeatAt, ctx.now) },
  ], workers, { empty: 'No daemon registered (run `gitroast daemon`).' });
  const actions = control.paused ? actionForm(ctx, 'continue-daemons', {}, 'Continue daemons') : actionForm(ctx, 'pause-daemons', {}, 'Pause daemons', 'secondary');
  return {
    title: 'Workers',
    body: `<h1>Workers</h1><p>Daemons are ${control.paused ? pill('paused') : pill('active')}${control.stopRequestedAt ? ` · last stop requested ${ago(control.stopRequestedAt, ctx.now)}` : ''} ${actions}</p>${rows}`,
  };
}

function batchProgress(b: Batch): string {
  const done = b.processed + b.failed;
  return `${meter(done, b.total, 'batch progress', b.failed > 0 ? 'warn' : 'ok')} ${count(done)}/${count(b.total)}`;
}

function batchState(b: Batch): string {
  return b.cancelledAt ? 'cancelled' : b.finishedAt ? (b.failed > 0 ? 'failed' : 'completed') : 'processing';
}

/** Batches: progress of each; the detail lists counters and failed jobs, with retry and cancel. */
export function batchesPage(ctx: PageContext): Page {
  const rows = table<Batch>([
    { title: 'Batch', cell: (b) => `<a href="/batches/${esc(encodeURIComponent(b.id))}">${esc(b.id.slice(0, 8))}</a>` },
    { title: 'Name', cell: (b) => text(b.name ?? '-') },
    { title: 'Progress', cell: batchProgress },
    { title: 'Pending', cell: (b) => count(b.pending), num: true },
    { title: 'Failed', cell: (b) => count(b.failed), num: true },
    { title: 'State', cell: (b) => pill(batchState(b)) },
    { title: 'Created', cell: (b) => ago(b.createdAt, ctx.now) },
  ], ctx.model.batches(LIST_LIMIT), { empty: 'No batch yet (`gitroast batch`).' });
  return { title: 'Batches', body: `<h1>Batches</h1>${rows}` };
}

/** One batch: counters, jobs by state, callbacks with their state, its failures, retry and cancel. */
export function batchPage(ctx: PageContext, id: string): Page {
  const d = ctx.model.batch(id);
  if (!d) return { title: 'Not found', body: `<h1>Batch</h1><p class="empty">No batch ${text(id)}.</p>`, status: 404 };
  const b = d.batch;
  const states = Object.entries(d.states).filter(([, n]) => n > 0).map(([state, n]) => `${count(n)} ${esc(state)}`).join(', ');
  const kv: [string, string][] = [
    ['Name', text(b.name ?? '-')], ['State', pill(batchState(b))], ['Progress', batchProgress(b)], ['Pending', count(b.pending)],
    ['Processed', count(b.processed)], ['Failed', count(b.failed)], ['Cancelled', count(b.cancelled)], ['Allows failures', b.allowFailures ? 'yes' : 'no'],
    ['Jobs by state', states || '<span class="muted">none left (finished jobs are trimmed)</span>'],
    ['Created', ago(b.createdAt, ctx.now)], ['Finished', ago(b.finishedAt, ctx.now)], ['Cancelled at', ago(b.cancelledAt, ctx.now)],
  ];
  const actions = `${b.failed > 0 ? actionForm(ctx, 'retry-batch', { id: b.id }, 'Retry failed jobs') : ''} ${!b.finishedAt && !b.cancelledAt ? actionForm(ctx, 'cancel-batch', { id: b.id }, 'Cancel batch', 'danger') : ''}`;
  const callbacks = table<BatchDetail['callbacks'][number]>([
    { title: 'Callback', cell: (c) => esc(c.kind) },
    { title: 'Job', cell: (c) => text(c.name ?? '-') },
    { title: 'State', cell: (c) => pill(c.state) },
  ], d.callbacks, { empty: 'No callback.' });
  const failures = table<BatchFailureRow>([
    { title: 'Job', cell: (f) => jobLink(f.jobId) },
    { title: 'Name', cell: (f) => text(f.name) },
    { title: 'Attempts', cell: (f) => count(f.attempts) },
    { title: 'Failed', cell: (f) => ago(f.failedAt, ctx.now) },
    { title: 'Error', cell: (f) => text(f.error) },
  ], d.failures, { empty: 'No failed job in this batch.' });
  const jobs = table<BatchJob>([
    { title: 'Job', cell: (j) => jobLink(j.id) },
    { title: 'Name', cell: (j) => text(j.name) },
    { title: 'Queue', cell: (j) => text(j.queue) },
    { title: 'State', cell: (j) => pill(j.state) },
    { title: 'Attempts', cell: (j) => count(j.attempts) },
    { title: 'Finished', cell: (j) => ago(j.finishedAt, ctx.now) },
  ], d.jobs, { empty: 'No job of this batch is left in the jobs table.' });
  return {
    title: `Batch ${b.id.slice(0, 8)}`,
    body: `<h1>Batch <span class="muted">${esc(b.id)}</span></h1><p>${actions}</p><div class="panel"><dl class="kv">${kv.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl></div>`
      + `<h2>Callbacks</h2>${callbacks}<h2>Failures</h2>${failures}<h2>Jobs</h2>${jobs}`,
  };
}

