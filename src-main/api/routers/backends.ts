import { listBackendModels, listBackends } from '../../backends/loader.js';
import { queryInput } from '../schemas.js';
import { procedure, router } from '../trpc.js';

export const backendsRouter = router({
  /** Every backend clemplay has, and whether it loads here. */
  list: procedure.query(() => listBackends()),

  /**
   * The model ids an OpenAI-style server offers (`GET /v1/models`): a connection test and suggestions for `model_id`.
   * The query is resolved first, so a registry name such as `llama-server` works.
   */
  listModels: procedure.input(queryInput).query(async ({ ctx, input, signal }) => {
    const { spec } = ctx.services.registry.resolve(input);
    return listBackendModels(spec, ctx.services.backendContext, signal);
  }),
});
