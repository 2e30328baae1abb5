/** The daemon's HTTP listener at its edges: the auth scheme, slow clients, slow readers, oversized requests. */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttp, type HttpServer } from '../../src/daemon/http.js';
import { silentLogger } from '../../src/daemon/logger.js';

const TOKEN = 'http-edge-token-0123456789';
const servers: HttpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(options: Parameters<typeof startHttp>[4] = {}, metrics = () => 'm 1\n'): Promise<{ base: string; port: number }> {
  const s = await startHttp({ host: '127.0.0.1', port: 0 }, { health: () => ({ ok: true, body: { status: 'ok' } }), metrics }, silentLogger, TOKEN, options);
  servers.push(s);
  return { base: `http://127.0.0.1:${s.address.port}`, port: s.address.port };
}

/** Open a raw socket, write `text`, collect what comes back; resolves when the server closes it. */
function raw(port: number, text: string): { closed: Promise<{ data: string; afterMs: number }>; socket: net.Socket } {
  const socket = net.connect(port, '127.0.0.1');
  const started = Date.now();
  let data = '';
  socket.on('data', (d) => (data += d));
  socket.on('error', () => undefined);
  socket.write(text);
  const closed = new Promise<{ data: string; afterMs: number }>((r) => socket.on('close', () => r({ data, afterMs: Date.now() - started })));
  return { closed, socket };
}

describe('the HTTP listener', () => {
  it('accepts the Bearer scheme in any case (RFC 9110), and only the right token', async () => {
    const { base } = await serve();
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      expect((await fetch(`${base}/health`, { headers: { authorization: `${scheme} ${TOKEN}` } })).status, scheme).toBe(200);
    }
    expect((await fetch(`${base}/health`, { headers: { authorization: `bearer  ${TOKEN}` } })).status, 'two spaces').toBe(200);
    for (const auth of [`bearer ${TOKEN}x`, `Basic ${TOKEN}`, `bearer${TOKEN}`, TOKEN, 'bearer ']) {
      expect((await fetch(`${base}/health`, { headers: { authorization: auth } })).status, auth).toBe(401);
    }
  });

  it('closes a socket that never finishes its headers after the headers timeout', async () => {
    const { port } = await serve({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const slow = raw(port, `GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n`);
    const { data, afterMs } = await slow.closed;
    expect(afterMs).toBeGreaterThanOrEqual(300);
    // Node answers 408 before closing; nothing else is served.
    expect(data).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('does not cut a long response to a slow reader, long after the request and headers timeouts', async () => {
    // 32 MiB: far more than the socket buffers hold, so the server must wait for the reader.
    const big = `${'x'.repeat(1023)}\n`.repeat(32 * 1024);
    const { port } = await serve({ headersTimeoutMs: 200, requestTimeoutMs: 300 }, () => big);
    const reader = raw(port, `GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`);
    let received = 0;
    reader.socket.removeAllListeners('data');
    reader.socket.on('data', (d: Buffer) => (received += d.length));
    await new Promise((r) => reader.socket.once('data', r));
    reader.socket.pause();
    // Read nothing for well over both timeouts (and the interval the server checks them at).
    await new Promise((r) => setTimeout(r, 2500));
    expect(reader.socket.destroyed).toBe(false);
    reader.socket.resume();
    await reader.closed;
    expect(received).toBeGreaterThan(big.length);
  });

  it('keeps answering 431 to oversized headers and 405 to other methods', async () => {
    const { base, port } = await serve();
    const huge = raw(port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    expect((await huge.closed).data).toMatch(/^HTTP\/1\.1 431 /);
    expect((await fetch(`${base}/health`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(405);
  });
});
