import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { gitroast } from '../support/cli.js';
import { tempDbPath, tempDir } from '../support/tmp.js';
import { count, fingerprint, mode, seedDb } from './helpers.js';

/**
 * Property-based bad input through the built binary. Every invalid value must give exit 2,
 * exactly one line on stderr naming the problem, nothing on stdout, and leave the database
 * byte-for-byte unchanged (or not create it). Each run spawns the CLI (~150-400 ms), so the
 * run counts are modest; GITROAST_FC_RUNS scales them, GITROAST_SEED replays a failure.
 */
const SCALE = Number(process.env.GITROAST_FC_RUNS ?? 1);
const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * SCALE)), ...(process.env.GITROAST_SEED ? { seed: Number(process.env.GITROAST_SEED) } : {}) });
const tried: Record<string, number> = {};
afterAll(() => {
  const total = Object.values(tried).reduce((a, b) => a + b, 0);
  console.info(`bad input: ${total} invocations tried (${Object.entries(tried).map(([k, v]) => `${k} ${v}`).join(', ')})`);
});

const QUEUE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Text of any kind the shell could pass (argv cannot carry NUL). */
const anyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: fc.constantFrom(...'aZ09-_./ \t\n\u001b[]\u0007\u009b\u202eаｅ'), maxLength: 40 }),
).filter((s) => !s.includes('\0'));

/** Queue names people get wrong: capitals, spaces, slashes, dots, lookalikes, too long. */
const badQueue = fc.oneof(
  fc.constantFrom('', ' ', 'High', 'a'.repeat(33), '-low', '_low', 'low queue', 'low/high', '..', 'a.b', 'ｌｏｗ', 'lоw', 'low\n', 'lo\tw', '\u001b[31mlow', 'é'),
  anyText,
).filter((s) => !QUEUE.test(s));
const goodQueue = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,31}$/);

const badUuid = fc.oneof(
  fc.constantFrom('', 'ALL', 'all ', 'none', '123', '00000000-0000-0000-0000-00000000000', '00000000-0000-0000-0000-0000000000000', 'g0000000-0000-0000-0000-000000000000', '{00000000-0000-0000-0000-000000000000}'),
  fc.uuid().map((u) => `${u} `),
  fc.uuid().map((u) => u.replace(/-/g, '')),
  anyText,
).filter((s) => s !== 'all' && !UUID.test(s));

/** Numeric flags and their allowed ranges. */
const NUMBER_FLAGS: { args: readonly string[]; flag: string; min: number; max: number }[] = [
  { args: ['failed', 'list'], flag: '--limit', min: 1, max: 100_000 },
  { args: ['failed', 'flush'], flag: '--hours', min: 0, max: 1_000_000 },
  { args: ['monitor', '--once'], flag: '--refresh', min: 100, max: 3_600_000 },
  { args: ['doctor'], flag: '--stale', min: 1, max: 86_400 },
];

const badNumber = (min: number, max: number) =>
  fc.oneof(
    fc.integer({ min: -1_000_000, max: min - 1 }).map(String),
    fc.integer({ min: max + 1, max: Number.MAX_SAFE_INTEGER }).map(String),
    fc.constantFrom('', ' ', '1.5', '1e3', '+5', '-0', ' 7', '7 ', '0x10', '٣', 'NaN', 'Infinity', '10ms', '1,000', '9'.repeat(30)),
    anyText.filter((s) => !/^\d+$/.test(s)),
  );

interface Target {
  /** Existing seeded database, or a path that must not come to exist. */
  file: string;
  exists: boolean;
  before: ReturnType<typeof fingerprint>;
}

/** A seeded database that no invalid command may change, and a missing one that none may create. */
function targets(): { existing: Target; missing: () => Target } {
  const file = tempDbPath();
  seedDb(file);
  return {
    existing: { file, exists: true, before: fingerprint(file) },
    missing: () => {
      const f = tempDbPath();
      return { file: f, exists: false, before: fingerprint(f) };
    },
  };
}

/** Assert one invalid invocation was refused cleanly. */
async function expectRefused(target: Target, args: readonly string[], names: RegExp, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const r = await gitroast(['--db', target.file, ...args], { env });
  const what = `gitroast ${JSON.stringify(args)}`;
  expect(r.code, `${what}: ${r.stderr}`).toBe(2);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, what).toHaveLength(1);
  expect(lines[0], what).toMatch(names);
  // The line names the problem, and never carries raw control characters to the terminal.
  // eslint-disable-next-line no-control-regex -- the test asserts that no terminal control character got through
  expect(lines[0], what).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  expect(r.stdout, what).toBe('');
  if (target.exists) expect(fingerprint(target.file), what).toEqual(target.before);
  else expect(fs.existsSync(path.dirname(target.file)), `${what} created the database folder`).toBe(false);
}

describe('bad input is refused with exit 2, one line, and no change to the database', () => {
  it('queue names (pause, continue, failed filters, monitor --queues)', async () => {
    const t = targets();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(badQueue, fc.nat(4), fc.boolean(), async (name, which, existing) => {
        n++;
        const target = existing ? t.existing : t.missing();
        const args = [
          ['queue', 'pause', '--', name],
          ['queue', 'continue', '--', name],
          ['failed', 'list', `--queue=${name}`],
          ['failed', 'retry', `--queue=${name}`],
          ['failed', 'forget', `--queue=${name}`],
        ][which]!;
        await expectRefused(target, args, /invalid queue name/);
      }),
      runs(16),
    );
    // monitor splits on commas: refused when any part is invalid or none is given.
    await fc.assert(
      fc.asyncProperty(badQueue.filter((s) => !s.includes(',') && s.trim() !== '' && !QUEUE.test(s.trim())), async (name) => {
        n++;
        await expectRefused(t.missing(), ['monitor', '--once', `--queues=high,${name}`], /invalid (queue name|--queues)/);
      }),
      runs(6),
    );
    tried['queue names'] = n;
  });

  it('failed job uuids (show, retry, forget)', async () => {
    const t = targets();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(badUuid, fc.constantFrom('show', 'retry', 'forget'), fc.boolean(), async (id, sub, existing) => {
        n++;
        await expectRefused(existing ? t.existing : t.missing(), ['failed', sub, '--', id], /invalid failed job uuid/);
      }),
      runs(12),
    );
    tried['uuids'] = n;
  });

  it('numbers (--limit, --hours, --refresh, --stale)', async () => {
    const t = targets();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...NUMBER_FLAGS).chain((f) => fc.tuple(fc.constant(f), badNumber(f.min, f.max), fc.boolean())),
        async ([f, value, existing]) => {
          n++;
          await expectRefused(existing ? t.existing : t.missing(), [...f.args, `${f.flag}=${value}`], new RegExp(`invalid ${f.flag} `));
        },
      ),
      runs(16),
    );
    tried['numbers'] = n;
  });

  it('unknown commands and flags', async () => {
    const t = targets();
    let n = 0;
    const known = new Set(['help', 'json', 'version', 'db', 'queue', 'name', 'tag', 'limit', 'hours', 'refresh', 'once', 'readonly', 'queues', 'full', 'stale', 'force']);
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[a-z][a-z-]{0,15}$/).filter((s) => !known.has(s)),
        fc.constantFrom(['status'], ['queue', 'list'], ['failed', 'list'], ['doctor'], ['backup', 'x.db']),
        async (flag, args) => {
          n++;
          await expectRefused(t.existing, [...args, `--${flag}`], /unknown option/);
        },
      ),
      runs(8),
    );
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[a-z]{3,12}$/), async (word) => {
        fc.pre(!['status', 'queue', 'failed', 'monitor', 'doctor', 'backup', 'help', 'daemon', 'config', 'schedule', 'analyze', 'show', 'list', 'keep', 'batch', 'batches'].includes(word));
        n++;
        await expectRefused(t.existing, [word], /unknown command/);
      }),
      runs(4),
    );
    tried['unknown flags and commands'] = n;
  });

  it('--db and GITROAST_DB naming nothing or a folder', async () => {
    const dir = tempDir();
    let n = 0;
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['--db', ''], {}, /invalid --db ""/],
      [['--db', '   '], {}, /invalid --db " {3}"/],
      [['--db', dir], {}, /invalid --db .*names a folder/],
      [['--db', `${path.join(dir, 'new')}/`], {}, /invalid --db .*names a folder/],
      [[], { GITROAST_DB: dir }, /invalid GITROAST_DB .*names a folder/],
      [[], { GITROAST_DB: `${path.join(dir, 'sub')}/` }, /invalid GITROAST_DB .*names a folder/],
    ];
    for (const [flags, env, names] of cases) {
      n++;
      const r = await gitroast([...flags, 'status'], { env: { HOME: dir, XDG_DATA_HOME: '', GITROAST_DB: '', ...env } });
      expect(r.code, `${JSON.stringify([flags, env])}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(names);
    }
    // Nothing was created anywhere: not in the folder, not under HOME.
    expect(fs.readdirSync(dir)).toEqual([]);
    tried['--db / GITROAST_DB'] = n;
  });
});

describe('valid input is accepted', () => {
  it('any valid queue name can be paused and is then listed as paused', async () => {
    const file = tempDbPath();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(goodQueue, async (name) => {
        n++;
        const r = await gitroast(['--db', file, 'queue', 'pause', '--', name]);
        expect(r.code, r.stderr).toBe(0);
        expect(count(file, 'SELECT count(*) FROM queues WHERE name = ? AND paused = 1', name)).toBe(1);
      }),
      runs(6),
    );
    tried['valid queue names'] = n;
  });

  it('numbers inside their range, and uuids that name no failed job (exit 1, not 2)', async () => {
    const file = tempDbPath();
    seedDb(file);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...NUMBER_FLAGS.filter((f) => f.flag !== '--refresh')).chain((f) => fc.tuple(fc.constant(f), fc.integer({ min: f.min, max: f.max }))), async ([f, v]) => {
        n++;
        const r = await gitroast(['--db', file, ...f.args, `${f.flag}=${v}`, '--json']);
        expect(r.code === 0 || (f.flag === '--stale' && r.code === 1), `${f.flag}=${v}: ${r.stderr}`).toBe(true);
      }),
      runs(6),
    );
    await fc.assert(
      fc.asyncProperty(fc.uuid(), async (id) => {
        n++;
        const r = await gitroast(['--db', file, 'failed', 'show', id]);
        expect(r.code).toBe(1);
        expect(r.stderr.trim()).toBe(`gitroast: no failed job ${id}`);
      }),
      runs(3),
    );
    tried['valid numbers and uuids'] = n;
  });

  it('GITROAST_DB and XDG_DATA_HOME: absolute paths are used, a relative XDG_DATA_HOME is ignored (XDG spec), files are 0600', async () => {
    let n = 0;
    const segment = fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/).filter((s) => s !== '.' && s !== '..');
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GITROAST_DB', 'XDG_DATA_HOME', 'relative XDG_DATA_HOME'), fc.array(segment, { minLength: 1, maxLength: 3 }), async (kind, parts) => {
        n++;
        const home = tempDir();
        const env: NodeJS.ProcessEnv = { HOME: home, GITROAST_DB: '', XDG_DATA_HOME: '' };
        let expected: string;
        if (kind === 'GITROAST_DB') {
          expected = path.join(home, ...parts, 'x.db');
          env.GITROAST_DB = expected;
        } else if (kind === 'XDG_DATA_HOME') {
          env.XDG_DATA_HOME = path.join(home, ...parts);
          expected = path.join(home, ...parts, 'gitroast', 'gitroast.db');
        } else {
          env.XDG_DATA_HOME = path.join(...parts);
          expected = path.join(home, '.local', 'share', 'gitroast', 'gitroast.db');
        }
        const r = await gitroast(['status', '--json'], { env });
        expect(r.code, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout).database.path).toBe(expected);
        expect(mode(expected).toString(8)).toBe('600');
        expect(mode(path.dirname(expected)).toString(8)).toBe('700');
      }),
      runs(6),
    );
    tried['valid environment values'] = n;
  });
});
