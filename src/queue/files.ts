import fs from 'node:fs';
import path from 'node:path';
import { ValidationError } from './errors.js';

/** The files SQLite keeps for a database `X`: X itself, and X-wal, X-shm, X-journal beside it. */
const DATABASE_SIDE_SUFFIXES = ['', '-wal', '-shm', '-journal'] as const;
type DatabaseSuffix = (typeof DATABASE_SIDE_SUFFIXES)[number];

type Identity = { dev: number; ino: number };

function identity(file: string): Identity | undefined {
  const s = fs.statSync(file, { throwIfNoEntry: false });
  return s ? { dev: s.dev, ino: s.ino } : undefined;
}

function same(a: Identity | undefined, b: Identity | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

/** Resolve links in `file`'s path, as far as they exist (a missing file keeps its name in its resolved folder). */
function realish(file: string): string {
  const abs = path.resolve(file);
  try {
    return fs.realpathSync(abs);
  } catch {
    try {
      return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
    } catch {
      return abs;
    }
  }
}

/**
 * Return which of the database's files (the database itself, or its -wal, -shm or -journal)
 * writing to `target` would replace, or undefined when it is none of them. Paths are compared
 * by what they are, not how they are spelled: the device and inode of the target's folder
 * (links followed) against the database's folder, and of an existing target against each
 * existing database file. So a symlinked folder, a relative link, a hard link, `..` segments
 * and a link to the file itself are all caught. `target` is taken as written (resolved
 * against the working directory, as the writer will), `database` as given to SQLite.
 */
function databaseFileAt(target: string, database: string): { file: string; suffix: DatabaseSuffix } | undefined {
  const dest = path.resolve(target);
  const destDir = identity(path.dirname(dest));
  const destFile = identity(dest);
  // SQLite resolves links in the database path and keeps its side files next to the real file;
  // the name as given is checked too, in case it does not.
  const bases = [...new Set([path.resolve(database), realish(database)])];
  for (const base of bases) {
    const sameFolder = same(destDir, identity(path.dirname(base)));
    for (const suffix of DATABASE_SIDE_SUFFIXES) {
      const file = `${base}${suffix}`;
      if ((sameFolder && path.basename(dest) === path.basename(file)) || same(destFile, identity(file))) return { file, suffix };
    }
  }
  return undefined;
}

/**
 * Throw a ValidationError when writing `target` would replace one of the database's files
 * (see databaseFileAt). Use it in every command that writes a file a user names. `what`
 * names the target in the message (e.g. `backup file`).
 */
export function assertNotDatabaseFile(target: string, database: string, what: string): void {
  const hit = databaseFileAt(target, database);
  if (hit === undefined) return;
  const where = path.resolve(target) === hit.file ? '' : ` (${hit.file})`;
  const which = hit.suffix === '' ? `the database itself${where}` : `the database's ${hit.suffix} file${where}`;
  throw new ValidationError(`invalid ${what} ${target}: it is ${which}; name another file`);
}
