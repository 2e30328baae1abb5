import type { Command } from 'commander';
import { UsageError, type Context } from './context.js';
import { info } from './output.js';
import type { Runner } from './program.js';

interface DashboardFlags {
  config?: string;
  http?: string;
  httpToken?: string;
  readonly?: boolean;
  queues?: string;
}

/** Where `dashboard` listens when neither --http nor the config says. */
const DEFAULT_LISTEN = '127.0.0.1:8080';

export function registerDashboard(program: Command, ctx: Context, run: Runner): void {
  program
    .command('dashboard')
    .description('serve the web dashboard (the monitor in a browser, live) without running a daemon; `daemon --http` serves it too')
    .option('--config <path>', 'config file (env GITROAST_CONFIG)')
    .option('--http <host:port>', `listen here (default ${DEFAULT_LISTEN}; loopback only unless --http-token is set)`)
    .option('--http-token <token>', 'require this token: a sign-in for browsers, a bearer token for scripts (prefer env GITROAST_HTTP_TOKEN)')
    .option('--readonly', 'draw no action and refuse every one (retry, forget, pause, continue)')
    .option('--queues <list>', 'queues always listed, comma-separated (default high,default,low)')
    .action(run(async (opts: DashboardFlags) => {
      const { loadConfig } = await import('./config.js');
      const { config } = loadConfig({
        configFlag: opts.config,
        flags: { 'http.listen': { value: opts.http, flag: '--http' }, 'http.token': { value: opts.httpToken, flag: '--http-token' } },
      });
      const { assertQueueName } = await import('../queue/index.js');
      let configured: readonly string[] = config.queues;
      if (opts.queues !== undefined) {
        configured = opts.queues.split(',').map((q) => q.trim()).filter(Boolean);
        if (configured.length === 0) throw new UsageError('invalid --queues "": expected comma-separated queue names such as high,default,low');
        for (const q of configured) assertQueueName(q);
      }
      const { httpListen, webDashboard, pgWebDashboard } = await import('./web.js');
      const listen = await httpListen(config.http.listen ?? DEFAULT_LISTEN, config.http.token, 'the dashboard');
      const d = await import('../daemon/index.js');
      const logger = d.createLogger({ format: config.log.format ?? (process.stderr.isTTY ? 'pretty' : 'json'), level: config.log.level });
      const options = { token: listen.token, readonly: opts.readonly ?? false, configured, aliveMs: config.staleSeconds * 1000, silenced: config.silenced };
      let web: Awaited<ReturnType<typeof webDashboard>>;
      let health: () => Promise<{ ok: boolean; body: unknown }> | { ok: boolean; body: unknown };
      if (ctx.engine === 'postgres') {
        // Fail early with one line (exit 3) when the database cannot be reached or used.
        const store = await ctx.store();
        web = await pgWebDashboard({ ...options, store, db: await ctx.pgDb() });
        health = async () => ({ ok: true, body: { status: 'ok', mode: 'dashboard', database: { ok: true, schemaVersion: await store.probe() } } });
      } else {
        const { openAppDb } = await import('./db.js');
        const file = ctx.dbPath;
        // Fail early with one line (exit 3) when there is no usable database yet.
        openAppDb(file, { readonly: true }).close();
        web = await webDashboard({ ...options, dbPath: file, open: ({ readonly }) => openAppDb(file, { readonly }) });
        const { schemaVersion } = await import('../queue/index.js');
        health = () => {
          const db = openAppDb(file, { readonly: true });
          try {
            return { ok: true, body: { status: 'ok', mode: 'dashboard', database: { ok: true, schemaVersion: schemaVersion(db) } } };
          } finally {
            db.close();
          }
        };
      }
      let server;
      try {
        server = await d.startHttp(listen, { health }, logger, listen.token, { handler: web.handle });
      } catch (err) {
        web.close();
        throw new UsageError(`cannot listen on ${config.http.listen ?? DEFAULT_LISTEN}: ${(err as Error).message}`);
      }
      const shown = server.address.host.includes(':') ? `[${server.address.host}]` : server.address.host;
      info(`dashboard on http://${shown}:${server.address.port}/${opts.readonly ? ' (read-only)' : ''}${listen.token ? ' (token required)' : ''}`);
      logger.log('info', 'http.listening', { host: server.address.host, port: server.address.port, auth: listen.token ? 'token' : 'none', mode: 'dashboard' });
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      web.close();
      await server.close();
    }));
}
