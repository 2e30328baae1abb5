import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { newbie, startFakeGitHub, type FakeGitHub, type FaultStep } from '../fakes/github.js';
import { startFakeOpenAI, type FakeOpenAI, type OpenAIBehaviour } from '../fakes/openai.js';
import { gitroast } from '../support/cli.js';
import { BIN, waitFor } from '../support/tmp.js';
import { API_KEY, fakeEnv, startWebhook, type Webhook } from './world.js';

const LOGIN = 'newbie-nora';
const USER_PATH = `/users/${LOGIN}`;

interface Row {
  name: string;
  github?: (now: number) => FaultStep[];
  model?: OpenAIBehaviour[];
  webhook?: number[];
  /** Per-job options for the config file (seconds). */
  jobs?: Record<string, { tries?: number; backoff?: number[]; timeout?: number }>;
  /** Jobs left delayed when `analyze` returns, finished by a daemon started afterwards. */
  daemonAfter?: Record<string, { attempts: number; state: string }>;
  expect: {
    code: number;
    analysis: 'completed' | 'failed';
    /** attempts and final state of each job of the chain. */
    jobs: Record<string, { attempts: number; state: string }>;
    /**
     * Least wall time of the whole command, ms: proves a backoff or delay was waited out.
     * No upper bound: load can stretch any run, and time targets live in `npm run bench`.
     */
    minMs?: number;
    /** How many times GitHub was asked for the user, the model was asked, the webhook was called. */
    userCalls?: number;
    modelCalls?: number;
    webhookCalls?: number;
    /** Each error recorded on the jobs' attempts matches one of these. */
    errors?: RegExp;
  };
}

const rateLimited = (resetInSeconds: number) => (now: number): FaultStep[] => [{
  status: 403,
  headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-used': '60', 'x-ratelimit-reset': String(Math.ceil(now / 1000) + resetInSeconds) },
  body: { message: 'API rate limit exceeded for 127.0.0.1.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api' },
}];

/** Short backoffs so retries show up in seconds, not the production minutes. */
const FAST = { 'fetch-github': { backoff: [0.5] }, 'write-review': { backoff: [0.5] }, notify: { backoff: [0.5] } };
const ok = (n = 1) => ({ attempts: n, state: 'completed' });

const ROWS: Row[] = [
  {
    name: 'GitHub answers 500 twice, then fine: two retries after the backoff, completed',
    github: () => [{ status: 500 }, { status: 500 }, 'ok'],
    expect: { code: 0, analysis: 'completed', jobs: { 'fetch-github': ok(3), 'write-review': ok(), notify: ok() }, minMs: 1000, userCalls: 3, errors: /GitHub answered 500/ },
  },
  {
    name: 'GitHub 403 with the rate limit exhausted and a reset in 3 s: delayed until the reset, no attempt spent',
    github: rateLimited(3),
    expect: { code: 0, analysis: 'completed', jobs: { 'fetch-github': ok(1), 'write-review': ok(), notify: ok() }, minMs: 2000, userCalls: 2 },
  },
  {
    name: 'GitHub 429 secondary limit with retry-after 2: delayed 2 s, no attempt spent',
    github: () => [{ secondary: true, retryAfter: 2, status: 429 }],
    expect: { code: 0, analysis: 'completed', jobs: { 'fetch-github': ok(1), 'write-review': ok(), notify: ok() }, minMs: 2000, userCalls: 2 },
  },
  {
    name: 'GitHub drops the connection: the attempt fails and the retry succeeds',
    github: () => [{ drop: true }],
    expect: { code: 0, analysis: 'completed', jobs: { 'fetch-github': ok(2), 'write-review': ok(), notify: ok() }, minMs: 500, userCalls: 2, errors: /could not reach GitHub|socket|ECONNRESET|other side closed|terminated/i },
  },
  {
    name: 'GitHub answers slower than the job\'s 3 s timeout: the attempt is cut at the timeout and retried',
    github: () => [{ delayMs: 10_000 }],
    jobs: { 'fetch-github': { timeout: 3, backoff: [0.2] } },
    // The cut shows in the outcome, not a clock: had the attempt waited for the 10 s answer it
    // would have completed on attempt 1, and the error names the 3 s timeout that fired.
    expect: { code: 0, analysis: 'completed', jobs: { 'fetch-github': ok(2), 'write-review': ok(), notify: ok() }, minMs: 3000, userCalls: 2, errors: /timed out after 3000 ms/ },
  },
  {
    name: 'the model answers 429 with retry-after 2: delayed 2 s, no attempt spent, GitHub not asked again',
    model: [{ rateLimited: true, retryAfter: '2' }, 'valid'],
    expect: { code: 0, analysis: 'completed', jobs: { 'fetch-github': ok(1), 'write-review': ok(1), notify: ok() }, minMs: 2000, userCalls: 1, modelCalls: 2 },
  },
  {
    name: 'the model answers with text that is not JSON, twice: one repair request, then a retried attempt',
    model: ['not-json', 'not-json', 'valid'],
    expect: { code: 0, analysis: 'completed', jobs: { 'fetch-github': ok(1), 'write-review': ok(2), notify: ok() }, userCalls: 1, modelCalls: 3, errors: /no valid review/ },
  },
  {
    name: 'the model answers JSON that does not match the schema: repaired within the attempt',
    model: ['schema-mismatch', 'valid'],
    expect: { code: 0, analysis: 'completed', jobs: { 'fetch-github': ok(1), 'write-review': ok(1), notify: ok() }, modelCalls: 2 },
  },
  {
    name: 'the model refuses: repaired within the attempt',
    model: ['refusal', 'valid'],
    expect: { code: 0, analysis: 'completed', jobs: { 'fetch-github': ok(1), 'write-review': ok(1), notify: ok() }, modelCalls: 2 },
  },
  {
    name: 'the model\'s answer is cut off, twice: the attempt fails and the retry succeeds',
    model: ['truncated', 'truncated', 'valid'],
    expect: { code: 0, analysis: 'completed', jobs: { 'fetch-github': ok(1), 'write-review': ok(2), notify: ok() }, modelCalls: 3, errors: /cut off|length/ },
  },
  {
    name: 'the webhook is down twice: the notification retries on its own, the analysis stays completed',
    webhook: [503, 503],
    daemonAfter: { 'fetch-github': ok(1), 'write-review': ok(1), notify: { attempts: 1, state: 'delayed' } },
    expect: { code: 0, analysis: 'completed', jobs: { 'fetch-github': ok(1), 'write-review': ok(1), notify: ok(3) }, minMs: 1000, webhookCalls: 3, errors: /webhook .* answered 503/ },
  },
  {
    name: 'the webhook stays down: the notification fails for good, the analysis stays completed',
    webhook: [503, 503, 503, 503],
    jobs: { notify: { tries: 2, backoff: [0.3] } },
    daemonAfter: { 'fetch-github': ok(1), 'write-review': ok(1), notify: { attempts: 1, state: 'delayed' } },
    // The chain's catch job runs (notify is its last link) and leaves the completed analysis alone.
    expect: { code: 0, analysis: 'completed', jobs: { 'fetch-github': ok(1), 'write-review': ok(1), notify: { attempts: 2, state: 'failed' }, 'analysis-failed': ok(1) }, webhookCalls: 2, errors: /webhook .* answered 503/ },
  },
];

describe('faults from outside (one analysis through `gitroast analyze`, the loopback fakes, and the queue)', () => {
  for (const row of ROWS) {
    // The 60 s test timeout is a hang guard only (about 10x the slowest row's few seconds), not a time target.
    it.concurrent(row.name, async () => {
      const now = Date.now();
      const gh: FakeGitHub = await startFakeGitHub({ users: [newbie(now)] });
      const ai: FakeOpenAI = await startFakeOpenAI({ apiKey: API_KEY, behaviours: row.model ?? ['valid'] });
      const hook: Webhook = await startWebhook({ tracked: false });
      const cleanup: string[] = [];
      try {
        if (row.github) gh.fault(USER_PATH, row.github(now));
        if (row.webhook) hook.fail(row.webhook);
        const jobs: Record<string, unknown> = { ...FAST };
        for (const [name, o] of Object.entries(row.jobs ?? {})) jobs[name] = { ...(jobs[name] as object), ...o };
        // Own folder, removed in finally: tmp.ts's afterEach would remove a concurrent row's.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitroast-fault-'));
        cleanup.push(dir);
        const config = path.join(dir, 'config.json');
        fs.writeFileSync(config, JSON.stringify({ jobs }));
        const db = path.join(dir, 'data', 'gitroast.db');
        const t0 = Date.now();
        const r = await gitroast(['--db', db, 'analyze', LOGIN, '--json'], {
          env: fakeEnv(gh, { ai, config, webhook: hook, OPENAI_API_KEY: API_KEY, XDG_CONFIG_HOME: dir }),
          timeoutMs: 40_000,
        });
        const e = row.expect;
        expect(r.code, r.stderr).toBe(e.code);
        const read = () => {
          const c = new Database(db, { readonly: true });
          try {
            return c.prepare('SELECT name, attempts, state FROM jobs ORDER BY id').all() as { name: string; attempts: number; state: string }[];
          } finally {
            c.close();
          }
        };
        if (row.daemonAfter) {
          // analyze returns once the analysis is finished; the retrying notification is the daemon's.
          expect(Object.fromEntries(read().map((j) => [j.name, { attempts: j.attempts, state: j.state }]))).toEqual(row.daemonAfter);
          const daemon = spawn(process.execPath, [BIN, '--db', db, 'daemon', '--log-format', 'json'], {
            env: { ...process.env, ...fakeEnv(gh, { ai, config, webhook: hook, OPENAI_API_KEY: API_KEY, XDG_CONFIG_HOME: dir }) },
            stdio: 'ignore',
          });
          const exited = new Promise((res) => daemon.on('close', res));
          try {
            await waitFor(() => read().every((j) => j.state === 'completed' || j.state === 'failed'), 20_000, 'the notification to finish');
          } finally {
            daemon.kill('SIGTERM');
            await exited;
          }
        }
        const ms = Date.now() - t0;
        const q = new Database(db, { readonly: true });
        const analysis = q.prepare('SELECT status FROM analyses').get() as { status: string };
        const rows = q.prepare('SELECT name, attempts, state, errors FROM jobs ORDER BY id').all() as { name: string; attempts: number; state: string; errors: string | null }[];
        q.close();
        expect(analysis.status).toBe(e.analysis);
        expect(Object.fromEntries(rows.map((j) => [j.name, { attempts: j.attempts, state: j.state }]))).toEqual(e.jobs);
        expect(rows).toHaveLength(Object.keys(e.jobs).length);
        if (e.minMs !== undefined) expect(ms).toBeGreaterThanOrEqual(e.minMs);
        if (e.userCalls !== undefined) expect(gh.requests.filter((x) => x.path.split('?')[0] === USER_PATH)).toHaveLength(e.userCalls);
        if (e.modelCalls !== undefined) expect(ai.requests).toHaveLength(e.modelCalls);
        if (e.webhookCalls !== undefined) expect(hook.received).toBe(e.webhookCalls);
        const errors = rows.flatMap((j) => (JSON.parse(j.errors ?? '[]') as { message: string }[]).map((x) => x.message));
        if (e.errors) {
          expect(errors.length).toBeGreaterThan(0);
          for (const m of errors) expect(m).toMatch(e.errors);
        } else {
          expect(errors).toEqual([]);
        }
        if (e.analysis === 'completed') expect(hook.posts.every((p) => p.event === 'analysis.completed')).toBe(true);
      } finally {
        await Promise.all([gh.close(), ai.close(), hook.close()]);
        for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
      }
    }, 60_000);
  }
});
