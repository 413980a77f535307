import { z } from 'zod';
import { foldersOf } from '../../services.js';
import { procedure, router } from '../trpc.js';

const appInfo = z.object({
  /** The app's version. */
  version: z.string(),
  /** Node's `process.platform` of the main process. */
  platform: z.string(),
  /** How this client reached the API. */
  transport: z.enum(['ipc', 'websocket', 'in-process']),
  /** `app.ticks` subscriptions running in main right now (a connection check shows that stopping really stops). */
  activeTicks: z.number().int().nonnegative(),
  /** Where this process keeps a person's files: the same for the app, the CLI and the web host. */
  folders: z.object({
    /** settings.json, the user registry, credentials. */
    config: z.string(),
    /** chats/, and by default models/ and results/. */
    data: z.string(),
    /** The models folders in use; downloads go to the first. */
    models: z.array(z.string()),
    /** Game results. */
    results: z.string(),
  }),
});
/** What `app.info` answers. */
export type AppInfo = z.infer<typeof appInfo>;

const ticksInput = z
  .object({
    /** Milliseconds between ticks, 10..60000; default 1000. */
    intervalMs: z.number().int().min(10).max(60_000).default(1000),
  })
  .default({ intervalMs: 1000 });

/** One value of the `app.ticks` subscription. */
export interface Tick {
  /** 1 for the first tick, then counting up. */
  count: number;
  /** Milliseconds since the epoch when the tick was sent. */
  at: number;
}

/** Resolves after `ms`, or at once (false) when `signal` aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Counts the ticks still running, so tests can see that a cancelled subscription really stopped. */
export const activeTickers = { count: 0 };

export const appRouter = router({
  info: procedure.output(appInfo).query(({ ctx }) => ({
    version: ctx.services.version,
    platform: process.platform,
    transport: ctx.transport,
    activeTicks: activeTickers.count,
    folders: foldersOf(ctx.services),
  })),

  ticks: procedure.input(ticksInput).subscription(async function* ({ input, signal }): AsyncGenerator<Tick> {
    const stop = signal ?? new AbortController().signal;
    activeTickers.count += 1;
    try {
      for (let count = 1; await sleep(input.intervalMs, stop); count += 1) {
        yield { count, at: Date.now() };
      }
    } finally {
      activeTickers.count -= 1;
    }
  }),
});
