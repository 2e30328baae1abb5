/**
 * `gitroast daemon` on PostgreSQL (loaded only for a postgres:// URL, so SQLite users never
 * load `pg`): open and migrate the schema, run the daemon on the PostgreSQL store, wake it
 * with LISTEN/NOTIFY on one dedicated connection (the safety poll stays the fallback), and
 * close everything when it stops. A daemon uses the pool's few connections (claims and
 * completions are batched) plus the LISTEN one.
 */
import type { DaemonOptions, Registry } from '../daemon/index.js';
import type { FailureHook } from '../queue/index.js';
import type { PgDb } from '../queue/pg/connect.js';
import type { PgLeasedWrite } from '../queue/pg/jobs.js';
import type { PgTarget } from '../queue/pg/url.js';
import type { CliStore } from './context.js';

/** Connections in a daemon's pool: one commit at a time, a heartbeat, the scheduler, /health. */
const PG_DAEMON_POOL = 4;

/**
 * Skew this host's clock by this many ms, for tests only: the store must decide by the
 * server's clock (leases, heartbeats, the alive threshold), so a skewed host changes nothing.
 */
const TEST_CLOCK_SKEW_ENV = 'GITROAST_TEST_CLOCK_SKEW_MS';

/** The web dashboard a daemon serves at `/` with --http, made over its store and database (./web.ts pgWebDashboard). */
export type PgDashboardFactory = (store: CliStore, db: PgDb) => Promise<{ handle: NonNullable<DaemonOptions['http']>['handler']; close(): void }>;

/** Run the daemon on `target` with `registry`'s PostgreSQL handlers until it stops; with `dashboard` and --http, the web dashboard is served too. */
export async function runPgDaemon(target: PgTarget, registry: Registry<PgLeasedWrite>, opened: { db?: PgDb; now?: () => number }, options: Omit<DaemonOptions<PgLeasedWrite>, 'dbPath' | 'store'>, failureHook: FailureHook | undefined, dashboard?: PgDashboardFactory): Promise<void> {
  const d = await import('../daemon/index.js');
  const { openPg, closePg } = await import('../queue/pg/connect.js');
  const { createPgStore } = await import('../queue/pg/store.js');
  const { setPgFailureHook } = await import('../queue/pg/jobs.js');
  const { PgListener } = await import('../queue/pg/listen.js');
  const { roomsFor } = await import('./db-command.js');
  const logger = options.logger;
  // Migrates what this gitroast adds; refuses (exit 3, nothing written) a schema a newer one migrated.
  const db = await openPg(target, { rooms: await roomsFor({ kind: 'postgres', target }), max: PG_DAEMON_POOL });
  const skew = Number(process.env[TEST_CLOCK_SKEW_ENV] ?? 0);
  const store = createPgStore(db, skew ? { hostClock: () => Date.now() + skew } : {});
  // The rooms' handlers write through this database, on the store's (the database's) clock.
  opened.db = db;
  opened.now = () => store.now();
  setPgFailureHook(db, failureHook);
  const ref: { wake?: () => void } = {};
  const listener = new PgListener(db, () => ref.wake?.(), {
    onState: (state, error) => {
      if (state === 'down') logger.log('error', 'database.down', { db: target.display, error: error ?? new Error('the LISTEN connection closed'), reason: 'PostgreSQL is unreachable; reconnecting with backoff' });
      else logger.log('info', 'database.up', { db: target.display, reason: 'reconnected; looking for work missed meanwhile' });
    },
  });
  let web: Awaited<ReturnType<PgDashboardFactory>> | undefined;
  try {
    // The dashboard at `/`, next to /health and /metrics, reading through the daemon's store (its pool) plus one LISTEN connection of its own.
    if (options.http && dashboard) web = await dashboard(store, db);
    await listener.start();
    const handle = await d.runDaemon(undefined, registry, { ...options, store, dbPath: target.display, http: options.http && web ? { ...options.http, handler: web.handle } : options.http });
    ref.wake = () => handle.worker.wake();
    handle.worker.wake();
    await handle.done;
  } finally {
    web?.close();
    await listener.stop();
    await closePg(db).catch(() => {});
  }
}
