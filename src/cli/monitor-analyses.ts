/** The monitor's analyses view (loaded when the monitor starts, not by `gitroast --help`). */
import { listAnalysisHeads } from '../analysis/store.js';
import type { Db } from '../queue/index.js';
import type { AnalysisRow } from '../tui/types.js';

/** Read the monitor's analyses view: the newest `limit` analyses (none before the analyses table exists). */
export function readAnalyses(db: Db, limit: number): AnalysisRow[] {
  return listAnalysisHeads(db, limit);
}
