import { useEffect, useState } from 'react';
import { isJsonObject, type JsonObject } from '../../src-shared/json';
import { api, describeError } from '../api/client';
import { SpecEditor } from '../components/SpecEditor';
import { useAppStore } from '../store';

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** What the editor holds: an existing entry (its place and the file version it was read at) or a new one. */
type Editing =
  { kind: 'existing'; file: string; index: number; version: string | undefined; official: boolean } | { kind: 'new' };

const newEntryTemplate = `{
  "model_name": "my-model",
  "backend": "openai_compatible",
  "model_id": "my-model",
  "base_url": "http://127.0.0.1:8080/v1"
}`;

export function RegistryPage() {
  const { rows, files, loading, error } = useAppStore((state) => state.registry);
  const loadRegistry = useAppStore((state) => state.loadRegistry);
  const [editing, setEditing] = useState<Editing | null>(null);
  const [draft, setDraft] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  /** An edit is on its way: no other edit, and no switching entries, until it is done. */
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    void loadRegistry();
  }, [loadRegistry]);

  const versionOf = (file: string) => files.find((entry) => entry.path === file)?.version ?? undefined;
  const open = (row: (typeof rows)[number]) => {
    if (busy) return;
    setProblem(null);
    setNotice(null);
    setEditing({
      kind: 'existing',
      file: row.file,
      index: row.index,
      version: versionOf(row.file),
      official: row.lookupSource === 'official',
    });
    setDraft(JSON.stringify(row.entry, null, 2));
  };
  /**
   * Runs an edit; on success the editor follows the entry to where it now is and shows it as stored (a duplicate or
   * a move does not carry unsaved changes along).
   */
  const run = async (action: () => Promise<{ file: string; index: number } | null>, done: string) => {
    if (busy) return;
    setBusy(true);
    setProblem(null);
    try {
      const place = await action();
      setNotice(done);
      await loadRegistry();
      if (place === null) {
        setEditing(null);
        return;
      }
      const latest = useAppStore.getState().registry;
      const version = latest.files.find((file) => file.path === place.file)?.version ?? undefined;
      const row = latest.rows.find((entry) => entry.file === place.file && entry.index === place.index);
      setEditing({ kind: 'existing', file: place.file, index: place.index, version, official: false });
      if (row !== undefined) setDraft(JSON.stringify(row.entry, null, 2));
    } catch (cause) {
      const { code, message } = describeError(cause);
      setProblem(`${code}: ${message}`);
    } finally {
      setBusy(false);
    }
  };
  const parsedDraft = (): JsonObject | null => {
    try {
      const value: unknown = JSON.parse(draft);
      if (isJsonObject(value)) return value;
      setProblem('invalid-spec: an entry is a JSON object');
    } catch (cause) {
      setProblem(`invalid-spec: ${cause instanceof Error ? cause.message : String(cause)}`);
    }
    return null;
  };
  const save = () => {
    const entry = parsedDraft();
    if (entry === null || editing === null) return;
    if (editing.kind === 'new') {
      void run(() => api.registry.save.mutate({ entry }), 'Saved to your registry.');
    } else {
      const { file, index, version } = editing;
      const where = editing.official ? 'Saved as an override at the top of your registry.' : 'Saved.';
      void run(() => api.registry.save.mutate({ file, index, entry, ...(version ? { version } : {}) }), where);
    }
  };
  const move = (direction: 'up' | 'down') => {
    if (editing?.kind !== 'existing') return;
    const { file } = editing;
    void run(async () => {
      const moved = await api.registry.move.mutate({ ...address()!, direction });
      return { file, index: moved.index };
    }, `Moved ${direction}.`);
  };
  const address = () =>
    editing?.kind === 'existing'
      ? { file: editing.file, index: editing.index, ...(editing.version ? { version: editing.version } : {}) }
      : null;

  return (
    <section className="stack">
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
      <div className="row">
        <button
          type="button"
          data-testid="registry-new"
          onClick={() => {
            setProblem(null);
            setNotice(null);
            setEditing({ kind: 'new' });
            setDraft(newEntryTemplate);
          }}
        >
          New entry
        </button>
        <span className="muted">Click an entry to edit it. Earlier entries win lookups.</span>
      </div>
      {editing !== null && (
        <div className="stack editor-panel" data-testid="registry-editor">
          <strong>
            {editing.kind === 'new'
              ? 'New entry (saved to your registry)'
              : `${editing.official ? 'official' : editing.file} #${editing.index}${editing.official ? ' — read-only; saving makes an override in your registry' : ''}`}
          </strong>
          <SpecEditor
            kind="entry"
            height={180}
            value={draft}
            onChange={setDraft}
            onSubmit={save}
            testId="registry-entry-editor"
          />
          <div className="row">
            <button type="button" data-testid="registry-save" disabled={busy} onClick={save}>
              Save
            </button>
            {editing.kind === 'existing' && (
              <>
                <button
                  type="button"
                  data-testid="registry-duplicate"
                  disabled={busy}
                  onClick={() => void run(() => api.registry.duplicate.mutate(address()!), 'Duplicated.')}
                >
                  Duplicate
                </button>
                {!editing.official && (
                  <>
                    <button type="button" data-testid="registry-move-up" disabled={busy} onClick={() => move('up')}>
                      Move up
                    </button>
                    <button type="button" data-testid="registry-move-down" disabled={busy} onClick={() => move('down')}>
                      Move down
                    </button>
                    <button
                      type="button"
                      data-testid="registry-delete"
                      disabled={busy}
                      onClick={() =>
                        void run(async () => {
                          await api.registry.delete.mutate(address()!);
                          return null;
                        }, 'Deleted (the previous file is kept as .bak).')
                      }
                    >
                      Delete
                    </button>
                  </>
                )}
              </>
            )}
            <button type="button" onClick={() => setEditing(null)}>
              Close
            </button>
          </div>
          {problem !== null && (
            <p role="alert" className="error" data-testid="registry-edit-error">
              {problem}
            </p>
          )}
        </div>
      )}
      {notice !== null && (
        <p className="muted" data-testid="registry-notice">
          {notice}
        </p>
      )}
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
            <tr
              key={`${row.file}:${row.index}`}
              data-testid="registry-row"
              className={
                editing?.kind === 'existing' && editing.file === row.file && editing.index === row.index
                  ? 'clickable selected'
                  : 'clickable'
              }
              onClick={() => open(row)}
            >
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
