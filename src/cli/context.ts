import type { Command } from 'commander';
import { DatabaseError, ValidationError, type Db } from '../queue/index.js';
import { openAppDb, resolveDbPath } from './db.js';

/** Exit codes: the contract with scripts and systemd. */
export const EXIT = { ok: 0, failed: 1, usage: 2, environment: 3 } as const;

/** A user mistake: one line on stderr naming the value and what is allowed, exit 2, nothing written. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The requested work failed or the system is unhealthy: exit 1 with this message (may be empty when already reported). */
export class WorkFailed extends Error {
  constructor(message = '') {
    super(message);
    this.name = 'WorkFailed';
  }
}

/** What every command action gets: the global options and a lazily opened database. */
export class Context {
  private opened: Db | undefined;
  constructor(readonly program: Command) {}

  /** The database path from --db, GITROAST_DB or the XDG default. */
  get dbPath(): string {
    return resolveDbPath(this.program.opts<{ db?: string }>().db);
  }

  /** Open (once) the application database for writing; migrations are applied. */
  db(): Db {
    this.opened ??= openAppDb(this.dbPath);
    return this.opened;
  }

  close(): void {
    this.opened?.close();
    this.opened = undefined;
  }
}

/** Map an error to its exit code and one line for stderr. */
export function classify(err: unknown): { code: number; message: string } {
  const e = err as NodeJS.ErrnoException & { code?: string };
  if (err instanceof UsageError || err instanceof ValidationError) return { code: EXIT.usage, message: err.message };
  if (err instanceof WorkFailed) return { code: EXIT.failed, message: err.message };
  if (err instanceof DatabaseError) return { code: EXIT.environment, message: err.message };
  if (e?.code === 'SQLITE_FULL') return { code: EXIT.environment, message: 'the disk holding the database is full: nothing was written; free some space and try again' };
  if (typeof e?.code === 'string' && (e.code.startsWith('SQLITE_') || ['EACCES', 'EPERM', 'EROFS', 'ENOSPC'].includes(e.code))) {
    return { code: EXIT.environment, message: `database error (${e.code}): ${e.message}` };
  }
  return { code: EXIT.failed, message: err instanceof Error ? err.message : String(err) };
}

/** Parse a whole number option, or throw a UsageError naming it. */
export function intOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new UsageError(`invalid ${name} ${JSON.stringify(value)}: expected a whole number from ${min} to ${max}`);
    }
    return Number(value);
  };
}
