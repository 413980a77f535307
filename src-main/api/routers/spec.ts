import { queryInput } from '../schemas.js';
import { procedure, router } from '../trpc.js';

export const specRouter = router({
  /** The resolved spec, the entry it came from, and which keys came from where. Errors: invalid-spec, no-match. */
  resolve: procedure.input(queryInput).query(({ ctx, input }) => ctx.services.registry.resolve(input)),

  /** Every entry's verdict for the query, the winner, the bindings and the provenance. */
  explain: procedure.input(queryInput).query(({ ctx, input }) => ctx.services.registry.explain(input)),
});
