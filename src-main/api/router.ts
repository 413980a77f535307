import { appRouter } from './routers/app.js';
import { backendsRouter } from './routers/backends.js';
import { credentialsRouter } from './routers/credentials.js';
import { gamesRouter } from './routers/games.js';
import { localModelsRouter, systemRouter } from './routers/local-models.js';
import { modelServerRouter } from './routers/model-server.js';
import { registryRouter } from './routers/registry.js';
import { sessionsRouter } from './routers/sessions.js';
import { settingsRouter } from './routers/settings.js';
import { specRouter } from './routers/spec.js';
import { router } from './trpc.js';

/** The whole API: one router, served over IPC (Electron) and WebSocket (web host). */
export const apiRouter = router({
  app: appRouter,
  registry: registryRouter,
  spec: specRouter,
  sessions: sessionsRouter,
  games: gamesRouter,
  backends: backendsRouter,
  credentials: credentialsRouter,
  localModels: localModelsRouter,
  system: systemRouter,
  settings: settingsRouter,
  modelServer: modelServerRouter,
});

/** The router's type: the only thing the renderer imports from src-main (type-only). */
export type ApiRouter = typeof apiRouter;
