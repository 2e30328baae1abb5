/**
 * A PostgreSQL restart in the middle of a drain. It stops the machine's server, so every
 * PostgreSQL test running at the same time would fail: it runs only when
 * GITROAST_PG_RESTART_TEST=1, alone, after the main suite (.ci/run:
 * `GITROAST_PG_RESTART_TEST=1 npx vitest run test/daemon/pg-restart.test.ts`).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminQuery, pgSchemas, pgUrl } from '../support/pg.js';
import { tempDir, waitFor } from '../support/tmp.js';
import { completedTimes, enqueueRecords, states, writePgHandlers } from './pg-support.js';
import { FAST, spawnDaemon, writeConfig } from './support.js';

const enabled = process.env.GITROAST_PG_RESTART_TEST === '1';

/** Run pg_ctlcluster on the machine's PostgreSQL 15 (stop / start / status). */
function cluster(action: 'stop' | 'start' | 'status'): number | null {
  const args = ['--skip-systemctl-redirect', '15', 'main', action, ...(action === 'stop' ? ['-m', 'fast'] : [])];
  // A start can fail while the stopped server's last process is still going away: try again,
  // so the test never leaves the machine's server down (status exit 0: it runs).
  for (let attempt = 0; ; attempt++) {
    const r = spawnSync('pg_ctlcluster', args, { encoding: 'utf8', timeout: 60_000 });
    if (action === 'status' || r.status === 0) return r.status;
    if (action === 'start' && attempt < 20) {
      if (spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', '15', 'main', 'status']).status === 0) return 0;
      spawnSync('sleep', ['0.5']);
      continue;
    }
    throw new Error(`pg_ctlcluster ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  }
}

/** Answer of GET url, or the error's code when nothing answered. */
async function status(url: string): Promise<number | string> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(10_000) })).status;
  } catch (err) {
    return String((err as Error).name);
  }
}

describe.runIf(enabled)('a PostgreSQL restart during a drain', () => {
  const schemas = pgSchemas('pgr');

  it('is reported (/health 503, a log line), the daemon reconnects and finishes: nothing lost, nothing completed twice', async () => {
    const schema = schemas.name('restart');
    const file = path.join(tempDir(), 'runs.txt');
    const d = spawnDaemon(pgUrl(schema), ['--queues', 'default', '--concurrency', '8', '--http', '127.0.0.1:0'], {
      GITROAST_HANDLERS: writePgHandlers(), GITROAST_CONFIG: writeConfig({ ...FAST, leaseSeconds: 5 }),
    });
    const health = `http://127.0.0.1:${(await d.waitLog('http.listening')).port as number}/health`;
    await d.waitLog('daemon.started');
    await adminQuery(`CREATE TABLE "${schema}".completions (job_id BIGINT NOT NULL, pid INT NOT NULL)`);
    const ids = await enqueueRecords((s) => schemas.open(s, { max: 1 }), schema, 600, file, 40, 'pg-record');
    await waitFor(async () => ((await states(schema, 'pg-record')).completed ?? 0) >= 100 || undefined, 20_000, '100 jobs to complete');
    expect(await status(health)).toBe(200);
    try {
      cluster('stop');
      // Down: /health says so, and a log line reports the outage.
      await waitFor(async () => (await status(health)) === 503 || undefined, 15_000, '/health to answer 503');
      await d.waitLog('database.down');
      await new Promise((r) => setTimeout(r, 1500));
      expect(await status(health)).toBe(503);
    } finally {
      cluster('start');
    }
    await d.waitLog('database.up', undefined, 30_000);
    await waitFor(async () => {
      try {
        return (await states(schema, 'pg-record')).completed === 600 || undefined;
      } catch {
        return undefined;
      }
    }, 60_000, 'the daemon to finish the 600 jobs after the restart');
    const times = await completedTimes(schema);
    expect(ids.filter((id) => times.get(id) !== 1)).toEqual([]);
    expect(times.size).toBe(600);
    expect(await states(schema, 'pg-record')).toEqual({ completed: 600 });
    expect(await status(health)).toBe(200);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  }, 150_000);
});
