import { Download, FolderOpen, Play, Plus, RotateCcw, Square, X } from 'lucide-react';
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, describeError, type ApiOutputs } from '../api/client';
import { Dialog } from '../components/ConfirmDialog';
import { EmptyState, ErrorState, Skeleton } from '../components/states';
import { formatBytes, formatParameters, parseSetting } from '../format';

type ModelList = ApiOutputs['localModels']['list'];
type ModelFile = ModelList['models'][number];
type Status = ApiOutputs['localModels']['status'];
type Gpu = ApiOutputs['system']['gpu'];
type Estimate = ApiOutputs['localModels']['estimate'];

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
  const missing = folders.filter((folder) => !folder.exists);
  return (
    <div className="stack">
      <label className="field">
        <span className="muted">
          Models folders, one per line (the first is where downloads go)
          {missing.length > 0 && ` — missing: ${missing.map((folder) => folder.path).join(', ')}`}
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
          <FolderOpen aria-hidden size={16} />
          Save folders
        </button>
      </div>
    </div>
  );
}

/** Where a download stands. */
type DownloadState =
  | { phase: 'idle' }
  | { phase: 'running'; uri: string; downloaded: number; total: number; fraction: number; speed: number }
  | { phase: 'stopped'; uri: string; downloaded: number; total: number; fraction: number; error: string | null }
  | { phase: 'done'; uri: string; message: string };

/** Download a model by `hf:` URI or URL into the first models folder: progress, cancel, resume. */
function DownloadForm({ onDone }: { onDone: () => void }) {
  const [uri, setUri] = useState('');
  const [state, setState] = useState<DownloadState>({ phase: 'idle' });
  const subscription = useRef<{ unsubscribe(): void } | null>(null);
  useEffect(() => () => subscription.current?.unsubscribe(), []);

  const start = (target: string) => {
    if (target.trim() === '') return;
    setState({ phase: 'running', uri: target, downloaded: 0, total: 0, fraction: 0, speed: 0 });
    subscription.current = api.localModels.download.subscribe(
      { uri: target.trim() },
      {
        onData: (event) => {
          if (event.type === 'progress') {
            setState({
              phase: 'running',
              uri: target,
              downloaded: event.downloaded_bytes,
              total: event.total_bytes,
              fraction: event.fraction,
              speed: event.bytes_per_second,
            });
            return;
          }
          subscription.current = null;
          const name = event.path.split(/[\\/]/).pop() ?? event.path;
          const how = event.already_present
            ? 'was already there'
            : event.resumed_from_bytes > 0
              ? `downloaded (resumed from ${formatBytes(event.resumed_from_bytes)})`
              : 'downloaded';
          setState({ phase: 'done', uri: target, message: `${name} ${how}: ${formatBytes(event.size_bytes)}.` });
          onDone();
        },
        onError: (cause) => {
          subscription.current = null;
          const { code, message } = describeError(cause);
          setState((previous) => ({
            phase: 'stopped',
            uri: target,
            downloaded: previous.phase === 'running' ? previous.downloaded : 0,
            total: previous.phase === 'running' ? previous.total : 0,
            fraction: previous.phase === 'running' ? previous.fraction : 0,
            error: `${code}: ${message}`,
          }));
        },
      },
    );
  };
  const cancel = () => {
    subscription.current?.unsubscribe();
    subscription.current = null;
    setState((previous) =>
      previous.phase === 'running'
        ? {
            phase: 'stopped',
            uri: previous.uri,
            downloaded: previous.downloaded,
            total: previous.total,
            fraction: previous.fraction,
            error: null,
          }
        : previous,
    );
  };

  return (
    <div className="stack download" data-testid="local-download">
      <form
        className="row"
        onSubmit={(event) => {
          event.preventDefault();
          start(uri);
        }}
      >
        <input
          className="grow"
          data-testid="local-download-uri"
          aria-label="Model to download"
          placeholder="hf:user/repo:Q4_K_M, hf:user/repo/file.gguf or https://…/model.gguf"
          value={uri}
          onChange={(event) => setUri(event.target.value)}
        />
        <button
          type="submit"
          className="primary"
          data-testid="local-download-start"
          disabled={uri.trim() === '' || state.phase === 'running'}
        >
          <Download aria-hidden size={16} />
          Download
        </button>
      </form>
      {(state.phase === 'running' || state.phase === 'stopped') && (
        <div className="row">
          <progress
            className="grow"
            max={1}
            value={state.fraction}
            data-testid="local-download-progress"
            aria-label={`Download of ${state.uri}`}
          />
          <span className="muted small" data-testid="local-download-status">
            {state.total > 0
              ? `${formatBytes(state.downloaded)} of ${formatBytes(state.total)} (${Math.floor(state.fraction * 100)}%)`
              : 'starting…'}
            {state.phase === 'running' && state.speed > 0 && ` · ${formatBytes(state.speed)}/s`}
            {state.phase === 'stopped' && state.error === null && ' · cancelled, what arrived is kept'}
          </span>
          {state.phase === 'running' ? (
            <button type="button" data-testid="local-download-cancel" onClick={cancel}>
              <Square aria-hidden size={14} />
              Cancel
            </button>
          ) : (
            <button type="button" data-testid="local-download-resume" onClick={() => start(state.uri)}>
              <RotateCcw aria-hidden size={14} />
              Resume
            </button>
          )}
        </div>
      )}
      {state.phase === 'stopped' && state.error !== null && (
        <ErrorState testId="local-download-error">{state.error}</ErrorState>
      )}
      {state.phase === 'done' && (
        <p className="notice" role="status" data-testid="local-download-done">
          {state.message}
        </p>
      )}
    </div>
  );
}

/** Settings a model is loaded with, as typed. */
interface LoadSettings {
  contextSize: string;
  gpuLayers: string;
  threads: string;
}

/** Context size, GPU layers and threads for one file, with the memory that takes, before loading it. */
function LoadDialog({
  model,
  autoThreads,
  onLoad,
  onClose,
}: {
  model: ModelFile | null;
  autoThreads: number | null;
  onLoad: (
    model: ModelFile,
    settings: { context_size?: number; gpu_layers?: number | 'max'; threads?: number },
  ) => void;
  onClose: () => void;
}) {
  const [settings, setSettings] = useState<LoadSettings>({ contextSize: 'auto', gpuLayers: 'auto', threads: 'auto' });
  const [estimate, setEstimate] = useState<Estimate | null>(null);
  const [estimateError, setEstimateError] = useState<string | null>(null);
  const context = parseSetting(settings.contextSize, ['auto'], 16);
  const layers = parseSetting(settings.gpuLayers, ['auto', 'max'], 0);
  const threads = parseSetting(settings.threads, ['auto'], 1);
  const valid = context.ok && layers.ok && threads.ok;
  const contextValue = context.ok ? context.value : null;
  const layersValue = layers.ok ? layers.value : null;
  const path = model?.path ?? null;

  useEffect(() => {
    if (path === null || contextValue === null || layersValue === null) return;
    let current = true;
    setEstimateError(null);
    // Typing "4096" asks once, after the last key.
    const timer = setTimeout(() => {
      api.localModels.estimate.query({ path, context_size: contextValue, gpu_layers: layersValue }).then(
        (result) => current && setEstimate(result),
        (cause: unknown) => current && setEstimateError(describeError(cause).message),
      );
    }, 250);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [path, contextValue, layersValue]);

  const field = (key: keyof LoadSettings, label: string, hint: string, ok: boolean) => (
    <label className="field">
      <span>{label}</span>
      <input
        data-testid={`local-setting-${key}`}
        value={settings[key]}
        aria-invalid={!ok}
        onChange={(event) => setSettings({ ...settings, [key]: event.target.value })}
      />
      <span className={ok ? 'muted small' : 'error small'}>{hint}</span>
    </label>
  );
  const requested = estimate?.requested;
  return (
    <Dialog
      open={model !== null}
      title={`Load ${model?.file_name ?? ''}`}
      onClose={onClose}
      testId="local-load-dialog"
      actions={
        <>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button
            type="button"
            className="primary"
            data-testid="local-load-start"
            disabled={!valid}
            onClick={() => {
              if (model === null || !context.ok || !layers.ok || !threads.ok) return;
              onLoad(model, {
                ...(context.value === 'auto' ? {} : { context_size: context.value }),
                ...(layers.value === 'auto' ? {} : { gpu_layers: layers.value }),
                ...(threads.value === 'auto' ? {} : { threads: threads.value }),
              });
            }}
          >
            <Play aria-hidden size={16} />
            Load
          </button>
        </>
      }
    >
      <div className="load-settings">
        {field(
          'contextSize',
          'Context size',
          `"auto" (the model's own, at most 8192) or tokens${model?.context_length ? `; trained for ${model.context_length}` : ''}`,
          context.ok,
        )}
        {field('gpuLayers', 'GPU layers', '"auto", "max" or a number (0 = CPU only)', layers.ok)}
        {field(
          'threads',
          'CPU threads',
          `"auto"${autoThreads === null ? '' : ` (${autoThreads} here)`} or a number`,
          threads.ok,
        )}
      </div>
      <div className="estimate" data-testid="local-estimate" aria-live="polite">
        {estimateError !== null ? (
          <span className="error">{estimateError}</span>
        ) : requested === undefined ? (
          <span className="muted">Working out the memory it needs…</span>
        ) : (
          <>
            Needs about <strong>{formatBytes(requested.memory.ram_bytes + requested.memory.vram_bytes)}</strong> (
            {formatBytes(requested.memory.ram_bytes)} RAM
            {requested.memory.vram_bytes > 0 && `, ${formatBytes(requested.memory.vram_bytes)} VRAM`}) with a context of{' '}
            {requested.context_size} tokens and {requested.gpu_layers} of {requested.total_layers} layers on the GPU.{' '}
            {estimate?.fits ? (
              <span className="notice">That fits in the free memory.</span>
            ) : (
              <span className="error">
                That is more than is free ({formatBytes(estimate?.available.ram_free_bytes ?? 0)} RAM): lower the
                context size, or unload other models.
              </span>
            )}
          </>
        )}
      </div>
    </Dialog>
  );
}

/** The GGUF files in the models folders: what each is, load and unload it, add it to the registry, download more. */
export function LocalModelsPage() {
  const [list, setList] = useState<ModelList | null>(null);
  const [status, setStatus] = useState<Status | null>(null);
  const [gpu, setGpu] = useState<Gpu | null>(null);
  const [loading, setLoading] = useState<Record<string, number>>({});
  const [choosing, setChoosing] = useState<ModelFile | null>(null);
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

  const load = (
    model: ModelFile,
    settings: { context_size?: number; gpu_layers?: number | 'max'; threads?: number },
  ) => {
    const path = model.path;
    setChoosing(null);
    setError(null);
    setLoading((state) => ({ ...state, [path]: 0 }));
    const done = () => {
      subscriptions.current.delete(path);
      setLoading(({ [path]: _finished, ...rest }) => rest);
      refresh();
    };
    const subscription = api.localModels.load.subscribe(
      { spec: { model_name: model.file_name, backend: 'llamacpp', model_path: path, ...settings } },
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
      const name = String(saved.entry.model_name);
      setMessage(
        saved.already
          ? `"${name}" is already in your registry (entry #${saved.index}); nothing was added.`
          : `Added "${name}" to your registry (entry #${saved.index}, ${saved.file}).`,
      );
    } catch (cause) {
      fail(cause);
    }
  };

  return (
    <section className="stack">
      <h1>Local models</h1>
      {gpu === null ? (
        <div className="skeleton skeleton-line" style={{ width: 360 }} />
      ) : (
        <p className="muted" data-testid="local-gpu">
          {gpu.backend === 'cpu' ? 'CPU only' : `${gpu.backend.toUpperCase()}: ${gpu.devices.join(', ')}`} · RAM{' '}
          {formatBytes(gpu.ram.free_bytes)} free of {formatBytes(gpu.ram.total_bytes)}
          {gpu.vram !== null &&
            ` · VRAM ${formatBytes(gpu.vram.free_bytes)} free of ${formatBytes(gpu.vram.total_bytes)}`}{' '}
          · threads{' '}
          {gpu.threads.setting !== 'auto'
            ? gpu.threads.setting
            : gpu.threads.calibrations.length === 0
              ? 'auto (measured when a model first loads)'
              : `auto: ${gpu.threads.calibrations.map((entry) => `${entry.size_class} → ${entry.threads}`).join(', ')}`}
        </p>
      )}
      {error !== null && <ErrorState testId="local-error">{error}</ErrorState>}
      {message !== null && (
        <p className="notice" role="status" data-testid="local-message">
          {message}
        </p>
      )}
      <h2>Download a model</h2>
      <DownloadForm onDone={refresh} />
      <h2>Models in your folders</h2>
      {list === null ? (
        <Skeleton lines={4} testId="local-models-loading" />
      ) : list.models.length === 0 ? (
        <EmptyState title="No .gguf files in your models folders yet" testId="local-models-empty">
          Download one above, copy files into a models folder, or run <code>clemplay pull URI</code>.
        </EmptyState>
      ) : (
        <table className="table local-models">
          <thead>
            <tr>
              <th>model</th>
              <th>context</th>
              <th>size</th>
              <th className="actions">actions</th>
            </tr>
          </thead>
          <tbody>
            {list.models.map((model) => {
              const broken = model.problem !== null || model.supported === false;
              const progress = loading[model.path];
              return (
                <tr key={model.path} data-testid="local-model-row">
                  <td>
                    <div title={model.path} className="file-name">
                      {model.file_name}
                    </div>
                    <div className="muted small">
                      {[
                        model.architecture ?? 'unknown architecture',
                        `${formatParameters(model.parameter_count)} parameters`,
                        model.quantization,
                        model.has_chat_template ? 'chat template' : 'no chat template',
                      ]
                        .filter((part) => part !== null)
                        .join(' · ')}
                      {model.supported === false && <span className="error"> · unsupported here</span>}
                    </div>
                    {model.problem !== null && (
                      <div className="error small" data-testid="local-model-problem">
                        {model.problem.message}
                      </div>
                    )}
                  </td>
                  <td>{model.context_length ?? '–'}</td>
                  <td data-testid="local-model-size">{formatBytes(model.size_bytes)}</td>
                  <td className="actions">
                    <div className="actions-inner">
                      {progress === undefined ? (
                        <button
                          type="button"
                          className="primary"
                          data-testid="local-load"
                          disabled={broken}
                          title={broken ? 'This file cannot be loaded: see the message under its name.' : undefined}
                          onClick={() => setChoosing(model)}
                        >
                          <Play aria-hidden size={14} />
                          Load…
                        </button>
                      ) : (
                        <>
                          <progress max={1} value={progress} data-testid="local-load-progress" />
                          <button type="button" data-testid="local-load-cancel" onClick={() => cancel(model.path)}>
                            <X aria-hidden size={14} />
                            Cancel
                          </button>
                        </>
                      )}
                      <button
                        type="button"
                        data-testid="local-add"
                        disabled={broken}
                        onClick={() => void addToRegistry(model.path)}
                      >
                        <Plus aria-hidden size={14} />
                        Add to registry
                      </button>
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <h2>Loaded</h2>
      {status === null ? (
        <Skeleton lines={1} />
      ) : status.models.length === 0 ? (
        <p className="muted">No model is loaded.</p>
      ) : (
        <table className="table">
          <tbody>
            {status.models.map((model) => (
              <tr key={model.id} data-testid="local-loaded-row">
                <td title={model.path}>{model.file_name}</td>
                <td data-testid="local-loaded-state">{model.state}</td>
                <td>{model.resolved === null ? '' : `context ${model.resolved.context_size}`}</td>
                <td>{formatBytes(model.memory.ram_bytes + model.memory.vram_bytes)}</td>
                <td className="actions">
                  <button type="button" data-testid="local-unload" onClick={() => unload(model.id)}>
                    <Square aria-hidden size={14} />
                    Unload
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Models folders</h2>
      <Folders folders={list?.folders ?? []} onSaved={refresh} onError={fail} />
      <LoadDialog
        key={choosing?.path ?? 'closed'}
        model={choosing}
        autoThreads={gpu?.cpu.auto_threads ?? null}
        onLoad={load}
        onClose={() => setChoosing(null)}
      />
    </section>
  );
}
