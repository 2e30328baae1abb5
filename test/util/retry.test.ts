/**
 * A transient network error on one HTTP call is retried inside the call (src/util/retry.ts)
 * before it reaches the caller's own retry; HTTP answers are not. A real server on
 * 127.0.0.1 that drops its first connections.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { postWebhook, silentLogger } from '../../src/daemon/index.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A webhook receiver that resets the first `drops` connections, then answers `status`. */
async function flaky(drops: number, status = 200): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    if (requests <= drops) {
      req.socket.destroy();
      return;
    }
    req.resume();
    req.on('end', () => res.writeHead(status).end());
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, requests: () => requests };
}

describe('a network error on one webhook POST', () => {
  it('is tried again within the call, so a dropped connection still delivers', async () => {
    const hook = await flaky(2);
    expect(await postWebhook(hook.url, { text: 'hi' }, silentLogger)).toBe(true);
    expect(hook.requests()).toBe(3);
  });

  it('gives up after two retries, and never retries an HTTP answer', async () => {
    const dropped = await flaky(10);
    expect(await postWebhook(dropped.url, { text: 'hi' }, silentLogger)).toBe(false);
    expect(dropped.requests()).toBe(3);
    const failing = await flaky(0, 500);
    expect(await postWebhook(failing.url, { text: 'hi' }, silentLogger)).toBe(false);
    expect(failing.requests()).toBe(1);
  });
});
