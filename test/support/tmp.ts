import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

const made: string[] = [];

/** Make a fresh temp folder, removed after the test. */
export function tempDir(prefix = 'gitroast-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A database path in a fresh temp folder (the file does not exist yet). */
export function tempDbPath(): string {
  return path.join(tempDir(), 'data', 'gitroast.db');
}

afterEach(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** Wait until `check` returns a truthy value (polled every 10 ms), or throw after `timeoutMs`. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The repository root (tests run from it). */
export const ROOT = path.resolve(import.meta.dirname, '..', '..');
/** The built CLI entry point. */
export const BIN = path.join(ROOT, 'dist', 'bin', 'gitroast.js');
/** The built queue library. */
export const QUEUE_JS = path.join(ROOT, 'dist', 'src', 'queue', 'index.js');
