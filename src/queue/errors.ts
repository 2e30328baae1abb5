/**
 * Named errors. Handlers throw these to tell the queue what to do with a job; the queue
 * throws the others. Every class sets `name` and a stable `code`.
 */

/** Base of every gitroast error. */
export class GitroastError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad input from a caller (a queue name, a job name, a payload): exit code 2 at the CLI. */
export class ValidationError extends GitroastError {
  constructor(message: string) {
    super('E_VALIDATION', message);
  }
}

/** The database cannot be used (unreadable, not SQLite, newer schema): exit code 3. */
export class DatabaseError extends GitroastError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_DATABASE', message, options);
  }
}

/** A handler error that must not be retried (GitHub 404, invalid payload): fail the job now. */
export class PermanentError extends GitroastError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_PERMANENT', message, options);
  }
}

/**
 * "Come back at T": put the job back until `until` (ms epoch) without spending an attempt
 * (rate limits). Not a failure: the retry-until deadline moves back by the wait; bounded by
 * the rate-limit wait bound (maxRateLimitWaitHours) instead.
 */
export class DelayError extends GitroastError {
  readonly until: number;
  constructor(until: number, message: string, options?: { cause?: unknown }) {
    super('E_DELAY', message, options);
    this.until = until;
  }
}

/** The job ran past its timeout. Retryable like any other failure. */
export class TimeoutError extends GitroastError {
  constructor(message: string) {
    super('E_TIMEOUT', message);
  }
}

/** Turn anything thrown into an Error. */
export function coerceError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (typeof err === 'string') return new Error(err);
  try {
    return new Error(JSON.stringify(err));
  } catch {
    return new Error(String(err));
  }
}
