import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createBatch, enqueueMany, listJobs, openDatabase, queueStats } from '../../src/queue/index.js';
import { QUEUE_JS, ROOT, tempDbPath } from '../support/tmp.js';

const WORKER = `${ROOT}/test/support/drain-worker.mjs`;

function runWorker(dbPath: string, id: string): Promise<{ claimed: number[]; rejected: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, QUEUE_JS, dbPath, id, '300'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker ${id} exited ${code}: ${err}`))));
  });
}

/** Writes the go file once both workers said they are ready, so that they start together. */
async function startTogether(file: string, ids: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!ids.every((id) => fs.existsSync(`${file}.ready.${id}`))) {
    if (Date.now() > deadline) throw new Error('the workers never became ready');
    await new Promise((r) => setTimeout(r, 5));
  }
  fs.writeFileSync(`${file}.go`, '');
}

describe('two processes on one database', () => {
  it('never claim the same job, and together claim every job exactly once', async () => {
    const file = tempDbPath();
    const db = openDatabase(file);
    enqueueMany(db, Array.from({ length: 2000 }, (_, i) => ({ name: 'noop', payload: { i } })));
    const both = Promise.all([runWorker(file, 'w_a'), runWorker(file, 'w_b')]);
    await startTogether(file, ['w_a', 'w_b']);
    const [a, b] = await both;
    expect(a.claimed.length).toBeGreaterThan(0);
    expect(b.claimed.length).toBeGreaterThan(0);
    const all = [...a.claimed, ...b.claimed];
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(2000);
    expect(a.rejected + b.rejected).toBe(0);
    expect(queueStats(db).find((s) => s.queue === 'default')).toMatchObject({ pending: 0, reserved: 0 });
    db.close();
  }, 60_000);

  it('enqueue a batch\'s then and finally exactly once when its last jobs complete together in two processes', async () => {
    const file = tempDbPath();
    const db = openDatabase(file);
    const batches = Array.from({ length: 150 }, (_, i) =>
      createBatch(db, { name: `b${i}`, jobs: [{ name: 'work' }, { name: 'work' }], then: { name: 'then', queue: 'low', payload: { i } }, finally: { name: 'finally', queue: 'low', payload: { i } } }),
    );
    // Park the callbacks: only the batch jobs are drained by the workers.
    db.prepare(`INSERT INTO queues (name, paused) VALUES ('low', 1)`).run();
    const both = Promise.all([runWorker(file, 'w_a'), runWorker(file, 'w_b')]);
    await startTogether(file, ['w_a', 'w_b']);
    const [a, b] = await both;
    expect(a.claimed.length + b.claimed.length).toBe(300);
    const thens = listJobs(db, { state: 'pending', name: 'then', limit: 1000 });
    const finals = listJobs(db, { state: 'pending', name: 'finally', limit: 1000 });
    expect(thens.length).toBe(150);
    expect(finals.length).toBe(150);
    const perBatch = new Map<string, number>();
    for (const j of thens) {
      const id = (j.payload as { batch: { id: string } }).batch.id;
      perBatch.set(id, (perBatch.get(id) ?? 0) + 1);
    }
    expect([...perBatch.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(batches.map((x) => x.id))).toEqual(new Set(perBatch.keys()));
    db.close();
  }, 60_000);
});
