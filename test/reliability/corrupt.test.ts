import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { APP_ROOMS } from '../../src/cli/db.js';
import { gitroast } from '../support/cli.js';
import { ROOT, tempDbPath, tempDir } from '../support/tmp.js';
import { LEDGER_TABLE, enqueueMany, migrationsOf } from '../../src/queue/index.js';
import { appDb, fingerprint, seedDb } from './helpers.js';

/** Ways a file at the database path can be something gitroast must not touch. */
const CASES: { name: string; make: (file: string) => void; message: RegExp }[] = [
  { name: 'a text file', make: (f) => fs.writeFileSync(f, 'this is my shopping list, not a database\n'.repeat(200)), message: /is not a gitroast database/ },
  { name: '64 KiB of random bytes', make: (f) => fs.writeFileSync(f, randomBytes(65_536)), message: /is not a gitroast database/ },
  {
    name: 'a SQLite header over garbage',
    make: (f) => fs.writeFileSync(f, Buffer.concat([Buffer.from('SQLite format 3\0'), randomBytes(8192)])),
    message: /is not a gitroast database|is corrupt/,
  },
  {
    name: 'a gitroast database with its pages overwritten',
    make: (f) => {
      seedDb(f);
      const buf = fs.readFileSync(f);
      // Keep page 1 (header and schema) and wreck every other page.
      randomBytes(buf.length - 4096).copy(buf, 4096);
      fs.writeFileSync(f, buf);
    },
    message: /is corrupt/,
  },
  {
    name: 'another program\'s SQLite database',
    make: (f) => {
      const db = new Database(f);
      db.exec(`CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT); INSERT INTO moz_places (url) VALUES ('https://example.com')`);
      db.close();
    },
    message: /is a SQLite database but not a gitroast one/,
  },
  {
    name: 'a database from a newer gitroast (a migration id this build does not know)',
    make: (f) => {
      seedDb(f);
      const db = new Database(f);
      db.prepare(`INSERT INTO ${LEDGER_TABLE} (id, applied_at) VALUES ('queue/0099', 0)`).run();
      db.pragma(`user_version = ${migrationsOf(APP_ROOMS).length + 1}`);
      db.close();
    },
    message: /newer than this gitroast understands.*upgrade gitroast/,
  },
  {
    name: 'a database from before the migration ledger with a newer schema version',
    make: (f) => {
      fs.copyFileSync(path.join(ROOT, 'test', 'fixtures', 'legacy', 'app-v5.db'), f);
      const db = new Database(f);
      db.pragma('user_version = 6');
      db.close();
    },
    message: /schema version 6, newer than this gitroast understands.*upgrade gitroast/,
  },
];

/** Commands that read or write the database; each must refuse the file with exit 3. */
const COMMANDS: readonly (readonly string[])[] = [
  ['status'],
  ['status', '--json'],
  ['queue', 'list'],
  ['queue', 'pause', 'low'],
  ['failed', 'list'],
  ['failed', 'retry', 'all'],
  ['failed', 'flush', '--hours', '0'],
  ['monitor', '--once'],
  ['daemon'],
];

describe('a corrupt or non-SQLite file at the database path', () => {
  for (const c of CASES) {
    it(`refuses ${c.name} with one clear line and exit 3, leaving the file byte-for-byte untouched`, async () => {
      const file = tempDbPath();
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      c.make(file);
      fs.rmSync(`${file}-wal`, { force: true });
      fs.rmSync(`${file}-shm`, { force: true });
      const before = fingerprint(file);
      const results = await Promise.all(COMMANDS.map((args) => gitroast(['--db', file, ...args])));
      results.forEach((r, i) => {
        const what = `gitroast ${COMMANDS[i]!.join(' ')}`;
        if (COMMANDS[i]![0] === 'daemon') {
          // The daemon logs its start-up failure as it logs everything; one line, exit 3, no retry loop.
          expect(r.code, `${what}: ${r.stderr}`).toBe(3);
          expect(r.stderr + r.stdout, what).toMatch(c.message);
          return;
        }
        expect(r.code, `${what}: ${r.stderr}`).toBe(3);
        expect(r.stderr.trimEnd().split('\n'), what).toHaveLength(1);
        expect(r.stderr, what).toMatch(c.message);
        expect(r.stderr, what).toContain(file);
        expect(r.stdout, what).toBe('');
      });
      expect(fingerprint(file).db).toBe(before.db);
      // A second round proves there is no state that makes the next start different (no crash loop of half-repairs).
      const again = await gitroast(['--db', file, 'status']);
      expect(again.code).toBe(3);
      expect(fingerprint(file).db).toBe(before.db);
    });
  }

  it('is not restarted in a loop by systemd: the unit stops restarting on exit 2 and 3', async () => {
    const r = await gitroast(['--db', tempDbPath(), 'daemon', '--print-systemd-unit']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Restart=always$/m);
    expect(r.stdout).toMatch(/^RestartPreventExitStatus=2 3$/m);
  });

  it('doctor exits 3 on a file it cannot read as SQLite, and 1 with an integrity finding on a damaged database', async () => {
    const junk = tempDbPath();
    fs.mkdirSync(path.dirname(junk), { recursive: true });
    CASES[1]!.make(junk);
    const before = fingerprint(junk);
    const r = await gitroast(['--db', junk, 'doctor']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/is not a gitroast database/);
    expect(fingerprint(junk).db).toBe(before.db);

    // Damage that leaves the schema readable: the last pages hold job rows and index entries.
    const damaged = tempDbPath();
    const db = appDb(damaged);
    enqueueMany(db, Array.from({ length: 3000 }, (_, i) => ({ name: 'bulk', payload: { i, pad: 'x'.repeat(200) } })));
    db.close();
    const buf = fs.readFileSync(damaged);
    randomBytes(8 * 4096).copy(buf, buf.length - 8 * 4096);
    fs.writeFileSync(damaged, buf);
    const beforeDamaged = fingerprint(damaged);
    const d = await gitroast(['--db', damaged, 'doctor', '--json']);
    expect(d.code).toBe(1);
    const report = JSON.parse(d.stdout) as { ok: boolean; checks: { check: string; ok: boolean; action?: string }[] };
    expect(report.ok).toBe(false);
    const integrity = report.checks.find((c) => c.check === 'integrity')!;
    expect(integrity.ok).toBe(false);
    expect(integrity.action).toMatch(/restore the last good backup/);
    expect(fingerprint(damaged).db).toBe(beforeDamaged.db);
  });

  it('doctor reports a newer schema with what to do, and backup still copies it faithfully', async () => {
    const file = tempDbPath();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    CASES[5]!.make(file);
    const d = await gitroast(['--db', file, 'doctor', '--json']);
    expect(d.code).toBe(1);
    const schema = (JSON.parse(d.stdout) as { checks: { check: string; ok: boolean; action?: string }[] }).checks.find((c) => c.check === 'schema')!;
    expect(schema).toMatchObject({ ok: false, action: expect.stringMatching(/upgrade gitroast/) });
    const copy = path.join(tempDir(), 'copy.db');
    const b = await gitroast(['--db', file, 'backup', copy, '--json']);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ schemaVersion: migrationsOf(APP_ROOMS).length + 1, integrity: 'ok' });
  });
});
