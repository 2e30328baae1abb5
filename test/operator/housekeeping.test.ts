import { describe, expect, it } from 'vitest';
import { addHousekeeping, Registry } from '../../src/daemon/index.js';
import { claim, complete, enqueue, listSnapshots, openDatabase, type Db } from '../../src/queue/index.js';
import { tempDbPath } from '../support/tmp.js';

function runSchedule(registry: Registry, name: string, db: Db, at: number): Promise<unknown> {
  const s = registry.listSchedules().find((x) => x.name === name);
  if (!s || typeof s.target !== 'function') throw new Error(`no function schedule ${name}`);
  return Promise.resolve(s.target({ db, at, idle: () => true } as never));
}

describe('metrics snapshots', () => {
  it('count each finished job once when the schedule is re-timed to every 10 s', () => {
    const db = openDatabase(tempDbPath());
    const registry = new Registry();
    addHousekeeping(registry);
    const t0 = 1_700_000_000_000;
    let done = 0;
    // 34 jobs, one finishing every 17 s, with a snapshot every 10 s over ten minutes.
    for (let t = t0; t <= t0 + 600_000; t += 1000) {
      if ((t - t0) % 17_000 === 0 && done < 34) {
        enqueue(db, { name: 'work', queue: 'default' }, { now: t - 500 });
        const [job] = claim(db, { workerId: 'w_test', now: t - 200, queues: ['default'] });
        expect(complete(db, job!, t)).toBe(true);
        done++;
      }
      if ((t - t0) % 10_000 === 0) runSchedule(registry, 'snapshot-metrics', db, t);
    }
    const snaps = listSnapshots(db, 0).filter((s) => s.kind === 'queue' && s.key === 'default');
    expect(done).toBe(34);
    expect(snaps.reduce((sum, s) => sum + s.processed, 0)).toBe(34);
    // Each later snapshot covers the time since the one before it (10 s, or 20 s after an empty tick), not 300 s.
    for (const s of snaps.slice(1)) expect([10_000, 20_000]).toContain(s.windowMs);
    db.close();
  });
});

describe('pruning finished batches', () => {
  it('deletes a batch finished more than 48 h ago with the trim schedule, and keeps younger and running ones', async () => {
    const { createBatch, getBatch } = await import('../../src/queue/index.js');
    const db = openDatabase(tempDbPath());
    const registry = new Registry();
    addHousekeeping(registry);
    const t0 = 1_700_000_000_000;
    const old = createBatch(db, { jobs: [] }, t0);
    const young = createBatch(db, { jobs: [] }, t0 + 47 * 3_600_000);
    const running = createBatch(db, { jobs: [{ name: 'x' }] }, t0);
    expect(getBatch(db, old.id)!.finishedAt).toBe(t0);
    expect(await runSchedule(registry, 'trim-jobs', db, t0 + 48 * 3_600_000 + 1)).toMatch(/pruned 1 finished batches/);
    expect(getBatch(db, old.id)).toBeUndefined();
    expect(getBatch(db, young.id)).toBeDefined();
    expect(getBatch(db, running.id)).toBeDefined();
    db.close();
  });
});
