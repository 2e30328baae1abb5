import type { Db } from './db.js';

type Listener = () => void;

const listeners = new WeakMap<Db, Set<Listener>>();

/**
 * Call `listener` (once, on a later tick) after jobs were enqueued or became ready through
 * this connection, so a daemon in the same process starts them at once. Returns an
 * unsubscribe function. Other processes are noticed by watching the WAL (src/daemon).
 */
export function onEnqueued(db: Db, listener: Listener): () => void {
  let set = listeners.get(db);
  if (!set) {
    set = new Set();
    listeners.set(db, set);
  }
  set.add(listener);
  return () => set.delete(listener);
}

/** Tell this connection's listeners that jobs may be ready. Runs them after the current tick. */
export function notifyEnqueued(db: Db): void {
  const set = listeners.get(db);
  if (!set || set.size === 0) return;
  queueMicrotask(() => {
    for (const l of set) l();
  });
}
