import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { parseInstanceFile, prepareEpisodes } from './instances.js';
import { taboo } from './taboo.js';
import { testResources } from './testing.js';
import { wordle } from './wordle.js';

const resources = testResources(['apple', 'crane'], ['house']);

describe('parseInstanceFile', () => {
  it.each([
    [[], 'an instance file is an object with a list "experiments"'],
    [{ experiments: {} }, 'an instance file is an object with a list "experiments"'],
    [{ experiments: [1] }, 'experiments[0]: an experiment is an object'],
    [{ experiments: [{ game_instances: [] }] }, 'experiments[0]: "name" must be a non-empty string'],
    [
      {
        experiments: [
          { name: 'a', game_instances: [] },
          { name: 'a', game_instances: [] },
        ],
      },
      'experiments[1]: the experiment name "a" is used twice',
    ],
    [{ experiments: [{ name: 'a' }] }, 'experiments[0]: ("a") "game_instances" must be a list'],
    [
      { experiments: [{ name: 'a', game_instances: [{ game_id: '1' }] }] },
      'experiments[0]: ("a") game_instances[0]: "game_id" must be a whole number of 0 or more',
    ],
    [
      { experiments: [{ name: 'a', game_instances: [{ game_id: 1 }, { game_id: 1 }] }] },
      'experiments[0]: ("a") game_instances[1]: game_id 1 is used twice in this experiment',
    ],
  ])('%j: %s', (value, message) => {
    let error: unknown;
    try {
      parseInstanceFile(value, 'in.json');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('invalid-input');
    expect((error as AppError).message).toBe(`in.json: ${message}`);
  });

  it("reads clembench's shape unchanged, extra keys and all", () => {
    const file = {
      experiments: [
        {
          name: 'high_en',
          max_turns: 3,
          describer_initial_prompt: 'Describe $TARGET_WORD$',
          game_instances: [
            { game_id: 0, target_word: 'away', related_word: ['gone', 'distance', 'here'], target_word_stem: 'away' },
          ],
        },
      ],
    };
    expect(parseInstanceFile(file, 'in.json')).toEqual(file);
  });
});

describe('prepareEpisodes', () => {
  it('checks each instance with its game, naming the experiment and game_id', () => {
    const file = parseInstanceFile(
      {
        experiments: [
          { name: 'e', game_instances: [{ game_id: 0, target_word: 'house', related_word: [] }, { game_id: 4 }] },
        ],
      },
      'in.json',
    );
    expect(() => prepareEpisodes(taboo, file.experiments, resources, 'in.json')).toThrow(
      'in.json: experiment "e", game_id 4: `target_word` must be a string for taboo',
    );
    const words = parseInstanceFile(
      { experiments: [{ name: 'w', game_instances: [{ game_id: 2, target_word: 'tree' }] }] },
      'w.json',
    );
    expect(() => prepareEpisodes(wordle, words.experiments, resources, 'w.json')).toThrow(
      'w.json: experiment "w", game_id 2: `target_word` must be a word of 5 letters for wordle',
    );
  });
});
