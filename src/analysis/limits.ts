/**
 * Size limits on what gitroast takes from GitHub, in one place. GitHub answers are
 * untrusted: a field can be megabytes long. Free-text fields are cut to these lengths
 * (in characters, the last one an ellipsis) when an answer is read, before anything is
 * cached, stored or scored; the sizes the scorer needs (a README's real byte length)
 * are kept as numbers. README.md ("Untrusted sizes") states the same figures.
 */
export const LIMITS = {
  /** Most bytes read from one GitHub answer; a larger answer is a retryable error. */
  answerBytes: 32 * 1024 * 1024,
  /** Most bytes of one cached answer (the ETag cache); a larger one is not cached. */
  cachedAnswerBytes: 256 * 1024,
  /** Most bytes of README text kept from a README answer (its real size is kept apart). */
  readmeBytes: 128 * 1024,
  /** Longest name, bio, company, location, email, blog or social handle of a user. */
  userText: 1000,
  /** Longest repository description. */
  description: 500,
  /** Longest URL (a profile URL, a repository homepage). */
  url: 1000,
  /** Longest language name or license id. */
  label: 100,
  /** Most topics kept per repository, and the longest topic (GitHub's own: 20 and 50). */
  topics: 20,
  topic: 50,
  /** Most root-folder names kept per repository, and the longest name. */
  rootFiles: 1000,
  fileName: 255,
  /** Longest profile README text kept on a snapshot. */
  profileReadme: 4000,
  /** Longest project README excerpt kept on a snapshot. */
  projectReadme: 3000,
} as const;

/**
 * Cut `text` to at most `limit` characters, the last one an ellipsis when something was
 * cut; never splits a surrogate pair. Applying it twice changes nothing more.
 */
export function truncateText(text: string, limit: number): string {
  if (text.length <= limit) return text;
  let cut = Math.max(0, limit - 1);
  const last = text.charCodeAt(cut - 1);
  if (cut > 0 && last >= 0xd800 && last <= 0xdbff) cut--;
  return `${text.slice(0, cut)}…`;
}
