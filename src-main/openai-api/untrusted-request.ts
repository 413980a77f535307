import { isAbsolute, resolve } from 'node:path';
import { AppError } from '../../src-shared/errors.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../../src-shared/json.js';
import type { Provenance } from '../../src-shared/spec/lookup.js';
import { parseQuery } from '../../src-shared/spec/parse-query.js';
import { copyJsonObject, formatPath, setOwnKey } from '../../src-shared/spec/json-tools.js';
import { readSpecSetting } from '../backends/options.js';
import type { BackendContext } from '../backends/types.js';
import type { ModelDependencies } from '../conversation/open-model.js';
import type { LocalModelService } from '../llama/service.js';
import type { Resolution } from '../registry/registry-stack.js';
import { isFile } from '../files/file-checks.js';

/** What the trust boundary needs: the registry (with provenance), the backends' context, and the models folders. */
export interface TrustedDependencies {
  registry: { resolve(query: string | JsonObject): Resolution };
  backendContext: BackendContext;
  /** The models folders a request's `model_path` must stay in (read per request: the user may change them). */
  localModels: Pick<LocalModelService, 'modelsDirs' | 'checkInModelsFolder'>;
}

/** Whether the value at `keyPath` (as {@link readSpecSetting} returns it) came from the query, not the entry. */
function fromQuery(provenance: Provenance, keyPath: string): boolean {
  const segments = keyPath.split('.');
  const paths = new Set(provenance.fromQuery);
  // A key the query brought as a whole object (`model_config`) brought everything under it.
  return segments.some((_, index) => paths.has(formatPath(segments.slice(0, index + 1))));
}

/**
 * The file a request's own `model_path` names, inside the models folders only: an absolute path must lie in one, a
 * relative one is looked up in each (never in the working directory), and either way the folder it ends up in must
 * be inside a models folder once links are followed (the local-model service's rule for everything the API reads).
 * Throws `invalid-input` for a path outside them and `not-found` for a file that is in none of them.
 */
async function modelPathInFolders(
  value: string,
  keyPath: string,
  localModels: TrustedDependencies['localModels'],
): Promise<string> {
  if (isAbsolute(value)) return localModels.checkInModelsFolder(value);
  const candidates = localModels.modelsDirs.map((folder) => resolve(folder, value));
  for (const candidate of candidates) {
    if (await isFile(candidate)) return localModels.checkInModelsFolder(candidate);
  }
  throw new AppError(
    'not-found',
    `No model file ${JSON.stringify(value)} in the models folders: looked at ${candidates.join(', ')}.`,
    { key_path: keyPath },
  );
}

function withValueAt(spec: JsonObject, keyPath: string, value: JsonValue): JsonObject {
  const copy = copyJsonObject(spec);
  const [first = keyPath, second] = keyPath.split('.');
  if (second === undefined) setOwnKey(copy, first, value);
  else {
    const nested = copy[first];
    if (isJsonObject(nested)) setOwnKey(nested, second, value);
  }
  return copy;
}

/** Every string a query holds (none for a plain name): what the request itself put into the spec. */
function stringsOf(value: JsonValue, found = new Set<string>()): Set<string> {
  if (typeof value === 'string') found.add(value);
  else if (Array.isArray(value)) for (const item of value) stringsOf(item, found);
  else if (isJsonObject(value)) for (const item of Object.values(value)) stringsOf(item, found);
  return found;
}

/** Whether the resolved spec's `base_url` is one the request wrote (directly, or bound to an entry's variable). */
function requestNamesServer(query: string, spec: JsonObject): boolean {
  const baseUrl = readSpecSetting(spec, 'base_url');
  if (typeof baseUrl?.value !== 'string') return false;
  const parsed = parseQuery(query);
  return parsed.ok && stringsOf(parsed.query).has(baseUrl.value);
}

/**
 * The trust boundary of the OpenAI-compatible API. Specs that arrive in requests come from other programs, so a
 * request's query is resolved and checked here, and the model is opened (with `openModel`) from what this returns;
 * this is the one place that says what such a spec may not do.
 *
 * - **Keys never follow a server the request named.** A `base_url` the request brings (its own key, or an entry's
 *   variable bound to its value) gets no backend-wide key, even for a server the user trusts: what a program sends
 *   cannot steer the user's keys. Servers a registry entry names get them as the user's trusted origins say
 *   (`isTrustedOrigin`: their registries, Settings → Trusted servers, `clemplay trust`). The request is still sent, so
 *   servers that want no key keep working, and one that wants a key answers with `untrusted-origin`.
 * - **`model_path` stays in the models folders.** A path the request brought must name a file inside them; relative
 *   paths are looked up there only. The spec the backend gets has the absolute path.
 * - **No downloads.** A `model_uri` or `huggingface_id` the request brings is refused: a program must not fill the
 *   disk; registry entries may name them (the user put them there).
 * - **No human backend.** Nobody in the app would see the question, so the request would hang.
 *
 * Registry entries themselves are trusted as the registry stack trusts them. Throws `no-match`, `invalid-spec`,
 * `invalid-input` or `not-found`.
 */
export async function untrustedRequestDependencies(
  trusted: TrustedDependencies,
  query: string,
): Promise<ModelDependencies> {
  const resolution = trusted.registry.resolve(query);
  let spec = resolution.spec;
  if (spec['backend'] === 'human') {
    throw new AppError(
      'invalid-spec',
      'The human backend is not served over the API: a person answers it in the app (Chat or Pair).',
    );
  }
  for (const key of ['model_uri', 'huggingface_id']) {
    const setting = readSpecSetting(spec, key);
    if (setting !== undefined && fromQuery(resolution.provenance, setting.path)) {
      throw new AppError(
        'invalid-spec',
        `A request may not name \`${setting.path}\`: it would start a download. Download the model in clemplay ` +
          '(`clemplay pull`, or the Local models page) and name it by `model_path` or a registry entry.',
        { key_path: setting.path },
      );
    }
  }
  const modelPath = readSpecSetting(spec, 'model_path');
  if (
    modelPath !== undefined &&
    typeof modelPath.value === 'string' &&
    modelPath.value.trim() !== '' &&
    fromQuery(resolution.provenance, modelPath.path)
  ) {
    const path = await modelPathInFolders(modelPath.value.trim(), modelPath.path, trusted.localModels);
    spec = withValueAt(spec, modelPath.path, path);
  }
  const checked: Resolution = { ...resolution, spec };
  const { getApiKey, isTrustedOrigin, getConnection, localModels } = trusted.backendContext;
  const named = requestNamesServer(query, spec);
  return {
    registry: {
      // openModel resolves through this: the request's query, already resolved and checked above.
      resolve(again) {
        if (again !== query) throw new AppError('internal', 'a checked request resolves only its own query');
        return checked;
      },
    },
    // Everything but `humanInput` (see "No human backend" above).
    backendContext: {
      getApiKey,
      ...(named ? { isTrustedOrigin: async () => false } : isTrustedOrigin === undefined ? {} : { isTrustedOrigin }),
      ...(getConnection === undefined ? {} : { getConnection }),
      ...(localModels === undefined ? {} : { localModels }),
    },
  };
}
