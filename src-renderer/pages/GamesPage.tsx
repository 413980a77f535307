import { Gamepad2, Play, RotateCcw, Square, User } from 'lucide-react';
import { useEffect, useMemo, useState } from 'react';
import type { ParticipantView, SessionView } from '../../src-shared/conversation/session';
import type { TranscriptMessage } from '../../src-shared/conversation/transcript';
import { currentEpisode, type EpisodeStatus, type RunPlayer, type RunView } from '../../src-shared/games/run-view';
import { ModelPicker } from '../components/ModelPicker';
import { EmptyState, ErrorState, Skeleton } from '../components/states';
import { queryText, Transcript } from '../components/Transcript';
import { useGamesStore } from '../games';
import {
  resultsKey,
  type EpisodePlace,
  type GameInfo,
  type RunResults,
  type SavedEpisodeTranscript,
} from '../games-store';
import { hashParameter, modelFromHash, pageHash } from '../store';

/** The run (`#/games?run=<id>`) or earlier results (`#/games?results=<folder>`) the page shows, from the address. */
function shownFromHash(): { run: string | null; results: string | null } {
  return {
    run: hashParameter(window.location.hash, 'run'),
    results: hashParameter(window.location.hash, 'results'),
  };
}

/** Puts what the page shows into the address without a new history entry, so a reload comes back to it. */
function showInAddress(parameters: Record<string, string>): void {
  window.history.replaceState(null, '', pageHash('games', parameters));
}

/** A session-shaped view of an episode, so the chat transcript can show it: the players are its participants. */
function episodeSession(key: string, players: RunPlayer[], messages: TranscriptMessage[]): SessionView {
  const participants: ParticipantView[] = players.map((player) => ({
    id: player.id,
    label: player.role,
    query: null,
    spec: { model_name: player.model, backend: player.backend },
    source: null,
    backend: player.backend,
    status: 'idle',
    registry_changed: false,
    context: { used: null, size: null, exact: false },
    hidden: false,
  }));
  return {
    id: key,
    kind: 'game',
    title: key,
    created_at: messages[0]?.created_at ?? '',
    updated_at: messages.at(-1)?.created_at ?? '',
    participants,
    messages,
  };
}

const statusWords: Record<EpisodeStatus | 'incomplete', string> = {
  playing: 'playing',
  success: 'won',
  lose: 'lost',
  aborted: 'aborted (an answer broke the format)',
  error: 'failed with an error',
  stopped: 'stopped',
  incomplete: 'not finished',
};

function figure(value: number | null): string {
  return value === null ? '–' : value.toFixed(2);
}

/** The episode a transcript shows, live or read back from the results folder. */
function EpisodeView({
  title,
  status,
  players,
  messages,
  onAnswer,
}: {
  title: string;
  status: EpisodeStatus | 'incomplete';
  players: RunPlayer[];
  messages: TranscriptMessage[];
  onAnswer?(player: string, text: string): Promise<boolean>;
}) {
  const session = useMemo(() => episodeSession(title, players, messages), [title, players, messages]);
  return (
    <section className="stack" data-testid="game-transcript">
      <h2 className="row">
        <span>{title}</span>
        <span className={`badge game-status-${status}`} data-testid="game-episode-status">
          {statusWords[status]}
        </span>
      </h2>
      <p className="muted small">
        {players.map((player) => `${player.role}: ${player.model} (${player.backend})`).join(' · ')}. The game master’s
        messages are set apart; each player sees only what the game master sends it.
      </p>
      <Transcript
        session={session}
        busy={status === 'playing'}
        testId="game-messages"
        testIdPrefix="game"
        actions={onAnswer === undefined ? {} : { answer: onAnswer }}
      />
    </section>
  );
}

/** Scores of some models folders: clembench's table, a bar per model and game, and every episode. */
function Scores({
  folders,
  games,
  onOpenEpisode,
}: {
  folders: string[];
  games?: string[];
  onOpenEpisode(place: EpisodePlace): void;
}) {
  const key = resultsKey(folders, games);
  const entry = useGamesStore((state) => state.results[key]);
  useEffect(() => {
    void useGamesStore.getState().loadResults(folders, games);
    // The key says everything the request depends on.
  }, [key]);
  if (entry === undefined || (entry.loading && entry.data === null))
    return <Skeleton lines={4} testId="game-scores-loading" />;
  if (entry.data === null) return <ErrorState testId="game-scores-error">{entry.error}</ErrorState>;
  return <ScoresView results={entry.data} onOpenEpisode={onOpenEpisode} />;
}

function ScoresView({ results, onOpenEpisode }: { results: RunResults; onOpenEpisode(place: EpisodePlace): void }) {
  const { rows, overall } = results.eval;
  if (results.episodes.length === 0) {
    return (
      <EmptyState title="No episodes yet" testId="game-scores">
        Nothing was written to the results folder for this run.
      </EmptyState>
    );
  }
  return (
    <section className="stack" data-testid="game-scores">
      <h2>Scores</h2>
      <table className="table">
        <thead>
          <tr>
            <th>Game</th>
            <th>Models</th>
            <th>Episodes</th>
            <th>% played</th>
            <th>Quality score</th>
            <th>clemscore</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={`${row.game} ${row.models}`} data-testid="game-score-row">
              <td>{row.game}</td>
              <td>
                <code>{row.models}</code>
              </td>
              <td>{row.episodes}</td>
              <td>{figure(row.played)}</td>
              <td>{figure(row.quality_score)}</td>
              <td>{figure(row.clemscore)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {overall.map((entry) => (
        <p key={entry.models} className="small" data-testid="game-clemscore">
          <strong>clemscore {figure(entry.clemscore)}</strong> for <code>{entry.models}</code> (% played{' '}
          {figure(entry.played)}, quality score {figure(entry.quality_score)})
        </p>
      ))}
      <div className="game-chart" data-testid="game-chart" role="img" aria-label="clemscore per model and game">
        {rows.map((row) => (
          <div key={`${row.game} ${row.models}`} className="game-chart-row">
            <span className="game-chart-label small">
              {row.game} · {row.models}
            </span>
            <span className="game-chart-track" title={`% played ${figure(row.played)}`}>
              <span className="game-chart-bar played" style={{ width: `${row.played}%` }} />
              <span className="game-chart-bar score" style={{ width: `${row.clemscore}%` }} />
            </span>
            <span className="small">{figure(row.clemscore)}</span>
          </div>
        ))}
        <p className="muted small">Dark: clemscore (0–100: % played × quality score); light: % played.</p>
      </div>
      <details>
        <summary>Episodes ({results.episodes.length})</summary>
        <table className="table">
          <thead>
            <tr>
              <th>Game</th>
              <th>Experiment</th>
              <th>Instance</th>
              <th>Outcome</th>
              <th>Main score</th>
              <th className="actions" />
            </tr>
          </thead>
          <tbody>
            {results.episodes.map((episode) => (
              <tr
                key={`${episode.models}/${episode.game}/${episode.experiment}/${episode.instance}`}
                data-testid="game-episode"
              >
                <td>{episode.game}</td>
                <td>{episode.experiment}</td>
                <td>{episode.instance}</td>
                <td>{statusWords[episode.status]}</td>
                <td>{figure(episode.main_score)}</td>
                <td>
                  <button type="button" data-testid="game-episode-open" onClick={() => onOpenEpisode(episode)}>
                    Transcript
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  );
}

/** The progress of a run: a bar, episodes done of the total, and what was skipped or failed. */
function Progress({ view }: { view: RunView }) {
  const { total, done, skipped, failed } = view.progress;
  const started = view.status !== 'running' || total > 0 || skipped > 0 || view.episodes.length > 0;
  const text = !started
    ? 'Starting: making the models…'
    : total === 0
      ? `Nothing to play: all ${skipped} episodes were complete already.`
      : `${done} / ${total} episodes` +
        (skipped > 0 ? ` (${skipped} complete from before, skipped)` : '') +
        (failed > 0 ? `, ${failed} failed` : '');
  return (
    <div className="stack game-progress" data-testid="game-progress" data-status={view.status}>
      <progress max={Math.max(1, total)} value={total === 0 ? (started ? 1 : 0) : done} aria-label="Episodes played" />
      <span className="small">
        <strong data-testid="game-run-status">{view.status}</strong> · {text}
      </span>
    </div>
  );
}

/** A run being watched: progress, stop and resume, the current episode live, and the scores when it ends. */
function RunPanel({ id, onOpenEpisode }: { id: string; onOpenEpisode(place: EpisodePlace): void }) {
  const entry = useGamesStore((state) => state.runs[id]);
  const view = entry?.view ?? null;
  useEffect(() => useGamesStore.getState().watch(id), [id]);
  const ended = view !== null && view.status !== 'running';
  useEffect(() => {
    if (ended) void useGamesStore.getState().refreshRuns();
  }, [ended]);
  if (view === null) {
    return entry?.error ? (
      <ErrorState testId="game-run-error">{entry.error}</ErrorState>
    ) : (
      <Skeleton lines={3} testId="game-run-loading" />
    );
  }
  const episode = currentEpisode(view);
  const store = useGamesStore.getState;
  return (
    <section className="stack game-run" data-testid="game-run-panel">
      <div className="row">
        <h2 className="grow">
          {view.request.games.join(', ')} · {view.request.models.map(queryText).join(' vs ')}
        </h2>
        {view.status === 'running' ? (
          <button type="button" className="danger" data-testid="game-stop" onClick={() => void store().stop(id)}>
            <Square aria-hidden size={14} />
            Stop
          </button>
        ) : (
          <button type="button" data-testid="game-resume" onClick={() => void store().resume(id)}>
            <RotateCcw aria-hidden size={14} />
            {view.status === 'done' ? 'Run again' : 'Resume'}
          </button>
        )}
      </div>
      <Progress view={view} />
      {entry?.error && (
        <p role="alert" className="error" data-testid="game-run-action-error">
          {entry.error}
        </p>
      )}
      {view.error !== undefined && (
        <ErrorState testId="game-run-failed">
          The run failed: {view.error.code}: {view.error.message}
        </ErrorState>
      )}
      {view.failures.length > 0 && (
        <details data-testid="game-failures">
          <summary className="error">
            {view.failures.length} episode{view.failures.length === 1 ? '' : 's'} failed with an error (kept in their
            error.json; resume to play them again)
          </summary>
          <ul>
            {view.failures.map((failure) => (
              <li
                key={`${failure.episode.models}/${failure.episode.game}/${failure.episode.experiment}/${failure.episode.game_id}`}
              >
                {failure.episode.game}/{failure.episode.experiment}/{failure.episode.game_id}: {failure.error.code}:{' '}
                {failure.error.message}
              </li>
            ))}
          </ul>
        </details>
      )}
      {ended && view.models_folders.length > 0 && (
        <Scores folders={view.models_folders} games={view.request.games} onOpenEpisode={onOpenEpisode} />
      )}
      {episode !== null && (
        <EpisodeView
          title={`${episode.ref.game} · ${episode.ref.experiment} · instance ${episode.ref.game_id}`}
          status={episode.status}
          players={episode.players}
          messages={episode.messages}
          onAnswer={(player, text) => store().humanReply(id, player, text)}
        />
      )}
    </section>
  );
}

/** The form for a new run: game, experiment, instances, a model per role (or one for self-play), options. */
function RunForm({ games, onStarted }: { games: GameInfo[]; onStarted(view: RunView): void }) {
  const sent = useMemo(() => modelFromHash(), []);
  const [gameName, setGameName] = useState(games[0]?.name ?? '');
  const [experiment, setExperiment] = useState('');
  const [instances, setInstances] = useState('1');
  const [players, setPlayers] = useState<[string, string]>([sent ?? 'programmatic', '']);
  const [temperature, setTemperature] = useState('');
  const [maxTokens, setMaxTokens] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  const startError = useGamesStore((state) => state.error);
  const game = games.find((candidate) => candidate.name === gameName) ?? games[0];
  if (game === undefined) return null;

  const setPlayer = (index: number, value: string): void =>
    setPlayers((current) => (index === 0 ? [value, current[1]] : [current[0], value]));

  const start = async (quick: boolean): Promise<void> => {
    setProblem(null);
    const number = (text: string, name: string, integer: boolean): number | undefined | null => {
      if (text.trim() === '') return undefined;
      const value = Number(text);
      if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < (integer ? 1 : 0)) {
        setProblem(`${name} must be ${integer ? 'a whole number of at least 1' : 'a number of at least 0'}.`);
        return null;
      }
      return value;
    };
    const count = quick ? 1 : number(instances, 'Instances per experiment', true);
    const temperatureValue = number(temperature, 'Temperature', false);
    const maxTokensValue = number(maxTokens, 'Max tokens', true);
    if (count === null || temperatureValue === null || maxTokensValue === null) return;
    const first = players[0].trim();
    const second = game.roles.length > 1 ? players[1].trim() : '';
    if (first === '') {
      setProblem(`Name a model for ${game.roles[0]}: a registry name, a JSON spec, or “human” to play it yourself.`);
      return;
    }
    const chosenExperiment = quick ? experiment || game.experiments[0]?.name : experiment;
    setStarting(true);
    const view = await useGamesStore.getState().start({
      games: [game.name],
      models: second === '' ? [first] : [first, second],
      ...(chosenExperiment ? { experiments: [chosenExperiment] } : {}),
      ...(count === undefined ? {} : { instances: count }),
      ...(temperatureValue === undefined ? {} : { temperature: temperatureValue }),
      ...(maxTokensValue === undefined ? {} : { max_tokens: maxTokensValue }),
    });
    setStarting(false);
    if (view !== null) onStarted(view);
  };

  const episodes = (
    experiment === '' ? game.experiments : game.experiments.filter((entry) => entry.name === experiment)
  ).reduce(
    (sum, entry) => sum + Math.min(entry.instances, Number(instances) > 0 ? Number(instances) : entry.instances),
    0,
  );

  return (
    <form
      className="stack game-form"
      onSubmit={(event) => {
        event.preventDefault();
        void start(false);
      }}
    >
      {sent !== null && (
        <div className="banner notice-banner row" data-testid="game-quick">
          <Gamepad2 aria-hidden size={16} />
          <span className="grow">
            Quick play with <code>{sent}</code>: one episode of {game.name} with the players below (the model in every
            role unless you change them; press “Play it myself” to play against it).
          </span>
          <button
            type="button"
            className="primary"
            data-testid="game-quick-play"
            disabled={starting}
            onClick={() => void start(true)}
          >
            <Play aria-hidden size={14} />
            Play one episode
          </button>
        </div>
      )}
      <div className="row">
        <label className="field">
          Game
          <select
            data-testid="game-select"
            value={game.name}
            onChange={(event) => {
              setGameName(event.target.value);
              setExperiment('');
            }}
          >
            {games.map((candidate) => (
              <option key={candidate.name} value={candidate.name}>
                {candidate.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Experiment
          <select
            data-testid="game-experiment"
            value={experiment}
            onChange={(event) => setExperiment(event.target.value)}
          >
            <option value="">all ({game.experiments.length})</option>
            {game.experiments.map((entry) => (
              <option key={entry.name} value={entry.name}>
                {entry.name} ({entry.instances})
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Instances per experiment
          <input
            data-testid="game-instances"
            className="number-field"
            inputMode="numeric"
            placeholder="all"
            value={instances}
            onChange={(event) => setInstances(event.target.value)}
          />
        </label>
        <label className="field">
          Temperature
          <input
            data-testid="game-temperature"
            className="number-field"
            inputMode="decimal"
            placeholder="0"
            value={temperature}
            onChange={(event) => setTemperature(event.target.value)}
          />
        </label>
        <label className="field">
          Max tokens
          <input
            data-testid="game-max-tokens"
            className="number-field"
            inputMode="numeric"
            placeholder="backend’s"
            value={maxTokens}
            onChange={(event) => setMaxTokens(event.target.value)}
          />
        </label>
      </div>
      <p className="muted small" data-testid="game-description">
        {game.description} {game.problem ?? ''}
      </p>
      {game.roles.map((role, index) => (
        <div key={role} className="row game-player">
          <span className="game-role">{role}</span>
          <div className="grow">
            <ModelPicker
              testId={`game-player-${index + 1}`}
              value={players[index] ?? ''}
              onChange={(value) => setPlayer(index, value)}
            />
          </div>
          <button
            type="button"
            data-testid={`game-human-${index + 1}`}
            title="Take this role yourself: you answer in the transcript"
            onClick={() => setPlayer(index, 'human')}
          >
            <User aria-hidden size={14} />
            Play it myself
          </button>
        </div>
      ))}
      {game.roles.length > 1 && (
        <p className="muted small">
          Leave {game.roles[1]} empty for self-play: the first model plays both roles, each with its own history. Type{' '}
          <code>human</code> (or press “Play it myself”) to take a role and answer in the transcript.
        </p>
      )}
      <div className="row">
        <button type="submit" className="primary" data-testid="game-run" disabled={starting}>
          <Play aria-hidden size={14} />
          Run {episodes} episode{episodes === 1 ? '' : 's'}
        </button>
        {(problem ?? startError) !== null && (
          <p role="alert" className="error" data-testid="game-error">
            {problem ?? startError}
          </p>
        )}
      </div>
    </form>
  );
}

/** This session's runs and the earlier ones of the results folder. */
function RunList({
  current,
  onOpenRun,
  onOpenSaved,
}: {
  current: string | null;
  onOpenRun(id: string): void;
  onOpenSaved(folder: string): void;
}) {
  const listing = useGamesStore((state) => state.listing);
  const listingError = useGamesStore((state) => state.listingError);
  useEffect(() => {
    void useGamesStore.getState().refreshRuns();
  }, []);
  if (listingError !== null) return <ErrorState>{listingError}</ErrorState>;
  if (listing === null) return <Skeleton lines={2} />;
  return (
    <section className="stack game-runs" data-testid="game-runs">
      <h2>Runs</h2>
      {listing.live.length === 0 && <p className="muted small">No runs since clemplay started.</p>}
      <ul className="game-run-list">
        {listing.live.map((run) => (
          <li key={run.id}>
            <button
              type="button"
              className={run.id === current ? 'clickable selected' : 'clickable'}
              data-testid="game-live-run"
              onClick={() => onOpenRun(run.id)}
            >
              {run.games.join(', ')} · {run.models.map(queryText).join(' vs ')} · {run.status} ({run.progress.done}/
              {run.progress.total})
            </button>
          </li>
        ))}
      </ul>
      <h2>Earlier results</h2>
      {listing.saved.length === 0 ? (
        <p className="muted small">The results folder has no runs yet.</p>
      ) : (
        <ul className="game-run-list">
          {listing.saved.map((run) => (
            <li key={run.folder}>
              <button
                type="button"
                className="clickable"
                data-testid="game-saved-run"
                onClick={() => onOpenSaved(run.folder)}
              >
                <code>{run.folder}</code> · {run.games.join(', ')}
                {run.last_run !== null && <span className="muted"> · {new Date(run.last_run).toLocaleString()}</span>}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** An earlier run of the results folder: its scores, episodes, and playing it again. */
function SavedRunPanel({
  folder,
  onOpenEpisode,
  onResumed,
}: {
  folder: string;
  onOpenEpisode(place: EpisodePlace): void;
  onResumed(view: RunView): void;
}) {
  const saved = useGamesStore((state) => state.listing?.saved.find((run) => run.folder === folder));
  return (
    <section className="stack" data-testid="game-saved-panel">
      <div className="row">
        <h2 className="grow">
          <code>{folder}</code>
        </h2>
        {saved?.request !== null && saved?.request !== undefined && (
          <button
            type="button"
            data-testid="game-saved-resume"
            title="Play what this run was asked again; complete episodes are skipped"
            onClick={async () => {
              const view = await useGamesStore.getState().resumeSaved(folder);
              if (view !== null) onResumed(view);
            }}
          >
            <RotateCcw aria-hidden size={14} />
            Resume
          </button>
        )}
      </div>
      <Scores folders={[folder]} onOpenEpisode={onOpenEpisode} />
    </section>
  );
}

/**
 * Self-play games. Pick a game, an experiment, how many instances and the players, run, and watch the current
 * episode live; the run is a job in main, so a reload comes back to it (its id is in the address). When it ends,
 * its scores; earlier runs of the results folder open here too. A person can take a role and answer in the transcript.
 */
export function GamesPage() {
  const games = useGamesStore((state) => state.games);
  const gamesError = useGamesStore((state) => state.gamesError);
  const [shown, setShown] = useState(shownFromHash);
  const [episode, setEpisode] = useState<{ place: EpisodePlace; transcript: SavedEpisodeTranscript } | null>(null);

  useEffect(() => {
    if (games === null) void useGamesStore.getState().loadGames();
  }, [games]);

  const openRun = (id: string): void => {
    setShown({ run: id, results: null });
    setEpisode(null);
    showInAddress({ run: id });
  };
  const openSaved = (folder: string): void => {
    setShown({ run: null, results: folder });
    setEpisode(null);
    showInAddress({ results: folder });
  };
  const openEpisode = async (place: EpisodePlace): Promise<void> => {
    const transcript = await useGamesStore.getState().loadEpisode(place);
    if (transcript !== null) setEpisode({ place, transcript });
  };

  return (
    <section className="games-layout">
      <div className="stack games-main">
        <h1>Games</h1>
        {gamesError !== null ? (
          <ErrorState testId="game-catalog-error">{gamesError}</ErrorState>
        ) : games === null ? (
          <Skeleton lines={4} testId="game-catalog-loading" />
        ) : (
          <RunForm games={games} onStarted={(view) => openRun(view.id)} />
        )}
        {episode !== null && (
          <div className="stack">
            <button type="button" onClick={() => setEpisode(null)}>
              ← Back
            </button>
            <EpisodeView
              title={`${episode.place.game} · ${episode.place.experiment} · ${episode.place.instance}`}
              status={episode.transcript.status}
              players={episode.transcript.players}
              messages={episode.transcript.messages}
            />
          </div>
        )}
        {episode === null && shown.run !== null && (
          <RunPanel id={shown.run} onOpenEpisode={(place) => void openEpisode(place)} />
        )}
        {episode === null && shown.results !== null && (
          <SavedRunPanel
            folder={shown.results}
            onOpenEpisode={(place) => void openEpisode(place)}
            onResumed={(view) => openRun(view.id)}
          />
        )}
        {shown.run === null && shown.results === null && episode === null && (
          <EmptyState title="No run open">
            Choose a game and the players above and press Run: the episodes play in clemplay, each message shows here as
            it is sent, and the scores follow. Runs go on when you reload or leave the page.
          </EmptyState>
        )}
      </div>
      <RunList current={shown.run} onOpenRun={openRun} onOpenSaved={openSaved} />
    </section>
  );
}
