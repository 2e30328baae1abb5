import { maskUrl } from '../util/format.js';
import { withNetworkRetries } from '../util/retry.js';
import type { Logger } from './types.js';

/**
 * POST `body` as JSON to `url` (5 s timeout per try; a network error is tried again twice,
 * src/util/retry.ts). Never throws: a failure is logged (with the URL masked) and reported
 * as false.
 */
export async function postWebhook(url: string, body: unknown, logger: Logger, timeoutMs = 5000): Promise<boolean> {
  try {
    const res = await withNetworkRetries(() => fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'gitroast' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    }));
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) {
      logger.log('warn', 'webhook.failed', { url: maskUrl(url), status: res.status });
      return false;
    }
    return true;
  } catch (err) {
    logger.log('warn', 'webhook.failed', { url: maskUrl(url), error: (err as Error).message });
    return false;
  }
}
