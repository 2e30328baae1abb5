import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { analysisMigrations } from '../../src/analysis/migrations.js';
import { APP_ROOMS, openAppDb } from '../../src/cli/db.js';
import { LEDGER_TABLE, migrationsOf, openDatabase, queueMigrations, schemaVersion, type Db } from '../../src/queue/index.js';
import { gitroast } from '../support/cli.js';
import { ROOT, tempDbPath, waitFor } from '../support/tmp.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'legacy');
const APP_IDS = migrationsOf(APP_ROOMS).map((m) => m.id);
const QUEUE_IDS = ['queue/0001', 'queue/0002', 'queue/0003', 'queue/0004', 'queue/0005', 'queue/0006', 'queue/0007'];

/** The ledger's ids in the order they were recorded. */
function ledger(db: Db): string[] {
  return (db.prepare(`SELECT id FROM ${LEDGER_TABLE} ORDER BY rowid`).all() as { id: string }[]).map((r) => r.id);
}

/** Every table and index with its SQL, whitespace normalised, by name. */
function schema(db: Db): string[] {
  const rows = db.prepare(`SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name`).all() as {
    type: string; name: string; tbl_name: string; sql: string | null;
  }[];
  return rows.map((r) => `${r.type} ${r.name} on ${r.tbl_name}: ${(r.sql ?? '(auto)').replace(/\s+/g, ' ').replace(/\( /g, '(').replace(/ \)/g, ')').trim()}`);
}

function freshSchema(open: (file: string) => Db): string[] {
  const db = open(tempDbPath());
  try {
    return schema(db);
  } finally {
    db.close();
  }
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Copy a committed fixture to a fresh temp path (the fixture itself is never opened for writing). */
function copyFixture(name: string): string {
  const file = tempDbPath();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.copyFileSync(path.join(FIXTURES, name), file);
  return file;
}

describe('the migration rooms', () => {
  it('give every migration of every room exactly one id, numbered in the room\'s order', () => {
    const all = migrationsOf(APP_ROOMS);
    expect(new Set(APP_ROOMS.map((r) => r.room)).size).toBe(APP_ROOMS.length);
    expect(new Set(all.map((m) => m.id)).size).toBe(all.length);
    for (const [room, list] of [['queue', queueMigrations], ['analysis', analysisMigrations]] as const) {
      const mine = all.filter((m) => m.room === room);
      expect(mine.map((m) => m.sql)).toEqual(list);
      expect(mine.map((m) => m.id)).toEqual(list.map((_, i) => `${room}/${String(i + 1).padStart(4, '0')}`));
    }
  });
});

describe('a new database', () => {
  it('records every room\'s migration exactly once, each room in order, and reopening applies nothing twice', () => {
    const file = tempDbPath();
    openAppDb(file).close();
    const first = new Database(file, { readonly: true });
    const stamps = first.prepare(`SELECT id, applied_at FROM ${LEDGER_TABLE} ORDER BY rowid`).all();
    first.close();
    const db = openAppDb(file);
    expect(ledger(db)).toEqual(APP_IDS);
    expect(db.prepare(`SELECT id, applied_at FROM ${LEDGER_TABLE} ORDER BY rowid`).all()).toEqual(stamps);
    expect(schemaVersion(db)).toBe(APP_IDS.length);
    expect(db.pragma('user_version', { simple: true })).toBe(APP_IDS.length);
    db.close();
  });

  it('made by the queue alone gains the analysis tables when the app opens it, and the queue alone still opens it then', () => {
    const file = tempDbPath();
    const q = openDatabase(file);
    expect(ledger(q)).toEqual(QUEUE_IDS);
    q.close();
    const app = openAppDb(file);
    expect(ledger(app)).toEqual([...QUEUE_IDS, 'analysis/0001', 'analysis/0002', 'analysis/0003', 'analysis/0004', 'analysis/0005']);
    expect(schema(app)).toEqual(freshSchema((f) => openAppDb(f)));
    app.close();
    const again = openDatabase(file);
    expect(again.prepare(`SELECT count(*) AS n FROM analyses`).get()).toEqual({ n: 0 });
    again.close();
  });

  it('is migrated once when four processes open it at the same moment, round after round', async () => {
    // Races seen here: SQLITE_BUSY from the switch to WAL (no busy handler for that lock), and
    // a torn read of the schema state taking a half-migrated new file for another program's.
    for (let round = 0; round < 5; round++) {
      const file = tempDbPath();
      const go = `${file}.go`;
      const script = `
        import fs from 'node:fs';
        const { openAppDb } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli', 'db.js'))});
        process.stdout.write('ready\\n');
        while (!fs.existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 1));
        openAppDb(${JSON.stringify(file)}).close();
      `;
      let ready = 0;
      const run = () => new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stdout.on('data', (d) => { if (String(d).includes('ready')) ready++; });
        child.stderr.on('data', (d) => (stderr += d));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stderr }));
      });
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const all = Promise.all([run(), run(), run(), run()]);
      await waitFor(() => ready === 4, 30_000, 'the processes to load gitroast');
      fs.writeFileSync(go, '');
      for (const r of await all) expect(r.code, `round ${round}: ${r.stderr}`).toBe(0);
      const db = openAppDb(file);
      expect(ledger(db)).toEqual(APP_IDS);
      db.close();
    }
  }, 120_000);
});

/** The committed databases of the release before the ledger, and the ids each already has. */
const LEGACY: { fixture: string; had: string[] }[] = [
  { fixture: 'app-v1.db', had: ['queue/0001'] },
  { fixture: 'app-v2.db', had: ['queue/0001', 'analysis/0001'] },
  { fixture: 'app-v3.db', had: ['queue/0001', 'analysis/0001', 'analysis/0002'] },
  { fixture: 'app-v4.db', had: ['queue/0001', 'analysis/0001', 'analysis/0002', 'analysis/0003'] },
  { fixture: 'app-v5.db', had: ['queue/0001', 'analysis/0001', 'analysis/0002', 'analysis/0003', 'queue/0002'] },
  { fixture: 'queue-v1.db', had: ['queue/0001'] },
  { fixture: 'queue-v2.db', had: ['queue/0001', 'queue/0002'] },
];

describe('a database from the release before the ledger', () => {
  const appSchema = () => freshSchema((f) => openAppDb(f));

  for (const { fixture, had } of LEGACY) {
    it(`${fixture} is upgraded in place: every id in the ledger, a new database's schema, its rows kept`, () => {
      const file = copyFixture(fixture);
      const old = new Database(file, { readonly: true });
      const hadAnalyses = old.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'analyses'`).get() !== undefined;
      const hadCache = old.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'http_cache'`).get() !== undefined;
      const hadBatchId = hadAnalyses && (old.prepare(`SELECT name FROM pragma_table_info('analyses')`).all() as { name: string }[]).some((c) => c.name === 'batch_id');
      old.close();

      const db = openAppDb(file);
      const ids = ledger(db);
      expect([...ids].sort()).toEqual([...APP_IDS].sort());
      // What the file already had is recorded first, then the rest in each room's order.
      expect(ids.slice(0, had.length)).toEqual(had);
      expect(ids.slice(had.length)).toEqual(APP_IDS.filter((id) => !had.includes(id)));
      expect(db.pragma('user_version', { simple: true })).toBe(APP_IDS.length);
      expect(schema(db)).toEqual(appSchema());

      expect(db.prepare(`SELECT name, state, payload FROM jobs`).all()).toEqual([{ name: 'analyze', state: 'delayed', payload: '{"username":"octocat"}' }]);
      expect(db.prepare(`SELECT error FROM failed_jobs`).all()).toEqual([{ error: 'Error: fixture' }]);
      expect(db.prepare(`SELECT id, username, overall, batch_id FROM analyses`).all()).toEqual(
        hadAnalyses ? [{ id: 'an_fixture_1', username: 'Octocat', overall: 77, batch_id: hadBatchId ? 'b_fixture' : null }] : [],
      );
      expect(db.prepare(`SELECT key FROM http_cache`).all()).toEqual(hadCache ? [{ key: 'users/octocat' }] : []);
      db.close();
    });
  }

  it('queue-v2.db opened by the queue alone records the queue\'s ids and nothing of the analysis room', () => {
    const file = copyFixture('queue-v2.db');
    const db = openDatabase(file);
    expect(ledger(db)).toEqual(QUEUE_IDS);
    expect(schema(db)).toEqual(freshSchema((f) => openDatabase(f)));
    expect(db.prepare(`SELECT count(*) AS n FROM jobs`).get()).toEqual({ n: 1 });
    db.close();
  });

  it('is refused read-only (the monitor) without a byte written, until a writing command migrates it', () => {
    const file = copyFixture('app-v5.db');
    const before = sha256(file);
    expect(() => openAppDb(file, { readonly: true })).toThrow(/not fully migrated .*run any writing command/);
    expect(sha256(file)).toBe(before);
    openAppDb(file).close();
    const ro = openAppDb(file, { readonly: true });
    expect(ledger(ro).sort()).toEqual([...APP_IDS].sort());
    ro.close();
  });

  it('is reported by doctor as needing a migration (without touching it), and as current once a command ran', async () => {
    const file = copyFixture('app-v5.db');
    const before = sha256(file);
    const schemaCheck = async () => {
      const r = await gitroast(['--db', file, 'doctor', '--json']);
      return (JSON.parse(r.stdout) as { checks: { check: string; ok: boolean; action?: string; data?: unknown }[] }).checks.find((c) => c.check === 'schema')!;
    };
    expect(await schemaCheck()).toMatchObject({ ok: false, action: expect.stringMatching(/run any writing command/), data: { version: 5, expected: APP_IDS.length } });
    expect(sha256(file)).toBe(before);
    expect((await gitroast(['--db', file, 'status'])).code).toBe(0);
    expect(await schemaCheck()).toMatchObject({ ok: true, data: { version: APP_IDS.length, expected: APP_IDS.length } });
  });

  it('made by the queue alone is refused read-only as an app database, naming what it lacks', () => {
    const file = tempDbPath();
    openDatabase(file).close();
    expect(() => openAppDb(file, { readonly: true })).toThrow(/lacks analysis\/0001, analysis\/0002, analysis\/0003/);
  });
});

describe('a database this build must not touch', () => {
  /** Run `gitroast status` on the file and check exit 3, the message, and that not a byte changed. */
  async function refused(file: string, message: RegExp): Promise<void> {
    for (const f of [`${file}-wal`, `${file}-shm`]) expect(fs.existsSync(f)).toBe(false);
    const before = sha256(file);
    const r = await gitroast(['--db', file, 'status']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(sha256(file)).toBe(before);
    expect(() => openAppDb(file)).toThrow(message);
    expect(() => openDatabase(file)).toThrow(message);
    expect(sha256(file)).toBe(before);
  }

  it('is refused with exit 3 when its ledger holds an id this build does not know', async () => {
    const file = tempDbPath();
    const db = openAppDb(file);
    db.prepare(`INSERT INTO ${LEDGER_TABLE} (id, applied_at) VALUES ('queue/0099', 0)`).run();
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.pragma('journal_mode = DELETE');
    db.close();
    await refused(file, /migrations queue\/0099, newer than this gitroast understands; upgrade gitroast/);
  });

  it('is refused with exit 3 when it has no ledger and a schema version above 5', async () => {
    const file = copyFixture('app-v5.db');
    const db = new Database(file);
    db.pragma('user_version = 6');
    db.close();
    await refused(file, /schema version 6, newer than this gitroast understands; upgrade gitroast/);
  });

  it('is refused with exit 3 when its schema version does not match its tables (the number alone is not trusted)', async () => {
    // app-v2 has jobs and analyses; version 3 would mean it also has http_cache.
    const file = copyFixture('app-v2.db');
    const db = new Database(file);
    db.pragma('user_version = 3');
    db.close();
    await refused(file, /schema version 3 but tables that no gitroast release wrote/);
  });

  it('is refused with exit 3 when it is another program\'s SQLite file, even with a schema version', async () => {
    const file = tempDbPath();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const db = new Database(file);
    db.exec(`CREATE TABLE jobs (id INTEGER PRIMARY KEY, title TEXT)`);
    db.pragma('user_version = 2');
    db.close();
    await refused(file, /is a SQLite database but not a gitroast one/);
  });
});

it('covers every committed legacy fixture', () => {
  expect(fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.db')).sort()).toEqual(LEGACY.map((l) => l.fixture).sort());
});
