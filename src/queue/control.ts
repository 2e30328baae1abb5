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
}

const PAUSED = 'daemons.paused';
const STOP = 'daemons.stop_requested_at';

/** Read the control flags. */
export function daemonControl(db: Db): DaemonControl {
  const rows = stmt(db, `SELECT key, value FROM settings WHERE key IN ('${PAUSED}', '${STOP}')`).all() as { key: string; value: string }[];
  const get = (k: string) => rows.find((r) => r.key === k)?.value;
  const stop = get(STOP);
  return { paused: get(PAUSED) === '1', stopRequestedAt: stop === undefined ? null : Number(stop) };
}

/** Pause (true) or continue (false) every daemon on this database. */
export function setDaemonsPaused(db: Db, paused: boolean): void {
  immediate(db, () => stmt(db, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(PAUSED, paused ? '1' : '0'));
}

/** Ask every daemon running now to shut down gracefully (daemons started later are not affected). */
export function requestDaemonStop(db: Db, now = Date.now()): void {
  immediate(db, () => stmt(db, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(STOP, String(now)));
}
