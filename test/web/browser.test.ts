/**
 * The dashboard in a real browser (Playwright driving Debian's Chromium), against a spawned
 * `gitroast daemon --http 127.0.0.1:0` on a temp database. Set GITROAST_SCREENSHOTS=1 to
 * write a PNG of every screen into docs/screenshots/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAppDb } from '../../src/cli/db.js';
import * as q from '../../src/queue/index.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { FAST, runCli, writeConfig } from '../daemon/support.js';
import { daysAgo, startFakeGitHub, type FakeGitHub } from '../fakes/github.js';
import os from 'node:os';
import { BIN, QUEUE_JS, ROOT, waitFor } from '../support/tmp.js';

// test/support/tmp's folders are removed after each test; these live for the whole file.
const made: string[] = [];
function tempDir(prefix = 'gitroast-web-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const SHOTS = process.env.GITROAST_SCREENSHOTS === '1' ? path.join(ROOT, 'docs', 'screenshots') : undefined;

/** Text that would run if any page treated it as markup or as a URL. */
const EVIL = '<script>window.__pwned="script"</script> <img src=x onerror="window.__pwned=\'img\'"> <a href="javascript:window.__pwned=\'link\'">click</a> \u202Egnp.exe';
const EVIL_LOGIN = 'xss-eve';

/** A handler module: `flaky` fails for good with payload.message while payload.flag exists. */
function writeFlakyHandlers(): string {
  const file = path.join(tempDir('gitroast-web-handlers-'), 'handlers.mjs');
  fs.writeFileSync(file, `
import fs from 'node:fs';
import { PermanentError } from ${JSON.stringify(pathToFileURL(QUEUE_JS).href)};
export function register(registry) {
  registry.register('flaky', { handle(p) { if (fs.existsSync(p.flag)) throw new PermanentError(p.message); } });
  registry.register('noop', { handle() {} });
}
`);
  return file;
}

/**
 * Spawn gitroast for the whole file (test/daemon/support's spawnDaemon kills its children
 * after each test) and resolve with the port it reports listening on.
 */
async function serve(args: string[], extraEnv: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; base: string; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GITROAST_CONFIG: '', XDG_CONFIG_HOME: tempDir(), ...extraEnv } });
  const exited = new Promise((r) => child.once('close', r));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const port = await waitFor(() => /"event":"http\.listening"[^\n]*"port":(\d+)/.exec(out)?.[1], 20_000, `gitroast to listen (output: ${out.slice(-300)})`);
  return { child, base: `http://127.0.0.1:${port}`, exited };
}

let gh: FakeGitHub;
let dbPath: string;
let db: q.Db;
let daemon: Awaited<ReturnType<typeof serve>>;
let base: string;
let context: BrowserContext;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  const now = Date.now();
  gh = await startFakeGitHub({
    users: [{
      login: EVIL_LOGIN, name: EVIL, bio: `bio ${EVIL}`, blog: "javascript:window.__pwned='blog'", followers: 3, following: 1, createdAt: daysAgo(now, 500),
      repos: [{ name: 'tool', description: EVIL, language: 'C', pushedAt: daysAgo(now, 5), createdAt: daysAgo(now, 100), size: 50, readme: '# tool' }],
      events: [],
    }],
  });
  dbPath = path.join(tempDir(), 'gitroast.db');
  db = openAppDb(dbPath);
  env = { GITROAST_HANDLERS: writeFlakyHandlers(), GITROAST_GITHUB_API_URL: gh.url, GITHUB_TOKEN: '', OPENAI_API_KEY: '', GITROAST_DENY_LIST: '', GITROAST_WEBHOOK_URL: '' };
  daemon = await serve(['--db', dbPath, 'daemon', '--log-format', 'json', '--config', writeConfig({ ...FAST, staleSeconds: 5 }), '--http', '127.0.0.1:0'], env);
  base = daemon.base;
  context = await chromium.launchPersistentContext(tempDir('gitroast-chromium-'), { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 860 } });
}, 60_000);

afterAll(async () => {
  await context?.close();
  daemon?.child.kill('SIGTERM');
  await daemon?.exited;
  db?.close();
  await gh?.close();
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** Open a page that records dialogs and console errors; nothing untrusted may open a dialog. */
async function open(url: string): Promise<{ page: Page; dialogs: string[] }> {
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
  page.on('response', (r) => { if (process.env.DEBUG_WEB) process.stderr.write(`${r.status()} ${r.request().method()} ${r.url()}\n`); });
  await page.goto(url);
  return { page, dialogs };
}

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
}

describe('the web dashboard in Chromium', () => {
  it('shows the same counts on the overview as `status --json`', async () => {
    // Paused queues: the daemon claims nothing from them, so the counts hold still.
    for (const name of ['high', 'default']) q.pauseQueue(db, name);
    for (let i = 0; i < 3; i++) q.enqueue(db, { name: 'noop', queue: 'high' });
    for (let i = 0; i < 5; i++) q.enqueue(db, { name: 'noop', queue: 'low', delayMs: 3_600_000 });
    q.enqueue(db, { name: 'noop', queue: 'default' });
    const status = await runCli(['--db', dbPath, 'status', '--json']);
    expect(status.code).toBe(0);
    const queues = (JSON.parse(status.stdout) as { queues: { queue: string; pending: number; delayed: number; reserved: number; failed: number }[] }).queues;
    const { page } = await open(`${base}/`);
    for (const s of queues) {
      const row = page.locator(`tr[data-queue="${s.queue}"]`);
      for (const k of ['pending', 'delayed', 'reserved', 'failed'] as const) {
        expect(await row.locator(`td[data-k="${k}"]`).innerText(), `${s.queue} ${k}`).toBe(String(s[k]));
      }
    }
    expect(queues.find((s) => s.queue === 'high')!.pending).toBe(3);
    expect(queues.find((s) => s.queue === 'low')!.delayed).toBe(5);
    await page.close();
    for (const name of ['high', 'default']) q.continueQueue(db, name);
  });

  it('shows a job enqueued from the CLI without a reload, and its report with untrusted text shown literally', async () => {
    const { page, dialogs } = await open(`${base}/`);
    await page.evaluate(() => ((globalThis as unknown as { __sameDocument: number }).__sameDocument = 1));
    await waitFor(() => page.locator('#live-dot.live:not(.off)').count(), 10_000, 'the event stream to open');
    const r = await runCli(['--db', dbPath, 'analyze', EVIL_LOGIN, '--detach', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const job = db.prepare(`SELECT MAX(id) AS id FROM jobs WHERE name = 'fetch-github'`).get() as { id: number };
    await page.locator(`tr[data-job="${job.id}"][data-event="enqueued"]`).waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => (globalThis as unknown as { __sameDocument?: number }).__sameDocument)).toBe(1);
    await shot(page, 'overview');

    // The daemon runs the chain (fake GitHub, offline writer): the report page draws the profile's text.
    const id = (JSON.parse(r.stdout.split('\n')[0]!) as { id: string }).id;
    await waitFor(() => (db.prepare(`SELECT status FROM analyses WHERE id = ?`).get(id) as { status: string } | undefined)?.status === 'completed', 20_000,
      `the analysis to complete (jobs: ${JSON.stringify(db.prepare('SELECT id, name, state FROM jobs').all())})`);
    await page.goto(`${base}/analyses/${id}`);
    const body = await page.locator('main').innerText();
    expect(body).toContain('<script>window.__pwned="script"</script>');
    expect(body).toContain('<img src=x onerror=');
    // The collector already strips bidi overrides from what it stores: none reaches the page.
    expect(body).toContain('gnp.exe');
    expect(body).not.toContain('\u202E');
    expect(await page.locator('main script, main img, a[href^="javascript:"]').count()).toBe(0);
    expect(await page.locator('main').innerText()).toContain("javascript:window.__pwned='blog'");
    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
    await shot(page, 'analysis');
    await page.goto(`${base}/analyses`);
    await shot(page, 'analyses');
    await page.close();
  });

  it('retries a failed job from the page: it leaves the failed list and completes; its error shows literally', async () => {
    const flag = path.join(tempDir('gitroast-flag-'), 'fail');
    fs.writeFileSync(flag, '1');
    const { id } = q.enqueue(db, { name: 'flaky', payload: { flag, message: `boom ${EVIL}` }, tries: 1 });
    await waitFor(() => q.getJob(db, id)?.state === 'failed', 15_000, 'the job to fail');
    const { page, dialogs } = await open(`${base}/failed`);
    const group = page.locator('details[data-group]', { hasText: 'boom' });
    await group.locator('summary').click();
    const row = page.locator(`tr[data-job="${id}"]`);
    const error = await row.locator('.error-text').innerText();
    expect(error).toContain('<script>window.__pwned="script"</script>');
    expect(error).toContain(`<a href="javascript:window.__pwned='link'">click</a>`);
    // The bidi override is shown as an escape, not applied: the text reads as written.
    expect(error).toContain('\\u202egnp.exe');
    expect(error).not.toContain('\u202E');
    expect(await page.locator('main script, main img, a[href^="javascript:"]').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
    await shot(page, 'failed');
    fs.rmSync(flag);
    await row.locator('button[data-act="retry"]').click();
    await row.waitFor({ state: 'detached', timeout: 10_000 });
    await waitFor(() => q.listJobs(db, { state: 'completed', name: 'flaky' }).length === 1, 15_000, 'the retried job to complete');
    await page.goto(`${base}/jobs?state=completed&name=flaky`);
    const retried = q.listJobs(db, { state: 'completed', name: 'flaky' })[0]!;
    await page.locator(`tr[data-job="${retried.id}"]`).waitFor({ timeout: 5_000 });
    await shot(page, 'jobs');
    await page.goto(`${base}/jobs/${retried.id}`);
    expect(await page.locator('main pre').first().innerText()).toContain('"flag"');
    await shot(page, 'job');
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it('pauses and continues a queue from the page', async () => {
    const { page } = await open(`${base}/queues`);
    const row = page.locator('tr[data-queue="default"]');
    await row.locator('button[data-act="pause"]').click();
    await row.locator('td[data-k="state"] .pill.paused').waitFor({ timeout: 10_000 });
    expect(q.pausedQueues(db).has('default')).toBe(true);
    await shot(page, 'queues');
    await row.locator('button[data-act="continue"]').click();
    await row.locator('td[data-k="state"] .pill.active').waitFor({ timeout: 10_000 });
    expect(q.pausedQueues(db).has('default')).toBe(false);
    const batch = q.createBatch(db, { name: 'nightly', jobs: [{ name: 'noop' }, { name: 'noop' }, { name: 'noop', queue: 'low' }] });
    for (const [p, name] of [['/charts', 'metrics'], ['/charts?window=1h&kind=queue&key=default', 'metrics-queue'], ['/workers', 'workers'], ['/batches', 'batches'], [`/batches/${batch.id}`, 'batch']] as const) {
      await page.goto(`${base}${p}`);
      await shot(page, name);
    }
    // The batch detail names the batch and its callbacks.
    expect(await page.locator('h1').innerText()).toContain(batch.id);
    await page.close();
  });

  it('shows no action in read-only mode, and refuses one posted anyway', async () => {
    const { child, base: ro, exited } = await serve(['--db', dbPath, 'dashboard', '--readonly', '--http', '127.0.0.1:0'], {});
    try {
      const { page } = await open(`${ro}/queues`);
      for (const p of ['/queues', '/failed', '/workers', '/batches', '/']) {
        await page.goto(`${ro}${p}`);
        expect(await page.locator('form[data-action], button[data-act]').count(), p).toBe(0);
      }
      expect(await page.locator('.pill.readonly').count()).toBe(1);
      const status = await page.evaluate(async () => (await fetch('/actions/pause', { method: 'POST', body: new URLSearchParams({ queue: 'high' }) })).status);
      expect(status).toBe(403);
      expect(q.pausedQueues(db).has('high')).toBe(false);
      await page.close();
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
