/**
 * Batches of any size (`gitroast batch`). The logins are staged on disk as they are read,
 * in a private temporary SQLite database (SQLite deletes its file when the connection
 * closes, and at once on a kill: the file is unlinked as soon as it is created), with
 * duplicates (any case) dropped there. Only when every line has been checked is the
 * application database touched: one transaction creates the analyses, their jobs and
 * the queue batch, reading the staged logins in chunks. Memory stays bounded by a chunk,
 * whatever the size of the input; a kill at any point leaves nothing behind.
 */
import { assertQueueName, createBatchInTx, immediate, notifyEnqueued, Staging, type Db, type JobSpec } from '../queue/index.js';
import { analysisChain, checkLogin, existingFor, type EnqueueAnalysisOptions } from './jobs.js';
import { createBatchAnalysisInTx } from './store.js';

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
export function enqueueStagedBatch(db: Db, staging: Staging, opts: EnqueueBatchOptions): { batchId: string; created: number; existing: number } {
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
          const item = existingFor(db, s.value, force, now);
          if (item) {
            existing++;
            staging.record(s.seq, item.analysis.id, false, item.reason ?? null);
            continue;
          }
          const analysisId = createBatchAnalysisInTx(db, s.value, id, now);
          specs.push(analysisChain(analysisId, s.value, queue, opts.jobOptions));
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
  const staging = new Staging();
  try {
    for (const login of logins) staging.add(login);
    return enqueueStagedBatch(db, staging, opts);
  } finally {
    staging.close();
  }
}
