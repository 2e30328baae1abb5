/**
 * What `daemon --http` and `dashboard` share: the rule for where HTTP may listen, and the
 * web dashboard's handler wired to the database (its read model, and its wake-up: the
 * daemon's WAL watcher, so a commit from any process pushes a refresh down the event stream).
 */
import type { Listen } from '../daemon/index.js';
import type { Db } from '../queue/index.js';
import type { PgDb } from '../queue/pg/connect.js';
import type { CliStore } from './context.js';
import type { Dashboard, DashboardModel } from '../web/index.js';
import { UsageError } from './context.js';

/**
 * Parse `--http` and apply the one rule: loopback unless a token is set. `what` names what
 * would be served, for the refusal message. Throws a UsageError (exit 2).
 */
export async function httpListen(spec: string, token: string | undefined, what: string): Promise<Listen & { token?: string }> {
  const d = await import('../daemon/index.js');
  let listen: Listen;
  try {
    listen = d.parseListen(spec);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (!d.isLoopback(listen.host) && !token) {
    throw new UsageError(`refusing to serve ${what} on ${spec}: it is not a loopback address; set --http-token (or GITROAST_HTTP_TOKEN) to require a bearer token, or listen on 127.0.0.1`);
  }
  return { ...listen, token };
}

/** Options of webDashboard. */
export interface WebDashboardOptions {
  dbPath: string;
  open(options: { readonly: boolean }): Db;
  token?: string;
  readonly?: boolean;
  configured?: readonly string[];
  aliveMs?: number;
  /** The config's `silenced`: kept out of the completed lists and recent events. */
  silenced?: readonly string[];
  /** The daemon's own connection: its in-process enqueues wake the stream too. */
  db?: Db;
}

/** Build the dashboard over the database at `dbPath`; close() ends its streams and its connection. */
export async function webDashboard(options: WebDashboardOptions): Promise<Dashboard> {
  const { WalWatcher, isLoopback } = await import('../daemon/index.js');
  const { createReadModel, onEnqueued } = await import('../queue/index.js');
  const { createDashboard } = await import('../web/index.js');
  const { analysisViews } = await import('../analysis/store.js');
  const model = createReadModel({ open: options.open, configured: options.configured, aliveMs: options.aliveMs, readonly: options.readonly, silenced: options.silenced });
  // Open the reader now: SQLite keeps -wal in place while a connection is open, so the watcher holds on to it.
  model.header(Date.now());
  const dashboard = createDashboard({
    // The analyses screens read on the same connection, each in its own short read transaction.
    model: { ...model, ...analysisViews((fn) => model.read(fn)) }, readonly: options.readonly, token: options.token, isLoopback,
    subscribe: (onChange) => {
      const watcher = new WalWatcher(options.dbPath, onChange).start();
      const off = options.db ? onEnqueued(options.db, onChange) : () => {};
      return () => {
        watcher.close();
        off();
      };
    },
  });
  return {
    handle: dashboard.handle,
    get streams() {
      return dashboard.streams;
    },
    close() {
      dashboard.close();
      model.close();
    },
  };
}

/** Options of pgWebDashboard: those of webDashboard, over the Store of a PostgreSQL database. */
export interface PgWebDashboardOptions extends Omit<WebDashboardOptions, 'dbPath' | 'open' | 'db'> {
  store: CliStore;
  db: PgDb;
}

/** How often the PostgreSQL dashboard's streams are told to refresh without a NOTIFY (completions send none). */
const PG_REFRESH_MS = 2000;

/**
 * The dashboard over a PostgreSQL database: the read model over the Store and the analysis
 * store, its pages run by replay (src/queue/store-model.ts), woken by the installation's
 * NOTIFY (LISTEN on its own connection) and every PG_REFRESH_MS.
 */
export async function pgWebDashboard(options: PgWebDashboardOptions): Promise<Dashboard> {
  const { isLoopback } = await import('../daemon/index.js');
  const { createStoreReadModel, replayModel } = await import('../queue/store-model.js');
  const { PgListener } = await import('../queue/pg/listen.js');
  const { createDashboard } = await import('../web/index.js');
  const { analysisStoreViews, pgAnalyses } = await import('../analysis/store.js');
  const views = createStoreReadModel(options.store, { configured: options.configured, aliveMs: options.aliveMs, readonly: options.readonly, silenced: options.silenced });
  const { model, run } = replayModel<DashboardModel>({ ...views, ...analysisStoreViews(pgAnalyses(options.db)) });
  return createDashboard({
    model, run, readonly: options.readonly, token: options.token, isLoopback,
    subscribe: (onChange) => {
      const listener = new PgListener(options.db, onChange);
      listener.start().catch(() => {});
      const timer = setInterval(onChange, PG_REFRESH_MS);
      timer.unref();
      return () => {
        clearInterval(timer);
        void listener.stop();
      };
    },
  });
}
