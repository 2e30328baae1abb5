/** Seed a database with jobs in every state, failed jobs, a daemon and a batch, through src/queue's own functions. */
import { openAppDb } from '../../src/cli/db.js';
import * as q from '../../src/queue/index.js';

export interface Seeded {
  failedUuids: string[];
  batchId: string;
  workerId: string;
}

/** Fill `file` (created and migrated) with a small, varied queue as of `now`. */
export function seed(file: string, now = Date.now()): Seeded {
  const db = openAppDb(file);
  try {
    const workerId = 'w_0123456789ab';
    q.registerWorker(db, { id: workerId, pid: 4242, hostname: 'box-1', version: '0.1.0', queues: ['high', 'default', 'low'], concurrency: 4 }, now - 600_000);
    q.heartbeat(db, workerId, 1, 'running', now - 1_000);
    // Completed jobs over the past hour.
    for (let i = 0; i < 30; i++) {
      const at = now - (30 - i) * 60_000;
      q.enqueue(db, { name: i % 2 ? 'fetch-github' : 'write-review', queue: i % 3 ? 'default' : 'high', payload: { username: `user${i}` }, tags: ['analysis'] }, { now: at - 2_000 });
      const [c] = q.claim(db, { workerId, queues: ['high', 'default'], now: at - 1_000 });
      if (c) q.complete(db, { id: c.id, token: c.token }, at + (i === 7 ? 9_000 : 0));
    }
    // Failed jobs: two errors that fold into one fingerprint, and one other, one with control sequences.
    const failing = [
      'GitHub answered 502 for user 1234 after 3000 ms',
      'GitHub answered 503 for user 98 after 2990 ms',
      'model refused \u001b[31mRED\u001b[0m output',
    ];
    for (const [i, message] of failing.entries()) {
      q.enqueue(db, { name: 'fetch-github', queue: 'default', payload: { username: `bad${i}` }, tries: 1 }, { now: now - 120_000 });
      const [c] = q.claim(db, { workerId, queues: ['default'], now: now - 110_000 + i });
      if (c) q.release(db, { id: c.id, token: c.token }, { message, stack: `Error: ${message}\n    at handler (fetch.ts:${i + 10}:5)` }, now - 100_000 + i * 1000);
    }
    // A running job.
    q.enqueue(db, { name: 'write-review', queue: 'high', payload: { username: 'octocat' } }, { now: now - 20_000 });
    q.claim(db, { workerId, queues: ['high'], now: now - 15_000 });
    // Pending and delayed jobs.
    for (let i = 0; i < 5; i++) q.enqueue(db, { name: 'fetch-github', queue: 'low', payload: { username: `later${i}` }, tags: [`username:later${i}`] }, { now: now - 90_000 + i });
    q.enqueue(db, { name: 'notify', queue: 'default', delayMs: 600_000, payload: { hook: 'x' } }, { now: now - 1_000 });
    // A batch with one pending job.
    const batch = q.createBatch(db, { name: 'nightly', jobs: [{ name: 'fetch-github', queue: 'low', payload: { username: 'b1' } }] }, now - 5_000);
    q.pauseQueue(db, 'low', now - 1_000);
    const failedUuids = q.listFailed(db).map((f) => f.uuid);
    return { failedUuids, batchId: batch.id, workerId };
  } finally {
    db.close();
  }
}
