/**
 * The web dashboard's request handler: pages, assets, the event stream, sign-in and
 * actions. It is a plain `node:http` handler that the daemon's listener (or `gitroast
 * dashboard`) calls for every path but /health and /metrics; it opens no port itself.
 *
 * Security, in order: every response carries a strict CSP (scripts and styles from 'self'
 * only, no inline), nosniff and frame-ancestors 'none'. With no token (loopback only, the
 * CLI enforces that), the Host header must name a loopback address, so a DNS-rebound page
 * cannot read it. With a token, a request is signed in by `Authorization: Bearer` or by the
 * session cookie that POST /login sets (HttpOnly, SameSite=Strict); wrong tokens wait and
 * get the same answer. Actions are POSTs from the same origin; a GET never writes;
 * read-only refuses every action.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import zlib from 'node:zlib';
import { ValidationError } from '../queue/index.js';
import { analysesPage, analysisPage } from './analyses.js';
import { assetVersion, CSS, JS } from './assets.js';
import { esc } from './html.js';
import {
  SCREENS, batchPage, batchesPage, failedPage, headerStatus, jobPage, jobsPage, metricsPage, overviewPage, queuesPage, workersPage,
  type DashboardModel, type Page, type PageContext,
} from './pages.js';

/** Options of createDashboard. */
export interface DashboardOptions {
  model: DashboardModel;
  /** Refuse every action and draw none. Default false. */
  readonly?: boolean;
  /** The token a browser signs in with (and scripts send as Bearer); none on loopback. */
  token?: string;
  /**
   * Run a screen or an action over the model: by default directly; over an asynchronous
   * model (PostgreSQL), by replay (src/queue/store-model.ts replayModel), `model` being its stand-in.
   */
  run?: <T>(fn: (model: DashboardModel) => T) => Promise<T>;
  /** Call `onChange` whenever the database may have changed; returns an unsubscribe. */
  subscribe(onChange: () => void): () => void;
  /** Tell a loopback host name or address (the CLI passes the daemon's rule). */
  isLoopback(host: string): boolean;
  /** A keep-alive comment goes down every event stream this often. Default 15,000 ms. */
  keepAliveMs?: number;
  /** A refused sign-in is answered this long after the previous refusal, at the earliest. Default 1,000 ms. */
  failedLoginDelayMs?: number;
  /** A session lasts this long. Default 12 h. */
  sessionMs?: number;
  /** Refresh events go down at most this often (the first at once). Default 100 ms. */
  throttleMs?: number;
  now?: () => number;
}

/** A running dashboard: its handler, and close() to end its event streams. */
export interface Dashboard {
  handle(req: http.IncomingMessage, res: http.ServerResponse, auth: { bearer: boolean }): void;
  /** Open event streams (for tests and the bench). */
  readonly streams: number;
  close(): void;
}

const COOKIE = 'gitroast_session';
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};
/** Largest form body read (a failed group's uuids: 1,000 × 37 bytes, with room). */
const MAX_BODY = 256 * 1024;

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function cookies(req: http.IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

function hostName(hostHeader: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(hostHeader) ?? /^([^:]+)(?::\d+)?$/.exec(hostHeader);
  return m ? m[1]! : '';
}

/** Create the dashboard's request handler over a read model. */
export function createDashboard(options: DashboardOptions): Dashboard {
  const now = options.now ?? Date.now;
  const canAct = !options.readonly && options.model.actions !== undefined;
  const run = options.run ?? (async <T>(fn: (model: DashboardModel) => T): Promise<T> => fn(options.model));
  const want = options.token ? digest(options.token) : undefined;
  const sessions = new Map<string, number>();
  const sessionMs = options.sessionMs ?? 12 * 3_600_000;
  const failDelay = options.failedLoginDelayMs ?? 1000;
  let nextFailAt = 0;
  const cssPath = `/assets/app-${assetVersion(CSS)}.css`;
  const jsPath = `/assets/app-${assetVersion(JS)}.js`;
  const assets = new Map([[cssPath, { type: 'text/css; charset=utf-8', body: CSS }], [jsPath, { type: 'text/javascript; charset=utf-8', body: JS }]]);
  const gz = new Map<string, Buffer>();

  // Event streams: one refresh event per change, throttled (the first goes at once).
  const streams = new Set<http.ServerResponse>();
  let lastSent = 0;
  let pending: NodeJS.Timeout | undefined;
  const broadcast = () => {
    pending = undefined;
    lastSent = now();
    for (const s of streams) s.write(`event: refresh\ndata: ${lastSent}\n\n`);
  };
  const onChange = () => {
    if (streams.size === 0 || pending) return;
    const wait = (options.throttleMs ?? 100) - (now() - lastSent);
    if (wait <= 0) broadcast();
    else pending = setTimeout(broadcast, wait);
  };
  const unsubscribe = options.subscribe(onChange);
  const keepAlive = setInterval(() => {
    for (const s of streams) s.write(': keep-alive\n\n');
  }, options.keepAliveMs ?? 15_000);
  keepAlive.unref();

  const sessionOf = (req: http.IncomingMessage): string | undefined => {
    const id = cookies(req).get(COOKIE);
    if (!id) return undefined;
    const until = sessions.get(id);
    if (until === undefined) return undefined;
    if (until < now()) {
      sessions.delete(id);
      return undefined;
    }
    return id;
  };

  const send = (req: http.IncomingMessage, res: http.ServerResponse, code: number, type: string, body: string, headers: Record<string, string> = {}) => {
    const h: Record<string, string> = { ...SECURITY_HEADERS, 'content-type': type, 'cache-control': 'no-store', vary: 'accept-encoding, cookie', ...headers };
    let buf: Buffer = Buffer.from(body);
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && buf.length > 512) {
      const cached = h['cache-control']!.includes('immutable') ? gz.get(type + body.length) : undefined;
      buf = cached ?? zlib.gzipSync(buf, { level: 6 });
      if (h['cache-control']!.includes('immutable')) gz.set(type + body.length, buf);
      h['content-encoding'] = 'gzip';
    }
    h['content-length'] = String(buf.length);
    res.writeHead(code, h);
    res.end(req.method === 'HEAD' ? undefined : buf);
  };

  const layout = (page: Page, ctx: PageContext | undefined, path: string, signedIn: boolean) => {
    const nav = SCREENS.map(([href, title]) => {
      const current = href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`);
      return `<a href="${href}"${current ? ' aria-current="page"' : ''}>${esc(title)}</a>`;
    }).join('');
    const status = ctx ? headerStatus(ctx) : '';
    const logout = signedIn ? `<form class="inline" method="post" action="/logout"><button class="secondary" type="submit">Sign out</button></form>` : '';
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`
      + `<title>${esc(page.title)} · gitroast</title><link rel="stylesheet" href="${cssPath}"><script src="${jsPath}" defer></script></head>`
      + `<body><header><a class="brand" href="/">gitroast</a><nav>${nav}</nav><div class="status"><span id="status">${status}</span>`
      + `${options.readonly ? '<span class="pill readonly">read-only</span>' : ''}<span id="live-dot" class="live off">○ connecting</span>${logout}</div></header>`
      + `<main id="live">${page.body}</main><div id="flash" role="status" aria-live="polite"></div></body></html>`;
  };

  const loginPage = (message = '') =>
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in · gitroast</title>`
    + `<link rel="stylesheet" href="${cssPath}"></head><body><form class="login" method="post" action="/login"><h1>gitroast</h1>`
    + `<p class="muted">This dashboard needs the token it was started with (--http-token or GITROAST_HTTP_TOKEN).</p>`
    + `${message ? `<p class="pill bad" role="alert">${esc(message)}</p>` : ''}<label>Token<input type="password" name="token" autocomplete="current-password" autofocus required></label>`
    + `<button type="submit">Sign in</button></form></body></html>`;

  const readBody = (req: http.IncomingMessage): Promise<URLSearchParams> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          reject(new Error('body too large'));
          req.destroy();
        } else chunks.push(c);
      });
      req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
      req.on('error', reject);
    });

  /** A POST from a page of this dashboard, or from a script (no Origin, no Sec-Fetch-Site). */
  const sameOrigin = (req: http.IncomingMessage): boolean => {
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    if (origin !== undefined) return origin === `http://${req.headers.host}` || origin === `https://${req.headers.host}`;
    return site === undefined || site === 'same-origin' || site === 'none';
  };

  const runAction = (model: DashboardModel, name: string, form: URLSearchParams): string => {
    const actions = model.actions!;
    const uuids = form.getAll('uuid').filter(Boolean);
    const queue = form.get('queue') ?? '';
    const id = form.get('id') ?? '';
    const need = (ok: boolean, what: string) => {
      if (!ok) throw new BadRequest(`missing ${what}`);
    };
    switch (name) {
      case 'retry': need(uuids.length > 0, 'uuid'); return actions.retryFailed(uuids);
      case 'forget': need(uuids.length > 0, 'uuid'); return actions.forgetFailed(uuids);
      case 'pause': need(queue !== '', 'queue'); return actions.pauseQueue(queue);
      case 'continue': need(queue !== '', 'queue'); return actions.continueQueue(queue);
      case 'pause-daemons': return actions.pauseDaemons(true);
      case 'continue-daemons': return actions.pauseDaemons(false);
      case 'retry-batch': need(id !== '', 'id'); return actions.retryBatch(id);
      case 'cancel-batch': need(id !== '', 'id'); return actions.cancelBatch(id);
      case 'clear': need(queue !== '', 'queue'); need(form.get('confirm') === 'yes', 'confirm=yes'); return actions.clearQueue(queue);
      case 'cancel-job': need(/^\d{1,15}$/.test(id), 'id'); need(form.get('confirm') === 'yes', 'confirm=yes'); return actions.cancelJob(Number(id));
      default: throw new NotFound(`no action ${JSON.stringify(name)}`);
    }
  };

  const route = (path: string, ctx: PageContext): Page | undefined => {
    if (path === '/') return overviewPage(ctx);
    if (path === '/jobs') return jobsPage(ctx);
    const job = /^\/jobs\/(\d{1,15})$/.exec(path);
    if (job) return jobPage(ctx, Number(job[1]));
    if (path === '/failed') return failedPage(ctx);
    if (path === '/queues') return queuesPage(ctx);
    if (path === '/charts') return metricsPage(ctx);
    if (path === '/workers') return workersPage(ctx);
    if (path === '/batches') return batchesPage(ctx);
    const batch = /^\/batches\/([^/]{1,100})$/.exec(path);
    if (batch) return batchPage(ctx, decodeURIComponent(batch[1]!));
    if (path === '/analyses') return analysesPage(ctx);
    const analysis = /^\/analyses\/([^/]{1,100})$/.exec(path);
    if (analysis) return analysisPage(ctx, decodeURIComponent(analysis[1]!));
    return undefined;
  };

  const handleAsync = async (req: http.IncomingMessage, res: http.ServerResponse, auth: { bearer: boolean }): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const text = 'text/plain; charset=utf-8';
    // No token: loopback only. A page on another site that rebinds its name to 127.0.0.1
    // reaches us with its own name in Host: refuse it.
    if (!want && !options.isLoopback(hostName(String(req.headers.host ?? '')))) return send(req, res, 403, text, 'forbidden: this dashboard answers only to a loopback host name\n');

    const asset = assets.get(path);
    if (asset && (method === 'GET' || method === 'HEAD')) {
      return send(req, res, 200, asset.type, asset.body, { 'cache-control': 'public, max-age=31536000, immutable' });
    }

    if (path === '/login') {
      if (!want) return send(req, res, 303, text, '', { location: '/' });
      if (method === 'GET' || method === 'HEAD') return send(req, res, 200, 'text/html; charset=utf-8', loginPage());
      if (method !== 'POST') return send(req, res, 405, text, 'method not allowed\n', { allow: 'GET, POST' });
      if (!sameOrigin(req)) return send(req, res, 403, text, 'forbidden: cross-origin request\n');
      const form = await readBody(req);
      if (timingSafeEqual(digest(form.get('token') ?? ''), want)) {
        const id = randomBytes(32).toString('base64url');
        for (const [k, until] of sessions) if (until < now()) sessions.delete(k);
        sessions.set(id, now() + sessionMs);
        const cookie = `${COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(sessionMs / 1000)}`;
        return send(req, res, 303, text, '', { location: '/', 'set-cookie': cookie });
      }
      // Refusals queue one behind another, each `failDelay` after the last: guessing in parallel gains nothing.
      const at = Math.max(now(), nextFailAt) + failDelay;
      nextFailAt = at;
      await new Promise((r) => setTimeout(r, at - now()));
      return send(req, res, 401, 'text/html; charset=utf-8', loginPage('Sign-in failed.'));
    }

    if (path === '/logout') {
      if (method !== 'POST') return send(req, res, 405, text, 'method not allowed\n', { allow: 'POST' });
      if (!sameOrigin(req)) return send(req, res, 403, text, 'forbidden: cross-origin request\n');
      const id = cookies(req).get(COOKIE);
      if (id) sessions.delete(id);
      return send(req, res, 303, text, '', { location: want ? '/login' : '/', 'set-cookie': `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` });
    }

    const session = want ? sessionOf(req) : undefined;
    const signedIn = !want || auth.bearer || session !== undefined;
    if (!signedIn) {
      const html = method === 'GET' && path !== '/events' && String(req.headers.accept ?? '').includes('text/html');
      return html
        ? send(req, res, 401, 'text/html; charset=utf-8', loginPage(), { 'www-authenticate': 'Bearer' })
        : send(req, res, 401, text, 'unauthorized\n', { 'www-authenticate': 'Bearer' });
    }

    if (path === '/events') {
      if (method !== 'GET') return send(req, res, 405, text, 'method not allowed\n', { allow: 'GET' });
      // A stream lives as long as the page: no socket idle timeout applies to it.
      req.socket.setTimeout(0);
      req.socket.setNoDelay(true);
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'keep-alive' });
      res.write('retry: 2000\n: connected\n\n');
      streams.add(res);
      const drop = () => streams.delete(res);
      req.on('close', drop);
      res.on('error', drop);
      return;
    }

    if (path.startsWith('/actions/')) {
      if (method !== 'POST') return send(req, res, 405, text, 'method not allowed: actions are POSTs\n', { allow: 'POST' });
      if (!sameOrigin(req)) return send(req, res, 403, text, 'forbidden: cross-origin request\n');
      const json = String(req.headers.accept ?? '').includes('application/json');
      const reply = (code: number, message: string) =>
        json ? send(req, res, code, 'application/json', `${JSON.stringify(code < 400 ? { ok: true, message } : { ok: false, error: message })}\n`)
          : code < 400 ? send(req, res, 303, text, '', { location: safeBack(req) }) : send(req, res, code, text, `${message}\n`);
      if (!canAct) return reply(403, 'read-only: actions are disabled');
      const form = await readBody(req);
      try {
        const message = await run((model) => runAction(model, path.slice('/actions/'.length), form));
        onChange();
        return reply(200, message);
      } catch (err) {
        if (err instanceof BadRequest) return reply(400, err.message);
        if (err instanceof NotFound) return reply(404, err.message);
        if (err instanceof ValidationError) return reply(400, err.message);
        throw err;
      }
    }

    if (method !== 'GET' && method !== 'HEAD') return send(req, res, 405, text, 'method not allowed\n', { allow: 'GET, HEAD' });
    const at = now();
    const out = await run((model) => {
      const ctx: PageContext = { model, now: at, canAct, query: url.searchParams };
      const page = route(path, ctx);
      if (!page) return { status: 404, html: layout({ title: 'Not found', body: '<h1>Not found</h1><p class="empty">No such page.</p>' }, ctx, path, Boolean(session)) };
      return { status: page.status ?? 200, html: layout(page, ctx, path, Boolean(session)) };
    });
    return send(req, res, out.status, 'text/html; charset=utf-8', out.html);
  };

  return {
    handle(req, res, auth) {
      handleAsync(req, res, auth).catch((err: unknown) => {
        if (res.headersSent) return void res.destroy();
        // Only the message's first line: no stack, no path detail beyond what an error says.
        send(req, res, 500, 'text/plain; charset=utf-8', `error: ${String((err as Error).message ?? err).split('\n')[0]}\n`);
      });
    },
    get streams() {
      return streams.size;
    },
    close() {
      unsubscribe();
      clearInterval(keepAlive);
      if (pending) clearTimeout(pending);
      for (const s of streams) s.end();
      streams.clear();
    },
  };
}

/** A form lacks a field an action needs: 400. */
class BadRequest extends Error {
  override name = 'BadRequest';
  readonly code = 'WEB_BAD_REQUEST';
}

/** No such action: 404. */
class NotFound extends Error {
  override name = 'NotFound';
  readonly code = 'WEB_NOT_FOUND';
}

/** Where to go back after a form post without the script: the Referer's path when it is ours. */
function safeBack(req: http.IncomingMessage): string {
  try {
    const ref = new URL(String(req.headers.referer ?? ''));
    if (ref.host === req.headers.host && ref.pathname.startsWith('/') && !ref.pathname.startsWith('//')) return ref.pathname + ref.search;
  } catch {
    // No usable Referer (the policy is no-referrer): go to the overview.
  }
  return '/';
}
