/**
 * A retry inside one call, for a transient network error on a single HTTP request
 * (connection refused or reset, a DNS hiccup): tried again at once-ish, 250 ms then 500 ms
 * later, before the error goes back to the caller (for a job, the queue's own backoff,
 * which waits seconds to minutes and spends an attempt). HTTP answers are never retried
 * here: a 5xx or a 429 is the caller's to judge. Nor are timeouts: the caller's time
 * budget already ran out.
 */
import pRetry from 'p-retry';

/** Network errors are retried this many times within one call. */
const NETWORK_RETRIES = 2;

/** Run `call`, retrying it on a network error (fetch's TypeError) NETWORK_RETRIES times, unless `signal` aborts. */
export function withNetworkRetries<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  return pRetry(call, {
    retries: NETWORK_RETRIES, minTimeout: 250, factor: 2, randomize: false, signal,
    // p-retry hands only network TypeErrors to shouldRetry (a programming TypeError fails at once).
    shouldRetry: ({ error }) => error instanceof TypeError && !signal?.aborted,
  });
}
