import porter2 from 'wink-porter2-stemmer';
import { englishStopwords } from './english-stopwords.js';

/** ASCII punctuation, as Python's `string.punctuation` (what clembench strips from clues and guesses). */
const punctuation = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/** The text without ASCII punctuation: `"don't!"` → `"dont"`. */
export function removePunctuation(text: string): string {
  return text.replace(punctuation, '');
}

/** Stems already computed: clues repeat their words, and stemming is the bulk of judging one. Emptied when full. */
const stems = new Map<string, string>();
const stemCacheSize = 50_000;

/** The Snowball English (Porter2) stem of a word, lower-cased first as nltk's stemmer does. */
export function stem(word: string): string {
  let result = stems.get(word);
  if (result === undefined) {
    result = porter2(word.toLowerCase());
    if (stems.size >= stemCacheSize) stems.clear();
    stems.set(word, result);
  }
  return result;
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
