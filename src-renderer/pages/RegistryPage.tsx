import { useEffect } from 'react';
import { useAppStore } from '../store';

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function RegistryPage() {
  const { rows, files, loading, error } = useAppStore((state) => state.registry);
  const loadRegistry = useAppStore((state) => state.loadRegistry);
  useEffect(() => {
    void loadRegistry();
  }, [loadRegistry]);

  return (
    <section>
      <h1>Registry</h1>
      {error !== null && (
        <p role="alert" className="error" data-testid="registry-error">
          {error}
        </p>
      )}
      {files
        .filter((file) => file.status === 'error')
        .map((file) => (
          <p key={file.path} role="alert" className="error" data-testid="registry-file-problem">
            {file.problem?.message}
            {file.usingLastGood ? ' — its last good version is still in use.' : ''}
          </p>
        ))}
      {loading && rows.length === 0 && <p className="muted">Loading…</p>}
      <table className="table">
        <thead>
          <tr>
            <th>#</th>
            <th>model_name</th>
            <th>backend</th>
            <th>source</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={`${row.file}:${row.index}`} data-testid="registry-row">
              <td className="muted">{row.index}</td>
              <td data-testid="registry-model-name">{text(row.entry.model_name)}</td>
              <td data-testid="registry-backend">{text(row.entry.backend)}</td>
              <td className="muted" title={row.file}>
                {row.lookupSource === 'official' ? 'official' : row.file.split(/[\\/]/).slice(-2).join('/')}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
