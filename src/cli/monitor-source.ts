/**
 * What `gitroast monitor` draws from, on either engine (loaded when the monitor starts, not
 * by `gitroast --help`): the queue's read model plus the analysis room's list (its
 * AnalysisViews) and GitHub's budget under the daemons. On SQLite the screens read it
 * directly; on PostgreSQL it is asynchronous and the screens run by replay
 * (src/queue/store-model.ts), on the database's clock.
 */
import { budgetsFrom, describeBudget, listBudgets } from '../analysis/budget.js';
import { analysisStoreViews, analysisViews, type AnalysisStore } from '../analysis/store.js';
import { createStoreReadModel, replayModel } from '../queue/store-model.js';
import { createDbSource } from '../tui/source.js';
import type { Clock, DataSource } from '../tui/types.js';
import type { CliStore } from './context.js';
import { openAppDb } from './db.js';

/** Options of the monitor's source: those of the read model. */
export interface MonitorSourceOptions {
  configured: readonly string[];
  aliveMs: number;
  readonly: boolean;
  silenced: readonly string[];
}

/** The monitor's DataSource, how a screen runs over it (by replay on PostgreSQL; directly when absent), and its clock. */
export interface MonitorSource {
  source: DataSource & { close?: () => void };
  run?: <T>(fn: (s: DataSource) => T) => Promise<T>;
  clock: Clock;
}

/** The monitor's source over the SQLite file `file`; a missing or unmigrated file fails at once (a DatabaseError, exit 3). */
export function sqliteMonitorSource(file: string, options: MonitorSourceOptions): MonitorSource {
  // Fail early with one line (exit 3) when there is no usable database yet.
  openAppDb(file, { readonly: true }).close();
  const db = createDbSource({
    open: ({ readonly }) => openAppDb(file, { readonly }), ...options,
    // GitHub's budget per token fingerprint, under the daemons.
    notes: (d, now) => listBudgets(d, now).map((b) => `GitHub ${describeBudget(b, now)}`),
  });
  db.analyses = analysisViews((fn) => db.read(fn)).analyses;
  return { source: db, clock: { now: () => Date.now() } };
}

/** The monitor's source over a PostgreSQL database's queue store and analysis store, on the store's clock. */
export function pgMonitorSource(store: CliStore, analyses: AnalysisStore, options: MonitorSourceOptions): MonitorSource {
  const views = createStoreReadModel(store, {
    ...options,
    // GitHub's budget per token fingerprint, under the daemons.
    notes: async () => {
      const now = store.now();
      return budgetsFrom(await analyses.budgetRows(), now).map((b) => `GitHub ${describeBudget(b, now)}`);
    },
  });
  const { model, run } = replayModel<DataSource>({ ...views, analyses: analysisStoreViews(analyses).analyses });
  return { source: model, run, clock: { now: () => store.now() } };
}
