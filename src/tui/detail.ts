/** The lines of the detail views (a job, a failed job): pure, so the reducer can bound scrolling. */
import type { BatchDetail, FailedJob, Job, TagSummary } from '../queue/index.js';
import { safeText } from '../util/terminal.js';
import { ago, duration } from './format.js';

function iso(at: number | null | undefined): string {
  return at === null || at === undefined ? '-' : new Date(at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function block(text: string, indent = '  '): string[] {
  return safeText(text).split('\n').map((l) => `${indent}${l.replace(/\t/g, '  ')}`);
}

function json(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The lines of a job's detail: identity, times, tags, chain / batch, payload, each attempt's error and stack. */
export function jobDetailLines(job: Job | null | undefined, now: number): string[] {
  if (!job) return ['This job no longer exists (it may have been trimmed).'];
  const state = job.state === 'reserved' ? 'running' : job.state;
  const lines = [
    `Job #${job.id}  ${safeText(job.name)}  on queue ${safeText(job.queue)}  ·  ${state}`,
    `attempts ${job.attempts}/${job.maxAttempts}   priority ${job.priority}   timeout ${job.timeoutMs === null ? '-' : duration(job.timeoutMs)}   backoff ${job.backoff.length ? job.backoff.map((s) => `${s}s`).join(', ') : '-'}`,
    `created   ${iso(job.createdAt)} (${ago(job.createdAt, now)})`,
    `available ${iso(job.availableAt)}${job.availableAt > now ? ` (in ${duration(job.availableAt - now)})` : ''}`,
  ];
  if (job.reservedAt !== null) lines.push(`reserved  ${iso(job.reservedAt)}${job.reservedBy ? ` by ${safeText(job.reservedBy)}` : ''}${job.leaseExpiresAt ? `, lease until ${iso(job.leaseExpiresAt)}` : ''}`);
  if (job.finishedAt !== null) lines.push(`finished  ${iso(job.finishedAt)}${job.reservedAt !== null ? ` (ran ${duration(job.finishedAt - job.reservedAt)})` : ''}`);
  if (job.retryUntil !== null) lines.push(`retry until ${iso(job.retryUntil)}`);
  lines.push(`tags      ${job.tags.length ? job.tags.map((t) => safeText(t)).join(', ') : '-'}`);
  if (job.uniqueKey !== null) lines.push(`unique    ${safeText(job.uniqueKey)}`);
  lines.push(`batch     ${job.batchId ?? '-'}`);
  if (job.chain) {
    const next = job.chain.next.map((s) => safeText(s.name)).join(' → ');
    lines.push(`chain     next: ${next || '(last link)'}${job.chain.catch ? `; catch: ${safeText(job.chain.catch.name)}` : ''}`);
  } else {
    lines.push('chain     -');
  }
  lines.push('', 'Payload', ...block(json(job.payload)));
  lines.push('', job.errors.length ? `Attempts with errors (${job.errors.length})` : 'Attempts with errors: none');
  for (const e of job.errors) {
    lines.push(`  #${e.attempt} at ${iso(e.at)}: ${safeText(e.message).split('\n')[0] ?? ''}`);
    const rest = safeText(e.message).split('\n').slice(1);
    for (const l of rest) lines.push(`      ${l}`);
    if (e.stack) lines.push(...block(e.stack, '      '));
  }
  return lines;
}

/** The lines of a failed job's detail: identity, error, payload and stack. */
export function failedDetailLines(f: FailedJob | undefined, now: number): string[] {
  if (!f) return ['This failed job is gone (retried or forgotten).'];
  return [
    `Failed job ${f.uuid}`,
    `job       ${f.jobId === null ? '-' : `#${f.jobId}`}   queue ${safeText(f.queue)}   name ${safeText(f.name)}   attempts ${f.attempts}`,
    `failed at ${iso(f.failedAt)} (${ago(f.failedAt, now)})`,
    `tags      ${f.tags.length ? f.tags.map((t) => safeText(t)).join(', ') : '-'}`,
    `batch     ${f.batchId ?? '-'}`,
    '', 'Error', ...block(f.error),
    '', 'Payload', ...block(json(f.payload)),
    ...(f.stack ? ['', 'Stack', ...block(f.stack)] : []),
  ];
}

/** The lines of a batch's detail: counters, its jobs by state, its callbacks, its failures with their errors, its newest jobs. */
export function batchDetailLines(d: BatchDetail | null | undefined, now: number): string[] {
  if (!d) return ['This batch no longer exists (finished batches are pruned after 48 hours by default).'];
  const b = d.batch;
  const state = b.cancelledAt ? 'cancelled' : b.finishedAt ? 'finished' : 'running';
  const byState = Object.entries(d.states).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s === 'reserved' ? 'running' : s}`).join(', ');
  const lines = [
    `Batch ${b.name ? `${safeText(b.name)} · ` : ''}${b.id}  ·  ${state}`,
    `jobs      ${b.total} total · ${b.pending} pending · ${b.processed} processed · ${b.failed} failed · ${b.cancelled} cancelled`,
    `by state  ${byState || 'none left (trimmed)'}`,
    `created   ${iso(b.createdAt)} (${ago(b.createdAt, now)})${b.finishedAt ? `   finished ${ago(b.finishedAt, now)}` : ''}`,
    ' ',
    'Callbacks',
    ...d.callbacks.map((c) => `  ${c.kind.padEnd(8)} ${c.name ? safeText(c.name) : '-'}  ${c.state}`),
    ' ',
    `Failures (${d.failures.length})`,
    ...(d.failures.length ? d.failures.flatMap((f) => [`  #${f.jobId} ${safeText(f.name)} on ${safeText(f.queue)} · attempt ${f.attempts} · ${ago(f.failedAt, now)}`, ...block(f.error.split('\n')[0] ?? '', '    ')]) : ['  none']),
    ' ',
    `Jobs (newest ${d.jobs.length})`,
    ...d.jobs.map((j) => `  #${j.id}  ${(j.state === 'reserved' ? 'running' : j.state).padEnd(9)} ${safeText(j.name)} on ${safeText(j.queue)} · tries ${j.attempts}`),
  ];
  return lines;
}

/** The lines of a monitored tag: its counts by state, its newest jobs and its newest failed jobs with their errors. */
export function tagDetailLines(tag: TagSummary | undefined, now: number): string[] {
  if (!tag) return ['This tag is no longer monitored.'];
  const c = tag.counts;
  const lines = [
    `Tag ${safeText(tag.tag)}  ·  monitored since ${iso(tag.since)} (${ago(tag.since, now)})`,
    `pending ${c.pending}   delayed ${c.delayed}   running ${c.reserved}   completed ${c.completed}   failed ${c.failed}   cancelled ${c.cancelled}`,
    '',
    `Recent jobs (newest ${tag.recent.length}; / on Jobs (2) with tag:${safeText(tag.tag)} lists them all)`,
  ];
  if (tag.recent.length === 0) lines.push('  none kept');
  for (const j of tag.recent) {
    const when = j.finishedAt ?? j.reservedAt ?? j.createdAt;
    lines.push(`  #${j.id}  ${safeText(j.name)}  ${safeText(j.queue)}  ${j.state === 'reserved' ? 'running' : j.state}  ${ago(when, now)}`);
  }
  lines.push('', `Failed jobs (newest ${tag.failed.length})`);
  if (tag.failed.length === 0) lines.push('  none');
  for (const j of tag.failed) {
    lines.push(`  #${j.id}  ${safeText(j.name)}  ${safeText(j.queue)}  ${ago(j.finishedAt, now)}  attempt ${j.attempts}/${j.maxAttempts}`);
    const last = j.errors[j.errors.length - 1];
    if (last) lines.push(...block(last.message.split('\n')[0] ?? '', '      '));
  }
  return lines;
}
