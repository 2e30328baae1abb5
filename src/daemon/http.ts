import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { Logger } from './types.js';

/** A parsed `HOST:PORT` (IPv6 in brackets: `[::1]:9464`). */
export interface Listen {
  host: string;
  port: number;
}

/** Parse `HOST:PORT`; throws an Error with a plain message when it is not one. */
export function parseListen(spec: string): Listen {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(spec.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`invalid --http ${JSON.stringify(spec)}: expected HOST:PORT such as 127.0.0.1:9464 or [::1]:9464`);
  return { host: (m[1] ?? m[2])!, port };
}

/** True for addresses only this machine can reach: localhost, 127.0.0.0/8, ::1. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return host === '::1' || host === '0:0:0:0:0:0:0:1' || /^::ffff:127\./i.test(host);
  return false;
}

export interface HttpEndpoints {
  /** Health: [status code, JSON body]. */
  health(): { ok: boolean; body: unknown } | Promise<{ ok: boolean; body: unknown }>;
  /** Prometheus text exposition; /metrics answers 404 without it. */
  metrics?(): string | Promise<string>;
}

/**
 * Answers every path but /health and /metrics (the web dashboard, handed in by the CLI so
 * the daemon never imports it). `bearer` says whether the request carried the token in
 * `Authorization` (always true when no token is set); the handler decides the rest of its
 * authentication (a session cookie) itself.
 */
export type HttpHandler = (req: http.IncomingMessage, res: http.ServerResponse, auth: { bearer: boolean }) => void;

export interface HttpServer {
  /** The bound address (the real port when 0 was asked for). */
  address: Listen;
  close(): Promise<void>;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Milliseconds a client has to send its complete request headers before it gets 408 and is dropped. */
const HTTP_HEADERS_TIMEOUT_MS = 10_000;
/** Milliseconds a client has to send its whole request (headers and any body). Never applies to the response. */
const HTTP_REQUEST_TIMEOUT_MS = 30_000;

/** Limits on slow clients; defaults HTTP_HEADERS_TIMEOUT_MS and HTTP_REQUEST_TIMEOUT_MS (tests use short ones). */
interface HttpTimeouts {
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** Options of startHttp: the slow-client limits, and the handler of every other path (the web dashboard). */
export interface HttpOptions extends HttpTimeouts {
  /** Answers every path but /health and /metrics, told whether the request carried the bearer token. */
  handler?: HttpHandler;
}

/** `Authorization: Bearer <token>`, the scheme in any case (RFC 9110 §11.1) and one or more spaces before the token. */
const BEARER = /^bearer +(\S.*)$/i;

/**
 * Serve GET /health and GET /metrics on `listen`. With a `token`, every request must carry
 * `Authorization: Bearer <token>` (scheme in any case; the token compared in constant time)
 * or gets 401. A client that has not sent its complete headers within `headersTimeoutMs`
 * (default 10 s), or its whole request within `requestTimeoutMs` (default 30 s), gets 408
 * and is dropped; both limit receiving the request only, so a long response to a slow
 * reader (a stream) is never cut. Headers above Node's 16 KiB get 431. The caller enforces
 * "loopback only unless a token is set" before calling.
 */
export function startHttp(listen: Listen, endpoints: HttpEndpoints, logger: Logger, token?: string, options: HttpOptions = {}): Promise<HttpServer> {
  const { handler, ...timeouts } = options;
  const want = token ? digest(token) : undefined;
  const headersTimeout = timeouts.headersTimeoutMs ?? HTTP_HEADERS_TIMEOUT_MS;
  const requestTimeout = Math.max(headersTimeout, timeouts.requestTimeoutMs ?? HTTP_REQUEST_TIMEOUT_MS);
  const server = http.createServer({
    headersTimeout,
    requestTimeout,
    // Node checks both timeouts on this interval; its default, 30 s, would let a slow client
    // stay up to 30 s past its limit. A quarter of the headers timeout, at most 1 s.
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 4))),
  }, async (req, res) => {
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    try {
      let bearer = true;
      if (want) {
        const auth = req.headers.authorization ?? '';
        const given = BEARER.exec(auth)?.[1] ?? '';
        bearer = timingSafeEqual(digest(given), want);
      }
      const path = (req.url ?? '/').split('?')[0];
      if (handler && path !== '/health' && path !== '/metrics') return handler(req, res, { bearer });
      if (!bearer) {
        res.setHeader('www-authenticate', 'Bearer');
        return send(401, 'text/plain; charset=utf-8', 'unauthorized\n');
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'method not allowed\n');
      if (path === '/health') {
        const h = await endpoints.health();
        return send(h.ok ? 200 : 503, 'application/json', `${JSON.stringify(h.body)}\n`);
      }
      if (path === '/metrics' && endpoints.metrics) return send(200, 'text/plain; version=0.0.4; charset=utf-8', await endpoints.metrics());
      return send(404, 'text/plain; charset=utf-8', 'not found: try /health or /metrics\n');
    } catch (err) {
      logger.log('error', 'http.error', { error: err as Error });
      return send(503, 'application/json', `${JSON.stringify({ status: 'unhealthy', error: (err as Error).message })}\n`);
    }
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      const a = server.address() as net.AddressInfo;
      resolve({
        address: { host: a.address, port: a.port },
        close: () => new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
      });
    });
  });
}

/** Builds Prometheus text exposition format. */
export class PromText {
  private readonly lines: string[] = [];
  private readonly declared = new Set<string>();

  /** Declare a metric (once) and add one sample. */
  sample(name: string, type: 'counter' | 'gauge' | 'summary', help: string, value: number, labels?: Record<string, string>, suffix = ''): this {
    if (!this.declared.has(name)) {
      this.declared.add(name);
      this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    }
    const l = labels && Object.keys(labels).length > 0 ? `{${Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
    this.lines.push(`${name}${suffix}${l} ${formatValue(value)}`);
    return this;
  }

  toString(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
