import { useEffect, useRef, useState } from 'react';
import { api, describeError } from '../api/client';

type Info = Awaited<ReturnType<typeof api.app.info.query>>;

/** A live connection check: ticks stream from main until stopped, proving streaming and cancellation. */
function Ticks() {
  const [count, setCount] = useState(0);
  const [running, setRunning] = useState(false);
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
  useEffect(() => () => subscription.current?.unsubscribe(), []);

  return (
    <div className="row">
      <button type="button" data-testid="ticks-start" onClick={start} disabled={running}>
        Start ticks
      </button>
      <button type="button" data-testid="ticks-stop" onClick={stop} disabled={!running}>
        Stop
      </button>
      <span data-testid="ticks-count">{count}</span>
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
      <h2>Connection check</h2>
      <Ticks />
    </section>
  );
}
