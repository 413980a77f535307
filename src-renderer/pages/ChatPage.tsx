import { useEffect, useState } from 'react';
import { isSessionBusy } from '../../src-shared/conversation/session';
import { ContextMeter, participantName, queryText, Transcript } from '../components/Transcript';
import { useSessionStore } from '../sessions';
import { hashParams, setHashParam } from '../store';

/**
 * Chat with one model. The conversation lives in main: this page makes a chat session, follows it (so a reload, or a
 * dropped connection, comes back to the same reply), and sends, stops, regenerates and edits through the API.
 */
export function ChatPage() {
  const [sessionId, setSessionId] = useState<string | null>(() => hashParams().get('session'));
  const [query, setQuery] = useState(() => hashParams().get('model') ?? 'mock');
  const [system, setSystem] = useState('');
  const [draft, setDraft] = useState('');
  const entry = useSessionStore((state) => (sessionId === null ? undefined : state.sessions[sessionId]));
  const createError = useSessionStore((state) => state.error);
  const store = useSessionStore.getState;

  useEffect(() => {
    if (sessionId === null) return;
    return useSessionStore.getState().watch(sessionId);
  }, [sessionId]);

  const session = entry?.view ?? null;
  const busy = session !== null && isSessionBusy(session);
  const participant = session?.participants[0];
  const error = sessionId === null ? createError : (entry?.error ?? null);

  const submit = async (): Promise<void> => {
    const text = draft;
    if (text.trim() === '' || busy) return;
    let id = sessionId;
    if (id === null) {
      const trimmed = system.trim();
      const created = await store().create({
        kind: 'chat',
        participants: [{ query, ...(trimmed === '' ? {} : { system: trimmed }) }],
      });
      if (created === null) return;
      id = created.id;
      setSessionId(id);
      setHashParam('session', id);
    }
    // The draft stays until the message is accepted: nothing typed is lost to a failure.
    if (await store().send(id, text)) setDraft('');
  };

  const newChat = (): void => {
    setSessionId(null);
    setHashParam('session', null);
  };

  return (
    <section
      className="stack chat-page"
      onKeyDown={(event) => {
        if (event.key === 'Escape' && busy && sessionId !== null) void store().stop(sessionId);
      }}
    >
      <h1>Chat</h1>
      <div className="row">
        <label className="row grow">
          <span className="muted">Model</span>
          <input
            className="grow"
            data-testid="chat-model"
            value={session === null ? query : queryText(participant?.query ?? null)}
            disabled={session !== null}
            placeholder="a model name or a JSON spec"
            onChange={(event) => setQuery(event.target.value)}
          />
        </label>
        {session === null ? (
          <input
            className="grow"
            data-testid="chat-system"
            placeholder="System message (optional)"
            value={system}
            onChange={(event) => setSystem(event.target.value)}
          />
        ) : (
          <button type="button" data-testid="chat-new" onClick={newChat} disabled={busy}>
            New chat
          </button>
        )}
      </div>
      {participant !== undefined && (
        <div className="row muted">
          <span data-testid="chat-resolved">
            {participantName(participant)}
            {participant.backend !== null && ` (${participant.backend})`}
          </span>
          <ContextMeter meter={participant.context} />
        </div>
      )}
      {participant?.registry_changed === true && sessionId !== null && (
        <div className="notice row" role="status" data-testid="chat-registry-changed">
          <span>The registry changed: this model’s query now resolves to something else.</span>
          <button type="button" disabled={busy} onClick={() => void store().reResolve(sessionId, participant.id)}>
            Re-resolve
          </button>
        </div>
      )}
      {session !== null && sessionId !== null && (
        <Transcript
          session={session}
          busy={busy}
          testId="chat-messages"
          actions={{
            regenerate: (message) => void store().regenerate(sessionId, message.id),
            edit: (message, text) => void store().edit(sessionId, message.id, text),
            selectVersion: (message, version) => void store().selectVersion(sessionId, message.id, version),
            answer: (participantId, text) => void store().humanReply(sessionId, participantId, text),
          }}
        />
      )}
      {session?.save_error !== undefined && (
        <p role="alert" className="error">
          Not saved: {session.save_error}
        </p>
      )}
      {error !== null && (
        <p role="alert" className="error" data-testid="chat-error">
          {error}
        </p>
      )}
      <form
        className="row"
        onSubmit={(event) => {
          event.preventDefault();
          void submit();
        }}
      >
        <textarea
          data-testid="chat-input"
          className="grow"
          rows={2}
          value={draft}
          placeholder="Message (Enter sends, Shift+Enter for a new line, Esc stops)"
          onChange={(event) => setDraft(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && !event.shiftKey) {
              event.preventDefault();
              void submit();
            }
          }}
        />
        {busy && sessionId !== null ? (
          <button type="button" data-testid="chat-stop" onClick={() => void store().stop(sessionId)}>
            Stop
          </button>
        ) : (
          <button type="submit" data-testid="chat-send">
            Send
          </button>
        )}
      </form>
    </section>
  );
}
