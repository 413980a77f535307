import type { ChatMessage } from '../chat.js';
import { isJsonObject, type JsonObject } from '../json.js';
import { DialogueMaster, type EpisodeRecorder, type GameMove, type InteractionEvent } from './episode.js';
import {
  InstanceProblem,
  readCount,
  readString,
  type Experiment,
  type GameDefinition,
  type GameInstance,
  type GameResources,
  type RuleBasedPlayer,
} from './game.js';
import { notesOf, type ScoreValue } from './scores.js';
import { escapeRegExp } from '../regexp.js';

/** The three wordle games: plain, with a clue for the guesser, with a critic who comments on each guess. */
export type WordleVariant = 'wordle' | 'wordle_withclue' | 'wordle_withcritic';

/** The colour of one letter of a guess. */
export type LetterColour = 'green' | 'yellow' | 'red';

/**
 * The colours of a guess against the target, counting repeated letters as Wordle does: first every letter in its
 * right place is green; then, left to right, a letter is yellow while the target still has an unmatched copy of it,
 * and red otherwise. (Target `apple`, guess `paper`: p yellow, a yellow, p green, e yellow, r red.)
 */
export function letterColours(guess: string, target: string): LetterColour[] {
  const colours: LetterColour[] = [...guess].map(() => 'red');
  const unmatched = new Map<string, number>();
  for (let index = 0; index < target.length; index += 1) {
    if (guess[index] === target[index]) colours[index] = 'green';
    else unmatched.set(target[index]!, (unmatched.get(target[index]!) ?? 0) + 1);
  }
  for (let index = 0; index < guess.length; index += 1) {
    if (colours[index] === 'green') continue;
    const letter = guess[index]!;
    const left = unmatched.get(letter) ?? 0;
    if (left > 0) {
      colours[index] = 'yellow';
      unmatched.set(letter, left - 1);
    }
  }
  return colours;
}

/** Feedback as clembench writes it: `p<yellow> a<yellow> p<green> e<yellow> r<red>`. */
export function formatFeedback(guess: string, target: string): string {
  const colours = letterColours(guess, target);
  return [...guess].map((letter, index) => `${letter}<${colours[index]}>`).join(' ');
}

/** The letters and colours of a feedback string; null when it is not one. */
export function parseFeedback(feedback: string): { letter: string; colour: LetterColour }[] | null {
  const parts = feedback.trim().split(/\s+/);
  const parsed: { letter: string; colour: LetterColour }[] = [];
  for (const part of parts) {
    const match = /^(\p{L})<(green|yellow|red)>$/u.exec(part);
    if (!match) return null;
    parsed.push({ letter: match[1]!.toLowerCase(), colour: match[2] as LetterColour });
  }
  return parsed;
}

/** The keywords and sentences of the game's messages; clembench's instance files carry theirs in `lang_keywords`. */
export interface WordleTexts {
  guessTag: string;
  explanationTag: string;
  clueTag: string;
  agreementTag: string;
  feedbackTag: string;
  agreementWords: string[];
  /** Said when a guess is not in the word list, before the guesser tries again. */
  unknownWord: string;
  /** Asks for an answer in the format, followed by the format itself. */
  formatReminder: string;
}

const ourTexts: WordleTexts = {
  guessTag: 'guess:',
  explanationTag: 'explanation:',
  clueTag: 'clue:',
  agreementTag: 'agreement:',
  feedbackTag: 'guess_feedback:',
  agreementWords: ['yes', 'no'],
  unknownWord: 'That word is not in the game’s word list. Try another five-letter word.',
  formatReminder: 'Answer in exactly this form:',
};

/** Our prompts; clembench's files carry their own (`guesser_prompt`, `guesser_critic_prompt`). */
const guesserPrompt = `Let's play Wordle. Find the secret word: an English word of five lower-case letters (a-z). You have six tries.

After every guess you get feedback on each letter of it:
- green: the letter is in the word, in this place;
- yellow: the letter is in the word, in another place;
- red: the letter is not in the word (or not as often as you used it).
For example, if the secret word were "apple", the feedback for "paper" would be
guess_feedback: p<yellow> a<yellow> p<green> e<yellow> r<red>

Answer in exactly two lines: first explain in a sentence how you use the feedback so far, then give your guess.
explanation: <one sentence>
guess: <a five-letter word>

Give nothing else. Your first guess, please.`;

const criticPrompt = `Let's play a Wordle variant. A guesser is looking for a secret English word of five lower-case letters and has a clue to it. You see the clue, the guesser's explanation and its guess, and you judge whether the guess fits the clue. The guesser then may keep or change its guess.

Answer in exactly two lines:
explanation: <one sentence on why the guess fits the clue or not>
agreement: <yes or no>

Give nothing else.`;

/** One wordle instance, read and checked. */
export interface WordleSetup {
  variant: WordleVariant;
  target: string;
  /** The clue for the guesser (wordle_withclue, wordle_withcritic). */
  clue: string | null;
  maxTurns: number;
  /** How often a guess that is not in the word list is asked again before the episode is aborted. */
  maxRetries: number;
  wordLength: number;
  /** The vocabulary: guesses outside it are asked again. */
  words: ReadonlySet<string>;
  wordList: readonly string[];
  texts: WordleTexts;
  guesserPrompt: string;
  criticPrompt: string;
}

const wordSets = new WeakMap<readonly string[], ReadonlySet<string>>();

function wordSet(words: readonly string[]): ReadonlySet<string> {
  let set = wordSets.get(words);
  if (set === undefined) {
    set = new Set(words);
    wordSets.set(words, set);
  }
  return set;
}

function readWordList(keywords: JsonObject, experiment: JsonObject, resources: GameResources): readonly string[] {
  const list = keywords.official_words_list ?? experiment.official_words_list;
  if (list === undefined) return resources.fiveLetterWords();
  if (!Array.isArray(list) || !list.every((word) => typeof word === 'string')) {
    throw new InstanceProblem('official_words_list', '`official_words_list` must be a list of words');
  }
  return list as string[];
}

function readTexts(keywords: JsonObject): WordleTexts {
  const errors = isJsonObject(keywords.error_prompt_text) ? keywords.error_prompt_text : {};
  const agreementWords = keywords.agreement_match_keywords_lang;
  const unknownWord =
    typeof errors.NOT_VALID_WORD_FOR_GAME === 'string'
      ? `${errors.NOT_VALID_WORD_FOR_GAME}${typeof errors.RETRY === 'string' ? ` ${errors.RETRY}` : ''}`
      : ourTexts.unknownWord;
  return {
    guessTag: readString(keywords, 'guess_lang', ourTexts.guessTag),
    explanationTag: readString(keywords, 'explanation_lang', ourTexts.explanationTag),
    clueTag: readString(keywords, 'clue_lang', ourTexts.clueTag),
    agreementTag: readString(keywords, 'agreement_lang', ourTexts.agreementTag),
    feedbackTag: readString(keywords, 'guess_feedback_lang', ourTexts.feedbackTag),
    agreementWords:
      Array.isArray(agreementWords) && agreementWords.every((word) => typeof word === 'string')
        ? (agreementWords as string[])
        : ourTexts.agreementWords,
    unknownWord,
    formatReminder: typeof errors.INVALID_FORMAT === 'string' ? errors.INVALID_FORMAT : ourTexts.formatReminder,
  };
}

/**
 * Reads a wordle instance: `target_word`, `target_word_clue` (variants), and the experiment's settings where it has
 * them — clembench's `common_config` (`n_turns`, `max_retry_per_error.NOT_VALID_WORD_FOR_GAME`), `lang_keywords`
 * (tags, messages, `official_words_list`, `max_word_length`) and prompts — else ours.
 */
export function readWordleSetup(
  variant: WordleVariant,
  experiment: Experiment,
  instance: GameInstance,
  resources: GameResources,
): WordleSetup {
  const target = readString(instance, 'target_word').trim().toLowerCase();
  const keywords = isJsonObject(experiment.lang_keywords) ? experiment.lang_keywords : {};
  const config = isJsonObject(experiment.common_config) ? experiment.common_config : {};
  const retries = isJsonObject(config.max_retry_per_error) ? config.max_retry_per_error : {};
  const wordLength = readCount(keywords, 'max_word_length', readCount(config, 'max_word_length', 5));
  if (target.length !== wordLength || !/^\p{L}+$/u.test(target)) {
    throw new InstanceProblem('target_word', `\`target_word\` must be a word of ${wordLength} letters`);
  }
  const clue = variant === 'wordle' ? null : readString(instance, 'target_word_clue').trim();
  const wordList = readWordList(keywords, experiment, resources);
  const retryValue = retries.NOT_VALID_WORD_FOR_GAME;
  const maxRetries = typeof retryValue === 'number' && Number.isInteger(retryValue) && retryValue >= 0 ? retryValue : 3;
  return {
    variant,
    target,
    clue,
    maxTurns: readCount(config, 'n_turns', 6),
    maxRetries,
    wordLength,
    words: wordSet(wordList),
    wordList,
    texts: readTexts(keywords),
    guesserPrompt: readString(experiment, 'guesser_prompt', guesserPrompt),
    criticPrompt: readString(experiment, 'guesser_critic_prompt', '') || criticPrompt,
  };
}

/** An answer of the form `explanation: …` and exactly one `<tag> <value>`; a reason when it is not. */
export function parseTaggedAnswer(
  text: string,
  tag: string,
  explanationTag: string,
): { value: string; explanation: string } | { problem: string } {
  const lower = text.toLowerCase();
  const explanationAt = lower.indexOf(explanationTag.toLowerCase());
  if (explanationAt < 0) return { problem: `the answer has no "${explanationTag}"` };
  const tagLower = tag.toLowerCase();
  const positions: number[] = [];
  for (let at = lower.indexOf(tagLower); at >= 0; at = lower.indexOf(tagLower, at + tagLower.length))
    positions.push(at);
  if (positions.length !== 1) {
    return { problem: `the answer must have "${tag}" exactly once, not ${positions.length} times` };
  }
  const lineAfter = (start: number): string => {
    const end = text.indexOf('\n', start);
    return text.slice(start, end < 0 ? text.length : end).trim();
  };
  return {
    value: lineAfter(positions[0]! + tag.length).toLowerCase(),
    explanation: lineAfter(explanationAt + explanationTag.length),
  };
}

const guesser = 0;
const critic = 1;

/**
 * Wordle's game master (all three variants). Each round the guesser guesses; with a critic, the guess first goes to
 * the critic, whose judgement goes back to the guesser, whose second answer is the one that counts. A guess that is
 * not in the word list is asked again (up to `maxRetries` times, then the episode is aborted); an answer without its
 * tags, a guess that is not one word of letters or has the wrong length, and a critic without yes or no abort.
 */
export class WordleMaster extends DialogueMaster {
  private retries = 0;
  /** With a critic: whether the guess being answered is the first of its round (to be judged) or the final one. */
  private awaitingCritic = true;

  constructor(
    recorder: EpisodeRecorder,
    private readonly setup: WordleSetup,
  ) {
    super(recorder);
  }

  private formatLines(valueTag: string, value: string): string {
    const { texts } = this.setup;
    return `${texts.formatReminder}\n${texts.explanationTag} <one sentence>\n${valueTag} <${value}>`;
  }

  protected begin(): GameMove {
    const { setup } = this;
    const prompt =
      setup.clue === null ? setup.guesserPrompt : `${setup.guesserPrompt}\n\n${setup.texts.clueTag} ${setup.clue}`;
    return this.ask(guesser, prompt);
  }

  protected answer(player: number, text: string): GameMove {
    return player === critic ? this.criticAnswered(text) : this.guesserAnswered(text);
  }

  private guesserAnswered(text: string): GameMove {
    const { setup } = this;
    const parsed = parseTaggedAnswer(text, setup.texts.guessTag, setup.texts.explanationTag);
    if ('problem' in parsed) return this.abortForFormat(parsed.problem);
    const guess = parsed.value;
    if (!/^\p{L}+$/u.test(guess)) return this.abortForFormat(`the guess "${guess}" is not one word of letters`);
    if (guess.length !== setup.wordLength) {
      return this.abortForFormat(`the guess "${guess}" does not have ${setup.wordLength} letters`);
    }
    if (!setup.words.has(guess)) {
      this.note('unknown word', guess);
      this.retries += 1;
      if (this.retries > setup.maxRetries) {
        this.note('too many unknown words', setup.maxRetries + 1);
        return this.end('aborted');
      }
      return this.ask(guesser, `${setup.texts.unknownWord}\n\n${this.formatLines(setup.texts.guessTag, 'word')}`);
    }
    this.retries = 0;
    if (setup.variant === 'wordle_withcritic' && this.awaitingCritic) {
      this.note('guess', guess);
      this.awaitingCritic = false;
      const lines = [
        `${setup.texts.clueTag} ${setup.clue}`,
        `${setup.texts.explanationTag} ${parsed.explanation}`,
        `${setup.texts.guessTag} ${guess}`,
      ];
      const first = this.recorder.round === 0;
      const content = first
        ? `${setup.criticPrompt}\n\n${lines.join('\n')}`
        : `${lines.join('\n')}\n\n${this.formatLines(setup.texts.agreementTag, setup.texts.agreementWords.join(' or '))}`;
      return this.ask(critic, content);
    }
    return this.commit(guess);
  }

  /** A guess that counts: feedback, then a win, a loss, or the next round. */
  private commit(guess: string): GameMove {
    const { setup } = this;
    const feedback = formatFeedback(guess, setup.target);
    this.note(setup.variant === 'wordle_withcritic' ? 'final guess' : 'guess', guess);
    this.note('guess feedback', feedback);
    if (guess === setup.target) {
      this.note('correct guess', guess);
      return this.end('success');
    }
    if (this.recorder.round + 1 >= setup.maxTurns) {
      this.note('max turns reached', setup.maxTurns);
      return this.end('lose');
    }
    this.recorder.nextRound();
    this.awaitingCritic = true;
    return this.ask(
      guesser,
      `${setup.texts.feedbackTag} ${feedback}\n\n${this.formatLines(setup.texts.guessTag, 'word')}`,
    );
  }

  private criticAnswered(text: string): GameMove {
    const { texts } = this.setup;
    const parsed = parseTaggedAnswer(text, texts.agreementTag, texts.explanationTag);
    if ('problem' in parsed) return this.abortForFormat(`the critic's ${parsed.problem.replace(/^the /, '')}`);
    if (!texts.agreementWords.includes(parsed.value)) {
      return this.abortForFormat(
        `the critic's agreement "${parsed.value}" is not ${texts.agreementWords.join(' or ')}`,
      );
    }
    this.note('agreement', parsed.value);
    const content = [
      `${texts.clueTag} ${this.setup.clue}`,
      `${texts.agreementTag} ${parsed.value}`,
      `${texts.explanationTag} ${parsed.explanation}`,
    ].join('\n');
    return this.ask(guesser, `${content}\n\n${this.formatLines(texts.guessTag, 'word')}`);
  }
}

/** What the feedback so far says about the target. */
interface Knowledge {
  greens: (string | null)[];
  /** Letters known not to be at a position. */
  notAt: Set<string>[];
  /** The fewest copies of a letter the target has. */
  atLeast: Map<string, number>;
  /** The exact number of copies, where a red showed there are no more. */
  exactly: Map<string, number>;
}

function learn(feedbacks: readonly { letter: string; colour: LetterColour }[][], length: number): Knowledge {
  const knowledge: Knowledge = {
    greens: Array.from({ length }, () => null),
    notAt: Array.from({ length }, () => new Set<string>()),
    atLeast: new Map(),
    exactly: new Map(),
  };
  for (const feedback of feedbacks) {
    const found = new Map<string, number>();
    feedback.forEach(({ letter, colour }, index) => {
      if (colour === 'green') knowledge.greens[index] = letter;
      else knowledge.notAt[index]?.add(letter);
      if (colour !== 'red') found.set(letter, (found.get(letter) ?? 0) + 1);
    });
    for (const [letter, count] of found)
      knowledge.atLeast.set(letter, Math.max(knowledge.atLeast.get(letter) ?? 0, count));
    for (const { letter, colour } of feedback) {
      if (colour === 'red') knowledge.exactly.set(letter, found.get(letter) ?? 0);
    }
  }
  return knowledge;
}

function occurrences(word: string, letter: string): number {
  let count = 0;
  for (const character of word) if (character === letter) count += 1;
  return count;
}

/** Whether a word could be the target, given everything the feedback said (no allocation: it runs per word). */
export function consistentWithFeedback(word: string, knowledge: Knowledge): boolean {
  for (let index = 0; index < word.length; index += 1) {
    const letter = word[index]!;
    const green = knowledge.greens[index];
    if (green !== null && green !== undefined && green !== letter) return false;
    if (knowledge.notAt[index]?.has(letter)) return false;
  }
  for (const [letter, least] of knowledge.atLeast) if (occurrences(word, letter) < least) return false;
  for (const [letter, exact] of knowledge.exactly) if (occurrences(word, letter) !== exact) return false;
  return true;
}

/** Candidates in a fixed order: words whose letters are common among the candidates first, so each guess teaches most. */
function rankCandidates(candidates: readonly string[]): string[] {
  const frequency = new Map<string, number>();
  for (const word of candidates)
    for (const letter of new Set(word)) frequency.set(letter, (frequency.get(letter) ?? 0) + 1);
  const worth = (word: string): number => {
    let sum = 0;
    for (const letter of new Set(word)) sum += frequency.get(letter) ?? 0;
    return sum;
  };
  return candidates
    .map((word) => ({ word, worth: worth(word) }))
    .sort((a, b) => b.worth - a.worth || (a.word < b.word ? -1 : a.word > b.word ? 1 : 0))
    .map((entry) => entry.word);
}

/** Per word list: its words ranked for the first guess, and the ranked sets later feedback narrowed them to. */
const candidateCache = new WeakMap<readonly string[], { opening: string[]; narrowed: Map<string, string[]> }>();
/** At most this many narrowed sets are kept per word list (the oldest go first). */
const candidateCacheSize = 4096;

/**
 * The rule-based wordle guesser: it reads every feedback line in its history and plays only words of the word list
 * that are consistent with all of it, the most informative first. With a critic, it keeps its guess when the critic
 * agrees and plays its next candidate when the critic does not.
 */
export class WordleRuleBasedGuesser implements RuleBasedPlayer {
  constructor(private readonly setup: WordleSetup) {}

  /**
   * The words consistent with all the feedback, ranked. Each feedback only narrows the set the earlier ones left, so
   * the sets are kept per word list by the feedback that made them (a bounded cache): an episode filters only what
   * its last feedback narrows, and episodes that saw the same feedback (every one starts with the same guess) share.
   */
  private candidates(feedbacks: readonly { letter: string; colour: LetterColour }[][]): string[] {
    const { wordList, wordLength } = this.setup;
    let cache = candidateCache.get(wordList);
    if (cache === undefined) {
      cache = {
        opening: rankCandidates(wordList.filter((word) => word.length === wordLength)),
        narrowed: new Map(),
      };
      candidateCache.set(wordList, cache);
    }
    if (feedbacks.length === 0) return cache.opening;
    const key = feedbacks
      .map((feedback) => feedback.map(({ letter, colour }) => letter + colour[0]).join(''))
      .join('|');
    let ranked = cache.narrowed.get(key);
    if (ranked === undefined) {
      const earlier = this.candidates(feedbacks.slice(0, -1));
      const knowledge = learn(feedbacks.slice(-1), wordLength);
      ranked = rankCandidates(earlier.filter((word) => consistentWithFeedback(word, knowledge)));
      if (cache.narrowed.size >= candidateCacheSize) {
        const oldest = cache.narrowed.keys().next();
        if (!oldest.done) cache.narrowed.delete(oldest.value);
      }
      cache.narrowed.set(key, ranked);
    }
    return ranked;
  }

  respond(messages: readonly ChatMessage[]): string {
    const { texts } = this.setup;
    const feedbacks: { letter: string; colour: LetterColour }[][] = [];
    const guessed = new Set<string>();
    let lastGuess: string | null = null;
    for (const message of messages) {
      if (message.role === 'assistant') {
        const parsed = parseTaggedAnswer(message.content, texts.guessTag, texts.explanationTag);
        if (!('problem' in parsed)) {
          guessed.add(parsed.value);
          lastGuess = parsed.value;
        }
        continue;
      }
      // Feedback only follows a guess: the prompt's own example is no feedback.
      if (lastGuess === null) continue;
      for (const line of message.content.split('\n')) {
        if (!line.startsWith(texts.feedbackTag)) continue;
        const feedback = parseFeedback(line.slice(texts.feedbackTag.length));
        if (feedback) feedbacks.push(feedback);
      }
    }
    const last = messages[messages.length - 1]?.content ?? '';
    const judged = new RegExp(`^${escapeRegExp(texts.agreementTag)}\\s*(\\S+)`, 'im').exec(last);
    const candidates = this.candidates(feedbacks);
    let guess: string | undefined;
    if (judged && lastGuess !== null && judged[1]?.toLowerCase() === texts.agreementWords[0]) guess = lastGuess;
    guess ??= candidates.find((word) => !guessed.has(word)) ?? candidates[0] ?? lastGuess ?? 'guess';
    const reason =
      feedbacks.length === 0
        ? 'a word with common letters to start'
        : `one of ${candidates.length} words that fit all the feedback so far`;
    return `${texts.explanationTag} ${reason}\n${texts.guessTag} ${guess}`;
  }
}

/**
 * The rule-based critic: it agrees with a guess that is a word of the list and that it has not been shown before,
 * and disagrees otherwise (it does not see the feedback, as in clembench).
 */
export class WordleRuleBasedCritic implements RuleBasedPlayer {
  constructor(private readonly setup: WordleSetup) {}

  respond(messages: readonly ChatMessage[]): string {
    const { texts } = this.setup;
    const pattern = new RegExp(`^${escapeRegExp(texts.guessTag)}\\s*(\\S+)`, 'gim');
    const shown: string[] = [];
    for (const message of messages) {
      if (message.role !== 'user') continue;
      for (const match of message.content.matchAll(pattern)) shown.push(match[1]!.toLowerCase());
    }
    const guess = shown[shown.length - 1] ?? '';
    const known = this.setup.words.has(guess);
    const repeated = shown.indexOf(guess) < shown.length - 1;
    const [yes, no] = texts.agreementWords;
    const agree = known && !repeated;
    const reason = !known
      ? `"${guess}" is not a word of the list`
      : repeated
        ? `"${guess}" was tried before`
        : `"${guess}" is a real word not tried yet`;
    return `${texts.explanationTag} ${reason}\n${texts.agreementTag} ${agree ? yes : no}`;
  }
}

/** clembench's speed score for plain wordle: full marks for a win within three rounds, then less. */
const speedScores = [100, 100, 100, 50, 30, 20];

function wordleDefinition(variant: WordleVariant, description: string, roles: string[]): GameDefinition {
  return {
    name: variant,
    description,
    roles,
    prepare(experiment, instance, resources) {
      const setup = readWordleSetup(variant, experiment, instance, resources);
      return {
        createMaster: (recorder) => new WordleMaster(recorder, setup),
        ruleBasedPlayer: (role) =>
          role === guesser ? new WordleRuleBasedGuesser(setup) : new WordleRuleBasedCritic(setup),
      };
    },
    scoring: {
      successScore: (rounds) =>
        variant === 'wordle' ? (speedScores[rounds - 1] ?? 0) : Math.round((100 / rounds) * 100) / 100,
      turnScores: (round: readonly InteractionEvent[]): Record<string, ScoreValue> => {
        // clembench's closeness: 5 points for each green letter of the round's feedback, 3 for each yellow.
        const [feedback] = notesOf(round, 'guess feedback');
        const letters = typeof feedback?.action.content === 'string' ? parseFeedback(feedback.action.content) : null;
        if (!letters) return {};
        const closeness = letters.reduce(
          (sum, { colour }) => sum + (colour === 'green' ? 5 : colour === 'yellow' ? 3 : 0),
          0,
        );
        return { 'Closeness Score': closeness };
      },
    },
  };
}

export const wordle = wordleDefinition(
  'wordle',
  'A guesser has six tries to find a five-letter word, with green, yellow and red feedback on each letter.',
  ['WordGuesser'],
);
export const wordleWithClue = wordleDefinition(
  'wordle_withclue',
  'Wordle where the guesser also gets a clue to the word.',
  ['WordGuesser'],
);
export const wordleWithCritic = wordleDefinition(
  'wordle_withcritic',
  'Wordle with a clue, where a critic judges each guess before the guesser commits to it.',
  ['WordGuesser', 'WordCritic'],
);
