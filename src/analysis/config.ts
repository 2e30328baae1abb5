/**
 * The two settings the analysis room reads from the configuration: the deny list and the
 * webhook. The CLI and the daemon hand them over from src/cli/config.ts (the zod-validated
 * config file, environment and flags); this room never reads the config itself.
 */

/** What the analysis room needs from the configuration. */
export interface AnalysisConfig {
  /** GitHub logins never analysed (compared case-insensitively). Default []. */
  denyList: string[];
  /** Slack/Discord-compatible incoming webhook told about finished analyses. Default none. */
  webhookUrl?: string;
  /** Analyses older than this many days are pruned unless kept (config analysis.pruneDays). Default 90. */
  pruneDays?: number;
}

/** Tell whether `login` is on the deny list (case-insensitive, as GitHub logins are). */
export function isDenied(login: string, denyList: readonly string[]): boolean {
  const l = login.toLowerCase();
  return denyList.some((d) => d.toLowerCase() === l);
}
