import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { schemaVersion } from './db.js';
import { DatabaseError, ValidationError } from './errors.js';
import { assertNotDatabaseFile } from './files.js';
import { openForInspection } from './health.js';

export interface BackupOptions {
  /** Replace `destination` when it exists. Default false: an existing file is refused. */
  force?: boolean;
}

export interface BackupResult {
  source: string;
  destination: string;
  /** Size of the copy in bytes. */
  bytes: number;
  /** Schema version of the source, and of the copy (they are checked to be equal). */
  schemaVersion: number;
  /** Result of PRAGMA integrity_check on the copy: always `ok` (anything else throws). */
  integrity: 'ok';
}

/** Check that `destination` may receive a backup of `source`, or throw a ValidationError naming it. */
function assertDestination(source: string, destination: string, force: boolean): void {
  const dir = path.dirname(destination);
  let dirStat: fs.Stats;
  try {
    dirStat = fs.statSync(dir);
  } catch {
    throw new ValidationError(`invalid backup file ${destination}: folder ${dir} does not exist`);
  }
  if (!dirStat.isDirectory()) throw new ValidationError(`invalid backup file ${destination}: ${dir} is not a folder`);
  const existing = fs.statSync(destination, { throwIfNoEntry: false });
  if (existing?.isDirectory()) throw new ValidationError(`invalid backup file ${destination}: it is a folder; name a file inside it`);
  if (existing && !force) throw new ValidationError(`backup file ${destination} already exists: name another file, or pass --force to replace it`);
}

function removeCopy(file: string): void {
  for (const f of [file, `${file}-journal`, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
}

/**
 * Copy the database at `source` to `destination` while other processes keep using it, with
 * SQLite's online backup API: the copy is one consistent snapshot. The copy is written 0600
 * next to the destination, switched to a rollback journal (one self-contained file), checked
 * with PRAGMA integrity_check and its schema version compared, then moved into place
 * atomically. A destination that is the database or one of its side files by any route (links,
 * hard links, `..`) is refused, even with `force`, and an existing destination is refused
 * unless `force` (both ValidationErrors); a missing or unreadable source is a DatabaseError.
 * Nothing is left behind on failure.
 */
export async function backupDatabase(source: string, destination: string, options: BackupOptions = {}): Promise<BackupResult> {
  const src = path.resolve(source);
  // Compared by device and inode, so no link, hard link or `..` reaches the live files.
  assertNotDatabaseFile(destination, src, 'backup file');
  const dest = path.resolve(destination);
  assertDestination(src, dest, options.force ?? false);
  const db = openForInspection(src);
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const version = schemaVersion(db);
    // Created here, 0600, so the copy is never readable by others, not even for a moment.
    fs.closeSync(fs.openSync(tmp, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600));
    // Every remaining page in one step: one read transaction, so a busy writer cannot make the
    // backup restart over and over (it restarts when the source changes between steps).
    await db.backup(tmp, { progress: () => 0x7fffffff });
    db.close();
    const copy = new Database(tmp);
    try {
      copy.pragma('journal_mode = DELETE');
      const check = (copy.pragma('integrity_check(20)') as Record<string, string>[]).map((r) => String(Object.values(r)[0]));
      if (check.length !== 1 || check[0] !== 'ok') throw new DatabaseError(`the backup copy failed its integrity check (${check.join('; ')}); nothing was written to ${dest}`);
      const copied = schemaVersion(copy);
      if (copied !== version) throw new DatabaseError(`the backup copy has schema version ${copied}, not ${version}; nothing was written to ${dest}`);
    } finally {
      copy.close();
    }
    const fd = fs.openSync(tmp, 'r+');
    try {
      fs.fchmodSync(fd, 0o600);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (options.force) {
      fs.renameSync(tmp, dest);
    } else {
      // link() fails when the name was taken meanwhile: never replace a file without --force.
      try {
        fs.linkSync(tmp, dest);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ValidationError(`backup file ${dest} already exists: name another file, or pass --force to replace it`);
        throw err;
      }
      fs.rmSync(tmp, { force: true });
    }
    const bytes = fs.statSync(dest).size;
    return { source: src, destination: dest, bytes, schemaVersion: version, integrity: 'ok' };
  } catch (err) {
    removeCopy(tmp);
    throw err;
  } finally {
    if (db.open) db.close();
  }
}
