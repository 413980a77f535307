import { Columns2, Gamepad2, MessagesSquare, Play } from 'lucide-react';
import { useEffect, useState } from 'react';
import { api, describeFailure } from '../api/client';
import { SpecEditor } from '../components/SpecEditor';
import { EmptyState, ErrorState } from '../components/states';
import { placeName } from '../registry-places';
import { withModelName } from '../spec-text';
import { openWithModel, useAppStore } from '../store';

type Explanation = Awaited<ReturnType<typeof api.spec.explain.query>>;

function show(value: unknown): string {
  return JSON.stringify(value);
}

/** Type a spec, see what it resolves to and why: every entry's verdict, the bindings, where each key came from. */
export function PlaygroundPage() {
  const query = useAppStore((state) => state.playgroundQuery);
  const setQuery = useAppStore((state) => state.setPlaygroundQuery);
  const files = useAppStore((state) => state.registry.files);
  const loadRegistry = useAppStore((state) => state.loadRegistry);
  const [explanation, setExplanation] = useState<Explanation | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [hint, setHint] = useState<string | null>(null);
  useEffect(() => {
    // Entries are named by their files ("your registry #0"): the file list comes with the registry.
    if (useAppStore.getState().registry.files.length === 0) void loadRegistry();
  }, [loadRegistry]);

  const resolve = async (text = query) => {
    setError(null);
    setHint(null);
    if (text.trim() === '') {
      setExplanation(null);
      setHint(
        'Type a model name, such as gpt-4o-mini, or a JSON spec such as {"model_name": "gpt-4o", "temperature": 0}.',
      );
      return;
    }
    try {
      setExplanation(await api.spec.explain.query(text));
    } catch (cause) {
      setExplanation(null);
      setError(describeFailure(cause));
    }
  };

  const result = explanation?.result;
  const suggestion = result !== undefined && !result.ok ? result.error.suggestion : null;
  return (
    <section className="stack">
      <h1>Playground</h1>
      <div className="stack">
        <span className="muted">A model name, or a JSON spec</span>
        <SpecEditor value={query} onChange={setQuery} onSubmit={() => void resolve()} testId="playground-query" />
      </div>
      <div className="row">
        <button type="button" className="primary" data-testid="playground-resolve" onClick={() => void resolve()}>
          <Play aria-hidden size={16} />
          Resolve
        </button>
        <span className="muted">Ctrl+Enter</span>
      </div>
      {hint !== null && (
        <p className="muted" role="status" data-testid="playground-hint">
          {hint}
        </p>
      )}
      {error !== null && <ErrorState testId="playground-error">{error}</ErrorState>}
      {result !== undefined && !result.ok && (
        <ErrorState testId="playground-error">
          no-match: {result.error.message}
          {suggestion !== null && (
            <div className="row" data-testid="playground-suggestion">
              Did you mean
              <button
                type="button"
                onClick={() => {
                  const next = withModelName(query, suggestion);
                  setQuery(next);
                  void resolve(next);
                }}
              >
                {suggestion}
              </button>
              ?
            </div>
          )}
        </ErrorState>
      )}
      {explanation === null && error === null && hint === null && (
        <EmptyState title="Nothing resolved yet" testId="playground-empty">
          Type a model name or a JSON spec and press Resolve (Ctrl+Enter): you see the spec it resolves to, the entry it
          came from, and why every other entry did or did not match. Then chat with it, pair it or let it play a game.
        </EmptyState>
      )}
      {result?.ok && (
        <div className="stack" data-testid="playground-result">
          <h2>Result</h2>
          <p className="muted" data-testid="playground-source">
            {result.match === null
              ? 'No entry matched; the query names a backend, so it is used as it is.'
              : `From ${placeName(result.match.lookupSource, result.match.index, files)} (${result.match.file}).`}
          </p>
          <div className="row" aria-label="Use this spec">
            <button type="button" data-testid="playground-chat" onClick={() => openWithModel('chat', query)}>
              <MessagesSquare aria-hidden size={16} />
              Chat with this
            </button>
            <button type="button" data-testid="playground-pair" onClick={() => openWithModel('pair', query)}>
              <Columns2 aria-hidden size={16} />
              Pair with…
            </button>
            <button type="button" data-testid="playground-games" onClick={() => openWithModel('games', query)}>
              <Gamepad2 aria-hidden size={16} />
              Play a game
            </button>
          </div>
          <pre className="code" data-testid="playground-spec">
            {JSON.stringify(result.finalSpec, null, 2)}
          </pre>
          <dl className="facts">
            <dt>Keys from the query</dt>
            <dd data-testid="playground-from-query">{result.provenance.fromQuery.join(', ') || '(none)'}</dd>
            <dt>Keys from the entry</dt>
            <dd data-testid="playground-from-entry">{result.provenance.fromEntry.join(', ') || '(none)'}</dd>
            <dt>Variables</dt>
            <dd>
              {Object.entries(result.provenance.bindings)
                .map(([name, value]) => `${name} = ${show(value)}`)
                .join(', ') || '(none)'}
            </dd>
          </dl>
        </div>
      )}
      {explanation !== null && (
        <div className="stack">
          <h2>Every entry, in lookup order</h2>
          <ol className="verdicts">
            {explanation.verdicts.map((verdict, position) => (
              <li
                key={`${verdict.file}:${verdict.index}`}
                data-testid="playground-verdict"
                className={verdict.matched ? (position === explanation.winner ? 'winner' : 'matched') : 'conflict'}
              >
                <span>{verdict.matched ? (position === explanation.winner ? '✓ wins' : '✓') : '✗'}</span>{' '}
                <strong>{show(verdict.model_name)}</strong>{' '}
                <span className="muted" data-testid="playground-verdict-place">
                  {placeName(verdict.lookupSource, verdict.index, files)}
                </span>
                {!verdict.matched && (
                  <span className="muted">
                    {' '}
                    — {verdict.path}: {show(verdict.left)} ≠ {show(verdict.right)}
                  </span>
                )}
              </li>
            ))}
          </ol>
        </div>
      )}
    </section>
  );
}
