import { useCallback, useEffect, useRef, useState } from 'react';
import { api, describeError, type ApiOutputs } from '../api/client';

type ModelList = ApiOutputs['localModels']['list'];
type Status = ApiOutputs['localModels']['status'];
type Gpu = ApiOutputs['system']['gpu'];

function bytes(value: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let amount = value;
  let unit = 0;
  while (amount >= 1024 && unit < units.length - 1) {
    amount /= 1024;
    unit += 1;
  }
  return `${amount.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function parameters(count: number | null): string {
  if (count === null) return '–';
  if (count >= 1e9) return `${(count / 1e9).toFixed(1)}B`;
  return count >= 1e6 ? `${Math.round(count / 1e6)}M` : `${Math.round(count / 1e3)}K`;
}

/** The models folders, one per line; the first is where downloads go. Saved in settings.json. */
function Folders({
  folders,
  onSaved,
  onError,
}: {
  folders: ModelList['folders'];
  onSaved: () => void;
  onError: (cause: unknown) => void;
}) {
  const [draft, setDraft] = useState<string | null>(null);
  const text = draft ?? folders.map((folder) => folder.path).join('\n');
  const save = () => {
    const list = text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');
    api.settings.setModelsDirs.mutate({ folders: list }).then(() => {
      setDraft(null);
      onSaved();
    }, onError);
  };
  return (
    <div className="stack">
      <label className="stack">
        <span className="muted">
          Models folders, one per line (the first is where downloads go)
          {folders.some((folder) => !folder.exists) &&
            ` — missing: ${folders
              .filter((folder) => !folder.exists)
              .map((folder) => folder.path)
              .join(', ')}`}
        </span>
        <textarea
          className="code"
          rows={Math.max(2, folders.length)}
          data-testid="local-folders"
          value={text}
          onChange={(event) => setDraft(event.target.value)}
        />
      </label>
      <div className="row">
        <button type="button" data-testid="local-folders-save" disabled={draft === null} onClick={save}>
          Save folders
        </button>
      </div>
    </div>
  );
}

/** The GGUF files in the models folders: what each is, load and unload it, add it to the registry. */
export function LocalModelsPage() {
  const [list, setList] = useState<ModelList | null>(null);
  const [status, setStatus] = useState<Status | null>(null);
  const [gpu, setGpu] = useState<Gpu | null>(null);
  const [loading, setLoading] = useState<Record<string, number>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const subscriptions = useRef(new Map<string, { unsubscribe(): void }>());

  const fail = (cause: unknown) => {
    const { code, message: text } = describeError(cause);
    setError(`${code}: ${text}`);
  };
  const refresh = useCallback(() => {
    api.localModels.list.query().then(setList, fail);
    api.localModels.status.query().then(setStatus, fail);
  }, []);
  useEffect(() => {
    refresh();
    api.system.gpu.query().then(setGpu, fail);
    const running = subscriptions.current;
    return () => running.forEach((subscription) => subscription.unsubscribe());
  }, [refresh]);

  const load = (path: string, fileName: string) => {
    setError(null);
    setLoading((state) => ({ ...state, [path]: 0 }));
    const done = () => {
      subscriptions.current.delete(path);
      setLoading(({ [path]: _finished, ...rest }) => rest);
      refresh();
    };
    const subscription = api.localModels.load.subscribe(
      { spec: { model_name: fileName, backend: 'llamacpp', model_path: path } },
      {
        onData: (event) => {
          if (event.type === 'progress') setLoading((state) => ({ ...state, [path]: event.fraction }));
          else done();
        },
        onError: (cause) => {
          fail(cause);
          done();
        },
      },
    );
    subscriptions.current.set(path, subscription);
  };
  const cancel = (path: string) => {
    subscriptions.current.get(path)?.unsubscribe();
    subscriptions.current.delete(path);
    setLoading(({ [path]: _cancelled, ...rest }) => rest);
  };
  const unload = (id: string) => {
    api.localModels.unload.mutate({ id }).then(refresh, fail);
  };
  const addToRegistry = async (path: string) => {
    setError(null);
    try {
      const saved = await api.localModels.addToRegistry.mutate({ path });
      setMessage(`Added "${String(saved.entry.model_name)}" to ${saved.file} (entry #${saved.index}).`);
    } catch (cause) {
      fail(cause);
    }
  };

  return (
    <section className="stack">
      <h1>Local models</h1>
      {gpu !== null && (
        <p className="muted" data-testid="local-gpu">
          {gpu.backend === 'cpu' ? 'CPU only' : `${gpu.backend.toUpperCase()}: ${gpu.devices.join(', ')}`} · RAM{' '}
          {bytes(gpu.ram.free_bytes)} free of {bytes(gpu.ram.total_bytes)}
          {gpu.vram !== null && ` · VRAM ${bytes(gpu.vram.free_bytes)} free of ${bytes(gpu.vram.total_bytes)}`} ·
          threads{' '}
          {gpu.threads.setting !== 'auto'
            ? gpu.threads.setting
            : gpu.threads.calibrations.length === 0
              ? 'auto (measured when a model first loads)'
              : `auto: ${gpu.threads.calibrations.map((entry) => `${entry.size_class} → ${entry.threads}`).join(', ')}`}
        </p>
      )}
      {error !== null && (
        <p role="alert" className="error" data-testid="local-error">
          {error}
        </p>
      )}
      {message !== null && (
        <p className="muted" data-testid="local-message">
          {message}
        </p>
      )}
      <Folders folders={list?.folders ?? []} onSaved={refresh} onError={fail} />
      <table className="table">
        <thead>
          <tr>
            <th>file</th>
            <th>architecture</th>
            <th>parameters</th>
            <th>quantization</th>
            <th>context</th>
            <th>template</th>
            <th>size</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list?.models.map((model) => (
            <tr key={model.path} data-testid="local-model-row">
              <td title={model.path}>{model.file_name}</td>
              <td>
                {model.architecture ?? '–'}
                {model.supported === false && <span className="error"> (unsupported)</span>}
                {model.problem !== null && <div className="error">{model.problem.message}</div>}
              </td>
              <td>{parameters(model.parameter_count)}</td>
              <td>{model.quantization ?? '–'}</td>
              <td>{model.context_length ?? '–'}</td>
              <td>{model.has_chat_template ? 'yes' : 'no'}</td>
              <td>{bytes(model.size_bytes)}</td>
              <td className="row">
                {loading[model.path] === undefined ? (
                  <button type="button" data-testid="local-load" onClick={() => load(model.path, model.file_name)}>
                    Load
                  </button>
                ) : (
                  <>
                    <progress max={1} value={loading[model.path]} data-testid="local-load-progress" />
                    <button type="button" onClick={() => cancel(model.path)}>
                      Cancel
                    </button>
                  </>
                )}
                <button type="button" data-testid="local-add" onClick={() => void addToRegistry(model.path)}>
                  Add to registry
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list !== null && list.models.length === 0 && (
        <p className="muted">No .gguf files in the models folders yet: copy some there, or `clemplay pull URI`.</p>
      )}
      <h2>Loaded</h2>
      <table className="table">
        <tbody>
          {status?.models.map((model) => (
            <tr key={model.id} data-testid="local-loaded-row">
              <td title={model.path}>{model.file_name}</td>
              <td data-testid="local-loaded-state">{model.state}</td>
              <td>{model.resolved === null ? '' : `context ${model.resolved.context_size}`}</td>
              <td>{bytes(model.memory.ram_bytes + model.memory.vram_bytes)}</td>
              <td>
                <button type="button" data-testid="local-unload" onClick={() => unload(model.id)}>
                  Unload
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {status !== null && status.models.length === 0 && <p className="muted">No model is loaded.</p>}
    </section>
  );
}
