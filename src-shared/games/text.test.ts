import { describe, expect, it } from 'vitest';
import { englishStopwords } from './english-stopwords.js';
import { contentWords, removePunctuation, stem } from './text.js';

describe('stem (Snowball English / Porter2)', () => {
  // Stems as nltk's SnowballStemmer("english") gives them (clembench's instance files list many of these); the last
  // rows are Porter2's exceptions and special prefixes, where the older Porter algorithm differs.
  it.each([
    ['distance', 'distanc'],
    ['deference', 'defer'],
    ['brewed', 'brew'],
    ['flying', 'fli'],
    ['birds', 'bird'],
    ['equitable', 'equit'],
    ['security', 'secur'],
    ['evaluation', 'evalu'],
    ['early', 'earli'],
    ['declaration', 'declar'],
    ['testimony', 'testimoni'],
    ['violation', 'violat'],
    ['demonstration', 'demonstr'],
    ['unremarkably', 'unremark'],
    ['emphasize', 'emphas'],
    ['emphasis', 'emphasi'],
    ['critical', 'critic'],
    ['Alabama', 'alabama'],
    ['volt-ampere', 'volt-amper'],
    ['generously', 'generous'],
    ['skis', 'ski'],
    ['dying', 'die'],
    ['news', 'news'],
    ['generate', 'generat'],
    ['communism', 'communism'],
  ])('%s → %s', (word, expected) => {
    expect(stem(word)).toBe(expected);
  });
});

describe('english stopwords', () => {
  it("is nltk's 179-word list", () => {
    expect(englishStopwords.size).toBe(179);
    for (const word of ['i', "you're", 'the', 'ourselves', 'ma', "wouldn't", 'y'])
      expect(englishStopwords.has(word)).toBe(true);
    for (const word of ['would', 'could', 'also', 'one']) expect(englishStopwords.has(word)).toBe(false);
  });
});

describe('contentWords', () => {
  it.each([
    ['A small, furry pet!', ['small', 'furry', 'pet']],
    ["It's what   you DRINK", ['drink']],
    ['a low-cost flight', ['lowcost', 'flight']],
    // Punctuation goes first, so "don't" becomes "dont", which is no stopword; "don" alone is one.
    ["don't don", ['dont']],
    ['', []],
  ])('%j → %j', (text, expected) => {
    expect(contentWords(text)).toEqual(expected);
  });

  it('removes exactly the ASCII punctuation', () => {
    expect(removePunctuation(`a!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~b é–ü`)).toBe('ab é–ü');
  });
});
