import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openAppDb } from '../../src/cli/db.js';
import type { Db } from '../../src/queue/index.js';
import { tempDbPath, tempDir } from '../support/tmp.js';
import { FAST, spawnDaemon, writeConfig, writeHandlers } from '../daemon/support.js';

const opened: Db[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

function setup(config: Record<string, unknown> = {}) {
  const dbPath = tempDbPath();
  const db = openAppDb(dbPath);
  opened.push(db);
  const cfg = writeConfig({ ...FAST, ...config });
  const notesFile = path.join(tempDir('gitroast-notes-'), 'notes.txt');
  return { dbPath, db, cfg, notesFile, env: { GITROAST_HANDLERS: writeHandlers() } };
}

describe('/health', () => {
  it('carries health "healthy" and an ISO timestamp beside status "ok"', async () => {
    const { dbPath, cfg, env } = setup();
    const d = spawnDaemon(dbPath, ['--config', cfg, '--http', '127.0.0.1:0'], env);
    const listening = await d.waitLog('http.listening');
    const before = Date.now();
    const body = (await (await fetch(`http://127.0.0.1:${listening.port as number}/health`)).json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 'ok', health: 'healthy' });
    expect(Date.parse(String(body.timestamp))).toBeGreaterThanOrEqual(before - 1000);
    expect(String(body.timestamp)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });
});

describe('failure notifications through the daemon', () => {
  it('post the failure of an opted-in job to notify.failures.webhookUrl as a queued notify-failure job', async () => {
    const http = await import('node:http');
    const bodies: Record<string, unknown>[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(body) as Record<string, unknown>);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/slack`;
    try {
      const { dbPath, db, cfg, env, notesFile } = setup({ notify: { failures: { jobs: ['missing-user'], webhookUrl: url } } });
      const { enqueue, listJobs } = await import('../../src/queue/index.js');
      const { id } = enqueue(db, { name: 'missing-user', queue: 'default', payload: { file: notesFile } });
      const d = spawnDaemon(dbPath, ['--config', cfg, '--stop-when-empty'], env);
      expect(await d.exited).toBe(0);
      expect(bodies).toHaveLength(1);
      expect(bodies[0]).toMatchObject({ event: 'job.failed', job: { id, name: 'missing-user', queue: 'default' } });
      expect(String(bodies[0]!.text)).toContain(`job missing-user #${id} on queue default failed for good`);
      expect(listJobs(db, { state: 'completed', name: 'notify-failure' })).toHaveLength(1);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
