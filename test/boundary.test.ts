/**
 * The store boundary: src/queue owns every statement on the queue's
 * tables and src/analysis/store.ts every statement on the analysis tables. Nothing else in
 * src holds a SQL string or prepares a statement. This test reads the source tree.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './support/tmp.js';

const SRC = path.resolve(import.meta.dirname, '..', 'src');

/** Where SQL may live, and why. */
const ALLOWED: readonly { prefix: string; why: string }[] = [
  { prefix: 'queue/', why: 'the queue store: schema, migrations, every queue statement' },
  { prefix: 'analysis/store.ts', why: 'the analysis store: every statement on the analysis tables' },
  { prefix: 'analysis/migrations.ts', why: 'the analysis tables themselves' },
  { prefix: 'analysis/pg-migrations.ts', why: 'the analysis tables themselves, on PostgreSQL' },
];

/** What a SQL statement or a driver call looks like in TypeScript source. */
const PATTERNS: readonly RegExp[] = [
  /\bprepare\(/,
  /\bstmt\(/,
  /\.pragma\(/,
  /\bdb\.(exec|transaction)\(/,
  /\bSELECT\s+(\*|\d|[a-z_]+[\s,(])/,
  /\bINSERT\s+(OR\s+\w+\s+)?INTO\b/,
  /\bUPDATE\s+\w+\s+SET\b/,
  /\bDELETE\s+FROM\b/,
  /\b(CREATE|DROP|ALTER)\s+(TABLE|INDEX|VIEW|TRIGGER)\b/,
  /\bFROM\s+(jobs|failed_jobs|workers|settings|queues|batches|metrics_snapshots|analyses|http_cache|sqlite_master)\b/,
  /\bwal_checkpoint\b/,
];

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return files(p);
    return /\.tsx?$/.test(e.name) ? [p] : [];
  });
}

/** Every line outside the allowed places that looks like SQL, as `file:line: text`. */
function sqlOutsideTheStores(root: string): string[] {
  const found: string[] = [];
  for (const file of files(root)) {
    const rel = path.relative(root, file).split(path.sep).join('/');
    if (ALLOWED.some((a) => rel.startsWith(a.prefix))) continue;
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (PATTERNS.some((p) => p.test(line))) found.push(`src/${rel}:${i + 1}: ${line.trim()}`);
    });
  }
  return found;
}

describe('the store boundary', () => {
  it('finds no SQL string or statement outside src/queue and the analysis store', () => {
    expect(sqlOutsideTheStores(SRC)).toEqual([]);
  });

  it('notices a statement put outside the stores', () => {
    const dir = path.join(tempDir(), 'src');
    fs.mkdirSync(path.join(dir, 'daemon'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'daemon', 'x.ts'), "const n = stmt(db, `SELECT count(*) FROM jobs`).get();\n");
    fs.mkdirSync(path.join(dir, 'queue'));
    fs.writeFileSync(path.join(dir, 'queue', 'ok.ts'), "const n = stmt(db, `SELECT count(*) FROM jobs`).get();\n");
    expect(sqlOutsideTheStores(dir)).toEqual(['src/daemon/x.ts:1: const n = stmt(db, `SELECT count(*) FROM jobs`).get();']);
  });
});
