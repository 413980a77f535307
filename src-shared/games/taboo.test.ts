import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../chat.js';
import type { Experiment, GameInstance } from './game.js';
import {
  checkClue,
  clueJudge,
  normalizeGuess,
  taboo,
  TabooRuleBasedDescriber,
  TabooRuleBasedGuesser,
  lexiconOf,
} from './taboo.js';
import { playEpisode, scripted, testResources } from './testing.js';

const instance: GameInstance = { game_id: 7, target_word: 'house', related_word: ['home', 'building', 'live'] };
const experiment: Experiment = { name: 'high_frequency', max_turns: 3, game_instances: [instance] };
const resources = testResources([], ['horse', 'house', 'hose', 'mouse', 'apple']);

function play(describer: string[], guesser: string[]) {
  return playEpisode(taboo, experiment, instance, resources, scripted([describer, guesser]));
}

describe('checkClue', () => {
  const judge = clueJudge('house', ['home', 'building', 'live']);
  it.each([
    ['a place where a family sleeps', []],
    ['Houses!', [['houses', 'target']]],
    ['where you LIVE', [['live', 'related']]],
    // Same stem: living → live.
    ['living quarters', [['living', 'related']]],
    ['a small building', [['building', 'related']]],
    ["the home's roof", [['homes', 'related']]],
    // Punctuation goes before the stopwords: "home-made" becomes "homemade", which is another stem.
    ['home-made shelter', []],
    // Stopwords are dropped first, so "ours" never counts.
    ['ours and yours', []],
    ['', []],
  ])('%j', (clue, expected) => {
    expect(checkClue(clue, judge).map((violation) => [violation.clueWord, violation.kind])).toEqual(expected);
  });

  it('says which word matched and its stem', () => {
    expect(checkClue('housing', judge)).toEqual([{ clueWord: 'housing', word: 'house', kind: 'target', stem: 'hous' }]);
  });
});

describe('normalizeGuess', () => {
  it.each([
    [' House. ', 'house'],
    ['HOUSE!!', 'house'],
    ['light-house', 'lighthouse'],
    ['a house', 'a house'],
  ])('%j → %j', (text, expected) => expect(normalizeGuess(text)).toBe(expected));
});

const episodeScores = (
  outcome: 'success' | 'lose' | 'aborted',
  requests: number,
  violated: number,
  main: number | null,
): Record<string, number | null> => ({
  Aborted: outcome === 'aborted' ? 1 : 0,
  Lose: outcome === 'lose' ? 1 : 0,
  Success: outcome === 'success' ? 1 : 0,
  'Request Count': requests,
  'Parsed Request Count': requests - violated,
  'Violated Request Count': violated,
  'Request Success Ratio': (requests - violated) / requests,
  'Main Score': main,
});

describe('taboo episodes', () => {
  it('a win in the first round scores 100', () => {
    const { scores, interactions } = play(['CLUE: a place where a family sleeps'], ['GUESS: House.']);
    expect(scores['episode scores']).toEqual(episodeScores('success', 2, 0, 100));
    expect(scores['turn scores']).toEqual({
      '0': { 'Request Count': 2, 'Parsed Request Count': 2, 'Violated Request Count': 0, Accuracy: 1 },
    });
    expect(interactions.turns).toHaveLength(1);
  });

  it('a win in the second round scores 50, the third 100/3', () => {
    const second = play(['CLUE: a place to sleep', 'CLUE: a roof over your head'], ['GUESS: bed', 'GUESS: house']);
    expect(second.scores['episode scores']).toEqual(episodeScores('success', 4, 0, 50));
    expect(second.scores['turn scores']['0']!.Accuracy).toBe(0);
    expect(second.scores['turn scores']['1']!.Accuracy).toBe(1);
    const third = play(
      ['CLUE: a place to sleep', 'CLUE: a roof over your head', 'CLUE: with a door and windows'],
      ['GUESS: bed', 'GUESS: tent', 'GUESS: house'],
    );
    expect(third.scores['episode scores']).toEqual(episodeScores('success', 6, 0, 100 / 3));
  });

  it('three wrong guesses lose with 0', () => {
    const { scores, interactions } = play(
      ['CLUE: a place to sleep', 'CLUE: a roof', 'CLUE: a door'],
      ['GUESS: bed', 'GUESS: tent', 'GUESS: hut'],
    );
    expect(scores['episode scores']).toEqual(episodeScores('lose', 6, 0, 0));
    expect(interactions.turns.at(-1)!.at(-1)!.action).toEqual({ type: 'max turns reached', content: 3 });
  });

  it('a clue with a taboo word loses at once', () => {
    const { scores, interactions } = play(['CLUE: a place to sleep', 'CLUE: where you are living'], ['GUESS: bed']);
    expect(scores['episode scores']).toEqual(episodeScores('lose', 3, 0, 0));
    expect(interactions.turns[1]!.at(-1)!.action.type).toBe('invalid clue');
  });

  it.each([
    ['the describer forgets CLUE:', ['It is a place'], [], 1],
    ['the describer writes clue: in lower case', ['clue: a place'], [], 1],
    ['the guesser forgets GUESS:', ['CLUE: a place to sleep'], ['house'], 2],
    ['the guesser answers in a sentence', ['CLUE: a place to sleep'], ['I think it is GUESS: house'], 2],
  ])('%s: aborted, no Main Score', (_case, describer, guesser, requests) => {
    const { scores, interactions } = play(describer, guesser);
    expect(scores['episode scores']).toEqual(episodeScores('aborted', requests, 1, null));
    expect(interactions.turns.at(-1)!.at(-1)!.action.type).toBe('invalid format');
  });

  it('gives each player its own history: the guesser gets its prompt with the first clue, then clues; the describer gets wrong guesses', () => {
    const { histories } = play(
      ['CLUE: a place to sleep', 'CLUE: a roof over your head'],
      ['GUESS: bed', 'GUESS: house'],
    );
    const [describer, guesser] = histories;
    expect(describer!.map((message) => message.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(describer![0]!.content).toContain('house');
    expect(describer![0]!.content).toContain('- building');
    expect(describer![2]!.content).toBe('GUESS: bed');
    expect(guesser![0]!.content).toMatch(/GUESS: and a single word[\s\S]*\n\nCLUE: a place to sleep$/);
    expect(guesser![0]!.content).not.toContain('house');
    expect(guesser![2]!.content).toBe('CLUE: a roof over your head');
  });

  it("uses an experiment's own prompts with clembench's placeholders", () => {
    const own: Experiment = {
      ...experiment,
      max_turns: 2,
      describer_initial_prompt: 'Describe $TARGET_WORD$ in $N$ tries, avoiding:\n$REL_WORD$',
      guesser_initial_prompt: 'Guess in $N$ tries.',
    };
    const { histories } = playEpisode(taboo, own, instance, resources, scripted([['CLUE: a roof'], ['GUESS: house']]));
    expect(histories[0]![0]!.content).toBe('Describe house in 2 tries, avoiding:\n- home\n- building\n- live');
    expect(histories[1]![0]!.content).toBe('Guess in 2 tries.\n\nCLUE: a roof');
  });

  it('rejects instances without a target or related words', () => {
    expect(() => taboo.prepare(experiment, { game_id: 1, related_word: [] }, resources)).toThrow('`target_word`');
    expect(() => taboo.prepare(experiment, { game_id: 1, target_word: 'x', related_word: 'y' }, resources)).toThrow(
      '`related_word`',
    );
  });
});

describe('rule-based taboo players', () => {
  it('the describer only gives legal clues, even when its usual words are taboo', () => {
    const describer = new TabooRuleBasedDescriber('letter', ['beginning', 'character', 'write']);
    const judge = clueJudge('letter', ['beginning', 'character', 'write']);
    const history: ChatMessage[] = [{ role: 'user', content: 'describe' }];
    for (let turn = 0; turn < 4; turn += 1) {
      const clue = describer.respond(history);
      expect(clue.startsWith('CLUE: ')).toBe(true);
      expect(checkClue(clue.slice(5), judge)).toEqual([]);
      history.push({ role: 'assistant', content: clue }, { role: 'user', content: 'GUESS: x' });
    }
  });

  it('the pair finds the word from the letter hints and never repeats a guess', () => {
    const { scores, histories } = playEpisode(taboo, experiment, instance, resources, (player, history) =>
      player === 0
        ? new TabooRuleBasedDescriber('house', ['home', 'building', 'live']).respond(history)
        : new TabooRuleBasedGuesser(lexiconOf(resources.englishWords())).respond(history),
    );
    const guesses = histories[1]!.filter((message) => message.role === 'assistant').map((message) => message.content);
    // h….: "horse" and "house" fit; then "h…e": "horse" was tried; so "house".
    expect(guesses).toEqual(['GUESS: horse', 'GUESS: house']);
    expect(scores['episode scores']['Main Score']).toBe(50);
  });
});
