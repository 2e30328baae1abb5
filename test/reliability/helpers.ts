/** Shared helpers of the reliability suite: file fingerprints, seeding, integrity, child processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { APP_ROOMS } from '../../src/cli/db.js';
import { claim, enqueue, fail, openDatabase, registerWorker, type Db } from '../../src/queue/index.js';

export const SUPPORT = path.join(import.meta.dirname, 'support');
/** The built module exporting APP_ROOMS, for child processes. */
export const APP_DB_JS = path.join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'db.js');

/** A fingerprint of the database and its WAL: sha256 of each, or null when absent. */
export function fingerprint(file: string): { db: string | null; wal: string | null } {
  const hash = (f: string) => (fs.existsSync(f) ? createHash('sha256').update(fs.readFileSync(f)).digest('hex') : null);
  return { db: hash(file), wal: hash(`${file}-wal`) };
}

/** Open the application database (created and migrated). */
export function appDb(file: string): Db {
  return openDatabase(file, { rooms: APP_ROOMS });
}

/**
 * Make a database with jobs in several states (pending, delayed, failed, a paused queue, a
 * worker), then close it cleanly so the file is self-contained (no WAL left).
 */
export function seedDb(file: string): void {
  const db = appDb(file);
  enqueue(db, { name: 'seed.pending', payload: { n: 1 } });
  enqueue(db, { name: 'seed.delayed', delayMs: 3_600_000 });
  enqueue(db, { name: 'seed.fail', queue: 'low' });
  const [job] = claim(db, { workerId: 'w_seed', queues: ['low'] });
  fail(db, job!, { message: 'seeded failure' });
  registerWorker(db, { id: 'w_seed', pid: 1, hostname: 'seed', version: 't', queues: ['default'], concurrency: 1 });
  db.prepare(`INSERT INTO queues (name, paused, paused_at) VALUES ('paused', 1, 0)`).run();
  db.close();
}

/** Insert `n` failed jobs directly (fast), for commands that retry or forget them. */
export function seedFailedRows(file: string, n: number, name = 'seed.retry'): void {
  const db = appDb(file);
  const ins = db.prepare(`INSERT INTO failed_jobs (uuid, job_id, queue, name, payload, options, tags, batch_id, attempts, error, stack, failed_at)
                          VALUES (?, NULL, 'default', '${name}', ?, '{}', NULL, NULL, 3, 'seeded', NULL, ?)`);
  db.transaction(() => {
    for (let i = 0; i < n; i++) ins.run(randomUUID(), JSON.stringify({ i }), Date.now());
  })();
  db.close();
}

/** PRAGMA integrity_check of `file` through a fresh read-only connection: 'ok' or SQLite's complaints. */
export function integrity(file: string): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

/** Count rows of a query on a fresh read-only connection. */
export function count(file: string, sql: string, ...params: unknown[]): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return Number(Object.values(db.prepare(sql).get(...params) as Record<string, number>)[0]);
  } finally {
    db.close();
  }
}

/** Mode bits (0o777) of a file. */
export function mode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

/** Spawn a node script with args; collect stdout lines. */
export function node(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess & { lines: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & {
    lines: string[]; exited: Promise<number | null>;
  };
  child.lines = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      child.lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  child.stderr!.on('data', () => undefined);
  child.exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  return child;
}

/** A seeded pseudo-random generator (mulberry32), so a failing run can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

