import type { ChatMessage } from '../chat.js';
import { EpisodeRecorder, type Interactions } from './episode.js';
import type { Experiment, GameDefinition, GameInstance, GameResources } from './game.js';
import { scoreEpisode, type EpisodeScores } from './scores.js';

/** A fixed clock, so records made in tests compare equal. */
export const testClock = (): string => '2026-01-01T00:00:00.000Z';

/** Plays one episode in memory: `respond` answers for a player given that player's own history. */
export function playEpisode(
  game: GameDefinition,
  experiment: Experiment,
  instance: GameInstance,
  resources: GameResources,
  respond: (player: number, history: readonly ChatMessage[]) => string,
): { interactions: Interactions; scores: EpisodeScores; histories: ChatMessage[][] } {
  const recorder = new EpisodeRecorder(
    {
      game_name: game.name,
      experiment_name: experiment.name,
      game_id: instance.game_id,
      results_folder: 'test',
      clemplay_version: 'test',
    },
    game.roles.map((role) => ({ role, modelName: 'test', spec: {} })),
    testClock,
  );
  const master = game.prepare(experiment, instance, resources).createMaster(recorder);
  const histories: ChatMessage[][] = game.roles.map(() => []);
  for (let move = master.start(); move.type === 'ask';) {
    const history = histories[move.player]!;
    history.push({ role: 'user', content: move.content });
    const answer = respond(move.player, history);
    history.push({ role: 'assistant', content: answer });
    move = master.next(answer);
  }
  return { interactions: recorder.interactions, scores: scoreEpisode(recorder.interactions, game.scoring), histories };
}

/** Answers per player, in order; a player asked more often than it has answers fails the test. */
export function scripted(
  answers: readonly (readonly string[])[],
): (player: number, history: readonly ChatMessage[]) => string {
  return (player, history) => {
    const turn = history.filter((message) => message.role === 'assistant').length;
    const answer = answers[player]?.[turn];
    if (answer === undefined)
      throw new Error(`player ${player + 1} was asked more often than scripted (turn ${turn + 1})`);
    return answer;
  };
}

/** Small word lists for tests. */
export function testResources(
  fiveLetterWords: readonly string[],
  englishWords: readonly string[] = fiveLetterWords,
): GameResources {
  return { fiveLetterWords: () => fiveLetterWords, englishWords: () => englishWords };
}
