import { ArrowDown, ArrowUp, Copy, Plus, Save, Trash2, X } from 'lucide-react';
import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { isJsonObject, type JsonObject } from '../../src-shared/json';
import { api, describeFailure } from '../api/client';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { SpecEditor } from '../components/SpecEditor';
import { EmptyState, ErrorState, Skeleton } from '../components/states';
import { overriddenOfficialEntries, placeName } from '../registry-places';
import { useAppStore } from '../store';

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** What the editor holds: an existing entry (its place and the file version it was read at) or a new one. */
type Editing =
  { kind: 'existing'; file: string; index: number; version: string | undefined; official: boolean } | { kind: 'new' };

/** What to do once the user has agreed to drop unsaved changes. */
type Pending = { action: () => void; what: string } | null;

const newEntryTemplate = `{
  "model_name": "my-model",
  "backend": "openai_compatible",
  "model_id": "my-model",
  "base_url": "http://127.0.0.1:8080/v1"
}`;

/** Moves keyboard focus to the next or previous registry row. */
function focusSibling(event: KeyboardEvent<HTMLTableRowElement>, step: 1 | -1): void {
  const rows = [
    ...(event.currentTarget.parentElement?.querySelectorAll<HTMLElement>('[data-testid="registry-row"]') ?? []),
  ];
  const next = rows[rows.indexOf(event.currentTarget) + step];
  if (next === undefined) return;
  event.preventDefault();
  next.focus();
}

export function RegistryPage() {
  const { rows, files, loading, error } = useAppStore((state) => state.registry);
  const loadRegistry = useAppStore((state) => state.loadRegistry);
  const [editing, setEditing] = useState<Editing | null>(null);
  const [draft, setDraft] = useState('');
  /** The text the editor opened with (or was last saved as): the draft differs from it when there are changes. */
  const [original, setOriginal] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [warnings, setWarnings] = useState<string[]>([]);
  const [pending, setPending] = useState<Pending>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  /** An edit is on its way: no other edit, and no switching entries, until it is done. */
  const [busy, setBusy] = useState(false);
  const panel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    void loadRegistry();
  }, [loadRegistry]);

  const dirty = editing !== null && draft !== original;
  const overridden = useMemo(() => overriddenOfficialEntries(rows, files), [rows, files]);
  const fileLength = (file: string) => rows.filter((row) => row.file === file).length;
  const versionOf = (file: string) => files.find((entry) => entry.path === file)?.version ?? undefined;
  const where =
    editing?.kind === 'existing'
      ? placeName(rows.find((row) => row.file === editing.file)?.lookupSource ?? editing.file, editing.index, files)
      : null;

  const show = (next: Editing, content: string) => {
    setProblem(null);
    setNotice(null);
    setWarnings([]);
    setEditing(next);
    setDraft(content);
    setOriginal(content);
    // The panel can be far from the clicked row (a long list, a narrow window): bring it into view.
    requestAnimationFrame(() => panel.current?.scrollIntoView({ block: 'nearest', behavior: 'smooth' }));
  };
  /** Runs `action` now, or after the user agrees to drop the unsaved changes. */
  const leaveEditor = (action: () => void, what: string) => {
    if (dirty) setPending({ action, what });
    else action();
  };
  const open = (row: (typeof rows)[number]) => {
    if (busy) return;
    if (editing?.kind === 'existing' && editing.file === row.file && editing.index === row.index) return;
    leaveEditor(
      () =>
        show(
          {
            kind: 'existing',
            file: row.file,
            index: row.index,
            version: versionOf(row.file),
            official: row.lookupSource === 'official',
          },
          JSON.stringify(row.entry, null, 2),
        ),
      `open ${placeName(row.lookupSource, row.index, files)}`,
    );
  };
  /**
   * Runs an edit; on success the editor follows the entry to where it now is and shows it as stored (a duplicate or
   * a move does not carry unsaved changes along).
   */
  const run = async (
    action: () => Promise<{ file: string; index: number; warnings?: string[] } | null>,
    done: string,
  ) => {
    if (busy) return;
    setBusy(true);
    setProblem(null);
    setWarnings([]);
    try {
      const place = await action();
      setNotice(done);
      setWarnings(place?.warnings ?? []);
      await loadRegistry();
      if (place === null) {
        setEditing(null);
        return;
      }
      const latest = useAppStore.getState().registry;
      const version = latest.files.find((file) => file.path === place.file)?.version ?? undefined;
      const row = latest.rows.find((entry) => entry.file === place.file && entry.index === place.index);
      setEditing({ kind: 'existing', file: place.file, index: place.index, version, official: false });
      if (row !== undefined) {
        const stored = JSON.stringify(row.entry, null, 2);
        setDraft(stored);
        setOriginal(stored);
      }
    } catch (cause) {
      setProblem(describeFailure(cause));
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
      const done = editing.official ? 'Saved as an override at the top of your registry.' : 'Saved.';
      void run(() => api.registry.save.mutate({ file, index, entry, ...(version ? { version } : {}) }), done);
    }
  };
  const address = () =>
    editing?.kind === 'existing'
      ? { file: editing.file, index: editing.index, ...(editing.version ? { version: editing.version } : {}) }
      : null;
  const move = (direction: 'up' | 'down') => {
    const at = address();
    if (at === null) return;
    void run(async () => {
      const moved = await api.registry.move.mutate({ ...at, direction });
      return { file: at.file, index: moved.index };
    }, `Moved ${direction}.`);
  };
  const remove = () => {
    const at = address();
    setConfirmDelete(false);
    if (at === null) return;
    void run(async () => {
      await api.registry.delete.mutate(at);
      return null;
    }, 'Deleted. The file before the change is kept next to it as .bak.');
  };

  const editingRow =
    editing?.kind === 'existing'
      ? rows.find((row) => row.file === editing.file && row.index === editing.index)
      : undefined;
  return (
    <section className="stack">
      <h1>Registry</h1>
      {error !== null && <ErrorState testId="registry-error">{error}</ErrorState>}
      {files
        .filter((file) => file.status === 'error')
        .map((file) => (
          <ErrorState key={file.path} testId="registry-file-problem">
            {file.problem?.message}
            {file.usingLastGood ? ' — its last good version is still in use.' : ''}
          </ErrorState>
        ))}
      <div className="row">
        <button
          type="button"
          data-testid="registry-new"
          onClick={() => leaveEditor(() => show({ kind: 'new' }, newEntryTemplate), 'start a new entry')}
        >
          <Plus aria-hidden size={16} />
          New entry
        </button>
        <span className="muted">Click an entry (or press Enter on it) to edit it. Earlier entries win lookups.</span>
      </div>
      {notice !== null && (
        <p className="notice" role="status" data-testid="registry-notice">
          {notice}
        </p>
      )}
      <div className="registry-layout">
        <div className="registry-list">
          {loading && rows.length === 0 ? (
            <Skeleton lines={8} testId="registry-loading" />
          ) : rows.length === 0 && error === null ? (
            <EmptyState title="The registry is empty" testId="registry-empty">
              Add an entry with New entry, or put a model_registry.json in the working folder.
            </EmptyState>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th>entry</th>
                  <th>model_name</th>
                  <th>backend</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => {
                  const selected =
                    editing?.kind === 'existing' && editing.file === row.file && editing.index === row.index;
                  const overriddenBy = row.lookupSource === 'official' ? overridden.get(row.index) : undefined;
                  return (
                    <tr
                      key={`${row.file}:${row.index}`}
                      data-testid="registry-row"
                      className={selected ? 'clickable selected' : 'clickable'}
                      tabIndex={0}
                      aria-selected={selected}
                      onClick={() => open(row)}
                      onKeyDown={(event) => {
                        if (event.key === 'Enter' || event.key === ' ') {
                          event.preventDefault();
                          open(row);
                        } else if (event.key === 'ArrowDown') focusSibling(event, 1);
                        else if (event.key === 'ArrowUp') focusSibling(event, -1);
                      }}
                    >
                      <td className="muted" title={row.file} data-testid="registry-place">
                        {placeName(row.lookupSource, row.index, files)}
                      </td>
                      <td>
                        <span data-testid="registry-model-name">{text(row.entry.model_name)}</span>
                        {overriddenBy !== undefined && (
                          <span
                            className="badge warning"
                            data-testid="registry-overridden"
                            title="Lookups by this name reach the other entry first"
                          >
                            overridden by {overriddenBy}
                          </span>
                        )}
                        {selected && dirty && <span className="badge">edited</span>}
                      </td>
                      <td data-testid="registry-backend">{text(row.entry.backend)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </div>
        {editing !== null && (
          <div className="stack editor-panel registry-editor-panel" data-testid="registry-editor" ref={panel}>
            <div className="row">
              <strong>{editing.kind === 'new' ? 'New entry (saved to your registry)' : where}</strong>
              {dirty && (
                <span className="badge warning" data-testid="registry-dirty">
                  ● unsaved changes
                </span>
              )}
            </div>
            {editing.kind === 'existing' && editing.official && (
              <span className="muted small">
                Official entries are read-only: saving makes an override in your registry.
              </span>
            )}
            <SpecEditor
              kind="entry"
              height={220}
              value={draft}
              onChange={setDraft}
              onSubmit={save}
              testId="registry-entry-editor"
            />
            <div className="row">
              <button type="button" className="primary" data-testid="registry-save" disabled={busy} onClick={save}>
                <Save aria-hidden size={16} />
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
                    <Copy aria-hidden size={16} />
                    Duplicate
                  </button>
                  {!editing.official && (
                    <>
                      <button
                        type="button"
                        data-testid="registry-move-up"
                        disabled={busy || editing.index === 0}
                        onClick={() => move('up')}
                      >
                        <ArrowUp aria-hidden size={16} />
                        Move up
                      </button>
                      <button
                        type="button"
                        data-testid="registry-move-down"
                        disabled={busy || editing.index >= fileLength(editing.file) - 1}
                        onClick={() => move('down')}
                      >
                        <ArrowDown aria-hidden size={16} />
                        Move down
                      </button>
                      <button
                        type="button"
                        className="danger"
                        data-testid="registry-delete"
                        disabled={busy}
                        onClick={() => setConfirmDelete(true)}
                      >
                        <Trash2 aria-hidden size={16} />
                        Delete
                      </button>
                    </>
                  )}
                </>
              )}
              <button type="button" onClick={() => leaveEditor(() => setEditing(null), 'close the editor')}>
                <X aria-hidden size={16} />
                Close
              </button>
            </div>
            {problem !== null && <ErrorState testId="registry-edit-error">{problem}</ErrorState>}
            {warnings.length > 0 && (
              <div className="banner banner-warning" data-testid="registry-warnings">
                <div>
                  <strong>Saved, but check:</strong>
                  <ul>
                    {warnings.map((warning) => (
                      <li key={warning}>{warning}</li>
                    ))}
                  </ul>
                </div>
              </div>
            )}
          </div>
        )}
      </div>
      <ConfirmDialog
        open={pending !== null}
        title="Discard your unsaved changes?"
        confirmLabel="Discard changes"
        danger
        testId="registry-discard"
        onCancel={() => setPending(null)}
        onConfirm={() => {
          const action = pending?.action;
          setPending(null);
          action?.();
        }}
      >
        <p>
          {where ?? 'The new entry'} has changes that are not saved. To {pending?.what ?? 'go on'}, they are dropped;
          Cancel keeps editing.
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={confirmDelete}
        title="Delete this entry?"
        confirmLabel="Delete"
        danger
        testId="registry-delete-confirm"
        onCancel={() => setConfirmDelete(false)}
        onConfirm={remove}
      >
        <p>
          {where} ({text(editingRow?.entry.model_name)}) is removed from its file. The file as it was before is kept
          next to it as .bak.
        </p>
      </ConfirmDialog>
    </section>
  );
}
