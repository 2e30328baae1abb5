/** Shared test helpers: a real SQLite file in a temp dir with the analysis tables. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { analysisMigrations } from '../../src/analysis/migrations.js';

export interface TempDb {
  db: Database.Database;
  path: string;
  close(): void;
}

/** Open a fresh WAL database file in a temp dir with the analysis migrations applied. */
export function openTempDb(): TempDb {
  const dir = mkdtempSync(join(tmpdir(), 'gitroast-analysis-'));
  const path = join(dir, 'gitroast.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  for (const sql of analysisMigrations) db.exec(sql);
  return {
    db,
    path,
    close() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fixed clock for deterministic tests. */
export const NOW = Date.parse('2026-11-20T12:00:00Z');
