import { ValidationError } from './errors.js';
import type { JobSpec } from './types.js';

/** Largest payload accepted, as UTF-8 JSON. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

const QUEUE_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

/** Throw a ValidationError naming `name` unless it is a valid queue name. */
export function assertQueueName(name: unknown): void {
  if (typeof name !== 'string' || !QUEUE_NAME.test(name)) {
    throw new ValidationError(`invalid queue name ${JSON.stringify(name)}: use 1-32 of a-z, 0-9, '-' and '_', starting with a letter or digit`);
  }
}

/** Throw a ValidationError naming `name` unless it is a valid job name. */
export function assertJobName(name: unknown): void {
  if (typeof name !== 'string' || !JOB_NAME.test(name)) {
    throw new ValidationError(`invalid job name ${JSON.stringify(name)}: use 1-100 of letters, digits, '.', '_', ':' and '-', starting with a letter or digit`);
  }
}

function assertInt(what: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ValidationError(`invalid ${what} ${JSON.stringify(v)}: expected a whole number from ${min} to ${max}`);
  }
}

/** The columns of one job, validated and serialised, ready for the insert statement. */
export interface JobRow {
  queue: string;
  name: string;
  payload: string;
  priority: number;
  maxAttempts: number;
  backoff: string | null;
  timeoutMs: number | null;
  retryUntil: number | null;
  /** Milliseconds after enqueue for retry_until, when retryUntil is not set. */
  retryForMs: number | null;
  delayMs: number;
  uniqueKey: string | null;
  tags: string | null;
}

/** Validate `spec` and serialise it to columns; throws a ValidationError naming the bad value. */
export function toJobRow(spec: JobSpec): JobRow {
  if (spec === null || typeof spec !== 'object') throw new ValidationError(`invalid job ${JSON.stringify(spec)}: expected an object with a name`);
  assertJobName(spec.name);
  const queue = spec.queue ?? 'default';
  assertQueueName(queue);
  let payload: string | undefined;
  try {
    payload = JSON.stringify(spec.payload === undefined ? {} : spec.payload);
  } catch (err) {
    throw new ValidationError(`invalid payload for ${spec.name}: not serialisable as JSON (${(err as Error).message})`);
  }
  if (payload === undefined) throw new ValidationError(`invalid payload for ${spec.name}: not serialisable as JSON`);
  // Every UTF-16 unit is at most 3 UTF-8 bytes: count bytes only when it could matter.
  if (payload.length * 3 > MAX_PAYLOAD_BYTES && Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
    throw new ValidationError(`payload of ${spec.name} is ${Buffer.byteLength(payload)} bytes as JSON; at most ${MAX_PAYLOAD_BYTES} are allowed`);
  }
  const priority = spec.priority ?? 0;
  if (priority !== 0) assertInt('priority', priority, -1_000_000, 1_000_000);
  const maxAttempts = spec.tries ?? 3;
  if (maxAttempts !== 3) assertInt('tries', maxAttempts, 1, 1000);
  let backoff: string | null = null;
  if (spec.backoff !== undefined) {
    if (!Array.isArray(spec.backoff) || spec.backoff.length > 100 || !spec.backoff.every((s) => typeof s === 'number' && Number.isFinite(s) && s >= 0 && s <= 31_536_000)) {
      throw new ValidationError(`invalid backoff ${JSON.stringify(spec.backoff)}: expected up to 100 numbers of seconds from 0 to 31536000`);
    }
    if (spec.backoff.length > 0) backoff = JSON.stringify(spec.backoff);
  }
  const timeoutMs = spec.timeoutMs ?? null;
  if (timeoutMs !== null) assertInt('timeout (ms)', timeoutMs, 1, 86_400_000);
  const retryUntil = spec.retryUntil ?? null;
  if (retryUntil !== null) assertInt('retry-until (ms epoch)', retryUntil, 0, 8.64e15);
  const retryForMs = spec.retryForMs ?? null;
  if (retryForMs !== null) assertInt('retry-for (ms)', retryForMs, 1, 31_536_000_000);
  const delayMs = spec.delayMs ?? 0;
  if (delayMs !== 0) assertInt('delay (ms)', delayMs, 0, 31_536_000_000);
  let uniqueKey: string | null = null;
  if (spec.uniqueKey !== undefined) {
    if (typeof spec.uniqueKey !== 'string' || spec.uniqueKey.length === 0 || spec.uniqueKey.length > 200) {
      throw new ValidationError(`invalid unique key ${JSON.stringify(spec.uniqueKey)}: expected 1-200 characters`);
    }
    uniqueKey = spec.uniqueKey;
  }
  let tags: string | null = null;
  if (spec.tags !== undefined) {
    if (!Array.isArray(spec.tags) || spec.tags.length > 20 || !spec.tags.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 200)) {
      throw new ValidationError(`invalid tags ${JSON.stringify(spec.tags)}: expected up to 20 strings of 1-200 characters`);
    }
    if (spec.tags.length > 0) tags = JSON.stringify(spec.tags);
  }
  return { queue, name: spec.name, payload, priority, maxAttempts, backoff, timeoutMs, retryUntil, retryForMs, delayMs, uniqueKey, tags };
}

/** Validate every link of a chain and its catch job (so a bad link fails at enqueue, not later). */
export function assertChain(spec: JobSpec): void {
  if (spec.chain !== undefined) {
    if (!Array.isArray(spec.chain)) throw new ValidationError(`invalid chain of ${spec.name}: expected an array of jobs`);
    for (const link of spec.chain) {
      toJobRow(link);
      if (link.chain || link.catch) throw new ValidationError(`invalid chain link ${link.name}: links cannot carry chains of their own`);
    }
  }
  if (spec.catch !== undefined) toJobRow(spec.catch);
}

/** Seconds to wait before retry number `attempt` (1-based): the last value repeats. */
export function backoffSeconds(backoff: readonly number[], attempt: number): number {
  if (backoff.length === 0) return 0;
  return backoff[Math.min(attempt, backoff.length) - 1] ?? 0;
}
