/** What the unit file needs. */
export interface UnitOptions {
  /** Absolute path of the node binary. */
  node: string;
  /** Absolute path of the gitroast entry point. */
  bin: string;
  /**
   * Absolute database path, or undefined for PostgreSQL: its URL may hold a password, so the
   * unit leaves it to GITROAST_DB in the EnvironmentFile, and the daemon writes no local file.
   */
  db: string | undefined;
  /** Arguments to pass to `gitroast daemon` (already validated). */
  args: readonly string[];
  /** The grace period in seconds; TimeoutStopSec is set above it. */
  graceSeconds: number;
  /** The user to run as. Default the current user. */
  user?: string;
  /** The config file, if one is used. */
  configFile?: string;
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(arg) ? arg : `"${arg.replace(/(["\\$`])/g, '\\$1').replace(/%/g, '%%')}"`;
}

/**
 * Render a systemd unit for `gitroast daemon`: Restart=always (so --memory-limit and
 * --max-time recycle the process), KillSignal=SIGTERM with TimeoutStopSec above the grace
 * period (so running jobs can finish), and a sandbox that only lets it write the database
 * folder. Secrets belong in an EnvironmentFile, not in the unit.
 */
export function renderSystemdUnit(o: UnitOptions): string {
  const dbDir = o.db === undefined ? undefined : o.db.replace(/\/[^/]*$/, '') || '/';
  const exec = [o.node, o.bin, ...(o.db === undefined ? [] : ['--db', o.db]), 'daemon', ...(o.configFile ? ['--config', o.configFile] : []), ...o.args].map(quote).join(' ');
  return `[Unit]
Description=gitroast daemon (GitHub profile reviews on a ${o.db === undefined ? 'PostgreSQL' : 'SQLite'} job queue)
Documentation=https://github.com/gitroast/gitroast#self-host-on-one-vps
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
${o.user ? `User=${o.user}\n` : ''}ExecStart=${exec}
# Secrets (GITHUB_TOKEN, OPENAI_API_KEY, GITROAST_HTTP_TOKEN${o.db === undefined ? ', and GITROAST_DB=postgres://…: the URL may hold a password' : ''}) go in this file, mode 0600.
EnvironmentFile=${o.db === undefined ? '' : '-'}/etc/gitroast/env
Environment=NODE_ENV=production
Restart=always
RestartSec=2
# Exit 2 (bad flags or config) and 3 (database unusable: corrupt, not gitroast's, newer
# schema, disk full) need a person: restarting every 2 s would only loop.
RestartPreventExitStatus=2 3
KillSignal=SIGTERM
KillMode=mixed
# Above the ${o.graceSeconds} s grace period, so running jobs can finish before SIGKILL.
TimeoutStopSec=${Math.ceil(o.graceSeconds) + 15}
NoNewPrivileges=true
PrivateTmp=true
ProtectSystem=strict
ProtectHome=read-only
${dbDir === undefined ? '' : `ReadWritePaths=${quote(dbDir)}\n`}UMask=0077

[Install]
WantedBy=multi-user.target
`;
}
