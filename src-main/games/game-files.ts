import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import wordListPath from 'word-list';
import { AppError } from '../../src-shared/errors.js';
import type { GameResources, InstanceFile } from '../../src-shared/games/game.js';
import { parseInstanceFile } from '../../src-shared/games/instances.js';
import { describeFileError, errnoCode, parseJsonObject } from '../credentials/json-file.js';

/** Where clemplay's own instance files are: `<app>/games/<game>/instances.json`. */
export function defaultInstancesPath(appRoot: string, game: string): string {
  return join(appRoot, 'games', game, 'instances.json');
}

/** Reads an instance file (clemplay's or clembench's, unchanged); every problem is `invalid-input` naming the file. */
export async function readInstanceFile(path: string): Promise<InstanceFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const why = errnoCode(error) === 'ENOENT' ? 'no such file' : describeFileError(error);
    throw new AppError('invalid-input', `The instance file ${path} cannot be read: ${why}.`, { path });
  }
  return parseInstanceFile(parseJsonObject(text, path, 'instance file'), path);
}

function once<T>(load: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= load());
}

/**
 * Word lists from the `word-list` package (sindresorhus, MIT: about 274,000 English words), read on first use:
 * its lower-case five-letter words are wordle's vocabulary, all its lower-case words the taboo guesser's lexicon.
 */
export function createGameResources(path: string = wordListPath): GameResources {
  const words = once(() =>
    readFileSync(path, 'utf8')
      .split('\n')
      .filter((word) => /^[a-z]+$/.test(word)),
  );
  return {
    englishWords: words,
    fiveLetterWords: once(() => words().filter((word) => word.length === 5)),
  };
}
