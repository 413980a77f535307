import type { AppErrorShape, ErrorCode } from '../../src-shared/errors.js';

/** The body of every error response, as OpenAI sends it (and its SDKs read it). */
export interface OpenAIErrorBody {
  error: {
    /** What went wrong and what to do, for a person. */
    message: string;
    /** OpenAI's error class: `invalid_request_error`, `rate_limit_error`, `server_error`, `upstream_error`. */
    type: string;
    /** The request field at fault (`model`, `messages`, …), or null. */
    param: string | null;
    /** A machine-readable code: OpenAI's where one fits (`model_not_found`, …), else clemplay's error code. */
    code: string | null;
  };
}

/** An error response: the HTTP status, the body, and extra headers (`retry-after`). */
export interface OpenAIErrorResponse {
  status: number;
  body: OpenAIErrorBody;
  headers: Record<string, string>;
}

interface ErrorKind {
  status: number;
  type: string;
  code: string | null;
  param: string | null;
}

/**
 * How each clemplay error code goes out. The server's own key is checked before anything else (401); `auth` and
 * `untrusted-origin` here are always an upstream key that was missing, refused or withheld, which is the gateway's
 * failure (502), not the client's: its own key was fine.
 */
const errorKinds: Record<ErrorCode, ErrorKind> = {
  'no-match': { status: 404, type: 'invalid_request_error', code: 'model_not_found', param: 'model' },
  'not-found': { status: 404, type: 'invalid_request_error', code: 'model_not_found', param: 'model' },
  'invalid-spec': { status: 400, type: 'invalid_request_error', code: 'invalid_spec', param: 'model' },
  'invalid-input': { status: 400, type: 'invalid_request_error', code: 'invalid_request', param: null },
  'context-overflow': {
    status: 400,
    type: 'invalid_request_error',
    code: 'context_length_exceeded',
    param: 'messages',
  },
  conflict: { status: 409, type: 'invalid_request_error', code: 'conflict', param: null },
  auth: { status: 502, type: 'upstream_error', code: 'upstream_auth', param: null },
  'untrusted-origin': { status: 502, type: 'upstream_error', code: 'untrusted_origin', param: null },
  'rate-limit': { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded', param: null },
  network: { status: 502, type: 'upstream_error', code: 'upstream_error', param: null },
  timeout: { status: 502, type: 'upstream_error', code: 'upstream_timeout', param: null },
  'model-load': { status: 500, type: 'server_error', code: 'model_load', param: 'model' },
  corrupt: { status: 500, type: 'server_error', code: 'corrupt', param: 'model' },
  'out-of-memory': { status: 503, type: 'server_error', code: 'out_of_memory', param: 'model' },
  aborted: { status: 503, type: 'server_error', code: 'stopped', param: null },
  internal: { status: 500, type: 'server_error', code: 'internal', param: null },
};

/** An OpenAI-style error body with a fixed code, for failures that are not a clemplay error (auth, routing). */
export function openAIErrorBody(message: string, type: string, code: string | null, param: string | null = null) {
  return { error: { message, type, param, code } } satisfies OpenAIErrorBody;
}

/**
 * The response for a clemplay error. A 429 passes on the wait the upstream server asked for as `retry-after`
 * (whole seconds, rounded up), so the client's own retry logic waits as long as the upstream wanted.
 */
export function errorResponse(error: AppErrorShape): OpenAIErrorResponse {
  const kind = errorKinds[error.code];
  const headers: Record<string, string> = {};
  const retryAfterMs = error.details?.['retry_after_ms'];
  if (error.code === 'rate-limit' && typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs)) {
    headers['retry-after'] = String(Math.max(0, Math.ceil(retryAfterMs / 1000)));
  }
  const param = error.details?.['param'];
  return {
    status: kind.status,
    body: openAIErrorBody(error.message, kind.type, kind.code, typeof param === 'string' ? param : kind.param),
    headers,
  };
}
