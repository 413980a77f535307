import porter2 from 'wink-porter2-stemmer';
import { englishStopwords } from './english-stopwords.js';

/** ASCII punctuation, as Python's `string.punctuation` (what clembench strips from clues and guesses). */
const punctuation = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/** The text without ASCII punctuation: `"don't!"` → `"dont"`. */
export function removePunctuation(text: string): string {
  return text.replace(punctuation, '');
}

/** The Snowball English (Porter2) stem of a word, lower-cased first as nltk's stemmer does. */
export function stem(word: string): string {
  return porter2(word.toLowerCase());
}

/**
 * The words of a text that carry meaning, as clembench's taboo reads a clue: lower-cased, punctuation removed, split
 * on white space, nltk's English stopwords dropped.
 */
export function contentWords(text: string): string[] {
  return removePunctuation(text.toLowerCase())
    .split(/\s+/)
    .filter((word) => word !== '' && !englishStopwords.has(word));
}
