/** Loopback fakes for the reliability suite: GitHub, the model, a webhook receiver, and config files. */
import fs from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach } from 'vitest';
import { newbie, startFakeGitHub, strongDev, type FakeGitHub, type FakeUser } from '../fakes/github.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeOpenAIOptions } from '../fakes/openai.js';
import { tempDir } from '../support/tmp.js';

/** Distinctive secrets: any trace of them in a file or an output is a leak. */
export const TOKEN = 'ghp_RELIABILITYtokenDoNotLeak_5a4b3c2d1e0f';
export const API_KEY = 'sk-RELIABILITYkeyDoNotLeak-0f1e2d3c4b5a6978';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

export interface Webhook {
  url: string;
  /** Bodies received and answered 2xx. */
  posts: { analysisId: string; event: string; at: number; headers: IncomingMessage['headers'] }[];
  /** Answer the next requests with these statuses (then 200). */
  fail(statuses: number[]): void;
  /** Every request, whatever the answer. */
  received: number;
  close(): Promise<void>;
}

/** Start a webhook receiver on 127.0.0.1 that records the analyses it is told about. */
export async function startWebhook(options: { tracked?: boolean } = {}): Promise<Webhook> {
  const queue: number[] = [];
  const hook: Webhook = { url: '', posts: [], received: 0, fail: (s) => queue.push(...s), close: async () => undefined };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      hook.received++;
      const status = queue.shift() ?? 200;
      if (status === 200) {
        try {
          const msg = JSON.parse(body) as { event: string; analysis: { id: string } };
          hook.posts.push({ analysisId: msg.analysis.id, event: msg.event, at: Date.now(), headers: req.headers });
        } catch {
          hook.posts.push({ analysisId: '(not json)', event: '', at: Date.now(), headers: req.headers });
        }
      }
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'down');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/gitroast`;
  hook.close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
  if (options.tracked ?? true) closers.push(hook.close);
  return hook;
}

/** Start the fake GitHub with these users (closed after the test). */
export async function github(users: FakeUser[], options: { latencyMs?: number } = {}): Promise<FakeGitHub> {
  const gh = await startFakeGitHub({ users, ...options });
  closers.push(() => gh.close());
  return gh;
}

/** Start the fake model (closed after the test). */
export async function model(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const ai = await startFakeOpenAI({ apiKey: API_KEY, ...options });
  closers.push(() => ai.close());
  return ai;
}

/** `n` distinct users: alternating a strong developer and a newcomer, renamed user-0001…. */
export function users(n: number, now = Date.now()): FakeUser[] {
  return Array.from({ length: n }, (_, i) => {
    const base = i % 2 === 0 ? strongDev(now) : newbie(now);
    const login = `user-${String(i).padStart(4, '0')}`;
    const rename = (s: string) => s.replace(`${base.login}/`, `${login}/`);
    return { ...base, login, events: base.events?.map((e) => ({ ...e, repo: rename(e.repo) })) };
  });
}

/** Write a config file (JSON) and return its path. */
export function configFile(config: Record<string, unknown>): string {
  const file = path.join(tempDir('gitroast-config-'), 'config.json');
  fs.writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
  return file;
}

/** The environment that points gitroast at the fakes (no secrets unless given). */
export function fakeEnv(
  gh: FakeGitHub,
  extra: { ai?: FakeOpenAI; config?: string; webhook?: Webhook; [name: string]: string | undefined | FakeOpenAI | Webhook } = {},
): NodeJS.ProcessEnv {
  const { ai, config, webhook, ...rest } = extra as { ai?: FakeOpenAI; config?: string; webhook?: Webhook } & Record<string, string | undefined>;
  return {
    GITROAST_GITHUB_API_URL: gh.url,
    OPENAI_BASE_URL: ai?.url ?? 'http://127.0.0.1:9/v1',
    GITHUB_TOKEN: '',
    OPENAI_API_KEY: '',
    GITROAST_CONFIG: config ?? '',
    GITROAST_DENY_LIST: '',
    GITROAST_WEBHOOK_URL: webhook?.url ?? '',
    GITROAST_HTTP_TOKEN: '',
    GITROAST_HTTP: '',
    GITROAST_HANDLERS: '',
    XDG_CONFIG_HOME: tempDir('gitroast-xdg-'),
    NO_COLOR: '1',
    ...rest,
  };
}
