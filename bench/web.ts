/**
 * Benchmark: the web dashboard. The time to answer GET / (the overview page with its data,
 * gzip) at 100,000 and 1,000,000 jobs (target ≤ 50 ms at 100,000); the compressed bytes of
 * the first view (page, stylesheet, script); and the time from an enqueue's commit to its
 * refresh event on an open event stream, p50 (target ≤ 100 ms), driven by the WAL watcher.
 *
 * Jobs are made by one INSERT … SELECT over a recursive CTE (a million rows in seconds),
 * spread like bench/monitor.ts: 60 % completed over 90 minutes, 25 % pending, 5 % delayed,
 * 5 % failed with their failed_jobs rows, the rest cancelled.
 *
 * Run: `npm run build && node dist/bench/run.js web` (or through `npm run bench`).
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { analysisViews } from '../src/analysis/store.js';
import { openAppDb } from '../src/cli/db.js';
import { isLoopback, silentLogger, startHttp, WalWatcher } from '../src/daemon/index.js';
import { createReadModel, enqueue, type Db } from '../src/queue/index.js';
import { createDashboard } from '../src/web/index.js';

/** Fill `db` with `n` jobs in one statement (and the failed ones' failed_jobs rows). */
export function seedJobsFast(db: Db, n: number, now: number): void {
  db.transaction(() => {
    db.prepare(`
      INSERT INTO jobs (queue, name, payload, state, priority, attempts, max_attempts, available_at, created_at, reserved_at, finished_at, tags)
      WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < @n - 1),
      rows AS (SELECT i, (i * 7919) % 1000 AS r, @now - 5400000 + (i * 5400000 / @n) AS created FROM seq)
      SELECT CASE i % 3 WHEN 0 THEN 'high' WHEN 1 THEN 'default' ELSE 'low' END,
             CASE i % 4 WHEN 0 THEN 'fetch-github' WHEN 1 THEN 'write-review' WHEN 2 THEN 'notify' ELSE 'prune' END,
             '{"username":"user' || i || '"}',
             CASE WHEN r < 600 THEN 'completed' WHEN r < 850 THEN 'pending' WHEN r < 900 THEN 'delayed' WHEN r < 950 THEN 'failed' ELSE 'cancelled' END,
             0, CASE WHEN r < 600 THEN 1 WHEN r < 850 THEN 0 WHEN r < 900 THEN 1 WHEN r < 950 THEN 3 ELSE 0 END, 3,
             CASE WHEN r >= 850 AND r < 900 THEN @now + 600000 + i ELSE created END,
             created,
             CASE WHEN r < 600 THEN created + 500 WHEN r >= 900 AND r < 950 THEN created + 100 ELSE NULL END,
             CASE WHEN r < 600 THEN MIN(created + 1000 + i % 5000, @now) WHEN r >= 900 AND r < 950 THEN created + 2000 WHEN r >= 950 THEN created + 10 ELSE NULL END,
             CASE WHEN r < 600 THEN '["analysis"]' ELSE NULL END
        FROM rows`).run({ n, now });
    db.prepare(`
      INSERT INTO failed_jobs (uuid, job_id, queue, name, payload, options, tags, attempts, error, failed_at)
      SELECT printf('00000000-0000-4000-8000-%012d', id), id, queue, name, payload, '{}', NULL, 3, 'GitHub answered 502 for user ' || id, finished_at
        FROM jobs WHERE state = 'failed'`).run();
  }).immediate();
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeOverview(base: string, runs: number): Promise<{ ms: number; bytes: number; html: string }> {
  const times: number[] = [];
  let html = '';
  for (let i = 0; i < runs + 2; i++) {
    const t0 = performance.now();
    const r = await fetch(`${base}/`, { headers: { 'accept-encoding': 'gzip' } });
    html = await r.text();
    if (i >= 2) times.push(performance.now() - t0);
  }
  return { ms: median(times), bytes: Buffer.byteLength(html), html };
}

/** Serve the dashboard over the database at `file`, in this process. */
async function serveDashboard(file: string) {
  const model = createReadModel({ open: ({ readonly }) => openAppDb(file, { readonly }) });
  model.header(Date.now());
  const dashboard = createDashboard({
    model: { ...model, ...analysisViews((fn) => model.read(fn)) }, isLoopback,
    subscribe: (onChange) => {
      const w = new WalWatcher(file, onChange).start();
      return () => w.close();
    },
  });
  const server = await startHttp({ host: '127.0.0.1', port: 0 }, { health: () => ({ ok: true, body: {} }) }, silentLogger, undefined, { handler: dashboard.handle });
  return {
    base: `http://127.0.0.1:${server.address.port}`,
    port: server.address.port,
    close: async () => {
      dashboard.close();
      await server.close();
      model.close();
    },
  };
}

export async function benchWeb(log: (line: string) => void = () => {}): Promise<Record<string, number>> {
  const figures: Record<string, number> = {};
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitroast-bench-web-'));
  try {
    for (const n of [100_000, 1_000_000]) {
      const file = path.join(dir, `web-${n}.db`);
      const db = openAppDb(file);
      const t0 = performance.now();
      seedJobsFast(db, n, Date.now());
      log(`web: seeded ${n.toLocaleString('en-US')} jobs in ${Math.round(performance.now() - t0)} ms`);
      db.close();
      const s = await serveDashboard(file);
      try {
        const o = await timeOverview(s.base, 15);
        const key = n === 100_000 ? '100k' : '1m';
        figures[`web_overview_${key}_ms`] = o.ms;
        if (n === 100_000) {
          // The first view: the page and the two files it loads, as sent (gzip).
          const css = /href="(\/assets\/[^"]+\.css)"/.exec(o.html)![1]!;
          const js = /src="(\/assets\/[^"]+\.js)"/.exec(o.html)![1]!;
          let total = zlib.gzipSync(o.html).length;
          for (const a of [css, js]) total += zlib.gzipSync(await (await fetch(`${s.base}${a}`)).text()).length;
          figures.web_first_view_gzip_bytes = total;
        }
      } finally {
        await s.close();
      }
    }

    // Enqueue → refresh event on an open stream.
    const file = path.join(dir, 'sse.db');
    const writer = openAppDb(file);
    const s = await serveDashboard(file);
    try {
      const arrivals: number[] = [];
      const req = http.get({ host: '127.0.0.1', port: s.port, path: '/events' }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (d.includes('event: refresh')) arrivals.push(performance.now());
        });
      });
      await new Promise((r) => setTimeout(r, 300));
      const lat: number[] = [];
      for (let i = 0; i < 40; i++) {
        const before = arrivals.length;
        enqueue(writer, { name: 'noop' });
        const at = performance.now();
        const deadline = at + 2000;
        while (arrivals.length === before && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
        if (arrivals.length > before) lat.push(arrivals[before]! - at);
        await new Promise((r) => setTimeout(r, 150));
      }
      req.destroy();
      figures.web_sse_enqueue_to_event_p50_ms = median(lat);
      figures.web_sse_events_seen = lat.length;
    } finally {
      await s.close();
      writer.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const f = await benchWeb((l) => process.stderr.write(`${l}\n`));
  for (const [k, v] of Object.entries(f)) process.stdout.write(`${k}  ${v.toFixed(2)}\n`);
}
