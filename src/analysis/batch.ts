/**
 * Batches of any size (`gitroast batch`). The logins are staged on disk as they are read,
 * in a private temporary SQLite database (SQLite deletes its file when the connection
 * closes, and at once on a kill: the file is unlinked as soon as it is created), with
 * duplicates (any case) dropped there. Only when every line has been checked is the
 * application database touched: one transaction creates the analyses, their jobs and
 * the queue batch, reading the staged logins in chunks. Memory stays bounded by a chunk,
 * whatever the size of the input; a kill at any point leaves nothing behind.
 */
import Database from 'better-sqlite3';
import { assertQueueName, createBatchInTx, immediate, notifyEnqueued, type Db, type JobSpec } from '../queue/index.js';
import { analysisChain, checkLogin, existingFor, type EnqueueAnalysisOptions, type EnqueuedAnalysis } from './jobs.js';
import { createBatchAnalysisInTx } from './store.js';

/** Logins read from the staging table at a time. */
const CHUNK = 1000;
/** Staged rows written per staging transaction. */
const STAGE_COMMIT_EVERY = 10_000;
/** Page cache of the staging database, KiB; beyond it SQLite spills to its temporary file. */
const STAGE_CACHE_KIB = 4096;

/** One staged login and, once enqueued, what became of it. */
export interface StagedLogin {
  seq: number;
  login: string;
  analysisId: string | null;
  /** True when a new analysis was created; false when an existing one was handed back. */
  created: boolean;
  reason: EnqueuedAnalysis['reason'] | null;
}

/** Logins staged on disk, unique by lower case, in the order first seen. */
export class LoginStaging {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly update: Database.Statement;
  private pending = 0;
  /** Logins offered (duplicates included) and logins kept. */
  offered = 0;
  kept = 0;

  constructor() {
    // An empty file name: a private database on disk, deleted when closed.
    this.db = new Database('');
    this.db.pragma('temp_store = FILE');
    this.db.pragma(`cache_size = -${STAGE_CACHE_KIB}`);
    this.db.pragma('journal_mode = OFF');
    this.db.pragma('synchronous = OFF');
    this.db.exec(`CREATE TABLE staged (
      seq INTEGER PRIMARY KEY,
      key TEXT NOT NULL UNIQUE,
      login TEXT NOT NULL,
      analysis_id TEXT,
      created INTEGER NOT NULL DEFAULT 0,
      reason TEXT
    )`);
    this.insert = this.db.prepare('INSERT INTO staged (key, login) VALUES (?, ?) ON CONFLICT (key) DO NOTHING');
    this.update = this.db.prepare('UPDATE staged SET analysis_id = ?, created = ?, reason = ? WHERE seq = ?');
  }

  /** Stage a (checked) login; false when the same login (any case) is already staged. */
  add(login: string): boolean {
    if (this.pending === 0) this.db.exec('BEGIN');
    const added = this.insert.run(login.toLowerCase(), login).changes > 0;
    this.offered++;
    if (added) this.kept++;
    if (++this.pending >= STAGE_COMMIT_EVERY) this.flush();
    return added;
  }

  /** Commit what is staged so far. */
  flush(): void {
    if (this.pending === 0) return;
    this.db.exec('COMMIT');
    this.pending = 0;
  }

  /** Yield the staged logins in order, `size` at a time (no cursor stays open between chunks). */
  *chunks(size = CHUNK): Generator<StagedLogin[]> {
    this.flush();
    const page = this.db.prepare('SELECT seq, login, analysis_id, created, reason FROM staged WHERE seq > ? ORDER BY seq LIMIT ?');
    let after = 0;
    for (;;) {
      const rows = page.all(after, size) as { seq: number; login: string; analysis_id: string | null; created: number; reason: string | null }[];
      if (rows.length === 0) return;
      after = rows[rows.length - 1]!.seq;
      yield rows.map((r) => ({ seq: r.seq, login: r.login, analysisId: r.analysis_id, created: r.created === 1, reason: r.reason as StagedLogin['reason'] }));
    }
  }

  /** Note what enqueueing did with a staged login. */
  record(seq: number, analysisId: string, created: boolean, reason: StagedLogin['reason']): void {
    this.update.run(analysisId, created ? 1 : 0, reason, seq);
  }

  /** Close and delete the staging database. */
  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Options of enqueueStagedBatch. */
export interface EnqueueBatchOptions extends EnqueueAnalysisOptions {
  /** The batch's name. */
  name?: string;
}

/**
 * Start analyses of the staged logins (checked already) as one queue batch, all or
 * nothing: one transaction creates the analyses, their jobs and the batch. Logins with a
 * running (or fresh, unless `force`) analysis get that one back (recorded on the staging
 * row) and are not part of the batch. The batch allows failures: one unknown user does
 * not cancel the others. Returns the batch id and how many analyses were created.
 */
export function enqueueStagedBatch(db: Db, staging: LoginStaging, opts: EnqueueBatchOptions): { batchId: string; created: number; existing: number } {
  const queue = opts.queue ?? 'default';
  assertQueueName(queue);
  const now = opts.now ?? Date.now();
  const force = opts.force ?? false;
  let created = 0;
  let existing = 0;
  const batchId = immediate(db, () =>
    createBatchInTx(db, { name: opts.name, allowFailures: true }, now, (add, id) => {
      for (const chunk of staging.chunks()) {
        // One chunk's chains at a time, in multi-row INSERTs: memory bounded by a chunk.
        const specs: JobSpec[] = [];
        for (const s of chunk) {
          const item = existingFor(db, s.login, force, now);
          if (item) {
            existing++;
            staging.record(s.seq, item.analysis.id, false, item.reason ?? null);
            continue;
          }
          const analysisId = createBatchAnalysisInTx(db, s.login, id, now);
          specs.push(analysisChain(analysisId, s.login, queue, opts.jobOptions));
          staging.record(s.seq, analysisId, true, null);
          created++;
        }
        if (specs.length > 0) add(specs);
      }
    }),
  );
  notifyEnqueued(db);
  return { batchId, created, existing };
}

/**
 * Start analyses of a list of logins already in hand as one batch: each is checked (GitHub's
 * rules, the deny list) before anything is written, then staged and enqueued as
 * enqueueStagedBatch does. For callers with a short list; `gitroast batch` stages as it reads.
 */
export function enqueueBatch(db: Db, logins: readonly string[], opts: EnqueueBatchOptions): { batchId: string; created: number; existing: number } {
  for (const login of logins) checkLogin(login, opts.denyList);
  const staging = new LoginStaging();
  try {
    for (const login of logins) staging.add(login);
    return enqueueStagedBatch(db, staging, opts);
  } finally {
    staging.close();
  }
}
