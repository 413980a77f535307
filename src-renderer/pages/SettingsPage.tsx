import { useEffect, useRef, useState } from 'react';
import { api, describeError } from '../api/client';
import { ModelServerSettings } from '../components/ModelServerSettings';

type Info = Awaited<ReturnType<typeof api.app.info.query>>;
type KeyStatus = Awaited<ReturnType<typeof api.credentials.status.query>>[number];

/** API keys per backend: set, replace or clear one; the page only ever sees "set", the source and the last 4. */
function ApiKeys() {
  const [statuses, setStatuses] = useState<KeyStatus[]>([]);
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const refresh = () =>
    api.credentials.status.query().then(setStatuses, (cause: unknown) => setError(describeError(cause).message));
  useEffect(() => {
    void refresh();
  }, []);

  const run = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
    } catch (cause) {
      setError(describeError(cause).message);
    }
    await refresh();
  };

  return (
    <div className="stack">
      {error !== null && (
        <p role="alert" className="error" data-testid="key-error">
          {error}
        </p>
      )}
      <table className="table">
        <tbody>
          {statuses.map((status) => {
            const id = `${status.backend}${status.baseUrl ? `@${status.baseUrl}` : ''}`;
            return (
              <tr key={id} data-testid={`key-row-${status.backend}`}>
                <td>{id}</td>
                <td data-testid={`key-status-${status.backend}`}>
                  {status.set ? `set (${status.hint ?? '…'}) from ${status.source}` : 'not set'}
                </td>
                <td>
                  <form
                    className="row"
                    onSubmit={(event) => {
                      event.preventDefault();
                      const key = drafts[id] ?? '';
                      setDrafts({ ...drafts, [id]: '' });
                      void run(() =>
                        api.credentials.set.mutate({
                          backend: status.backend,
                          key,
                          ...(status.baseUrl ? { base_url: status.baseUrl } : {}),
                        }),
                      );
                    }}
                  >
                    <input
                      type="password"
                      autoComplete="off"
                      placeholder="API key"
                      data-testid={`key-input-${status.backend}`}
                      value={drafts[id] ?? ''}
                      onChange={(event) => setDrafts({ ...drafts, [id]: event.target.value })}
                    />
                    <button type="submit" data-testid={`key-save-${status.backend}`} disabled={!drafts[id]}>
                      Save
                    </button>
                    <button
                      type="button"
                      data-testid={`key-clear-${status.backend}`}
                      disabled={!status.set}
                      onClick={() =>
                        void run(() =>
                          api.credentials.clear.mutate({
                            backend: status.backend,
                            ...(status.baseUrl ? { base_url: status.baseUrl } : {}),
                          }),
                        )
                      }
                    >
                      Clear
                    </button>
                  </form>
                  {status.warnings.map((warning) => (
                    <div key={warning} className="error">
                      {warning}
                    </div>
                  ))}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** A live connection check: ticks stream from main until stopped, proving streaming and cancellation. */
function Ticks() {
  const [count, setCount] = useState(0);
  const [running, setRunning] = useState(false);
  const [serverTicks, setServerTicks] = useState<number | null>(null);
  const subscription = useRef<{ unsubscribe(): void } | null>(null);

  const start = () => {
    setCount(0);
    setRunning(true);
    subscription.current = api.app.ticks.subscribe(
      { intervalMs: 200 },
      { onData: (tick) => setCount(tick.count), onError: () => setRunning(false) },
    );
  };
  const stop = () => {
    subscription.current?.unsubscribe();
    subscription.current = null;
    setRunning(false);
  };
  // Asks main how many tick streams it still runs: after Stop it must be none.
  const check = () => {
    api.app.info.query().then(
      (info) => setServerTicks(info.activeTicks),
      () => setServerTicks(null),
    );
  };
  useEffect(() => () => subscription.current?.unsubscribe(), []);

  return (
    <div className="row">
      <button type="button" data-testid="ticks-start" onClick={start} disabled={running}>
        Start ticks
      </button>
      <button type="button" data-testid="ticks-stop" onClick={stop} disabled={!running}>
        Stop
      </button>
      <button type="button" data-testid="ticks-check" onClick={check}>
        Ask main
      </button>
      <span data-testid="ticks-count">{count}</span>
      {serverTicks !== null && (
        <span className="muted" data-testid="ticks-server">
          running in main: {serverTicks}
        </span>
      )}
      <span className="muted" data-testid="ticks-state">
        {running ? 'running' : 'stopped'}
      </span>
    </div>
  );
}

export function SettingsPage() {
  const [info, setInfo] = useState<Info | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.app.info.query().then(setInfo, (cause: unknown) => setError(describeError(cause).message));
  }, []);

  return (
    <section>
      <h1>Settings</h1>
      <h2>About</h2>
      {error !== null && <p className="error">{error}</p>}
      {info !== null && (
        <dl className="facts" data-testid="app-info">
          <dt>Version</dt>
          <dd>{info.version}</dd>
          <dt>Platform</dt>
          <dd>{info.platform}</dd>
          <dt>Transport</dt>
          <dd data-testid="app-transport">{info.transport}</dd>
        </dl>
      )}
      <h2>API keys</h2>
      <ApiKeys />
      <h2>Serve models to other apps</h2>
      <ModelServerSettings />
      <h2>Connection check</h2>
      <Ticks />
    </section>
  );
}
