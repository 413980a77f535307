import { useEffect, useState } from 'react';
import type { SessionView, VoteWinner } from '../../src-shared/conversation/session';
import { currentVersion, userSpeaker, type TranscriptMessage } from '../../src-shared/conversation/transcript';
import { ContextMeter, modelName, participantName, queryText, ReplyStats, Transcript } from '../components/Transcript';
import { downloadSession, useSessionStore, useWatchedSession } from '../sessions';
import { modelFromHash, sessionFromHash, showSession } from '../store';

type Mode = 'side-by-side' | 'dialogue';

function Leaderboard() {
  const board = useSessionStore((state) => state.leaderboard);
  useEffect(() => {
    void useSessionStore.getState().refreshLeaderboard();
  }, []);
  return (
    <section className="stack" data-testid="pair-leaderboard">
      <h2>Leaderboard</h2>
      {board === null || board.rows.length === 0 ? (
        <p className="muted">No blind votes yet. Turn on Blind, ask both models something, and vote.</p>
      ) : (
        <>
          <p className="muted">
            Bradley–Terry ratings from {board.votes} blind {board.votes === 1 ? 'vote' : 'votes'} (1000 is the average;
            +400 is 10:1 odds of being preferred), with 95% intervals from resampling the votes. Ties and “both bad”
            count as ties.
          </p>
          <table className="table">
            <thead>
              <tr>
                <th>#</th>
                <th>Model</th>
                <th>Rating</th>
                <th>95% interval</th>
                <th>Votes</th>
                <th>Won / lost / tied</th>
              </tr>
            </thead>
            <tbody>
              {board.rows.map((row, index) => (
                <tr key={row.model} data-testid="leaderboard-row">
                  <td>{index + 1}</td>
                  <td>{row.model}</td>
                  <td>{Math.round(row.rating)}</td>
                  <td>
                    {Math.round(row.low)} – {Math.round(row.high)}
                  </td>
                  <td>{row.votes}</td>
                  <td>
                    {row.wins} / {row.losses} / {row.ties}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

/** The vote buttons: the winner each one votes for, its test id and its label. */
const voteChoices: readonly (readonly [VoteWinner, string, string])[] = [
  ['a', 'pair-vote-a', 'A is better'],
  ['b', 'pair-vote-b', 'B is better'],
  ['tie', 'pair-vote-tie', 'Tie'],
  ['both-bad', 'pair-vote-bad', 'Both bad'],
];

function VoteBar({ session, busy }: { session: SessionView; busy: boolean }) {
  const vote = (winner: VoteWinner) => void useSessionStore.getState().vote(session.id, winner);
  const answered = ['a', 'b'].every((side) =>
    session.messages.some((message) => message.speaker === side && currentVersion(message).status === 'done'),
  );
  if (session.blind === undefined) return null;
  if (session.blind.revealed) {
    const verdict = { a: 'Model A was better', b: 'Model B was better', tie: 'A tie', 'both-bad': 'Both were bad' }[
      session.blind.vote ?? 'tie'
    ];
    return (
      <p className="notice" data-testid="pair-revealed">
        You voted: {verdict}. Model A was {modelName(session.participants[0])}, Model B was{' '}
        {modelName(session.participants[1])}.
      </p>
    );
  }
  return (
    <div className="row vote-bar">
      <span className="muted">{answered ? 'Which answer was better?' : 'Ask both models something, then vote.'}</span>
      {voteChoices.map(([winner, testId, label]) => (
        <button
          key={winner}
          type="button"
          data-testid={testId}
          disabled={!answered || busy}
          onClick={() => vote(winner)}
        >
          {label}
        </button>
      ))}
    </div>
  );
}

function Pane({ session, side, busy }: { session: SessionView; side: 'a' | 'b'; busy: boolean }) {
  const participant = session.participants.find((candidate) => candidate.id === side);
  const store = useSessionStore.getState;
  if (participant === undefined) return null;
  const replies = session.messages.filter((message) => message.speaker === side);
  const last = replies.at(-1);
  const show = (message: TranscriptMessage): boolean =>
    message.speaker === side || (message.speaker === userSpeaker && message.to.includes(side));
  return (
    <div className="pane stack">
      <div className="pane-head">
        <strong>{participantName(participant)}</strong>
        {participant.backend !== null && <span className="muted"> ({participant.backend})</span>}
        {participant.status !== 'idle' && (
          <button type="button" data-testid={`pair-stop-${side}`} onClick={() => void store().stop(session.id, side)}>
            Stop {side.toUpperCase()}
          </button>
        )}
      </div>
      <ContextMeter meter={participant.context} />
      {last !== undefined && <ReplyStats version={currentVersion(last)} hidden={participant.hidden} />}
      {participant.registry_changed && (
        <div className="banner banner-warning" role="status">
          <span>The registry changed for this model.</span>
          <button type="button" disabled={busy} onClick={() => void store().reResolve(session.id, side)}>
            Re-resolve
          </button>
        </div>
      )}
      <Transcript
        session={session}
        show={show}
        busy={busy}
        testId={`pair-pane-${side}`}
        testIdPrefix={`pair-${side}`}
        actions={{
          regenerate: (message) => void store().regenerate(session.id, message.id),
          selectVersion: (message, version) => void store().selectVersion(session.id, message.id, version),
          answer: (participantId, text) => store().humanReply(session.id, participantId, text),
        }}
      />
    </div>
  );
}

/**
 * Two models side by side (each with its own history), blind with a vote and a leaderboard, or talking to each other
 * in a dialogue. The sessions live in main; this page makes, follows and steers them.
 */
export function PairPage() {
  const [sessionId, setSessionId] = useState<string | null>(() => sessionFromHash());
  const [modelA, setModelA] = useState(() => modelFromHash() ?? 'mock');
  const [modelB, setModelB] = useState('programmatic');
  const [blind, setBlind] = useState(false);
  const [pool, setPool] = useState('');
  const [mode, setMode] = useState<Mode>('side-by-side');
  const [systemA, setSystemA] = useState('');
  const [systemB, setSystemB] = useState('');
  const [turns, setTurns] = useState(4);
  const [draft, setDraft] = useState('');
  const { session, error: sessionError, busy } = useWatchedSession(sessionId);
  const createError = useSessionStore((state) => state.error);
  const store = useSessionStore.getState;

  const error = sessionId === null ? createError : sessionError;
  const dialogue = session?.kind === 'dialogue' || (session === null && mode === 'dialogue');

  const open = (id: string): void => {
    setSessionId(id);
    showSession(id);
  };

  const send = async (): Promise<void> => {
    if (draft.trim() === '' || busy) return;
    let id = sessionId;
    if (id === null) {
      const models = pool
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '');
      const created = await store().create(
        blind
          ? { kind: 'pair', blind: { models: models.length >= 2 ? models : [modelA, modelB] } }
          : { kind: 'pair', participants: [{ query: modelA }, { query: modelB }] },
      );
      if (created === null) return;
      id = created.id;
      open(id);
    }
    if (await store().send(id, draft)) setDraft('');
  };

  const startDialogue = async (): Promise<void> => {
    if (draft.trim() === '' || busy) return;
    let id = sessionId;
    if (id === null || session?.kind !== 'dialogue') {
      const side = (query: string, system: string) => ({
        query,
        ...(system.trim() === '' ? {} : { system: system.trim() }),
      });
      const created = await store().create({
        kind: 'dialogue',
        participants: [side(modelA, systemA), side(modelB, systemB)],
      });
      if (created === null) return;
      id = created.id;
      open(id);
    }
    if (await store().startDialogue(id, draft, turns)) setDraft('');
  };

  const reset = (): void => {
    setSessionId(null);
    showSession(null);
  };

  const exportAs = async (format: 'json' | 'markdown'): Promise<void> => {
    if (sessionId !== null) await downloadSession(sessionId, format);
  };

  return (
    <section className="stack pair-page">
      <h1>Pair</h1>
      <div className="row">
        <button
          type="button"
          className={mode === 'side-by-side' ? 'tab active' : 'tab'}
          aria-pressed={mode === 'side-by-side'}
          disabled={session !== null}
          onClick={() => setMode('side-by-side')}
        >
          Side by side
        </button>
        <button
          type="button"
          className={mode === 'dialogue' ? 'tab active' : 'tab'}
          aria-pressed={mode === 'dialogue'}
          data-testid="pair-mode-dialogue"
          disabled={session !== null}
          onClick={() => setMode('dialogue')}
        >
          Dialogue
        </button>
        {session !== null && (
          <button type="button" data-testid="pair-new" disabled={busy} onClick={reset}>
            New
          </button>
        )}
        {session !== null && !(session.blind !== undefined && !session.blind.revealed) && (
          <>
            <button type="button" onClick={() => void exportAs('json')} data-testid="pair-export-json">
              Export JSON
            </button>
            <button type="button" onClick={() => void exportAs('markdown')} data-testid="pair-export-markdown">
              Export Markdown
            </button>
          </>
        )}
      </div>
      <div className="row">
        <label className="row grow">
          <span className="muted">A</span>
          <input
            className="grow"
            data-testid="pair-model-a"
            placeholder="a model name or a JSON spec"
            value={session === null ? modelA : queryText(session.participants[0]?.query ?? null) || 'hidden'}
            disabled={session !== null}
            onChange={(event) => setModelA(event.target.value)}
          />
        </label>
        <label className="row grow">
          <span className="muted">B</span>
          <input
            className="grow"
            data-testid="pair-model-b"
            placeholder="a model name or a JSON spec"
            value={session === null ? modelB : queryText(session.participants[1]?.query ?? null) || 'hidden'}
            disabled={session !== null}
            onChange={(event) => setModelB(event.target.value)}
          />
        </label>
        {!dialogue && (
          <label className="row">
            <input
              type="checkbox"
              data-testid="pair-blind"
              checked={session === null ? blind : session.blind !== undefined}
              disabled={session !== null}
              onChange={(event) => setBlind(event.target.checked)}
            />
            Blind
          </label>
        )}
      </div>
      {blind && session === null && !dialogue && (
        <label className="stack">
          <span className="muted">
            Models to draw two from, one per line (empty: the two fields). Names, backends and ids stay hidden until you
            vote.
          </span>
          <textarea
            data-testid="pair-blind-models"
            rows={3}
            value={pool}
            onChange={(event) => setPool(event.target.value)}
          />
        </label>
      )}
      {dialogue && session === null && (
        <div className="row">
          <textarea
            className="grow"
            data-testid="pair-system-a"
            rows={2}
            placeholder="System prompt for A (optional)"
            value={systemA}
            onChange={(event) => setSystemA(event.target.value)}
          />
          <textarea
            className="grow"
            data-testid="pair-system-b"
            rows={2}
            placeholder="System prompt for B (optional)"
            value={systemB}
            onChange={(event) => setSystemB(event.target.value)}
          />
        </div>
      )}
      {error !== null && (
        <p role="alert" className="error" data-testid="pair-error">
          {error}
        </p>
      )}
      {session !== null && session.kind === 'pair' && <VoteBar session={session} busy={busy} />}
      {session !== null && session.kind === 'dialogue' && (
        <div className="stack">
          <p className="muted" data-testid="dialogue-progress">
            {session.dialogue?.running ? 'Talking: ' : ''}
            {session.dialogue?.done ?? 0} of {session.dialogue?.turns ?? 0} replies
          </p>
          <Transcript
            session={session}
            busy={busy}
            testId="dialogue-transcript"
            actions={{ answer: (participantId, text) => store().humanReply(session.id, participantId, text) }}
          />
        </div>
      )}
      {session !== null && session.kind === 'pair' && (
        <div className="panes">
          <Pane session={session} side="a" busy={busy} />
          <Pane session={session} side="b" busy={busy} />
        </div>
      )}
      <form
        className="row"
        onSubmit={(event) => {
          event.preventDefault();
          void (dialogue ? startDialogue() : send());
        }}
      >
        <textarea
          data-testid="pair-input"
          className="grow"
          rows={2}
          value={draft}
          placeholder={dialogue ? 'The opening message, sent to A' : 'A message for both (Enter sends)'}
          onChange={(event) => setDraft(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && !event.shiftKey) {
              event.preventDefault();
              void (dialogue ? startDialogue() : send());
            } else if (event.key === 'Escape' && busy && sessionId !== null) {
              void store().stop(sessionId);
            }
          }}
        />
        {dialogue && (
          <label className="row">
            <span className="muted">Replies</span>
            <input
              type="number"
              min={1}
              max={1000}
              data-testid="dialogue-turns"
              value={turns}
              onChange={(event) => setTurns(Math.max(1, Math.min(1000, Number(event.target.value) || 1)))}
            />
          </label>
        )}
        {busy && sessionId !== null ? (
          <button type="button" data-testid="pair-stop" onClick={() => void store().stop(sessionId)}>
            Stop
          </button>
        ) : dialogue ? (
          <button type="submit" data-testid="dialogue-start">
            Start dialogue
          </button>
        ) : (
          <button type="submit" data-testid="pair-send">
            Send to both
          </button>
        )}
      </form>
      <Leaderboard />
    </section>
  );
}
