/**
 * The monitors' read model over the Store and its replay (src/queue/store-model.ts): a
 * synchronous screen runs over an asynchronous model unchanged, each distinct call reaching
 * the model once; and the Ink monitor draws and acts on a PostgreSQL schema through it.
 */
import { describe, expect, it } from 'vitest';
import { render } from 'ink-testing-library';
import { Monitor } from '../../src/tui/App.js';
import type { DataSource } from '../../src/tui/types.js';
import { createStoreReadModel, replayModel } from '../../src/queue/store-model.js';
import { pgQueueRoom } from '../../src/queue/pg/migrations.js';
import { createPgStore } from '../../src/queue/pg/store.js';
import { pgSchemas } from '../support/pg.js';
import { waitFor } from '../support/tmp.js';

const pgs = pgSchemas('storemodel');

describe('replayModel', () => {
  it('runs a synchronous function over an async model: each distinct call once, errors where they were thrown, actions once', async () => {
    const calls: string[] = [];
    const model = {
      double: async (n: number) => (calls.push(`double ${n}`), n * 2),
      fail: async () => Promise.reject(new Error('no such thing')),
      actions: { bump: async (n: number) => (calls.push(`bump ${n}`), `bumped ${n}`) },
    };
    type M = { double(n: number): number; fail(): never; actions?: { bump(n: number): string }; missing?: () => number };
    const { model: m, run } = replayModel<M>(model);
    expect(await run((x) => x.double(1) + x.double(2) + x.double(1))).toBe(8);
    expect(calls).toEqual(['double 1', 'double 2']);
    // A screen may catch an error at the call that threw it.
    expect(await run((x) => {
      try {
        return x.fail();
      } catch (err) {
        return `caught: ${(err as Error).message}`;
      }
    })).toBe('caught: no such thing');
    await expect(run((x) => x.fail())).rejects.toThrow('no such thing');
    expect(await run((x) => x.actions!.bump(3))).toBe('bumped 3');
    expect(calls.filter((c) => c.startsWith('bump'))).toEqual(['bump 3']);
    // What the model lacks, the stand-in lacks; outside run() it refuses.
    expect(m.missing).toBeUndefined();
    expect(m.actions).toBeDefined();
    expect(() => m.double(1)).toThrow(/outside run\(\)/);
    // A screen that asks something new on every run (a clock inside it) is stopped.
    let t = 0;
    await expect(run((x) => x.double(t++))).rejects.toThrow(/more than \d+ distinct reads/);
  });
});

describe('the monitor over the PostgreSQL Store', () => {
  it('draws the overview and the failed screen from a PostgreSQL schema, and pauses a queue through it', async () => {
    const db = await pgs.open(pgs.name(), { rooms: [pgQueueRoom] });
    const store = createPgStore(db);
    await store.registerWorker({ id: 'w_mon', pid: 3, hostname: 'pg-host', version: 't', queues: ['default'], concurrency: 2 });
    await store.enqueueMany([{ name: 'alpha' }, { name: 'alpha' }, { name: 'beta', queue: 'high', tries: 1 }]);
    const [beta] = (await store.commit({ claim: { free: 1, workerId: 'w_mon', leaseMs: 60_000, plan: (take) => take(['high'], 1).jobs } })).claimed;
    await store.commit({ settlements: [{ kind: 'fail', lease: beta!, error: { message: 'beta broke' } }] });
    const views = createStoreReadModel(store, { configured: ['high', 'default', 'low'] });
    const { model: source, run } = replayModel<DataSource>(views);
    const at = store.now();
    const app = render(<Monitor source={source} run={run} clock={{ now: () => at }} refreshMs={0} theme="plain" size={{ columns: 100, rows: 30 }} />);
    try {
      await waitFor(() => /default +2 /.test(app.lastFrame() ?? ''), 5000, 'the overview with the default queue');
      expect(app.lastFrame()).toMatch(/ACTIVE · 1 daemon · 0\/2 busy/);
      app.stdin.write('3');
      await waitFor(() => (app.lastFrame() ?? '').includes('beta broke'), 5000, 'the failed screen');
      app.stdin.write('4');
      await waitFor(() => /default/.test(app.lastFrame() ?? '') && /QUEUE/.test(app.lastFrame() ?? ''), 5000, 'the queues screen');
    } finally {
      app.unmount();
    }
    const actions = views.actions!;
    expect(await actions.pauseQueue('default')).toBe('queue default paused');
    expect(await run((s) => s.actions!.continueQueue('default'))).toBe('queue default continued');
    expect((await store.pausedQueues()).has('default')).toBe(false);
  });
});
