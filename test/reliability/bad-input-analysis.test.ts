import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { gitroast } from '../support/cli.js';
import { tempDbPath, tempDir } from '../support/tmp.js';
import { count, fingerprint, seedDb } from './helpers.js';

/**
 * Property-based bad input for the analysis commands, config files and environment values,
 * through the built binary: exit 2, one line naming the problem, nothing written.
 */
const SCALE = Number(process.env.GITROAST_FC_RUNS ?? 1);
const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * SCALE)), ...(process.env.GITROAST_SEED ? { seed: Number(process.env.GITROAST_SEED) } : {}) });
const tried: Record<string, number> = {};
afterAll(() => {
  const total = Object.values(tried).reduce((a, b) => a + b, 0);
  console.info(`bad input (analysis, config, env): ${total} invocations tried (${Object.entries(tried).map(([k, v]) => `${k} ${v}`).join(', ')})`);
});

const LOGIN = /^[A-Za-z0-9-]{1,39}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** An environment with no config file, no secrets and nothing reachable. */
function quietEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const home = tempDir('gitroast-home-');
  return {
    HOME: home, XDG_CONFIG_HOME: path.join(home, 'config'), XDG_DATA_HOME: path.join(home, 'data'), GITROAST_DB: '', GITROAST_CONFIG: '',
    GITROAST_GITHUB_API_URL: 'http://127.0.0.1:9', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1', GITHUB_TOKEN: '', OPENAI_API_KEY: '',
    GITROAST_CONCURRENCY: '', GITROAST_QUEUES: '', GITROAST_BALANCE: '', GITROAST_WEBHOOK_URL: '', GITROAST_DENY_LIST: '', GITROAST_LOG_FORMAT: '',
    GITROAST_LOG_LEVEL: '', GITROAST_HTTP: '', GITROAST_HTTP_TOKEN: '', GITROAST_MEMORY_LIMIT_MB: '', GITROAST_HANDLERS: '',
    ...extra,
  };
}

function expectOneLine(r: { code: number | null; stdout: string; stderr: string }, names: RegExp, what: string): void {
  expect(r.code, `${what}: ${r.stderr}`).toBe(2);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, what).toHaveLength(1);
  expect(lines[0], what).toMatch(names);
  expect(lines[0], what).not.toMatch(CONTROL);
  expect(r.stdout, what).toBe('');
}

/** Logins GitHub refuses: 40 characters, spaces, slashes, dots, NUL-free controls, lookalikes, emptiness. */
const badLogin = fc.oneof(
  fc.constantFrom('a'.repeat(40), 'ada dev', 'ada/dev', '..', '../etc/passwd', 'ada.dev', 'ada_dev', 'аdadev', 'ａｄａ', 'ada\u200bdev', 'ada\tdev', 'ada\u001b[31m', 'ada\u009b', '@ada', 'ada!', ''),
  fc.string({ maxLength: 45 }),
  fc.string({ unit: fc.constantFrom(...'aA0-_. /\\@аｅ\u200b\u001b'), minLength: 1, maxLength: 45 }),
).filter((s) => !LOGIN.test(s) && !s.includes('\0'));

/** Logins GitHub has or had: single characters, 39 characters, old ones with trailing or double hyphens. */
const goodLogin = fc.oneof(fc.constantFrom('a', 'A'.repeat(39), 'ada-', 'ada--dev', 'x-y-z', '0'), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/));

describe('usernames and batch files', () => {
  it('refuses any invalid username on analyze, keeping the database unchanged or uncreated', async () => {
    const seeded = tempDbPath();
    seedDb(seeded);
    const before = fingerprint(seeded);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(badLogin, fc.boolean(), fc.boolean(), async (login, existing, detach) => {
        n++;
        const db = existing ? seeded : tempDbPath();
        const r = await gitroast(['--db', db, 'analyze', ...(detach ? ['--detach'] : []), '--', login], { env: quietEnv() });
        expectOneLine(r, /invalid GitHub username .*nothing was enqueued/, JSON.stringify(login));
        if (existing) expect(fingerprint(seeded)).toEqual(before);
        else expect(fs.existsSync(path.dirname(db))).toBe(false);
      }),
      runs(12),
    );
    tried['usernames'] = n;
  });

  it('refuses a batch file with one invalid line (NUL included) among valid ones, naming the line, enqueueing nothing', async () => {
    const seeded = tempDbPath();
    seedDb(seeded);
    const before = fingerprint(seeded);
    let n = 0;
    // A batch line is trimmed (as it always was): `l7 ` is the login `l7`, so only lines invalid
    // after trimming are bad lines.
    const badLine = fc.oneof(badLogin.filter((s) => !/[\n\r#]/.test(s) && s.trim() !== '' && !LOGIN.test(s.trim())), fc.constantFrom('ada\0dev', '\0', 'a'.repeat(40)));
    await fc.assert(
      fc.asyncProperty(fc.array(goodLogin, { maxLength: 5 }), badLine, fc.nat(5), async (good, bad, at) => {
        n++;
        const lines = [...good];
        const line = Math.min(at, lines.length);
        lines.splice(line, 0, bad);
        const file = path.join(tempDir(), 'users.txt');
        fs.writeFileSync(file, `${lines.join('\n')}\n`);
        const r = await gitroast(['--db', seeded, 'batch', file, '--detach'], { env: quietEnv() });
        expectOneLine(r, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line + 1}: invalid GitHub username`), JSON.stringify(lines));
        expect(fingerprint(seeded)).toEqual(before);
      }),
      runs(6),
    );
    tried['batch files'] = n;
  });

  it('accepts the logins GitHub allows, old trailing and double hyphens included', async () => {
    const db = tempDbPath();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(goodLogin, async (login) => {
        n++;
        const r = await gitroast(['--db', db, 'analyze', '--detach', '--', login], { env: quietEnv() });
        expect(r.code, `${login}: ${r.stderr}`).toBe(0);
        expect(count(db, 'SELECT count(*) FROM analyses WHERE username = ?', login)).toBe(1);
      }),
      { ...runs(5), examples: [['ada-'], ['ada--dev']] },
    );
    tried['valid logins'] = n;
  });
});

/** Config keys with values the schema refuses. */
const BAD_CONFIG: [string, fc.Arbitrary<unknown>][] = [
  ['concurrency', fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 1001 }), fc.string(), fc.double({ min: 1.01, max: 999.99, noNaN: true }).filter((d) => !Number.isInteger(d)))],
  ['queues', fc.oneof(fc.constant([]), fc.array(fc.string().filter((s) => !/^[a-z0-9][a-z0-9_-]{0,31}$/.test(s)), { minLength: 1, maxLength: 3 }), fc.string())],
  ['balance', fc.string().filter((s) => s !== 'strict' && s !== 'auto')],
  ['leaseSeconds', fc.oneof(fc.integer({ max: 0 }), fc.constant('90'))],
  ['webhookUrl', fc.oneof(fc.constantFrom('ftp://example.com', 'javascript:alert(1)', 'not a url', ''), fc.integer())],
  ['denyList', fc.oneof(fc.string(), fc.array(badLogin, { minLength: 1, maxLength: 3 }))],
  ['http', fc.record({ token: fc.string({ maxLength: 15 }) })],
  ['log', fc.record({ level: fc.string().filter((s) => !['debug', 'info', 'warn', 'error', 'silent'].includes(s)) })],
  ['jobs', fc.record({ 'fetch-github': fc.record({ tries: fc.integer({ max: 0 }) }) })],
  ['schedules', fc.record({ prune: fc.constantFrom('not a cron', '61 * * * *', '* * *') })],
];

describe('config files and environment values', () => {
  it('refuses a config file with a bad value, an unknown key or bad JSON, naming the key (config and daemon)', async () => {
    let n = 0;
    const entry = fc.oneof(
      fc.constantFrom(...BAD_CONFIG).chain(([key, arb]) => arb.map((v) => ({ text: JSON.stringify({ [key]: v }), names: new RegExp(`invalid configuration: ${key}`) }))),
      fc.stringMatching(/^[a-z][a-zA-Z]{2,12}$/).filter((k) => !BAD_CONFIG.some(([key]) => key === k) && !['heartbeatSeconds', 'staleSeconds', 'pollSeconds', 'timeoutSeconds', 'graceSeconds', 'memoryLimitMb', 'durability', 'trim', 'longWait'].includes(k))
        .map((k) => ({ text: JSON.stringify({ [k]: 1 }), names: new RegExp(`${k}: unknown key`) })),
      fc.string({ minLength: 1, maxLength: 20 }).filter((s) => { try { JSON.parse(s); return false; } catch { return true; } })
        .map((s) => ({ text: s, names: /is not valid JSON/ })),
    );
    await fc.assert(
      fc.asyncProperty(entry, fc.constantFrom('config', 'daemon', 'analyze'), async ({ text, names }, command) => {
        n++;
        const dir = tempDir();
        const file = path.join(dir, 'config.json');
        fs.writeFileSync(file, text);
        const db = path.join(dir, 'data', 'gitroast.db');
        const args = command === 'config' ? ['config', '--config', file] : command === 'daemon' ? ['--db', db, 'daemon', '--config', file] : ['--db', db, 'analyze', '--detach', 'adadev'];
        const r = await gitroast(args, { env: quietEnv({ GITROAST_CONFIG: file }), timeoutMs: 15_000 });
        expectOneLine(r, names, `${command} ${text}`);
        expect(fs.existsSync(path.join(dir, 'data')), 'nothing created').toBe(false);
      }),
      runs(12),
    );
    tried['config files'] = n;
  });

  it('refuses bad GITROAST_* environment values, naming the variable; accepts good ones', async () => {
    const intIn = (min: number, max: number) => (s: string) => /^-?\d+(\.\d+)?$/.test(s) && Number.isInteger(Number(s)) && Number(s) >= min && Number(s) <= max;
    const ENV: [string, fc.Arbitrary<string>][] = [
      ['GITROAST_CONCURRENCY', fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom('0', '1001', '1.5', '-3', 'ten', '1e3')).filter((s) => !intIn(1, 1000)(s))],
      ['GITROAST_MEMORY_LIMIT_MB', fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom('15', '0', '2.5')).filter((s) => !intIn(16, 1_048_576)(s))],
      ['GITROAST_BALANCE', fc.string({ minLength: 1 }).filter((s) => s !== 'strict' && s !== 'auto')],
      ['GITROAST_LOG_LEVEL', fc.string({ minLength: 1 }).filter((s) => !['debug', 'info', 'warn', 'error', 'silent'].includes(s))],
      ['GITROAST_LOG_FORMAT', fc.string({ minLength: 1 }).filter((s) => s !== 'json' && s !== 'pretty')],
      ['GITROAST_WEBHOOK_URL', fc.constantFrom('ftp://example.com/hook', 'javascript:alert(1)', 'not a url', 'example.com/hook')],
      ['GITROAST_QUEUES', fc.array(fc.string({ minLength: 1 }).filter((s) => !s.includes(',') && s.trim() !== '' && !/^[a-z0-9][a-z0-9_-]{0,31}$/.test(s.trim())), { minLength: 1, maxLength: 3 }).map((a) => ['high', ...a].join(','))],
      ['GITROAST_HTTP_TOKEN', fc.string({ minLength: 1, maxLength: 15 }).filter((s) => s.trim() !== '')],
    ];
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ENV).chain(([name, arb]) => arb.filter((v) => !v.includes('\0')).map((v) => [name, v] as const)), async ([name, value]) => {
        n++;
        const r = await gitroast(['config'], { env: quietEnv({ [name]: value }) });
        expectOneLine(r, new RegExp(`invalid configuration: .*\\(from env ${name}\\)`), `${name}=${JSON.stringify(value)}`);
      }),
      runs(12),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1000 }), fc.constantFrom('strict', 'auto'), fc.constantFrom('debug', 'info', 'warn', 'error', 'silent'), async (c, balance, level) => {
        n++;
        const r = await gitroast(['config', '--json'], { env: quietEnv({ GITROAST_CONCURRENCY: String(c), GITROAST_BALANCE: balance, GITROAST_LOG_LEVEL: level }) });
        expect(r.code, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout).config).toMatchObject({ concurrency: c, balance, log: { level } });
      }),
      runs(4),
    );
    tried['environment values'] = n;
  });
});
