import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { GenerationOptions } from '../../src-shared/chat';
import { ChatHistory } from '../components/ChatHistory';
import { ChatParameters, draftOf, optionsOf, type ParameterDraft } from '../components/ChatParameters';
import { ModelPicker } from '../components/ModelPicker';
import { ContextMeter, modelName, queryText, Transcript } from '../components/Transcript';
import { useSessionStore, useWatchedSession } from '../sessions';
import { modelFromHash, openWithModel, sessionFromHash, showSession } from '../store';

/** Messages shown at first in a long chat; earlier ones come in blocks of this size on request. */
const messageWindow = 100;

/** Whether a scroll box is (almost) at its end: then new text keeps it there. */
function atBottom(element: HTMLElement): boolean {
  return element.scrollHeight - element.scrollTop - element.clientHeight < 40;
}

/**
 * Chat with one model. The conversation lives in main: this page makes a chat session, follows it (a reload or a
 * dropped connection comes back to the same reply), and sends, stops, regenerates and edits through the API. Chats
 * are listed in the sidebar; the model picker opens with Ctrl+K, Alt+N starts a new chat (Ctrl+N in the desktop app).
 */
export function ChatPage() {
  const [sessionId, setSessionId] = useState<string | null>(() => sessionFromHash());
  const [query, setQuery] = useState(() => modelFromHash() ?? 'mock');
  const [parameters, setParameters] = useState<ParameterDraft>(() => draftOf(undefined, undefined));
  const [showParameters, setShowParameters] = useState(false);
  const [draft, setDraft] = useState('');
  const [pickerKey, setPickerKey] = useState(0);
  const [shown, setShown] = useState(messageWindow);
  const [localError, setLocalError] = useState<string | null>(null);
  const { session, error: sessionError, busy } = useWatchedSession(sessionId);
  const createError = useSessionStore((state) => state.error);
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const input = useRef<HTMLTextAreaElement>(null);
  const store = useSessionStore.getState;

  const participant = session?.participants[0];
  const error = localError ?? (sessionId === null ? createError : sessionError);

  // The chat's own parameters once it is open; the model field shows its query.
  useEffect(() => {
    if (participant === undefined) return;
    setQuery(queryText(participant.query));
    setParameters(draftOf(participant.system, participant.options));
    // Only when another chat opens: edits in the panel are the person's until saved.
  }, [session?.id]);

  // A chat that gets a title or finishes a reply moves to the top of the list.
  useEffect(() => {
    if (session !== null && !busy) void useSessionStore.getState().refreshList();
  }, [session?.id, session?.title, busy]);

  // New text keeps the view at the end, unless the person scrolled up to read.
  useLayoutEffect(() => {
    const element = scroller.current;
    if (element !== null && stick.current) element.scrollTop = element.scrollHeight;
  });

  const open = (id: string | null): void => {
    setSessionId(id);
    showSession(id);
    setShown(messageWindow);
    setLocalError(null);
    stick.current = true;
    if (id === null) {
      setParameters(draftOf(undefined, undefined));
      input.current?.focus();
    }
  };

  const submit = async (): Promise<void> => {
    const text = draft;
    if (text.trim() === '' || busy) return;
    setLocalError(null);
    let id = sessionId;
    if (id === null) {
      const parsed = optionsOf(parameters);
      if ('problem' in parsed) {
        setLocalError(parsed.problem);
        return;
      }
      const system = parameters.system.trim();
      const created = await store().create({
        kind: 'chat',
        participants: [
          {
            query,
            ...(system === '' ? {} : { system }),
            ...(Object.keys(parsed.options).length === 0 ? {} : { options: parsed.options }),
          },
        ],
      });
      if (created === null) return;
      id = created.id;
      open(id);
    }
    stick.current = true;
    // The draft stays until the message is accepted: nothing typed is lost to a failure.
    if (await store().send(id, text)) setDraft('');
  };

  /** A model picked while a chat is open: the next reply comes from it (each reply records its model). */
  const pickModel = async (picked: string): Promise<void> => {
    if (sessionId === null || participant === undefined || picked === queryText(participant.query)) return;
    await store().configure(sessionId, { participant: participant.id, query: picked });
  };

  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      const modifier = event.ctrlKey || event.metaKey;
      if (modifier && event.key.toLowerCase() === 'k') {
        event.preventDefault();
        setPickerKey((key) => key + 1);
      } else if (
        (event.altKey && event.key.toLowerCase() === 'n') ||
        (modifier && event.key === 'n' && window.clemplay)
      ) {
        event.preventDefault();
        open(null);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  const messages = session?.messages ?? [];
  const hiddenCount = Math.max(0, messages.length - shown);

  return (
    <section
      className="chat-layout"
      onKeyDown={(event) => {
        if (event.key === 'Escape' && busy && sessionId !== null) void store().stop(sessionId);
      }}
    >
      <ChatHistory current={sessionId} onOpen={open} onNew={() => open(null)} />
      <div className="chat-main">
        <header className="chat-header stack">
          <div className="row">
            <ModelPicker
              testId="chat-model"
              value={query}
              onChange={setQuery}
              onPick={(picked) => void pickModel(picked)}
              focusKey={pickerKey}
            />
            <button
              type="button"
              data-testid="chat-parameters-toggle"
              aria-expanded={showParameters}
              onClick={() => setShowParameters(!showParameters)}
            >
              Parameters
            </button>
            <button type="button" data-testid="chat-games" onClick={() => openWithModel('games', query)}>
              Play a game with this model
            </button>
          </div>
          {showParameters && (
            <ChatParameters
              key={sessionId ?? 'new'}
              draft={parameters}
              onDraft={setParameters}
              {...(sessionId === null || participant === undefined
                ? {}
                : {
                    onSave: async (system: string, options: GenerationOptions) => {
                      const saved = await store().configure(sessionId, {
                        participant: participant.id,
                        system,
                        options,
                      });
                      return saved ? null : (useSessionStore.getState().sessions[sessionId]?.error ?? 'not saved');
                    },
                  })}
            />
          )}
          {participant !== undefined && (
            <div className="row muted">
              <span data-testid="chat-resolved">{modelName(participant)}</span>
              <ContextMeter meter={participant.context} />
            </div>
          )}
          {participant?.registry_changed === true && sessionId !== null && (
            <div className="banner banner-warning" role="status" data-testid="chat-registry-changed">
              <span>The registry changed: this chat’s model query now resolves to something else.</span>
              <button type="button" disabled={busy} onClick={() => void store().reResolve(sessionId, participant.id)}>
                Re-resolve
              </button>
            </div>
          )}
        </header>
        <div
          className="chat-scroll"
          ref={scroller}
          onScroll={(event) => {
            stick.current = atBottom(event.currentTarget);
          }}
        >
          {session === null ? (
            <div className="empty-state">
              <p>Pick a model (Ctrl+K) — a registry name or a JSON spec — and send a message.</p>
              <p className="muted">Replies stream from the main process; a reload picks them up again.</p>
            </div>
          ) : (
            <>
              {hiddenCount > 0 && (
                <button
                  type="button"
                  data-testid="chat-show-earlier"
                  onClick={() => {
                    stick.current = false;
                    setShown(shown + messageWindow);
                  }}
                >
                  Show {Math.min(hiddenCount, messageWindow)} earlier messages
                </button>
              )}
              <Transcript
                session={session}
                skip={hiddenCount}
                busy={busy}
                testId="chat-messages"
                actions={{
                  regenerate: (message) => void store().regenerate(session.id, message.id),
                  edit: (message, text) => store().edit(session.id, message.id, text),
                  selectVersion: (message, version) => void store().selectVersion(session.id, message.id, version),
                  answer: (participantId, text) => store().humanReply(session.id, participantId, text),
                }}
              />
            </>
          )}
          {session?.save_error !== undefined && (
            <p role="alert" className="error">
              Not saved: {session.save_error}
            </p>
          )}
        </div>
        {error !== null && (
          <p role="alert" className="error" data-testid="chat-error">
            {error}
          </p>
        )}
        <form
          className="composer row"
          onSubmit={(event) => {
            event.preventDefault();
            void submit();
          }}
        >
          <textarea
            ref={input}
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
            <button type="submit" className="primary" data-testid="chat-send">
              Send
            </button>
          )}
        </form>
      </div>
    </section>
  );
}
