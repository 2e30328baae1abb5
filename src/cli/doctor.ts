import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { safeLine } from '../util/terminal.js';
import type { StaleWorker, StuckLease } from '../queue/health.js';
import type { SchemaReport } from '../queue/ledger.js';
import { intOption, WorkFailed, type Context } from './context.js';
import { duration, print, printJson } from './output.js';
import type { Runner } from './program.js';

/** One check of `gitroast doctor`: what was found and, when it needs attention, what to do. */
interface Check {
  check: 'integrity' | 'schema' | 'wal' | 'workers' | 'leases' | 'disk' | 'permissions' | 'server' | 'connections';
  ok: boolean;
  detail: string;
  /** What to do, when not ok. */
  action?: string;
  /** The figures behind the detail, for --json. */
  data?: Record<string, unknown>;
}

/** A WAL above this means checkpoints cannot finish (journal_size_limit keeps a healthy one at ≤ 64 MiB). */
const WAL_ATTENTION_BYTES = 128 * 1024 * 1024;
/** Below this much free space (or below the database's own size, if larger) the disk needs attention. */
const MIN_FREE_BYTES = 100 * 1024 * 1024;

function mib(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Run a check's query; when the database cannot answer it (damage), record that as the finding. */
function guarded<T>(checks: Check[], check: Check['check'], fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    checks.push({ check, ok: false, detail: `could not be checked: ${(err as Error).message}`, action: 'see the integrity finding: the database is damaged where this check reads' });
    return undefined;
  }
}

function size(file: string): number {
  return fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
}

/**
 * The alive threshold doctor judges daemons by: the config's, or the default when the config
 * cannot be read. Doctor diagnoses a broken setup, so a bad config file is reported on stderr
 * and does not stop the database checks.
 */
async function doctorAliveMs(ctx: Context): Promise<number> {
  try {
    return await ctx.aliveMs();
  } catch (err) {
    const { STALE_MS } = await import('../queue/index.js');
    process.stderr.write(`gitroast: warning: ${safeLine((err as Error).message)}; doctor judges daemons by the default alive threshold (${STALE_MS / 1000} s)\n`);
    return STALE_MS;
  }
}

export function registerDoctor(program: Command, ctx: Context, run: Runner): void {
  program
    .command('doctor')
    .description('check the database: integrity, schema version, WAL size, stale daemons, stuck leases, disk space, file modes of the database and of a config file holding secrets; on PostgreSQL the server, schema version, stale daemons, stuck leases and connection headroom (exit 1 when something needs attention)')
    .option('--full', 'run PRAGMA integrity_check (slower, also compares index contents) instead of quick_check')
    .option('--stale <seconds>', 'a daemon whose heartbeat is older than this is stale (default the config\'s staleSeconds, 30)', intOption('--stale', 1, 86_400))
    .option('--json', 'print JSON')
    .action(run(async (opts: { full?: boolean; stale?: number; json?: boolean }) => {
      const staleMs = opts.stale !== undefined ? opts.stale * 1000 : await doctorAliveMs(ctx);
      if (ctx.engine === 'postgres') return finish(ctx.dbLabel, await pgChecks(ctx, staleMs), opts.json);
      const { openForInspection, checkIntegrity, staleWorkers, stuckLeases } = await import('../queue/health.js');
      const { inspectSchema } = await import('../queue/index.js');
      const { APP_ROOMS } = await import('./db.js');
      const file = ctx.dbPath;
      // Read-only and whatever the schema version: doctor never migrates or repairs. Exit 3 when it cannot be read at all.
      const db = openForInspection(file);
      const checks: Check[] = [];
      const now = Date.now();
      try {
        const integrity = checkIntegrity(db, opts.full);
        checks.push(integrity.ok
          ? { check: 'integrity', ok: true, detail: `${integrity.pragma} ok` }
          : {
              check: 'integrity', ok: false, detail: `${integrity.pragma} found damage: ${integrity.messages.slice(0, 3).join('; ')}`,
              action: `stop the daemons, keep a copy of the damaged file, and restore the last good backup (\`gitroast backup\` makes them); \`sqlite3 ${file} .recover\` can salvage rows`,
              data: { messages: integrity.messages },
            });

        checks.push(schemaCheck(inspectSchema(db, APP_ROOMS), 'sqlite'));

        const wal = size(`${file}-wal`);
        checks.push(wal > WAL_ATTENTION_BYTES
          ? {
              check: 'wal', ok: false, detail: `the WAL is ${mib(wal)} (database ${mib(size(file))})`,
              action: 'a long-running reader keeps checkpoints from finishing: restart monitors and daemons; the WAL shrinks at the next checkpoint',
              data: { walBytes: wal },
            }
          : { check: 'wal', ok: true, detail: `${mib(wal)} (database ${mib(size(file))})`, data: { walBytes: wal } });

        const stale = guarded(checks, 'workers', () => staleWorkers(db, staleMs, now));
        if (stale) checks.push(workersCheck(stale, now));
        const stuck = guarded(checks, 'leases', () => stuckLeases(db, staleMs, now));
        if (stuck) checks.push(leasesCheck(stuck));
      } finally {
        db.close();
      }

      const dir = path.dirname(file);
      const fsStat = fs.statfsSync(dir);
      const free = fsStat.bavail * fsStat.bsize;
      const used = size(file) + size(`${file}-wal`);
      const needed = Math.max(MIN_FREE_BYTES, used);
      checks.push(free < needed
        ? {
            check: 'disk', ok: false, detail: `${mib(free)} free in ${dir} (want at least ${mib(needed)})`,
            action: 'free some space: when the disk fills, enqueueing fails (exit 3) and daemons wait until space returns',
            data: { freeBytes: free, wantBytes: needed },
          }
        : { check: 'disk', ok: true, detail: `${mib(free)} free in ${dir}`, data: { freeBytes: free } });

      const loose = [file, `${file}-wal`, `${file}-shm`]
        .map((f) => ({ file: f, mode: fs.statSync(f, { throwIfNoEntry: false })?.mode }))
        .filter((f): f is { file: string; mode: number } => f.mode !== undefined && (f.mode & 0o077) !== 0)
        .map((f) => ({ file: f.file, mode: (f.mode & 0o777).toString(8).padStart(4, '0'), what: '' }));
      // A config file holding secrets counts too; doctor does not validate it (`gitroast config` does).
      const { resolveConfigPath, exposedSecrets } = await import('./config.js');
      const exposed = exposedSecrets(resolveConfigPath(ctx.configFlag).file);
      if (exposed) loose.push({ file: exposed.file, mode: exposed.mode, what: `config file holding ${exposed.keys.join(', ')}, ` });
      checks.push(loose.length === 0
        ? { check: 'permissions', ok: true, detail: 'database files are 0600' }
        : {
            check: 'permissions', ok: false,
            detail: `readable by others: ${loose.map((f) => `${f.file} (${f.what}${f.mode})`).join(', ')}`,
            action: `chmod 600 ${loose.map((f) => f.file).join(' ')}`,
            data: { files: loose.map((f) => ({ file: f.file, mode: f.mode })) },
          });

      finish(file, checks, opts.json);
    }));
}

/** Print the findings (text or --json) and fail (exit 1) when one needs attention. */
function finish(database: string, checks: readonly Check[], json?: boolean): void {
  const attention = checks.filter((c) => !c.ok);
  if (json) {
    printJson({ database, ok: attention.length === 0, checks });
  } else {
    print(`database  ${safeLine(database)}`);
    for (const c of checks) {
      print(`${c.ok ? 'ok       ' : 'ATTENTION'}  ${c.check.padEnd(11)}  ${safeLine(c.detail)}`);
      if (c.action) print(`${' '.repeat(24)}→ ${safeLine(c.action)}`);
    }
  }
  if (attention.length > 0) throw new WorkFailed(`${attention.length} check${attention.length === 1 ? '' : 's'} need${attention.length === 1 ? 's' : ''} attention: ${attention.map((c) => c.check).join(', ')}`);
}

/** The schema finding (either engine). */
function schemaCheck({ version, expected, verdict, missing, unknown }: SchemaReport, engine: 'sqlite' | 'postgres'): Check {
  const ids = unknown.length > 0 ? `; unknown migrations ${unknown.join(', ')}` : missing.length > 0 && verdict !== 'older' ? `; lacks ${missing.join(', ')}` : '';
  const schema: Check = { check: 'schema', ok: verdict === 'current', detail: `version ${version} (this gitroast: ${expected})${ids}`, data: { version, expected } };
  if (verdict === 'newer') schema.action = 'the database was written by a newer gitroast: upgrade gitroast (this one refuses to use it)';
  else if (verdict === 'older') schema.action = engine === 'sqlite' ? 'run any writing command (e.g. `gitroast status`) or start the daemon to migrate it' : 'run `gitroast db migrate` (or any command, or a daemon) to migrate it';
  else if (verdict === 'foreign') schema.action = engine === 'sqlite' ? 'this is not a gitroast database: check --db and GITROAST_DB' : 'this schema holds another application\'s tables: check ?schema= in --db and GITROAST_DB';
  else if (verdict === 'damaged') schema.action = engine === 'sqlite' ? 'its schema matches no gitroast release: restore the last good backup (`gitroast backup` makes them)' : 'its schema matches no gitroast release: restore the last good dump (pg_dump)';
  return schema;
}

/** The stale daemons finding (either engine). */
function workersCheck(stale: readonly StaleWorker[], now: number): Check {
  return stale.length === 0
    ? { check: 'workers', ok: true, detail: 'no stale daemons' }
    : {
        check: 'workers', ok: false,
        detail: `${stale.length} daemon${stale.length === 1 ? '' : 's'} stopped heartbeating: ${stale.slice(0, 5).map((w) => `${w.id} (pid ${w.pid} on ${w.hostname}, ${duration(now - w.heartbeatAt)} ago)`).join(', ')}`,
        action: 'they were killed or crashed; a running daemon prunes them and recovers their jobs on its next heartbeat, so start one (`gitroast daemon`) if none runs',
        data: { workers: stale },
      };
}

/** The stuck leases finding (either engine). */
function leasesCheck(stuck: { total: number; jobs: readonly StuckLease[] }): Check {
  return stuck.total === 0
    ? { check: 'leases', ok: true, detail: 'no stuck leases' }
    : {
        check: 'leases', ok: false,
        detail: `${stuck.total} reserved job${stuck.total === 1 ? '' : 's'} held by no live daemon: ${stuck.jobs.slice(0, 5).map((j) => `${j.id} ${j.name} (${j.why.replace('-', ' ')})`).join(', ')}`,
        action: 'start a daemon (`gitroast daemon`): it makes them claimable again (or fails those out of tries) on its next heartbeat',
        data: { total: stuck.total, jobs: stuck.jobs },
      };
}

/** Connections a deployment wants free beyond those in use: three daemons of a few each, monitors and commands. */
const MIN_FREE_CONNECTIONS = 10;

/** Doctor on PostgreSQL: reachability, schema version, stale daemons, stuck leases, connection headroom. */
async function pgChecks(ctx: Context, staleMs: number): Promise<Check[]> {
  const target = ctx.dbTarget;
  if (target.kind !== 'postgres') throw new Error('pgChecks needs a postgres:// --db');
  const [{ inspectPg }, { pgQueueRoom }, { pgAnalysisRoom }] = await Promise.all([import('../queue/pg/health.js'), import('../queue/pg/migrations.js'), import('../analysis/pg-migrations.js')]);
  // Read-only: doctor never creates, migrates or repairs. Exit 3 when the server cannot be reached.
  const found = await inspectPg(target.target, [pgQueueRoom, pgAnalysisRoom], staleMs);
  const checks: Check[] = [
    { check: 'server', ok: true, detail: `PostgreSQL ${found.serverVersion} answered in ${found.connectMs.toFixed(0)} ms`, data: { serverVersion: found.serverVersion, connectMs: Math.round(found.connectMs) } },
    schemaCheck(found.schema, 'postgres'),
  ];
  if (found.staleWorkers) checks.push(workersCheck(found.staleWorkers, found.now));
  if (found.stuckLeases) checks.push(leasesCheck(found.stuckLeases));
  const c = found.connections;
  const want = Math.max(MIN_FREE_CONNECTIONS, Math.ceil(c.max / 10));
  checks.push(c.free < want
    ? {
        check: 'connections', ok: false, detail: `${c.free} of ${c.max} connections free (${c.used} in use, ${c.reserved} reserved for superusers; want at least ${want})`,
        action: 'fewer connections per host (fewer daemons or monitors), a pooler such as PgBouncer, or a larger max_connections',
        data: c as unknown as Record<string, unknown>,
      }
    : { check: 'connections', ok: true, detail: `${c.free} of ${c.max} connections free (${c.used} in use, ${c.reserved} reserved for superusers)`, data: c as unknown as Record<string, unknown> });
  return checks;
}
