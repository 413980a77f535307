import { statSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import { AppError } from '../../src-shared/errors.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../../src-shared/json.js';
import type { Provenance } from '../../src-shared/spec/lookup.js';
import { copyJsonObject, formatPath, setOwnKey } from '../../src-shared/spec/json-tools.js';
import { readSpecSetting } from '../backends/options.js';
import type { BackendContext } from '../backends/types.js';
import type { ModelDependencies } from '../conversation/open-model.js';
import { normalizeBaseUrl } from '../credentials/credential-store.js';
import type { Resolution } from '../registry/registry-stack.js';

/** What the trust boundary needs: the registry (with provenance), the backends' context, and the models folders. */
export interface TrustedDependencies {
  registry: { resolve(query: string | JsonObject): Resolution };
  backendContext: BackendContext;
  /** The models folders a request's `model_path` must stay in (read per request: the user may change them). */
  modelsDirs(): readonly string[];
}

/** An upstream key that was not handed out because the request itself named the server it would go to. */
export interface WithheldKey {
  backend: string;
  /** The server, without credentials or query. */
  baseUrl: string;
}

/** {@link ModelDependencies} for one API request, and what its trust boundary did. */
export interface UntrustedRequestDependencies extends ModelDependencies {
  /** The key withheld from this request's model, once its backend asked for one. */
  withheldKey(): WithheldKey | undefined;
}

/** Whether the value at `keyPath` (as {@link readSpecSetting} returns it) came from the query, not the entry. */
function fromQuery(provenance: Provenance, keyPath: string): boolean {
  const segments = keyPath.split('.');
  const paths = new Set(provenance.fromQuery);
  // A key the query brought as a whole object (`model_config`) brought everything under it.
  return segments.some((_, index) => paths.has(formatPath(segments.slice(0, index + 1))));
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function inside(folder: string, path: string): boolean {
  return path.startsWith(folder.endsWith(sep) ? folder : folder + sep);
}

/**
 * The file a request's own `model_path` names, inside the models folders only: an absolute path must lie in one, a
 * relative one is looked up in each (never in the working directory, and never above a folder). Throws
 * `invalid-spec` for a path outside them and `not-found` for a file that is in none of them.
 */
function modelPathInFolders(value: string, keyPath: string, folders: readonly string[]): string {
  const roots = folders.map((folder) => resolve(folder));
  const listed = roots.join(', ');
  const outside = (): AppError =>
    new AppError(
      'invalid-spec',
      `\`${keyPath}\` in an API request must name a .gguf file in the models folders (${listed}); ` +
        `${JSON.stringify(value)} is outside them. Put the file there, or add a registry entry for it.`,
      { key_path: keyPath },
    );
  if (isAbsolute(value)) {
    const path = resolve(value);
    if (!roots.some((root) => inside(root, path))) throw outside();
    return path;
  }
  const candidates = roots.map((root) => ({ root, path: resolve(root, value) }));
  if (candidates.some((candidate) => !inside(candidate.root, candidate.path))) throw outside();
  const found = candidates.find((candidate) => isFile(candidate.path));
  if (found !== undefined) return found.path;
  throw new AppError(
    'not-found',
    `No model file ${JSON.stringify(value)} in the models folders: looked at ` +
      `${candidates.map((candidate) => candidate.path).join(', ')}.`,
    { key_path: keyPath },
  );
}

function withValueAt(spec: JsonObject, keyPath: string, value: JsonValue): JsonObject {
  const copy = copyJsonObject(spec);
  const [first, second] = keyPath.split('.');
  if (second === undefined) setOwnKey(copy, first ?? keyPath, value);
  else {
    const nested = copy[first ?? ''];
    if (isJsonObject(nested)) setOwnKey(nested, second, value);
  }
  return copy;
}

/**
 * The trust boundary of the OpenAI-compatible API: specs that arrive in requests come from other programs, so the
 * model a request opens is made through this, and this is the one place that says what such a spec may not do.
 *
 * - **Keys never follow a server the request named.** When the `base_url` the backend will use came from the request
 *   (its own key, or an entry's variable bound to the request's value), the backend gets no API key at all; the
 *   request is still sent, so servers that want none keep working.
 * - **`model_path` stays in the models folders.** A path the request brought must name a file inside them; relative
 *   paths are looked up there only. The spec the backend gets has the absolute path.
 * - **No human backend.** Nobody in the app would see the question, so the request would hang.
 *
 * Registry entries themselves are trusted as the registry stack trusts them.
 */
export function untrustedRequestDependencies(trusted: TrustedDependencies): UntrustedRequestDependencies {
  const { getConnection, localModels } = trusted.backendContext;
  let requestBaseUrl = false;
  let withheld: WithheldKey | undefined;
  return {
    registry: {
      resolve(query) {
        const resolution = trusted.registry.resolve(query);
        let spec = resolution.spec;
        if (spec['backend'] === 'human') {
          throw new AppError(
            'invalid-spec',
            'The human backend is not served over the API: a person answers it in the app (Chat or Pair).',
          );
        }
        const baseUrl = readSpecSetting(spec, 'base_url');
        requestBaseUrl = baseUrl !== undefined && fromQuery(resolution.provenance, baseUrl.path);
        const modelPath = readSpecSetting(spec, 'model_path');
        if (
          modelPath !== undefined &&
          typeof modelPath.value === 'string' &&
          modelPath.value.trim() !== '' &&
          fromQuery(resolution.provenance, modelPath.path)
        ) {
          const path = modelPathInFolders(modelPath.value.trim(), modelPath.path, trusted.modelsDirs());
          spec = withValueAt(spec, modelPath.path, path);
        }
        return { ...resolution, spec };
      },
    },
    // Everything but `humanInput` (see "No human backend" above), and a key lookup that can say no.
    backendContext: {
      ...(getConnection === undefined ? {} : { getConnection }),
      ...(localModels === undefined ? {} : { localModels }),
      async getApiKey(backend, baseUrl) {
        if (requestBaseUrl) {
          withheld = { backend, baseUrl: normalizeBaseUrl(baseUrl ?? '') };
          return undefined;
        }
        return trusted.backendContext.getApiKey(backend, baseUrl);
      },
    },
    withheldKey: () => withheld,
  };
}
