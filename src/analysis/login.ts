import { quoteUntrusted } from '../util/terminal.js';

/** What GitHub accepts for a look-up (old logins may break the sign-up hyphen rule). */
const LOGIN_PATTERN = /^[A-Za-z0-9-]{1,39}$/;

/**
 * Check a login before anything is fetched or queued: GitHub's sign-up rule is 1–39
 * letters, digits and single inner hyphens, but old accounts may break the hyphen part,
 * so anything matching ^[A-Za-z0-9-]{1,39}$ is looked up and GitHub's 404 decides.
 * Return an error message, or undefined when the login may be looked up. A light module:
 * enqueueing never loads the GitHub client.
 */
export function validateLogin(value: string): string | undefined {
  if (LOGIN_PATTERN.test(value)) return undefined;
  return `invalid GitHub username ${quoteUntrusted(value)}: use 1–39 letters, digits or hyphens`;
}
