import { describe, expect, it } from 'vitest';
import type { Experiment, GameDefinition, GameInstance } from './game.js';
import { playEpisode, scripted, testResources } from './testing.js';
import {
  formatFeedback,
  parseFeedback,
  parseTaggedAnswer,
  wordle,
  wordleWithClue,
  wordleWithCritic,
  WordleRuleBasedCritic,
  WordleRuleBasedGuesser,
  readWordleSetup,
} from './wordle.js';

const words = ['apple', 'paper', 'crane', 'slate', 'house', 'horse', 'mouse', 'abide', 'speed', 'there', 'eerie'];
const resources = testResources(words);
const instance: GameInstance = { game_id: 3, target_word: 'apple', target_word_clue: 'a fruit' };
const experiment: Experiment = { name: 'high_frequency', game_instances: [instance] };

const guess = (word: string): string => `explanation: a try\nguess: ${word}`;

describe('wordle feedback', () => {
  it.each([
    ['paper', 'apple', 'p<yellow> a<yellow> p<green> e<yellow> r<red>'],
    ['apple', 'apple', 'a<green> p<green> p<green> l<green> e<green>'],
    // A repeated letter is yellow only as often as the target has unmatched copies of it.
    ['speed', 'abide', 's<red> p<red> e<yellow> e<red> d<yellow>'],
    ['eerie', 'there', 'e<yellow> e<red> r<yellow> i<red> e<green>'],
    // Greens take their copies first, even when a yellow would come earlier.
    ['lllll', 'hello', 'l<red> l<red> l<green> l<green> l<red>'],
    ['abbey', 'babes', 'a<yellow> b<yellow> b<green> e<green> y<red>'],
    ['crane', 'house', 'c<red> r<red> a<red> n<red> e<green>'],
  ])('%s against %s', (attempt, target, expected) => {
    expect(formatFeedback(attempt, target)).toBe(expected);
    expect(
      parseFeedback(expected)
        ?.map((letter) => letter.letter)
        .join(''),
    ).toBe(attempt);
  });

  it('parseFeedback refuses what is not feedback', () => {
    expect(parseFeedback('a<green> b<blue>')).toBeNull();
    expect(parseFeedback('hello')).toBeNull();
  });
});

describe('parseTaggedAnswer', () => {
  it.each([
    ['explanation: common letters\nguess: crane', { value: 'crane', explanation: 'common letters' }],
    ['guess: crane\nexplanation: first', { value: 'crane', explanation: 'first' }],
    ['Explanation: upper case tags\nGUESS: CRANE', { value: 'crane', explanation: 'upper case tags' }],
    ['guess: crane', { problem: 'the answer has no "explanation:"' }],
    [
      'explanation: two\nguess: crane\nguess: slate',
      { problem: 'the answer must have "guess:" exactly once, not 2 times' },
    ],
    ['explanation: none', { problem: 'the answer must have "guess:" exactly once, not 0 times' }],
  ])('%j', (text, expected) => {
    expect(parseTaggedAnswer(text, 'guess:', 'explanation:')).toEqual(expected);
  });
});

function scores(outcome: 'success' | 'lose' | 'aborted', requests: number, violated: number, main: number | null) {
  return {
    Aborted: outcome === 'aborted' ? 1 : 0,
    Lose: outcome === 'lose' ? 1 : 0,
    Success: outcome === 'success' ? 1 : 0,
    'Request Count': requests,
    'Parsed Request Count': requests - violated,
    'Violated Request Count': violated,
    'Request Success Ratio': (requests - violated) / requests,
    'Main Score': main,
  };
}

function play(game: GameDefinition, guesses: string[], critic: string[] = []) {
  return playEpisode(game, experiment, instance, resources, scripted([guesses, critic]));
}

const wrong = ['crane', 'slate', 'house', 'horse', 'mouse'].map(guess);

describe('wordle episodes', () => {
  it.each([
    [1, 100],
    [2, 100],
    [3, 100],
    [4, 50],
    [5, 30],
    [6, 20],
  ])('plain wordle won in round %i scores %i', (round, main) => {
    const { scores: result, interactions } = play(wordle, [...wrong.slice(0, round - 1), guess('apple')]);
    expect(result['episode scores']).toEqual(scores('success', round, 0, main));
    expect(interactions.turns).toHaveLength(round);
  });

  it.each([
    [1, 100],
    [3, 33.33],
    [4, 25],
    [6, 16.67],
  ])('wordle_withclue won in round %i scores %d (100 / rounds)', (round, main) => {
    const { scores: result } = play(wordleWithClue, [...wrong.slice(0, round - 1), guess('apple')]);
    expect(result['episode scores']['Main Score']).toBe(main);
  });

  it('six wrong guesses lose with 0, with closeness per round', () => {
    const { scores: result, histories } = play(wordle, [...wrong, guess('paper')]);
    expect(result['episode scores']).toEqual(scores('lose', 6, 0, 0));
    // crane against apple: a yellow, e green → 3 + 5.
    expect(result['turn scores']['0']).toEqual({
      'Request Count': 1,
      'Parsed Request Count': 1,
      'Violated Request Count': 0,
      'Closeness Score': 8,
    });
    expect(histories[0]![2]!.content).toMatch(/^guess_feedback: c<red> r<red> a<yellow> n<red> e<green>\n/);
  });

  it('asks again for a word not in the list, in the same round, and still wins', () => {
    const { scores: result, interactions, histories } = play(wordle, [guess('zzzzz'), guess('apple')]);
    expect(result['episode scores']).toEqual(scores('success', 2, 0, 100));
    expect(interactions.turns).toHaveLength(1);
    expect(histories[0]![2]!.content).toContain('not in the game’s word list');
  });

  it('aborts after the re-asks run out (3 by default), without a violated request', () => {
    const { scores: result, interactions } = play(wordle, [
      guess('zzzzz'),
      guess('qqqqq'),
      guess('xxxxx'),
      guess('vvvvv'),
    ]);
    expect(result['episode scores']).toEqual(scores('aborted', 4, 0, null));
    expect(interactions.turns[0]!.at(-1)!.action).toEqual({ type: 'too many unknown words', content: 4 });
  });

  it.each([
    ['no explanation', 'guess: apple'],
    ['two guesses', 'explanation: x\nguess: apple\nguess: paper'],
    ['not one word', 'explanation: x\nguess: ap ple'],
    ['not letters', 'explanation: x\nguess: app1e'],
    ['too long', 'explanation: x\nguess: apples'],
  ])('%s aborts with a violated request', (_case, answer) => {
    const { scores: result } = play(wordle, [guess('crane'), answer]);
    expect(result['episode scores']).toEqual(scores('aborted', 2, 1, null));
  });

  it('gives the clue with the first message in the variants, never in plain wordle', () => {
    expect(play(wordleWithClue, [guess('apple')]).histories[0]![0]!.content).toMatch(/\n\nclue: a fruit$/);
    expect(play(wordle, [guess('apple')]).histories[0]![0]!.content).not.toContain('a fruit');
  });
});

describe('wordle_withcritic episodes', () => {
  it('a round is guess, critique, final guess; the final guess counts', () => {
    const {
      scores: result,
      histories,
      interactions,
    } = play(
      wordleWithCritic,
      [guess('crane'), guess('slate'), guess('paper'), guess('apple')],
      ['explanation: fine\nagreement: yes', 'explanation: not a fruit\nagreement: no'],
    );
    expect(result['episode scores']).toEqual(scores('success', 6, 0, 50));
    const [guesser, critic] = histories;
    expect(critic![0]!.content).toMatch(/\n\nclue: a fruit\nexplanation: a try\nguess: crane$/);
    expect(guesser![2]!.content).toMatch(/^clue: a fruit\nagreement: yes\nexplanation: fine\n/);
    expect(interactions.turns[0]!.map((event) => event.action.type)).toContain('final guess');
  });

  it('a critic without yes or no aborts', () => {
    const { scores: result } = play(wordleWithCritic, [guess('crane')], ['explanation: hmm\nagreement: maybe']);
    expect(result['episode scores']).toEqual(scores('aborted', 2, 1, null));
  });
});

describe("clembench's wordle settings", () => {
  it('reads n_turns, retries, keywords, messages and the word list from the experiment', () => {
    const theirs: Experiment = {
      name: 'theirs',
      game_instances: [instance],
      guesser_prompt: 'Their prompt.',
      common_config: { n_turns: 2, max_retry_per_error: { NOT_VALID_WORD_FOR_GAME: 1 } },
      lang_keywords: {
        max_word_length: 5,
        guess_lang: 'guess:',
        explanation_lang: 'explanation:',
        guess_feedback_lang: 'guess_feedback:',
        error_prompt_text: { NOT_VALID_WORD_FOR_GAME: 'Not a valid word.', RETRY: 'Again.', INVALID_FORMAT: 'Format:' },
        official_words_list: ['apple', 'zebra', 'crane'],
      },
    };
    const setup = readWordleSetup('wordle', theirs, instance, resources);
    expect(setup).toMatchObject({ maxTurns: 2, maxRetries: 1, guesserPrompt: 'Their prompt.' });
    const { histories, scores: result } = playEpisode(
      wordle,
      theirs,
      instance,
      resources,
      scripted([[guess('slate'), guess('zebra'), guess('crane')]]),
    );
    expect(histories[0]![2]!.content).toBe(
      'Not a valid word. Again.\n\nFormat:\nexplanation: <one sentence>\nguess: <word>',
    );
    expect(result['episode scores']).toEqual(scores('lose', 3, 0, 0));
  });
});

describe('rule-based wordle players', () => {
  it('the guesser only plays words consistent with all feedback so far, and wins', () => {
    for (const target of ['apple', 'paper', 'mouse', 'eerie', 'abide']) {
      const { scores: result, interactions } = playEpisode(
        wordle,
        experiment,
        { game_id: 0, target_word: target },
        resources,
        (_player, history) =>
          new WordleRuleBasedGuesser(
            readWordleSetup('wordle', experiment, { game_id: 0, target_word: target }, resources),
          ).respond(history),
      );
      expect(result['episode scores'].Success).toBe(1);
      const played = interactions.turns.map(
        (round) => round.find((event) => event.action.type === 'guess')!.action.content as string,
      );
      played.forEach((word, index) => {
        for (const earlier of played.slice(0, index)) {
          // A consistent word gets the same feedback from each earlier guess as the target did.
          expect(formatFeedback(earlier, word)).toBe(formatFeedback(earlier, target));
        }
      });
    }
  });

  it('with a critic: keeps its guess on yes, changes it on no; the critic agrees with new known words', () => {
    const setup = readWordleSetup('wordle_withcritic', experiment, instance, resources);
    const guesser = new WordleRuleBasedGuesser(setup);
    const first = guesser.respond([{ role: 'user', content: 'start' }]);
    const word = /guess: (\w+)/.exec(first)![1]!;
    const history = [
      { role: 'user' as const, content: 'start' },
      { role: 'assistant' as const, content: first },
    ];
    expect(
      guesser.respond([...history, { role: 'user', content: 'clue: a fruit\nagreement: yes\nexplanation: ok' }]),
    ).toContain(`guess: ${word}`);
    expect(
      guesser.respond([...history, { role: 'user', content: 'clue: a fruit\nagreement: no\nexplanation: no' }]),
    ).not.toContain(`guess: ${word}`);

    const critic = new WordleRuleBasedCritic(setup);
    expect(critic.respond([{ role: 'user', content: 'clue: x\nexplanation: y\nguess: crane' }])).toMatch(
      /agreement: yes$/,
    );
    expect(critic.respond([{ role: 'user', content: 'clue: x\nexplanation: y\nguess: zzzzz' }])).toMatch(
      /agreement: no$/,
    );
  });
});
