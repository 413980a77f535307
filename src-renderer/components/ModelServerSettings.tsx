import { Check, Copy } from 'lucide-react';
import { useEffect } from 'react';
import { defaultApiPort } from '../../src-shared/model-server';
import type { ModelServerStoreState } from '../model-server-store';
import { useModelServerStore } from '../model-server';
import { ErrorState } from './states';

type ServedRequest = ModelServerStoreState['requests'][number];

function statusText(request: ServedRequest): string {
  switch (request.status) {
    case 'opening':
      return 'loading model';
    case 'queued':
      return `queued (#${request.queue_position ?? '?'})`;
    case 'error':
      return `error ${request.http_status ?? ''}`.trim();
    default:
      return request.status;
  }
}

/**
 * "Serve models to other apps": the OpenAI-compatible API server in main, its URL, its key (masked; copied only on
 * request) and the requests it serves, live.
 */
export function ModelServerSettings() {
  const { status, requests, portText, busy, error, copied, setPortText, setRunning, copyKey } = useModelServerStore();
  useEffect(() => useModelServerStore.getState().watch(), []);
  const running = status?.running === true;

  return (
    <div className="stack" data-testid="model-server">
      <div className="row">
        <label className="row">
          <input
            type="checkbox"
            role="switch"
            data-testid="model-server-switch"
            checked={running}
            disabled={busy || status === null}
            onChange={(event) => void setRunning(event.target.checked)}
          />
          Serve models to other apps
        </label>
        <label className="row">
          Port
          <input
            inputMode="numeric"
            size={6}
            data-testid="model-server-port"
            placeholder={String(defaultApiPort)}
            disabled={running || busy}
            value={portText}
            onChange={(event) => setPortText(event.target.value)}
          />
        </label>
      </div>
      {error !== null && <ErrorState testId="model-server-error">{error}</ErrorState>}
      {running && (
        <dl className="facts">
          <dt>URL</dt>
          <dd data-testid="model-server-url">{status.url}</dd>
          <dt>API key</dt>
          <dd className="row">
            <code data-testid="model-server-key">{status.key_hint}</code>
            <button
              type="button"
              data-testid="model-server-copy"
              onClick={() => void copyKey((text) => navigator.clipboard.writeText(text))}
            >
              {copied ? <Check aria-hidden size={14} /> : <Copy aria-hidden size={14} />}
              {copied ? 'Copied' : 'Copy'}
            </button>
          </dd>
        </dl>
      )}
      <p className="muted">
        Any OpenAI client can use every registry model: give it the URL as its base URL and the key as its API key; the
        model is a registry name or a JSON spec.
      </p>
      {requests.length > 0 && (
        <table className="table" data-testid="model-server-requests">
          <thead>
            <tr>
              <th>Model</th>
              <th>Client</th>
              <th>Tokens</th>
              <th>Tokens/s</th>
              <th>Status</th>
            </tr>
          </thead>
          <tbody>
            {requests.map((request) => (
              <tr key={request.id} data-testid="model-server-request">
                <td>{request.model}</td>
                <td>{request.client}</td>
                <td>{request.output_tokens ?? '–'}</td>
                <td>{request.tokens_per_second === null ? '–' : request.tokens_per_second.toFixed(1)}</td>
                <td data-testid="model-server-request-status" title={request.error ?? undefined}>
                  {statusText(request)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
