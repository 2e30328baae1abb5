/**
 * Writers turn a scored snapshot into a Review: `writeWithModel` asks any
 * OpenAI-compatible endpoint for structured output, `writeOffline` writes the same fields
 * from rules, and `writeReview` picks one from the environment. Keys are passed in, used
 * for the call, and never logged, stored or echoed in an error.
 */
import OpenAI from 'openai';
import { ContentFilterFinishReasonError, LengthFinishReasonError } from 'openai/error';
import { zodResponseFormat } from 'openai/helpers/zod';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { DelayError, PermanentError } from '../queue/errors.js';
import { DAY_MS, plural as pluralOf } from '../util/format.js';
import { safeLine, safeText } from '../util/terminal.js';
import { buildPrompt, ReviewSchema, type Review, type WriterInput } from './prompt.js';
import {
  CATEGORIES,
  hygieneOf,
  languageShares,
  latestActivity,
  projectQuality,
  type Category,
  type DealBreaker,
  type DealBreakerId,
  type Signal,
} from './score.js';
import { isOriginal, topOriginals, type ProfileSnapshot, type SnapshotRepo } from './snapshot.js';
import type { Usage } from './store.js';

const DEFAULT_MODEL = 'gpt-4o-mini';
const OFFLINE_MODEL = 'offline';
const DEFAULT_TIMEOUT_MS = 60_000;
const RATE_LIMIT_DEFAULT_MS = 30_000;

/** What a writer returns; `usage` is null when no token counts were reported. */
export interface WriterResult {
  review: Review;
  usage: Usage | null;
  model: string;
}

/** Options of writeWithModel. */
export interface ModelOptions {
  apiKey: string;
  /** An OpenAI-compatible endpoint (OPENAI_BASE_URL); default OpenAI's. */
  baseURL?: string;
  /** Default GITROAST_MODEL, else gpt-4o-mini. */
  model?: string;
  /** Per-request timeout; default 60 s, keep it shorter than the job's. */
  timeoutMs?: number;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

/** The model answered twice without a valid review. Retryable. */
export class ModelOutputError extends Error {
  readonly code = 'E_MODEL_OUTPUT';
  constructor(message: string) {
    super(message);
    this.name = 'ModelOutputError';
  }
}

/** What the fetch tap saw of the last answer. */
interface Tap {
  usage: Usage | null;
  lastContent: string | null;
}

/** Wrap fetch to add up token usage and keep the raw content of every completion. */
function tapFetch(base: typeof fetch, tap: Tap): typeof fetch {
  return async (input, init) => {
    const res = await base(input, init);
    tap.lastContent = null;
    if (!res.ok || !(res.headers.get('content-type') ?? '').includes('json')) return res;
    const body = (await res.clone().json().catch(() => null)) as {
      usage?: { prompt_tokens?: number; completion_tokens?: number };
      choices?: { message?: { content?: string | null } }[];
    } | null;
    const u = body?.usage;
    if (u && typeof u.prompt_tokens === 'number' && typeof u.completion_tokens === 'number') {
      tap.usage = {
        promptTokens: (tap.usage?.promptTokens ?? 0) + u.prompt_tokens,
        completionTokens: (tap.usage?.completionTokens ?? 0) + u.completion_tokens,
      };
    }
    tap.lastContent = body?.choices?.[0]?.message?.content ?? null;
    return res;
  };
}

/** Read how long a 429 asks us to wait: retry-after-ms, retry-after (seconds or date), else 30 s. */
function retryAfterMs(headers: Headers | undefined, now: number): number {
  const ms = Number(headers?.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const ra = headers?.get('retry-after');
  if (ra) {
    const seconds = Number(ra);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const date = Date.parse(ra);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  return RATE_LIMIT_DEFAULT_MS;
}

function redact(message: string, secret: string): string {
  return secret ? message.split(secret).join('***') : message;
}

/** Map a failed model call to what the queue should do; undefined for output problems. */
function mapModelError(err: unknown, opts: { apiKey: string; model: string; timeoutMs: number; baseURL: string }): Error | undefined {
  const msg = (e: unknown) => redact(safeLine(e instanceof Error ? e.message : String(e)), opts.apiKey).slice(0, 300);
  if (err instanceof OpenAI.RateLimitError) {
    const until = Date.now() + retryAfterMs(err.headers, Date.now());
    return new DelayError(until, `the model endpoint is rate limited; retrying at ${new Date(until).toISOString()}`);
  }
  if (err instanceof OpenAI.APIUserAbortError) return err;
  if (err instanceof OpenAI.APIConnectionTimeoutError) return new Error(`the model did not answer within ${opts.timeoutMs} ms`);
  if (err instanceof OpenAI.APIConnectionError) return new Error(`could not reach the model endpoint at ${opts.baseURL}: ${msg(err)}`);
  if (err instanceof OpenAI.AuthenticationError || err instanceof OpenAI.PermissionDeniedError) {
    return new PermanentError(`the model endpoint rejected OPENAI_API_KEY (${err.status}); check the key`);
  }
  if (err instanceof OpenAI.NotFoundError) return new PermanentError(`model ${opts.model} was not found at ${opts.baseURL}`);
  if (err instanceof OpenAI.BadRequestError) return new PermanentError(`the model endpoint refused the request (400): ${msg(err)}`);
  if (err instanceof OpenAI.APIError) return new Error(`the model endpoint answered ${err.status ?? 'an error'}: ${msg(err)}`);
  return undefined;
}

/** Describe why an answer is not a review, from what parse() threw. */
function outputProblem(err: unknown): string | undefined {
  if (err instanceof LengthFinishReasonError) return 'the answer was cut off (finish_reason "length"); answer more briefly';
  if (err instanceof ContentFilterFinishReasonError) return 'the answer was stopped by the content filter';
  if (err instanceof SyntaxError) return `the answer was not valid JSON (${err.message})`;
  const issues = (err as { issues?: { path: PropertyKey[]; message: string }[] } | null)?.issues;
  if (Array.isArray(issues)) return `the answer did not match the schema: ${issuesText(issues)}`;
  return undefined;
}

function issuesText(issues: { path: PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

type Attempt = { review: Review } | { problem: string };

/** Ask once; return the validated review or what was wrong with the answer. */
async function attemptOnce(
  client: OpenAI,
  model: string,
  messages: ChatCompletionMessageParam[],
  signal: AbortSignal | undefined,
): Promise<Attempt> {
  try {
    const completion = await client.chat.completions.parse(
      { model, messages, response_format: zodResponseFormat(ReviewSchema, 'review') },
      { signal },
    );
    const message = completion.choices[0]?.message;
    if (message?.refusal) return { problem: `the model refused: ${safeLine(message.refusal).slice(0, 200)}` };
    const checked = ReviewSchema.safeParse(message?.parsed);
    return checked.success ? { review: checked.data } : { problem: `the answer did not match the schema: ${issuesText(checked.error.issues)}` };
  } catch (err) {
    const problem = outputProblem(err);
    if (problem) return { problem };
    throw err;
  }
}

/**
 * Ask the model for the review as structured output; re-validate it with zod, make one
 * repair attempt (telling the model what was wrong) on invalid JSON, a schema mismatch, a
 * cut-off answer or a refusal, then fail with a retryable ModelOutputError. A 429 becomes a
 * DelayError at retry-after. The model only words the deal breakers it was given.
 */
export async function writeWithModel(input: WriterInput, opts: ModelOptions): Promise<WriterResult> {
  const model = opts.model ?? DEFAULT_MODEL;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const baseURL = opts.baseURL ?? 'https://api.openai.com/v1';
  const tap: Tap = { usage: null, lastContent: null };
  const client = new OpenAI({
    apiKey: opts.apiKey,
    baseURL,
    maxRetries: 0,
    timeout: timeoutMs,
    fetch: tapFetch(opts.fetch ?? globalThis.fetch, tap),
  });
  const prompt = buildPrompt(input);
  const messages: ChatCompletionMessageParam[] = [
    { role: 'system', content: prompt.system },
    { role: 'user', content: prompt.user },
  ];
  let problem = '';
  for (let attempt = 0; attempt < 2; attempt++) {
    let result: Attempt;
    try {
      result = await attemptOnce(client, model, messages, opts.signal);
    } catch (err) {
      throw mapModelError(err, { apiKey: opts.apiKey, model, timeoutMs, baseURL }) ?? err;
    }
    if ('review' in result) return { review: finalizeReview(result.review, input), usage: tap.usage, model };
    problem = result.problem;
    if (tap.lastContent) messages.push({ role: 'assistant', content: tap.lastContent.slice(0, 8000) });
    messages.push({
      role: 'user',
      content: `Your previous answer was not usable: ${problem}. Reply again with only a JSON object that matches the schema, for the same profile and facts.`,
    });
  }
  throw new ModelOutputError(`the model gave no valid review after one repair attempt: ${problem}`);
}

function cleanOut(text: string, limit = 2000): string {
  return safeText(text).trim().slice(0, limit);
}

/**
 * Make a model's review safe to keep: only the deal-breaker ids it was given (each once,
 * in the given order; a missing one gets the rule's own wording), only project names the
 * user owns, control sequences stripped and lengths bounded.
 */
function finalizeReview(review: Review, input: WriterInput): Review {
  const given = input.scorecard.dealBreakers;
  const worded = new Map<string, string>();
  for (const d of review.dealBreakers) if (!worded.has(d.id)) worded.set(d.id, cleanOut(d.explanation));
  const names = new Map(input.snapshot.repos.map((r) => [r.name.toLowerCase(), r.name]));
  const seen = new Set<string>();
  const topProjects = review.topProjects.flatMap((p) => {
    const name = names.get(p.name.trim().toLowerCase());
    if (!name || seen.has(name)) return [];
    seen.add(name);
    return [{ name, analysis: cleanOut(p.analysis) }];
  });
  return {
    summary: cleanOut(review.summary),
    firstImpression: cleanOut(review.firstImpression),
    dealBreakers: given.map((d) => ({ id: d.id, explanation: worded.get(d.id) || explainDealBreaker(d, input.snapshot) })),
    topProjects: topProjects.slice(0, 5),
    strengths: review.strengths.map((s) => cleanOut(s, 500)).filter(Boolean).slice(0, 8),
    improvementChecklist: review.improvementChecklist
      .map((c) => ({ item: cleanOut(c.item, 500), why: cleanOut(c.why, 1000) }))
      .filter((c) => c.item)
      .slice(0, 10),
    recruiterPerspective: cleanOut(review.recruiterPerspective),
  };
}

// ---------------------------------------------------------------------------------------
// The offline writer: every sentence comes from the scorecard and the snapshot.

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function plural(n: number, word: string): string {
  return pluralOf(n, word, undefined, fmt);
}

function listText(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function daysAgo(iso: string | null, now: number): number | null {
  const t = iso ? Date.parse(iso) : Number.NaN;
  return Number.isNaN(t) ? null : Math.max(0, Math.floor((now - t) / DAY_MS));
}

/** Word one deal breaker from its evidence. */
function explainDealBreaker(d: DealBreaker, s: ProfileSnapshot): string {
  const login = safeLine(s.user.login);
  const evidence = safeLine(d.evidence);
  const text: Record<DealBreakerId, string> = {
    no_original_repos: `There is nothing of ${login}'s own to look at (${evidence}); a reviewer cannot judge code that is not there.`,
    mostly_forks: `The repository list is mostly other people's code (${evidence}); forks without changes read as bookmarks, not work.`,
    no_profile_readme: `There is no profile README (${evidence}), so the page opens on a bare repository list with no story.`,
    empty_bio: 'The bio is empty: a visitor gets no one-line answer to "who is this and what do they do?".',
    inactive_year: `Nothing public has moved in a year (${evidence}); the profile looks abandoned.`,
    top_project_no_readme: `The most visible project has no real README (${evidence}); nobody will clone it to find out what it does.`,
    mostly_unlicensed: `Most originals have no license (${evidence}); without one nobody may legally reuse them.`,
    follow_farming: `The account follows far more people than follow it (${evidence}), which reads as follow-for-follow farming.`,
    suspicious_stars: `Star counts do not match the rest of the activity (${evidence}); recruiters discount stars that look bought.`,
  };
  return text[d.id];
}

/** Describe a top project with its numbers and gaps. */
function describeProject(repo: SnapshotRepo, now: number): string {
  const name = safeLine(repo.name);
  const q = projectQuality(repo, now);
  const h = hygieneOf(repo);
  const has = Object.entries(h).filter(([, v]) => v).map(([k]) => k);
  const missing = Object.entries(h).filter(([, v]) => !v).map(([k]) => (k === 'ci' ? 'CI' : k));
  const pushed = daysAgo(repo.pushedAt, now);
  const parts = [
    `${name} (${repo.language ?? 'no detected language'}, ${plural(repo.stars, 'star')}, ${plural(repo.forks, 'fork')})`,
    repo.description ? 'has a description' : 'has no description',
    repo.readmeLength ? `a ${fmt(repo.readmeLength)}-byte README` : 'no README',
    repo.license ? `the ${repo.license} license` : 'no license',
    plural(repo.topics.length, 'topic'),
  ];
  const sentences = [
    `${parts[0]} ${parts[1]}, ${parts.slice(2).join(', ')}.`,
    pushed === null ? 'It has never been pushed to.' : `Last push ${plural(pushed, 'day')} ago.`,
    repo.rootFiles === null
      ? ''
      : has.length
        ? `Visible hygiene: ${listText(has.map((k) => (k === 'ci' ? 'CI' : k)))}${missing.length ? `; missing ${listText(missing)}` : ''}.`
        : `No tests, CI, lint config, lockfile or license are visible in its root.`,
    `Project quality ${Math.round(q.value * 100)}/100.`,
  ];
  return sentences.filter(Boolean).join(' ');
}

/** Advise polishing a project, or publishing one when that slot is empty. */
function polishOrPublish(item: string, sig: Signal): { item: string; why: string } {
  return sig.evidence.startsWith('no original repository')
    ? { item: 'Publish another original project', why: 'Three good originals are what a reviewer opens first.' }
    : { item, why: sig.evidence };
}

const CHECKLIST: Record<string, (s: ProfileSnapshot, sig: Signal) => { item: string; why: string }> = {
  'profile.name': () => ({ item: 'Set a display name', why: 'Recruiters search and remember people, not handles.' }),
  'profile.bio': (_s, sig) => ({ item: 'Write a bio of at least 40 characters: role, stack, what you are looking for', why: `Now: ${sig.evidence}.` }),
  'profile.readme': (s) => ({ item: `Create the ${safeLine(s.user.login)}/${safeLine(s.user.login)} repository with a README`, why: 'It is the first thing on your profile page.' }),
  'profile.readme_substance': (_s, sig) => ({ item: 'Grow the profile README to ~1,500 bytes: what you build, links to your best work, how to reach you', why: `Now: ${sig.evidence}.` }),
  'profile.website': () => ({ item: 'Add a website or portfolio link', why: 'It gives a reviewer somewhere to go next.' }),
  'profile.location': () => ({ item: 'Add a location (a city or "remote")', why: 'Hiring is often bound to time zones.' }),
  'profile.company': () => ({ item: 'Fill in the company field (or "independent"/"open to work")', why: 'It answers the first question a recruiter has.' }),
  'profile.social': () => ({ item: 'Link one social account', why: 'It shows a reachable person behind the code.' }),
  'profile.contact': () => ({ item: 'Mark yourself hireable or show a public email', why: 'A recruiter who cannot reach you moves on.' }),
  'profile.pinned': (_s, sig) => ({ item: 'Pin your 4–6 best repositories', why: `Now: ${sig.evidence}; pins decide what is seen first.` }),
  'projects.originals': (_s, sig) => ({ item: 'Publish more of your own projects, even small ones', why: `Now: ${sig.evidence}.` }),
  'projects.top_1': (_s, sig) => ({ item: `Polish your top project: description, README, license, topics`, why: sig.evidence }),
  'projects.top_2': (_s, sig) => polishOrPublish('Polish your second project the same way', sig),
  'projects.top_3': (_s, sig) => polishOrPublish('Polish your third project the same way', sig),
  'projects.original_share': (_s, sig) => ({ item: 'Archive or delete forks you never changed', why: `Now: ${sig.evidence}.` }),
  'consistency.weeks': (_s, sig) => ({ item: 'Commit in small pieces every week rather than in bursts', why: `Now: ${sig.evidence}.` }),
  'consistency.months': (_s, sig) => ({ item: 'Keep something moving every month', why: `Now: ${sig.evidence}.` }),
  'consistency.recency': (_s, sig) => ({ item: 'Push something this month', why: `Now: ${sig.evidence}.` }),
  'consistency.events': (_s, sig) => ({ item: 'Be visibly active: issues, pull requests, pushes', why: `Now: ${sig.evidence}.` }),
  'consistency.years': (_s, sig) => ({ item: 'Keep old projects alive with small updates', why: `Now: ${sig.evidence}.` }),
  'consistency.concentration': (_s, sig) => ({ item: 'Spread work across the year', why: `Now: ${sig.evidence}.` }),
  'technical.languages': (_s, sig) => ({ item: 'Show a second language or stack in a real project', why: `Now: ${sig.evidence}.` }),
  'technical.hygiene': (_s, sig) => ({ item: 'Add tests, CI, a lint config and a lockfile to your top projects', why: `Now: ${sig.evidence}.` }),
  'technical.volume': (_s, sig) => ({ item: 'Ship a project of real size', why: `Now: ${sig.evidence}.` }),
  'technical.licensed': (_s, sig) => ({ item: 'Add a LICENSE file to every original', why: `Now: ${sig.evidence}.` }),
  'community.followers': (_s, sig) => ({ item: 'Share your work where people in your field read', why: `Now: ${sig.evidence}.` }),
  'community.stars': (_s, sig) => ({ item: 'Write up one project (post, demo, release notes) so others find it', why: `Now: ${sig.evidence}.` }),
  'community.forks': (_s, sig) => ({ item: 'Make one project easy to extend: contributing guide, good first issues', why: `Now: ${sig.evidence}.` }),
  'community.external': (_s, sig) => ({ item: 'Send a pull request to a project you use', why: `Now: ${sig.evidence}.` }),
  'community.reviews_issues': (_s, sig) => ({ item: 'Review pull requests and file good issues', why: `Now: ${sig.evidence}.` }),
  'community.orgs': (_s, sig) => ({ item: 'Make your organisation memberships public', why: `Now: ${sig.evidence}.` }),
};

const DEAL_BREAKER_FIX: Record<DealBreakerId, string> = {
  no_original_repos: 'Publish one original project with a README',
  mostly_forks: 'Archive or delete forks you never changed',
  no_profile_readme: 'Create a profile README',
  empty_bio: 'Write a one-line bio',
  inactive_year: 'Push something public this month',
  top_project_no_readme: 'Write a README for your top project',
  mostly_unlicensed: 'Add licenses to your originals',
  follow_farming: 'Unfollow accounts you do not actually follow',
  suspicious_stars: 'Let stars come from real users only',
};

function fraction(sig: Signal): number {
  return sig.max > 0 ? sig.points / sig.max : sig.points < 0 ? 0 : 1;
}

/** Build the checklist: deal breakers first, then the signals that lost the most points. */
function checklist(input: WriterInput): Review['improvementChecklist'] {
  const { snapshot, scorecard } = input;
  const fromBreakers = scorecard.dealBreakers.map((d) => ({ item: DEAL_BREAKER_FIX[d.id], why: safeLine(d.evidence) }));
  const hasOriginals = snapshot.repos.some(isOriginal);
  // Without originals, project and technical advice collapses into "publish one" (a deal breaker).
  const weak = scorecard.signals
    .filter((sig) => sig.available && fraction(sig) < 0.5)
    .filter((sig) => hasOriginals || !/^(projects|technical)\.|^community\.(stars|forks)$/.test(sig.id))
    .sort((a, b) => b.max - b.points - (a.max - a.points) || a.id.localeCompare(b.id))
    .map((sig) => CHECKLIST[sig.id]?.(snapshot, sig))
    .filter((c): c is { item: string; why: string } => c !== undefined);
  const seen = new Set<string>();
  return [...fromBreakers, ...weak].filter((c) => !seen.has(c.item) && seen.add(c.item)).slice(0, 8);
}

function categoryExtremes(input: WriterInput): { best: Category; worst: Category } {
  const cats = [...CATEGORIES].sort(
    (a, b) => input.scorecard.categories[b].score - input.scorecard.categories[a].score || a.localeCompare(b),
  );
  return { best: cats[0]!, worst: cats.at(-1)! };
}

function firstImpression(s: ProfileSnapshot): string {
  const u = s.user;
  const who = u.name ? safeLine(u.name) : safeLine(u.login);
  const seen = [
    u.bio ? `a bio of ${plural([...u.bio].length, 'character')}` : 'no bio',
    s.profileReadme ? `a profile README of ${fmt(s.profileReadme.length)} bytes` : 'no profile README',
    s.graphql ? plural(s.graphql.pinned.length, 'pinned repository').replace('repositorys', 'repositories') : null,
    plural(s.repos.length, 'public repository').replace('repositorys', 'repositories'),
  ].filter((x): x is string => x !== null);
  const extras = [u.location && 'a location', u.blog && 'a website', u.company && 'a company'].filter(Boolean) as string[];
  return `A visitor to ${who}'s page finds ${listText(seen)}${extras.length ? `, plus ${listText(extras)}` : ''}. ${plural(u.followers, 'follower')}, following ${fmt(u.following)}.`;
}

function summary(input: WriterInput, now: number): string {
  const { snapshot: s, scorecard: c } = input;
  const { best, worst } = categoryExtremes(input);
  const originals = s.repos.filter(isOriginal);
  const stars = originals.reduce((a, r) => a + r.stars, 0);
  const latest = latestActivity(s);
  const last = Number.isFinite(latest)
    ? `last activity ${plural(Math.max(0, Math.floor((now - latest) / DAY_MS)), 'day')} ago`
    : 'no visible activity';
  const langs = languageShares(s).map((l) => l.language);
  return [
    `${safeLine(s.user.login)} scores ${c.overall}/100: strongest in ${best} (${c.categories[best].score}), weakest in ${worst} (${c.categories[worst].score}).`,
    `${plural(originals.length, 'original repository').replace('repositorys', 'repositories')} out of ${fmt(s.repos.length)}, ${plural(stars, 'star')} received, ${last}${langs.length ? `, mostly ${listText(langs.slice(0, 3))}` : ''}.`,
    c.dealBreakers.length ? `${plural(c.dealBreakers.length, 'deal breaker')}: ${c.dealBreakers.map((d) => d.id).join(', ')}.` : 'No deal breakers.',
  ].join(' ');
}

function recruiter(input: WriterInput): string {
  const { snapshot: s, scorecard: c } = input;
  const top = topOriginals(s.repos, 1)[0];
  const { worst } = categoryExtremes(input);
  const verdict =
    c.overall >= 75
      ? 'I would shortlist this profile'
      : c.overall >= 50
        ? 'I would read on, with reservations'
        : c.overall >= 30
          ? 'I would skim this and move on unless the CV is strong'
          : 'This profile works against the candidate';
  const lead = top ? `I would open ${safeLine(top.name)} first.` : 'There is no original project to open.';
  const low = c.categories[worst].confidence === 'low' ? ' (measured with partial data)' : '';
  return `${verdict} (${c.overall}/100). ${lead} The ${worst} score of ${c.categories[worst].score}${low} is what to fix before applying.`;
}

/** Write the review from rules alone: deterministic, specific to this profile, no keys needed. */
export function writeOffline(input: WriterInput, now = input.snapshot.fetchedAt): WriterResult {
  const { snapshot, scorecard } = input;
  const strengths = scorecard.signals
    .filter((sig) => sig.available && sig.max > 0 && fraction(sig) >= 0.8)
    .sort((a, b) => b.max - a.max || a.id.localeCompare(b.id))
    .slice(0, 5)
    .map((sig) => `${sig.label}: ${safeLine(sig.evidence)}`);
  const review: Review = {
    summary: summary(input, now),
    firstImpression: firstImpression(snapshot),
    dealBreakers: scorecard.dealBreakers.map((d) => ({ id: d.id, explanation: explainDealBreaker(d, snapshot) })),
    topProjects: topOriginals(snapshot.repos).map((r) => ({ name: safeLine(r.name), analysis: describeProject(r, now) })),
    strengths: strengths.length ? strengths : ['Nothing stands out yet: every signal is below 80% of its points.'],
    improvementChecklist: checklist(input),
    recruiterPerspective: recruiter(input),
  };
  return { review, usage: null, model: OFFLINE_MODEL };
}

/** The environment variables writeReview reads. */
export interface WriterEnv {
  OPENAI_API_KEY?: string;
  OPENAI_BASE_URL?: string;
  GITROAST_MODEL?: string;
  [name: string]: string | undefined;
}

/** Write with the model when OPENAI_API_KEY is set, else offline. */
export async function writeReview(
  input: WriterInput,
  env: WriterEnv = process.env,
  opts: { timeoutMs?: number; signal?: AbortSignal; fetch?: typeof fetch } = {},
): Promise<WriterResult> {
  const apiKey = env.OPENAI_API_KEY?.trim();
  if (!apiKey) return writeOffline(input);
  return writeWithModel(input, {
    apiKey,
    baseURL: env.OPENAI_BASE_URL || undefined,
    model: env.GITROAST_MODEL || undefined,
    ...opts,
  });
}
