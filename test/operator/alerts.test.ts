import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { LongWaitAlerts } from '../../src/daemon/alerts.js';
import { createSqliteStore, enqueue, openDatabase, pauseQueue, registerWorker, type Db } from '../../src/queue/index.js';
import { tempDbPath, waitFor } from '../support/tmp.js';

const silent = { log: () => undefined, enabled: () => false, flush: () => undefined } as never;
const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A loopback receiver standing in for Slack's and Discord's incoming webhooks. */
async function receiver(): Promise<{ url: string; bodies: Record<string, unknown>[] }> {
  const bodies: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(body) as Record<string, unknown>);
      res.end('ok');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, bodies };
}

function serve(db: Db, queues: string[], now: number) {
  registerWorker(db, { id: `w_${queues.join('')}`, pid: 1, hostname: 'h', version: 't', queues, concurrency: 1 }, now);
}

describe('queue alerts', () => {
  it('post Slack- and Discord-shaped bodies (text and content, one line) beside the structured fields', async () => {
    const db = openDatabase(tempDbPath());
    const hook = await receiver();
    const now = Date.now();
    serve(db, ['default'], now);
    enqueue(db, { name: 'a' }, { now: now - 120_000 });
    const alerts = new LongWaitAlerts(createSqliteStore(db, { clock: () => now }), { thresholdMs: () => 60_000, webhookUrl: hook.url, logger: silent });
    expect((await alerts.check()).map((e) => e.event)).toEqual(['queue.long_wait']);
    await waitFor(() => hook.bodies.length === 1, 5000, 'the webhook');
    const body = hook.bodies[0]!;
    expect(body).toMatchObject({ event: 'queue.long_wait', queue: 'default', waitSeconds: 120, thresholdSeconds: 60, allowed_mentions: { parse: [] } });
    expect(body.text).toBe('gitroast: queue default has a job waiting 120 s (threshold 60 s)');
    expect(body.content).toBe(body.text);
    expect(String(body.text)).not.toContain('\n');
    db.close();
  });

  it('skip paused queues and queues no live daemon serves; "nobody serves queue X" is its own alert, resolved once served', async () => {
    const db = openDatabase(tempDbPath());
    const hook = await receiver();
    const now = Date.now();
    serve(db, ['default'], now);
    enqueue(db, { name: 'a', queue: 'default' }, { now: now - 120_000 });
    enqueue(db, { name: 'b', queue: 'low' }, { now: now - 120_000 });
    pauseQueue(db, 'default');
    let clock = now;
    const alerts = new LongWaitAlerts(createSqliteStore(db, { clock: () => clock }), { thresholdMs: () => 60_000, webhookUrl: hook.url, logger: silent });
    const first = await alerts.check();
    expect(first.map((e) => `${e.event} ${e.queue}`)).toEqual(['queue.unserved low']);
    expect(first[0]!.text).toMatch(/^gitroast: nobody serves queue low/);
    clock = now + 1000;
    expect(await alerts.check()).toEqual([]);
    serve(db, ['low'], now + 2000);
    clock = now + 2000;
    expect((await alerts.check()).map((e) => `${e.event} ${e.queue}`)).toEqual(['queue.long_wait low', 'queue.unserved_resolved low']);
    await waitFor(() => hook.bodies.length === 3, 5000, 'three webhooks');
    for (const b of hook.bodies) expect(typeof b.text === 'string' && b.content === b.text).toBe(true);
    db.close();
  });
});
