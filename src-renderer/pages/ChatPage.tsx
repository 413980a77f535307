import { useState } from 'react';
import { useChatStore } from '../chat-store';

/** Chat with one model: streaming replies, stop, a person's turn for the human backend; chats are saved. */
export function ChatPage() {
  const { query, system, chat, streaming, humanRequest, error } = useChatStore();
  const { setQuery, setSystem, send, stop, answerHuman, reset } = useChatStore();
  const [draft, setDraft] = useState('');
  const [answer, setAnswer] = useState('');

  const submit = () => {
    const text = draft;
    setDraft('');
    void send(text);
  };

  return (
    <section className="stack">
      <h1>Chat</h1>
      <div className="row">
        <label className="row">
          <span className="muted">Model</span>
          <input
            data-testid="chat-model"
            value={
              chat === null
                ? query
                : typeof chat.spec_query === 'string'
                  ? chat.spec_query
                  : JSON.stringify(chat.spec_query)
            }
            disabled={chat !== null}
            onChange={(event) => setQuery(event.target.value)}
          />
        </label>
        {chat === null ? (
          <input
            data-testid="chat-system"
            placeholder="System message (optional)"
            value={system}
            onChange={(event) => setSystem(event.target.value)}
          />
        ) : (
          <button type="button" data-testid="chat-new" onClick={reset} disabled={streaming}>
            New chat
          </button>
        )}
      </div>
      <ol className="messages" data-testid="chat-messages">
        {chat?.messages.map((message, index) => (
          <li key={index} className={`message ${message.role}`} data-testid={`chat-message-${message.role}`}>
            <div className="muted">{message.role}</div>
            <div className="message-text">{message.content}</div>
            {message.error !== undefined && <div className="error">{message.error.message}</div>}
            {message.finish_reason === 'abort' && <div className="muted">(stopped)</div>}
          </li>
        ))}
      </ol>
      {humanRequest !== null && (
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            void answerHuman(answer);
            setAnswer('');
          }}
        >
          <span className="muted">Your turn as the human player:</span>
          <input data-testid="chat-human-answer" value={answer} onChange={(event) => setAnswer(event.target.value)} />
          <button type="submit" data-testid="chat-human-send">
            Answer
          </button>
        </form>
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
          submit();
        }}
      >
        <textarea
          data-testid="chat-input"
          className="grow"
          rows={2}
          value={draft}
          placeholder="Message (Enter sends, Shift+Enter for a new line)"
          onChange={(event) => setDraft(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && !event.shiftKey) {
              event.preventDefault();
              submit();
            }
          }}
        />
        {streaming ? (
          <button type="button" data-testid="chat-stop" onClick={stop}>
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
