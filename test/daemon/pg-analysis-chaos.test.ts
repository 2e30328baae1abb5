/**
 * The analysis room on PostgreSQL under SIGKILLs, as real processes: three daemons, each with
 * its own --hostname, drain 1,000 analyses (`batch --detach` of 1,000 logins, the loopback
 * GitHub fake answering, the offline writer) from one schema while one of them is killed and
 * replaced every 1-3 s. Every analysis is completed exactly once (a trigger counts every write
 * that completed a row, in committed transactions only), no job is completed twice, none is
 * stuck; the webhook gets every analysis at least once, every repeat with its idempotency key.
 */
import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { newbie, startFakeGitHub } from '../fakes/github.js';
import { adminQuery, pgSchemas, pgUrl } from '../support/pg.js';
import { gitroast } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';
import { FAST, spawnDaemon, writeConfig, type Spawned } from './support.js';

const schemas = pgSchemas('pgac');
const TOKEN = 'ghp_chaosTokenValue_0123456789abcdef';
const N = 1000;

/** A webhook receiver: every delivery's idempotency key and event, in arrival order. */
async function webhookServer(): Promise<{ url: string; deliveries: { key: string | undefined; id: string; event: string }[]; close(): Promise<void> }> {
  const deliveries: { key: string | undefined; id: string; event: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
      // Any delivery is recorded (a job failure's notice carries no analysis), so the assertions below tell what came.
      const msg = JSON.parse(body) as { event: string; analysis?: { id: string } };
      deliveries.push({ key: req.headers['idempotency-key'] as string | undefined, id: msg.analysis?.id ?? '', event: msg.event });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/hook`, deliveries, close: () => new Promise((r) => server.close(() => r())) };
}

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('analyses on PostgreSQL under SIGKILL', () => {
  it('three daemons with their own --hostname drain 1,000 analyses while one is SIGKILLed and replaced every 1-3 s: each completed exactly once, no job twice, none stuck, webhooks at least once with their key', async () => {
    const now = Date.now();
    const logins = Array.from({ length: N }, (_, i) => `chaos-user-${String(i).padStart(4, '0')}`);
    const gh = await startFakeGitHub({ users: logins.map((login) => ({ ...newbie(now), login })) });
    closers.push(() => gh.close());
    gh.setRemaining(TOKEN, 1_000_000);
    gh.setGraphqlRemaining(TOKEN, 1_000_000);
    const hook = await webhookServer();
    closers.push(() => hook.close());
    const schema = schemas.name('chaos');
    const env = {
      GITROAST_GITHUB_API_URL: gh.url, GITHUB_TOKEN: TOKEN, OPENAI_API_KEY: '', GITROAST_HANDLERS: '',
      // A job whose daemon is killed spends an attempt; on a loaded machine a fetch-github job was
      // caught by three kills in a row and failed for good, as it should. Here each link may be
      // caught 20 times: the test is about exactly-once, not about running out of tries.
      GITROAST_CONFIG: writeConfig({ ...FAST, leaseSeconds: 5, webhookUrl: hook.url, jobs: { 'fetch-github': { tries: 20 }, 'write-review': { tries: 20 }, notify: { tries: 20 } } }),
    };
    // The batch creates the schema; a trigger then counts every row that turned completed (committed only).
    const input = `${logins.join('\n')}\n`;
    const batch = await gitroast(['--db', pgUrl(schema), 'batch', '-', '--detach'], { env: { ...env, XDG_CONFIG_HOME: tempDir('gitroast-xdg-') }, input, timeoutMs: 60_000 });
    expect(batch.code, batch.stderr).toBe(0);
    await adminQuery(`CREATE TABLE "${schema}".turned_completed (analysis_id TEXT NOT NULL)`);
    await adminQuery(`CREATE FUNCTION "${schema}".count_completed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO "${schema}".turned_completed VALUES (NEW.id); RETURN NEW; END $$`);
    await adminQuery(`CREATE TRIGGER count_completed AFTER UPDATE ON "${schema}".analyses FOR EACH ROW
      WHEN (NEW.status = 'completed' AND (OLD.status IS DISTINCT FROM 'completed' OR NEW.completed_at IS DISTINCT FROM OLD.completed_at)) EXECUTE FUNCTION "${schema}".count_completed()`);

    const all: Spawned[] = [];
    const live: Spawned[] = [];
    let generation = 0;
    const start = (slot: number) => {
      const d = spawnDaemon(pgUrl(schema), ['--concurrency', '16', '--hostname', `host-${slot}-${generation++}`], env);
      all.push(d);
      live[slot] = d;
      return d;
    };
    for (const slot of [0, 1, 2]) start(slot);
    const finished = async () => (await adminQuery<{ n: number }>(`SELECT COUNT(*)::int AS n FROM "${schema}".jobs WHERE state NOT IN ('completed')`)).rows[0]!.n === 0
      && (await adminQuery<{ n: number }>(`SELECT COUNT(*)::int AS n FROM "${schema}".jobs`)).rows[0]!.n === 3 * N;
    let kills = 0;
    const deadline = Date.now() + 80_000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000 + Math.random() * 2000));
      if (await finished()) break;
      const slot = kills % 3;
      live[slot]!.child.kill('SIGKILL');
      await live[slot]!.exited;
      kills++;
      start(slot);
    }
    for (const d of live) d.child.kill('SIGTERM');
    await Promise.all(live.map((d) => d.exited));
    expect(kills).toBeGreaterThanOrEqual(3);

    // Every analysis completed, exactly once.
    const statuses = (await adminQuery<{ status: string; n: number }>(`SELECT status, COUNT(*)::int AS n FROM "${schema}".analyses GROUP BY status`)).rows;
    expect(statuses).toEqual([{ status: 'completed', n: N }]);
    const turned = (await adminQuery<{ analysis_id: string; n: number }>(`SELECT analysis_id, COUNT(*)::int AS n FROM "${schema}".turned_completed GROUP BY analysis_id`)).rows;
    expect(turned).toHaveLength(N);
    expect(turned.filter((r) => r.n !== 1)).toEqual([]);
    // Every job (fetch-github, write-review, notify per analysis) completed, none stuck, none failed.
    const jobs = (await adminQuery<{ name: string; state: string; n: number }>(`SELECT name, state, COUNT(*)::int AS n FROM "${schema}".jobs GROUP BY name, state ORDER BY name`)).rows;
    expect(jobs).toEqual(['fetch-github', 'notify', 'write-review'].map((name) => ({ name, state: 'completed', n: N })));
    expect((await adminQuery<{ n: number }>(`SELECT COUNT(*)::int AS n FROM "${schema}".failed_jobs`)).rows[0]!.n).toBe(0);
    // The kills did meet jobs in flight: some ran again after their daemon died.
    const again = (await adminQuery<{ n: number }>(`SELECT COUNT(*)::int AS n FROM "${schema}".jobs WHERE attempts > 1`)).rows[0]!.n;
    expect(again).toBeGreaterThan(0);
    // No daemon logged a job completed twice, and no job was completed by two.
    const completedBy = new Map<number, number>();
    for (const d of all) for (const l of d.logs) if (l.event === 'job.completed') completedBy.set(l.job as number, (completedBy.get(l.job as number) ?? 0) + 1);
    expect([...completedBy.values()].filter((n) => n !== 1)).toEqual([]);
    // Webhooks: each analysis at least once; every delivery carries the key of its analysis and event.
    const ids = new Set((await adminQuery<{ id: string }>(`SELECT id FROM "${schema}".analyses`)).rows.map((r) => r.id));
    expect(new Set(hook.deliveries.map((d) => d.id))).toEqual(ids);
    for (const d of hook.deliveries) expect(d.key).toBe(`${d.id}:${d.event}`);
    expect(hook.deliveries.every((d) => d.event === 'analysis.completed')).toBe(true);
    const hosts = (await adminQuery<{ hostname: string }>(`SELECT DISTINCT hostname FROM "${schema}".workers`)).rows;
    expect(hosts.every((h) => /^host-\d-\d+$/.test(h.hostname))).toBe(true);
  }, 120_000);
});

