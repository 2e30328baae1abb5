/** Databases and workers a test opens, closed and stopped after it (never left running). */
import { afterEach } from 'vitest';
import { openAppDb } from '../../src/cli/db.js';
import type { WorkerHandle } from '../../src/daemon/index.js';
import { openDatabase, type Db } from '../../src/queue/index.js';
import { tempDbPath } from './tmp.js';

const opened: Db[] = [];
const workers: WorkerHandle[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop({ graceMs: 0 });
  for (const db of opened.splice(0)) db.close();
});

/** Open a fresh database in a temp dir: the application's (default) or the queue's alone. Closed after the test. */
export function openTestDb(kind: 'app' | 'queue' = 'app'): Db {
  const db = kind === 'app' ? openAppDb(tempDbPath()) : openDatabase(tempDbPath());
  opened.push(db);
  return db;
}

/** Stop `worker` (no grace) after the test, before its database closes; returns it. */
export function stopAfterTest<W extends WorkerHandle>(worker: W): W {
  workers.push(worker);
  return worker;
}
