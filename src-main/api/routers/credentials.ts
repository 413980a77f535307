import { z } from 'zod';
import { procedure, router } from '../trpc.js';

/** A backend name as registries spell them. */
const backendName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a backend name such as openai or openai_compatible');
const baseUrl = z.url({ protocol: /^https?$/ }).max(2048);

/**
 * What leaves the API about a key. A strict object: if a key ever found its way into a status (a new field, a bug),
 * validation fails and nothing is sent.
 */
const credentialStatus = z.strictObject({
  backend: z.string(),
  baseUrl: z.string().optional(),
  set: z.boolean(),
  source: z.enum(['safe-storage', 'environment', 'key-json', 'config-file']).nullable(),
  location: z.string().nullable(),
  /** `…` + the last 4 characters, never more. */
  hint: z.string().max(5).nullable(),
  storage: z.enum(['safe-storage', 'config-file']),
  warnings: z.array(z.string()),
});

const trustedOrigin = z.object({
  /** `scheme://host[:port]`. */
  origin: z.string(),
  /** Why it is trusted: built in, a registry file, ~/.clemcore/key.json, or added by the user (settings). */
  sources: z.array(
    z.object({ kind: z.enum(['built-in', 'registry', 'key-json', 'settings']), path: z.string().optional() }),
  ),
});
const originInput = z.object({ origin: z.string().min(1).max(2048) });

/**
 * API keys. Nothing here ever returns a key: status says set or not, where from, and `…` + its last 4 characters.
 */
export const credentialsRouter = router({
  status: procedure
    .input(z.object({ backend: backendName.optional(), base_url: baseUrl.optional() }).optional())
    .output(z.array(credentialStatus))
    .query(async ({ ctx, input }) =>
      input?.backend === undefined
        ? ctx.services.credentials.status()
        : [await ctx.services.credentials.status(input.backend, input.base_url)],
    ),

  /** Stores a key (the OS key store in the app; a 0600 file for the CLI and web host); returns the new status. */
  set: procedure
    .input(z.object({ backend: backendName, key: z.string().min(1).max(4096), base_url: baseUrl.optional() }))
    .output(credentialStatus)
    .mutation(({ ctx, input }) => ctx.services.credentials.set(input.backend, input.key, input.base_url)),

  clear: procedure
    .input(z.object({ backend: backendName, base_url: baseUrl.optional() }))
    .output(credentialStatus)
    .mutation(({ ctx, input }) => ctx.services.credentials.clear(input.backend, input.base_url)),

  /**
   * The origins backend-wide keys may be sent to, each with why: built in, a base_url in the user's or the official
   * registry or a --registry file, ~/.clemcore/key.json, or added by the user. Others get no such key.
   */
  trustedOrigins: procedure.output(z.array(trustedOrigin)).query(({ ctx }) => ctx.services.trustedOrigins.list()),

  /** Trusts an origin (any URL on the server works; saved in settings.json); returns it normalized. */
  trustOrigin: procedure
    .input(originInput)
    .output(z.object({ origin: z.string() }))
    .mutation(async ({ ctx, input }) => ({ origin: await ctx.services.trustedOrigins.add(input.origin) })),

  /** Stops trusting an origin the user added. Errors: not-found (not added by the user: says where it comes from). */
  distrustOrigin: procedure
    .input(originInput)
    .output(z.object({ origin: z.string() }))
    .mutation(async ({ ctx, input }) => ({ origin: await ctx.services.trustedOrigins.remove(input.origin) })),
});
