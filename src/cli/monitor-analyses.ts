/** The monitor's analyses view (loaded when the monitor starts, not by `gitroast --help`). */
import { stmt, type Db } from '../queue/index.js';
import type { AnalysisRow } from '../tui/types.js';

/** Whether the analyses table exists yet (another room adds it by migration). */
const HAS_ANALYSES = `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'analyses'`;
/** The newest analyses; bounded, read backwards on analyses_created. */
const LIST_ANALYSES = `
  SELECT id, username, status, stage, overall, created_at, updated_at, error
    FROM analyses ORDER BY created_at DESC LIMIT ?`;

/** Read the monitor's analyses view: the newest `limit` analyses (none before the analyses table exists). */
export function readAnalyses(db: Db, limit: number): AnalysisRow[] {
  if (!stmt(db, HAS_ANALYSES).get()) return [];
  return (stmt(db, LIST_ANALYSES).all(limit) as {
    id: string; username: string; status: string; stage: string; overall: number | null; created_at: number; updated_at: number; error: string | null;
  }[]).map((r) => ({
    id: String(r.id), username: r.username, status: r.status, stage: r.stage, overall: r.overall, createdAt: r.created_at, updatedAt: r.updated_at, error: r.error,
  }));
}
