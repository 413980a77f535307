import { initTRPC, TRPCError, type TRPC_ERROR_CODE_KEY } from '@trpc/server';
import { ZodError } from 'zod';
import { AppError, toAppErrorShape, type AppErrorShape, type ErrorCode } from '../../src-shared/errors.js';
import type { EventPace } from '../jobs/event-log.js';
import type { AppServices } from '../services.js';

/** How a client reached the API. */
export type Transport = 'ipc' | 'websocket' | 'in-process';

/** What every procedure gets: the shared services and the transport of its caller. */
export interface ApiContext {
  services: AppServices;
  transport: Transport;
  /** How fast the caller's connection takes subscription events (the web host's sockets); none: as fast as made. */
  pace?: EventPace;
}

/** Turns any thrown error, bad input included, into the closed `{ code, message, details }` shape clients show. */
export function apiErrorShape(error: unknown): AppErrorShape {
  if (error instanceof ZodError) {
    const issue = error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    return { code: 'invalid-input', message: `invalid input${where}: ${issue?.message ?? 'rejected'}` };
  }
  return toAppErrorShape(error);
}

const t = initTRPC.context<ApiContext>().create({
  errorFormatter({ shape, error }) {
    // tRPC wraps what a procedure throws: the cause is ours (AppError), zod's (bad input, or an output that failed
    // its own schema, which is our bug, not the caller's), or anything else.
    const cause = error.cause ?? error;
    const app =
      cause instanceof ZodError && error.code !== 'BAD_REQUEST'
        ? { code: 'internal' as const, message: `the API produced an invalid result: ${cause.issues[0]?.message}` }
        : apiErrorShape(cause);
    return { ...shape, data: { ...shape.data, stack: undefined, app } };
  },
});

/** The tRPC code each of our error codes travels as, so logs and HTTP-minded tools see what kind it was. */
const trpcCodes: Record<ErrorCode, TRPC_ERROR_CODE_KEY> = {
  'no-match': 'NOT_FOUND',
  'invalid-spec': 'BAD_REQUEST',
  'invalid-input': 'BAD_REQUEST',
  'not-found': 'NOT_FOUND',
  conflict: 'CONFLICT',
  corrupt: 'UNPROCESSABLE_CONTENT',
  'untrusted-origin': 'FORBIDDEN',
  auth: 'UNAUTHORIZED',
  'rate-limit': 'TOO_MANY_REQUESTS',
  network: 'BAD_GATEWAY',
  timeout: 'TIMEOUT',
  'model-load': 'INTERNAL_SERVER_ERROR',
  'out-of-memory': 'INTERNAL_SERVER_ERROR',
  'context-overflow': 'PAYLOAD_TOO_LARGE',
  aborted: 'CLIENT_CLOSED_REQUEST',
  internal: 'INTERNAL_SERVER_ERROR',
};

/** Every procedure: an AppError it throws keeps its code and message, and travels with the matching tRPC code. */
export const procedure = t.procedure.use(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof AppError && result.error.code === 'INTERNAL_SERVER_ERROR') {
    const cause = result.error.cause;
    throw new TRPCError({ code: trpcCodes[cause.code], message: cause.message, cause });
  }
  return result;
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
