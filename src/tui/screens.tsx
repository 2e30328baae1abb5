/** The seven screens, the header, the footer and the help overlay. Pure: they draw a State. */
import { Box } from 'ink';
import { STALE_MS } from '../queue/defaults.js';
import { METRICS_WINDOW_MS, type Job, type SupervisorState } from '../queue/index.js';
import { safeLine } from '../util/terminal.js';
import { ago, bar, blockChart, count, duration, rate, sparkline, truncate, type Column } from './format.js';
import { footerHints, helpSections } from './keymap.js';
import {
  BATCHES_TABS, JOBS_TABS, JOBS_TAB_TITLES, METRICS_WINDOWS, SCREENS, SCREEN_TITLES, cursorOf, detailHeight, detailLines, groupFailed,
  groupRows, type State,
} from './state.js';
import { Line, Span, Table, type Tone } from './ui.js';
import type { JobEvent, OverviewData } from './types.js';

export interface ViewProps {
  state: State;
  width: number;
}

function clock(at: number): string {
  return new Date(at).toISOString().slice(11, 19);
}

/** Tabs drawn as `[pending]  delayed  running`. */
function Tabs({ items, current, extra }: { items: readonly string[]; current: string; extra?: string }) {
  return (
    <Line>
      {items.map((t) => (t === current ? `[${t}]` : ` ${t} `)).join(' ')}
      {extra ? `   ${extra}` : ''}
    </Line>
  );
}

const STATUS_TONE: Record<string, Tone> = { active: 'good', paused: 'warn', inactive: 'bad' };

/** Two lines: the screen list, then the daemons' status and the refresh state. */
export function Header({ state, width, once }: ViewProps & { once?: boolean }) {
  const h = state.data.header;
  const screens = SCREENS.map((s, i) => (s === state.screen ? `[${i + 1} ${SCREEN_TITLES[s]}]` : ` ${i + 1} ${SCREEN_TITLES[s]} `)).join('');
  const flags = once ? '' : [state.frozen ? 'FROZEN' : '', state.readonly ? 'read-only' : ''].filter(Boolean).join(' · ');
  const status = `${h ? `${h.status.toUpperCase()} · ${h.daemons} daemon${h.daemons === 1 ? '' : 's'} · ${h.busy}/${h.slots} busy` : '…'} · ${clock(state.now)} UTC`;
  return (
    <Box flexDirection="column">
      <Line bold>{truncate(once ? 'gitroast monitor · overview' : `gitroast ${screens}`, width)}</Line>
      <Line>
        <Span tone={h ? STATUS_TONE[h.status] : 'dim'} bold>{truncate(status, width).slice(0, h ? h.status.length : 1)}</Span>
        {truncate(status, width).slice(h ? h.status.length : 1)}
        {flags ? <Span tone="warn">{truncate(`  · ${flags}`, Math.max(0, width - status.length))}</Span> : null}
      </Line>
    </Box>
  );
}

/** The message line (confirmation, filter prompt, flash, error) and the key hints from the keymap. */
function Footer({ state, width }: ViewProps) {
  let message: { text: string; tone: Tone } | null = null;
  if (state.mode === 'confirm' && state.confirm) message = { text: state.confirm.prompt, tone: 'warn' };
  else if (state.mode === 'filter') message = { text: `/ ${state.filterDraft}█`, tone: 'accent' };
  else if (state.error) message = { text: `cannot read the database: ${safeLine(state.error)}`, tone: 'bad' };
  else if (state.flash) message = { text: safeLine(state.flash.text), tone: state.flash.error ? 'bad' : 'good' };
  const hints = footerHints(state).map((h) => `${h.key} ${h.label}`).join('  ');
  return (
    <Box flexDirection="column">
      <Line tone={message?.tone}>{message ? truncate(message.text, width) : ' '}</Line>
      <Line tone="dim">{truncate(hints, width)}</Line>
    </Box>
  );
}

/** Pack `label value` items into as few lines as fit `width`. */
function pack(items: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const item of items) {
    if (cur && cur.length + 4 + item.length > width) {
      lines.push(cur);
      cur = item;
    } else cur = cur ? `${cur}    ${item}` : item;
  }
  if (cur) lines.push(cur);
  return lines;
}

const EVENT_TONE: Record<JobEvent['event'], Tone> = { enqueued: undefined, started: 'accent', completed: 'good', failed: 'bad' };

const EVENT_COLUMNS: Column[] = [
  { header: 'TIME', min: 8, priority: 1 },
  { header: 'EVENT', min: 9, priority: 0 },
  { header: 'JOB', min: 4, align: 'right', priority: 2 },
  { header: 'QUEUE', min: 5, max: 16, priority: 3 },
  { header: 'NAME', min: 8, max: 40, priority: 0 },
  { header: 'AGO', min: 8, align: 'right', priority: 4 },
];

const QUEUE_COLUMNS: Column[] = [
  { header: 'QUEUE', min: 8, max: 32, priority: 0 },
  { header: 'PENDING', min: 7, align: 'right', priority: 0 },
  { header: 'DELAYED', min: 7, align: 'right', priority: 2 },
  { header: 'RUNNING', min: 7, align: 'right', priority: 1 },
  { header: 'FAILED', min: 6, align: 'right', priority: 1 },
  { header: 'OLDEST WAIT', min: 11, align: 'right', priority: 2 },
  { header: 'PAUSED', min: 6, priority: 1 },
];

/** Screen 1: status, rates, the sparkline, the queue table and the live tail. */
export function Overview({ data, width, height, now }: { data: OverviewData | undefined; width: number; height: number; now: number }) {
  if (!data) return <Line tone="dim">loading…</Line>;
  const items = [
    `Jobs/min ${count(data.jobsPerMinute)}`,
    `Past hour ${count(data.jobsPastHour)}`,
    `Failed 7d ${count(data.failedPast7d)}`,
    `Max throughput ${data.maxThroughput ? `${safeLine(data.maxThroughput.queue)} ${rate(data.maxThroughput.perMinute)}/min` : '-'}`,
    `Max wait ${data.longestWait ? `${safeLine(data.longestWait.queue)} ${duration(data.longestWait.ms)}` : '-'}`,
    `Max runtime ${data.longestRuntime ? `${safeLine(data.longestRuntime.name)} #${data.longestRuntime.id} ${duration(data.longestRuntime.ms)}` : '-'}`,
  ];
  const stats = pack(items, width);
  const peak = Math.max(0, ...data.throughput);
  const label = 'Throughput 60m ';
  const suffix = ` peak ${count(peak)}/min`;
  const sparkWidth = Math.max(0, Math.min(60, width - label.length - suffix.length));
  const queueRows = data.queues.map((q) => [
    q.queue, count(q.pending), count(q.delayed), count(q.reserved), count(q.failed),
    q.pending ? duration(q.oldestWaitMs) : '-', q.paused ? 'paused' : '-',
  ]);
  // stats, sparkline, blank, queue table (+ header), blank, title, events table header.
  const used = stats.length + 1 + 1 + (queueRows.length + 1) + 1 + 1 + 1;
  const tailHeight = Math.max(0, height - used);
  const events = data.events.slice(0, tailHeight);
  const eventRows = events.map((e) => [clock(e.at), e.event, `#${e.id}`, e.queue, e.name, ago(e.at, now)]);
  return (
    <Box flexDirection="column">
      {stats.map((l, i) => <Line key={i}>{l}</Line>)}
      <Line>
        {label}
        {sparkWidth >= 10 ? <Span tone="accent">{sparkline(data.throughput, sparkWidth)}</Span> : null}
        {suffix}
      </Line>
      <Line> </Line>
      <Table columns={QUEUE_COLUMNS} rows={queueRows} width={width} height={queueRows.length + 1} tones={data.queues.map((q) => (q.paused ? 'warn' : undefined))} />
      <Line> </Line>
      {tailHeight > 0 || data.events.length === 0 ? <Line bold>Latest job events</Line> : null}
      {data.events.length === 0 ? <Line tone="dim">no jobs yet</Line> : tailHeight > 0 ? (
        <Table columns={EVENT_COLUMNS} rows={eventRows} width={width} height={eventRows.length + 1} tones={events.map((e) => EVENT_TONE[e.event])} />
      ) : null}
    </Box>
  );
}

function jobColumns(tab: State['jobsTab']): Column[] {
  const id: Column = { header: 'ID', min: 4, align: 'right', priority: 0 };
  const queue: Column = { header: 'QUEUE', min: 5, max: 16, priority: 2 };
  const name: Column = { header: 'NAME', min: 8, max: 32, priority: 0 };
  const attempts: Column = { header: 'TRIES', min: 5, align: 'right', priority: 3 };
  const tags: Column = { header: 'TAGS', min: 6, max: 30, priority: 5 };
  switch (tab) {
    case 'pending':
      return [id, queue, name, { header: 'PRIO', min: 4, align: 'right', priority: 4 }, attempts, { header: 'WAITING', min: 8, align: 'right', priority: 1 }, tags, { header: 'PAYLOAD', min: 10, priority: 6, flex: true }];
    case 'delayed':
      return [id, queue, name, { header: 'DUE IN', min: 8, align: 'right', priority: 1 }, attempts, tags, { header: 'LAST ERROR', min: 10, priority: 5, flex: true }];
    case 'reserved':
      return [id, queue, name, { header: 'RUNNING', min: 8, align: 'right', priority: 1 }, attempts, { header: 'WORKER', min: 8, max: 16, priority: 4 }, { header: 'LEASE', min: 8, align: 'right', priority: 5 }, tags];
    case 'completed':
      return [id, queue, name, { header: 'FINISHED', min: 9, align: 'right', priority: 1 }, { header: 'RUNTIME', min: 7, align: 'right', priority: 1 }, { header: 'WAIT', min: 6, align: 'right', priority: 4 }, attempts, tags];
    case 'failed':
      return [id, queue, name, { header: 'FAILED', min: 9, align: 'right', priority: 1 }, attempts, { header: 'ERROR', min: 10, priority: 2, flex: true }];
  }
}

function lastError(j: Job): string {
  return j.errors[j.errors.length - 1]?.message ?? '';
}

function jobRow(tab: State['jobsTab'], j: Job, now: number): unknown[] {
  const tries = `${j.attempts}/${j.maxAttempts}`;
  const tags = j.tags.join(',');
  switch (tab) {
    case 'pending':
      return [j.id, j.queue, j.name, j.priority, tries, duration(now - j.availableAt), tags, JSON.stringify(j.payload)];
    case 'delayed':
      return [j.id, j.queue, j.name, duration(j.availableAt - now), tries, tags, lastError(j)];
    case 'reserved':
      return [j.id, j.queue, j.name, duration(now - (j.reservedAt ?? now)), tries, j.reservedBy ?? '-', j.leaseExpiresAt ? duration(j.leaseExpiresAt - now) : '-', tags];
    case 'completed':
      return [j.id, j.queue, j.name, ago(j.finishedAt, now), j.finishedAt && j.reservedAt ? duration(j.finishedAt - j.reservedAt) : '-', j.reservedAt ? duration(j.reservedAt - j.availableAt) : '-', tries, tags];
    case 'failed':
      return [j.id, j.queue, j.name, ago(j.finishedAt, now), tries, lastError(j)];
  }
}

/** A scrollable block of detail lines. */
function Detail({ state, width }: ViewProps) {
  const lines = detailLines(state);
  const h = detailHeight(state);
  const start = Math.max(0, Math.min(state.scroll, lines.length - h));
  const shown = lines.slice(start, start + h);
  return (
    <Box flexDirection="column">
      {shown.map((l, i) => <Line key={start + i} bold={start + i === 0}>{truncate(l, width)}</Line>)}
      {lines.length > h ? <Line tone="dim">{`lines ${start + 1}-${start + shown.length} of ${lines.length} (j/k, PgUp/PgDn)`}</Line> : null}
    </Box>
  );
}

/** Screen 2: jobs by state with a filter; Enter opens a job. */
function Jobs({ state, width, height }: ViewProps & { height: number }) {
  if (state.jobId !== null) return <Detail state={state} width={width} />;
  const tab = state.jobsTab;
  const jobs = state.data.jobs ?? [];
  const filter = state.jobsFilter ? `filter: ${safeLine(state.jobsFilter)}` : '/ to filter';
  return (
    <Box flexDirection="column">
      <Tabs items={JOBS_TABS.map((t) => JOBS_TAB_TITLES[t])} current={JOBS_TAB_TITLES[tab]} extra={`${count(jobs.length)}${jobs.length >= 500 ? '+' : ''} shown · ${filter}`} />
      <Table
        columns={jobColumns(tab)} rows={jobs.map((j) => jobRow(tab, j, state.now))} width={width} height={height - 1} cursor={cursorOf(state)}
        empty={state.data.jobs ? `no ${JOBS_TAB_TITLES[tab]} jobs${state.jobsFilter ? ' match the filter' : ''}` : 'loading…'}
      />
    </Box>
  );
}

const GROUP_COLUMNS: Column[] = [
  { header: '✓', min: 1, priority: 0 },
  { header: 'COUNT', min: 5, align: 'right', priority: 0 },
  { header: 'LAST SEEN', min: 9, align: 'right', priority: 1 },
  { header: 'FIRST SEEN', min: 10, align: 'right', priority: 3 },
  { header: 'JOBS', min: 6, max: 24, priority: 2 },
  { header: 'QUEUES', min: 6, max: 16, priority: 4 },
  { header: 'ERROR', min: 12, priority: 0, flex: true },
];

const FAILED_COLUMNS: Column[] = [
  { header: '✓', min: 1, priority: 0 },
  { header: 'UUID', min: 8, max: 8, priority: 2 },
  { header: 'QUEUE', min: 5, max: 16, priority: 3 },
  { header: 'NAME', min: 8, max: 32, priority: 0 },
  { header: 'TRIES', min: 5, align: 'right', priority: 4 },
  { header: 'FAILED', min: 9, align: 'right', priority: 1 },
  { header: 'ERROR', min: 12, priority: 0, flex: true },
];

/** Screen 3: failed jobs grouped by error fingerprint; Enter opens a group, then a job. */
function Failed({ state, width, height }: ViewProps & { height: number }) {
  if (state.failedUuid !== null) return <Detail state={state} width={width} />;
  const failed = state.data.failed ?? [];
  const marks = new Set(state.marks);
  const marked = state.marks.length ? ` · ${state.marks.length} marked` : '';
  if (state.failedGroup !== null) {
    const rows = groupRows(state);
    return (
      <Box flexDirection="column">
        <Line>{truncate(`Group: ${state.failedGroup}  (${rows.length} failed job${rows.length === 1 ? '' : 's'}${marked})`, width)}</Line>
        <Table
          columns={FAILED_COLUMNS} width={width} height={height - 1} cursor={cursorOf(state)}
          rows={rows.map((r) => [marks.has(r.uuid) ? '*' : ' ', r.uuid.slice(0, 8), r.queue, r.name, r.attempts, ago(r.failedAt, state.now), r.error])}
        />
      </Box>
    );
  }
  const groups = groupFailed(failed);
  return (
    <Box flexDirection="column">
      <Line>{`${count(failed.length)}${failed.length >= 1000 ? '+' : ''} failed job${failed.length === 1 ? '' : 's'} in ${groups.length} group${groups.length === 1 ? '' : 's'}${marked}`}</Line>
      <Table
        columns={GROUP_COLUMNS} width={width} height={height - 1} cursor={cursorOf(state)}
        empty={state.data.failed ? 'no failed jobs' : 'loading…'}
        rows={groups.map((g) => [
          g.uuids.every((u) => marks.has(u)) ? '*' : g.uuids.some((u) => marks.has(u)) ? '~' : ' ',
          g.count, ago(g.lastSeen, state.now), ago(g.firstSeen, state.now), g.names.join(','), g.queues.join(','), g.message.split('\n')[0],
        ])}
      />
    </Box>
  );
}

const QUEUES_COLUMNS: Column[] = [
  { header: 'QUEUE', min: 8, max: 32, priority: 0 },
  { header: 'STATE', min: 6, priority: 0 },
  { header: 'PENDING', min: 7, align: 'right', priority: 0 },
  { header: 'DELAYED', min: 7, align: 'right', priority: 3 },
  { header: 'RUNNING', min: 7, align: 'right', priority: 2 },
  { header: 'OLDEST WAIT', min: 11, align: 'right', priority: 2 },
  { header: 'JOBS/MIN', min: 8, align: 'right', priority: 1 },
  { header: 'DONE 1H', min: 7, align: 'right', priority: 4 },
  { header: 'FAILED 1H', min: 9, align: 'right', priority: 4 },
  { header: 'ERROR RATE', min: 10, align: 'right', priority: 1 },
  { header: 'FAILED', min: 6, align: 'right', priority: 3 },
];

/** Screen 4: queues with sizes, throughput and error rate; p pauses / continues. */
function Queues({ state, width, height }: ViewProps & { height: number }) {
  const queues = state.data.queues ?? [];
  return (
    <Box flexDirection="column">
      <Line>Queues (past hour for rates) · Enter lists a queue's pending jobs</Line>
      <Table
        columns={QUEUES_COLUMNS} width={width} height={height - 1} cursor={cursorOf(state)} empty="loading…"
        tones={queues.map((q) => (q.paused ? 'warn' : undefined))}
        rows={queues.map((q) => [
          q.queue, q.paused ? 'paused' : 'active', count(q.pending), count(q.delayed), count(q.reserved), q.pending ? duration(q.oldestWaitMs) : '-',
          rate(q.perMinute), count(q.processed), count(q.failedHour), q.errorRate === null ? '-' : `${(q.errorRate * 100).toFixed(1)}%`, count(q.failed),
        ])}
      />
    </Box>
  );
}

const METRIC_COLUMNS: Column[] = [
  { header: 'KIND', min: 5, priority: 2 },
  { header: 'NAME', min: 8, max: 32, priority: 0 },
  { header: 'DONE', min: 5, align: 'right', priority: 0 },
  { header: 'FAILED', min: 6, align: 'right', priority: 1 },
  { header: 'JOBS/MIN', min: 8, align: 'right', priority: 1 },
  { header: 'RT AVG', min: 7, align: 'right', priority: 3 },
  { header: 'RT P50', min: 7, align: 'right', priority: 2 },
  { header: 'RT P95', min: 7, align: 'right', priority: 1 },
  { header: 'WAIT AVG', min: 8, align: 'right', priority: 4 },
  { header: 'WAIT P95', min: 8, align: 'right', priority: 3 },
];

/** Window labels of a chart's x axis: its start and its end. */
const CHART_SPAN: Record<State['metricsWindow'], string> = { '1h': '60 min ago', '24h': '24 h ago', '7d': '7 days ago' };

/** A metric's chart: throughput (jobs/min) and average runtime per bucket, as block charts over the window. */
function Chart({ state, width, height }: ViewProps & { height: number }) {
  const key = state.chartKey!;
  const points = state.data.chart;
  const chartHeight = Math.max(2, Math.min(8, Math.floor((height - 6) / 2)));
  const title = `${key.kind === 'queue' ? 'Queue' : 'Job'} ${safeLine(key.key)}`;
  if (!points) return <Box flexDirection="column"><Tabs items={METRICS_WINDOWS} current={state.metricsWindow} extra={title} /><Line tone="dim">loading…</Line></Box>;
  const perMin = points.map((p) => p.perMinute);
  const runtime = points.map((p) => p.runtimeAvg ?? 0);
  const cols = Math.max(10, Math.min(points.length, width - 2));
  const bucket = duration((METRICS_WINDOW_MS[state.metricsWindow]) / points.length);
  const axis = `${CHART_SPAN[state.metricsWindow]}`.padEnd(Math.max(0, cols - 3)) + 'now';
  const peak = Math.max(0, ...perMin);
  const rtPeak = Math.max(0, ...runtime);
  const total = perMin.reduce((sum, v) => sum + v, 0) * (METRICS_WINDOW_MS[state.metricsWindow] / points.length / 60_000);
  const source = state.metricsWindow === '1h' ? 'from finished jobs' : 'from metrics snapshots';
  return (
    <Box flexDirection="column">
      <Tabs items={METRICS_WINDOWS} current={state.metricsWindow} extra={truncate(`${title} · one column per ${bucket} · ${source}`, Math.max(0, width - 20))} />
      <Line bold>{truncate(`Throughput: ${count(Math.round(total))} jobs, peak ${rate(peak)}/min`, width)}</Line>
      {blockChart(perMin, cols, chartHeight).map((l, i) => <Line key={`t${i}`} tone="accent">{` ${l}`}</Line>)}
      <Line tone="dim">{truncate(` ${axis}`, width)}</Line>
      <Line bold>{truncate(`Runtime (average): peak ${rtPeak > 0 ? duration(rtPeak) : '-'}`, width)}</Line>
      {blockChart(runtime, cols, chartHeight).map((l, i) => <Line key={`r${i}`} tone="good">{` ${l}`}</Line>)}
      <Line tone="dim">{truncate(` ${axis}`, width)}</Line>
    </Box>
  );
}

/** Screen 5: throughput, runtime and wait per queue and per job name, over 1 h / 24 h / 7 d; Enter opens a row's chart. */
function Metrics({ state, width, height }: ViewProps & { height: number }) {
  if (state.chartKey !== null) return <Chart state={state} width={width} height={height} />;
  const rows = state.data.metrics ?? [];
  const note = state.metricsWindow === '1h' ? 'from finished jobs' : 'from 5-minute metrics snapshots (p95 approximate, p50 not kept)';
  const ms = (v: number | null) => (v === null ? '-' : duration(v));
  return (
    <Box flexDirection="column">
      <Tabs items={METRICS_WINDOWS} current={state.metricsWindow} extra={note} />
      <Table
        columns={METRIC_COLUMNS} width={width} height={height - 1} cursor={cursorOf(state)}
        empty={state.data.metrics ? `no jobs finished in the past ${state.metricsWindow}${state.metricsWindow === '1h' ? '' : ' (snapshots are written by the daemon every 5 minutes)'}` : 'loading…'}
        rows={rows.map((m) => [m.kind, m.key, count(m.processed), count(m.failed), rate(m.perMinute), ms(m.runtimeAvg), ms(m.runtimeP50), ms(m.runtimeP95), ms(m.waitAvg), ms(m.waitP95)])}
      />
    </Box>
  );
}

const WORKER_COLUMNS: Column[] = [
  { header: 'ID', min: 14, max: 16, priority: 1 },
  { header: 'PID', min: 5, align: 'right', priority: 0 },
  { header: 'HOST', min: 6, max: 24, priority: 2 },
  { header: 'STATUS', min: 7, priority: 0 },
  { header: 'BUSY', min: 5, align: 'right', priority: 0 },
  { header: 'UPTIME', min: 7, align: 'right', priority: 1 },
  { header: 'HEARTBEAT', min: 9, align: 'right', priority: 0 },
  { header: 'QUEUES', min: 8, max: 30, priority: 3 },
  { header: 'VERSION', min: 7, max: 12, priority: 4 },
];

/** A supervisor as one line: name, balance, status, busy/max, and busy/cap per queue. */
function supervisorLine(daemon: string, s: SupervisorState): string {
  const balance = s.balance === false ? 'strict' : s.balance === 'auto' ? `auto ${s.autoScalingStrategy} ±${s.balanceMaxShift}/${s.balanceCooldown}s` : 'simple';
  const slots = s.queues.map((q) => `${q} ${s.busyByQueue[q] ?? 0}/${s.slots[q] ?? 0}`).join('  ');
  return `  ${daemon}  ${s.name}  ${balance}  ${s.paused ? 'PAUSED' : 'running'}  ${s.busy}/${s.maxProcesses} busy   ${slots}`;
}

/**
 * Screen 6: daemons with pid, host, uptime, heartbeat age and busy slots; under them each
 * daemon's supervisors (balance, busy/cap per queue) and the throttles holding jobs back;
 * p pauses / continues, s stops.
 */
function Workers({ state, width, height }: ViewProps & { height: number }) {
  const w = state.data.workers;
  const now = state.now;
  const aliveMs = w?.aliveMs ?? STALE_MS;
  const stale = (hb: number) => now - hb > aliveMs;
  const control = w
    ? `Daemons ${w.control.paused ? 'PAUSED (not claiming)' : 'claiming'}${w.control.stopRequestedAt ? ` · stop requested ${ago(w.control.stopRequestedAt, now)}` : ''}`
      + (w.control.pausedSupervisors.length > 0 ? ` · paused supervisors: ${w.control.pausedSupervisors.join(', ')}` : '')
    : 'loading…';
  const sup = (w?.workers ?? []).filter((x) => !stale(x.heartbeatAt)).flatMap((x) => x.supervisors.map((s) => ({ text: supervisorLine(x.id, s), paused: s.paused })));
  const throttled = (w?.throttles ?? []).filter((t) => t.throttled);
  const holds = w?.holds ?? [];
  const notes = w?.notes ?? [];
  const extra = (sup.length > 0 ? sup.length + 1 : 0) + (throttled.length > 0 ? throttled.length + 1 : 0) + (holds.length > 0 ? holds.length + 1 : 0) + notes.length;
  const tableHeight = Math.max(3, height - 1 - extra);
  return (
    <Box flexDirection="column">
      <Line tone={w?.control.paused ? 'warn' : undefined}>{control}</Line>
      <Table
        columns={WORKER_COLUMNS} width={width} height={tableHeight} cursor={cursorOf(state)}
        empty={w ? 'no daemons registered (start one with `gitroast daemon`)' : 'loading…'}
        tones={(w?.workers ?? []).map((x) => (stale(x.heartbeatAt) ? 'bad' : x.status === 'paused' ? 'warn' : undefined))}
        rows={(w?.workers ?? []).map((x) => [
          x.id, x.pid, x.hostname, stale(x.heartbeatAt) ? 'stale' : x.status, `${x.busy}/${x.concurrency}`, duration(now - x.startedAt),
          ago(x.heartbeatAt, now), x.queues.join(','), x.version,
        ])}
      />
      {sup.length > 0 ? <Line bold>Supervisors (busy/slots per queue)</Line> : null}
      {sup.map((l, i) => <Line key={`s${i}`} tone={l.paused ? 'warn' : undefined}>{truncate(l.text, width)}</Line>)}
      {throttled.length > 0 ? <Line bold>Throttles (jobs wait as pending, no attempt spent)</Line> : null}
      {throttled.map((t) => (
        <Line key={`t${t.kind}${t.name}`} tone="warn">
          {truncate(`  ${t.kind} ${t.name}  ${t.used}/${t.max} per ${t.perSeconds}s  ${t.waiting} waiting  opens in ${duration(Math.max(0, t.windowEndsAt - now))}`, width)}
        </Line>
      ))}
      {holds.length > 0 ? <Line bold>Held (jobs wait as pending until the hold ends)</Line> : null}
      {holds.map((h) => (
        <Line key={`h${h.name}`} tone="warn">{truncate(`  ${h.name}  ${h.waiting} waiting  ends in ${duration(Math.max(0, h.until - now))}  ${h.reason}`, width)}</Line>
      ))}
      {notes.map((n, i) => <Line key={`n${i}`}>{truncate(n, width)}</Line>)}
    </Box>
  );
}

const BATCH_COLUMNS: Column[] = [
  { header: 'BATCH', min: 8, max: 24, priority: 0 },
  { header: 'PROGRESS', min: 12, max: 22, priority: 1 },
  { header: 'DONE', min: 9, align: 'right', priority: 0 },
  { header: 'FAILED', min: 6, align: 'right', priority: 0 },
  { header: 'PENDING', min: 7, align: 'right', priority: 2 },
  { header: 'STATE', min: 9, priority: 1 },
  { header: 'CREATED', min: 9, align: 'right', priority: 3 },
  { header: 'ID', min: 8, max: 36, priority: 4 },
];

const ANALYSIS_COLUMNS: Column[] = [
  { header: 'ID', min: 8, max: 8, priority: 3 },
  { header: 'USERNAME', min: 8, max: 39, priority: 0 },
  { header: 'STATUS', min: 10, priority: 0 },
  { header: 'STAGE', min: 8, priority: 1 },
  { header: 'SCORE', min: 5, align: 'right', priority: 1 },
  { header: 'CREATED', min: 9, align: 'right', priority: 2 },
  { header: 'UPDATED', min: 9, align: 'right', priority: 4 },
  { header: 'ERROR', min: 10, priority: 5, flex: true },
];

/** Screen 7: batches with progress bars (r retries a batch's failed jobs, d cancels it), and analyses. */
function Batches({ state, width, height }: ViewProps & { height: number }) {
  const now = state.now;
  if (state.batchId !== null) return <Detail state={state} width={width} />;
  if (state.batchesTab === 'analyses') {
    const a = state.data.analyses;
    return (
      <Box flexDirection="column">
        <Tabs items={BATCHES_TABS} current="analyses" />
        {a === null ? (
          <Line tone="dim">no analyses in this database</Line>
        ) : (
          <Table
            columns={ANALYSIS_COLUMNS} width={width} height={height - 1} cursor={cursorOf(state)} empty={a ? 'no analyses yet' : 'loading…'}
            tones={(a ?? []).map((r) => (r.status === 'failed' ? 'bad' : r.status === 'completed' ? 'good' : undefined))}
            rows={(a ?? []).map((r) => [r.id.slice(0, 8), r.username, r.status, r.stage, r.overall ?? '-', ago(r.createdAt, now), ago(r.updatedAt, now), r.error ?? ''])}
          />
        )}
      </Box>
    );
  }
  const batches = state.data.batches ?? [];
  return (
    <Box flexDirection="column">
      <Tabs items={BATCHES_TABS} current="batches" />
      <Table
        columns={BATCH_COLUMNS} width={width} height={height - 1} cursor={cursorOf(state)} empty={state.data.batches ? 'no batches yet' : 'loading…'}
        tones={batches.map((b) => (b.cancelledAt ? 'dim' : b.failed > 0 ? 'bad' : b.finishedAt ? 'good' : undefined))}
        rows={batches.map((b) => [
          b.name ?? b.id.slice(0, 8), bar(b.processed, b.failed, b.total, 20), `${count(b.processed + b.failed)}/${count(b.total)}`, count(b.failed), count(b.pending),
          b.cancelledAt ? 'cancelled' : b.finishedAt ? 'finished' : 'running', ago(b.createdAt, now), b.id,
        ])}
      />
    </Box>
  );
}

const TAG_COLUMNS: Column[] = [
  { header: 'TAG', min: 8, max: 40, priority: 0 },
  { header: 'PENDING', min: 7, align: 'right', priority: 1 },
  { header: 'RUNNING', min: 7, align: 'right', priority: 2 },
  { header: 'COMPLETED', min: 9, align: 'right', priority: 0 },
  { header: 'FAILED', min: 6, align: 'right', priority: 0 },
  { header: 'LATEST JOB', min: 10, align: 'right', priority: 3 },
  { header: 'SINCE', min: 9, align: 'right', priority: 4 },
];

/** Screen 8: the monitored tags with their counts; Enter opens a tag's recent and failed jobs. */
function Tags({ state, width, height }: ViewProps & { height: number }) {
  if (state.tag !== null) return <Detail state={state} width={width} />;
  const tags = state.data.tags;
  const now = state.now;
  return (
    <Box flexDirection="column">
      <Line>Monitored tags (their jobs are kept past trimming) · `gitroast tags monitor TAG` adds one</Line>
      {tags === null ? <Line tone="dim">this source has no tags</Line> : (
        <Table
          columns={TAG_COLUMNS} width={width} height={height - 1} cursor={cursorOf(state)} empty={tags ? 'no monitored tags (run `gitroast tags monitor TAG`)' : 'loading…'}
          tones={(tags ?? []).map((t) => (t.counts.failed > 0 ? 'bad' : undefined))}
          rows={(tags ?? []).map((t) => {
            const latest = t.recent[0];
            return [t.tag, count(t.counts.pending + t.counts.delayed), count(t.counts.reserved), count(t.counts.completed), count(t.counts.failed),
              latest ? ago(latest.finishedAt ?? latest.reservedAt ?? latest.createdAt, now) : '-', ago(t.since, now)];
          })}
        />
      )}
    </Box>
  );
}

/** The `?` overlay, generated from the keymap registry; laid out in columns when taller than the screen. */
function Help({ state, width, height }: ViewProps & { height: number }) {
  const lines: { text: string; title: boolean }[] = [];
  for (const s of helpSections(state.readonly)) {
    if (lines.length) lines.push({ text: '', title: false });
    lines.push({ text: s.title, title: true });
    for (const r of s.rows) lines.push({ text: `  ${r.key.padEnd(8)} ${r.label}`, title: false });
  }
  const rows = Math.max(1, height);
  const columns: (typeof lines)[] = [];
  for (let i = 0; i < lines.length; i += rows) columns.push(lines.slice(i, i + rows));
  const colWidth = Math.max(10, Math.floor(width / columns.length) - 1);
  return (
    <Box flexDirection="row">
      {columns.map((col, c) => (
        <Box key={c} flexDirection="column" width={colWidth} marginRight={1} flexShrink={0}>
          {col.map((l, i) => <Line key={i} bold={l.title} tone={l.title ? 'accent' : undefined}>{truncate(l.text, colWidth) || ' '}</Line>)}
        </Box>
      ))}
    </Box>
  );
}

/** The whole frame for a state: header, the current screen (or help), footer. */
export function Frame({ state, width }: ViewProps) {
  const height = Math.max(3, state.rows - 5);
  let body;
  if (state.help) body = <Help state={state} width={width} height={height} />;
  else {
    switch (state.screen) {
      case 'overview':
        body = <Overview data={state.data.overview} width={width} height={height} now={state.now} />;
        break;
      case 'jobs':
        body = <Jobs state={state} width={width} height={height} />;
        break;
      case 'failed':
        body = <Failed state={state} width={width} height={height} />;
        break;
      case 'queues':
        body = <Queues state={state} width={width} height={height} />;
        break;
      case 'metrics':
        body = <Metrics state={state} width={width} height={height} />;
        break;
      case 'workers':
        body = <Workers state={state} width={width} height={height} />;
        break;
      case 'batches':
        body = <Batches state={state} width={width} height={height} />;
        break;
      case 'tags':
        body = <Tags state={state} width={width} height={height} />;
        break;
    }
  }
  return (
    <Box flexDirection="column" width={width}>
      <Header state={state} width={width} />
      <Box flexDirection="column" height={height} flexShrink={0} overflow="hidden">
        {body}
      </Box>
      <Footer state={state} width={width} />
    </Box>
  );
}
