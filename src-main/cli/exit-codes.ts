import type { ErrorCode } from '../../src-shared/errors.js';

/** Exit codes of the CLI: 2 for what the user can fix in the command (usage, query, registry), 1 for the rest. */
export const exitCodes = { ok: 0, error: 1, usage: 2 } as const;

/**
 * Error codes that mean the command's input was wrong (exit 2), as opposed to a failure while running (exit 1): a
 * `corrupt` file is the file the command was given, and an `untrusted-origin` is a server the spec names that the
 * user has not trusted (`clemplay trust ORIGIN` fixes it).
 */
const inputErrorCodes = new Set<ErrorCode>([
  'no-match',
  'invalid-spec',
  'invalid-input',
  'not-found',
  'corrupt',
  'untrusted-origin',
]);

/** The exit code for an error of this code. */
export function exitCodeFor(code: ErrorCode): number {
  return inputErrorCodes.has(code) ? exitCodes.usage : exitCodes.error;
}
