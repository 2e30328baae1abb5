/**
 * The analyses screens: the list, and one report with its scores, every signal behind them
 * and the written review, as `gitroast show --explain` prints it (the same data and
 * category titles as src/analysis/report.ts, drawn as HTML). Everything in a report came
 * from GitHub or a model: all of it goes through `text`, links only when http(s).
 */
import { TITLES } from '../analysis/report.js';
import { CATEGORIES } from '../analysis/score.js';
import type { AnalysisHead } from '../analysis/store.js';
import { ago, esc, externalLink, iso, meter, table, text } from './html.js';
import { LIST_LIMIT, type Page, type PageContext } from './pages.js';

function tone(score: number): 'ok' | 'warn' | 'bad' {
  return score >= 70 ? 'ok' : score >= 40 ? 'warn' : 'bad';
}

function points(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** The newest analyses (none, and the empty state, on a database without the analyses table). */
export function analysesPage(ctx: PageContext): Page {
  const rows = ctx.model.analyses(LIST_LIMIT);
  const html = table<AnalysisHead>([
    { title: 'User', cell: (a) => `<a href="/analyses/${esc(encodeURIComponent(a.id))}">${text(a.username)}</a>` },
    { title: 'Status', cell: (a) => `<span class="pill ${esc(a.status)}">${esc(a.status)}</span>` },
    { title: 'Stage', cell: (a) => esc(a.stage) },
    { title: 'Overall', cell: (a) => (a.overall === null ? '-' : `${meter(a.overall, 100, 'overall score', tone(a.overall))} ${a.overall}`) },
    { title: 'Created', cell: (a) => ago(a.createdAt, ctx.now) },
    { title: 'Error', cell: (a) => text(a.error ?? '') },
  ], rows, { empty: 'No analysis yet (`gitroast analyze <user>`).', rowAttrs: (a) => `data-analysis="${esc(a.id)}"` });
  return { title: 'Analyses', body: `<h1>Analyses</h1>${html}` };
}

/** One analysis report: scores, every signal, the review. */
export function analysisPage(ctx: PageContext, id: string): Page {
  const a = ctx.model.analysis(id);
  if (!a) return { title: 'Not found', body: `<h1>Analysis</h1><p class="empty">No analysis ${text(id)}.</p>`, status: 404 };
  const user = a.snapshot?.user;
  const name = user?.name ? ` <span class="muted">(${text(user.name)})</span>` : '';
  const card = a.scorecard;
  if (a.status !== 'completed' || !card || a.overall === null) {
    return {
      title: a.username,
      body: `<h1>${text(a.username)}${name}: analysis <span class="pill ${esc(a.status)}">${esc(a.status)}</span></h1>`
        + `<p class="muted">id ${esc(a.id)} · created ${esc(iso(a.createdAt))} · stage ${esc(a.stage)}</p>${a.error ? `<div class="panel">Reason: <span class="error-text">${text(a.error)}</span></div>` : ''}`,
    };
  }
  const meta = [
    user?.htmlUrl ? externalLink(user.htmlUrl) : '',
    user?.blog ? `blog ${externalLink(user.blog)}` : '',
    `formula ${text(a.formulaVersion ?? '?')}`,
    `written by ${a.model === 'offline' ? 'the offline writer' : text(a.model ?? '?')}`,
    a.completedAt ? esc(iso(a.completedAt)) : '',
    `id ${esc(a.id)}`,
  ].filter(Boolean).join(' · ');
  const bio = user?.bio ? `<blockquote class="panel bio">${text(user.bio.slice(0, 200))}</blockquote>` : '';
  const scoreRow = (title: string, score: number, note: string) =>
    `<div class="score" data-score="${esc(title)}"><strong>${esc(title)}</strong>${meter(score, 100, `${title} score`, tone(score))}<span>${score}</span><span class="muted">${note}</span></div>`;
  const scores = [scoreRow('Overall', a.overall, '')]
    .concat(CATEGORIES.map((c) => {
      const cs = card.categories[c];
      const note = [cs.confidence === 'low' ? 'low confidence' : '', cs.cap ? `capped at ${cs.cap.at}: ${text(cs.cap.reason)}` : ''].filter(Boolean).join(', ');
      return scoreRow(TITLES[c], cs.score, note);
    }))
    .join('');
  const signals = CATEGORIES.map((c) => {
    const cs = card.categories[c];
    const sigs = card.signals.filter((s) => s.category === c);
    return `<h3>${esc(TITLES[c])} <span class="muted">${cs.score}/100, confidence ${esc(cs.confidence)}</span></h3>${table([
      { title: 'Signal', cell: (s) => `<code>${text(s.id)}</code>` },
      { title: 'Points', cell: (s) => (!s.available ? 'n/a' : s.max > 0 ? `${points(s.points)}/${s.max}` : points(s.points)), num: true },
      { title: 'What', cell: (s) => `${text(s.label)}: ${text(s.evidence)}` },
    ], sigs, { empty: 'No signal.' })}`;
  }).join('');
  const r = a.report;
  const list = (items: string[]) => (items.length ? `<ul>${items.map((i) => `<li>${i}</li>`).join('')}</ul>` : '<p>None.</p>');
  const review = r
    ? `<h2>Summary</h2><p>${text(r.summary)}</p><h2>First impression</h2><p>${text(r.firstImpression)}</p>`
      + `<h2>Deal breakers</h2>${list(r.dealBreakers.map((d) => `<strong>${text(d.id)}</strong>: ${text(d.explanation)}`))}`
      + (r.topProjects.length ? `<h2>Top projects</h2>${list(r.topProjects.map((p) => `<strong>${text(p.name)}</strong>: ${text(p.analysis)}`))}` : '')
      + (r.strengths.length ? `<h2>Strengths</h2>${list(r.strengths.map((s) => text(s)))}` : '')
      + (r.improvementChecklist.length ? `<h2>Improvement checklist</h2><ol>${r.improvementChecklist.map((c) => `<li>${text(c.item)} — ${text(c.why)}</li>`).join('')}</ol>` : '')
      + `<h2>Recruiter's view</h2><p>${text(r.recruiterPerspective)}</p>`
    : '';
  return {
    title: a.username,
    body: `<h1>${text(a.username)}${name} — ${a.overall}/100</h1><p class="muted">${meta}</p>${bio}`
      + `<h2>Scores</h2><div class="panel">${scores}</div>${review}<h2>Every signal <span class="muted">(formula ${text(card.formulaVersion)})</span></h2>${signals}`,
  };
}
