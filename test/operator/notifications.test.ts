import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { failureNotifyHook, NOTIFY_FAILURE_JOB, Registry, registerFailureNotify } from '../../src/daemon/index.js';
import { claim, enqueue, fail, listJobs, openDatabase, release, setFailureHook, silencedOf, type Db, type FinalFailure } from '../../src/queue/index.js';
import { tempDbPath } from '../support/tmp.js';

const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

/** A loopback receiver standing in for Slack's and Discord's incoming webhooks; answers the queued statuses, then 200. */
async function receiver(statuses: number[] = []): Promise<{ url: string; bodies: Record<string, unknown>[]; headers: http.IncomingHttpHeaders[] }> {
  const bodies: Record<string, unknown>[] = [];
  const headers: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const status = statuses.shift() ?? 200;
      if (status === 200) {
        bodies.push(JSON.parse(body) as Record<string, unknown>);
        headers.push(req.headers);
      }
      res.writeHead(status).end(status === 200 ? 'ok' : 'down');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, bodies, headers };
}

function hooked(options: { jobs?: string[]; queues?: string[]; silenced?: string[] } = {}): Db {
  const db = openDatabase(tempDbPath());
  setFailureHook(db, failureNotifyHook({ jobs: options.jobs ?? [], queues: options.queues ?? [], silenced: silencedOf(options.silenced ?? []) }));
  return db;
}

/** Enqueue a job and fail it for good; returns the failed job's id. */
function failForGood(db: Db, spec: Parameters<typeof enqueue>[1], now: number): number {
  const { id } = enqueue(db, { tries: 1, ...spec }, { now });
  const [job] = claim(db, { workerId: 'w_test', queues: [spec.queue ?? 'default'], now });
  expect(job?.id).toBe(id);
  expect(release(db, job!, { message: 'GitHub answered 502 <!channel>' }, now).kind).toBe('failed');
  return id;
}

const notifications = (db: Db) => listJobs(db, { state: 'pending', name: NOTIFY_FAILURE_JOB });

/** Run the notify-failure handler once on this payload, as the daemon would. */
async function runNotify(url: string | undefined, payload: FinalFailure): Promise<void> {
  const registry = new Registry();
  registerFailureNotify(registry, { webhookUrl: () => url });
  const ctx = { attempt: 1, signal: new AbortController().signal, log: () => undefined } as never;
  await registry.get(NOTIFY_FAILURE_JOB)!.handle(payload, ctx);
}

describe('failure notifications (notify.failures)', () => {
  it('enqueue a notify-failure job, with retries, in the transaction that fails an opted-in job', () => {
    const db = hooked({ queues: ['default'] });
    const now = Date.now();
    const id = failForGood(db, { name: 'send-mail', queue: 'default', tags: ['customer:7'] }, now);
    const [n] = notifications(db);
    expect(n).toBeDefined();
    expect(n!.queue).toBe('low');
    expect(n!.maxAttempts).toBe(5);
    expect(n!.backoff).toEqual([30, 120, 600]);
    expect(n!.payload).toMatchObject({ jobId: id, name: 'send-mail', queue: 'default', tags: ['customer:7'], attempt: 1, handledByChain: false });
    // The payload carries no webhook URL: it is read from the config when the job runs.
    expect(JSON.stringify(n!.payload)).not.toContain('http');
    db.close();
  });

  it('are opt-in by job name or by queue; others, silenced jobs and chains with a catch (analyses) do not notify', () => {
    const db = hooked({ jobs: ['send-mail'], queues: ['high'], silenced: ['noisy', 'tag:quiet'] });
    const now = Date.now();
    failForGood(db, { name: 'send-mail', queue: 'low' }, now);
    failForGood(db, { name: 'resize', queue: 'high' }, now);
    failForGood(db, { name: 'resize', queue: 'default' }, now);
    failForGood(db, { name: 'noisy', queue: 'high' }, now);
    failForGood(db, { name: 'ping', queue: 'high', tags: ['quiet'] }, now);
    // An analysis-like chain: its catch job handles (and notifies) the failure itself.
    failForGood(db, { name: 'fetch-github', queue: 'high', chain: [{ name: 'write-review' }], catch: { name: 'analysis-failed' } }, now);
    expect(notifications(db).map((j) => (j.payload as FinalFailure).name).sort()).toEqual(['resize', 'send-mail']);
    expect(listJobs(db, { state: 'pending', name: 'analysis-failed' })).toHaveLength(1);
    db.close();
  });

  it('do not notify a failed notification (no loop), and nothing is enqueued without a hook', () => {
    const db = hooked({ queues: ['low'] });
    const now = Date.now();
    failForGood(db, { name: 'send-mail', queue: 'low' }, now);
    const [n] = notifications(db);
    const [job] = claim(db, { workerId: 'w_test', queues: ['low'], now });
    expect(job?.id).toBe(n!.id);
    for (let i = 0; i < 5; i++) {
      const out = fail(db, job!, { message: 'webhook down' }, now);
      if (out.kind === 'failed') break;
    }
    expect(notifications(db)).toHaveLength(0);
    setFailureHook(db, undefined);
    failForGood(db, { name: 'send-mail', queue: 'low' }, now);
    expect(notifications(db)).toHaveLength(0);
    db.close();
  });

  it('post a body that Slack (text) and Discord (content) take as it is, with the structured fields beside it', async () => {
    const db = hooked({ jobs: ['send-mail'] });
    const now = Date.now();
    const id = failForGood(db, { name: 'send-mail', queue: 'default' }, now);
    const payload = notifications(db)[0]!.payload as FinalFailure;
    const hook = await receiver();
    await runNotify(hook.url, payload);
    expect(hook.bodies).toHaveLength(1);
    const body = hook.bodies[0]!;
    expect(body.event).toBe('job.failed');
    expect(body.text).toBe(`gitroast: job send-mail #${id} on queue default failed for good after attempt 1: GitHub answered 502 &lt;!channel&gt; (attempt 1 of 1: no tries left)`);
    expect(body.content).toBe(body.text);
    expect(String(body.text)).not.toContain('\n');
    expect(body.allowed_mentions).toEqual({ parse: [] });
    expect(body.job).toMatchObject({ id, name: 'send-mail', queue: 'default', attempt: 1, failedUuid: payload.failedUuid });
    expect(hook.headers[0]!['idempotency-key']).toBe(`job.failed:${payload.failedUuid}`);
    db.close();
  });

  it('throw on a 5xx answer so the queue retries the notification, and give up on a 4xx', async () => {
    const payload: FinalFailure = { jobId: 1, name: 'x', queue: 'default', tags: [], error: 'boom', attempt: 3, failedUuid: 'u', failedAt: Date.now(), handledByChain: false };
    const hook = await receiver([503, 404]);
    await expect(runNotify(hook.url, payload)).rejects.toThrow(/answered 503; will retry/);
    await expect(runNotify(hook.url, payload)).rejects.toMatchObject({ code: 'E_PERMANENT' });
    await runNotify(hook.url, payload);
    expect(hook.bodies).toHaveLength(1);
    // Without a webhook URL the job completes and sends nothing.
    await expect(runNotify(undefined, payload)).resolves.toBeUndefined();
  });
});
