/**
 * Daemon benchmarks: no-op drain through the worker loop, enqueue→handler-start latency
 * (in-process and cross-process), idle CPU of a spawned daemon, RSS under load.
 *
 *   npm run build && node dist/bench/daemon.js
 *
 * bench/run.ts calls benchDaemon() and compares the drain with its raw-SQLite floor.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { claimInTx, completeInTx, enqueue, enqueueMany, immediate, openDatabase, type Db, type Durability, type JobSpec } from '../src/queue/index.js';
import { WalWatcher } from '../src/daemon/wake.js';
import { Registry, startWorker } from '../src/daemon/index.js';
import { openAppDb } from '../src/cli/db.js';

const HERE = import.meta.dirname;
const BIN = path.resolve(HERE, '..', 'bin', 'gitroast.js');
const QUEUE_JS = path.resolve(HERE, '..', 'src', 'queue', 'index.js');

function tempDb(): { dir: string; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitroast-bench-'));
  return { dir, file: path.join(dir, 'bench.db') };
}

function fill(db: Db, n: number, spec: JobSpec = { name: 'noop' }): void {
  const chunk = 5000;
  for (let i = 0; i < n; i += chunk) enqueueMany(db, Array.from({ length: Math.min(chunk, n - i) }, () => spec));
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Drain `n` no-op jobs through startWorker; returns jobs/s. */
export async function drain(n: number, concurrency: number, async = false): Promise<number> {
  const { dir, file } = tempDb();
  const db = openDatabase(file);
  try {
    fill(db, n);
    const registry = new Registry().register('noop', async ? { handle: () => Promise.resolve() } : { handle: () => undefined });
    const t0 = performance.now();
    const w = startWorker(db, registry, { queues: ['default'], concurrency, stopWhenEmpty: true, watch: false });
    await w.done;
    const s = (performance.now() - t0) / 1000;
    const done = (db.prepare(`SELECT COUNT(*) AS n FROM jobs WHERE state = 'completed'`).get() as { n: number }).n;
    if (done !== n) throw new Error(`drain completed ${done} of ${n}`);
    return n / s;
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The batched raw floor: claim `batch` + complete them in one transaction, straight on the queue API. */
export function rawBatchedFloor(n: number, batch = 100): number {
  const { dir, file } = tempDb();
  const db = openDatabase(file);
  try {
    fill(db, n);
    const t0 = performance.now();
    let leases: { id: number; token: number }[] = [];
    let total = 0;
    for (;;) {
      const now = Date.now();
      const prev = leases;
      leases = immediate(db, () => {
        for (const l of prev) completeInTx(db, l, now);
        return claimInTx(db, { workerId: 'w_bench', queues: ['default'], limit: batch, now });
      });
      total += leases.length;
      if (leases.length === 0) break;
    }
    const s = (performance.now() - t0) / 1000;
    if (total !== n) throw new Error(`raw floor claimed ${total} of ${n}`);
    return n / s;
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const hr = () => Number(process.hrtime.bigint()) / 1e6;

/** Enqueue→handler-start latency with the enqueue in this process (same connection), ms. */
export async function latencyInProcess(n = 2000): Promise<number[]> {
  const { dir, file } = tempDb();
  const db = openDatabase(file);
  const lat: number[] = [];
  let wake: (() => void) | undefined;
  const registry = new Registry().register('ping', {
    handle(p: { t: number }) {
      lat.push(hr() - p.t);
      wake?.();
    },
  });
  const w = startWorker(db, registry, { queues: ['default'], concurrency: 10 });
  try {
    for (let i = 0; i < n; i++) {
      const started = new Promise<void>((r) => (wake = r));
      enqueue(db, { name: 'ping', payload: { t: hr() } });
      await started;
      if (i % 4 === 0) await new Promise((r) => setTimeout(r, 1));
    }
  } finally {
    await w.stop();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return lat.sort((a, b) => a - b);
}

/**
 * Enqueue→handler-start latency with a producer in another process: the worker (this
 * process) waits on the -wal file; the child commits one job at a time, 1–2 ms apart,
 * stamping the payload with CLOCK_MONOTONIC (process.hrtime, shared by all processes).
 */
export async function latencyCrossProcess(n = 2000, durability: Durability = 'normal'): Promise<number[]> {
  const { dir, file } = tempDb();
  const db = openDatabase(file, { durability });
  const lat: number[] = [];
  let allStarted!: () => void;
  const finished = new Promise<void>((r) => (allStarted = r));
  const registry = new Registry().register('ping', {
    handle(p: { t: number }) {
      lat.push(hr() - p.t);
      if (lat.length === n) allStarted();
    },
  });
  const w = startWorker(db, registry, { queues: ['default'], concurrency: 10 });
  const producer = `
    const { openDatabase, enqueue } = await import(${JSON.stringify(pathToFileURL(QUEUE_JS).href)});
    const db = openDatabase(${JSON.stringify(file)}, { durability: ${JSON.stringify(durability)} });
    const hr = () => Number(process.hrtime.bigint()) / 1e6;
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    for (let i = 0; i < ${n}; i++) {
      enqueue(db, { name: 'ping', payload: { t: hr() } });
      await sleep(1 + (i % 2));
    }
    db.close();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', producer], { stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    await Promise.race([finished, new Promise((_, rej) => setTimeout(() => rej(new Error(`cross-process latency: only ${lat.length} of ${n} started in 60 s`)), 60_000))]);
  } finally {
    child.kill();
    await w.stop();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return lat.sort((a, b) => a - b);
}

/**
 * The raw wake-up: the floor under cross-process latency. A child commits one row at a
 * time (raw better-sqlite3, WAL, synchronous NORMAL), 1–2 ms apart, stamped with the
 * monotonic clock; this process notices each through the same -wal watch the worker uses
 * (WalWatcher) and reads the new rows. No queue code on either side.
 */
export async function rawWakeUp(n = 2000): Promise<number[]> {
  const { dir, file } = tempDb();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE pings (id INTEGER PRIMARY KEY, t REAL NOT NULL)');
  const read = db.prepare('SELECT id, t FROM pings WHERE id > ? ORDER BY id');
  const lat: number[] = [];
  let last = 0;
  let allSeen!: () => void;
  const finished = new Promise<void>((r) => (allSeen = r));
  // On each event read the new rows; when none is visible yet, re-read on the next turns for
  // up to 1.5 ms, as the worker does (docs/wake-up.md: the event can precede visibility).
  let closed = false;
  const look = (until: number) => {
    if (closed) return;
    const now = hr();
    const rows = read.all(last) as { id: number; t: number }[];
    for (const row of rows) {
      lat.push(now - row.t);
      last = row.id;
    }
    if (lat.length >= n) allSeen();
    else if (rows.length === 0 && now < until) setImmediate(look, until);
  };
  const watcher = new WalWatcher(file, () => look(hr() + 1.5)).start();
  const producer = `
    const Database = (await import(${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('better-sqlite3')).href)})).default;
    const db = new Database(${JSON.stringify(file)});
    db.pragma('synchronous = NORMAL');
    const ins = db.prepare('INSERT INTO pings (t) VALUES (?)');
    const hr = () => Number(process.hrtime.bigint()) / 1e6;
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    for (let i = 0; i < ${n}; i++) {
      ins.run(hr());
      await sleep(1 + (i % 2));
    }
    db.close();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', producer], { stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    await Promise.race([finished, new Promise((_, rej) => setTimeout(() => rej(new Error(`raw wake-up: only ${lat.length} of ${n} seen in 60 s`)), 60_000))]);
  } finally {
    child.kill();
    closed = true;
    watcher.close();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return lat.sort((a, b) => a - b);
}

function procTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks
}

function procStatusKb(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function spawnDaemon(file: string, env: NodeJS.ProcessEnv, args: string[] = []): ChildProcess {
  return spawn(process.execPath, [BIN, '--db', file, 'daemon', '--log-format', 'json', ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, GITROAST_CONFIG: '/nonexistent-bench-config.json', XDG_CONFIG_HOME: os.tmpdir(), ...env },
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** CPU % of a spawned idle daemon over `seconds` (from /proc/<pid>/stat). */
export async function idleCpu(seconds = 10): Promise<number> {
  const { dir, file } = tempDb();
  const db = openAppDb(file); // the daemon opens it with every room's migrations
  const child = spawnDaemon(file, { GITROAST_CONFIG: '' }, []);
  try {
    await waitUntil(() => (db.prepare('SELECT COUNT(*) AS n FROM workers').get() as { n: number }).n > 0, 10_000, 'the daemon to register');
    // Let start-up settle (module compilation, the first GC of start-up garbage): the figure
    // is what a daemon left idle for hours costs.
    await new Promise((r) => setTimeout(r, 3000));
    const hz = 100; // USER_HZ on Linux
    const before = procTicks(child.pid!);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const ticks = procTicks(child.pid!) - before;
    const s = (performance.now() - t0) / 1000;
    return ((ticks / hz) / s) * 100;
  } finally {
    await stopChild(child);
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Peak RSS (MB) of a spawned daemon draining `n` no-op jobs (json logs), and its drain rate. */
export async function rssUnderLoad(n = 50_000): Promise<{ rssMb: number; jobsPerSec: number }> {
  const { dir, file } = tempDb();
  const handlers = path.join(dir, 'handlers.mjs');
  fs.writeFileSync(handlers, `export function register(r) { r.register('noop', { handle() {} }); }\n`);
  const db = openAppDb(file); // the daemon opens it with every room's migrations
  const child = spawnDaemon(file, { GITROAST_HANDLERS: handlers, GITROAST_CONFIG: '' }, ['--queues', 'default']);
  try {
    await waitUntil(() => (db.prepare('SELECT COUNT(*) AS n FROM workers').get() as { n: number }).n > 0, 10_000, 'the daemon to register');
    const t0 = performance.now();
    fill(db, n);
    const count = db.prepare(`SELECT COUNT(*) AS n FROM jobs WHERE state = 'completed'`);
    await waitUntil(() => (count.get() as { n: number }).n >= n, 120_000, 'the daemon to drain');
    const s = (performance.now() - t0) / 1000;
    return { rssMb: procStatusKb(child.pid!, 'VmHWM') / 1024, jobsPerSec: n / s };
  } finally {
    await stopChild(child);
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Run every daemon benchmark. Keys (bench/run.ts prefixes them with `daemon_`): drain_s
 * (50,000 no-op jobs through startWorker with 128 slots), drain_c1_s (20,000 with one slot),
 * drain_c10_s / drain_c32_s / drain_c256_s / drain_async_c32_s (other slot counts, async handlers),
 * latency_{in,cross}_{p50,p95,p99}_ms, latency_cross_full_{p50,p99}_ms (durability
 * full on both sides), raw_wake_{p50,p99}_ms (the -wal watch alone) and the cross-process
 * figures' ratios to it, idle_cpu_pct (spawned daemon, 30 s), rss_mb (peak
 * RSS of a spawned daemon draining 50,000 jobs with JSON logs) and that daemon's
 * spawned_drain_json_logs_s.
 */
export async function benchDaemon(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const N = 50_000;
  // 128 async slots: the daemon claims up to its free slots per transaction, so the slot
  // count is its claim batch (see bench/queue.ts for why 128 and not 32).
  out.drain_s = Math.round(await drain(N, 128));
  // One slot, as `--concurrency 1` runs: 20,000 jobs, one at a time (bench/run.ts compares
  // it with the raw single-claim floor, two commits a job).
  out.drain_c1_s = Math.round(await drain(20_000, 1));
  out.drain_c10_s = Math.round(await drain(N, 10));
  out.drain_c32_s = Math.round(await drain(N, 32));
  out.drain_c256_s = Math.round(await drain(N, 256));
  out.drain_async_c32_s = Math.round(await drain(N, 32, true));
  const inproc = await latencyInProcess(2000);
  out.latency_in_p50_ms = r3(percentile(inproc, 50));
  out.latency_in_p95_ms = r3(percentile(inproc, 95));
  out.latency_in_p99_ms = r3(percentile(inproc, 99));
  const cross = await latencyCrossProcess(2000);
  out.latency_cross_p50_ms = r3(percentile(cross, 50));
  out.latency_cross_p95_ms = r3(percentile(cross, 95));
  out.latency_cross_p99_ms = r3(percentile(cross, 99));
  const full = await latencyCrossProcess(2000, 'full');
  out.latency_cross_full_p50_ms = r3(percentile(full, 50));
  out.latency_cross_full_p99_ms = r3(percentile(full, 99));
  const wake = await rawWakeUp(2000);
  out.raw_wake_p50_ms = r3(percentile(wake, 50));
  out.raw_wake_p99_ms = r3(percentile(wake, 99));
  out.ratio_latency_cross_p50_to_raw_wake = r2(out.latency_cross_p50_ms / out.raw_wake_p50_ms);
  out.ratio_latency_cross_p99_to_raw_wake = r2(out.latency_cross_p99_ms / out.raw_wake_p99_ms);
  out.idle_cpu_pct = r2(await idleCpu(30));
  const load = await rssUnderLoad(N);
  out.rss_mb = r2(load.rssMb);
  out.spawned_drain_json_logs_s = Math.round(load.jobsPerSec);
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  const floor = rawBatchedFloor(50_000, 32);
  const figures = await benchDaemon();
  figures.raw_batched32_floor_s = Math.round(floor);
  figures.ratio_drain_to_batched_floor = r2(figures.drain_s! / floor);
  console.log(`gitroast daemon bench — node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(28)} ${v}`);
}
