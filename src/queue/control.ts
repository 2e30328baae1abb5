import { immediate, stmt, type Db } from './db.js';

/**
 * Daemon control through the database, so `gitroast daemon pause|continue|stop` works the
 * same under systemd and by hand, for every daemon on this database. Daemons read
 * `daemonControl` on each heartbeat tick (about once a second).
 */
export interface DaemonControl {
  /** Daemons stop claiming while true (running jobs finish). */
  paused: boolean;
  /** Daemons started before this time (ms epoch) shut down gracefully. */
  stopRequestedAt: number | null;
  /** Supervisors paused by name (`daemon pause --supervisor NAME`), in every daemon running one of that name. */
  pausedSupervisors: string[];
}

const PAUSED = 'daemons.paused';
const STOP = 'daemons.stop_requested_at';

/** A paused supervisor's settings key: this prefix and its name. */
const SUPERVISOR_PAUSED = 'supervisors.paused.';

/** Read the control flags. */
export function daemonControl(db: Db): DaemonControl {
  const rows = stmt(db, `SELECT key, value FROM settings WHERE key IN ('${PAUSED}', '${STOP}') OR (key >= '${SUPERVISOR_PAUSED}' AND key < '${SUPERVISOR_PAUSED.slice(0, -1)}/')`).all() as { key: string; value: string }[];
  return controlFrom(rows);
}

/** The settings keys the control flags live under: the two flags, and the paused supervisors' prefix. */
export const CONTROL_KEYS = { paused: PAUSED, stop: STOP, supervisorPrefix: SUPERVISOR_PAUSED } as const;

/** Read the control flags from their settings rows (both engines). */
export function controlFrom(rows: readonly { key: string; value: string }[]): DaemonControl {
  const get = (k: string) => rows.find((r) => r.key === k)?.value;
  const stop = get(STOP);
  const pausedSupervisors = rows.filter((r) => r.key.startsWith(SUPERVISOR_PAUSED) && r.value === '1').map((r) => r.key.slice(SUPERVISOR_PAUSED.length));
  return { paused: get(PAUSED) === '1', stopRequestedAt: stop === undefined ? null : Number(stop), pausedSupervisors };
}

/** Pause (true) or continue (false) the supervisors named `name` in every daemon on this database. */
export function setSupervisorPaused(db: Db, name: string, paused: boolean): void {
  immediate(db, () => {
    if (paused) stmt(db, `INSERT INTO settings (key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(SUPERVISOR_PAUSED + name);
    else stmt(db, `DELETE FROM settings WHERE key = ?`).run(SUPERVISOR_PAUSED + name);
  });
}

/** Pause (true) or continue (false) every daemon on this database. */
export function setDaemonsPaused(db: Db, paused: boolean): void {
  immediate(db, () => stmt(db, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(PAUSED, paused ? '1' : '0'));
}

/** Ask every daemon running now to shut down gracefully (daemons started later are not affected). */
export function requestDaemonStop(db: Db, now = Date.now()): void {
  immediate(db, () => stmt(db, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(STOP, String(now)));
}
