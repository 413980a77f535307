import { useEffect, useMemo, useState } from 'react';
import { downloadSession, useSessionStore } from '../sessions';

function when(iso: string): string {
  const date = new Date(iso);
  const today = new Date();
  return date.toDateString() === today.toDateString()
    ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString();
}

/**
 * Saved chats, newest first: search, open, rename, export (JSON, Markdown) and delete (after a second click, to the
 * trash folder). Files that cannot be read are listed with their problem, never hidden.
 */
export function ChatHistory({
  current,
  onOpen,
  onNew,
}: {
  current: string | null;
  onOpen(id: string): void;
  onNew(): void;
}) {
  const list = useSessionStore((state) => state.list);
  const listError = useSessionStore((state) => state.listError);
  const [search, setSearch] = useState('');
  const [renaming, setRenaming] = useState<{ id: string; title: string } | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const store = useSessionStore.getState;

  useEffect(() => {
    void useSessionStore.getState().refreshList();
  }, []);

  const chats = useMemo(() => {
    const needle = search.trim().toLowerCase();
    return list.filter(
      (entry) =>
        (entry.broken || entry.kind === 'chat') &&
        (needle === '' ||
          (entry.broken ? entry.id : `${entry.title} ${entry.models.join(' ')}`).toLowerCase().includes(needle)),
    );
  }, [list, search]);

  return (
    <aside className="chat-sidebar stack" aria-label="Chats">
      <button type="button" className="primary" data-testid="chat-new" onClick={onNew} title="New chat (Alt+N)">
        + New chat
      </button>
      <input
        type="search"
        data-testid="chat-search"
        placeholder="Search chats"
        value={search}
        onChange={(event) => setSearch(event.target.value)}
      />
      {listError !== null && <p className="error">{listError}</p>}
      {chats.length === 0 && <p className="muted">{search === '' ? 'No saved chats yet.' : 'No chat matches.'}</p>}
      <ul className="chat-list">
        {chats.map((entry) =>
          entry.broken ? (
            <li key={entry.id} className="chat-item broken" data-testid="chat-history-item" title={entry.error.message}>
              <span className="error">Unreadable: {entry.id}</span>
              <span className="muted">{entry.error.message}</span>
            </li>
          ) : (
            <li
              key={entry.id}
              className={entry.id === current ? 'chat-item selected' : 'chat-item'}
              data-testid="chat-history-item"
            >
              {renaming?.id === entry.id ? (
                <form
                  className="row"
                  onSubmit={(event) => {
                    event.preventDefault();
                    void store()
                      .rename(entry.id, renaming.title)
                      .then(() => store().refreshList());
                    setRenaming(null);
                  }}
                >
                  <input
                    className="grow"
                    data-testid="chat-rename-input"
                    value={renaming.title}
                    autoFocus
                    onChange={(event) => setRenaming({ id: entry.id, title: event.target.value })}
                    onKeyDown={(event) => event.key === 'Escape' && setRenaming(null)}
                  />
                </form>
              ) : (
                <button
                  type="button"
                  className="chat-open"
                  aria-current={entry.id === current ? 'true' : undefined}
                  onClick={() => onOpen(entry.id)}
                >
                  <span className="chat-title">{entry.title || 'Untitled chat'}</span>
                  <span className="muted chat-meta">
                    {entry.models[0] ?? ''} · {when(entry.updated_at)}
                  </span>
                </button>
              )}
              <div className="chat-actions">
                <button
                  type="button"
                  data-testid="chat-rename"
                  onClick={() => setRenaming({ id: entry.id, title: entry.title })}
                >
                  Rename
                </button>
                <button
                  type="button"
                  data-testid="chat-export-json"
                  onClick={() => void downloadSession(entry.id, 'json')}
                >
                  JSON
                </button>
                <button
                  type="button"
                  data-testid="chat-export-markdown"
                  onClick={() => void downloadSession(entry.id, 'markdown')}
                >
                  Markdown
                </button>
                {deleting === entry.id ? (
                  <button
                    type="button"
                    className="danger"
                    data-testid="chat-delete-confirm"
                    onClick={() => {
                      setDeleting(null);
                      void store()
                        .remove(entry.id)
                        .then((removed) => {
                          if (removed && entry.id === current) onNew();
                        });
                    }}
                  >
                    Delete?
                  </button>
                ) : (
                  <button type="button" data-testid="chat-delete" onClick={() => setDeleting(entry.id)}>
                    Delete
                  </button>
                )}
              </div>
            </li>
          ),
        )}
      </ul>
    </aside>
  );
}
