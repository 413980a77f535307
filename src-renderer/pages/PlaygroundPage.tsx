import { useState } from 'react';
import { api, describeError } from '../api/client';
import { SpecEditor } from '../components/SpecEditor';

type Explanation = Awaited<ReturnType<typeof api.spec.explain.query>>;

function show(value: unknown): string {
  return JSON.stringify(value);
}

/** Type a spec, see what it resolves to and why: every entry's verdict, the bindings, where each key came from. */
export function PlaygroundPage() {
  const [query, setQuery] = useState('{"model_name": "gpt-4o-mini", "temperature": 0}');
  const [explanation, setExplanation] = useState<Explanation | null>(null);
  const [error, setError] = useState<string | null>(null);

  const resolve = async () => {
    setError(null);
    try {
      setExplanation(await api.spec.explain.query(query));
    } catch (cause) {
      setExplanation(null);
      const { code, message } = describeError(cause);
      setError(`${code}: ${message}`);
    }
  };

  const result = explanation?.result;
  return (
    <section className="stack">
      <h1>Playground</h1>
      <div className="stack">
        <span className="muted">A model name, or a JSON spec</span>
        <SpecEditor value={query} onChange={setQuery} onSubmit={() => void resolve()} testId="playground-query" />
      </div>
      <div className="row">
        <button type="button" data-testid="playground-resolve" onClick={() => void resolve()}>
          Resolve
        </button>
        <span className="muted">Ctrl+Enter</span>
      </div>
      {error !== null && (
        <p role="alert" className="error" data-testid="playground-error">
          {error}
        </p>
      )}
      {result !== undefined && !result.ok && (
        <p role="alert" className="error" data-testid="playground-error">
          no-match: {result.error.message}
        </p>
      )}
      {result?.ok && (
        <div className="stack" data-testid="playground-result">
          <h2>Result</h2>
          <p className="muted" data-testid="playground-source">
            {result.match === null
              ? 'No entry matched; the query names a backend, so it is used as it is.'
              : `From ${result.match.lookupSource === 'official' ? 'the official registry' : result.match.file}, entry #${result.match.index}.`}
          </p>
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
                <span className="muted">
                  {verdict.lookupSource === 'official' ? 'official' : verdict.file} #{verdict.index}
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
