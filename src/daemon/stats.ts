/** Counters of one (queue, job name) pair in this process. */
export interface JobCounters {
  queue: string;
  name: string;
  processed: number;
  failed: number;
  released: number;
  delayed: number;
  timedOut: number;
  /** Runtimes in ms of the last RESERVOIR attempts that ended (ring buffer). */
  runtimes: Float64Array;
  runtimeCount: number;
  runtimeSum: number;
}

const RESERVOIR = 1024;

/**
 * In-process job counters for /metrics and auto balancing. Counting costs two map lookups
 * per job; per-queue average runtimes come from the same numbers.
 */
export class WorkerStats {
  private readonly byQueue = new Map<string, Map<string, JobCounters>>();
  readonly startedAt = Date.now();

  counters(queue: string, name: string): JobCounters {
    let names = this.byQueue.get(queue);
    if (!names) this.byQueue.set(queue, (names = new Map()));
    let c = names.get(name);
    if (!c) {
      c = { queue, name, processed: 0, failed: 0, released: 0, delayed: 0, timedOut: 0, runtimes: new Float64Array(RESERVOIR), runtimeCount: 0, runtimeSum: 0 };
      names.set(name, c);
    }
    return c;
  }

  /** Record the runtime of an attempt that ended. */
  runtime(c: JobCounters, ms: number): void {
    c.runtimes[c.runtimeCount % RESERVOIR] = ms;
    c.runtimeCount++;
    c.runtimeSum += ms;
  }

  all(): JobCounters[] {
    const out: JobCounters[] = [];
    for (const names of this.byQueue.values()) for (const c of names.values()) out.push(c);
    return out;
  }

  /** Average runtime (ms) of the recent attempts of a queue, or undefined when none ran. */
  avgRuntime(queue: string): number | undefined {
    const names = this.byQueue.get(queue);
    if (!names) return undefined;
    let sum = 0;
    let n = 0;
    for (const c of names.values()) {
      const k = Math.min(c.runtimeCount, RESERVOIR);
      for (let i = 0; i < k; i++) sum += c.runtimes[i]!;
      n += k;
    }
    return n === 0 ? undefined : sum / n;
  }

  /** Totals over everything. */
  totals(): { processed: number; failed: number } {
    let processed = 0;
    let failed = 0;
    for (const c of this.all()) {
      processed += c.processed;
      failed += c.failed;
    }
    return { processed, failed };
  }
}

/** The q-quantile of the recent runtimes of one counter (ms), or NaN when none. */
export function quantile(c: JobCounters, q: number): number {
  const k = Math.min(c.runtimeCount, RESERVOIR);
  if (k === 0) return NaN;
  const sorted = Array.from(c.runtimes.subarray(0, k)).sort((a, b) => a - b);
  return sorted[Math.min(k - 1, Math.max(0, Math.ceil(q * k) - 1))]!;
}
