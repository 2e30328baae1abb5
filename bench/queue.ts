/**
 * Queue benchmarks: the raw better-sqlite3 floor, written straight in SQL, and the queue
 * library measured against it in the same run, on the same file settings (WAL, and
 * synchronous=NORMAL or FULL).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { claimInTx, completeManyInTx, enqueue, enqueueMany, immediate, openDatabase, type ClaimedJob, type Db, type Durability } from '../src/queue/index.js';

export type Figures = Record<string, number>;

function tmpFile(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitroast-bench-'));
  return path.join(dir, name);
}

function cleanup(file: string): void {
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
}

function rawDb(durability: Durability): { db: Database.Database; file: string } {
  const file = tmpFile('raw.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('temp_store = MEMORY');
  db.exec(`CREATE TABLE jobs (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL,
             attempts INTEGER NOT NULL DEFAULT 0, lease INTEGER, created_at INTEGER NOT NULL);
           CREATE INDEX jobs_ready ON jobs (queue, id) WHERE state = 'pending';`);
  return { db, file };
}

function seedRaw(db: Database.Database, n: number): void {
  const ins = db.prepare(`INSERT INTO jobs (queue, payload, state, created_at) VALUES ('default', '{}', 'pending', ?)`);
  db.transaction(() => {
    for (let i = 0; i < n; i++) ins.run(i);
  })();
}

/** Raw floor: one job per claim transaction and one per complete transaction. */
export function rawOneAtATime(n: number, durability: Durability = 'normal'): number {
  const { db, file } = rawDb(durability);
  seedRaw(db, n);
  const claim = db.prepare(`UPDATE jobs SET state = 'reserved', attempts = attempts + 1, lease = ?
    WHERE id = (SELECT id FROM jobs WHERE state = 'pending' AND queue = 'default' ORDER BY id LIMIT 1) RETURNING id, payload`);
  const done = db.prepare(`UPDATE jobs SET state = 'done' WHERE id = ?`);
  const claimTx = db.transaction(() => claim.get(Date.now()) as { id: number } | undefined);
  const doneTx = db.transaction((id: number) => done.run(id));
  const t = performance.now();
  let count = 0;
  for (;;) {
    const row = claimTx.immediate();
    if (!row) break;
    doneTx.immediate(row.id);
    count++;
  }
  const rate = count / ((performance.now() - t) / 1000);
  db.close();
  cleanup(file);
  return rate;
}

/** Raw floor: claim 32 in one statement, complete the 32 in one transaction. */
export function rawBatched(n: number, durability: Durability = 'normal', batch = 32): number {
  const { db, file } = rawDb(durability);
  seedRaw(db, n);
  const claim = db.prepare(`UPDATE jobs SET state = 'reserved', attempts = attempts + 1, lease = ?
    WHERE id IN (SELECT id FROM jobs WHERE state = 'pending' AND queue = 'default' ORDER BY id LIMIT ?) RETURNING id, payload`);
  const done = db.prepare(`UPDATE jobs SET state = 'done' WHERE id = ?`);
  const claimTx = db.transaction(() => claim.all(Date.now(), batch) as { id: number }[]);
  const doneTx = db.transaction((ids: number[]) => {
    for (const id of ids) done.run(id);
  });
  const t = performance.now();
  let count = 0;
  for (;;) {
    const rows = claimTx.immediate();
    if (rows.length === 0) break;
    doneTx.immediate(rows.map((r) => r.id));
    count += rows.length;
  }
  const rate = count / ((performance.now() - t) / 1000);
  db.close();
  cleanup(file);
  return rate;
}

/** Raw floor for enqueue: one INSERT per BEGIN IMMEDIATE transaction. */
export function rawInsertTx(n: number): number {
  const { db, file } = rawDb('normal');
  const ins = db.prepare(`INSERT INTO jobs (queue, payload, state, created_at) VALUES (?, ?, 'pending', ?)`);
  const tx = db.transaction((payload: string) => ins.run('default', payload, Date.now()));
  const t = performance.now();
  for (let i = 0; i < n; i++) tx.immediate(JSON.stringify({ i }));
  const rate = n / ((performance.now() - t) / 1000);
  db.close();
  cleanup(file);
  return rate;
}

/** Raw floor for bulk enqueue: the library's own insert statement on the jobs table, 10,000 rows a transaction, no validation. */
export function rawBulkInsert(n: number, chunk = 10_000): number {
  const file = tmpFile('rawbulk.db');
  const db = openDatabase(file);
  const ins = db.prepare(`INSERT INTO jobs (queue, name, payload, state, priority, max_attempts, backoff, timeout_ms,
                    retry_until, available_at, created_at, unique_key, tags, chain, batch_id)
                    VALUES (?, ?, ?, 'pending', 0, 3, NULL, NULL, NULL, ?, ?, NULL, NULL, NULL, NULL)`);
  const tx = db.transaction((from: number) => {
    const now = Date.now();
    for (let i = from; i < from + chunk; i++) ins.run('default', 'noop', JSON.stringify({ i }), now, now);
  });
  const t = performance.now();
  for (let done = 0; done < n; done += chunk) tx.immediate(done);
  const rate = n / ((performance.now() - t) / 1000);
  db.close();
  cleanup(file);
  return rate;
}

/** The library: enqueue one job per transaction. */
export function libEnqueueOne(n: number): number {
  const file = tmpFile('lib.db');
  const db = openDatabase(file);
  const t = performance.now();
  for (let i = 0; i < n; i++) enqueue(db, { name: 'noop', payload: { i } });
  const rate = n / ((performance.now() - t) / 1000);
  db.close();
  cleanup(file);
  return rate;
}

/** The library: enqueue `n` jobs with enqueueMany in chunks of `chunk` (one transaction each). */
export function libEnqueueBulk(n: number, chunk = 10_000): number {
  const file = tmpFile('lib.db');
  const db = openDatabase(file);
  const specs = Array.from({ length: chunk }, (_, i) => ({ name: 'noop', payload: { i } }));
  const t = performance.now();
  for (let done = 0; done < n; done += chunk) enqueueMany(db, specs);
  const rate = n / ((performance.now() - t) / 1000);
  db.close();
  cleanup(file);
  return rate;
}

function seedLib(db: Db, n: number): void {
  const specs = Array.from({ length: 10_000 }, () => ({ name: 'noop' }));
  for (let done = 0; done < n; done += specs.length) enqueueMany(db, specs.slice(0, Math.min(specs.length, n - done)));
}

/**
 * The library: drain `n` no-op jobs with batched claims and `concurrency` async handlers.
 * Completions of a batch and the next claim share one transaction (group commit), which is
 * what keeps durability=full within reach of normal.
 */
export async function libDrain(n: number, concurrency: number, durability: Durability = 'normal', batch = 32): Promise<number> {
  const file = tmpFile('lib.db');
  const db = openDatabase(file, { durability });
  seedLib(db, n);
  const handler = async (_payload: unknown): Promise<void> => {};
  const opts = { workerId: 'w_bench', limit: batch, queues: ['default'] };
  let done: ClaimedJob[] = [];
  let count = 0;
  const t = performance.now();
  for (;;) {
    const finished = done;
    const jobs = immediate(db, () => {
      const now = Date.now();
      completeManyInTx(db, finished, now);
      return claimInTx(db, { ...opts, now });
    });
    if (jobs.length === 0) break;
    let next = 0;
    const lane = async () => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        await handler(JSON.parse(job.payload));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, lane));
    count += jobs.length;
    done = jobs;
  }
  const rate = count / ((performance.now() - t) / 1000);
  const left = (db.prepare(`SELECT COUNT(*) AS n FROM jobs WHERE state != 'completed'`).get() as { n: number }).n;
  db.close();
  cleanup(file);
  if (left !== 0 || count !== n) throw new Error(`drain left ${left} jobs (drained ${count} of ${n})`);
  return rate;
}

/** Run every queue benchmark and return the figures (rates in jobs/s, ratios to their floor). */
export async function benchQueue(log: (line: string) => void = () => {}): Promise<Figures> {
  const f: Figures = {};
  const N = 50_000;
  log('raw floor…');
  f.raw_one_at_a_time_cycles_s = rawOneAtATime(20_000);
  f.raw_batched32_cycles_s = rawBatched(N);
  f.raw_insert_tx_s = rawInsertTx(20_000);
  log('library enqueue…');
  f.enqueue_one_s = libEnqueueOne(20_000);
  f.raw_bulk_insert_s = rawBulkInsert(200_000);
  f.enqueue_bulk_s = libEnqueueBulk(200_000);
  log('library drain…');
  // Claims of 128 per transaction (completions of the previous 128 share its commit): the
  // per-commit page writes of six partial indexes are what a 32-job claim cannot amortise.
  // `drain_lib_claim128_c1` is this library loop with one handler lane, claiming 128 at a
  // time: not the one-slot daemon (that is daemon_drain_c1, which claims one at a time).
  f.drain_lib_claim128_c1_s = await libDrain(N, 1, 'normal', 128);
  f.drain_c16_s = await libDrain(N, 16, 'normal', 128);
  f.drain_c16_batch32_s = await libDrain(N, 16, 'normal', 32);
  log('durability=full…');
  f.raw_batched32_full_cycles_s = rawBatched(20_000, 'full');
  f.drain_c16_full_s = await libDrain(20_000, 16, 'full', 128);
  f.ratio_enqueue_one_to_raw_insert = f.enqueue_one_s / f.raw_insert_tx_s;
  f.ratio_enqueue_bulk_to_raw_bulk = f.enqueue_bulk_s / f.raw_bulk_insert_s;
  f.ratio_drain_lib_claim128_c1_to_batched_floor = f.drain_lib_claim128_c1_s / f.raw_batched32_cycles_s;
  f.ratio_drain_c16_to_batched_floor = f.drain_c16_s / f.raw_batched32_cycles_s;
  f.ratio_drain_c16_batch32_to_batched_floor = f.drain_c16_batch32_s / f.raw_batched32_cycles_s;
  f.ratio_drain_c16_full_to_full_floor = f.drain_c16_full_s / f.raw_batched32_full_cycles_s;
  return f;
}
