import type { ChatMessage } from '../chat.js';
import type { JsonObject } from '../json.js';
import { DialogueMaster, type EpisodeRecorder, type GameMove } from './episode.js';
import {
  answersGiven,
  InstanceProblem,
  readCount,
  readString,
  type GameDefinition,
  type GameInstance,
  type RuleBasedPlayer,
} from './game.js';
import { notesOf } from './scores.js';
import { contentWords, removePunctuation, stem } from './text.js';

/** The tags a taboo answer must start with. */
export const tabooTags = { clue: 'CLUE:', guess: 'GUESS:' } as const;

// Our prompts. clembench's instance files carry their own (`describer_initial_prompt`, `guesser_initial_prompt`) with
// the same placeholders: $TARGET_WORD$, $REL_WORD$ (the taboo words, one "- word" per line) and $N$ (the tries).
const describerPrompt = `Let's play Taboo. You know a secret word; describe it so that your partner can guess it. Your partner cannot see the word.

How to answer: start every message with CLUE: and then your description, for example
CLUE: a small furry pet that purrs
Your partner answers with GUESS: and one word.

What you must not say: the secret word, any word of its family (the same stem: "run", "runner", "running"), or one of the taboo words below or their families. A clue with any of them loses the game for both of you at once.

Your partner has $N$ tries. Keep every clue short.

The secret word: $TARGET_WORD$

The taboo words:
$REL_WORD$`;

const guesserPrompt = `Let's play Taboo. Your partner knows a secret word and describes it to you without saying it; you guess the word. You have $N$ tries, one guess after each clue.

How to answer: GUESS: and a single word, nothing else, for example
GUESS: kitten
Your partner's clues start with CLUE:.`;

/** One instance of taboo, read and checked. */
export interface TabooSetup {
  target: string;
  related: string[];
  maxTurns: number;
  describerPrompt: string;
  guesserPrompt: string;
}

/** Why a clue breaks the rules: a clue word shares its stem with the target or a taboo word. */
export interface ClueViolation {
  clueWord: string;
  /** The target or taboo word it matches. */
  word: string;
  kind: 'target' | 'related';
  stem: string;
}

/** Precomputed stems of the words a clue must avoid. */
export interface ClueJudge {
  targetStem: string;
  related: { word: string; stem: string }[];
  target: string;
}

export function clueJudge(target: string, related: readonly string[]): ClueJudge {
  return { target, targetStem: stem(target), related: related.map((word) => ({ word, stem: stem(word) })) };
}

/**
 * Every violation in a clue (the text after `CLUE:`), as clembench judges one: the clue's content words (lower-cased,
 * punctuation and nltk's English stopwords removed) are stemmed with Snowball English and compared with the stems of
 * the target and the taboo words.
 */
export function checkClue(clue: string, judge: ClueJudge): ClueViolation[] {
  const violations: ClueViolation[] = [];
  for (const clueWord of contentWords(clue)) {
    const clueStem = stem(clueWord);
    if (clueStem === judge.targetStem) {
      violations.push({ clueWord, word: judge.target, kind: 'target', stem: clueStem });
    }
    for (const related of judge.related) {
      if (related.stem === clueStem) violations.push({ clueWord, word: related.word, kind: 'related', stem: clueStem });
    }
  }
  return violations;
}

function describeViolation(violation: ClueViolation): string {
  const what = violation.kind === 'target' ? 'the target word' : 'the taboo word';
  return `the clue word '${violation.clueWord}' has the stem of ${what} '${violation.word}' (${violation.stem})`;
}

/** A guess as compared with the target: the text after `GUESS:`, trimmed, lower-cased, punctuation removed. */
export function normalizeGuess(text: string): string {
  return removePunctuation(text.trim().toLowerCase());
}

function fillPrompt(template: string, setup: Pick<TabooSetup, 'target' | 'related' | 'maxTurns'>): string {
  return template
    .replaceAll('$TARGET_WORD$', setup.target)
    .replaceAll('$REL_WORD$', setup.related.map((word) => `- ${word}`).join('\n'))
    .replaceAll('$N$', String(setup.maxTurns));
}

/** Reads a taboo instance: `target_word`, `related_word` (a list), and the experiment's `max_turns` and prompts. */
export function readTabooSetup(experiment: JsonObject, instance: GameInstance): TabooSetup {
  const target = readString(instance, 'target_word').trim();
  if (target === '') throw new InstanceProblem('target_word', '`target_word` must not be empty');
  const related = instance.related_word;
  if (!Array.isArray(related) || !related.every((word) => typeof word === 'string')) {
    throw new InstanceProblem('related_word', '`related_word` must be a list of words');
  }
  const base = { target, related: related as string[], maxTurns: readCount(experiment, 'max_turns', 3) };
  return {
    ...base,
    describerPrompt: fillPrompt(readString(experiment, 'describer_initial_prompt', describerPrompt), base),
    guesserPrompt: fillPrompt(readString(experiment, 'guesser_initial_prompt', guesserPrompt), base),
  };
}

const describer = 0;
const guesser = 1;

/**
 * Taboo's game master. Each round the describer gives a clue and the guesser guesses; the guesser's first message
 * is its prompt followed by the first clue, and every later clue or wrong guess goes to the other player as it was
 * said. An answer without its tag aborts; a clue that uses a forbidden stem loses; a right guess wins; after
 * `max_turns` rounds without one, the game is lost.
 */
export class TabooMaster extends DialogueMaster {
  private readonly judge: ClueJudge;

  constructor(
    recorder: EpisodeRecorder,
    private readonly setup: TabooSetup,
  ) {
    super(recorder);
    this.judge = clueJudge(setup.target, setup.related);
  }

  protected begin(): GameMove {
    return this.ask(describer, this.setup.describerPrompt);
  }

  protected answer(player: number, text: string): GameMove {
    const said = text.trim();
    if (player === describer) {
      if (!said.startsWith(tabooTags.clue)) {
        return this.abortForFormat(`the describer's answer does not start with ${tabooTags.clue}`);
      }
      const clue = said.slice(tabooTags.clue.length).trim();
      this.note('clue', clue);
      const [violation] = checkClue(clue, this.judge);
      if (violation !== undefined) {
        this.note('invalid clue', describeViolation(violation));
        return this.end('lose');
      }
      const content = this.recorder.round === 0 ? `${this.setup.guesserPrompt}\n\n${said}` : said;
      return this.ask(guesser, content);
    }
    if (!said.startsWith(tabooTags.guess)) {
      return this.abortForFormat(`the guesser's answer does not start with ${tabooTags.guess}`);
    }
    const guess = normalizeGuess(said.slice(tabooTags.guess.length));
    this.note('guess', guess);
    if (guess === this.setup.target.toLowerCase()) {
      this.note('correct guess', guess);
      return this.end('success');
    }
    if (this.recorder.round + 1 >= this.setup.maxTurns) {
      this.note('max turns reached', this.setup.maxTurns);
      return this.end('lose');
    }
    this.recorder.nextRound();
    return this.ask(describer, said);
  }
}

/** The letters of a word with every letter hidden except those at `shown` positions: `h _ u s e`. */
function letterPattern(word: string, shown: (index: number) => boolean): string {
  return [...word].map((letter, index) => (shown(index) ? letter : '_')).join(' ');
}

/**
 * The rule-based describer: it reveals the target's spelling step by step (length and first letter, then the last
 * letter, then all letters but one), phrasing each hint in the first of several ways that passes the clue check.
 */
export class TabooRuleBasedDescriber implements RuleBasedPlayer {
  private readonly judge: ClueJudge;

  constructor(
    private readonly target: string,
    related: readonly string[],
  ) {
    this.judge = clueJudge(target, related);
  }

  /** The hints for a turn, most natural phrasing first; the last one is letters and gaps only. */
  private hints(turn: number): string[] {
    const word = this.target.toLowerCase();
    const length = word.length;
    const first = word[0] ?? '';
    const last = word[length - 1] ?? '';
    if (turn === 0) {
      return [
        `${length} letters, beginning with "${first}".`,
        `${length} characters; the first one is "${first}".`,
        letterPattern(word, (index) => index === 0),
      ];
    }
    if (turn === 1) {
      return [
        `${length} letters, beginning with "${first}" and ending with "${last}".`,
        `${length} characters; the first one is "${first}", the last one "${last}".`,
        letterPattern(word, (index) => index === 0 || index === length - 1),
      ];
    }
    // From the third clue on, every letter but one (the second) shows.
    const hidden = Math.min(1, length - 1);
    return [letterPattern(word, (index) => index !== hidden || turn > 2)];
  }

  respond(messages: readonly ChatMessage[]): string {
    const turn = answersGiven(messages);
    const legal = this.hints(turn).find((hint) => checkClue(hint, this.judge).length === 0);
    return `${tabooTags.clue} ${legal ?? '?'}`;
  }
}

/** The letter facts a hint can state. */
interface LetterConstraints {
  length?: number;
  first?: string;
  last?: string;
  /** Letters by position; null where a gap is. */
  pattern?: (string | null)[];
}

const patternLine = /^(?:[a-z_] )+[a-z_]$/;

/** What a clue says about the spelling, in the phrasings the rule-based describer uses. */
function readConstraints(clue: string, into: LetterConstraints): void {
  const text = clue.toLowerCase();
  const length = /(\d+)\s+(?:letters|characters)/.exec(text);
  if (length) into.length = Number(length[1]);
  const first = /(?:beginning with|first one is)\s+"([a-z])"/.exec(text);
  if (first) into.first = first[1]!;
  const last = /(?:ending with|last one)\s+"([a-z])"/.exec(text);
  if (last) into.last = last[1]!;
  const trimmed = text.trim();
  if (patternLine.test(trimmed)) {
    into.pattern = trimmed.split(' ').map((letter) => (letter === '_' ? null : letter));
    into.length = into.pattern.length;
  }
}

function fits(word: string, constraints: LetterConstraints): boolean {
  if (constraints.length !== undefined && word.length !== constraints.length) return false;
  if (constraints.first !== undefined && word[0] !== constraints.first) return false;
  if (constraints.last !== undefined && word[word.length - 1] !== constraints.last) return false;
  if (constraints.pattern) {
    for (let index = 0; index < constraints.pattern.length; index += 1) {
      const letter = constraints.pattern[index];
      if (letter !== null && word[index] !== letter) return false;
    }
  }
  return true;
}

/**
 * English words grouped by length and by length and first letter, so a guess looks only at the words a hint allows
 * (the groups keep the list's order).
 */
export interface Lexicon {
  groups: Map<string, string[]>;
  all: readonly string[];
}

const lexicons = new WeakMap<readonly string[], Lexicon>();

function group(groups: Map<string, string[]>, key: string, word: string): void {
  const words = groups.get(key);
  if (words) words.push(word);
  else groups.set(key, [word]);
}

/** The lexicon of a word list (built once per list). */
export function lexiconOf(words: readonly string[]): Lexicon {
  let lexicon = lexicons.get(words);
  if (lexicon === undefined) {
    const groups = new Map<string, string[]>();
    for (const word of words) {
      group(groups, String(word.length), word);
      group(groups, `${word.length}${word[0]}`, word);
    }
    lexicon = { groups, all: words };
    lexicons.set(words, lexicon);
  }
  return lexicon;
}

/**
 * The rule-based guesser: it understands the rule-based describer's letter hints (length, first and last letter,
 * a pattern of letters and gaps), and guesses the first word of its lexicon that fits them all and that it has not
 * guessed before. It understands nothing else, so with a model as describer it mostly guesses in the dark.
 */
export class TabooRuleBasedGuesser implements RuleBasedPlayer {
  constructor(private readonly lexicon: Lexicon) {}

  respond(messages: readonly ChatMessage[]): string {
    const constraints: LetterConstraints = {};
    const guessed = new Set<string>();
    for (const message of messages) {
      if (message.role === 'assistant') {
        guessed.add(normalizeGuess(message.content.replace(tabooTags.guess, '')));
        continue;
      }
      for (const line of message.content.split('\n')) {
        const at = line.indexOf(tabooTags.clue);
        if (at >= 0) readConstraints(line.slice(at + tabooTags.clue.length), constraints);
      }
    }
    const first = constraints.first ?? constraints.pattern?.[0] ?? '';
    const pool =
      constraints.length === undefined
        ? this.lexicon.all
        : (this.lexicon.groups.get(`${constraints.length}${first}`) ?? []);
    const guess = pool.find((word) => !guessed.has(word) && fits(word, constraints)) ?? 'unknown';
    return `${tabooTags.guess} ${guess}`;
  }
}

export const taboo: GameDefinition = {
  name: 'taboo',
  description:
    'A describer gets a target word and taboo words it must not use and gives clues; a guesser has three tries to name the word.',
  roles: ['WordDescriber', 'WordGuesser'],
  prepare(experiment, instance, resources) {
    const setup = readTabooSetup(experiment, instance);
    return {
      createMaster: (recorder) => new TabooMaster(recorder, setup),
      ruleBasedPlayer: (role) =>
        role === describer
          ? new TabooRuleBasedDescriber(setup.target, setup.related)
          : new TabooRuleBasedGuesser(lexiconOf(resources.englishWords())),
    };
  },
  scoring: {
    // clembench: how early the guesser found the word.
    successScore: (rounds) => 100 / rounds,
    turnScores: (_round, index, rounds) => ({
      Accuracy: rounds.slice(0, index + 1).some((round) => notesOf(round, 'correct guess').length > 0) ? 1 : 0,
    }),
  },
};
