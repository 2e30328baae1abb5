/**
 * The monitor as a state machine (asynq `dash` style): one State, a pure reducer, and a
 * pure function telling the top-level component which data the current view needs. Actions
 * that write are not performed here: the reducer sets `command`, the component runs it
 * through the DataSource's actions and reports back with `commandDone`.
 */
import { FAILED_READ_LIMIT, MONITOR_LIST_LIMIT } from '../queue/defaults.js';
import { groupFailed, type Batch, type BatchDetail, type DaemonControl, type FailedJob, type Hold, type Job, type SeriesPoint, type TagSummary, type ThrottleState, type Worker } from '../queue/index.js';
import { plural } from '../util/format.js';
import { batchDetailLines, failedDetailLines, jobDetailLines, tagDetailLines } from './detail.js';
import { fingerprint } from './format.js';
import type { AnalysisRow, HeaderData, JobsTab, MetricRow, MetricsWindow, OverviewData, QueueRow } from './types.js';

export const SCREENS = ['overview', 'jobs', 'failed', 'queues', 'metrics', 'workers', 'batches', 'tags'] as const;
export type Screen = (typeof SCREENS)[number];

export const SCREEN_TITLES: Record<Screen, string> = {
  overview: 'Overview', jobs: 'Jobs', failed: 'Failed', queues: 'Queues', metrics: 'Metrics', workers: 'Workers', batches: 'Batches', tags: 'Tags',
};

export const JOBS_TABS: readonly JobsTab[] = ['pending', 'delayed', 'reserved', 'completed', 'failed'];
export const JOBS_TAB_TITLES: Record<JobsTab, string> = { pending: 'pending', delayed: 'delayed', reserved: 'running', completed: 'completed', failed: 'failed' };
export const METRICS_WINDOWS: readonly MetricsWindow[] = ['1h', '24h', '7d'];
export const BATCHES_TABS = ['batches', 'analyses'] as const;
type BatchesTab = (typeof BATCHES_TABS)[number];

/** How many rows a list screen fetches at most. */
export const LIST_LIMIT = MONITOR_LIST_LIMIT;
/** How many failed jobs the Failed screen reads to group (newest first). */
export const FAILED_LIMIT = FAILED_READ_LIMIT;
/** How many recent and failed jobs the Tags screen shows per tag. */
export const TAG_JOBS = 10;
/** How long a flash message stays, ms. */
export const FLASH_MS = 6000;

/** A write the component should perform. */
export type Command =
  | { kind: 'retryFailed'; uuids: string[] }
  | { kind: 'forgetFailed'; uuids: string[] }
  | { kind: 'pauseQueue'; queue: string }
  | { kind: 'continueQueue'; queue: string }
  | { kind: 'pauseDaemons'; paused: boolean }
  | { kind: 'stopDaemons' }
  | { kind: 'retryBatch'; id: string }
  | { kind: 'cancelBatch'; id: string }
  | { kind: 'clearQueue'; queue: string }
  | { kind: 'cancelJob'; id: number };

/** The latest data of each view. */
export interface Data {
  header?: HeaderData;
  overview?: OverviewData;
  jobs?: Job[];
  /** The open job; null when it no longer exists. */
  job?: Job | null;
  failed?: FailedJob[];
  queues?: QueueRow[];
  metrics?: MetricRow[];
  workers?: { workers: Worker[]; control: DaemonControl; aliveMs?: number; throttles?: ThrottleState[]; holds?: Hold[]; notes?: string[] };
  batches?: Batch[];
  /** The open batch's detail; null when it no longer exists. */
  batch?: BatchDetail | null;
  /** null when this database has no analyses. */
  analyses?: AnalysisRow[] | null;
  /** The monitored tags with their counts and jobs; null when the source has none. */
  tags?: TagSummary[] | null;
  /** The open chart's buckets (Enter on a metrics row). */
  chart?: SeriesPoint[];
}

/** A metrics row whose chart is open. */
interface ChartKey {
  kind: 'queue' | 'job';
  key: string;
}

export interface State {
  screen: Screen;
  /** The clock's time at the last tick or data. */
  now: number;
  readonly: boolean;
  frozen: boolean;
  /** Bumped to ask for a fetch. */
  refreshSeq: number;
  help: boolean;
  mode: 'normal' | 'filter' | 'confirm';
  filterDraft: string;
  confirm: { prompt: string; command: Command } | null;
  /** A write waiting to be run by the component. */
  command: Command | null;
  flash: { text: string; at: number; error: boolean } | null;
  /** Cursor per list (see listId). */
  cursor: Record<string, number>;
  /** Scroll offset of a detail view. */
  scroll: number;
  jobsTab: JobsTab;
  jobsFilter: string;
  jobId: number | null;
  failedGroup: string | null;
  failedUuid: string | null;
  /** Marked failed jobs (uuids). */
  marks: string[];
  metricsWindow: MetricsWindow;
  batchesTab: BatchesTab;
  /** The open batch (Enter on a batch). */
  batchId: string | null;
  /** The open chart (Enter on a metrics row). */
  chartKey: ChartKey | null;
  /** The open monitored tag (Enter on a tag). */
  tag: string | null;
  data: Data;
  /** The last fetch error, shown in the footer until a fetch succeeds. */
  error: string | null;
  /** Terminal rows, for page size and list height. */
  rows: number;
  quit: boolean;
}

export function initialState(options: { now: number; readonly?: boolean; rows?: number; screen?: Screen }): State {
  return {
    screen: options.screen ?? 'overview', now: options.now, readonly: options.readonly ?? false, frozen: false, refreshSeq: 0,
    help: false, mode: 'normal', filterDraft: '', confirm: null, command: null, flash: null, cursor: {}, scroll: 0,
    jobsTab: 'pending', jobsFilter: '', jobId: null, failedGroup: null, failedUuid: null, marks: [], metricsWindow: '1h',
    batchesTab: 'batches', batchId: null, chartKey: null, tag: null, data: {}, error: null, rows: options.rows ?? 24, quit: false,
  };
}

export type Action =
  | { type: 'screen'; screen: Screen }
  | { type: 'move'; delta: number }
  | { type: 'page'; dir: 1 | -1 }
  | { type: 'top' }
  | { type: 'bottom' }
  | { type: 'open' }
  | { type: 'back' }
  | { type: 'quit' }
  | { type: 'tab'; dir: 1 | -1 }
  | { type: 'filterStart' }
  | { type: 'filterInput'; text: string }
  | { type: 'filterBackspace' }
  | { type: 'filterApply' }
  | { type: 'filterCancel' }
  | { type: 'mark' }
  | { type: 'retry' }
  | { type: 'forget' }
  | { type: 'pause' }
  | { type: 'stop' }
  | { type: 'cancel' }
  | { type: 'confirmYes' }
  | { type: 'confirmNo' }
  | { type: 'freeze' }
  | { type: 'refresh' }
  | { type: 'help' }
  | { type: 'tick'; now: number }
  | { type: 'data'; data: Data; now: number }
  | { type: 'fetchError'; message: string; now: number }
  | { type: 'commandStarted' }
  | { type: 'commandDone'; message: string; error?: boolean; now: number }
  | { type: 'resize'; rows: number };

// Failed jobs are grouped the same way in both monitors: src/queue's read model.
export { groupFailed } from '../queue/index.js';

/** The failed jobs of the open group, newest first. */
export function groupRows(state: State): FailedJob[] {
  if (state.failedGroup === null) return [];
  return (state.data.failed ?? []).filter((r) => fingerprint(r.error) === state.failedGroup);
}

/** Which list the cursor keys move in the current view, or null for a detail or a list-less view. */
function listId(state: State): string | null {
  switch (state.screen) {
    case 'overview':
      return null;
    case 'jobs':
      return state.jobId !== null ? null : `jobs:${state.jobsTab}`;
    case 'failed':
      return state.failedUuid !== null ? null : state.failedGroup !== null ? 'failed:group' : 'failed:groups';
    case 'batches':
      return state.batchId !== null ? null : `batches:${state.batchesTab}`;
    case 'metrics':
      return state.chartKey !== null ? null : 'metrics';
    case 'tags':
      return state.tag !== null ? null : 'tags';
    default:
      return state.screen;
  }
}

/** How many rows the current list has. */
function listLength(state: State): number {
  const d = state.data;
  switch (listId(state)) {
    case null:
      return 0;
    case 'failed:groups':
      return groupFailed(d.failed ?? []).length;
    case 'failed:group':
      return groupRows(state).length;
    case 'queues':
      return d.queues?.length ?? 0;
    case 'metrics':
      return d.metrics?.length ?? 0;
    case 'workers':
      return d.workers?.workers.length ?? 0;
    case 'batches:batches':
      return d.batches?.length ?? 0;
    case 'batches:analyses':
      return d.analyses?.length ?? 0;
    case 'tags':
      return d.tags?.length ?? 0;
    default:
      return d.jobs?.length ?? 0;
  }
}

/** True when a detail view (a job, a failed job) is open. */
export function inDetail(state: State): boolean {
  return (state.screen === 'jobs' && state.jobId !== null) || (state.screen === 'failed' && state.failedUuid !== null) || (state.screen === 'batches' && state.batchId !== null)
    || (state.screen === 'metrics' && state.chartKey !== null) || (state.screen === 'tags' && state.tag !== null);
}

/** How many list rows fit on screen (header, tabs, table header, footer take the rest). */
function pageSize(state: State): number {
  return Math.max(3, state.rows - 7);
}

export function cursorOf(state: State): number {
  const id = listId(state);
  return id === null ? 0 : (state.cursor[id] ?? 0);
}

/** The lines of the open detail view (empty when none is open). */
export function detailLines(state: State): string[] {
  if (state.screen === 'jobs' && state.jobId !== null) return jobDetailLines(state.data.job, state.now);
  if (state.screen === 'failed' && state.failedUuid !== null) return failedDetailLines(state.data.failed?.find((f) => f.uuid === state.failedUuid), state.now);
  if (state.screen === 'batches' && state.batchId !== null) return batchDetailLines(state.data.batch, state.now);
  if (state.screen === 'tags' && state.tag !== null) return tagDetailLines(state.data.tags?.find((t) => t.tag === state.tag), state.now);
  return [];
}

/** How many lines a detail view shows at once. */
export function detailHeight(state: State): number {
  return Math.max(3, state.rows - 6);
}

function setCursor(state: State, value: number): State {
  const id = listId(state);
  if (id === null) return { ...state, scroll: Math.max(0, Math.min(value, detailLines(state).length - detailHeight(state))) };
  const max = listLength(state) - 1;
  return { ...state, cursor: { ...state.cursor, [id]: Math.max(0, Math.min(max, value)) } };
}

function flash(state: State, text: string, error = false): State {
  return { ...state, flash: { text, at: state.now, error } };
}

/** What the data for a view is: a key that changes when another fetch is needed. */
export interface Request {
  screen: Screen;
  jobsTab: JobsTab;
  jobsFilter: string;
  jobId: number | null;
  metricsWindow: MetricsWindow;
  batchesTab: BatchesTab;
  batchId: string | null;
  chartKey: ChartKey | null;
  refreshSeq: number;
}

/** The data request of the current view. */
export function request(state: State): Request {
  return {
    screen: state.screen, jobsTab: state.jobsTab, jobsFilter: state.jobsFilter, jobId: state.screen === 'jobs' ? state.jobId : null,
    metricsWindow: state.metricsWindow, batchesTab: state.batchesTab, batchId: state.screen === 'batches' ? state.batchId : null,
    chartKey: state.screen === 'metrics' ? state.chartKey : null, refreshSeq: state.refreshSeq,
  };
}

/** The failed jobs a retry or forget applies to: the open one, the marked ones, the group or row under the cursor. */
export function failedTargets(state: State): string[] {
  if (state.screen !== 'failed') return [];
  if (state.failedUuid !== null) return [state.failedUuid];
  if (state.marks.length > 0) return [...state.marks];
  const c = cursorOf(state);
  if (state.failedGroup !== null) {
    const row = groupRows(state)[c];
    return row ? [row.uuid] : [];
  }
  return groupFailed(state.data.failed ?? [])[c]?.uuids ?? [];
}

function act(state: State, command: Command | null, confirm?: string): State {
  if (state.readonly) return flash(state, 'read-only monitor: actions are disabled (--readonly)', true);
  if (command === null) return state;
  if (confirm) return { ...state, mode: 'confirm', confirm: { prompt: confirm, command } };
  return { ...state, command };
}

function back(state: State): State {
  if (state.help) return { ...state, help: false };
  if (state.screen === 'jobs' && state.jobId !== null) return { ...state, jobId: null, scroll: 0 };
  if (state.screen === 'failed' && state.failedUuid !== null) return { ...state, failedUuid: null, scroll: 0 };
  if (state.screen === 'failed' && state.failedGroup !== null) return { ...state, failedGroup: null, marks: [] };
  if (state.screen === 'batches' && state.batchId !== null) return { ...state, batchId: null, scroll: 0 };
  if (state.screen === 'metrics' && state.chartKey !== null) return { ...state, chartKey: null, scroll: 0 };
  if (state.screen === 'tags' && state.tag !== null) return { ...state, tag: null, scroll: 0 };
  if (state.screen === 'jobs' && state.jobsFilter !== '') return { ...state, jobsFilter: '', refreshSeq: state.refreshSeq + 1 };
  if (state.screen !== 'overview') return { ...state, screen: 'overview', marks: [] };
  return { ...state, quit: true };
}

function open(state: State): State {
  const c = cursorOf(state);
  switch (listId(state)) {
    case 'failed:groups': {
      const g = groupFailed(state.data.failed ?? [])[c];
      return g ? { ...state, failedGroup: g.fingerprint, cursor: { ...state.cursor, 'failed:group': 0 } } : state;
    }
    case 'failed:group': {
      const r = groupRows(state)[c];
      return r ? { ...state, failedUuid: r.uuid, scroll: 0 } : state;
    }
    case 'batches:batches': {
      const b = state.data.batches?.[c];
      return b ? { ...state, batchId: b.id, scroll: 0, data: { ...state.data, batch: undefined } } : state;
    }
    case 'metrics': {
      const m = state.data.metrics?.[c];
      return m ? { ...state, chartKey: { kind: m.kind, key: m.key }, scroll: 0, data: { ...state.data, chart: undefined } } : state;
    }
    case 'tags': {
      const t = state.data.tags?.[c];
      return t ? { ...state, tag: t.tag, scroll: 0 } : state;
    }
    case 'queues': {
      const q = state.data.queues?.[c];
      return q ? { ...state, screen: 'jobs', jobsTab: 'pending', jobsFilter: `queue:${q.queue}`, jobId: null } : state;
    }
    default:
      if (state.screen === 'jobs' && state.jobId === null) {
        const j = state.data.jobs?.[c];
        return j ? { ...state, jobId: j.id, scroll: 0, data: { ...state.data, job: j } } : state;
      }
      return state;
  }
}

function mark(state: State): State {
  if (state.screen !== 'failed' || state.failedUuid !== null) return state;
  const c = cursorOf(state);
  let uuids: string[];
  if (state.failedGroup !== null) {
    const r = groupRows(state)[c];
    uuids = r ? [r.uuid] : [];
  } else {
    uuids = groupFailed(state.data.failed ?? [])[c]?.uuids ?? [];
  }
  if (uuids.length === 0) return state;
  const all = uuids.every((u) => state.marks.includes(u));
  const marks = all ? state.marks.filter((u) => !uuids.includes(u)) : [...state.marks, ...uuids.filter((u) => !state.marks.includes(u))];
  return setCursor({ ...state, marks }, c + 1);
}

function retry(state: State): State {
  if (state.screen === 'failed') {
    const uuids = failedTargets(state);
    if (uuids.length === 0) return flash(state, 'no failed job under the cursor');
    return act(state, { kind: 'retryFailed', uuids });
  }
  if (state.screen === 'batches' && state.batchesTab === 'batches') {
    const b = state.batchId !== null ? state.data.batch?.batch : state.data.batches?.[cursorOf(state)];
    if (!b) return flash(state, 'no batch under the cursor');
    if (b.failed === 0) return flash(state, 'this batch has no failed jobs');
    return act(state, { kind: 'retryBatch', id: b.id });
  }
  return flash(state, 'retry works on the Failed (3) and Batches (7) screens');
}

function forget(state: State): State {
  if (state.screen === 'failed') {
    const uuids = failedTargets(state);
    if (uuids.length === 0) return flash(state, 'no failed job under the cursor');
    return act(state, { kind: 'forgetFailed', uuids }, `Forget ${plural(uuids.length, 'failed job')}? This cannot be undone. y/N`);
  }
  if (state.screen === 'batches' && state.batchesTab === 'batches') {
    const b = state.batchId !== null ? state.data.batch?.batch : state.data.batches?.[cursorOf(state)];
    if (!b) return flash(state, 'no batch under the cursor');
    return act(state, { kind: 'cancelBatch', id: b.id }, `Cancel batch ${b.name ?? b.id.slice(0, 8)} (its jobs not started yet are cancelled)? y/N`);
  }
  return flash(state, 'forget works on the Failed (3) screen; on Batches (7) it cancels a batch');
}

function pause(state: State): State {
  if (state.screen === 'queues') {
    const q = state.data.queues?.[cursorOf(state)];
    if (!q) return flash(state, 'no queue under the cursor');
    return act(state, q.paused ? { kind: 'continueQueue', queue: q.queue } : { kind: 'pauseQueue', queue: q.queue });
  }
  if (state.screen === 'workers') {
    const paused = state.data.workers?.control.paused ?? false;
    return act(state, { kind: 'pauseDaemons', paused: !paused });
  }
  return flash(state, 'pause works on the Queues (4) and Workers (6) screens');
}

/** `c`: clear the queue under the cursor (Queues), or cancel the pending / delayed job under the cursor or open (Jobs); after y/N. */
function cancel(state: State): State {
  if (state.screen === 'queues') {
    const q = state.data.queues?.[cursorOf(state)];
    if (!q) return flash(state, 'no queue under the cursor');
    const n = q.pending + q.delayed;
    if (n === 0) return flash(state, `queue ${q.queue} has no pending or delayed jobs`);
    return act(state, { kind: 'clearQueue', queue: q.queue }, `Clear queue ${q.queue}: cancel its ${plural(n, 'pending or delayed job')}? y/N`);
  }
  if (state.screen === 'jobs') {
    const j = state.jobId !== null ? state.data.job ?? undefined : state.data.jobs?.[cursorOf(state)];
    if (!j) return flash(state, 'no job under the cursor');
    if (j.state !== 'pending' && j.state !== 'delayed') return flash(state, `job #${j.id} is ${j.state}: only pending and delayed jobs can be cancelled`);
    return act(state, { kind: 'cancelJob', id: j.id }, `Cancel job #${j.id} ${j.name} (the rest of its chain is cancelled)? y/N`);
  }
  return flash(state, 'cancel works on the Queues (4) and Jobs (2) screens');
}

function clampAll(state: State): State {
  const cursor = { ...state.cursor };
  const probe = (s: State) => {
    const id = listId(s);
    if (id !== null && cursor[id] !== undefined) cursor[id] = Math.max(0, Math.min(listLength(s) - 1, cursor[id]!));
  };
  probe(state);
  // Drop marks of failed jobs that are gone (retried or forgotten elsewhere).
  let marks = state.marks;
  if (state.data.failed && marks.length > 0) {
    const present = new Set(state.data.failed.map((f) => f.uuid));
    marks = marks.filter((u) => present.has(u));
  }
  let { failedGroup, failedUuid } = state;
  if (state.data.failed && failedUuid !== null && !state.data.failed.some((f) => f.uuid === failedUuid)) failedUuid = null;
  if (state.data.failed && failedGroup !== null && failedUuid === null && groupRows(state).length === 0) failedGroup = null;
  return { ...state, cursor, marks, failedGroup, failedUuid };
}

/** The pure reducer: the next state for an action. */
export function reduce(state: State, action: Action): State {
  switch (action.type) {
    case 'screen':
      if (state.screen === action.screen) return { ...state, help: false };
      return { ...state, screen: action.screen, help: false, marks: [], scroll: 0 };
    case 'move':
      return setCursor(state, (listId(state) === null ? state.scroll : cursorOf(state)) + action.delta);
    case 'page':
      return setCursor(state, (listId(state) === null ? state.scroll : cursorOf(state)) + action.dir * pageSize(state));
    case 'top':
      return setCursor(state, 0);
    case 'bottom':
      return setCursor(state, listId(state) === null ? detailLines(state).length : listLength(state) - 1);
    case 'open':
      return open(state);
    case 'back':
      return back(state);
    case 'quit':
      return { ...state, quit: true };
    case 'tab': {
      const turn = <T>(list: readonly T[], v: T): T => list[(list.indexOf(v) + action.dir + list.length) % list.length]!;
      if (state.screen === 'jobs' && state.jobId === null) return { ...state, jobsTab: turn(JOBS_TABS, state.jobsTab) };
      if (state.screen === 'metrics') return { ...state, metricsWindow: turn(METRICS_WINDOWS, state.metricsWindow) };
      if (state.screen === 'batches' && state.batchId === null) return { ...state, batchesTab: turn(BATCHES_TABS, state.batchesTab) };
      return state;
    }
    case 'filterStart':
      if (state.screen !== 'jobs') return flash(state, 'filter works on the Jobs (2) screen');
      return { ...state, screen: 'jobs', jobId: null, mode: 'filter', filterDraft: state.jobsFilter };
    case 'filterInput':
      return { ...state, filterDraft: (state.filterDraft + action.text).slice(0, 200) };
    case 'filterBackspace':
      return { ...state, filterDraft: state.filterDraft.slice(0, -1) };
    case 'filterApply':
      return { ...state, mode: 'normal', jobsFilter: state.filterDraft.trim(), cursor: { ...state.cursor, [`jobs:${state.jobsTab}`]: 0 } };
    case 'filterCancel':
      return { ...state, mode: 'normal', filterDraft: '' };
    case 'mark':
      return mark(state);
    case 'retry':
      return retry(state);
    case 'forget':
      return forget(state);
    case 'pause':
      return pause(state);
    case 'cancel':
      return cancel(state);
    case 'stop':
      if (state.screen !== 'workers') return flash(state, 'stop works on the Workers (6) screen');
      return act(state, { kind: 'stopDaemons' }, 'Stop every running daemon (graceful: running jobs finish)? y/N');
    case 'confirmYes':
      return state.confirm ? { ...state, mode: 'normal', command: state.confirm.command, confirm: null } : { ...state, mode: 'normal' };
    case 'confirmNo':
      return { ...state, mode: 'normal', confirm: null, flash: { text: 'cancelled', at: state.now, error: false } };
    case 'freeze':
      return { ...flash(state, state.frozen ? 'updates resumed' : 'updates frozen (z to resume, Ctrl+R refreshes once)'), frozen: !state.frozen };
    case 'refresh':
      return { ...state, refreshSeq: state.refreshSeq + 1 };
    case 'help':
      return { ...state, help: !state.help };
    case 'tick': {
      const expired = state.flash !== null && action.now - state.flash.at >= FLASH_MS;
      const next = { ...state, now: action.now, flash: expired ? null : state.flash };
      return state.frozen ? next : { ...next, refreshSeq: state.refreshSeq + 1 };
    }
    case 'data':
      return clampAll({ ...state, now: action.now, data: { ...state.data, ...action.data }, error: null });
    case 'fetchError':
      return { ...state, now: action.now, error: action.message };
    case 'commandStarted':
      return { ...state, command: null };
    case 'commandDone':
      return {
        ...state, now: action.now, command: null, marks: action.error ? state.marks : [], refreshSeq: state.refreshSeq + 1,
        flash: { text: action.message, at: action.now, error: action.error ?? false },
      };
    case 'resize':
      return { ...state, rows: Math.max(5, action.rows) };
  }
}
