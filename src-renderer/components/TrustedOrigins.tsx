import { useState } from 'react';
import { api } from '../api/client';
import { useApiList } from '../use-api-list';

type TrustedOrigin = Awaited<ReturnType<typeof api.credentials.trustedOrigins.query>>[number];

function describeSources(origin: TrustedOrigin): string {
  const reasons = origin.sources.map((source) =>
    source.kind === 'built-in' ? 'built in' : source.kind === 'settings' ? 'added by you' : (source.path ?? ''),
  );
  return [...new Set(reasons)].join(', ');
}

/**
 * The servers backend-wide API keys may be sent to, and a way to add or remove the user's own. Others (such as one a
 * working-folder registry names) are asked without the key, or refused for backend openai.
 */
export function TrustedOrigins() {
  const { items: origins, error, run } = useApiList<TrustedOrigin>(() => api.credentials.trustedOrigins.query());
  const [draft, setDraft] = useState('');

  return (
    <div className="stack" data-testid="trusted-origins">
      <p className="muted">Keys not stored for one server go only to these servers.</p>
      {error !== null && (
        <p role="alert" className="error" data-testid="trusted-origin-error">
          {error}
        </p>
      )}
      <table className="table">
        <tbody>
          {origins.map((origin) => (
            <tr key={origin.origin} data-testid="trusted-origin-row">
              <td data-testid="trusted-origin">{origin.origin}</td>
              <td className="muted">{describeSources(origin)}</td>
              <td>
                {origin.sources.some((source) => source.kind === 'settings') && (
                  <button
                    type="button"
                    data-testid="trusted-origin-remove"
                    onClick={() => void run(() => api.credentials.distrustOrigin.mutate({ origin: origin.origin }))}
                  >
                    Remove
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="row"
        onSubmit={(event) => {
          event.preventDefault();
          const origin = draft;
          setDraft('');
          void run(() => api.credentials.trustOrigin.mutate({ origin }));
        }}
      >
        <input
          placeholder="https://host:port"
          data-testid="trusted-origin-input"
          value={draft}
          onChange={(event) => setDraft(event.target.value)}
        />
        <button type="submit" data-testid="trusted-origin-add" disabled={draft.trim() === ''}>
          Trust
        </button>
      </form>
    </div>
  );
}
