/**
 * Benchmark: the time to build one overview frame's data (everything `gitroast monitor`
 * reads for screen 1, in one read transaction on a read-only connection) with 100,000 and
 * 1,000,000 jobs in the database. Target: ≤ 50 ms at 100,000.
 *
 * The jobs are spread as a busy installation holds them: 60 % completed over the past 90
 * minutes (the default trim keeps one hour), 25 % pending on three queues, 5 % delayed, 5 %
 * failed (each with its failed_jobs row), 50 running, the rest cancelled.
 *
 * Run: `npm run build && node dist/bench/monitor.js` (or through `npm run bench`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { openDatabase, type Db } from '../src/queue/index.js';
import { overviewData } from '../src/tui/source.js';

const QUEUES = ['high', 'default', 'low'];
const NAMES = ['fetch-github', 'write-review', 'notify', 'prune'];

/** Fill `db` with `n` jobs in one transaction through one prepared insert. */
export function seedJobs(db: Db, n: number, now: number): void {
  const insertJob = db.prepare(`
    INSERT INTO jobs (queue, name, payload, state, priority, attempts, max_attempts, available_at, created_at, reserved_at, finished_at,
                      reserved_by, lease_expires_at, tags)
    VALUES (?, ?, ?, ?, 0, ?, 3, ?, ?, ?, ?, ?, ?, ?)`);
  const insertFailed = db.prepare(`
    INSERT INTO failed_jobs (uuid, job_id, queue, name, payload, options, tags, attempts, error, failed_at)
    VALUES (?, ?, ?, ?, ?, '{}', NULL, 3, ?, ?)`);
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const queue = QUEUES[i % 3]!;
      const name = NAMES[i % 4]!;
      const payload = `{"username":"user${i}"}`;
      const r = (i * 7919) % 1000; // a fixed spread of states
      const created = now - 5_400_000 + Math.floor((i / n) * 5_400_000);
      if (r < 600) {
        const finished = created + 1_000 + (i % 5_000);
        insertJob.run(queue, name, payload, 'completed', 1, created, created, created + 500, Math.min(finished, now), null, null, '["analysis"]');
      } else if (r < 850) {
        insertJob.run(queue, name, payload, 'pending', 0, created, created, null, null, null, null, null);
      } else if (r < 900) {
        insertJob.run(queue, name, payload, 'delayed', 1, now + 600_000 + i, created, null, null, null, null, null);
      } else if (r < 950) {
        const id = insertJob.run(queue, name, payload, 'failed', 3, created, created, created + 100, created + 2_000, null, null, null).lastInsertRowid;
        insertFailed.run(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, id, queue, name, payload, `GitHub answered 502 for user ${i}`, created + 2_000);
      } else if (r < 951 && i % 2 === 0) {
        insertJob.run(queue, name, payload, 'reserved', 1, created, created, now - 1_000, null, 'w_bench', now + 60_000, null);
      } else {
        insertJob.run(queue, name, payload, 'cancelled', 0, created, created, null, created + 10, null, null, null);
      }
    }
  }).immediate();
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Time the overview read `runs` times (after one warm-up) on a fresh read-only connection; returns [median, max] ms. */
function timeOverview(file: string, now: number, runs = 15): [number, number] {
  const db = openDatabase(file, { readonly: true });
  try {
    const read = db.transaction(() => overviewData(db, now));
    read();
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = process.hrtime.bigint();
      read();
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return [median(times), Math.max(...times)];
  } finally {
    db.close();
  }
}

/** Seed databases of 100,000 and 1,000,000 jobs and time one overview frame's data on each. */
export async function benchMonitor(sizes: readonly number[] = [100_000, 1_000_000]): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitroast-bench-monitor-'));
  const out: Record<string, number> = {};
  try {
    for (const n of sizes) {
      const file = path.join(dir, `jobs-${n}.db`);
      const now = Date.now();
      const db = openDatabase(file);
      const t = process.hrtime.bigint();
      seedJobs(db, n, now);
      const seedMs = Number(process.hrtime.bigint() - t) / 1e6;
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
      const [med, max] = timeOverview(file, now);
      const label = n >= 1_000_000 ? `${n / 1_000_000}m` : `${n / 1000}k`;
      out[`monitor_overview_${label}_ms`] = Math.round(med * 100) / 100;
      out[`monitor_overview_${label}_max_ms`] = Math.round(max * 100) / 100;
      out[`monitor_seed_${label}_ms`] = Math.round(seedMs);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const results = await benchMonitor();
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(32)} ${v}`);
}
