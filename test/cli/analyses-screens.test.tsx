/**
 * The analyses screens on both engines: the Ink monitor's analyses view through the source
 * `gitroast monitor` builds (src/cli/monitor-source.ts), and the web dashboard's list and
 * report served by the built `gitroast dashboard`, each over a PostgreSQL schema and a
 * SQLite file seeded with the same analyses, must show the same; a report stays escaped.
 * A database without the analyses table shows the empty state.
 */
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { pgAnalysisRoom } from '../../src/analysis/pg-migrations.js';
import { scoreProfile } from '../../src/analysis/score.js';
import { analysisViews, pgAnalyses } from '../../src/analysis/store.js';
import { writeOffline } from '../../src/analysis/writer.js';
import { openAppDb } from '../../src/cli/db.js';
import { pgMonitorSource, sqliteMonitorSource, type MonitorSource } from '../../src/cli/monitor-source.js';
import * as q from '../../src/queue/index.js';
import { pgQueueRoom } from '../../src/queue/pg/migrations.js';
import { createPgStore } from '../../src/queue/pg/store.js';
import { Monitor } from '../../src/tui/App.js';
import { LIST_LIMIT } from '../../src/tui/state.js';
import type { DataSource } from '../../src/tui/types.js';
import { analysesPage, analysisPage } from '../../src/web/analyses.js';
import { makeSnapshot } from '../fakes/snapshots.js';
import { serveHttp } from '../support/cli.js';
import { pgSchemas, pgUrl } from '../support/pg.js';
import { tempDbPath, waitFor } from '../support/tmp.js';

const pgs = pgSchemas('screens');

const T = 1_790_000_000_000;
const ID = {
  done: 'a1111111-1111-4111-8111-111111111111',
  writing: 'b2222222-2222-4222-8222-222222222222',
  failed: 'c3333333-3333-4333-8333-333333333333',
  pending: 'd4444444-4444-4444-8444-444444444444',
};
const BIO = '<script>alert("bio")</script> builds tools';
const SUMMARY = 'Fine work.</p><img src=x onerror=alert(1)>';

/** Run one statement (`?` placeholders) on an engine's database. */
type Exec = (sql: string, params: unknown[]) => Promise<void>;

/**
 * Analyses in every state, written as `analyze` leaves them: a completed one with its
 * snapshot (a bio holding a script), scorecard and review (the model's summary holding
 * markup), one scored and being written, one failed with markup in its reason, one queued.
 */
async function seed(exec: Exec): Promise<{ overall: number }> {
  const snapshot = makeSnapshot(T, { user: { ...makeSnapshot(T).user, login: 'middling-mo', bio: BIO } });
  const card = scoreProfile(snapshot, T);
  const { review } = writeOffline({ snapshot, scorecard: card }, T);
  const c = card.categories;
  const scores = [card.overall, c.profile.score, c.projects.score, c.consistency.score, c.technical.score, c.community.score];
  const insert = `INSERT INTO analyses (id, username, status, stage, overall, score_profile, score_projects, score_consistency, score_technical, score_community,
    formula_version, report, snapshot, signals, error, model, created_at, updated_at, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
  const none = [null, null, null, null, null, null];
  await exec(insert, [ID.done, 'middling-mo', 'completed', 'done', ...scores, card.formulaVersion, JSON.stringify({ ...review, summary: SUMMARY }), JSON.stringify(snapshot), JSON.stringify(card), null, 'offline', T, T + 5, T + 5]);
  await exec(insert, [ID.writing, 'writer-wu', 'processing', 'writing', ...scores, card.formulaVersion, null, JSON.stringify(snapshot), JSON.stringify(card), null, null, T + 10, T + 12, null]);
  await exec(insert, [ID.failed, 'dog', 'failed', 'fetching', ...none, null, null, null, null, 'GitHub said <b>no</b>', null, T + 20, T + 21, T + 21]);
  await exec(insert, [ID.pending, 'cat', 'pending', 'queued', ...none, null, null, null, null, null, null, T + 30, T + 30, null]);
  return { overall: card.overall };
}

/** A SQLite file and a PostgreSQL schema holding the same analyses. */
async function engines() {
  const file = tempDbPath();
  const lite = openAppDb(file);
  const { overall } = await seed(async (sql, params) => void lite.prepare(sql).run(...params));
  lite.close();
  const schema = pgs.name();
  const pgdb = await pgs.open(schema, { rooms: [pgQueueRoom, pgAnalysisRoom] });
  await seed(async (sql, params) => {
    let n = 0;
    await pgdb.pool.query(sql.replace(/\?/g, () => `$${++n}`), params);
  });
  return { file, pgdb, url: pgUrl(schema), overall };
}

const OPTIONS = { configured: ['high', 'default', 'low'], aliveMs: q.STALE_MS, readonly: true, silenced: [] };

/** Draw the monitor's analyses tab (screen 7, second tab) over `m`, on a fixed clock. */
async function analysesFrame(m: MonitorSource): Promise<string> {
  const at = T + 3_600_000;
  const app = render(<Monitor source={m.source} run={m.run} clock={{ now: () => at }} refreshMs={0} theme="plain" screen="batches" size={{ columns: 120, rows: 20 }} />);
  try {
    await waitFor(() => (app.lastFrame() ?? '').includes('no batches yet'), 5000, 'the batches screen');
    app.stdin.write('\t');
    await waitFor(() => (app.lastFrame() ?? '').includes('middling-mo'), 5000, `the analyses tab (frame:\n${app.lastFrame()})`);
    return app.lastFrame() ?? '';
  } finally {
    app.unmount();
  }
}

describe('the analyses screens on PostgreSQL', () => {
  it("the monitor's analyses view reads the same analyses from PostgreSQL as from SQLite, and draws them alike", async () => {
    const { file, pgdb, overall } = await engines();
    const lite = sqliteMonitorSource(file, OPTIONS);
    const pg = pgMonitorSource(createPgStore(pgdb), pgAnalyses(pgdb), OPTIONS);
    try {
      const read = (s: DataSource) => s.analyses!(LIST_LIMIT);
      const fromPg = await pg.run!(read);
      expect(fromPg).toEqual(read(lite.source));
      expect(fromPg.map((a) => [a.id, a.username, a.status, a.stage, a.overall])).toEqual([
        [ID.pending, 'cat', 'pending', 'queued', null],
        [ID.failed, 'dog', 'failed', 'fetching', null],
        [ID.writing, 'writer-wu', 'processing', 'writing', overall],
        [ID.done, 'middling-mo', 'completed', 'done', overall],
      ]);
      expect(fromPg[1]).toMatchObject({ createdAt: T + 20, updatedAt: T + 21, error: 'GitHub said <b>no</b>' });
      // The limit is the view's.
      expect((await pg.run!((s) => s.analyses!(2))).map((a) => a.username)).toEqual(['cat', 'dog']);
      const frames = { pg: await analysesFrame(pg), lite: await analysesFrame(lite) };
      expect(frames.pg).toBe(frames.lite);
      expect(frames.pg).toMatch(new RegExp(`b2222222\\s+writer-wu\\s+processing\\s+writing\\s+${overall}\\b`));
      expect(frames.pg).toMatch(/c3333333\s+dog\s+failed\s+fetching\s+-\s/);
    } finally {
      lite.source.close?.();
    }
  });

  it("the dashboard's analyses list and report are served from PostgreSQL as from SQLite, escaped, and an unknown id is 404", async () => {
    const { file, url, overall } = await engines();
    const servers = await Promise.all([serveHttp(file), serveHttp(url)]);
    try {
      const [lite, pg] = servers;
      const get = async (path: string) => {
        const [a, b] = await Promise.all([fetch(lite!.base + path), fetch(pg!.base + path)]);
        return { sqlite: { status: a.status, html: await a.text() }, postgres: { status: b.status, html: await b.text() } };
      };
      // The text of the page's cells, headings and scores, without what depends on the time.
      const cells = (html: string) => [...html.matchAll(/<(td|th|h1|h2|h3|li|p|blockquote|span|strong|code)\b[^>]*>([^<]*)</g)].map((m) => m[2]!.trim())
        .filter((t) => t !== '' && !/\d+(ms|s|m|h|d)\b|ago|UTC|^\d{4}-/.test(t));

      const list = await get('/analyses');
      expect([list.sqlite.status, list.postgres.status]).toEqual([200, 200]);
      const rows = (html: string) => [...html.matchAll(/<tr data-analysis="([^"]+)">.*?<a href="\/analyses\/[^"]+">([^<]*)<\/a>.*?<\/tr>/gs)].map((m) => m[1]!.slice(0, 8) + ' ' + m[2]!);
      expect(rows(list.postgres.html)).toEqual(['d4444444 cat', 'c3333333 dog', 'b2222222 writer-wu', 'a1111111 middling-mo']);
      expect(rows(list.postgres.html)).toEqual(rows(list.sqlite.html));
      expect(cells(list.postgres.html)).toEqual(cells(list.sqlite.html));
      expect(list.postgres.html).toContain(`</svg> ${overall}</td>`);
      expect(list.postgres.html).toContain('GitHub said &lt;b&gt;no&lt;/b&gt;');
      expect(list.postgres.html).not.toContain('<b>no</b>');

      const report = await get(`/analyses/${ID.done}`);
      expect([report.sqlite.status, report.postgres.status]).toEqual([200, 200]);
      expect(cells(report.postgres.html)).toEqual(cells(report.sqlite.html));
      const scores = (html: string) => [...html.matchAll(/data-score="([^"]+)".*?<span>(\d+)<\/span>/g)].map((m) => `${m[1]} ${m[2]}`);
      expect(scores(report.postgres.html)).toEqual(scores(report.sqlite.html));
      expect(scores(report.postgres.html)).toHaveLength(6);
      expect(scores(report.postgres.html)[0]).toBe(`Overall ${overall}`);
      expect(report.postgres.html).toContain(`<h1>middling-mo <span class="muted">(Mo)</span> — ${overall}/100</h1>`);
      // What strangers wrote (the bio, the model's summary) is text, never markup.
      for (const page of [report.sqlite.html, report.postgres.html]) {
        expect(page).toContain('&lt;script&gt;alert(&quot;bio&quot;)&lt;/script&gt; builds tools');
        expect(page).toContain('Fine work.&lt;/p&gt;&lt;img src=x onerror=alert(1)&gt;');
        expect(page).not.toMatch(/<script>alert|<img src=x/);
      }

      const writing = await get(`/analyses/${ID.writing}`);
      expect([writing.sqlite.status, writing.postgres.status]).toEqual([200, 200]);
      expect(cells(writing.postgres.html)).toEqual(cells(writing.sqlite.html));
      expect(writing.postgres.html).toMatch(/writer-wu.*analysis <span class="pill processing">processing<\/span>/);

      for (const missing of ['nope', '00000000-0000-4000-8000-000000000000']) {
        const r = await get(`/analyses/${missing}`);
        expect([r.sqlite.status, r.postgres.status], missing).toEqual([404, 404]);
        expect(r.postgres.html).toContain(`No analysis ${missing}.`);
      }
    } finally {
      for (const s of servers) s.child.kill('SIGTERM');
      await Promise.all(servers.map((s) => s.exited));
    }
  });

  it('a database without the analyses table shows the empty state on both screens', () => {
    const file = tempDbPath();
    q.openDatabase(file, { rooms: [q.queueRoom] }).close();
    const model = q.createReadModel({ open: ({ readonly }) => q.openDatabase(file, { rooms: [q.queueRoom], readonly }) });
    try {
      const views = analysisViews((fn) => model.read(fn));
      expect(views.analyses(LIST_LIMIT)).toEqual([]);
      expect(views.analysis(ID.done)).toBeUndefined();
      const ctx = { model: { ...model, ...views }, now: T, canAct: false, query: new URLSearchParams() };
      expect(analysesPage(ctx).body).toContain('No analysis yet');
      expect(analysisPage(ctx, ID.done).status).toBe(404);
    } finally {
      model.close();
    }
  });
});
