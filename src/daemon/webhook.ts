import type { Logger } from './types.js';

/** Show a webhook URL without its secrets: the origin, and `/…` when it has a path or query. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    const rest = u.pathname !== '/' || u.search !== '' ? '/…' : '';
    return `${u.protocol}//${u.host}${rest}`;
  } catch {
    return '(invalid url)';
  }
}

/**
 * POST `body` as JSON to `url` (5 s timeout). Never throws: a failure is logged (with the
 * URL masked) and reported as false.
 */
export async function postWebhook(url: string, body: unknown, logger: Logger, timeoutMs = 5000): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'gitroast' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
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
