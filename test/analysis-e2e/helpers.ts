/** Shared set-up of the end-to-end analysis tests: loopback fakes, a temp database, the env. */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach } from 'vitest';
import { startFakeGitHub, type FakeGitHub, type FakeUser } from '../fakes/github.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeOpenAIOptions } from '../fakes/openai.js';
import { gitroast, type CliResult } from '../support/cli.js';
import path from 'node:path';
import { tempDbPath, tempDir } from '../support/tmp.js';

export const TOKEN = 'ghp_e2eSecretTokenValue_9f8e7d6c5b4a3210';
export const API_KEY = 'sk-e2e-secret-api-key-0123456789abcdef';

/** Every C0/C1 control but newline and tab: none may reach stdout. */
// eslint-disable-next-line no-control-regex
export const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

export interface World {
  gh: FakeGitHub;
  ai: FakeOpenAI | undefined;
  db: string;
  /** Run gitroast on this world's database with the fakes' URLs (no keys unless given). */
  run(args: readonly string[], extra?: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number }): Promise<CliResult>;
  /** Read-only SQL on the database file. */
  query<T>(sql: string, ...params: unknown[]): T[];
}

/** Start the fakes (OpenAI only when asked) and pick a database path; all closed after the test. */
export async function world(users: FakeUser[], openai?: FakeOpenAIOptions): Promise<World> {
  const gh = await startFakeGitHub({ users });
  closers.push(() => gh.close());
  const ai = openai ? await startFakeOpenAI(openai) : undefined;
  if (ai) closers.push(() => ai.close());
  const db = tempDbPath();
  const configHome = tempDir('gitroast-config-');
  return {
    gh,
    ai,
    db,
    run: (args, extra = {}) =>
      gitroast(['--db', db, ...args], {
        input: extra.input,
        timeoutMs: extra.timeoutMs ?? 25_000,
        env: {
          GITROAST_GITHUB_API_URL: gh.url,
          OPENAI_BASE_URL: ai?.url ?? 'http://127.0.0.1:9/v1',
          GITHUB_TOKEN: '',
          OPENAI_API_KEY: '',
          GITROAST_CONFIG: '',
          GITROAST_DENY_LIST: '',
          GITROAST_WEBHOOK_URL: '',
          XDG_CONFIG_HOME: configHome,
          ...extra.env,
        },
      }),
    query: <T>(sql: string, ...params: unknown[]) => {
      if (!fs.existsSync(db)) return [];
      const conn = new Database(db, { readonly: true });
      try {
        return conn.prepare(sql).all(...params) as T[];
      } finally {
        conn.close();
      }
    },
  };
}

/** Parse stdout as JSON lines. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Write a config file and return its path (for GITROAST_CONFIG). */
export function configFile(config: Record<string, unknown>): string {
  const file = path.join(tempDir('gitroast-config-'), 'config.json');
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}
