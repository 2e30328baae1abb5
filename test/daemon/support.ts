import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach } from 'vitest';
import { BIN, QUEUE_JS, tempDir, waitFor } from '../support/tmp.js';

/** A spawned `gitroast daemon` with its parsed JSON log lines. */
export interface Spawned {
  child: ChildProcess;
  /** Parsed stdout lines, in order. */
  logs: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number | null>;
  /** Wait for a log line with this event (and matching fields), return it. */
  waitLog(event: string, match?: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  count(event: string, match?: (l: Record<string, unknown>) => boolean): number;
}

const spawned: ChildProcess[] = [];

afterEach(() => {
  for (const c of spawned.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Fast intervals so each test stays bounded in time. */
export const FAST = { heartbeatSeconds: 0.2, staleSeconds: 1.5, pollSeconds: 0.1, leaseSeconds: 10, timeoutSeconds: 10, log: { level: 'info' } };

/** Write a config file in a temp dir and return its path. */
export function writeConfig(config: Record<string, unknown>): string {
  const file = path.join(tempDir('gitroast-cfg-'), 'config.json');
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

/**
 * The test-only handler module (loaded through GITROAST_HANDLERS). Handlers write what they
 * do as lines to `payload.file`, so tests can count runs across processes.
 */
export function writeHandlers(): string {
  const file = path.join(tempDir('gitroast-handlers-'), 'handlers.mjs');
  const queue = pathToFileURL(QUEUE_JS).href;
  fs.writeFileSync(file, `
import fs from 'node:fs';
import { DelayError, PermanentError } from ${JSON.stringify(queue)};
const note = (p, ctx, what) => { if (p && p.file) fs.appendFileSync(p.file, \`\${process.pid} \${ctx.id} \${ctx.attempt} \${what}\\n\`); };
const sleep = (ms, signal) => new Promise((resolve) => setTimeout(resolve, ms));
export function register(registry) {
  registry.register('noop', { handle() {} });
  registry.register('record', {
    async handle(p, ctx) { note(p, ctx, 'start'); await sleep(ctx.attempt === 1 && p.msFirst !== undefined ? p.msFirst : (p.ms ?? 0)); note(p, ctx, 'done'); },
  });
  registry.register('hang', {
    async handle(p, ctx) {
      note(p, ctx, 'start');
      if (ctx.attempt === 1) { await sleep(p.ms); note(p, ctx, 'late-finish'); return; }
      note(p, ctx, 'done');
    },
  });
  registry.register('ratelimit', {
    handle(p, ctx) {
      note(p, ctx, 'start');
      if (!fs.existsSync(p.file + '.limited')) { fs.writeFileSync(p.file + '.limited', '1'); throw new DelayError(Date.now() + p.ms, 'rate limited: come back later'); }
      note(p, ctx, 'done');
    },
  });
  registry.register('missing-user', {
    handle() { throw new PermanentError('GitHub says 404: no such user'); },
    failed(p, err) { fs.appendFileSync(p.file, 'failed-hook ' + err.message + '\\n'); },
  });
  registry.register('tick-job', { handle(p) { if (p.out) fs.appendFileSync(p.out, \`\${process.pid} \${p.schedule.at}\\n\`); } });
  if (process.env.TEST_SCHEDULE_OUT) {
    registry.schedule('test-tick', '* * * * * *', { name: 'tick-job', payload: { out: process.env.TEST_SCHEDULE_OUT } });
  }
}
`);
  return file;
}

/** Spawn `gitroast --db <db> daemon <args>` with the test handler module and a config file. */
export function spawnDaemon(db: string, args: string[], env: NodeJS.ProcessEnv = {}): Spawned {
  const child = spawn(process.execPath, [BIN, '--db', db, 'daemon', '--log-format', 'json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GITROAST_CONFIG: '', XDG_CONFIG_HOME: tempDir('gitroast-xdg-'), ...env },
  });
  spawned.push(child);
  const logs: Record<string, unknown>[] = [];
  let err = '';
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ event: 'unparsed', line });
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  // 'close', not 'exit': it fires after the last log line has been read from the pipe.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const find = (event: string, match?: (l: Record<string, unknown>) => boolean) => logs.find((l) => l.event === event && (!match || match(l)));
  return {
    child, logs, exited, stderr: () => err,
    waitLog: async (event, match, timeoutMs = 15_000) => (await waitFor(() => find(event, match), timeoutMs, `log event ${event} (stderr: ${err.slice(-500)})`))!,
    count: (event, match) => logs.filter((l) => l.event === event && (!match || match(l))).length,
  };
}

/** Run the CLI to completion. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GITROAST_CONFIG: '', XDG_CONFIG_HOME: tempDir('gitroast-xdg-'), ...env } });
    spawned.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Read a handler's notes file as lines of [pid, jobId, attempt, what]. */
export function notes(file: string): { pid: number; id: number; attempt: number; what: string }[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
    const [pid, id, attempt, ...what] = l.split(' ');
    return { pid: Number(pid), id: Number(id), attempt: Number(attempt), what: what.join(' ') };
  });
}
