/**
 * How an analysis is shown: the terminal report (scores with bars, the reasons behind
 * them, the review), its Markdown twin, and the JSON shape of the CLI. Every string that
 * came from GitHub or a model goes through safeText/safeLine here again, whatever the
 * writers did, so no control sequence reaches a terminal.
 */
import { safeLine, safeText } from '../util/terminal.js';
import { CATEGORIES, type Category, type Scorecard, type Signal } from './score.js';
import type { Analysis } from './store.js';

/** Options of renderReport. */
export interface RenderOptions {
  /** Columns available; default process.stdout.columns, else 80 (clamped to 40–110). */
  width?: number;
  /** ANSI colour and bold; default off (the CLI passes colorEnabled()). */
  color?: boolean;
  /** List every signal with its points and evidence instead of the top reasons. */
  explain?: boolean;
}

export const TITLES: Record<Category, string> = {
  profile: 'Profile',
  projects: 'Projects',
  consistency: 'Consistency',
  technical: 'Technical',
  community: 'Community',
};

// ---------------------------------------------------------------------------------------
// Text helpers

/** Wrap one paragraph to `width` columns, every line prefixed with `indent`. */
function wrap(text: string, width: number, indent = '', firstIndent = indent): string[] {
  const words = safeLine(text).split(' ').filter(Boolean);
  const lines: string[] = [];
  let line = firstIndent;
  let empty = true;
  const room = (prefix: string) => Math.max(10, width - prefix.length);
  for (let word of words) {
    const prefix = lines.length === 0 ? firstIndent : indent;
    while ([...word].length > room(prefix)) {
      // A word longer than a line (a URL): cut it.
      if (!empty) {
        lines.push(line);
        line = indent;
        empty = true;
      }
      const chars = [...word];
      lines.push(indent + chars.slice(0, room(indent)).join(''));
      word = chars.slice(room(indent)).join('');
    }
    if (!word) continue;
    const candidate = empty ? line + word : `${line} ${word}`;
    if ([...candidate].length > width && !empty) {
      lines.push(line);
      line = indent + word;
    } else {
      line = candidate;
    }
    empty = false;
  }
  if (!empty) lines.push(line);
  return lines;
}

/** Draw a bar of `cells` cells for a 0–100 score. */
function bar(score: number, cells: number): string {
  const filled = Math.round((Math.max(0, Math.min(100, score)) / 100) * cells);
  return '█'.repeat(filled) + '░'.repeat(cells - filled);
}

function points(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/**
 * The reasons behind one category: up to three signals that earned the most, up to three
 * that lost the most (a quarter of their points or more, or a penalty), and the signals
 * that could not be measured. A signal is a gain or a loss, never both.
 */
function reasons(card: Scorecard, c: Category): { gains: Signal[]; losses: Signal[]; unavailable: Signal[] } {
  const of = card.signals.filter((s) => s.category === c);
  const available = of.filter((s) => s.available);
  const isLoss = (s: Signal) => s.points < 0 || (s.max > 0 && s.max - s.points >= s.max / 4);
  const gains = available.filter((s) => s.points > 0 && !isLoss(s)).sort((a, b) => b.points - a.points || a.id.localeCompare(b.id)).slice(0, 3);
  const losses = available
    .filter(isLoss)
    .sort((a, b) => b.max - b.points - (a.max - a.points) || a.id.localeCompare(b.id))
    .slice(0, 3);
  return { gains, losses, unavailable: of.filter((s) => !s.available) };
}

/** The distinct evidence texts of some signals. */
function evidence(signals: readonly Signal[]): string[] {
  return [...new Set(signals.map((s) => safeLine(s.evidence)))];
}

// ---------------------------------------------------------------------------------------
// The terminal report

/** Render an analysis for a terminal: header, scores with bars, reasons, the review. */
export function renderReport(a: Analysis, opts: RenderOptions = {}): string {
  const width = Math.max(40, Math.min(110, opts.width ?? (process.stdout.columns || 80)));
  const color = opts.color ?? false;
  const paint = (code: string, s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const bold = (s: string) => paint('1', s);
  const dim = (s: string) => paint('2', s);
  const tone = (score: number, s: string) => paint(score >= 70 ? '32' : score >= 40 ? '33' : '31', s);
  const out: string[] = [];
  const heading = (title: string) => out.push('', bold(title));
  const para = (text: string) => out.push(...wrap(text, width, '  '));

  const login = safeLine(a.username);
  const name = a.snapshot?.user.name ? ` (${safeLine(a.snapshot.user.name)})` : '';
  const card = a.scorecard;
  if (a.status !== 'completed' || !card || a.overall === null || !a.scores) {
    out.push(bold(`${login}${name}: analysis ${a.status}`));
    out.push(dim(`id ${a.id} · created ${iso(a.createdAt)}`));
    if (a.status === 'failed') out.push(...wrap(`reason: ${a.error ?? 'unknown'}`, width, '  ', ''));
    else out.push(`stage: ${a.stage}`);
    return `${out.join('\n')}\n`;
  }

  out.push(bold(`${login}${name} — ${a.overall}/100`));
  const meta = [
    a.snapshot?.user.htmlUrl ? safeLine(a.snapshot.user.htmlUrl) : null,
    `formula ${safeLine(a.formulaVersion ?? '?')}`,
    `written by ${a.model === 'offline' ? 'the offline writer' : safeLine(a.model ?? '?')}`,
    a.completedAt ? iso(a.completedAt) : null,
    `id ${a.id}`,
  ].filter(Boolean);
  out.push(...wrap(meta.join(' · '), width, '', '').map(dim));
  const bio = a.snapshot?.user.bio;
  if (bio) out.push(...wrap(`“${safeLine(bio).slice(0, 200)}”`, width, '  ', ''));

  heading('Scores');
  const label = 13;
  const cells = Math.max(10, Math.min(30, width - label - 30));
  const row = (title: string, score: number, note = '') =>
    `  ${title.padEnd(label)}${tone(score, bar(score, cells))} ${String(score).padStart(3)}${note ? `  ${dim(note)}` : ''}`;
  out.push(row('Overall', a.overall));
  for (const c of CATEGORIES) {
    const cs = card.categories[c];
    const notes = [cs.confidence === 'low' ? 'low confidence' : '', cs.cap ? `capped at ${cs.cap.at}` : ''].filter(Boolean).join(', ');
    out.push(row(TITLES[c], cs.score, notes));
  }

  if (opts.explain) {
    heading(`Every signal (formula ${safeLine(card.formulaVersion)})`);
    for (const c of CATEGORIES) {
      const cs = card.categories[c];
      out.push(`  ${bold(TITLES[c])} ${cs.score}/100, confidence ${cs.confidence}${cs.cap ? `, capped at ${cs.cap.at}: ${safeLine(cs.cap.reason)}` : ''}`);
      const sigs = card.signals.filter((s) => s.category === c);
      const idWidth = Math.max(...sigs.map((s) => s.id.length));
      for (const s of sigs) {
        const pts = !s.available ? 'n/a' : s.max > 0 ? `${points(s.points)}/${s.max}` : points(s.points);
        const lead = `    ${s.id.padEnd(idWidth)}  ${pts.padStart(7)}  `;
        out.push(...wrap(`${safeLine(s.label)}: ${safeLine(s.evidence)}`, width, ' '.repeat(lead.length), lead));
      }
    }
  } else {
    heading('Why these scores');
    for (const c of CATEGORIES) {
      const r = reasons(card, c);
      const lead = `  ${TITLES[c].padEnd(label)}`;
      const pad = ' '.repeat(lead.length);
      const lines: string[] = [];
      if (r.gains.length) lines.push(...wrap(`+ ${r.gains.map((s) => safeLine(s.evidence)).join('; ')}`, width, `${pad}  `, pad));
      if (r.losses.length) {
        lines.push(...wrap(`- ${r.losses.map((s) => `${safeLine(s.evidence)} (${points(s.points)}/${s.max})`).join('; ')}`, width, `${pad}  `, pad));
      }
      if (r.unavailable.length) lines.push(...wrap(`? not measured: ${evidence(r.unavailable).join('; ')}`, width, `${pad}  `, pad));
      if (lines.length === 0) lines.push(pad + dim('no signal moved this score'));
      lines[0] = lead + lines[0]!.slice(pad.length);
      out.push(...lines);
    }
    out.push(dim(`  (gitroast show ${a.id} --explain lists every signal)`));
  }

  const review = a.report;
  if (review) {
    heading('Summary');
    para(review.summary);
    heading('First impression');
    para(review.firstImpression);
    heading('Deal breakers');
    if (review.dealBreakers.length === 0) para('None.');
    for (const d of review.dealBreakers) out.push(...wrap(`${safeLine(d.id)}: ${safeLine(d.explanation)}`, width, '    ', '  • '));
    if (review.topProjects.length) {
      heading('Top projects');
      for (const p of review.topProjects) out.push(...wrap(`${safeLine(p.name)}: ${safeLine(p.analysis)}`, width, '    ', '  • '));
    }
    if (review.strengths.length) {
      heading('Strengths');
      for (const s of review.strengths) out.push(...wrap(s, width, '    ', '  • '));
    }
    if (review.improvementChecklist.length) {
      heading('Improvement checklist');
      review.improvementChecklist.forEach((c, i) => {
        const n = `  ${i + 1}. `.padEnd(6);
        out.push(...wrap(`${safeLine(c.item)} — ${safeLine(c.why)}`, width, ' '.repeat(n.length), n));
      });
    }
    heading("Recruiter's view");
    para(review.recruiterPerspective);
  }
  return `${out.join('\n')}\n`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// ---------------------------------------------------------------------------------------
// Markdown

/** Make untrusted text safe inside Markdown prose: no controls, no raw HTML. */
function md(text: string): string {
  return safeLine(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/^([#>*+-]|\d+\.)\s/, '\\$1 ');
}

/** Like md, for a table cell. */
function cell(text: string): string {
  return md(text).replace(/\|/g, '\\|');
}

/** Render an analysis as Markdown (for `show --markdown`): scores table, reasons, the review. */
export function renderMarkdown(a: Analysis, opts: { explain?: boolean } = {}): string {
  const login = md(a.username);
  const out: string[] = [];
  const card = a.scorecard;
  if (a.status !== 'completed' || !card || a.overall === null) {
    out.push(`# gitroast: ${login}`, '', `Analysis \`${a.id}\` is **${a.status}**${a.status === 'failed' ? `: ${md(a.error ?? 'unknown reason')}` : ` (stage ${a.stage})`}.`);
    return `${out.join('\n')}\n`;
  }
  out.push(`# gitroast review of ${login}: ${a.overall}/100`, '');
  const url = a.snapshot?.user.htmlUrl;
  out.push(
    [
      url && /^https?:\/\//.test(url) ? `[${login} on GitHub](${safeLine(url).replace(/[()\s]/g, encodeURIComponent)})` : null,
      `formula ${md(a.formulaVersion ?? '?')}`,
      `written by ${md(a.model ?? '?')}`,
      a.completedAt ? iso(a.completedAt) : null,
    ].filter(Boolean).join(' · '),
    ...(a.snapshot?.user.bio ? ['', `> ${md(a.snapshot.user.bio.slice(0, 200))}`] : []),
    '',
    '| Category | Score | Confidence | Why |',
    '|---|---:|---|---|',
    `| **Overall** | **${a.overall}** | | weighted mean |`,
  );
  for (const c of CATEGORIES) {
    const cs = card.categories[c];
    const r = reasons(card, c);
    const why = [
      ...r.gains.map((s) => `+ ${s.evidence}`),
      ...r.losses.map((s) => `− ${s.evidence}`),
      cs.cap ? `capped at ${cs.cap.at}: ${cs.cap.reason}` : '',
    ].filter(Boolean).join('; ');
    out.push(`| ${TITLES[c]} | ${cs.score} | ${cs.confidence} | ${cell(why)} |`);
  }
  const review = a.report;
  if (review) {
    out.push('', '## Summary', '', md(review.summary), '', '## First impression', '', md(review.firstImpression), '', '## Deal breakers', '');
    if (review.dealBreakers.length === 0) out.push('None.');
    for (const d of review.dealBreakers) out.push(`- **${md(d.id)}**: ${md(d.explanation)}`);
    if (review.topProjects.length) {
      out.push('', '## Top projects', '');
      for (const p of review.topProjects) out.push(`- **${md(p.name)}**: ${md(p.analysis)}`);
    }
    if (review.strengths.length) {
      out.push('', '## Strengths', '');
      for (const s of review.strengths) out.push(`- ${md(s)}`);
    }
    if (review.improvementChecklist.length) {
      out.push('', '## Improvement checklist', '');
      for (const c of review.improvementChecklist) out.push(`- [ ] ${md(c.item)}: ${md(c.why)}`);
    }
    out.push('', "## Recruiter's view", '', md(review.recruiterPerspective));
  }
  if (opts.explain) {
    out.push('', `## Every signal (formula ${md(card.formulaVersion)})`, '', '| Signal | Category | Points | Evidence |', '|---|---|---:|---|');
    for (const s of card.signals) {
      const pts = !s.available ? 'n/a' : s.max > 0 ? `${points(s.points)} / ${s.max}` : points(s.points);
      out.push(`| \`${s.id}\` ${cell(s.label)} | ${s.category} | ${pts} | ${cell(s.evidence)} |`);
    }
    if (card.dealBreakers.length) {
      out.push('', '| Deal breaker | Evidence |', '|---|---|');
      for (const d of card.dealBreakers) out.push(`| \`${d.id}\` | ${cell(d.evidence)} |`);
    }
  }
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------
// JSON

/** Strip control sequences from every string of a JSON-able value (JSON does not escape C1 controls). */
export function sanitize<T>(value: T): T {
  if (typeof value === 'string') return safeText(value) as T;
  if (Array.isArray(value)) return value.map(sanitize) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sanitize(v)])) as T;
  }
  return value;
}

const SUMMARY_KEYS = ['id', 'username', 'status', 'stage', 'overallScore', 'scores', 'error', 'kept', 'batchId', 'createdAt', 'completedAt'];

/** The short JSON of an analysis in lists (`list --json`, `batches show`): analysisJson without the report, on one-line errors. */
export function analysisSummaryJson(a: Analysis): Record<string, unknown> {
  const full = analysisJson(a);
  const out = Object.fromEntries(SUMMARY_KEYS.map((k) => [k, full[k]]));
  out.error = a.error === null ? null : safeLine(a.error);
  return out;
}

/**
 * The JSON shape of an analysis: id, username, status, stage, overallScore, scores, report,
 * error and bookkeeping; with `detail`, also every signal, the deal breakers and the
 * per-category confidence (what `show --json --explain` prints).
 */
export function analysisJson(a: Analysis, opts: { detail?: boolean } = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: a.id,
    username: a.username,
    status: a.status,
    stage: a.stage,
    overallScore: a.overall,
    scores: a.scores,
    report: a.report,
    error: a.error,
    formulaVersion: a.formulaVersion,
    model: a.model,
    usage: a.usage,
    kept: a.kept,
    batchId: a.batchId,
    createdAt: new Date(a.createdAt).toISOString(),
    updatedAt: new Date(a.updatedAt).toISOString(),
    completedAt: a.completedAt === null ? null : new Date(a.completedAt).toISOString(),
  };
  if (opts.detail && a.scorecard) {
    out.profileUrl = a.snapshot?.user.htmlUrl ?? null;
    out.categories = a.scorecard.categories;
    out.signals = a.scorecard.signals;
    out.dealBreakers = a.scorecard.dealBreakers;
    out.githubRequests = a.snapshot?.requests ?? null;
    // What collecting it cost each GitHub budget (REST requests, GraphQL points).
    out.githubCost = a.githubCost;
  }
  return sanitize(out);
}
