import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, supervisorsOf, throttlesOf } from '../../src/cli/config.js';
import { openAppDb } from '../../src/cli/db.js';
import { Registry, startWorker, type WorkerHandle } from '../../src/daemon/index.js';
import { SupervisorPool, autoScale, simpleSlots, type Load } from '../../src/daemon/supervisor.js';
import { claimThrottledInTx, enqueueMany, immediate, listThrottles, type Db, type Throttles } from '../../src/queue/index.js';
import { tempDbPath, waitFor } from '../support/tmp.js';
import { writeConfig } from './support.js';

const opened: Db[] = [];
const workers: WorkerHandle[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop({ graceMs: 0 });
  for (const db of opened.splice(0)) db.close();
});

function open(file = tempDbPath()): Db {
  const db = openAppDb(file);
  opened.push(db);
  return db;
}

const obj = (m: ReadonlyMap<string, number>) => Object.fromEntries(m);
const sum = (m: ReadonlyMap<string, number>) => [...m.values()].reduce((s, n) => s + n, 0);

describe('simple balance (simpleSlots)', () => {
  it.each([
    { queues: ['a', 'b'], max: 10, want: { a: 5, b: 5 } },
    { queues: ['a', 'b', 'c'], max: 10, want: { a: 4, b: 3, c: 3 } },
    { queues: ['a', 'b', 'c'], max: 2, want: { a: 1, b: 1, c: 0 } },
    { queues: ['only'], max: 7, want: { only: 7 } },
    { queues: ['h', 'd', 'l', 'x'], max: 6, want: { h: 2, d: 2, l: 1, x: 1 } },
  ])('splits $max slots over $queues evenly, the remainder to the first queues', ({ queues, max, want }) => {
    const got = simpleSlots(queues, max);
    expect(obj(got)).toEqual(want);
    expect(sum(got)).toBe(max);
  });
});

describe('auto balance (autoScale, Horizon\'s AutoScaler)', () => {
  const load = (queue: string, pending: number, avgRuntimeMs = 1): Load => ({ queue, pending, avgRuntimeMs });
  const size = { strategy: 'size' as const, maxProcesses: 10, minProcesses: 1, maxShift: 1 };

  it.each([
    // The size strategy: shares of pending jobs, whatever their runtime.
    { name: 'a burst on one queue grows it by the shift', loads: [load('a', 100, 50), load('b', 0)], cur: { a: 1, b: 1 }, o: size, want: { a: 2, b: 1 } },
    { name: 'a big shift grows it into the free slots only', loads: [load('a', 100), load('b', 0)], cur: { a: 1, b: 1 }, o: { ...size, maxShift: 20 }, want: { a: 9, b: 1 } },
    { name: 'even loads, even shares', loads: [load('a', 50), load('b', 50)], cur: { a: 1, b: 1 }, o: { ...size, maxShift: 20 }, want: { a: 5, b: 5 } },
    // Shares 7.5 and 2.5 round up to 8 and 3; b is visited first and a gets what is left.
    { name: 'size ignores runtime; rounding up never passes the total', loads: [load('a', 30, 1000), load('b', 10, 1)], cur: { a: 1, b: 1 }, o: { ...size, maxShift: 20 }, want: { a: 7, b: 3 } },
    { name: 'the shrinking queue frees a slot first, the growing one takes it', loads: [load('a', 0), load('b', 100)], cur: { a: 9, b: 1 }, o: size, want: { a: 8, b: 2 } },
    { name: 'no work anywhere: back to the minimums, one shift at a time', loads: [load('a', 0), load('b', 0)], cur: { a: 5, b: 3 }, o: { ...size, maxShift: 2 }, want: { a: 3, b: 1 } },
    { name: 'never below the minimum per queue', loads: [load('a', 0), load('b', 0), load('c', 1000)], cur: { a: 2, b: 2, c: 6 }, o: { ...size, minProcesses: 2, maxShift: 5 }, want: { a: 2, b: 2, c: 6 } },
    { name: 'first run starts from the minimums', loads: [load('a', 10), load('b', 10)], cur: {}, o: { ...size, minProcesses: 2, maxShift: 1 }, want: { a: 3, b: 3 } },
  ])('size: $name', ({ loads, cur, o, want }) => {
    const got = autoScale(loads, new Map(Object.entries(cur)), o);
    expect(obj(got)).toEqual(want);
    expect(sum(got)).toBeLessThanOrEqual(o.maxProcesses);
  });

  it.each([
    // The time strategy: shares of pending × average runtime.
    // 10 × 1000 ms against 100 × 10 ms: shares 9.1 and 0.9.
    { name: 'a slow queue outweighs a long fast one', loads: [load('a', 10, 1000), load('b', 100, 10)], want: { a: 9, b: 1 } },
    { name: 'the same loads by size go the other way', loads: [load('a', 10, 1000), load('b', 100, 10)], strategy: 'size' as const, want: { a: 1, b: 9 } },
    { name: 'unknown runtime counts as 1 ms', loads: [load('a', 10, 1), load('b', 10, 1)], want: { a: 5, b: 5 } },
  ])('time: $name', ({ loads, want, strategy }) => {
    const got = autoScale(loads, new Map([['a', 1], ['b', 1]]), { strategy: strategy ?? 'time', maxProcesses: 10, minProcesses: 1, maxShift: 10 });
    expect(obj(got)).toEqual(want);
  });

  it('moves at most the shift per rebalance and waits the cooldown between rebalances', () => {
    const pool = new SupervisorPool({ name: 's', queues: ['a', 'b'], balance: 'auto', autoScalingStrategy: 'size', maxProcesses: 6, balanceMaxShift: 2, balanceCooldownMs: 1000 }, 0);
    const burst = new Map([['a', 500]]);
    const rt = () => undefined;
    expect(pool.rebalance(burst, rt, 0)).toBe(true);
    expect(pool.slots()).toEqual({ a: 3, b: 1 });
    expect(pool.rebalance(burst, rt, 999)).toBe(false); // cooling down
    expect(pool.rebalance(burst, rt, 1000)).toBe(true);
    expect(pool.slots()).toEqual({ a: 5, b: 1 });
    expect(pool.rebalance(burst, rt, 2000)).toBe(false); // the total is reached
    expect(pool.slots()).toEqual({ a: 5, b: 1 });
    expect(pool.rebalance(new Map(), rt, 3000)).toBe(true); // the burst ended
    expect(pool.slots()).toEqual({ a: 3, b: 1 });
    expect(pool.rebalance(new Map(), rt, 4000)).toBe(true);
    expect(pool.slots()).toEqual({ a: 1, b: 1 });
    expect(pool.scaledAt).toBe(4000);
  });
});

describe('supervisor config', () => {
  it('fills defaults from the top-level keys, and refuses an unknown --supervisor or minimums that do not fit', () => {
    const file = writeConfig({
      concurrency: 7, queues: ['high', 'low'], timeoutSeconds: 30,
      supervisors: { web: { queues: ['a', 'b'], balance: 'auto', maxProcesses: 4, balanceCooldown: 0.5 }, bg: {} },
      throttles: { queues: { a: { max: 10, perSeconds: 60 } }, jobs: { 'fetch-github': { max: 5, perSeconds: 1.5 } } },
    });
    const { config } = loadConfig({ configFlag: file, env: {} });
    expect(supervisorsOf(config)).toEqual([
      { name: 'web', queues: ['a', 'b'], balance: 'auto', autoScalingStrategy: 'time', maxProcesses: 4, minProcesses: 1, balanceMaxShift: 1, balanceCooldownMs: 500, timeoutMs: 30_000 },
      { name: 'bg', queues: ['high', 'low'], balance: false, autoScalingStrategy: 'time', maxProcesses: 7, minProcesses: 1, balanceMaxShift: 1, balanceCooldownMs: 3000, timeoutMs: 30_000 },
    ]);
    expect(supervisorsOf(config, 'bg')!.map((s) => s.name)).toEqual(['bg']);
    expect(() => supervisorsOf(config, 'nope')).toThrow(/--supervisor "nope": no such supervisor in the config \(configured: web, bg\)/);
    expect(throttlesOf(config)).toEqual({ queues: { a: { max: 10, perMs: 60_000 } }, jobs: { 'fetch-github': { max: 5, perMs: 1500 } } });
    const none = loadConfig({ configFlag: writeConfig({}), env: {} }).config;
    expect(supervisorsOf(none)).toBeUndefined();
    const tight = loadConfig({ configFlag: writeConfig({ supervisors: { s: { queues: ['a', 'b', 'c'], balance: 'auto', minProcesses: 2, maxProcesses: 5 } } }), env: {} }).config;
    expect(() => supervisorsOf(tight)).toThrow(/supervisors\.s: minProcesses 2 × 3 queues is more than maxProcesses 5/);
    expect(() => loadConfig({ configFlag: writeConfig({ supervisors: { s: { balance: 'fast' } } }), env: {} })).toThrow(/supervisors\.s\.balance/);
    expect(() => loadConfig({ configFlag: writeConfig({ throttles: { queues: { a: { max: 0, perSeconds: 1 } } } }), env: {} })).toThrow(/throttles\.queues\.a\.max/);
  });
});

describe('throttles (claimThrottledInTx)', () => {
  it('never lets two connections together start more than max per window, and holds throttled jobs as pending with no attempt spent', () => {
    const file = tempDbPath();
    const a = open(file);
    const b = open(file);
    enqueueMany(a, Array.from({ length: 200 }, (_, i) => ({ name: i % 4 === 0 ? 'slow-api' : 'work', queue: i % 2 ? 'default' : 'low' })));
    const throttles: Throttles = { queues: { default: { max: 7, perMs: 1000 } }, jobs: { 'slow-api': { max: 3, perMs: 1000 } } };
    const starts: { at: number; queue: string; name: string }[] = [];
    // Two "daemons" alternate claims of random sizes over 5 windows, 50 ms apart.
    for (let t = 10_000; t < 15_000; t += 50) {
      for (const db of [a, b]) {
        const got = immediate(db, () => claimThrottledInTx(db, { workerId: db === a ? 'A' : 'B', queues: ['default', 'low'], limit: 1 + (t % 7), now: t, throttles }));
        for (const j of got.jobs) starts.push({ at: t, queue: j.queue, name: j.name });
        if (got.throttledQueues.has('default')) expect(got.retryAt).toBe(Math.floor(t / 1000) * 1000 + 1000);
      }
    }
    const perWindow = (pick: (s: (typeof starts)[number]) => boolean) => {
      const m = new Map<number, number>();
      for (const s of starts.filter(pick)) m.set(Math.floor(s.at / 1000), (m.get(Math.floor(s.at / 1000)) ?? 0) + 1);
      return [...m.values()];
    };
    const defaults = perWindow((s) => s.queue === 'default');
    const slow = perWindow((s) => s.name === 'slow-api');
    // The limits are reached (they bind) and never passed.
    expect(Math.max(...defaults)).toBe(7);
    expect(Math.max(...slow)).toBe(3);
    expect(defaults).toHaveLength(5);
    // Slots the throttles blocked went to other work: low's `work` jobs all ran.
    const lowWork = starts.filter((s) => s.queue === 'low' && s.name === 'work').length;
    expect(lowWork).toBe(100 - 50); // every low job not named slow-api (half of low's 100)
    const waiting = a.prepare(`SELECT COUNT(*) AS n, MAX(attempts) AS attempts FROM jobs WHERE state = 'pending'`).get() as { n: number; attempts: number };
    expect(waiting.n).toBeGreaterThan(0);
    expect(waiting.attempts).toBe(0);
    const shown = listThrottles(a, 14_500, throttles);
    expect(shown).toEqual(expect.arrayContaining([
      expect.objectContaining({ kind: 'queue', name: 'default', max: 7, used: 7, throttled: true, windowEndsAt: 15_000 }),
      expect.objectContaining({ kind: 'job', name: 'slow-api', max: 3, used: 3, throttled: true }),
    ]));
    expect(shown.find((t) => t.name === 'default')!.waiting).toBeGreaterThan(0);
  });

  it('gives a throttled queue\'s slots to the supervisor\'s other queues (simple caps)', async () => {
    const db = open();
    let running = 0;
    let peakLow = 0;
    const release: (() => void)[] = [];
    const registry = new Registry().register('hold', {
      handle: (p: { q: string }) => new Promise<void>((r) => {
        running++;
        if (p.q === 'low') peakLow = Math.max(peakLow, running);
        release.push(() => { running--; r(); });
      }),
    });
    enqueueMany(db, Array.from({ length: 6 }, () => ({ name: 'hold', queue: 'high', payload: { q: 'high' } })));
    enqueueMany(db, Array.from({ length: 6 }, () => ({ name: 'hold', queue: 'low', payload: { q: 'low' } })));
    // Caps 2 + 2; high may start 1 per minute: its other slot goes to low.
    const w = startWorker(db, registry, {
      heartbeatMs: 50, pollMs: 50,
      supervisors: [{ name: 's', queues: ['high', 'low'], balance: 'simple', maxProcesses: 4 }],
      throttles: { queues: { high: { max: 1, perMs: 60_000 } } },
    });
    workers.push(w);
    await waitFor(() => running === 4, 5000, 'four jobs running');
    const state = w.supervisors()[0]!;
    expect(state.slots).toEqual({ high: 2, low: 2 });
    expect(state.busyByQueue).toEqual({ high: 1, low: 3 });
    expect(peakLow).toBe(4);
    for (const r of release.splice(0)) r();
  });
});
