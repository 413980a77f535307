import { AppError } from '../errors.js';
import { isJsonObject } from '../json.js';
import {
  InstanceProblem,
  type Experiment,
  type GameDefinition,
  type GameInstance,
  type GameResources,
  type InstanceFile,
  type PreparedEpisode,
} from './game.js';

function problem(source: string, where: string, message: string): AppError {
  return new AppError('invalid-input', `${source}: ${where}${message}`, { file: source });
}

/**
 * Checks the shape clembench's instance files share: `{"experiments": [{"name", …, "game_instances": [{"game_id",
 * …}]}]}`, with whole-number `game_id`s, unique within an experiment. Game-specific keys are checked by
 * {@link prepareEpisodes}. Errors are `invalid-input` and name the file, the experiment and the instance.
 */
export function parseInstanceFile(value: unknown, source: string): InstanceFile {
  if (!isJsonObject(value) || !Array.isArray(value.experiments)) {
    throw problem(source, '', 'an instance file is an object with a list "experiments"');
  }
  const names = new Set<string>();
  value.experiments.forEach((experiment, index) => {
    const where = `experiments[${index}]: `;
    if (!isJsonObject(experiment)) throw problem(source, where, 'an experiment is an object');
    if (typeof experiment.name !== 'string' || experiment.name === '') {
      throw problem(source, where, '"name" must be a non-empty string');
    }
    if (names.has(experiment.name))
      throw problem(source, where, `the experiment name "${experiment.name}" is used twice`);
    names.add(experiment.name);
    if (!Array.isArray(experiment.game_instances)) {
      throw problem(source, `${where}("${experiment.name}") `, '"game_instances" must be a list');
    }
    const ids = new Set<number>();
    experiment.game_instances.forEach((instance, position) => {
      const at = `${where}("${experiment.name}") game_instances[${position}]: `;
      if (!isJsonObject(instance)) throw problem(source, at, 'an instance is an object');
      const id = instance.game_id;
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
        throw problem(source, at, '"game_id" must be a whole number of 0 or more');
      }
      if (ids.has(id)) throw problem(source, at, `game_id ${id} is used twice in this experiment`);
      ids.add(id);
    });
  });
  return value as unknown as InstanceFile;
}

/** One instance of an experiment, checked by its game and ready to play. */
export interface EpisodePlan {
  experiment: Experiment;
  instance: GameInstance;
  prepared: PreparedEpisode;
}

/** Prepares every instance of the experiments for a game; a key the game needs that is missing or wrong is an error. */
export function prepareEpisodes(
  game: GameDefinition,
  experiments: readonly Experiment[],
  resources: GameResources,
  source: string,
): EpisodePlan[] {
  const plans: EpisodePlan[] = [];
  for (const experiment of experiments) {
    for (const instance of experiment.game_instances) {
      try {
        plans.push({ experiment, instance, prepared: game.prepare(experiment, instance, resources) });
      } catch (error) {
        if (!(error instanceof InstanceProblem)) throw error;
        throw problem(
          source,
          `experiment "${experiment.name}", game_id ${instance.game_id}: `,
          `${error.message} for ${game.name}`,
        );
      }
    }
  }
  return plans;
}
