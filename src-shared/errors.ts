import { stripUrlCredentials } from './secrets.js';

/**
 * The closed set of error codes that cross the API (DESIGN.md, "Backends"), plus `conflict` for refused
 * registry writes, `not-found` for lookups of things that do not exist, `context-overflow` for a conversation longer
 * than the model's context, `corrupt` for files whose structure is broken (a GGUF header that lies about its sizes)
 * and `untrusted-origin` for a key withheld from a server the user has not trusted.
 */
export const errorCodes = [
  'no-match',
  'invalid-spec',
  'invalid-input',
  'not-found',
  'conflict',
  'corrupt',
  'untrusted-origin',
  'auth',
  'rate-limit',
  'network',
  'timeout',
  'model-load',
  'out-of-memory',
  'context-overflow',
  'aborted',
  'internal',
] as const;

/** One of {@link errorCodes}. */
export type ErrorCode = (typeof errorCodes)[number];

/** The shape of every error that crosses the API: a code, a message a person can act on, optional details. */
export interface AppErrorShape {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** An error with a code from the closed set; main throws it, the API carries its shape to the client. */
export class AppError extends Error implements AppErrorShape {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }

  /** The shape that crosses the API; user names and passwords in URLs (`http://user:pass@host`) are left out. */
  toShape(): AppErrorShape {
    const message = stripUrlCredentials(this.message);
    return this.details === undefined
      ? { code: this.code, message }
      : { code: this.code, message, details: this.details };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (errorCodes as readonly string[]).includes(value);
}

/**
 * The API shape of anything thrown: an AppError as it is, anything else as `internal` with its message; URL
 * credentials are left out of either.
 */
export function toAppErrorShape(error: unknown): AppErrorShape {
  if (error instanceof AppError) return error.toShape();
  return { code: 'internal', message: stripUrlCredentials(error instanceof Error ? error.message : String(error)) };
}
