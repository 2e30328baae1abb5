/**
 * The monitor's DataSource over a gitroast database: a thin adapter over src/queue's read
 * model, which the web dashboard reads through too (one query per view, in one place).
 */
import { createReadModel, type Db, type ReadModelOptions } from '../queue/index.js';
import type { DataSource } from './types.js';

export { overviewData, overviewQueues } from '../queue/index.js';

export type DbSourceOptions = ReadModelOptions;

/** A DataSource over a database, plus `read` for callers that add their own views. */
export interface DbSource extends DataSource {
  /** Run `fn` on the read-only connection inside one short read transaction. */
  read<T>(fn: (db: Db) => T): T;
  close(): void;
}

/** Create the DataSource over a database. The read-only connection opens on the first read. */
export function createDbSource(options: DbSourceOptions): DbSource {
  return { ...createReadModel(options) };
}
