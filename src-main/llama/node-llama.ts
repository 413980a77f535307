import type * as NodeLlamaCpp from 'node-llama-cpp';
import { AppError } from '../../src-shared/errors.js';

/** The node-llama-cpp module, as `await import('node-llama-cpp')` gives it. */
export type NodeLlamaCppModule = typeof NodeLlamaCpp;

let pending: Promise<NodeLlamaCppModule> | undefined;

/**
 * Loads node-llama-cpp on first use. It is ESM with top-level await (a static import or `require` would make every
 * module that imports this one wait for, or fail with, its native binary), so only the llamacpp backend and the
 * model manager pay for it, and a missing or broken install breaks only them, with a message saying what to do.
 */
export function loadNodeLlamaCpp(): Promise<NodeLlamaCppModule> {
  pending ??= import('node-llama-cpp').catch((error: unknown) => {
    // A later call may succeed (the install was repaired), so the failure is not cached.
    pending = undefined;
    const reason = error instanceof Error ? error.message : String(error);
    throw new AppError(
      'model-load',
      `Local models need node-llama-cpp, which could not be loaded (${reason}) — run \`npm install\` in the app ` +
        'folder (node-llama-cpp@3.21.1 brings prebuilt binaries for Linux, macOS and Windows).',
      { cause: reason },
    );
  });
  return pending;
}
