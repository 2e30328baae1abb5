/**
 * How the worker reacts to hints (src/daemon/waker.ts) and how the SQLite store commits
 * under contention and in durable mode (src/queue/store.ts). Real SQLite files; the other
 * process holding the write lock is a real child process.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Waker, type WakeHost } from '../../src/daemon/waker.js';
import { createSqliteStore, enqueue, openDatabase, type ClaimedJob, type Store } from '../../src/queue/index.js';
import { openTestDb } from '../support/db.js';
import { QUEUE_JS, tempDbPath, waitFor } from '../support/tmp.js';

const takeAll = (queues: readonly string[], limit: number) => ({ free: limit, workerId: 'w_test', leaseMs: 1_000, plan: (take: (q: readonly string[], l: number) => { jobs: ClaimedJob[] }) => take(queues, limit).jobs });

/** A slot loop that only records what the waker asks of it. */
function recordingHost(store: Store): WakeHost & { pumps: boolean[] } {
  const pumps: boolean[] = [];
  return { store, queues: ['default'], pumps, running: () => true, hasRoom: () => true, pump: (check) => void pumps.push(check), tick: async () => {} };
}

/** The waker's private reactions, driven as the -wal watch and the safety poll drive them. */
interface WakerInside {
  onWalEvent(): void;
  poll(): Promise<void>;
}

const turn = () => new Promise((r) => setImmediate(r));

describe('the waker', () => {
  it('re-reads after another process\'s event that found nothing, then claims once, so the claim waits for that commit', async () => {
    const store = createSqliteStore(openTestDb('queue'));
    const host = recordingHost(store);
    const waker = new Waker(host, { pollMs: 60_000, watchFile: undefined });
    (waker as unknown as WakerInside).onWalEvent();
    expect(host.pumps).toEqual([true]); // a hint: a cheap read first
    waker.nothingVisible();
    await turn();
    expect(host.pumps).toEqual([true]); // re-reading for a moment, nothing ready yet
    // then one claim, which takes the write lock (waited for: a loaded machine runs timers late)
    await waitFor(() => host.pumps.length > 1, 5_000, 'the claim');
    expect(host.pumps).toEqual([true, false]);
    waker.close();
  });

  it('claims as soon as a re-read after another process\'s event finds the job', async () => {
    const db = openTestDb('queue');
    const store = createSqliteStore(db);
    const host = recordingHost(store);
    const waker = new Waker(host, { pollMs: 60_000, watchFile: undefined });
    (waker as unknown as WakerInside).onWalEvent();
    waker.nothingVisible();
    // The other process's commit becomes visible while the waker re-reads.
    const other = openDatabase(db.name);
    enqueue(other, { name: 'x' });
    other.close();
    await turn();
    await turn();
    expect(host.pumps).toEqual([true, false]); // at the first re-read, not at the end of the window
    waker.close();
  });

  it('takes an event after our own write for its echo: no claim, only a later look', async () => {
    const db = openTestDb('queue');
    const store = createSqliteStore(db);
    const host = recordingHost(store);
    const waker = new Waker(host, { pollMs: 60_000, watchFile: undefined });
    const inside = waker as unknown as WakerInside;
    enqueue(db, { name: 'x', queue: 'elsewhere' }); // our own connection writes
    inside.onWalEvent();
    waker.nothingVisible();
    await turn();
    expect(host.pumps).toEqual([true]); // no claim for an echo
    // The later look claims only when something is ready: enqueue a ready job, and it claims.
    enqueue(db, { name: 'x' });
    await waitFor(() => host.pumps.length > 1, 5_000, 'the later look');
    expect(host.pumps).toEqual([true, false]);
    waker.close();
  });

  it('does nothing more after a safety poll that found nothing', async () => {
    const store = createSqliteStore(openTestDb('queue'));
    const host = recordingHost(store);
    const waker = new Waker(host, { pollMs: 60_000, watchFile: undefined });
    await (waker as unknown as WakerInside).poll();
    expect(host.pumps).toEqual([true]);
    waker.nothingVisible();
    await new Promise((r) => setTimeout(r, 30));
    expect(host.pumps).toEqual([true]);
    waker.close();
  });
});

describe('the SQLite store\'s commit', () => {
  it('runs a claim alone without the fsync in durable mode and keeps synchronous=FULL for everything else', async () => {
    const db = openDatabase(tempDbPath(), { durability: 'full' });
    const store = createSqliteStore(db);
    const seen: number[] = [];
    await store.enqueue({ name: 'x' });
    const { claimed } = await store.commit({ claim: { ...takeAll(['default'], 1), plan: (take) => (seen.push(db.pragma('synchronous', { simple: true }) as number), take(['default'], 1).jobs) } });
    expect(claimed).toHaveLength(1);
    expect(seen).toEqual([1]); // NORMAL inside the claim-only commit
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL again after it
    await store.commit({ completions: [{ lease: claimed[0]! }], claim: { ...takeAll(['default'], 1), plan: (take) => (seen.push(db.pragma('synchronous', { simple: true }) as number), take(['default'], 1).jobs) } });
    expect(seen).toEqual([1, 2]); // a commit with a result stays durable
    expect((await store.getJob(claimed[0]!.id))?.state).toBe('completed');
    db.close();
  });

  it('waits for a write lock another process holds, then commits, with the busy timeout put back', async () => {
    const file = tempDbPath();
    const db = openDatabase(file);
    const store = createSqliteStore(db);
    await store.enqueue({ name: 'x' });
    const timeout = db.pragma('busy_timeout', { simple: true });
    // Another process takes the write lock and keeps it for 300 ms (past the naps, into the busy handler).
    const holder = spawn(process.execPath, ['--input-type=module', '-e', `
      const { openDatabase } = await import(${JSON.stringify(QUEUE_JS)});
      const db = openDatabase(${JSON.stringify(file)});
      db.exec('BEGIN IMMEDIATE');
      db.prepare("UPDATE jobs SET priority = 7").run();
      process.stdout.write('locked\\n');
      setTimeout(() => { db.exec('COMMIT'); db.close(); }, 300);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((r) => holder.on('exit', r));
    await new Promise<void>((resolve) => holder.stdout.on('data', () => resolve()));
    const { claimed } = await store.commit({ claim: takeAll(['default'], 1) });
    expect(claimed).toHaveLength(1);
    expect(claimed[0]!.priority).toBe(7); // it saw the other process's commit
    expect(db.pragma('busy_timeout', { simple: true })).toBe(timeout);
    await exited;
    db.close();
    expect(fs.existsSync(file)).toBe(true);
  });
});
