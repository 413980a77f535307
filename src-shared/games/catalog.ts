import type { GameDefinition } from './game.js';
import { taboo } from './taboo.js';
import { wordle, wordleWithClue, wordleWithCritic } from './wordle.js';

/** The games clemplay has, in the order they are listed. */
export const games: readonly GameDefinition[] = [taboo, wordle, wordleWithClue, wordleWithCritic];

/** A game by name; undefined for names clemplay does not have. */
export function findGame(name: string): GameDefinition | undefined {
  return games.find((game) => game.name === name);
}
