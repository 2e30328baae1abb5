/**
 * `gitroast backup --force` must never write over the live database, whatever route the
 * destination takes to it: links, relative links, hard links, `..` segments, side files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gitroast } from '../support/cli.js';
import { QUEUE_JS, tempDbPath, tempDir, waitFor } from '../support/tmp.js';
import { APP_DB_JS, count, integrity, node, seedDb, sleep, SUPPORT } from './helpers.js';

const children: { kill(signal?: NodeJS.Signals): boolean; exited: Promise<unknown> }[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    c.kill('SIGKILL');
    await c.exited;
  }
});

/** Each route names the live database (or one of its side files) without its plain path. */
const ROUTES: { name: string; target(file: string): string }[] = [
  {
    name: 'a symlinked folder',
    target(file) {
      const link = path.join(tempDir(), 'dirlink');
      fs.symlinkSync(path.dirname(file), link);
      return path.join(link, path.basename(file));
    },
  },
  {
    name: 'a relative symlinked folder, named by a relative path',
    target(file) {
      const dir = tempDir();
      const link = path.join(dir, 'rel');
      fs.symlinkSync(path.relative(dir, path.dirname(file)), link);
      return path.relative(process.cwd(), path.join(link, path.basename(file)));
    },
  },
  {
    name: 'a hard link to the database file',
    target(file) {
      const hard = path.join(tempDir(), 'hard.db');
      fs.linkSync(file, hard);
      return hard;
    },
  },
  {
    name: '`..` and `.` segments',
    target(file) {
      fs.mkdirSync(path.join(path.dirname(file), 'sub'));
      return [path.dirname(file), 'sub', '..', '.', path.basename(file)].join(path.sep);
    },
  },
  {
    name: 'a symlink to the database file',
    target(file) {
      const link = path.join(tempDir(), 'link.db');
      fs.symlinkSync(file, link);
      return link;
    },
  },
  {
    name: 'the -wal through a linked folder',
    target(file) {
      const link = path.join(tempDir(), 'dirlink');
      fs.symlinkSync(path.dirname(file), link);
      return path.join(link, `${path.basename(file)}-wal`);
    },
  },
  {
    name: 'the -shm through a symlink to it',
    target(file) {
      const link = path.join(tempDir(), 'shm-link');
      fs.symlinkSync(`${file}-shm`, link);
      return link;
    },
  },
];

describe('backup --force refuses every route to the live database', () => {
  it.each(ROUTES)('through $name: exit 2, nothing written, the database intact with its jobs', async ({ target }) => {
    const file = tempDbPath();
    seedDb(file);
    // A live writer holds the database open in WAL mode, as a daemon does.
    const writer = node(path.join(SUPPORT, 'writer.mjs'), [QUEUE_JS, APP_DB_JS, file, '20']);
    children.push(writer);
    await waitFor(() => writer.lines.includes('ready') && fs.existsSync(`${file}-wal`), 10_000, 'the writer to open the WAL');
    const dest = target(file);
    const before = count(file, 'SELECT count(*) FROM jobs');
    const seeded = count(file, `SELECT count(*) FROM jobs WHERE name LIKE 'seed.%'`);
    const destDir = path.dirname(path.resolve(dest));
    const listing = (dir: string) => fs.readdirSync(dir).filter((f) => !f.startsWith('gitroast.db')).sort();
    const destBefore = listing(destDir);
    const dbDirBefore = listing(path.dirname(file));

    const r = await gitroast(['--db', file, 'backup', '--force', dest]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(dest);
    expect(r.stderr).toMatch(/: it is the database(?: itself|'s -(?:wal|shm) file)/);
    expect(r.stdout).toBe('');

    // Give a replaced file time to show (the issue saw damage within about 2 s), then stop the writer cleanly.
    await sleep(1500);
    writer.kill('SIGKILL');
    await writer.exited;
    expect(listing(destDir)).toEqual(destBefore);
    expect(listing(path.dirname(file))).toEqual(dbDirBefore);
    expect(integrity(file)).toBe('ok');
    expect(count(file, 'SELECT count(*) FROM jobs')).toBeGreaterThanOrEqual(before);
    expect(count(file, `SELECT count(*) FROM jobs WHERE name LIKE 'seed.%'`)).toBe(seeded);
  });

  it('still writes through a linked folder that is not the database\'s', async () => {
    const file = tempDbPath();
    seedDb(file);
    const elsewhere = tempDir();
    const link = path.join(tempDir(), 'out');
    fs.symlinkSync(elsewhere, link);
    // Same base name as the database, in another folder: allowed.
    const dest = path.join(link, path.basename(file));
    const r = await gitroast(['--db', file, 'backup', dest]);
    expect(r.code, r.stderr).toBe(0);
    expect(integrity(path.join(elsewhere, path.basename(file)))).toBe('ok');
    const again = await gitroast(['--db', file, 'backup', '--force', dest]);
    expect(again.code, again.stderr).toBe(0);
    expect(fs.readdirSync(elsewhere)).toEqual([path.basename(file)]);
  });
});
