import { appRouter } from './routers/app.js';
import { registryRouter } from './routers/registry.js';
import { router } from './trpc.js';

/** The whole API: one router, served over IPC (Electron) and WebSocket (web host). */
export const apiRouter = router({
  app: appRouter,
  registry: registryRouter,
});

/** The router's type: the only thing the renderer imports from src-main (type-only). */
export type ApiRouter = typeof apiRouter;
