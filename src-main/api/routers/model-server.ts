import { z } from 'zod';
import type { ModelServerState } from '../../openai-api/model-server.js';
import { defaultApiPort } from '../../../src-shared/model-server.js';
import { procedure, router } from '../trpc.js';

/**
 * What leaves the API about the server. Strict, and the hint at most 5 characters: if the key ever found its way
 * into a status, validation would fail and nothing would be sent. Only `revealKey` sends the key.
 */
const modelServerStatus = z.strictObject({
  running: z.boolean(),
  url: z.string().nullable(),
  host: z.string().nullable(),
  port: z.number().int().nullable(),
  key_hint: z.string().max(5).nullable(),
  key_source: z.enum(['option', 'environment', 'stored', 'generated']).nullable(),
});

const servedRequest = z.strictObject({
  id: z.string(),
  model: z.string(),
  client: z.string(),
  stream: z.boolean(),
  status: z.enum(['opening', 'queued', 'running', 'done', 'error', 'cancelled']),
  queue_position: z.number().int().positive().nullable(),
  received_at: z.number(),
  first_token_at: z.number().nullable(),
  ended_at: z.number().nullable(),
  input_tokens: z.number().nullable(),
  output_tokens: z.number().nullable(),
  tokens_per_second: z.number().nullable(),
  http_status: z.number().int().nullable(),
  error: z.string().nullable(),
});

const modelServerState = z.object({ status: modelServerStatus, requests: z.array(servedRequest) });

/** The OpenAI-compatible API server ("Serve models to other apps" in Settings); the app always binds 127.0.0.1. */
export const modelServerRouter = router({
  /** The server's status and its requests, newest first. */
  state: procedure.output(modelServerState).query(({ ctx }) => ctx.services.modelServer.state()),

  /**
   * Starts the server on `port` (default 41707; 0 picks a free one); a port in use is a `network` error. The choice is
   * saved: the server starts again with the app or the web host until it is stopped.
   */
  start: procedure
    .input(z.object({ port: z.number().int().min(0).max(65_535).default(defaultApiPort) }).optional())
    .output(modelServerStatus)
    .mutation(async ({ ctx, input }) => {
      const port = input?.port ?? defaultApiPort;
      const status = await ctx.services.modelServer.start({ port });
      await ctx.services.settings.update({ model_server: { enabled: true, port } });
      return status;
    }),

  /** Stops the server, and it stays off at the next start. */
  stop: procedure.output(modelServerStatus).mutation(async ({ ctx }) => {
    const status = await ctx.services.modelServer.stop();
    const saved = (await ctx.services.settings.read()).model_server;
    await ctx.services.settings.update({ model_server: { enabled: false, port: saved?.port ?? defaultApiPort } });
    return status;
  }),

  /**
   * The running server's key: the one secret the renderer may receive, because the person gives it to their clients.
   * A mutation, so that it is asked for on purpose (the copy button), never fetched along with a status.
   */
  revealKey: procedure
    .output(z.object({ key: z.string() }))
    .mutation(({ ctx }) => ({ key: ctx.services.modelServer.revealKey() })),

  /** The state now, then again after every change (the latest only, when changes come faster than they are read). */
  watch: procedure.subscription(async function* ({ ctx, signal }): AsyncGenerator<ModelServerState> {
    let changed = true;
    let wake: (() => void) | null = null;
    const stop = ctx.services.modelServer.onChange(() => {
      changed = true;
      wake?.();
    });
    const aborted = new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
    try {
      while (!signal?.aborted) {
        if (changed) {
          changed = false;
          yield modelServerState.parse(ctx.services.modelServer.state());
          continue;
        }
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
        wake = null;
      }
    } finally {
      stop();
    }
  }),
});
