import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newbie, strongDev } from '../fakes/github.js';
import { tempDir } from '../support/tmp.js';
import { configFile, jsonLines, world } from './helpers.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); });
});

/** A webhook receiver on loopback answering `status`; records the JSON bodies. */
async function webhook(status = 200): Promise<{ url: string; bodies: Record<string, unknown>[] }> {
  const bodies: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      bodies.push(JSON.parse(raw) as Record<string, unknown>);
      res.writeHead(status).end(status === 200 ? 'ok' : 'down');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T000/B000/secret`, bodies };
}

function batchFile(text: string): string {
  const file = path.join(tempDir(), 'users.txt');
  fs.writeFileSync(file, text);
  return file;
}

describe('show, list, keep, batch and batches through the built binary', () => {
  it('show --explain lists every signal with its points; --markdown renders the same review', async () => {
    const w = await world([strongDev(Date.now())]);
    expect((await w.run(['analyze', 'adadev', '--detach'])).code).toBe(0);
    expect((await w.run(['analyze', 'adadev'])).code).toBe(0);
    const explain = await w.run(['show', 'ADADEV', '--explain']);
    expect(explain.code).toBe(0);
    expect(explain.stdout).toContain('Every signal (formula 1)');
    for (const id of ['profile.bio', 'projects.top_1', 'consistency.recency', 'technical.hygiene', 'community.followers']) expect(explain.stdout).toContain(id);
    expect(explain.stdout).toMatch(/profile\.pinned\s+n\/a/);
    const markdown = await w.run(['show', 'adadev', '--markdown']);
    expect(markdown.stdout).toMatch(/^# gitroast review of AdaDev: \d+\/100/);
    expect(markdown.stdout).toContain('| Projects |');
    expect((await w.run(['show', 'adadev', '--json', '--markdown'])).code).toBe(2);
    expect((await w.run(['show', 'nobody-here'])).code).toBe(1);
    expect((await w.run(['show', 'no way'])).code).toBe(2);
  });

  it('list --json prints an array of analysis summaries; keep marks one kept', async () => {
    const w = await world([newbie(Date.now())]);
    await w.run(['analyze', 'newbie-nora', 'ghost-nobody']);
    const list = await w.run(['list', '--json']);
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(2);
    const keys = ['batchId', 'completedAt', 'createdAt', 'error', 'id', 'kept', 'overallScore', 'scores', 'stage', 'status', 'username'];
    for (const r of rows) expect(Object.keys(r).sort()).toEqual(keys);
    const done = rows.find((r) => r.username === 'newbie-nora')!;
    expect(done).toMatchObject({ status: 'completed', stage: 'done', error: null, kept: false, batchId: null, overallScore: expect.any(Number) });
    expect(rows.find((r) => r.username === 'ghost-nobody')).toMatchObject({ status: 'failed', overallScore: null, scores: null });
    expect(JSON.parse((await w.run(['list', '--json', '--status', 'failed'])).stdout)).toHaveLength(1);
    expect((await w.run(['list', '--status', 'weird'])).code).toBe(2);
    expect((await w.run(['keep', String(done.id)])).code).toBe(0);
    expect(JSON.parse((await w.run(['list', '--json', '--status', 'completed'])).stdout)[0]).toMatchObject({ kept: true });
    expect((await w.run(['keep', 'not-an-id'])).code).toBe(2);
    expect((await w.run(['keep', '00000000-0000-4000-8000-000000000000'])).code).toBe(1);
  });

  it('batch refuses a file with an invalid line (exit 2, naming the line) and enqueues nothing', async () => {
    const w = await world([strongDev(Date.now()), newbie(Date.now())]);
    const file = batchFile('# reviewers for Friday\nadadev\n\nnot a login!\nnewbie-nora  # trailing comment\n');
    const r = await w.run(['batch', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:4: invalid GitHub username "not a login!"`);
    expect(r.stderr).toContain('nothing was enqueued');
    expect(w.query('SELECT id FROM jobs')).toEqual([]);
    expect(w.query('SELECT id FROM analyses')).toEqual([]);
    expect(w.query('SELECT id FROM batches')).toEqual([]);
    expect((await w.run(['batch', batchFile('# only comments\n')])).code).toBe(2);
  });

  it('batch analyses every username of a file (or stdin) as one batch; batches lists and shows it', async () => {
    const w = await world([strongDev(Date.now()), newbie(Date.now())]);
    const r = await w.run(['batch', '-', '--name', 'friday', '--json'], { input: '# team\nAdaDev\nnewbie-nora\nadadev\n' });
    expect(r.code).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => [l.username, l.status])).toEqual([['AdaDev', 'completed'], ['newbie-nora', 'completed']]);
    const batches = JSON.parse((await w.run(['batches', '--json'])).stdout) as Record<string, unknown>[];
    expect(batches).toEqual([expect.objectContaining({ name: 'friday', total: 2, pending: 0, processed: 2, failed: 0 })]);
    const id = String(batches[0]!.id);
    expect(lines.every((l) => l.batchId === id)).toBe(true);
    const show = JSON.parse((await w.run(['batches', 'show', id, '--json'])).stdout) as { analyses: { username: string }[] };
    expect(show.analyses.map((a) => a.username).sort()).toEqual(['AdaDev', 'newbie-nora']);
    const text = await w.run(['batches', 'show', id.slice(0, 8)]);
    expect(text.stdout).toContain('friday');
    expect((await w.run(['batches', 'show', 'ffffffff'])).code).toBe(1);
  });

  it('batches cancel fails the analyses that never ran; batches retry reopens failed ones', async () => {
    const w = await world([newbie(Date.now())]);
    const d = await w.run(['batch', '-', '--detach', '--json'], { input: 'newbie-nora\nghost-one\n' });
    expect(d.code).toBe(0);
    const batchId = String(jsonLines(d.stdout)[0]!.batchId);
    const cancel = await w.run(['batches', 'cancel', batchId, '--json']);
    expect(JSON.parse(cancel.stdout)).toEqual({ batchId, cancelledJobs: 2, failedAnalyses: 2 });
    expect(JSON.parse((await w.run(['list', '--json'])).stdout).map((a: { status: string }) => a.status)).toEqual(['failed', 'failed']);
    // A batch whose unknown user failed: retry reopens it.
    const b = await w.run(['batch', '-', '--json', '--force'], { input: 'ghost-two\n' });
    expect(b.code).toBe(1);
    const second = String(jsonLines(b.stdout)[0]!.batchId);
    const retry = await w.run(['batches', 'retry', second, '--json']);
    expect(JSON.parse(retry.stdout)).toMatchObject({ batchId: second, reopened: 1 });
    expect(JSON.parse((await w.run(['batches', 'show', second, '--json'])).stdout).analyses[0]).toMatchObject({ username: 'ghost-two', status: 'pending' });
  });

  it('notifies the configured webhook on completion and on failure; a down webhook leaves the analysis completed', async () => {
    const hook = await webhook();
    const w = await world([newbie(Date.now())]);
    const env = { GITROAST_CONFIG: configFile({ webhookUrl: hook.url }) };
    const r = await w.run(['analyze', 'newbie-nora', 'ghost-three'], { env });
    expect(r.code).toBe(1);
    const byEvent = Object.fromEntries(hook.bodies.map((b) => [b.event, b]));
    expect(byEvent['analysis.completed']).toMatchObject({
      text: expect.stringMatching(/^gitroast: newbie-nora scored \d+\/100/),
      content: expect.any(String),
      allowed_mentions: { parse: [] },
      analysis: { username: 'newbie-nora', status: 'completed', overallScore: expect.any(Number) },
    });
    expect(byEvent['analysis.failed']).toMatchObject({ analysis: { username: 'ghost-three', status: 'failed', error: 'no GitHub user named ghost-three' } });

    const down = await webhook(503);
    const d = await w.run(['analyze', 'newbie-nora', '--force', '--json'], { env: { GITROAST_CONFIG: configFile({ webhookUrl: down.url }) } });
    expect(d.code).toBe(0);
    expect(jsonLines(d.stdout)[0]).toMatchObject({ status: 'completed' });
    expect(down.bodies).toHaveLength(1);
    const notify = w.query<{ state: string; attempts: number }>("SELECT state, attempts FROM jobs WHERE name = 'notify' ORDER BY id DESC LIMIT 1");
    expect(notify).toEqual([{ state: 'delayed', attempts: 1 }]);
    expect(d.stderr).not.toContain('/hooks/T000');
  });
});
