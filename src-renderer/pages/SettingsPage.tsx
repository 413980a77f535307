import { KeyRound, Monitor, Moon, Play, Square, Sun, Trash2 } from 'lucide-react';
import { useEffect, useRef, useState } from 'react';
import { api, describeError } from '../api/client';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ModelServerSettings } from '../components/ModelServerSettings';
import { ErrorState } from '../components/states';
import type { ThemePreference } from '../theme';
import { useThemeStore } from '../theme-store';
import { TrustedOrigins } from '../components/TrustedOrigins';
import { useApiList } from '../use-api-list';

type Info = Awaited<ReturnType<typeof api.app.info.query>>;
type KeyStatus = Awaited<ReturnType<typeof api.credentials.status.query>>[number];

/** Where a key comes from, in plain words. */
function describeSource(status: KeyStatus): string {
  switch (status.source) {
    case 'safe-storage':
      return "stored encrypted in your system's key store";
    case 'environment':
      return `from the environment variable ${status.location ?? ''}`.trimEnd();
    case 'key-json':
      return `from clemcore's key.json${status.location === null ? '' : ` (${status.location})`}`;
    case 'config-file':
      return 'stored in a file readable only by you';
    default:
      return 'set';
  }
}

/** Light, dark, or whatever the system uses. */
function ThemeSwitch() {
  const preference = useThemeStore((state) => state.preference);
  const setPreference = useThemeStore((state) => state.setPreference);
  const choices: { value: ThemePreference; label: string; Icon: typeof Sun }[] = [
    { value: 'system', label: 'System', Icon: Monitor },
    { value: 'light', label: 'Light', Icon: Sun },
    { value: 'dark', label: 'Dark', Icon: Moon },
  ];
  return (
    <div className="segmented" role="radiogroup" aria-label="Theme" data-testid="theme-switch">
      {choices.map(({ value, label, Icon }) => (
        <label key={value}>
          <input
            type="radio"
            name="theme"
            value={value}
            data-testid={`theme-${value}`}
            checked={preference === value}
            onChange={() => setPreference(value)}
          />
          <Icon aria-hidden size={16} />
          {label}
        </label>
      ))}
    </div>
  );
}

/** API keys per backend: set, replace or clear one; the page only ever sees "set", the source and the last 4. */
function ApiKeys() {
  const { items: statuses, error, run } = useApiList<KeyStatus>(() => api.credentials.status.query());
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const [clearing, setClearing] = useState<KeyStatus | null>(null);

  return (
    <div className="stack">
      {error !== null && <ErrorState testId="key-error">{error}</ErrorState>}
      <table className="table">
        <tbody>
          {statuses.map((status) => {
            const id = `${status.backend}${status.baseUrl ? `@${status.baseUrl}` : ''}`;
            return (
              <tr key={id} data-testid={`key-row-${status.backend}`}>
                <td>{id}</td>
                <td data-testid={`key-status-${status.backend}`}>
                  {status.set ? `set (${status.hint ?? '…'}), ${describeSource(status)}` : 'not set'}
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
                      <KeyRound aria-hidden size={14} />
                      Save
                    </button>
                    <button
                      type="button"
                      className="danger"
                      data-testid={`key-clear-${status.backend}`}
                      disabled={!status.set}
                      onClick={() => setClearing(status)}
                    >
                      <Trash2 aria-hidden size={14} />
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
      <ConfirmDialog
        open={clearing !== null}
        title={`Clear the ${clearing?.backend ?? ''} key?`}
        confirmLabel="Clear key"
        danger
        testId="key-clear-confirm"
        onCancel={() => setClearing(null)}
        onConfirm={() => {
          const status = clearing;
          setClearing(null);
          if (status === null) return;
          void run(() =>
            api.credentials.clear.mutate({
              backend: status.backend,
              ...(status.baseUrl ? { base_url: status.baseUrl } : {}),
            }),
          );
        }}
      >
        <p>
          clemplay forgets this key. Models on {clearing?.backend} will not answer until you set a key again; keep a
          copy if you still need it.
        </p>
      </ConfirmDialog>
    </div>
  );
}

/**
 * A live connection check: numbers stream from clemplay's main process until stopped, which shows that streaming
 * works and that stopping really stops it there.
 */
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
        <Play aria-hidden size={14} />
        Start
      </button>
      <button type="button" data-testid="ticks-stop" onClick={stop} disabled={!running}>
        <Square aria-hidden size={14} />
        Stop
      </button>
      <button type="button" data-testid="ticks-check" onClick={check}>
        Ask clemplay what runs
      </button>
      <span>
        messages received: <span data-testid="ticks-count">{count}</span>
      </span>
      {serverTicks !== null && (
        <span className="muted" data-testid="ticks-server">
          checks running in clemplay: {serverTicks}
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
      <h2>Appearance</h2>
      <ThemeSwitch />
      <h2>About</h2>
      {error !== null && <ErrorState>{error}</ErrorState>}
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
      <h3>Trusted servers</h3>
      <TrustedOrigins />
      <h2>Serve models to other apps</h2>
      <ModelServerSettings />
      <h2>Connection check</h2>
      <p className="muted">
        Streams a message a few times a second from clemplay to this page. Stop must end it in clemplay too: “Ask
        clemplay what runs” then says 0.
      </p>
      <Ticks />
    </section>
  );
}
