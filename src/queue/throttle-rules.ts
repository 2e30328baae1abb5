/**
 * The throttle window rule, shared by both engines (./throttles.ts on SQLite, ./pg/throttles.ts
 * on PostgreSQL) as ./rules.ts is for retries and failures: pure functions of the rules, the
 * stored windows and the store's now. The engines read the stored windows, run the claims
 * the plan asks for, and write back the starts it counted; the rule is written once here.
 *
 * Windows are fixed and aligned to the epoch: the window of a rule holding `now` starts at
 * the largest multiple of `perMs` not after `now` and ends `perMs` later (that instant
 * belongs to the next window). A stored count is the count of the window it was counted in:
 * a row of an earlier window counts 0 now. A window whose starts reached `max` is used up
 * until it ends.
 */
import type { ThrottledClaim, ThrottleRule, Throttles, ThrottleState } from './throttles.js';
import type { ClaimedJob } from './types.js';

/** A throttle's row as stored (the throttles table, on either engine). */
export interface StoredThrottle {
  key: string;
  max: number;
  per_ms: number;
  window_start: number;
  count: number;
}

/** The window of a rule at one time. */
export interface ThrottleWindow {
  /** When it started (ms epoch, a multiple of perMs). */
  start: number;
  /** When it ends, the next one's start (ms epoch). */
  endsAt: number;
  /** Starts counted in it so far. */
  used: number;
  /** Starts it still allows (0 when used up). */
  left: number;
}

/** The window of `rule` holding `now`, with the starts `stored` (the key's row, if any) counted in it. */
export function throttleWindow(rule: ThrottleRule, now: number, stored?: Pick<StoredThrottle, 'window_start' | 'count'>): ThrottleWindow {
  const start = Math.floor(now / rule.perMs) * rule.perMs;
  const used = stored !== undefined && stored.window_start === start ? stored.count : 0;
  return { start, endsAt: start + rule.perMs, used, left: Math.max(0, rule.max - used) };
}

/** The throttles table's key of a queue's or a job name's throttle. */
function throttleKey(kind: 'queue' | 'job', name: string): string {
  return `${kind}:${name}`;
}

/** True when `t` throttles anything. */
export function hasThrottles(t: Throttles | undefined): t is Throttles {
  return t !== undefined && (Object.keys(t.queues ?? {}).length > 0 || Object.keys(t.jobs ?? {}).length > 0);
}

/** The keys whose stored windows a claim of `queues` may count against: each throttled queue's among them, and every job name's. */
export function throttleKeys(t: Throttles, queues: readonly string[]): string[] {
  const keys = queues.filter((q) => t.queues?.[q] !== undefined).map((q) => throttleKey('queue', q));
  for (const name of Object.keys(t.jobs ?? {})) keys.push(throttleKey('job', name));
  return keys;
}

/** What a throttled claim asks its engine for: claim up to `limit` ready jobs of `queues` (in order), leaving jobs named in `exceptNames` pending. */
export interface ClaimStep {
  queues: readonly string[];
  limit: number;
  exceptNames: readonly string[];
}

/** Starts to add to a throttle's stored window (a new window restarts its count). */
interface ThrottleCount {
  key: string;
  max: number;
  perMs: number;
  windowStart: number;
  n: number;
}

/** What a throttled claim got, and the counts its engine writes back in the same transaction. */
export interface ThrottlePlan {
  claim: ThrottledClaim;
  counts: ThrottleCount[];
}

/** What planThrottledClaim decides from. */
export interface ThrottlePlanInput {
  /** Queues in claim order. */
  queues: readonly string[];
  /** At most this many jobs over all queues. */
  limit: number;
  /** The store's now (ms epoch). */
  now: number;
  throttles: Throttles | undefined;
  /** The job holds in force (holds.ts): their names stay pending until their `until`. */
  holds: readonly { name: string; until: number }[];
  /** The stored windows by key (at least those of throttleKeys; a missing key has counted nothing). */
  stored: ReadonlyMap<string, Pick<StoredThrottle, 'window_start' | 'count'>>;
}

interface Counted {
  key: string;
  rule: ThrottleRule;
  window: ThrottleWindow;
  added: number;
}

/**
 * The throttled claim (BullMQ's limiter, Laravel's RateLimited), as a plan its engine runs:
 * each yielded step is a claim to run (the engine sends back the jobs it claimed), and the
 * return value is what the claim got plus the starts to count. Queues are claimed in order;
 * held job names are skipped until their hold ends; a used-up queue is skipped (the next
 * queues are claimed); a used-up job name is left pending while the queue's other names are
 * claimed; no throttle starts more than its window has left. `retryAt` is the earliest end of
 * a hold or window that held something back. Without throttles: one claim of every queue.
 */
export function* planThrottledClaim(input: ThrottlePlanInput): Generator<ClaimStep, ThrottlePlan, ClaimedJob[]> {
  const { queues, limit, now, throttles, holds, stored } = input;
  const heldNames = holds.map((h) => h.name);
  let retryAt = holds.reduce((a, h) => Math.min(a, h.until), Infinity);
  const plan = (jobs: ClaimedJob[], throttledQueues: Set<string>, counts: ThrottleCount[]): ThrottlePlan =>
    ({ claim: { jobs, throttledQueues, retryAt: retryAt === Infinity ? undefined : retryAt }, counts });
  if (!hasThrottles(throttles)) return plan(yield { queues, limit, exceptNames: heldNames }, new Set(), []);
  const windows = new Map<string, Counted>();
  const counted = (key: string, rule: ThrottleRule): Counted => {
    let w = windows.get(key);
    if (!w) windows.set(key, (w = { key, rule, window: throttleWindow(rule, now, stored.get(key)), added: 0 }));
    return w;
  };
  const left = (w: Counted) => w.window.left - w.added;
  const heldBack = (w: Counted) => {
    retryAt = Math.min(retryAt, w.window.endsAt);
  };
  const jobRules = Object.entries(throttles.jobs ?? {});
  const out: ClaimedJob[] = [];
  const throttledQueues = new Set<string>();
  for (const queue of queues) {
    if (out.length >= limit) break;
    const qRule = throttles.queues?.[queue];
    const qw = qRule ? counted(throttleKey('queue', queue), qRule) : undefined;
    for (;;) {
      if (qw && left(qw) <= 0) {
        throttledQueues.add(queue);
        heldBack(qw);
        break;
      }
      const except = [...heldNames];
      let nameLeft = Infinity;
      for (const [name, rule] of jobRules) {
        const w = counted(throttleKey('job', name), rule);
        if (left(w) <= 0) {
          except.push(name);
          heldBack(w);
        } else nameLeft = Math.min(nameLeft, left(w));
      }
      const n = Math.min(limit - out.length, qw ? left(qw) : Infinity, nameLeft);
      if (n <= 0) break;
      const got: ClaimedJob[] = yield { queues: [queue], limit: n, exceptNames: except };
      for (const job of got) {
        out.push(job);
        if (qw) qw.added++;
        const rule = throttles.jobs?.[job.name];
        if (rule) counted(throttleKey('job', job.name), rule).added++;
      }
      if (got.length < n) {
        if (except.length > heldNames.length) throttledQueues.add(queue);
        break;
      }
      if (out.length >= limit) break;
    }
  }
  const counts = [...windows.values()].filter((w) => w.added > 0).map((w) => ({ key: w.key, max: w.rule.max, perMs: w.rule.perMs, windowStart: w.window.start, n: w.added }));
  return plan(out, throttledQueues, counts);
}

/**
 * The throttle states from the stored rows (ordered by key) at `now` (both engines): the
 * rules of `throttles`, or the stored ones when none is given; `waiting` counts a throttled
 * one's pending jobs (engine-specific, synchronous on SQLite; the PostgreSQL store fills it after).
 */
export function throttleStates(rows: readonly StoredThrottle[], now: number, throttles: Throttles | undefined, waiting: (kind: 'queue' | 'job', name: string) => number): ThrottleState[] {
  const stored = new Map(rows.map((r) => [r.key, r]));
  const rules = new Map<string, ThrottleRule>();
  if (throttles) {
    for (const [name, rule] of Object.entries(throttles.queues ?? {})) rules.set(throttleKey('queue', name), rule);
    for (const [name, rule] of Object.entries(throttles.jobs ?? {})) rules.set(throttleKey('job', name), rule);
  } else {
    for (const r of rows) rules.set(r.key, { max: r.max, perMs: r.per_ms });
  }
  const out: ThrottleState[] = [];
  for (const [key, rule] of rules) {
    const kind = key.startsWith('queue:') ? 'queue' : 'job';
    const name = key.slice(kind.length + 1);
    const w = throttleWindow(rule, now, stored.get(key));
    const throttled = w.left === 0;
    out.push({ kind, name, max: rule.max, perSeconds: rule.perMs / 1000, used: w.used, windowEndsAt: w.endsAt, throttled, waiting: throttled ? waiting(kind, name) : 0 });
  }
  return out;
}
