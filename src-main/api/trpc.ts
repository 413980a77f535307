import { initTRPC } from '@trpc/server';
import { ZodError } from 'zod';
import { AppError, type AppErrorShape } from '../../src-shared/errors.js';
import type { AppServices } from '../services.js';

/** How a client reached the API. */
export type Transport = 'ipc' | 'websocket' | 'in-process';

/** What every procedure gets: the shared services and the transport of its caller. */
export interface ApiContext {
  services: AppServices;
  transport: Transport;
}

/** Turns any thrown error into the closed `{ code, message, details }` shape the renderer shows. */
export function toAppErrorShape(error: unknown): AppErrorShape {
  if (error instanceof AppError) return error.toShape();
  if (error instanceof ZodError) {
    const issue = error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    return { code: 'invalid-input', message: `invalid input${where}: ${issue?.message ?? 'rejected'}` };
  }
  return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}

const t = initTRPC.context<ApiContext>().create({
  errorFormatter({ shape, error }) {
    // tRPC wraps what a procedure throws: the cause is ours (AppError), zod's (bad input, or an output that failed
    // its own schema, which is our bug, not the caller's), or anything else.
    const cause = error.cause ?? error;
    const app =
      cause instanceof ZodError && error.code !== 'BAD_REQUEST'
        ? { code: 'internal' as const, message: `the API produced an invalid result: ${cause.issues[0]?.message}` }
        : toAppErrorShape(cause);
    return { ...shape, data: { ...shape.data, stack: undefined, app } };
  },
});

export const router = t.router;
export const procedure = t.procedure;
export const createCallerFactory = t.createCallerFactory;
