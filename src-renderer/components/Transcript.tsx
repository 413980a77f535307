import { lazy, memo, Suspense, useState } from 'react';
import type { ContextMeter as Meter, ParticipantView, SessionView } from '../../src-shared/conversation/session';
import {
  currentVersion,
  gameMasterSpeaker,
  userSpeaker,
  type MessageVersion,
  type TranscriptMessage,
} from '../../src-shared/conversation/transcript';
import type { JsonObject } from '../../src-shared/json';

// Markdown and its highlighter load with the first answer, not with the page.
const Markdown = lazy(() => import('./Markdown'));

/** A query as the person typed it: a name or JSON text as it is, an object as JSON. */
export function queryText(query: string | JsonObject | null): string {
  if (query === null) return '';
  return typeof query === 'string' ? query : JSON.stringify(query);
}

/** The model a participant uses ("gpt-4o (openai)"), or its label while that is hidden. */
export function modelName(participant: ParticipantView | undefined): string {
  if (participant === undefined) return 'unknown';
  if (participant.hidden || participant.spec === null) return participant.label;
  const name = typeof participant.spec.model_name === 'string' ? participant.spec.model_name : participant.label;
  return participant.backend === null ? name : `${name} (${participant.backend})`;
}

/** What a participant is called, with its model where that is not hidden: "Model A · gpt-4o". */
export function participantName(participant: ParticipantView | undefined): string {
  if (participant === undefined) return 'unknown';
  if (participant.hidden || participant.spec === null) return participant.label;
  const name = typeof participant.spec.model_name === 'string' ? participant.spec.model_name : participant.label;
  return participant.id === 'model' ? name : `${participant.label} · ${name}`;
}

/** Statistics of one reply: backend and model id (unless hidden), tokens, tokens/s, time to first token. */
export function ReplyStats({ version, hidden }: { version: MessageVersion; hidden: boolean }) {
  const spec = version.spec;
  const parts: string[] = [];
  if (!hidden && spec !== undefined) {
    if (typeof spec.backend === 'string') parts.push(spec.backend);
    const id = typeof spec.model_id === 'string' ? spec.model_id : spec.model_name;
    if (typeof id === 'string') parts.push(id);
  }
  const tokens = version.usage?.output_tokens;
  if (typeof tokens === 'number') parts.push(`${tokens} tokens`);
  const rate = version.timing?.tokens_per_second;
  if (typeof rate === 'number') parts.push(`${rate.toFixed(1)} tokens/s`);
  const first = version.timing?.first_token_ms;
  if (typeof first === 'number') parts.push(`first token ${Math.round(first)} ms`);
  if (version.dropped_turns !== undefined) parts.push(`${version.dropped_turns} oldest turns left out to fit`);
  return (
    <div className="message-stats muted" data-testid="message-stats">
      {parts.join(' · ') || (version.status === 'streaming' ? 'waiting…' : '')}
    </div>
  );
}

/** How full a participant's context is. */
export function ContextMeter({ meter }: { meter: Meter }) {
  if (meter.used === null) return null;
  const share = meter.size === null ? null : Math.min(1, meter.used / meter.size);
  const label =
    meter.size === null
      ? `${meter.exact ? '' : '~'}${meter.used.toLocaleString('en')} tokens of context (size unknown)`
      : `${meter.exact ? '' : '~'}${meter.used.toLocaleString('en')} / ${meter.size.toLocaleString('en')} tokens`;
  return (
    <div className="context-meter" data-testid="context-meter" title={meter.exact ? 'counted' : 'estimated'}>
      {share !== null && (
        <div className="context-meter-bar" aria-hidden="true">
          <div
            className={share > 0.9 ? 'context-meter-fill full' : 'context-meter-fill'}
            style={{ width: `${share * 100}%` }}
          />
        </div>
      )}
      <span className="muted">{label}</span>
    </div>
  );
}

/** What a transcript can do to its messages; an action left out is not offered. */
export interface TranscriptActions {
  regenerate?(message: TranscriptMessage): void;
  /** Resolves true once the edit was accepted (the form keeps the text until then). */
  edit?(message: TranscriptMessage, text: string): Promise<boolean>;
  selectVersion?(message: TranscriptMessage, version: number): void;
  /** Resolves true once the answer was taken (the box keeps the text until then). */
  answer?(participantId: string, text: string): Promise<boolean>;
}

function HumanAnswer({ onAnswer, testIdPrefix }: { onAnswer(text: string): Promise<boolean>; testIdPrefix: string }) {
  const [answer, setAnswer] = useState('');
  return (
    <form
      className="row"
      onSubmit={(event) => {
        event.preventDefault();
        // Cleared only once taken: an answer that fails stays in the box.
        void onAnswer(answer).then((taken) => {
          if (taken) setAnswer('');
        });
      }}
    >
      <span className="muted">Your turn as the human player:</span>
      <input
        className="grow"
        data-testid={`${testIdPrefix}-human-answer`}
        value={answer}
        onChange={(event) => setAnswer(event.target.value)}
      />
      <button type="submit" data-testid={`${testIdPrefix}-human-send`}>
        Answer
      </button>
    </form>
  );
}

/** One message; unchanged messages keep their object (the reducer replaces only what changed), so they skip rendering. */
const MessageItem = memo(
  function MessageItem({
    message,
    participant,
    actions,
    busy,
    testIdPrefix,
  }: {
    message: TranscriptMessage;
    /** The speaker, when it is a participant. */
    participant: ParticipantView | undefined;
    actions: TranscriptActions;
    busy: boolean;
    testIdPrefix: string;
  }) {
    const [editing, setEditing] = useState<string | null>(null);
    const version = currentVersion(message);
    const fromUser = message.speaker === userSpeaker;
    const kind = fromUser ? 'user' : participant === undefined ? 'system' : 'assistant';
    const name = fromUser
      ? 'You'
      : participant !== undefined
        ? participantName(participant)
        : message.speaker === gameMasterSpeaker
          ? 'Game master'
          : message.speaker;
    return (
      <li className={`message ${kind}`} data-testid={`message-${kind}`} data-speaker={message.speaker}>
        <div className="message-head">
          <span className="muted">{name}</span>
          {message.versions.length > 1 && actions.selectVersion !== undefined && (
            <span className="versions">
              <button
                type="button"
                aria-label="Previous version"
                disabled={busy || message.current === 0}
                onClick={() => actions.selectVersion?.(message, message.current - 1)}
              >
                ‹
              </button>
              <span className="muted" data-testid="message-version">
                {message.current + 1}/{message.versions.length}
              </span>
              <button
                type="button"
                aria-label="Next version"
                disabled={busy || message.current === message.versions.length - 1}
                onClick={() => actions.selectVersion?.(message, message.current + 1)}
              >
                ›
              </button>
            </span>
          )}
        </div>
        {version.reasoning !== '' && (
          <details className="reasoning" data-testid="message-reasoning">
            <summary className="muted">Reasoning</summary>
            <div className="message-text">{version.reasoning}</div>
          </details>
        )}
        {editing === null ? (
          kind === 'assistant' ? (
            <div className="message-text">
              <Suspense fallback={<div className="plain">{version.text}</div>}>
                <Markdown text={version.text} />
              </Suspense>
            </div>
          ) : (
            <div className="message-text plain">{version.text}</div>
          )
        ) : (
          <form
            className="stack"
            onSubmit={(event) => {
              event.preventDefault();
              void actions.edit?.(message, editing).then((taken) => {
                if (taken) setEditing(null);
              });
            }}
          >
            <textarea
              data-testid="message-edit-input"
              value={editing}
              onChange={(event) => setEditing(event.target.value)}
            />
            <div className="row">
              <button type="submit" data-testid="message-edit-send">
                Send
              </button>
              <button type="button" onClick={() => setEditing(null)}>
                Cancel
              </button>
            </div>
          </form>
        )}
        {version.warnings?.map((warning, index) => (
          <div key={index} className="banner banner-warning" data-testid="message-warning">
            {warning.message}
          </div>
        ))}
        {version.error !== undefined && (
          <div className="error" role="alert">
            {version.error.code}: {version.error.message}
          </div>
        )}
        {version.status === 'stopped' && <div className="muted">(stopped)</div>}
        {version.human_request !== undefined && actions.answer !== undefined && (
          <HumanAnswer
            testIdPrefix={testIdPrefix}
            onAnswer={(text) => actions.answer?.(message.speaker, text) ?? Promise.resolve(false)}
          />
        )}
        {kind === 'assistant' && <ReplyStats version={version} hidden={participant?.hidden === true} />}
        {!busy && editing === null && (
          <div className="message-actions">
            {kind === 'assistant' && actions.regenerate !== undefined && (
              <button type="button" data-testid="message-regenerate" onClick={() => actions.regenerate?.(message)}>
                Regenerate
              </button>
            )}
            {kind === 'user' && actions.edit !== undefined && (
              <button type="button" data-testid="message-edit" onClick={() => setEditing(version.text)}>
                Edit
              </button>
            )}
          </div>
        )}
      </li>
    );
  },
  // The actions are new closures on every render of the page but always act on the same session.
  (before, after) =>
    before.message === after.message &&
    before.participant === after.participant &&
    before.busy === after.busy &&
    before.testIdPrefix === after.testIdPrefix,
);

/**
 * The messages of a session (or the part of it `show` picks: one side of a Pair), each with its speaker, reasoning
 * folded, statistics, versions, and the actions the page offers.
 */
export function Transcript({
  session,
  show,
  actions,
  busy,
  testId,
  testIdPrefix = 'chat',
  skip = 0,
}: {
  session: SessionView;
  show?: (message: TranscriptMessage) => boolean;
  /** Messages left out at the start (a long chat shows its end first). */
  skip?: number;
  actions: TranscriptActions;
  busy: boolean;
  testId: string;
  testIdPrefix?: string;
}) {
  const tail = skip > 0 ? session.messages.slice(skip) : session.messages;
  const messages = show === undefined ? tail : tail.filter(show);
  return (
    <ol className="messages" data-testid={testId}>
      {messages.map((message) => (
        <MessageItem
          key={message.id}
          message={message}
          participant={session.participants.find((candidate) => candidate.id === message.speaker)}
          actions={actions}
          busy={busy}
          testIdPrefix={testIdPrefix}
        />
      ))}
    </ol>
  );
}
