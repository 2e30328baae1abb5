/**
 * The throttle window rule (src/queue/throttle-rules.ts), shared by both engines, on
 * hand-worked cases. The claims a plan asks for are answered from a list of pending jobs
 * written out here (first come, skipping the names it leaves pending); the engines' own
 * claims and counts run on real databases in store-engines.test.ts and supervisor-unit.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { planThrottledClaim, throttleKeys, throttleStates, throttleWindow, type ClaimStep, type ThrottlePlanInput } from '../../src/queue/throttle-rules.js';
import type { ClaimedJob } from '../../src/queue/index.js';

const MIN = 60_000;
/** 10 min 12.345 s after the epoch: inside the minute window [600,000, 660,000). */
const NOW = 612_345;

function job(id: number, queue: string, name: string): ClaimedJob {
  return { id, queue, name, payload: '{}', priority: 0, attempts: 1, maxAttempts: 1, timeoutMs: null, availableAt: 0, token: 1 };
}

/** Run a plan to its end, answering each step from `pending` (in order); the steps it asked and what it returned. */
function drive(input: Partial<ThrottlePlanInput>, pending: ClaimedJob[]) {
  const plan = planThrottledClaim({ queues: ['default'], limit: 10, now: NOW, throttles: undefined, holds: [], stored: new Map(), ...input });
  const left = [...pending];
  const steps: ClaimStep[] = [];
  let step = plan.next();
  while (!step.done) {
    const ask = step.value;
    steps.push(ask);
    const got: ClaimedJob[] = [];
    for (const q of ask.queues) {
      for (const j of left.filter((x) => x.queue === q && !ask.exceptNames.includes(x.name))) {
        if (got.length < ask.limit) got.push(j);
      }
    }
    for (const j of got) left.splice(left.indexOf(j), 1);
    step = plan.next(got);
  }
  const { claim, counts } = step.value;
  return { steps, ids: claim.jobs.map((j) => j.id), throttledQueues: [...claim.throttledQueues], retryAt: claim.retryAt, counts };
}

describe('throttleWindow', () => {
  const rule = { max: 3, perMs: MIN };

  it('aligns the window to the epoch and counts what was stored in it', () => {
    expect(throttleWindow(rule, NOW, { window_start: 600_000, count: 2 })).toEqual({ start: 600_000, endsAt: 660_000, used: 2, left: 1 });
  });

  it('puts a window\'s last millisecond in it and its end in the next window', () => {
    expect(throttleWindow(rule, 659_999, { window_start: 600_000, count: 3 })).toEqual({ start: 600_000, endsAt: 660_000, used: 3, left: 0 });
    expect(throttleWindow(rule, 660_000, { window_start: 600_000, count: 3 })).toEqual({ start: 660_000, endsAt: 720_000, used: 0, left: 3 });
  });

  it('counts nothing from a window that has passed, or from no row at all', () => {
    expect(throttleWindow(rule, NOW, { window_start: 540_000, count: 3 }).used).toBe(0);
    expect(throttleWindow(rule, NOW).left).toBe(3);
  });

  it('leaves nothing, never less, once the limit is reached or passed (a rule lowered after counting)', () => {
    expect(throttleWindow(rule, NOW, { window_start: 600_000, count: 3 }).left).toBe(0);
    expect(throttleWindow({ max: 2, perMs: MIN }, NOW, { window_start: 600_000, count: 5 }).left).toBe(0);
  });
});

describe('throttleKeys', () => {
  it('names the throttled queues among those claimed, and every throttled job name', () => {
    const t = { queues: { default: { max: 1, perMs: MIN }, low: { max: 1, perMs: MIN } }, jobs: { a: { max: 1, perMs: MIN }, b: { max: 1, perMs: MIN } } };
    expect(throttleKeys(t, ['high', 'default'])).toEqual(['queue:default', 'job:a', 'job:b']);
  });
});

describe('planThrottledClaim', () => {
  it('without throttles or holds asks one claim of every queue and counts nothing', () => {
    const r = drive({ queues: ['high', 'default'], limit: 3 }, [job(1, 'default', 'a'), job(2, 'high', 'a'), job(3, 'default', 'a'), job(4, 'default', 'a')]);
    expect(r.steps).toEqual([{ queues: ['high', 'default'], limit: 3, exceptNames: [] }]);
    expect(r.ids).toEqual([2, 1, 3]);
    expect(r).toMatchObject({ throttledQueues: [], retryAt: undefined, counts: [] });
  });

  it('leaves held names pending and comes back when the earliest hold ends', () => {
    const r = drive({ holds: [{ name: 'a', until: 700_000 }, { name: 'b', until: 650_000 }] }, [job(1, 'default', 'a'), job(2, 'default', 'c')]);
    expect(r.steps).toEqual([{ queues: ['default'], limit: 10, exceptNames: ['a', 'b'] }]);
    expect(r.ids).toEqual([2]);
    expect(r.retryAt).toBe(650_000);
  });

  it('starts what a queue\'s window has left, counts it in that window, and comes back when the window ends', () => {
    const throttles = { queues: { default: { max: 3, perMs: MIN } } };
    const stored = new Map([['queue:default', { window_start: 600_000, count: 1 }]]);
    const pending = [1, 2, 3, 4].map((i) => job(i, 'default', 'a'));
    const r = drive({ throttles, stored }, pending);
    expect(r.steps).toEqual([{ queues: ['default'], limit: 2, exceptNames: [] }]);
    expect(r.ids).toEqual([1, 2]);
    expect(r.throttledQueues).toEqual(['default']);
    expect(r.retryAt).toBe(660_000);
    expect(r.counts).toEqual([{ key: 'queue:default', max: 3, perMs: MIN, windowStart: 600_000, n: 2 }]);
  });

  it('claims nothing of a queue whose limit is exactly reached, and goes on to the next queue', () => {
    const throttles = { queues: { high: { max: 2, perMs: MIN } } };
    const stored = new Map([['queue:high', { window_start: 600_000, count: 2 }]]);
    const r = drive({ queues: ['high', 'default'], throttles, stored }, [job(1, 'high', 'a'), job(2, 'default', 'a')]);
    expect(r.steps).toEqual([{ queues: ['default'], limit: 10, exceptNames: [] }]);
    expect(r.ids).toEqual([2]);
    expect(r.throttledQueues).toEqual(['high']);
    expect(r.retryAt).toBe(660_000);
    expect(r.counts).toEqual([]);
  });

  it('counts a window that has passed as empty: its full max starts, counted in the new window', () => {
    const throttles = { queues: { default: { max: 2, perMs: MIN } } };
    const stored = new Map([['queue:default', { window_start: 540_000, count: 2 }]]);
    const r = drive({ throttles, stored }, [1, 2, 3].map((i) => job(i, 'default', 'a')));
    expect(r.ids).toEqual([1, 2]);
    expect(r.counts).toEqual([{ key: 'queue:default', max: 2, perMs: MIN, windowStart: 600_000, n: 2 }]);
    expect(r.retryAt).toBe(660_000);
  });

  it('leaves a used-up job name pending while the queue\'s other names start, and bounds each claim by what a named window has left', () => {
    const throttles = { jobs: { a: { max: 1, perMs: MIN }, b: { max: 2, perMs: 10_000 } } };
    // a: used up in this minute; b: 1 of 2 used in [610,000, 620,000).
    const stored = new Map([['job:a', { window_start: 600_000, count: 1 }], ['job:b', { window_start: 610_000, count: 1 }]]);
    const pending = [job(1, 'default', 'a'), job(2, 'default', 'b'), job(3, 'default', 'c'), job(4, 'default', 'b')];
    const r = drive({ limit: 5, throttles, stored }, pending);
    // b has 1 left, so the first claim asks for 1 (it gets b: job 2); b is then used up too, so
    // the second asks for the 4 still allowed of any other name: it gets c (3), and a and b wait.
    expect(r.steps).toEqual([
      { queues: ['default'], limit: 1, exceptNames: ['a'] },
      { queues: ['default'], limit: 4, exceptNames: ['a', 'b'] },
    ]);
    expect(r.ids).toEqual([2, 3]);
    expect(r.throttledQueues).toEqual(['default']);
    expect(r.retryAt).toBe(620_000);
    expect(r.counts).toEqual([{ key: 'job:b', max: 2, perMs: 10_000, windowStart: 610_000, n: 1 }]);
  });

  it('stops at the limit without asking again, and does not call a queue throttled when it simply ran out of jobs', () => {
    const throttles = { queues: { default: { max: 100, perMs: MIN } } };
    const full = drive({ limit: 2, throttles }, [1, 2, 3].map((i) => job(i, 'default', 'a')));
    expect(full.steps).toHaveLength(1);
    expect(full.ids).toEqual([1, 2]);
    const short = drive({ limit: 5, throttles }, [job(1, 'default', 'a')]);
    expect(short.throttledQueues).toEqual([]);
    expect(short.retryAt).toBeUndefined();
    expect(short.counts).toEqual([{ key: 'queue:default', max: 100, perMs: MIN, windowStart: 600_000, n: 1 }]);
  });
});

describe('throttleStates', () => {
  it('shows a used-up window as throttled until its end, with its pending jobs; an earlier window as open', () => {
    const rows = [
      { key: 'job:a', max: 2, per_ms: MIN, window_start: 600_000, count: 2 },
      { key: 'queue:low', max: 5, per_ms: MIN, window_start: 540_000, count: 5 },
    ];
    const states = throttleStates(rows, NOW, undefined, (kind, name) => (kind === 'job' && name === 'a' ? 7 : -1));
    expect(states).toEqual([
      { kind: 'job', name: 'a', max: 2, perSeconds: 60, used: 2, windowEndsAt: 660_000, throttled: true, waiting: 7 },
      { kind: 'queue', name: 'low', max: 5, perSeconds: 60, used: 0, windowEndsAt: 660_000, throttled: false, waiting: 0 },
    ]);
  });
});
