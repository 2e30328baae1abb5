/**
 * The dashboard's HTTP rules, through the daemon's real listener (startHttp) with the
 * dashboard's handler handed in, on a real temp database: sign-in, tokens, same origin,
 * read-only, security headers, and the event stream through the listener's timeouts.
 */
import http from 'node:http';
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { analysisViews } from '../../src/analysis/store.js';
import { openAppDb } from '../../src/cli/db.js';
import { isLoopback, silentLogger, startHttp, WalWatcher } from '../../src/daemon/index.js';
import * as q from '../../src/queue/index.js';
import { createDashboard, type Dashboard } from '../../src/web/index.js';
import { tempDbPath, waitFor } from '../support/tmp.js';

const TOKEN = 'web-test-token-0123456789abcdef';
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** A non-loopback IPv4 address of this machine, when it has one. */
function outsideAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

async function serve(options: { token?: string; readonly?: boolean; host?: string; keepAliveMs?: number } = {}) {
  const file = tempDbPath();
  const db = openAppDb(file);
  closers.push(() => db.close());
  const model = q.createReadModel({ open: ({ readonly }) => openAppDb(file, { readonly }), readonly: options.readonly });
  model.header(Date.now());
  const dashboard: Dashboard = createDashboard({
    model: { ...model, ...analysisViews((fn) => model.read(fn)) }, token: options.token, readonly: options.readonly, isLoopback, failedLoginDelayMs: 300, keepAliveMs: options.keepAliveMs,
    subscribe: (onChange) => {
      const w = new WalWatcher(file, onChange).start();
      return () => w.close();
    },
  });
  const server = await startHttp({ host: options.host ?? '127.0.0.1', port: 0 }, { health: () => ({ ok: true, body: {} }) }, silentLogger, options.token, { handler: dashboard.handle });
  closers.push(() => server.close(), () => dashboard.close(), () => model.close());
  const host = options.host === '0.0.0.0' ? (outsideAddress() ?? '127.0.0.1') : '127.0.0.1';
  return { db, file, dashboard, base: `http://${host}:${server.address.port}`, port: server.address.port };
}

async function get(url: string, headers: Record<string, string> = {}) {
  const r = await fetch(url, { headers, redirect: 'manual' });
  return { status: r.status, headers: r.headers, body: await r.text() };
}

async function post(url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const r = await fetch(url, { method: 'POST', body: new URLSearchParams(form), headers, redirect: 'manual' });
  return { status: r.status, headers: r.headers, body: await r.text() };
}

describe('the dashboard handler', () => {
  it('sends a strict CSP, nosniff and frame-ancestors none, with no inline script', async () => {
    const { base } = await serve();
    const r = await get(`${base}/`);
    expect(r.status).toBe(200);
    const csp = r.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.body).not.toMatch(/<script>|<script [^>]*>[^<]|\son\w+=/);
  });

  it('clears a queue and cancels a job only with confirm=yes, and shows the confirm box on the page', async () => {
    const { base, db } = await serve();
    const ids = q.enqueueMany(db, [{ name: 'a', queue: 'low' }, { name: 'b', queue: 'low' }, { name: 'c', queue: 'default' }]).map((e) => e.id);
    const page = await get(`${base}/queues`);
    expect(page.body).toContain('action="/actions/clear"');
    expect(page.body).toMatch(/name="confirm" value="yes" required/);
    const json = { origin: base, accept: 'application/json' };
    expect((await post(`${base}/actions/clear`, { queue: 'low' }, json)).status).toBe(400);
    expect(q.getJob(db, ids[0]!)!.state).toBe('pending');
    const cleared = await post(`${base}/actions/clear`, { queue: 'low', confirm: 'yes' }, json);
    expect(JSON.parse(cleared.body)).toEqual({ ok: true, message: 'queue low cleared: 2 jobs cancelled' });
    expect([q.getJob(db, ids[0]!)!.state, q.getJob(db, ids[1]!)!.state, q.getJob(db, ids[2]!)!.state]).toEqual(['cancelled', 'cancelled', 'pending']);
    expect((await get(`${base}/jobs/${ids[2]}`)).body).toContain('action="/actions/cancel-job"');
    expect((await post(`${base}/actions/cancel-job`, { id: String(ids[2]) }, json)).status).toBe(400);
    const cancelled = await post(`${base}/actions/cancel-job`, { id: String(ids[2]), confirm: 'yes' }, json);
    expect(JSON.parse(cancelled.body)).toEqual({ ok: true, message: `job #${ids[2]} cancelled` });
    expect(q.getJob(db, ids[2]!)!.state).toBe('cancelled');
    expect((await get(`${base}/jobs/${ids[2]}`)).body).not.toContain('action="/actions/cancel-job"');
  });

  it('draws one queue\'s throughput and runtime charts from its metrics row, the key escaped', async () => {
    const { base, db } = await serve();
    for (let i = 0; i < 3; i++) {
      const { id } = q.enqueue(db, { name: 'n', queue: 'default' });
      const [job] = q.claim(db, { workerId: 'w_t', queues: ['default'] });
      expect(q.complete(db, job!)).toBe(true);
      expect(id).toBe(job!.id);
    }
    const list = await get(`${base}/charts?window=1h`);
    expect(list.body).toContain('href="/charts?window=1h&amp;kind=queue&amp;key=default"');
    const one = await get(`${base}/charts?window=1h&kind=queue&key=default`);
    expect(one.status).toBe(200);
    expect(one.body.match(/<svg class="chart"/g)).toHaveLength(2);
    expect(one.body).toContain('aria-label="throughput of default"');
    // Three jobs completed within the last minute: the newest column says so.
    expect(one.body).toMatch(/<title>3\/min, [^<]*ago<\/title>/);
    const hostile = await get(`${base}/charts?window=1h&kind=job&key=${encodeURIComponent('<img src=x onerror=alert(1)>')}`);
    expect(hostile.body).not.toContain('<img src=x');
    expect(hostile.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('changes nothing on a GET to an action, and refuses a cross-origin POST', async () => {
    const { base, db } = await serve();
    expect((await get(`${base}/actions/pause?queue=high`)).status).toBe(405);
    expect((await post(`${base}/actions/pause`, { queue: 'high' }, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await post(`${base}/actions/pause`, { queue: 'high' }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect(q.pausedQueues(db).has('high')).toBe(false);
    const ok = await post(`${base}/actions/pause`, { queue: 'high' }, { origin: base, accept: 'application/json' });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ ok: true, message: 'queue high paused' });
    expect(q.pausedQueues(db).has('high')).toBe(true);
  });

  it('refuses every action when read-only', async () => {
    const { base, db } = await serve({ readonly: true });
    const r = await post(`${base}/actions/pause`, { queue: 'high' }, { origin: base, accept: 'application/json' });
    expect(r.status).toBe(403);
    expect(q.pausedQueues(db).has('high')).toBe(false);
    expect((await get(`${base}/queues`)).body).not.toContain('data-action');
  });

  it('answers only to a loopback Host without a token (DNS rebinding)', async () => {
    const { port } = await serve();
    // fetch cannot set Host: node:http can.
    const status = (host: string) => new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(await status('evil.example')).toBe(403);
    expect(await status(`evil.example:${port}`)).toBe(403);
    expect(await status(`localhost:${port}`)).toBe(200);
    expect(await status(`[::1]:${port}`)).toBe(200);
  });

  it('off loopback, asks for the token: 401 without it, Bearer for scripts, a session cookie for browsers', async () => {
    const { base } = await serve({ token: TOKEN, host: '0.0.0.0' });
    const none = await get(`${base}/`, { accept: 'text/html' });
    expect(none.status).toBe(401);
    expect(none.body).toContain('name="token"');
    expect((await get(`${base}/events`)).status).toBe(401);
    expect((await post(`${base}/actions/pause`, { queue: 'high' })).status).toBe(401);
    expect((await get(`${base}/`, { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect((await get(`${base}/`, { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401);

    // Wrong tokens: the same answer whatever was wrong, and not before the delay.
    const t0 = Date.now();
    const [a, b] = await Promise.all([post(`${base}/login`, { token: 'nope' }), post(`${base}/login`, { token: '' })]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
    expect(a.status).toBe(401);
    expect(b.status).toBe(401);
    expect(a.body).toBe(b.body);
    expect(a.headers.get('set-cookie')).toBeNull();

    const ok = await post(`${base}/login`, { token: TOKEN });
    expect(ok.status).toBe(303);
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^gitroast_session=[\w-]{40,}; HttpOnly; SameSite=Strict; Path=\//);
    const session = cookie.split(';')[0]!;
    expect((await get(`${base}/`, { cookie: session })).status).toBe(200);
    expect((await get(`${base}/`, { cookie: 'gitroast_session=forged' })).status).toBe(401);

    const out = await post(`${base}/logout`, {}, { cookie: session, origin: base });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/^gitroast_session=; .*Max-Age=0/);
    expect((await get(`${base}/`, { cookie: session })).status).toBe(401);
    // /health stays on the Bearer rule.
    expect((await get(`${base}/health`)).status).toBe(401);
  });

  it('keeps the event stream open past the listener timeouts, with keep-alives and a refresh on enqueue', async () => {
    const { base, file, port } = await serve({ keepAliveMs: 300 });
    // A listener with short timeouts, as a hardened one has: they are for slow request headers.
    const dashboardUrl = new URL(base);
    const server = http.createServer({ requestTimeout: 1000, headersTimeout: 500 }, (req, res) => {
      const up = http.request({ host: dashboardUrl.hostname, port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
    let text = '';
    const req = http.get({ host: '127.0.0.1', port: (server.address() as { port: number }).port, path: '/events' }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
    });
    closers.push(() => req.destroy());
    await waitFor(() => text.includes(': connected'), 5000, 'the stream to open');
    await new Promise((r) => setTimeout(r, 2500));
    expect(text).toContain(': keep-alive');
    const writer = openAppDb(file);
    q.enqueue(writer, { name: 'noop' });
    writer.close();
    await waitFor(() => text.includes('event: refresh'), 5000, 'a refresh event after the enqueue');
    expect(req.destroyed).toBe(false);
  });
});
